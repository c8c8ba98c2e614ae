"""Safe exports: CSV that Excel opens with Chinese intact, .xlsx, no formula injection."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.audit import record
from fanpin.access.masking import mask_frame
from fanpin.access.roles import Principal, require

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


# --------------------------------------------------------------------------- the one audited export
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FORMATS: dict[str, str] = {"csv": "text/csv", "xlsx": XLSX_MIME}


def export_table(
    engine: Engine, principal: Principal, frame: pd.DataFrame, name: str, fmt: str, *, unmasked: bool = False, labels: Mapping[str, str] | None = None
) -> bytes:
    """A table as a downloaded file: the export right checked, personal columns masked (unless
    ``unmasked`` and the principal may unmask), formula cells escaped, one ``export`` audit row
    (who, which table, format, rows).  Every table a user downloads is made here; ``labels``
    renames the columns (code names -> the user's language) after masking."""
    require(principal, "export")
    if unmasked:
        require(principal, "unmask")
    if fmt not in FORMATS:
        raise ValueError(f"unsupported export format {fmt!r}")
    shown = frame if unmasked else mask_frame(frame)
    if labels:
        shown = shown.rename(columns=dict(labels))
    data = csv_bytes(shown) if fmt == "csv" else xlsx_bytes(shown)
    record(engine, principal.actor, "export", str(name)[:64], {"format": fmt, "rows": int(len(frame))})
    return data


def export_file(engine: Engine, principal: Principal, data: bytes, name: str, fmt: str, detail: Mapping[str, object] | None = None) -> bytes:
    """A file made elsewhere (the brief's .docx/.xlsx, a national-layout workbook) handed to a
    user: the export right checked and one ``export`` audit row.  The maker masks and escapes."""
    require(principal, "export")
    record(engine, principal.actor, "export", str(name)[:64], {"format": fmt, **dict(detail or {})})
    return data
