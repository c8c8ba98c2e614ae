"""A whole workbook (the national monitoring system's export, or a CSV of one of its sheets):
each sheet's tables recognised from its headers, every sheet checked before anything is written.

Recognition reads headers, never sheet names: a table claims a sheet when the sheet has the
table's required columns and one of its *signature* columns (a member sheet has 证件号码, an
income sheet 年度, a measure sheet 帮扶措施 …).  The household sheet of the national export also
carries the monitoring record (监测对象类别, 致贫/返贫风险1-5, …): it holds two tables, the
household roster and the monitoring record, which share 户编号.  Any other sheet holds one table
(a member or income sheet repeating a roster column is not a roster); a sheet that two such
tables claim, or none, is refused with the headers it has.

A column no table of its sheet reads is listed before anything is written and is an error until
the user accepts dropping it (``ignore_columns``); the columns an export repeats from elsewhere
(序号, region names beside the village code) are only noted.  Each table of a sheet is checked
as a single file of its kind would be (:func:`fanpin.ingest.validate.check_rows`), in the order
that lets a member, a measure or a monthly row name a household the same workbook adds.

Once only, per table and content: each table of a sheet has a hash of its kind, headers and
cells (:attr:`~fanpin.ingest.report.Report.file_hash`).  A table applied before is reported as
already imported and skipped, so a workbook refused for one sheet imports whole after the fix,
and re-importing it applies only the tables that changed.

A sheet of provincial income lines (年度, 监测收入标准（元）: fanpin's export adds it) is read by
``fanpin.ingest.lines``, not as a table: its lines are stored with the data (``meta``) when they
differ from those stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from operator import itemgetter

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal, require
from fanpin.core.i18n import DEFAULT_LANG, translate
from fanpin.ingest import checks
from fanpin.ingest import lines as lines_sheet
from fanpin.ingest.cells import Cells, parse
from fanpin.ingest.examples import drop_examples
from fanpin.ingest.names import info_headers, norm
from fanpin.ingest.read import FileProblem, Grid, read_sheets
from fanpin.ingest.report import Problem, Report
from fanpin.ingest.specs import SPECS, header_map
from fanpin.ingest.validate import check_rows, file_hash
from fanpin.store import imports as store
from fanpin.store import meta as meta_store

__all__ = ["ORDER", "SIGNATURES", "WorkbookReport", "recognise", "validate_workbook"]

#: The order tables are checked and written in: households first (others name them), the panel
#: before members (member ages count at the newest panel month), then the rest.
ORDER: tuple[str, ...] = ("regions", "households", "monitoring", "panel", "members", "incomes", "assistance", "feeds", "dept_records", "official_relations")
#: A table claims a sheet only with one of these columns (all of them for feeds).
SIGNATURES: dict[str, tuple[str, ...]] = {
    "regions": ("level",),
    "households": ("village_code", "household_type", "size", "farmland_mu", "housing_grade", "relocated"),
    "monitoring": ("monitoring_category", "risk_1", "identified_period", "eliminated", "elimination_method", "eliminated_period", "development_measures"),
    "panel": ("income_net", "income_pc", "income_wage", "medical_oop", "benefits", "job_lost", "debt"),
    "members": ("id_number",),
    "incomes": ("year",),
    "assistance": ("measure",),
    "feeds": ("source", "risk_type"),
    "dept_records": ("record_type",),
    "official_relations": ("official_id_number", "relative_id_number"),
}
_TOGETHER = frozenset({"households", "monitoring"})  # the national household sheet


@cache
def _header_maps() -> dict[str, dict[str, str]]:
    return {k: header_map(SPECS[k]) for k in ORDER}


@cache
def known_headers() -> frozenset[str]:
    """Every header (normal form) some table reads, and the informational ones."""
    return frozenset(h for m in _header_maps().values() for h in m) | info_headers() | lines_sheet.known_headers()


def _claims(kind: str, mapped: dict[int, str]) -> bool:
    names = set(mapped.values())
    spec = SPECS[kind]
    required = {c.name for c in spec.columns if c.required}
    if kind in checks.PERSON_KINDS and not names & {"household_id", "id_number"}:
        return False
    sig = SIGNATURES[kind]
    has_sig = set(sig) <= names if kind == "feeds" else bool(names & set(sig))
    return required <= names and has_sig


def recognise(header: list[str]) -> list[tuple[str, frozenset[int]]]:
    """The tables a sheet holds, each with the header positions it reads; [] when no table (or
    more than one that cannot share a sheet) claims it."""
    found: list[tuple[str, frozenset[int]]] = []
    for kind, hmap in _header_maps().items():
        mapped = {j: hmap[norm(h)] for j, h in enumerate(header) if h.strip() and norm(h) in hmap}
        if _claims(kind, mapped):
            found.append((kind, frozenset(mapped)))
    own = [(k, cols) for k, cols in found if k not in _TOGETHER]
    if len(own) > 1:
        return []
    return own or found  # a sheet of its own table (its 危房等级 or 家庭人口数 is not the roster's)


def part_hash(kind: str, grid: Grid, columns: frozenset[int]) -> str:
    """The content hash of one table of a sheet: its kind, headers and cells (the once-only key)."""
    cols = sorted(columns)
    h = hashlib.sha256(f"{kind}\x1e".encode())
    h.update("\x1f".join(norm(grid.header[j]) for j in cols).encode())
    if not cols:
        h.update(b"\x1e" * len(grid.rows))
        return h.hexdigest()
    pick = itemgetter(*cols) if len(cols) > 1 else (lambda row: (row[cols[0]],))
    for start in range(0, len(grid.rows), 10_000):  # the same bytes as row by row, hashed in blocks
        block = "".join(["\x1e" + "\x1f".join(map(str.strip, pick(row))) for row in grid.rows[start : start + 10_000]])
        h.update(block.encode())
    return h.hexdigest()


def _problem(report: Report, code: str, column: str = "", severity: str = "error", **params: object) -> None:
    report.problems.append(Problem(code, column, np.array([], dtype=np.intp), severity, dict(params)))


def _with_grid(report: Report, grid: Grid) -> Report:
    report.n_rows, report.encoding, report.sheet = len(grid.rows), grid.encoding, grid.sheet
    report.row_numbers, report.values, report.header = grid.row_numbers, grid.rows, grid.header
    return report


@dataclass
class Part:
    """One table of one sheet: its kind, the header positions it reads, its report."""

    kind: str
    grid: Grid
    columns: frozenset[int]
    report: Report


@dataclass
class WorkbookReport:
    """Every problem of a workbook (the file, each sheet, each table) and each table's plan."""

    file_name: str
    file_hash: str
    file: Report  # problems of the file as a whole
    sheets: list[Report] = field(default_factory=list)  # problems of a sheet (unrecognised, columns dropped)
    parts: list[Part] = field(default_factory=list)
    lines: dict[int, float] = field(default_factory=dict)  # income lines of a lines sheet, {year: yuan}
    lines_sheet: str | None = None
    lines_new: dict[int, float] = field(default_factory=dict)  # of those, the lines the database does not hold yet

    @property
    def reports(self) -> list[Report]:
        return [self.file, *self.sheets, *(p.report for p in self.parts)]

    @property
    def n_errors(self) -> int:
        return sum(r.n_errors for r in self.reports)

    @property
    def n_warnings(self) -> int:
        return sum(r.n_warnings for r in self.reports)

    @property
    def already(self) -> bool:
        """Every table of the workbook was applied before and its income lines are stored (nothing to do)."""
        done = all(p.report.already_batch is not None for p in self.parts) and not self.lines_new
        return bool(self.parts or self.lines) and done and self.n_errors == 0

    @property
    def ok(self) -> bool:
        return self.n_errors == 0 and bool(self.parts or self.lines_new) and not self.already

    @property
    def unaccepted_columns(self) -> list[str]:
        """Headers no table of their sheet reads, waiting for the user to accept dropping them."""
        return [c for r in self.reports for c in r.unaccepted_columns]

    def count(self, name: str) -> int:
        """added / updated / unchanged / skipped over the tables still to apply."""
        return sum(getattr(p.report, name) for p in self.parts if p.report.already_batch is None)

    def summary(self, lang: str = DEFAULT_LANG) -> str:
        if self.already:
            batches = "、".join(str(p.report.already_batch) for p in self.parts)
            return translate("ingest.workbook.already", lang, batches=batches)
        return translate(
            "ingest.workbook.summary", lang, sheets=len(self.sheets), tables=len(self.parts), errors=self.n_errors, warnings=self.n_warnings,
            added=self.count("added"), updated=self.count("updated"), unchanged=self.count("unchanged"), skipped=self.count("skipped"),
        )

    def _label(self, report: Report, lang: str) -> str:
        table = translate(f"ingest.kind.{report.kind}", lang) if report.kind in SPECS else ""
        return " · ".join(x for x in (report.sheet or "", table) if x)

    def tables(self, lang: str = DEFAULT_LANG) -> pd.DataFrame:
        """One row per table found: sheet, table, rows, and what applying does (or the batch that did)."""
        rows = []
        for p in self.parts:
            r = p.report
            state = translate("ingest.p.already_imported", lang, batch=r.already_batch) if r.already_batch is not None else r.summary(lang)
            rows.append((r.sheet, translate(f"ingest.kind.{r.kind}", lang), r.n_rows, state))
        if self.lines:
            state = translate("ingest.workbook.lines_state", lang, n=len(self.lines_new), years="、".join(map(str, sorted(self.lines_new))) or "—")
            rows.append((self.lines_sheet, translate("ingest.workbook.lines", lang), len(self.lines), state))
        cols = [translate(f"ingest.workbook.{c}", lang) for c in ("sheet", "table", "rows", "state")]
        return pd.DataFrame(rows, columns=cols)

    def frame(self, lang: str = DEFAULT_LANG, limit: int | None = 10_000) -> pd.DataFrame:
        """Every problem, with the sheet and table it is in (for the page and the download)."""
        frames = []
        for r in self.reports:
            f = r.frame(lang, limit)
            if len(f):
                f.insert(0, translate("ingest.workbook.where", lang), self._label(r, lang))
                frames.append(f)
        if not frames:
            return self.file.frame(lang, limit).assign(**{translate("ingest.workbook.where", lang): []})
        return pd.concat(frames, ignore_index=True)

    def text(self, lang: str = DEFAULT_LANG, limit: int = 200) -> str:
        """Plain-text report for the command line: the summary, then each sheet's and table's problems."""
        lines = [f"{self.file_name}: {self.summary(lang)}"]
        for r in self.reports:
            if r.problems:
                lines.append(f"[{self._label(r, lang) or self.file_name}]")
                lines.extend(r.text(lang, limit).splitlines()[1:])
        return "\n".join(lines)

    def detail(self) -> dict:
        return {"kind": "workbook", "file": self.file_name, "errors": self.n_errors, "warnings": self.n_warnings,
                "tables": [{"sheet": p.report.sheet, "kind": p.kind, "rows": p.report.n_rows} for p in self.parts],
                "first_errors": [e for r in self.reports for e in r.detail()["first_errors"]][:20]}


