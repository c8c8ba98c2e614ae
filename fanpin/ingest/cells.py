"""A file's cells under validation: the columns they map to, their typed values and the problems
found so far, plus one parser per column type (text, numbers, yes/no, codes, months, dates, ID
numbers).  Every parser works on a whole column at once (pandas/numpy), never cell by cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from fanpin.core.i18n import translate
from fanpin.core.ids import id_check_char
from fanpin.core.text import HOUSEHOLD_ID_MAX, household_ids_ok
from fanpin.ingest.names import bool_words, norm
from fanpin.ingest.read import Grid
from fanpin.ingest.report import Problem, Report
from fanpin.ingest.specs import Col, KindSpec, code_label, value_map


def current_period(today: date | None = None) -> int:
    """This month as YYYYMM."""
    d = today or date.today()
    return d.year * 100 + d.month


@dataclass
class Cells:
    """What validation knows about a file: ``cols`` (column -> index in the file), ``v`` (typed
    values, NaN/None for empty or refused cells) and ``bad`` (rows with an error)."""

    spec: KindSpec
    grid: Grid
    report: Report
    today: date
    cols: dict[str, int] = field(default_factory=dict)
    v: dict[str, pd.Series] = field(default_factory=dict)
    n: int = field(init=False)  # data rows
    raw: pd.DataFrame = field(init=False, repr=False)  # the cells as text, columns c0, c1, ...
    bad: np.ndarray = field(init=False, repr=False)
    #: per row, whether 健康状况 names 残疾 (None: not given); set by :func:`parse_health`
    disabled: pd.Series | None = field(default=None, repr=False)
    #: households the workbook's household sheet adds (a member or a measure may name them)
    pending_households: frozenset[str] = frozenset()
    #: regions (code -> level) the workbook's region sheet adds
    pending_regions: dict[str, str] = field(default_factory=dict)
    #: columns worked out from others (written like the file's own columns)
    derived: list[str] = field(default_factory=list)
    #: the same workbook imports the members too (a roster's 家庭人口数 then holds, ``fanpin.ingest.book``)
    members_in_file: bool = False

    def __post_init__(self) -> None:
        self.n = len(self.grid.rows)
        width = len(self.grid.header)
        # (no rows: a file of template examples only, ``fanpin.ingest.examples``)
        self.raw = pd.DataFrame(self.grid.rows or None, columns=[f"c{i}" for i in range(width)], dtype=object)
        self.bad = np.zeros(self.n, dtype=bool)

    # -- problems
    def add(self, mask: np.ndarray, name: str, code: str, severity: str = "error", row_params: dict | None = None, **params: object) -> None:
        """One problem over the rows in ``mask`` (``row_params``: a value per row, or per masked row)."""
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return
        col = self.spec.col(name) if self.spec.has(name) else None
        column = self.grid.header[self.cols[name]] if name in self.cols else name
        rp = {k: np.asarray(v)[mask] if len(np.asarray(v)) == self.n else np.asarray(v) for k, v in (row_params or {}).items()}
        self.report.problems.append(Problem(code, column, rows, severity, dict(params), rp, col))
        if severity == "error":
            self.bad[rows] = True

    def file_problem(self, code: str, column: str = "", col: Col | None = None, severity: str = "error", **params: object) -> None:
        """A problem of the file as a whole (no rows)."""
        self.report.problems.append(Problem(code, column, np.array([], dtype=np.intp), severity, dict(params), {}, col))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.report.problems)

    # -- cells
    def text(self, name: str) -> pd.Series:
        """The column's cells as stripped text."""
        return self.raw[f"c{self.cols[name]}"].str.strip()

    def typed(self, name: str) -> pd.Series:
        """The column's typed values; all empty when the file has no such column."""
        return self.v.get(name, pd.Series([None] * self.n, dtype=object))

    def given(self, name: str) -> np.ndarray:
        """Rows whose raw cell in the column is not blank (False everywhere without the column)."""
        return self.text(name).ne("").to_numpy() if name in self.cols else np.zeros(self.n, dtype=bool)

    def not_empty(self, name: str) -> np.ndarray:
        """Rows with a valid typed value in the column."""
        v = self.v.get(name)
        return np.zeros(self.n, dtype=bool) if v is None else v.notna().to_numpy()


