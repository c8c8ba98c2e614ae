"""Checking a file against its kind and the database; nothing is written here.

The steps, each in its own module: ``read`` (the file into a grid of text cells), ``checks``
(the header row, references, duplicates, the members' rules), ``cells`` (typing every column),
``plan`` (what applying would add, update or skip).  The result is a :class:`Report`.  Before the
checks, a file whose headers fit another kind says so first (``guess``) and the templates' example
rows are taken out (``examples``).
"""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
from sqlalchemy.engine import Connection, Engine

from fanpin.access.roles import Principal, require
from fanpin.ingest import checks
from fanpin.ingest.cells import Cells, current_period, parse
from fanpin.ingest.examples import drop_examples
from fanpin.ingest.guess import note_wrong_kind
from fanpin.ingest.names import norm
from fanpin.ingest.plan import plan_append, plan_upsert
from fanpin.ingest.read import FileProblem, Grid, read_table
from fanpin.ingest.report import Problem, Report
from fanpin.ingest.specs import KINDS, SPECS, header_map
from fanpin.store import imports as store

__all__ = ["check_rows", "current_period", "file_hash", "validate"]


def file_hash(data: bytes) -> str:
    """The file's SHA-256 (hex): an applied hash is never applied again."""
    return hashlib.sha256(data).hexdigest()


def _read(report: Report, data: bytes, file_name: str) -> Grid | None:
    """The file's grid (its facts copied onto the report), or None with the file's problem reported."""
    spec = SPECS[report.kind]
    hmap = header_map(spec)
    try:
        grid = read_table(data, file_name, lambda h: norm(h) in hmap, spec.sheet_names)
    except FileProblem as exc:
        report.problems.append(Problem(exc.code, "", np.array([], dtype=np.intp), "error", exc.params))
        return None
    report.n_rows = len(grid.rows)
    report.encoding = grid.encoding
    report.sheet = grid.sheet
    report.row_numbers = grid.row_numbers
    report.values = grid.rows
    report.header = grid.header
    return grid


def check_rows(cells: Cells, conn: Connection) -> None:
    """The checks against the database and the rest of the file, then the plan (typed cells in)."""
    kind, spec = cells.spec.kind, cells.spec
    checks.references(cells, conn)
    if kind == "members":
        checks.members(cells, conn)
        checks.member_disability(cells, conn)
    elif kind in checks.PERSON_KINDS:
        checks.people_to_households(cells, conn, required=(kind == "feeds"))
    elif kind == "households":
        checks.household_size(cells, conn)
    if kind != "members":
        checks.duplicates(cells, spec.key)
    cells.report.plan = plan_upsert(cells, conn) if spec.key else plan_append(cells, conn)
    cells.report.skipped += cells.report.examples


def validate(
    engine: Engine, kind: str, data: bytes, file_name: str, *, principal: Principal, today: date | None = None, ignore_columns: bool = False
) -> Report:
    """Check a file completely without writing anything; see :class:`Report`.

    A column no table reads is an error until ``ignore_columns`` accepts dropping it (nothing is
    lost without the user saying so).  Only a principal who may import validates: the report
    tells which household a stored person belongs to."""
    require(principal, "import")
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r}: one of {', '.join(KINDS)}")
    report = Report(kind, file_name, file_hash(data))
    report.already_batch = store.applied_batch(engine, report.file_hash)
    if report.already_batch is not None:
        return report
    grid = _read(report, data, file_name)
    if grid is None:
        return report
    note_wrong_kind(report, grid.header)  # first: the report's real error when the kind is wrong
    grid = drop_examples(report, grid, SPECS[kind])
    cells = Cells(SPECS[kind], grid, report, today or date.today())
    if not checks.map_headers(cells, accept_unknown=ignore_columns):
        return report
    parse(cells)
    with engine.connect() as conn:
        check_rows(cells, conn)
    if report.n_errors:
        report.added = report.updated = report.unchanged = report.skipped = 0
        report.plan = None
    return report
