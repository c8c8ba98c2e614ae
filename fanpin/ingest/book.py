"""Writing a checked workbook: every table still to apply, in one transaction, or nothing.

:func:`import_workbook` is what ``fanpin import FILE`` (no ``--kind``) and the import page's
workbook choice call: validate every sheet (``fanpin.ingest.workbook``), then apply all its tables
or record the refusal.  Each table applied gets its own ``import_batches`` row (its content hash:
the once-only key) and audit row; income lines the database does not hold yet are stored (one
``income_line_set`` audit row); the data version changes once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin.access import audit
from fanpin.access.roles import Principal, require
from fanpin.core.i18n import DEFAULT_LANG, translate
from fanpin.ingest import after
from fanpin.ingest.apply import write_part
from fanpin.ingest.undo import UndoLog
from fanpin.ingest.workbook import WorkbookReport, validate_workbook
from fanpin.store import imports as store
from fanpin.store import meta
from fanpin.store.io import bump_data_version

__all__ = ["WorkbookResult", "apply_workbook", "import_workbook", "record_workbook_refusal"]


@dataclass
class WorkbookResult:
    """What a workbook import did: ``status`` applied / refused / already, the report, the batches."""

    status: str
    report: WorkbookReport
    batch_ids: list[int] = field(default_factory=list)
    refusal_batch: int | None = None
    merged_clues: int = 0

    def message(self, lang: str = DEFAULT_LANG) -> str:
        r = self.report
        if self.status == "already":
            return r.summary(lang)
        if self.status == "refused":
            return translate("ingest.refused", lang, errors=r.n_errors, batch=self.refusal_batch)
        done = [p.report for p in r.parts if p.report.already_batch is None]
        return translate(
            "ingest.workbook.applied", lang, tables=len(done), batches="、".join(map(str, self.batch_ids)),
            added=sum(x.added for x in done), updated=sum(x.updated for x in done), unchanged=sum(x.unchanged for x in done), skipped=sum(x.skipped for x in done),
        )


def _write(engine: Engine, wr: WorkbookReport, principal: Principal, now: datetime) -> list[int]:
    """The one transaction: each table not yet applied, in the order it was checked."""
    ids: list[int] = []
    members_batch: int | None = None
    with engine.begin() as conn:
        changed = False
        for part in wr.parts:
            r = part.report
            if r.already_batch is not None:
                continue
            batch_id = write_part(conn, r, principal, now, file_name=f"{wr.file_name} › {r.sheet}"[:255])
            if batch_id is not None:
                ids.append(batch_id)
                changed = changed or bool(r.added or r.updated)
                members_batch = batch_id if r.kind == "members" else members_batch
        _keep_roster_sizes(conn, wr, members_batch)
        if wr.lines_new:  # the province's lines the file carries (fanpin's export), over the stored ones of those years
            meta.set_income_lines(conn, {**meta.income_lines(conn), **wr.lines_new})
            detail = {"lines": {str(y): v for y, v in wr.lines_new.items()}, "file": wr.file_name, "sheet": wr.lines_sheet}
            audit.record(conn, principal.actor, "income_line_set", target="import", detail=detail, at=now)
            changed = True
        if changed:
            bump_data_version(conn, **after.changed(p.report for p in wr.parts if p.report.already_batch is None))
    return ids


def _keep_roster_sizes(conn: Connection, wr: WorkbookReport, members_batch: int | None) -> None:
    """The roster's 家庭人口数 holds over the member count a members table refreshes (the national
    system registers the size; a member who died or moved out may still be listed); logged with
    the members batch, so that rolling it back restores the sizes as they were."""
    roster = next((p.report for p in wr.parts if p.kind == "households" and p.report.already_batch is None and p.report.plan is not None), None)
    members = any(p.kind == "members" and p.report.already_batch is None for p in wr.parts)
    if roster is None or not members or "size" not in roster.plan.frame:
        return
    f = roster.plan.frame[roster.plan.frame["size"].notna()]
    if len(f) and members_batch is not None:
        hids = f["household_id"].astype(str).to_numpy()
        undo = UndoLog(conn, members_batch)
        sizes = f["size"].astype(int).to_numpy()
        pending = undo.updating("households", [(h,) for h in hids], ["size"])
        store.update_rows(conn, "households", {"household_id": hids}, {"size": sizes})
        written = pd.DataFrame({"household_id": hids, "size": sizes.astype(np.int64)}).drop_duplicates("household_id", keep="last")
        undo.updated(pending, after=written)  # (the sizes as written: no read back)
        undo.flush()


def apply_workbook(engine: Engine, wr: WorkbookReport, *, principal: Principal, now: datetime | None = None) -> WorkbookResult:
    """Write a passed workbook report in one transaction; a table applied meanwhile (same hash) is
    skipped, and a race on the unique index rolls everything back and reports it."""
    require(principal, "import")
    if wr.already:
        return WorkbookResult("already", wr)
    if not wr.ok:
        raise ValueError("the workbook has errors: it cannot be applied")
    now = (now or datetime.now()).replace(microsecond=0)
    try:
        ids = _write(engine, wr, principal, now)
    except IntegrityError:
        found = False
        for part in wr.parts:
            prior = store.applied_batch(engine, part.report.file_hash)
            if prior is not None and part.report.already_batch is None:
                part.report.already_batch, found = prior, True
        if not found:
            raise
        return WorkbookResult("already", wr)
    if not ids and not wr.lines_new:
        return WorkbookResult("already", wr)
    after.prepared(engine)  # the columnar copy and the baseline's scores: the next page view reads no SQL
    merged = 0
    if any(p.kind == "feeds" and p.report.added and p.report.already_batch is None for p in wr.parts):
        from fanpin.workflow.clues import merge_duplicates

        merged = merge_duplicates(engine)
    return WorkbookResult("applied", wr, ids, merged_clues=merged)


def record_workbook_refusal(engine: Engine, wr: WorkbookReport, *, principal: Principal, now: datetime | None = None) -> int:
    """Log a refused workbook: one ``import_batches`` row (kind workbook, status refused) and an audit entry."""
    require(principal, "import")
    now = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        batch_id = store.insert_batch(conn, store.Batch("workbook", wr.file_name, wr.file_hash, "refused", principal.actor, now, detail=wr.detail()))
        detail = {"kind": "workbook", "file": wr.file_name, "sha256": wr.file_hash, "errors": wr.n_errors}
        audit.record(conn, principal.actor, "import_refused", target=f"batch:{batch_id}", detail=detail, at=now)
    return batch_id


def import_workbook(
    engine: Engine, data: bytes, file_name: str, *, principal: Principal, today: date | None = None, now: datetime | None = None, ignore_columns: bool = False
) -> WorkbookResult:
    """Validate every sheet, then apply all the tables or record the refusal (nothing written)."""
    wr = validate_workbook(engine, data, file_name, principal=principal, today=today, ignore_columns=ignore_columns)
    if wr.already:
        return WorkbookResult("already", wr)
    if not wr.ok:
        return WorkbookResult("refused", wr, refusal_batch=record_workbook_refusal(engine, wr, principal=principal, now=now))
    return apply_workbook(engine, wr, principal=principal, now=now)
