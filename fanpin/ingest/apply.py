"""Imports with validation: rosters, members, monthly indicators, department feeds, assistance,
department comparison records and officials' relatives.

One job per step, so the page, the command and the tests share them:

* :func:`validate` reads a file (``fanpin.ingest.read``: CSV/.xlsx, UTF-8/BOM/GB18030) and checks
  every cell against the kind's column spec, the database and the rest of the file.  It writes
  nothing.  The result is a :class:`Report`: the problems (row, column, value, message code) and
  the plan (rows to add, to update, unchanged, skipped).
* :func:`apply` writes a passed report in one transaction: the rows, an ``import_batches`` row,
  an audit entry and a new data version (so snapshot caches reload), or nothing at all.
* :func:`import_file` = validate, then apply or record the refusal (``import_batches`` status
  ``refused`` + audit ``import_refused``; the data tables are untouched).  A file whose SHA-256
  was already applied is reported as "already imported in batch N" and nothing is written.

Upserts compare with the stored values, so importing the same rows again (even from a file
with another hash) adds and updates nothing.  An empty cell in an update row keeps the stored
value; a cell that the file leaves empty in a *new* row takes the column's default.  Append-only
kinds (feeds, assistance, department records) skip a row identical to one already stored.

Messages are produced as codes plus parameters and translated at the end
(``fanpin.i18n.translate("ingest.p.<code>", lang, ...)``), so one validation serves zh and en.
Personal values (names, ID numbers, phones) are masked in the report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin.access import audit
from fanpin.access.roles import Principal, require
from fanpin.core.i18n import DEFAULT_LANG, translate
from fanpin.ingest.report import Report
from fanpin.ingest.specs import SPECS, KindSpec, _col_type, _db_value
from fanpin.ingest.validate import _chunks, validate
from fanpin.store import io as sio
from fanpin.store import schema as S

# --------------------------------------------------------------------------- applying


@dataclass
class ImportResult:
    status: str  # applied / refused / already
    report: Report
    batch_id: int | None = None
    merged_clues: int = 0

    def message(self, lang: str = DEFAULT_LANG) -> str:
        if self.status == "already":
            return translate("ingest.p.already_imported", lang, batch=self.report.already_batch)
        if self.status == "refused":
            return translate("ingest.refused", lang, errors=self.report.n_errors, batch=self.batch_id)
        return translate("ingest.applied", lang, batch=self.batch_id, added=self.report.added, updated=self.report.updated, unchanged=self.report.unchanged, skipped=self.report.skipped)


def _apply_upsert(conn: Connection, spec: KindSpec, report: Report, now: datetime) -> set[str]:
    table = S.metadata.tables[spec.table]
    plan = report.plan
    f: pd.DataFrame = plan["frame"]
    cols: list[str] = plan["cols"]
    new = f[plan["new"]]
    touched: set[str] = set()
    if len(new):
        out: dict[str, np.ndarray] = {}
        for c in cols:
            out[c] = _db_value(new[c], _col_type(spec, c))
        for c in spec.columns:
            if c.default is not None:
                vals = out.get(c.name, np.full(len(new), None, dtype=object))
                vals = np.array([c.default if v is None or (isinstance(v, float) and v != v) else v for v in vals], dtype=object)
                out[c.name] = vals
        if spec.kind == "members":
            ids = new["id_number"].astype(str)
            if "sex" not in out or any(v is None for v in out["sex"]):
                from_id = np.where(ids.str[16].astype(int) % 2 == 1, "M", "F").astype(object)
                out["sex"] = np.where([v is None for v in out.get("sex", [None] * len(new))], from_id, out.get("sex", from_id)).astype(object)
            bd = (ids.str[6:10] + "-" + ids.str[10:12] + "-" + ids.str[12:14]).to_numpy(dtype=object)
            out["birth_date"] = np.where([v is None for v in out.get("birth_date", [None] * len(new))], bd, out.get("birth_date", bd)).astype(object)
        if spec.kind == "households":
            for k in ("n_labour", "n_weak_labour", "n_elderly", "n_children", "n_chronic", "n_serious", "n_disabled", "n_students", "n_uninsured"):
                out[k] = np.zeros(len(new), dtype=np.int64)
            if "created_period" not in out or all(v is None for v in out["created_period"]):
                out["created_period"] = np.full(len(new), now.year * 100 + now.month, dtype=np.int64)
        # Panel values a file does not give stay NULL: "not reported", which the scorer handles.
        sio.bulk_insert(conn, table, out)
        if "household_id" in new:
            touched |= set(new["household_id"].dropna().astype(str))
    upd = f[plan["changed"]]
    if len(upd):
        value_cols = [c for c in cols if c not in spec.key]
        stmt = update(table).where(*[table.c[k] == bindparam(f"k_{k}") for k in spec.key]).values(
            {c: func.coalesce(bindparam(f"v_{c}", type_=table.c[c].type), table.c[c]) for c in value_cols}
        )
        vals = {c: _db_value(upd[c], _col_type(spec, c)) for c in cols}
        keyvals = {k: _db_value(upd[k], _col_type(spec, k)) for k in spec.key}
        rows = []
        for i in range(len(upd)):
            r = {f"k_{k}": keyvals[k][i] for k in spec.key}
            for c in value_cols:
                x = vals[c][i]
                if isinstance(x, float) and x != x:
                    x = None
                elif isinstance(x, np.generic):
                    x = x.item()
                r[f"v_{c}"] = x
            for k in spec.key:
                if isinstance(r[f"k_{k}"], np.generic):
                    r[f"k_{k}"] = r[f"k_{k}"].item()
            rows.append(r)
        if spec.kind == "members" and "birth_date" in value_cols:
            for r in rows:
                if r["v_birth_date"] is not None:
                    r["v_birth_date"] = date.fromisoformat(r["v_birth_date"])
        for chunk in _chunks(rows, 20_000):
            conn.execute(stmt, list(chunk))
        if "household_id" in upd:
            touched |= set(upd["household_id"].dropna().astype(str))
    return touched


def _apply_append(conn: Connection, spec: KindSpec, report: Report, batch_id: int, now: datetime) -> None:
    f: pd.DataFrame = report.plan["frame"]
    if not len(f):
        return
    table = S.metadata.tables[spec.table]
    names = {c.name for c in table.columns}
    out = {c: _db_value(f[c], _col_type(spec, c)) for c in report.plan["cols"] if c in names}
    n = len(f)
    if spec.kind == "feeds":
        out["channel"] = np.array(["department" if v is None else v for v in out.get("channel", [None] * n)], dtype=object)
        at = now.strftime("%Y-%m-%d %H:%M:%S")
        out["received_at"] = np.array([at if v is None else v for v in out.get("received_at", [None] * n)], dtype=object)
        out["status"] = np.full(n, "new", dtype=object)
        out.pop("id_number", None)
    if spec.kind == "dept_records":
        out["batch_id"] = np.full(n, batch_id, dtype=np.int64)
    sio.bulk_insert(conn, table, out)


# Member aggregates --------------------------------------------------------


AGGREGATE_COLUMNS: tuple[str, ...] = ("size", "n_labour", "n_weak_labour", "n_elderly", "n_children", "n_chronic", "n_serious", "n_disabled", "n_students", "n_uninsured")
_STUDENT = ("primary", "junior", "senior", "college")


def household_aggregates(members: pd.DataFrame, ref_date: date) -> pd.DataFrame:
    """Per-household member counts, as the demo writes them (``fanpin.demo.build_demo``).

    ``members`` has household_id, birth_date, health, disability, labour_capacity, schooling,
    medical_insurance and optionally deceased_period; members who died are not counted.  Ages
    are whole years at ``ref_date`` (days / 365.25, floored, as the demo draws them).
    """
    m = members
    if "deceased_period" in m:
        m = m[m["deceased_period"].isna()]
    birth = pd.to_datetime(m["birth_date"]).to_numpy(dtype="datetime64[D]")
    age = np.floor((np.datetime64(ref_date, "D") - birth).astype(np.int64) / 365.25)
    hid = m["household_id"].astype(str).to_numpy()
    flags = pd.DataFrame(
        {
            "household_id": hid,
            "size": 1,
            "n_labour": (m["labour_capacity"] == "normal").to_numpy(),
            "n_weak_labour": (m["labour_capacity"] == "weak").to_numpy(),
            "n_elderly": age >= 65,
            "n_children": age < 16,
            "n_chronic": (m["health"] == "chronic").to_numpy(),
            "n_serious": (m["health"] == "serious").to_numpy(),
            "n_disabled": (pd.to_numeric(m["disability"]).fillna(0) > 0).to_numpy(),
            "n_students": m["schooling"].isin(_STUDENT).to_numpy(),
            "n_uninsured": ~m["medical_insurance"].astype(bool).to_numpy(),
        }
    )
    return flags.groupby("household_id", sort=True)[list(AGGREGATE_COLUMNS)].sum().astype(np.int64)


def aggregate_reference_date(conn: Connection) -> date:
    """The 15th of the newest panel month (the demo's age reference), today without a panel."""
    p = conn.execute(select(func.max(S.panel.c.period))).scalar()
    if p is None:
        return date.today()
    return date(int(p) // 100, int(p) % 100, 15)


def refresh_aggregates(conn: Connection, household_ids: Sequence[str]) -> int:
    """Recompute the member aggregates of these households inside the caller's transaction."""
    hids = sorted(set(household_ids))
    if not hids:
        return 0
    m = S.members.c
    cols = [m.household_id, m.birth_date, m.health, m.disability, m.labour_capacity, m.schooling, m.medical_insurance, m.deceased_period]
    parts = [pd.DataFrame(conn.execute(select(*cols).where(m.household_id.in_(list(ch)))).fetchall(), columns=[c.name for c in cols]) for ch in _chunks(hids)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c.name for c in cols])
    agg = household_aggregates(frame, aggregate_reference_date(conn)) if len(frame) else pd.DataFrame(columns=list(AGGREGATE_COLUMNS))
    agg = agg.reindex(hids).fillna(0).astype(np.int64)
    h = S.households.c
    stmt = update(S.households).where(h.household_id == bindparam("hid")).values({c: bindparam(f"a_{c}") for c in AGGREGATE_COLUMNS})
    rows = [{"hid": hid, **{f"a_{c}": int(v) for c, v in zip(AGGREGATE_COLUMNS, vals)}} for hid, vals in zip(agg.index, agg.to_numpy().tolist())]
    for chunk in _chunks(rows, 20_000):
        conn.execute(stmt, list(chunk))
    return len(rows)


def apply(engine: Engine, report: Report, actor: str, *, now: datetime | None = None, principal: Principal | None = None) -> ImportResult:
    """Write a passed report in one transaction (rows, batch, audit, data version).  With a
    ``principal`` (the app) only roles allowed to import may (the CLI runs as the machine's operator)."""
    if principal is not None:
        require(principal, "import")
    if report.already_batch is not None:
        return ImportResult("already", report)
    if not report.ok:
        raise ValueError("the report has errors: it cannot be applied")
    now = (now or datetime.now()).replace(microsecond=0)
    spec = SPECS[report.kind]
    try:
        batch_id = _apply_batch(engine, spec, report, actor, now)
    except IntegrityError:
        # Another import applied the same file between our check and our write: the unique
        # index on applied file hashes refused ours, and the whole transaction rolled back.
        with engine.connect() as conn:
            prior = conn.execute(_applied_batch(report.file_hash)).first()
        if prior is None:
            raise
        report.already_batch = int(prior[0])
        return ImportResult("already", report)
    if batch_id is None:
        return ImportResult("already", report)
    merged = 0
    if spec.kind == "feeds" and report.added:
        from fanpin.workflow.clues import merge_duplicates

        merged = merge_duplicates(engine)
    return ImportResult("applied", report, batch_id, merged)


def _applied_batch(file_hash: str):  # noqa: ANN202
    b = S.import_batches.c
    return select(b.batch_id).where(b.file_hash == file_hash, b.status == "applied").order_by(b.batch_id).limit(1)


def _apply_batch(engine: Engine, spec, report: Report, actor: str, now: datetime) -> int | None:  # noqa: ANN001
    """The write transaction of ``apply``; None when the file was applied since validation."""
    with engine.begin() as conn:
        prior = conn.execute(_applied_batch(report.file_hash)).first()
        if prior is not None:  # applied by someone else since validation
            report.already_batch = int(prior[0])
            return None
        res = conn.execute(
            insert(S.import_batches).values(
                kind=report.kind, file_name=report.file_name[:255], file_hash=report.file_hash, rows_added=report.added, rows_updated=report.updated,
                imported_at=now, imported_by=actor[:64], status="applied", detail=json.dumps(report.detail(), ensure_ascii=False),
            )
        )
        batch_id = int(res.inserted_primary_key[0])
        if spec.key:
            touched = _apply_upsert(conn, spec, report, now)
            if spec.kind == "members":
                refresh_aggregates(conn, sorted(touched))
        else:
            _apply_append(conn, spec, report, batch_id, now)
        audit.record(conn, actor, "import", target=f"batch:{batch_id}", detail={"kind": report.kind, "file": report.file_name, "sha256": report.file_hash, "added": report.added, "updated": report.updated, "unchanged": report.unchanged, "skipped": report.skipped}, at=now)
        if report.added or report.updated:
            sio.bump_data_version(conn)
    return batch_id


def record_refusal(engine: Engine, report: Report, actor: str, *, now: datetime | None = None) -> int:
    """Log a refused file: an ``import_batches`` row (status refused) and an audit entry."""
    now = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        res = conn.execute(
            insert(S.import_batches).values(
                kind=report.kind, file_name=report.file_name[:255], file_hash=report.file_hash, rows_added=0, rows_updated=0,
                imported_at=now, imported_by=actor[:64], status="refused", detail=json.dumps(report.detail(), ensure_ascii=False),
            )
        )
        batch_id = int(res.inserted_primary_key[0])
        audit.record(conn, actor, "import_refused", target=f"batch:{batch_id}", detail={"kind": report.kind, "file": report.file_name, "sha256": report.file_hash, "errors": report.n_errors}, at=now)
    return batch_id


def import_file(
    engine: Engine, kind: str, data: bytes, file_name: str, actor: str, *, today: date | None = None, now: datetime | None = None, principal: Principal | None = None
) -> ImportResult:
    """Validate, then apply, or record the refusal; see the module docstring."""
    if principal is not None:
        require(principal, "import")
    report = validate(engine, kind, data, file_name, today=today)
    if report.already_batch is not None:
        return ImportResult("already", report)
    if not report.ok:
        return ImportResult("refused", report, record_refusal(engine, report, actor, now=now))
    return apply(engine, report, actor, now=now, principal=principal)


def recent_batches(engine: Engine, limit: int = 20) -> pd.DataFrame:
    b = S.import_batches.c
    q = select(b.batch_id, b.kind, b.file_name, b.status, b.rows_added, b.rows_updated, b.imported_at, b.imported_by, b.file_hash).order_by(b.batch_id.desc()).limit(limit)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).fetchall(), columns=[c.name for c in q.selected_columns])
