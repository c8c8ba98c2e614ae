"""Imports with validation: rosters, members, monthly indicators, department feeds, assistance,
department comparison records and officials' relatives.

One job per step, so the page, the command and the tests share them:

* :func:`fanpin.ingest.validate.validate` reads a file (``fanpin.ingest.read``: CSV/.xlsx,
  UTF-8/BOM/GB18030) and checks every cell against the kind's column spec, the database and the
  rest of the file.  It writes nothing.  The result is a :class:`Report`: the problems (row,
  column, value, message code) and the plan (rows to add, to update, unchanged, skipped).
* :func:`apply` writes a passed report in one transaction: the rows, an ``import_batches`` row,
  an audit entry and a new data version (so snapshot caches reload), or nothing at all.
* :func:`import_file` = validate, then apply or record the refusal (``import_batches`` status
  ``refused`` + audit ``import_refused``; the data tables are untouched).  A file whose SHA-256
  was already applied is reported as "already imported in batch N" and nothing is written.

Upserts compare with the stored values, so importing the same rows again (even from a file
with another hash) adds and updates nothing.  An empty cell in an update row keeps the stored
value; a cell that the file leaves empty in a *new* row takes the column's default.  Append-only
kinds (feeds, assistance, department records) skip a row identical to one already stored.

Every step takes the acting :class:`~fanpin.access.roles.Principal` (required): only roles that
import may, and the audit row and the batch name ``principal.actor``.  Messages are produced as
codes plus parameters and translated at the end (``translate("ingest.p.<code>", lang, ...)``), so
one validation serves zh and en.  Personal values (names, ID numbers, phones) are masked in the report.

Each applied batch records what it changed (``fanpin.ingest.undo.UndoLog``: the prior values of
the columns it updated, the keys of the records it added, the household counts a members import
refreshes) so that it can be rolled back (``fanpin.ingest.undo.rollback``).

An applied import of real data into the demo county's database ends its life as a demo (meta
``demo`` cleared in the same transaction, ``fanpin.store.meta.clear_demo``): trainers, limited to
the demo county, no longer see it, and ``fanpin demo`` no longer replaces it.  Rows whose region
codes, ID numbers and household IDs all begin with 99 (no real province: the committed sample
workbook ``data/demo_national_export.xlsx``, a trainer's prepared file) are synthetic and leave
the flag as it was (:func:`synthetic`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin.access import audit
from fanpin.access.roles import Principal, require
from fanpin.core.i18n import DEFAULT_LANG, translate
from fanpin.ingest import after
from fanpin.ingest.aggregates import refresh_aggregates
from fanpin.ingest.report import Plan, Report
from fanpin.ingest.specs import SPECS, KindSpec
from fanpin.ingest.undo import UndoLog
from fanpin.ingest.validate import validate
from fanpin.store import import_undo as undo_store
from fanpin.store import imports as store
from fanpin.store import meta
from fanpin.store.clues import insert_clues
from fanpin.store.io import bump_data_version

__all__ = ["ImportResult", "apply", "import_file", "record_refusal", "recent_batches"]


@dataclass
class ImportResult:
    """What an import did: ``status`` applied / refused / already, the report, the batch."""

    status: str
    report: Report
    batch_id: int | None = None
    merged_clues: int = 0

    def message(self, lang: str = DEFAULT_LANG) -> str:
        if self.status == "already":
            return translate("ingest.p.already_imported", lang, batch=self.report.already_batch)
        if self.status == "refused":
            return translate("ingest.refused", lang, errors=self.report.n_errors, batch=self.batch_id)
        return translate("ingest.applied", lang, batch=self.batch_id, added=self.report.added, updated=self.report.updated, unchanged=self.report.unchanged, skipped=self.report.skipped)


# --------------------------------------------------------------------------- values for the database


def _db_value(series: pd.Series, col_type: str) -> np.ndarray:
    """Column values ready for the store's writers (Python ints, ISO dates, None)."""
    if col_type in ("int", "period"):
        return np.array([None if x != x or x is None else int(x) for x in series], dtype=object)
    if col_type == "float":
        return series.to_numpy(dtype=float)
    if col_type == "date":
        return np.array([None if pd.isna(x) else x.strftime("%Y-%m-%d") for x in series], dtype=object)
    if col_type == "datetime":
        return np.array([None if pd.isna(x) else x.strftime("%Y-%m-%d %H:%M:%S") for x in series], dtype=object)
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


