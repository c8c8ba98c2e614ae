"""Months as YYYYMM integers, the form the national system exports use."""

from __future__ import annotations

import re


def parse_period(text: str | int) -> int:
    """'2025-12', '202512' or 202512 -> 202512; ValueError with the accepted forms otherwise."""
    s = str(text).strip()
    m = re.fullmatch(r"(\d{4})-?(\d{1,2})", s)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"not a month: {text!r} (use YYYY-MM, e.g. 2025-12)")
    return int(m.group(1)) * 100 + int(m.group(2))


def format_period(period: int, lang: str = "zh") -> str:
    y, m = divmod(int(period), 100)
    return f"{y}年{m}月" if lang == "zh" else f"{y}-{m:02d}"


def shift(period: int, months: int) -> int:
    y, m = divmod(int(period), 100)
    idx = y * 12 + (m - 1) + months
    return (idx // 12) * 100 + idx % 12 + 1