def _sheet(wr: WorkbookReport, title: str, grid: Grid | FileProblem, accept: bool) -> None:
    """Recognise one sheet's tables; its own problems (unrecognised, columns dropped) on a sheet report."""
    sheet = Report("sheet", wr.file_name, wr.file_hash, sheet=title)
    wr.sheets.append(sheet)
    if isinstance(grid, FileProblem):
        _problem(sheet, grid.code, **grid.params)
        return
    _with_grid(sheet, grid)
    cols = lines_sheet.columns(grid.header)
    if cols is not None:  # the provincial income lines (not a table)
        wr.lines.update(lines_sheet.read_lines(grid, cols, sheet))
        wr.lines_sheet = title
        return
    parts = recognise(grid.header)
    if not parts:
        shown = "、".join(h for h in grid.header if h.strip())[:200]
        _problem(sheet, "sheet_unrecognised", sheet=title, headers=shown)
        return
    owned = frozenset().union(*(cols for _k, cols in parts))
    unknown = [h for j, h in enumerate(grid.header) if h.strip() and j not in owned]
    cells = Cells(SPECS[parts[0][0]], grid, sheet, date.today())
    for j, h in enumerate(grid.header):
        if not h.strip() and cells.raw[f"c{j}"].str.strip().ne("").any():
            _problem(sheet, "blank_header", column=f"#{j + 1}", index=j + 1)
    checks.unknown_columns(cells, unknown, accept)
    for kind, cols in parts:
        own = grid if len(parts) == 1 or kind == "households" else _rows_with_values(grid, cols, kind)
        if not own.rows:
            continue
        report = _with_grid(Report(kind, wr.file_name, part_hash(kind, own, cols)), own)
        wr.parts.append(Part(kind, own, cols, report))


