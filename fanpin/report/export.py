"""Safe exports: CSV that Excel opens with Chinese intact, .xlsx, no formula injection."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: object) -> object:
    """Prefix a text cell that a spreadsheet would run as a formula with a quote (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(escape_cell)
    out.columns = [escape_cell(str(c)) for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with BOM, so that Excel on a Chinese Windows opens it without mojibake."""
    return safe_frame(frame).to_csv(index=False).encode("utf-8-sig")


def xlsx_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        safe_frame(frame).to_excel(xw, index=False, sheet_name=sheet[:31])
    return buf.getvalue()


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        path.write_bytes(xlsx_bytes(frame))
    elif path.suffix.lower() == ".csv":
        path.write_bytes(csv_bytes(frame))
    else:
        raise ValueError(f"unsupported output type {path.suffix!r}: use .csv or .xlsx")