def _fill(values: np.ndarray | list | None, fill: object, n: int) -> np.ndarray:
    """``values`` with every missing one (None, NaN, or no array at all) replaced by ``fill``
    (a scalar or an array of ``n``)."""
    vals = np.full(n, None, dtype=object) if values is None else np.asarray(values, dtype=object)
    missing = np.array([v is None or (isinstance(v, float) and v != v) for v in vals], dtype=bool)
    return np.where(missing, fill, vals).astype(object)


def _new_rows(spec: KindSpec, new: pd.DataFrame, cols: list[str], now: datetime) -> dict[str, np.ndarray]:
    """The column arrays of the records an upsert creates, defaults and derived values filled in."""
    n = len(new)
    out = {c: _db_value(new[c], spec.type_of(c)) for c in cols}
    for c in spec.columns:
        if c.default is not None:
            out[c.name] = _fill(out.get(c.name), c.default, n)
    if spec.kind == "members":  # sex and birth date from the ID number where the file gives none
        ids = new["id_number"].astype(str)
        out["sex"] = _fill(out.get("sex"), np.where(ids.str[16].astype(int) % 2 == 1, "M", "F").astype(object), n)
        out["birth_date"] = _fill(out.get("birth_date"), (ids.str[6:10] + "-" + ids.str[10:12] + "-" + ids.str[12:14]).to_numpy(dtype=object), n)
    if spec.kind == "households":  # counts follow from members (refreshed by a members import)
        for k in store.AGGREGATE_COLUMNS[1:]:
            out[k] = np.zeros(n, dtype=np.int64)
        if "created_period" not in out or all(v is None for v in out["created_period"]):
            out["created_period"] = np.full(n, now.year * 100 + now.month, dtype=np.int64)
    if spec.kind == "monitoring":
        out["updated_at"] = np.full(n, now.strftime("%Y-%m-%d %H:%M:%S"), dtype=object)
    # Panel values a file does not give stay NULL: "not reported", which the scorer handles.
    return out


def _key_tuples(spec: KindSpec, rows: pd.DataFrame) -> list[tuple]:
    """The records' keys as tuples of database values (for the undo log)."""
    return list(zip(*[_db_value(rows[k], spec.type_of(k)) for k in spec.key])) if len(rows) else []


def _touched(new: pd.DataFrame, upd: pd.DataFrame) -> set[str]:
    """The households of the records added or updated (as the file names them)."""
    touched: set[str] = set()
    for part in (new, upd):
        if len(part) and "household_id" in part:
            touched |= set(part["household_id"].dropna().astype(str))
    return touched


def _apply_upsert(conn: Connection, spec: KindSpec, plan: Plan, now: datetime, undo: UndoLog) -> tuple[set[str], pd.DataFrame | None]:
    """Insert the new records, update the changed ones (both logged for a rollback); the households
    touched and the records inserted (as a read gives them; None when there are none)."""
    f, cols = plan.frame, plan.columns
    new, upd = f[plan.new], f[plan.changed]
    inserted = None
    if len(new):
        rows = _new_rows(spec, new, cols, now)
        store.insert_rows(conn, spec.table, rows)
        inserted = undo.inserted(spec.table, _key_tuples(spec, new), written=rows)
    if len(upd):
        keys = {k: _db_value(upd[k], spec.type_of(k)) for k in spec.key}
        values = {c: _db_value(upd[c], spec.type_of(c)) for c in cols if c not in spec.key}
        if spec.replace:  # a blank cell clears the stored value, except where the column has a default
            values.update({c.name: _fill(values[c.name], c.default, len(upd)) for c in spec.columns if c.default is not None and c.name in values})
        if spec.kind == "monitoring":
            values["updated_at"] = np.full(len(upd), now, dtype=object)
        pending = undo.updating(spec.table, _key_tuples(spec, upd), list(values))
        store.update_rows(conn, spec.table, keys, values, keep_blank=not spec.replace)
        undo.updated(pending)
    return _touched(new, upd), inserted