def _rows_with_values(grid: Grid, columns: frozenset[int], kind: str) -> Grid:
    """The rows of a shared sheet that give this table anything besides the key (a roster row of
    a household that is not monitored holds no monitoring record)."""
    hmap, key = _header_maps()[kind], set(SPECS[kind].key)
    value_cols = [j for j in columns if hmap[norm(grid.header[j])] not in key]
    keep = [i for i, r in enumerate(grid.rows) if any(r[j].strip() for j in value_cols)]
    pos = {i: k for k, i in enumerate(keep)}
    lossy = {(pos[i], j) for i, j in grid.lossy if i in pos}
    return replace(grid, rows=[grid.rows[i] for i in keep], row_numbers=[grid.row_numbers[i] for i in keep], lossy=lossy)


def _check_parts(engine: Engine, wr: WorkbookReport, today: date) -> None:
    """Each table checked as a file of its kind, in :data:`ORDER`, households added earlier known."""
    wr.parts.sort(key=lambda p: ORDER.index(p.kind))
    pending: set[str] = set()
    regions: dict[str, str] = {}
    with engine.connect() as conn:
        stored = meta_store.income_lines(conn)
        wr.lines_new = {y: v for y, v in sorted(wr.lines.items()) if stored.get(y) != v}
        for part in wr.parts:
            report = part.report
            report.already_batch = store.applied_batch(conn, report.file_hash)
            if report.already_batch is not None:
                continue
            part.grid = drop_examples(report, part.grid, SPECS[part.kind], part.columns)
            cells = Cells(SPECS[part.kind], part.grid, report, today)
            cells.members_in_file = any(p.kind == "members" for p in wr.parts)
            cells.pending_households = frozenset(pending)
            cells.pending_regions = regions
            if not checks.map_headers(cells, only=part.columns):
                continue
            parse(cells)
            check_rows(cells, conn)
            if part.kind == "households":
                pending |= set(cells.v["household_id"].dropna())
            if part.kind == "regions":
                levels = pd.DataFrame({"code": cells.typed("region_code"), "level": cells.typed("level")}).dropna()
                regions.update(zip(levels["code"], levels["level"]))
            if report.n_errors:
                report.added = report.updated = report.unchanged = report.skipped = 0
                report.plan = None


def validate_workbook(
    engine: Engine, data: bytes, file_name: str, *, principal: Principal, today: date | None = None, ignore_columns: bool = False
) -> WorkbookReport:
    """Check a whole workbook (or a CSV of one sheet) without writing anything; see the module docstring."""
    require(principal, "import")
    digest = file_hash(data)
    wr = WorkbookReport(file_name, digest, Report("workbook", file_name, digest))
    try:
        sheets = read_sheets(data, file_name, lambda h: norm(h) in known_headers())
    except FileProblem as exc:
        _problem(wr.file, exc.code, **exc.params)
        return wr
    for title, grid in sheets:
        _sheet(wr, title, grid, ignore_columns)
    _check_parts(engine, wr, today or date.today())
    return wr
