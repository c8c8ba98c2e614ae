"""The monitoring record as the national system holds it (``monitoring_records``): one row per
household, codes only: 监测对象类别, 致贫/返贫风险1-5 and the 因自然灾害 sub-item, 识别监测时间,
风险是否已消除, 风险消除方式, 消除监测时间, 实施开发式帮扶措施情况.  整户无劳动能力兜底保障户 is
``households.no_labour_guarantee``, read beside it.

The import writes it through ``fanpin.store.imports`` (the ``monitoring`` import kind), the
workflow through :func:`write_records` when a case is decided or eliminated, and the register,
the overview, the rules and the national-layout export read it (:func:`records`).  The
append-only history of how a case got there stays in ``monitoring`` (``fanpin.store.monitoring``);
:func:`records_from_history` derives the records from that history (for a county, such as the
demo, whose cases were worked in fanpin before this table existed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from fanpin.store import monitoring as history_store
from fanpin.store.imports import chunks
from fanpin.store.io import bulk_insert
from fanpin.store.schema import assistance, households, monitoring_records

_r = monitoring_records.c
#: The record's columns, in the national system's order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in monitoring_records.columns)
RISK_COLUMNS: tuple[str, ...] = ("risk_1", "risk_2", "risk_3", "risk_4", "risk_5")
#: Measures the national system counts as development-type (开发式帮扶).
DEVELOPMENT_MEASURES: tuple[str, ...] = ("industry", "employment", "finance", "public_welfare_job")


def records(engine: Engine | Connection, household_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The records (all, or of these households) with ``no_labour_guarantee`` from the household,
    ordered by household ID."""
    cols = [*[_r[c] for c in COLUMNS], households.c.no_labour_guarantee]
    stmt = select(*cols).join(households, households.c.household_id == _r.household_id).order_by(_r.household_id)
    names = [*COLUMNS, "no_labour_guarantee"]

    def run(conn: Connection) -> pd.DataFrame:
        if household_ids is None:
            return pd.DataFrame(conn.execute(stmt).fetchall(), columns=names)
        parts = [pd.DataFrame(conn.execute(stmt.where(_r.household_id.in_(list(ch)))).fetchall(), columns=names) for ch in chunks(sorted(set(household_ids)))]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=names)

    if isinstance(engine, Connection):
        return run(engine)
    with engine.connect() as conn:
        return run(conn)


def write_records(conn: Connection, frame: pd.DataFrame, now: datetime | None = None) -> int:
    """Replace the records of the households in ``frame`` (columns among :data:`COLUMNS`; absent
    ones stored empty) inside the caller's transaction; the number written."""
    if frame.empty:
        return 0
    hids = frame["household_id"].astype(str).tolist()
    for ch in chunks(hids):
        conn.execute(delete(monitoring_records).where(_r.household_id.in_(list(ch))))
    stamp = (now or datetime.now()).replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")
    out: dict[str, np.ndarray] = {}
    for c in COLUMNS:
        if c == "updated_at":
            out[c] = np.full(len(frame), stamp, dtype=object)
        elif c == "eliminated":
            out[c] = frame[c].fillna(False).astype(bool).to_numpy() if c in frame else np.zeros(len(frame), dtype=bool)
        elif c in frame:
            s = frame[c].astype(object)
            out[c] = s.where(s.notna(), None).to_numpy(dtype=object)
        else:
            out[c] = np.full(len(frame), None, dtype=object)
    return bulk_insert(conn, monitoring_records, out)


def update_record(conn: Connection, household_id: str, now: datetime | None = None, **fields: object) -> None:
    """Set some fields of one household's record (created when it has none), keeping the others:
    what the workflow calls when a case is decided (category, risks, identified_period) or
    eliminated (eliminated, elimination_method, eliminated_period, development_measures)."""
    unknown = set(fields) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not monitoring record columns: {sorted(unknown)}")
    found = records(conn, [household_id])
    row = found.drop(columns=["no_labour_guarantee"]).iloc[0].to_dict() if len(found) else {"household_id": household_id}
    row.update(fields)
    write_records(conn, pd.DataFrame([row]), now)