def _apply_append(conn: Connection, spec: KindSpec, plan: Plan, batch_id: int, now: datetime, undo: UndoLog) -> None:
    """Append the plan's rows (their new IDs logged for a rollback); feeds become clues (through the one clue writer)."""
    f = plan.frame
    if not len(f):
        return
    n = len(f)
    names = store.table_columns(spec.table)
    out = {c: _db_value(f[c], spec.type_of(c)) for c in plan.columns if c in names}
    if spec.kind == "feeds":
        out["channel"] = _fill(out.get("channel"), "department", n)
        out["received_at"] = _fill(out.get("received_at"), now.strftime("%Y-%m-%d %H:%M:%S"), n)
        out["status"] = np.full(n, "new", dtype=object)
        out.pop("id_number", None)
        undo.inserted("clues", [(i,) for i in insert_clues(conn, _records(out))])
        return
    if spec.kind == "dept_records":
        out["batch_id"] = np.full(n, batch_id, dtype=np.int64)
    undo.inserted(spec.table, [(i,) for i in undo_store.insert_returning(conn, spec.table, out)])


def _records(columns: dict[str, np.ndarray]) -> list[dict]:
    """Column arrays as one dict per row (plain Python values, times as datetimes) for the clue writer."""
    n = len(next(iter(columns.values())))
    out = [{c: undo_store.plain(columns[c][i]) for c in columns} for i in range(n)]
    for r in out:
        if isinstance(r.get("received_at"), str):
            r["received_at"] = datetime.fromisoformat(r["received_at"])
    return out


# --------------------------------------------------------------------------- the write transaction


def _audit_detail(report: Report) -> dict:
    return {"kind": report.kind, "file": report.file_name, "sha256": report.file_hash, "added": report.added, "updated": report.updated, "unchanged": report.unchanged, "skipped": report.skipped}


def write_part(conn: Connection, report: Report, principal: Principal, now: datetime, file_name: str | None = None) -> int | None:
    """Write one passed table inside the caller's transaction: its batch row, its rows, its audit
    row; None (nothing written) when a table with the same hash was applied meanwhile."""
    spec = SPECS[report.kind]
    prior = store.applied_batch(conn, report.file_hash)
    if prior is not None:  # applied by someone else since validation
        report.already_batch = prior
        return None
    name = file_name or report.file_name
    batch = store.Batch(report.kind, name, report.file_hash, "applied", principal.actor, now, report.added, report.updated, report.detail())
    batch_id = store.insert_batch(conn, batch)
    undo = UndoLog(conn, batch_id)
    if spec.key:
        members = spec.kind == "members"
        plan = report.plan
        if members:  # households that held members before: their counts read the stored members
            stored = store.households_with_members(conn, sorted(_touched(plan.frame[plan.new], plan.frame[plan.changed])))
        touched, inserted = _apply_upsert(conn, spec, plan, now, undo)
        if members:  # the household counts follow, logged with the batch
            hids = sorted(touched)
            pending = undo.updating("households", [(h,) for h in hids], store.AGGREGATE_COLUMNS)
            # counted from the members as written, plus the stored members of the households that
            # had some before or that an updated member names (their members are read)
            stored |= _touched(plan.frame[plan.new].iloc[:0], plan.frame[plan.changed])
            written = inserted if inserted is not None else pd.DataFrame(columns=list(store.AGGREGATE_INPUTS))
            agg = refresh_aggregates(conn, hids, written=written, stored=sorted(stored))
            undo.updated(pending, after=agg.rename_axis("household_id").reset_index())  # (the counts as written: no read back)
    else:
        _apply_append(conn, spec, report.plan, batch_id, now, undo)
    undo.flush()
    detail = {**_audit_detail(report), "file": name}
    if (report.added or report.updated) and not synthetic(report.plan) and meta.clear_demo(conn):
        detail["demo_cleared"] = True
    audit.record(conn, principal.actor, "import", target=f"batch:{batch_id}", detail=detail, at=now)
    return batch_id


