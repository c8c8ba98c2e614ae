"""The provincial income lines (监测收入标准) in a workbook: a small sheet of two columns, 年度 and
监测收入标准（元）, which fanpin's national-layout export adds (the national system's own export
has none) so that a county exported and imported elsewhere keeps the lines its findings and
scores were made with.  The lines live in ``meta`` (``fanpin.store.meta.income_lines``), not in a
table, so the sheet is recognised and read here rather than as an import kind: by its headers (a
year and a line, no household), every row checked, a year given twice with two lines refused.
"""

from __future__ import annotations

import math

import numpy as np

from fanpin.ingest.names import norm
from fanpin.ingest.read import Grid
from fanpin.ingest.report import Problem, Report

__all__ = ["HEADERS", "SHEET_NAME", "columns", "known_headers", "read_lines"]

#: The sheet as fanpin's export writes it.
SHEET_NAME = "监测收入标准"
HEADERS: tuple[str, str] = ("年度", "监测收入标准（元）")
#: Headers read as the year and as the line (normal form compared, ``fanpin.ingest.names.norm``).
_YEAR = ("年度", "年份", "year")
_LINE = ("监测收入标准", "监测收入标准(元/人·年)", "监测线", "监测收入标准线", "income line", "income_line", "income line (yuan)")
#: Years a line may be read for (as ``fanpin.engine.policies.LINE_YEARS``).
YEARS = (2000, 2100)


def known_headers() -> frozenset[str]:
    """The sheet's headers in normal form (so the reader finds its header row under the title)."""
    return frozenset(norm(h) for h in (*_YEAR, *_LINE))


def columns(header: list[str]) -> tuple[int, int] | None:
    """(year column, line column) when the header is a lines sheet's: one year and one line
    header and nothing else but blanks; None otherwise."""
    named = [(j, norm(h)) for j, h in enumerate(header) if str(h).strip()]
    years = [j for j, h in named if h in {norm(x) for x in _YEAR}]
    lines = [j for j, h in named if h in {norm(x) for x in _LINE}]
    if len(years) != 1 or len(lines) != 1 or len(named) != 2:
        return None
    return years[0], lines[0]


def _number(text: str) -> float | None:
    try:
        v = float(str(text).replace(",", "").replace("，", "").strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_lines(grid: Grid, cols: tuple[int, int], report: Report) -> dict[int, float]:
    """{year: yuan} of the sheet's rows; a bad row (a year outside ``YEARS``, a line that is not a
    positive number) or a year with two different lines is an error on ``report``."""
    jy, jl = cols
    out: dict[int, float] = {}
    bad: list[int] = []
    twice: list[int] = []
    for i, row in enumerate(grid.rows):
        if not (row[jy].strip() or row[jl].strip()):
            continue
        y, v = _number(row[jy]), _number(row[jl])
        if y is None or not y.is_integer() or not YEARS[0] <= y <= YEARS[1] or v is None or v <= 0:
            bad.append(i)
            continue
        if int(y) in out and out[int(y)] != v:
            twice.append(i)
            continue
        out[int(y)] = v
    if bad:
        report.problems.append(Problem("bad_income_line", grid.header[jl], np.array(bad, dtype=np.intp), params={"first": YEARS[0], "last": YEARS[1]}))
    if twice:
        report.problems.append(Problem("income_line_twice", grid.header[jy], np.array(twice, dtype=np.intp)))
    return {} if bad or twice else out