def record_inclusion(conn: Connection, household_id: str, category: str | None, risk_types: Sequence[str], period: int, now: datetime | None = None) -> None:
    """A case decided into monitoring in fanpin: category, risks 1-5, 识别监测时间; not eliminated
    (a household included again after an elimination starts a new record)."""
    risks = [str(r) for r in risk_types if r][:5]
    update_record(
        conn, str(household_id), now, monitoring_category=category, **dict(zip(RISK_COLUMNS, risks + [None] * (5 - len(risks)))),
        identified_period=int(period), eliminated=False, elimination_method=None, eliminated_period=None, development_measures=None,
    )


def record_elimination(conn: Connection, household_id: str, method: str, period: int, now: datetime | None = None) -> None:
    """A risk elimination approved in fanpin: 风险消除方式, 消除监测时间 and the development-type
    measures recorded since identification (实施开发式帮扶措施情况)."""
    found = records(conn, [household_id])
    since = found["identified_period"].iloc[0] if len(found) and pd.notna(found["identified_period"].iloc[0]) else 0
    dev = _development(conn, pd.Series({str(household_id): int(since)}))
    update_record(
        conn, str(household_id), now, eliminated=True, elimination_method=method, eliminated_period=int(period),
        development_measures=dev.get(str(household_id)) or None,
    )


def current(conn: Connection) -> pd.DataFrame:
    """The register's records: every household's record, and for a household worked in fanpin
    before this table existed (a history but no record) the record its history gives."""
    have = records(conn)
    derived = records_from_history(conn)
    missing = derived[~derived["household_id"].isin(have["household_id"])]
    if missing.empty:
        return have
    missing = missing.reindex(columns=have.columns)
    return pd.concat([have, missing], ignore_index=True).sort_values("household_id").reset_index(drop=True)


def _risks(text: object) -> list[str | None]:
    codes = [c for c in str(text or "").split(",") if c][:5]
    return codes + [None] * (5 - len(codes))


def _development(conn: Connection, since: pd.Series) -> pd.Series:
    """Per household (index of ``since``): the development-type measures recorded from its identification on."""
    a = assistance.c
    rows = conn.execute(select(a.household_id, a.period, a.measure).where(a.measure.in_(DEVELOPMENT_MEASURES))).fetchall()
    f = pd.DataFrame(rows, columns=["household_id", "period", "measure"])
    f = f[f["household_id"].isin(since.index)]
    f = f[f["period"].to_numpy() >= since.reindex(f["household_id"]).to_numpy()]
    order = {m: i for i, m in enumerate(DEVELOPMENT_MEASURES)}
    return f.groupby("household_id")["measure"].agg(lambda s: ",".join(sorted(set(s), key=order.get)))


def records_from_history(conn: Connection) -> pd.DataFrame:
    """The record of every household in the monitoring history, as of its latest entry: category
    and risks of the inclusion, identification month, elimination (method, month) if approved."""
    h = history_store.history(conn)
    if h.empty:
        return pd.DataFrame(columns=[c for c in COLUMNS if c != "updated_at"])
    h = h.sort_values("record_id")
    included = h[h["status"] == "monitored"]
    first = included.groupby("household_id").first()
    last = h[h["status"].isin(["monitored", "eliminated"])].groupby("household_id").last()
    hids = first.index
    risks = np.array([_risks(t) for t in first["risk_types"]], dtype=object).reshape(-1, 5)
    out = pd.DataFrame({"household_id": hids, "monitoring_category": first["category"].to_numpy()})
    for i, c in enumerate(RISK_COLUMNS):
        out[c] = risks[:, i]
    out["disaster_subitem"] = None
    out["identified_period"] = first["period"].astype(int).to_numpy()
    done = last.reindex(hids)["status"].eq("eliminated").to_numpy()
    out["eliminated"] = done
    out["elimination_method"] = np.where(done, last.reindex(hids)["method"].to_numpy(), None)
    out["eliminated_period"] = np.where(done, last.reindex(hids)["period"].to_numpy(), None)
    dev = _development(conn, first["period"].astype(int))
    out["development_measures"] = dev.reindex(hids).to_numpy()
    return out.reset_index(drop=True)