#: Columns whose values carry a region code: region codes, ID numbers (their first six digits),
#: household IDs (the demo county's begin with its village code).
_PLACE_COLUMNS: tuple[str, ...] = (
    "region_code", "parent_code", "village_code", "township_code", "household_id", "id_number", "official_id_number", "relative_id_number",
)


def synthetic(plan: Plan | None) -> bool:
    """Whether the rows a plan writes are all about the synthetic demo county: every region code,
    ID number and household ID in them begins with 99 (no real province).  Such an import (the
    committed sample workbook of the demo county, a trainer's prepared file) leaves a demo database
    a demo; any other applied import makes it a real one (``fanpin.store.meta.clear_demo``)."""
    if plan is None:
        return True
    for c in _PLACE_COLUMNS:
        if c in plan.frame:
            values = plan.frame[c].dropna().astype(str)
            if not values.str.startswith(meta.SYNTHETIC_PREFIX).all():
                return False
    return True


def _write(engine: Engine, report: Report, principal: Principal, now: datetime) -> int | None:
    """The write transaction of :func:`apply`; None when the file was applied since validation."""
    with engine.begin() as conn:
        batch_id = write_part(conn, report, principal, now)
        if batch_id is not None and (report.added or report.updated):
            bump_data_version(conn, **after.changed([report]))
    return batch_id


def apply(engine: Engine, report: Report, *, principal: Principal, now: datetime | None = None) -> ImportResult:
    """Write a passed report in one transaction (rows, batch, audit, data version), once per file:
    a file applied since validation, even by a concurrent import, is reported as already imported."""
    require(principal, "import")
    if report.already_batch is not None:
        return ImportResult("already", report)
    if not report.ok or report.plan is None:
        raise ValueError("the report has errors: it cannot be applied")
    now = (now or datetime.now()).replace(microsecond=0)
    try:
        batch_id = _write(engine, report, principal, now)
    except IntegrityError:
        # Another import applied the same file between our check and our write: the unique
        # index on applied file hashes refused ours, and the whole transaction rolled back.
        prior = store.applied_batch(engine, report.file_hash)
        if prior is None:
            raise
        report.already_batch = prior
        return ImportResult("already", report)
    if batch_id is None:
        return ImportResult("already", report)
    if report.added or report.updated:
        after.prepared(engine)  # the columnar copy and the baseline's scores: the next page view reads no SQL
    merged = 0
    if report.kind == "feeds" and report.added:
        from fanpin.workflow.clues import merge_duplicates

        merged = merge_duplicates(engine)
    return ImportResult("applied", report, batch_id, merged)


def record_refusal(engine: Engine, report: Report, *, principal: Principal, now: datetime | None = None) -> int:
    """Log a refused file: an ``import_batches`` row (status refused) and an audit entry."""
    require(principal, "import")
    now = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        batch_id = store.insert_batch(conn, store.Batch(report.kind, report.file_name, report.file_hash, "refused", principal.actor, now, detail=report.detail()))
        detail = {"kind": report.kind, "file": report.file_name, "sha256": report.file_hash, "errors": report.n_errors}
        audit.record(conn, principal.actor, "import_refused", target=f"batch:{batch_id}", detail=detail, at=now)
    return batch_id


def import_file(
    engine: Engine, kind: str, data: bytes, file_name: str, *, principal: Principal, today: date | None = None, now: datetime | None = None, ignore_columns: bool = False
) -> ImportResult:
    """Validate, then apply, or record the refusal; see the module docstring."""
    report = validate(engine, kind, data, file_name, principal=principal, today=today, ignore_columns=ignore_columns)
    if report.already_batch is not None:
        return ImportResult("already", report)
    if not report.ok:
        return ImportResult("refused", report, record_refusal(engine, report, principal=principal, now=now))
    return apply(engine, report, principal=principal, now=now)


def recent_batches(engine: Engine, *, principal: Principal, limit: int = 20) -> pd.DataFrame:
    """The newest import batches (who imported which file when), for those who import."""
    require(principal, "import")
    return store.recent_batches(engine, limit)
