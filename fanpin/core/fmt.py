"""Numbers for Chinese readers: 万 where it helps, yuan with thousands separators."""

from __future__ import annotations

import math


def count(n: float | int | None, lang: str = "zh") -> str:
    """12,345 -> '1.23万' in Chinese from 100,000 up (below that digits read better), '12,345' in English."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "—"
    if lang == "zh" and abs(n) >= 100_000:
        return f"{n / 10_000:,.1f}万"
    return f"{n:,.0f}"


def yuan(x: float | None, lang: str = "zh", digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if lang == "zh":
        if abs(x) >= 100_000_000:
            return f"{x / 100_000_000:,.2f}亿元"
        if abs(x) >= 100_000:
            return f"{x / 10_000:,.1f}万元"
        return f"{x:,.{digits}f}元"
    return f"{'-' if x < 0 else ''}¥{abs(x):,.{digits}f}"  # -¥159,000, not ¥-159,000 (a metric's delta read that as a rise)


def pct(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{100 * x:.{digits}f}%"


def signed(n: float | int, digits: int = 0) -> str:
    return f"{n:+,.{digits}f}"