def spread(n: int, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (one per masked row) placed at the masked rows of an ``n``-row array of ``""``."""
    out = np.full(n, "", dtype=object)
    out[np.flatnonzero(mask)] = values
    return out


# --------------------------------------------------------------------------- parsers by type

Parser = Callable[[Cells, Col, pd.Series, np.ndarray], pd.Series]


def _too_long(cells: Cells, c: Col, s: pd.Series) -> np.ndarray:
    limit = c.max_len or 200
    lengths = s.str.len().to_numpy()
    m = lengths > limit
    cells.add(m, c.name, "too_long", row_params={"length": lengths}, limit=limit)
    return m


def parse_text(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    m = _too_long(cells, c, s)
    return s.where(~(empty | m), None).astype(object)


def _number(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    marked = s.str.contains("[,，¥元]", regex=True).fillna(False).to_numpy(dtype=bool)  # thousands separators, currency: few cells
    cleaned = s
    if marked.any():
        cleaned = s.copy()
        cleaned[marked] = s[marked].str.replace(",", "", regex=False).str.replace("，", "", regex=False).str.replace("¥", "", regex=False).str.replace("元", "", regex=False)
    x = pd.to_numeric(cleaned.where(~empty, None), errors="coerce").astype(float)
    cells.add(x.isna().to_numpy() & ~empty, c.name, "not_number")
    return x


def _in_range(cells: Cells, c: Col, x: pd.Series) -> pd.Series:
    a = x.to_numpy()
    with np.errstate(invalid="ignore"):
        low = (a < c.low) if c.low is not None else np.zeros(len(a), dtype=bool)
        high = (a > c.high) if c.high is not None else np.zeros(len(a), dtype=bool)
    if c.low == 0:
        cells.add(low, c.name, "negative")
        cells.add(high, c.name, "too_large", high=c.high)
    else:
        cells.add(low | high, c.name, "range", low=c.low, high=c.high)
    return x.mask(low | high, np.nan)


def parse_float(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    return _in_range(cells, c, _number(cells, c, s, empty))


def parse_int(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    x = _number(cells, c, s, empty)
    a = x.to_numpy()
    frac = ~np.isnan(a) & (np.floor(np.nan_to_num(a)) != np.nan_to_num(a))
    cells.add(frac, c.name, "not_integer")
    return _in_range(cells, c, x.mask(frac, np.nan))


def parse_bool(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    yes, no = bool_words()
    low = s.str.lower()
    t = low.isin(yes).to_numpy()
    f = low.isin(no).to_numpy()
    cells.add(~(t | f | empty), c.name, "not_bool")
    out = pd.Series([None] * cells.n, dtype=object)
    out[t] = True
    out[f] = False
    return out


def parse_code(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    vm = value_map(c)
    table = {v: vm.get(norm(v)) if v else None for v in s.unique()}  # each distinct label read once
    mapped = s.map(table)
    bad = mapped.isna().to_numpy() & ~empty
    cells.add(bad, c.name, "bad_code", options={lang: [code_label(c, k, lang) for k in c.codes] for lang in ("zh", "en")})
    return mapped.astype(object)


def _by_distinct(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct values) of a text column: a parse of the distinct values, taken by the
    codes, is the parse of every cell (months, labels and amounts repeat down a column)."""
    codes, uniques = pd.factorize(s.fillna(""), sort=False)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype=object)


