"""Masking of personal data: names become 张*, ID numbers keep the first 6 and last 4 characters, phones the first 3 and last 4; the default everywhere, downloads included."""

from __future__ import annotations

import numpy as np
import pandas as pd


# --------------------------------------------------------------------------- masking
def mask_name(name: str | None) -> str:
    """张三丰 -> 张*: the surname and one star, so the mask does not tell the name's length."""
    if not name:
        return ""
    return str(name)[0] + "*"


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    value = str(value)
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    value = str(value)
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


PERSONAL_COLUMNS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}


def mask_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every personal column masked (vectorised over rows by ``Series.map``)."""
    out = frame.copy()
    for col, fn in PERSONAL_COLUMNS.items():
        if col in out.columns:
            out[col] = out[col].map(fn, na_action="ignore")
    return out


def is_masked(values: np.ndarray | pd.Series) -> bool:
    return all("*" in str(v) for v in values if v)