def _year_month(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    s = s.where(~s.str.fullmatch(r"\d{8}"), s.str[:4] + "-" + s.str[4:6] + "-" + s.str[6:8])
    m = s.str.extract(r"^(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*(?:月|[-/.]\d{1,2}日?(?:\s+00:00(?::00)?)?)?$")
    return pd.to_numeric(m[0], errors="coerce").to_numpy(dtype=float), pd.to_numeric(m[1], errors="coerce").to_numpy(dtype=float)


def parse_period(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    """YYYYMM, YYYY-MM, YYYY年M月, a date (YYYY-MM-DD, YYYYMMDD): the month; after this month
    only where the column allows it (a measure's planned end)."""
    codes, distinct = _by_distinct(s)
    y, mo = (a[codes] for a in _year_month(distinct))
    bad = (np.isnan(y) | np.isnan(mo) | (mo < 1) | (mo > 12) | (y < 2000)) & ~empty
    cells.add(bad, c.name, "bad_period")
    p = np.where(bad | empty, np.nan, y * 100 + mo)
    now = current_period(cells.today)
    future = ~np.isnan(p) & (p > now) & (not c.allow_future)
    cells.add(future, c.name, "future_period", now=now)
    return pd.Series(np.where(future, np.nan, p))


def parse_year(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    """A year (2024, 2024年, 2024年度), from 2000 to this year."""
    y = pd.to_numeric(s.str.replace(r"年度?$", "", regex=True).where(~empty, None), errors="coerce").to_numpy(dtype=float)
    bad = (np.isnan(y) | (y < 2000) | (y > cells.today.year) | (np.nan_to_num(y) % 1 != 0)) & ~empty
    cells.add(bad, c.name, "bad_year", now=cells.today.year)
    return pd.Series(np.where(bad | empty, np.nan, y))


def parse_grade(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    """A label standing for a number (危房等级 无/A级 … D级, or 0-4): the number."""
    return pd.to_numeric(parse_code(cells, c, s, empty), errors="coerce").astype(float)


_SEPARATORS = r"\s*[,，、;；/|]\s*"


def _label_lists(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, label lists, bad rows): each distinct cell's labels (separated by , ， 、 ; / |) as
    codes (None for a label that is no code; empty cells hold none), a row's being those of its
    distinct cell ``codes``; the rows holding a label that is no code (a problem for each)."""
    at, distinct = _by_distinct(s.where(~empty, ""))
    vm = value_map(c)
    lists = np.empty(len(distinct), dtype=object)
    lists[:] = [[vm.get(norm(p)) for p in re.split(_SEPARATORS, v) if p] for v in distinct]
    bad = np.fromiter((any(x is None for x in cs) for cs in lists), dtype=bool, count=len(lists))[at] & ~empty
    cells.add(bad, c.name, "bad_code", options={lang: [code_label(c, k, lang) for k in c.codes] for lang in ("zh", "en")})
    return at, lists, bad


def _split_codes(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Each cell's labels as codes (None where one is no code); and the rows with a label that is no code."""
    at, lists, bad = _label_lists(cells, c, s, empty)
    return pd.Series(lists[at], index=s.index, dtype=object).where(~bad, None), bad


def parse_code_list(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    """Several labels in one cell ("产业帮扶、就业帮扶"): their codes, comma separated, in the column's order;
    无 stands for none (an empty list)."""
    none = s.isin(("无", "否", "none")).to_numpy()
    codes, bad = _split_codes(cells, c, s, empty | none)
    order = {k: i for i, k in enumerate(c.codes)}
    text = codes.map(lambda cs: ",".join(sorted(set(cs), key=order.get)) if isinstance(cs, list) else None)
    return text.where(~(empty | bad), None).mask(none, "").astype(object)


def parse_health(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    """健康状况 as the national system writes it: 健康, 长期慢性病, 患有大病, 残疾 and combinations
    ("残疾,长期慢性病"): the most serious illness; 残疾 is kept in ``cells.disabled`` for the
    member's disability (see ``checks.member_disability``)."""
    at, lists, bad = _label_lists(cells, c, s, empty)
    rank = {"healthy": 0, "chronic": 1, "serious": 2}
    health = np.array([max((x for x in cs if x in rank), key=rank.get, default="healthy") for cs in lists], dtype=object)[at]
    disabled = np.array(["disabled" in cs for cs in lists], dtype=object)[at]
    disabled[bad] = None
    cells.disabled = pd.Series(disabled, index=s.index, dtype=object)
    return pd.Series(health, index=s.index, dtype=object).where(~(empty | bad), None)


def parse_date(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    t = s.str.replace(r"[年月/.]", "-", regex=True).str.replace("日", "", regex=False).str.replace(r"\s+00:00(:00)?$", "", regex=True)
    t = t.where(~t.str.fullmatch(r"\d{8}"), t.str[:4] + "-" + t.str[4:6] + "-" + t.str[6:8])
    d = pd.to_datetime(t.where(~empty, None), format="%Y-%m-%d", errors="coerce")
    cells.add(d.isna().to_numpy() & ~empty, c.name, "bad_date")
    return d


def parse_datetime(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    t = s.str.replace("/", "-", regex=False)
    d = pd.to_datetime(t.where(~empty, None), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    d2 = pd.to_datetime(t.where(~empty & d.isna(), None), format="%Y-%m-%d", errors="coerce")
    d = d.fillna(d2)
    cells.add(d.isna().to_numpy() & ~empty, c.name, "bad_datetime")
    return d


def _id_birth(cells: Cells, c: Col, u: pd.Series, chars: np.ndarray) -> np.ndarray:
    """Rows whose well-formed ID number holds a possible, plausible birth date (problems for the others)."""
    birth_txt = u.str[6:14]
    born = pd.to_datetime(birth_txt.where(chars, None), format="%Y%m%d", errors="coerce")
    impossible = chars & born.isna().to_numpy()
    cells.add(impossible, c.name, "id_birth", row_params={"birth": birth_txt.to_numpy()})
    today = pd.Timestamp(cells.today)
    implausible = chars & ~impossible & ((born > today) | (born.dt.year < 1890)).to_numpy()
    cells.add(implausible, c.name, "id_birth_range", row_params={"birth": birth_txt.to_numpy()})
    return chars & ~impossible & ~implausible


def _id_check(cells: Cells, c: Col, u: pd.Series, ok: np.ndarray) -> np.ndarray:
    """Rows among ``ok`` whose GB 11643 check character is wrong (a problem for each)."""
    idx = np.flatnonzero(ok)
    bodies = u[ok].str[:17].to_numpy().astype("<U17")
    got = u[ok].str[17].to_numpy().astype(str)
    expected = id_check_char(bodies) if len(bodies) else np.array([], dtype="<U1")
    wrong = np.zeros(cells.n, dtype=bool)
    wrong[idx[got != expected]] = True
    cells.add(wrong, c.name, "id_check", row_params={"got": spread(cells.n, ok, got), "expected": spread(cells.n, ok, expected)})
    return wrong


def parse_id(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    """18-character ID numbers: length, characters, birth date, check character."""
    u = s.str.upper()
    lengths = u.str.len().to_numpy()
    bad_len = (lengths != 18) & ~empty
    cells.add(bad_len, c.name, "id_length", row_params={"length": lengths})
    chars = u.str.fullmatch(r"\d{17}[\dX]").to_numpy(dtype=bool)
    cells.add(~chars & ~empty & ~bad_len, c.name, "id_chars")
    ok = _id_birth(cells, c, u, chars)
    good = ok & ~_id_check(cells, c, u, ok)
    return u.where(good, None).astype(object)


#: A Chinese mobile number, or a landline with its area code (0 + 2-3 digits, an optional dash,
#: 7-8 digits); spaces and dashes inside a mobile number are allowed and dropped.
_MOBILE = r"1[3-9]\d{9}"
_LANDLINE = r"0\d{2,3}-?\d{7,8}"


def parse_phone(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    """A phone number (empty allowed): a mobile 1[3-9]XXXXXXXXX or a landline 0XX(X)-XXXXXXX(X)."""
    compact = s.str.replace(r"[\s()（）]", "", regex=True)
    mobile = compact.str.replace("-", "", regex=False)
    is_mobile = mobile.str.fullmatch(_MOBILE).to_numpy(dtype=bool)
    is_landline = compact.str.fullmatch(_LANDLINE).to_numpy(dtype=bool)
    bad = ~(is_mobile | is_landline) & ~empty
    cells.add(bad, c.name, "bad_phone")
    return pd.Series(np.where(is_mobile, mobile, compact), dtype=object).where(~(empty | bad), None)


def parse_geometry(cells: Cells, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
    """A boundary (GeoJSON geometry, empty allowed) checked as the map checks an uploaded file:
    JSON, not nested past reason, a valid Polygon or MultiPolygon in longitude/latitude."""
    from fanpin.geo.geojson import geometry_problem

    long = _too_long(cells, c, s)
    problems = np.array([None if e or too else geometry_problem(text) for text, e, too in zip(s, empty, long)], dtype=object)
    bad = np.array([p is not None for p in problems], dtype=bool)
    reasons = np.array([{lang: translate(f"ingest.geometry.{p.kind}", lang, detail=p.detail) for lang in ("zh", "en")} if p else "" for p in problems], dtype=object)
    cells.add(bad, c.name, "bad_geometry", row_params={"reason": reasons})
    return s.where(~(empty | long | bad), None).astype(object)


def check_household_ids(cells: Cells) -> None:
    """Every kind's household ID in the national format (``fanpin.core.text.household_id_ok``:
    letters, digits, ``-`` and ``_``): markdown, HTML or spaces in an ID are refused here, once,
    rather than escaped on every page that shows it."""
    v = cells.v.get("household_id")
    if v is None:
        return
    bad = v.notna().to_numpy() & ~household_ids_ok(v.to_numpy(dtype=object))
    cells.add(bad, "household_id", "bad_household_id", max=HOUSEHOLD_ID_MAX)
    cells.v["household_id"] = v.where(~bad, None)


PARSERS: dict[str, Parser] = {
    "text": parse_text, "household": parse_text, "village": parse_text, "region": parse_text, "phone": parse_phone, "geojson": parse_geometry,
    "int": parse_int, "float": parse_float, "bool": parse_bool, "code": parse_code, "period": parse_period,
    "year": parse_year, "grade": parse_grade, "code_list": parse_code_list, "health": parse_health,
    "date": parse_date, "datetime": parse_datetime, "id": parse_id,
}


def parse(cells: Cells) -> None:
    """Type every mapped column (``cells.v``), reporting cells that do not fit their column."""
    for c in cells.spec.columns:
        if c.name not in cells.cols:
            continue
        s = cells.text(c.name)
        # Numbers Excel could not hold exactly (an ID number typed as a number): one problem
        # for the cell, no further checks on a value that is already wrong.
        j = cells.cols[c.name]
        lossy = np.zeros(cells.n, dtype=bool)
        lossy[[i for i, jj in cells.grid.lossy if jj == j]] = True
        cells.add(lossy, c.name, "lossy_number")
        if lossy.any():
            s = s.mask(lossy, "")
        empty = (s == "").to_numpy()
        if c.required:
            cells.add(empty & ~lossy, c.name, "required")
        cells.v[c.name] = PARSERS[c.type](cells, c, s, empty)
    check_household_ids(cells)
