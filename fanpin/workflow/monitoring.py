"""The monitoring record and register (监测台账): who is monitored, since when and why, and the
history of inclusion and elimination.

``monitoring`` is append-only: an inclusion, a proposal, its approval or rejection are each a
new row (``fanpin.store.monitoring``); the register is the latest row per household.  Risk
elimination itself (the rules, proposal and approval) is ``fanpin.workflow.elimination``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from fanpin.access.roles import Principal
from fanpin.engine.scoring import TIERS
from fanpin.store import households as household_store
from fanpin.store import monitoring as store
from fanpin.store import monitoring_records as records_store
from fanpin.store.io import shift_period
from fanpin.workflow.common import read_scope

#: Monitoring statuses (labels: locale ``monitoring_status.<code>``).
MONITORING_STATUSES = ("monitored", "proposed", "eliminated")
REGISTER_COLUMNS = (
    "household_id", "township_code", "household_type", "status", "since", "eliminated_period", "category", "risk_types", "measures",
    "n_measures", "no_labour_guarantee", "proposal_id", "method", "proposed_by", "score", "tier",
)


def monitoring_history(engine: Engine, household_id: str | None = None, *, principal: Principal) -> pd.DataFrame:
    """Every monitoring record (of one household, or all), oldest first; a case worker's townships only."""
    return store.history(engine, household_id, read_scope(principal))


def _with_measures(out: pd.DataFrame, assist: pd.DataFrame) -> pd.DataFrame:
    """``measures`` ("health,industry") and ``n_measures`` per household."""
    if len(assist):
        g = assist.groupby("household_id")["measure"]
        out["measures"] = out["household_id"].map(g.agg(lambda s: ",".join(sorted(set(s)))))
        out["n_measures"] = out["household_id"].map(g.size()).fillna(0).astype(int)
    else:
        out["measures"], out["n_measures"] = None, 0
    return out


def _with_scores(out: pd.DataFrame, panel, period: int | None) -> pd.DataFrame:  # noqa: ANN001 - PanelScores or None
    """The month's ``score`` and ``tier`` from the scored panel (the last month without ``period``)."""
    out["score"], out["tier"] = np.nan, None
    if panel is None or not len(out):
        return out
    j = panel.col(period) if period is not None else len(panel.periods) - 1
    ids = out["household_id"].to_numpy().astype(str)
    rows = np.clip(np.searchsorted(panel.household_ids, ids), 0, max(len(panel.household_ids) - 1, 0))
    found = panel.household_ids[rows] == ids
    out["score"] = np.where(found, panel.score[rows, j], np.nan).round(2)
    out["tier"] = [TIERS[k] if ok and k >= 0 else None for k, ok in zip(panel.tier[rows, j], found)]
    return out


def _register_rows(conn: Connection, towns: frozenset[str] | None, include_eliminated: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One register for imported and in-app cases: each household's national record
    (``monitoring_records``: category, risks 1-5, identified and eliminated months), with a pending
    elimination proposal from the history laid over it; the household's attributes; its assistance."""
    rec = records_store.current(conn)
    risks = rec[list(records_store.RISK_COLUMNS)].astype(object)
    out = pd.DataFrame({
        "household_id": rec["household_id"].astype(str),
        "status": np.where(rec["eliminated"].fillna(False).astype(bool), "eliminated", "monitored"),
        "since": pd.to_numeric(rec["identified_period"], errors="coerce").astype("Int64"),
        "eliminated_period": pd.to_numeric(rec["eliminated_period"], errors="coerce").astype("Int64"),
        "category": rec["monitoring_category"].to_numpy(dtype=object),
        "risk_types": [",".join(str(r) for r in row if r is not None and r == r) or None for row in risks.itertuples(index=False)],
        "method": rec["elimination_method"].to_numpy(dtype=object),
    })
    last = store.latest_records(conn)
    pending = last[last["status"] == "proposed"].set_index("household_id")
    waiting = out["household_id"].isin(pending.index) & (out["status"] == "monitored")
    hid = out.loc[waiting, "household_id"]
    out.loc[waiting, "status"] = "proposed"
    out["proposal_id"] = hid.map(pending["record_id"]).reindex(out.index)
    out["proposed_by"] = hid.map(pending["recorded_by"]).reindex(out.index)
    out.loc[waiting, "method"] = hid.map(pending["method"])
    if not include_eliminated:
        out = out[out["status"] != "eliminated"]
    hh = household_store.attributes(conn, out["household_id"].tolist())
    if towns is not None:
        hh = hh[hh["township_code"].isin(sorted(towns))]
    out = out.merge(hh, on="household_id", how="inner" if towns is not None else "left")
    return out, household_store.measures(conn, out["household_id"].tolist())


def register(engine: Engine, panel=None, period: int | None = None, include_eliminated: bool = False, *, principal: Principal) -> pd.DataFrame:  # noqa: ANN001 - PanelScores
    """Who is monitored (or has a pending elimination proposal), since when, category, risk types,
    assistance measures, and the latest score and tier from ``panel`` (PanelScores) if given.
    With ``include_eliminated`` also the households whose risk was eliminated.  Imported records
    and cases decided in fanpin are one register.  A case worker's townships only."""
    towns = read_scope(principal)
    with engine.connect() as conn:
        out, assist = _register_rows(conn, towns, include_eliminated)
    if out.empty:
        return pd.DataFrame(columns=list(REGISTER_COLUMNS))
    out = _with_scores(_with_measures(out, assist), panel, period)
    return out[list(REGISTER_COLUMNS)].sort_values("household_id").reset_index(drop=True)


def identified_period(history: pd.DataFrame) -> int | None:
    """The month the household's current monitoring began (None: not monitored now), from its
    records oldest first."""
    start = None
    for per, status in zip(history["period"], history["status"]):  # one household's short history
        if status == "eliminated":
            start = None
        elif status == "monitored" and start is None:
            start = int(per)
    return start


#: Counties flag an elimination within this many months of identification (the supervision rule
#: ``eliminated_too_fast`` reads the same number).
EARLY_MONTHS = 2


def early_elimination(identified: int | None, eliminated: int) -> bool:
    """Flag: elimination within ``EARLY_MONTHS`` of identification (same month up to two after)."""
    return identified is not None and int(eliminated) <= shift_period(int(identified), EARLY_MONTHS)


def early_eliminations(engine: Engine, *, principal: Principal) -> pd.DataFrame:
    """Eliminated (or proposed) households whose elimination month is within two months of identification."""
    h = monitoring_history(engine, principal=principal)
    cols = ["household_id", "identified", "eliminated", "status"]
    if h.empty:
        return pd.DataFrame(columns=cols)
    return early_rows(h)[cols].drop_duplicates(["household_id", "identified"], keep="last").reset_index(drop=True)


def early_rows(h: pd.DataFrame) -> pd.DataFrame:
    """The proposals and eliminations of a monitoring history (oldest first per household) that come
    within ``EARLY_MONTHS`` of their identification: the first ``monitored`` record since the
    household's last elimination.  Vectorised over households (a loop over a county's thousands
    of monitored households took 1.6 s); ``identified`` and ``eliminated`` are months."""
    h = h.sort_values("household_id", kind="stable").reset_index(drop=True)  # each household's records keep their order
    hid, status, period = h["household_id"], h["status"], h["period"].astype(np.int64)
    eliminated = status.eq("eliminated")
    spell = eliminated.groupby(hid).cumsum() - eliminated  # eliminations before the record: its monitoring spell
    pos = pd.Series(np.arange(len(h), dtype=np.float64))
    monitored = status.eq("monitored")
    first = pos.where(monitored).groupby([hid, spell]).transform("min")  # the spell's first monitored record
    start = period.where(monitored).groupby([hid, spell]).transform("first")
    y, m = np.divmod(start.to_numpy(dtype=np.float64), 100)
    late = y * 12 + (m - 1) + EARLY_MONTHS  # shift_period(start, EARLY_MONTHS) as a month count
    flagged = status.isin(["proposed", "eliminated"]) & (first < pos) & (period.to_numpy() // 100 * 12 + period.to_numpy() % 100 - 1 <= late)
    out = h.loc[flagged.to_numpy(), ["household_id", "status"]].assign(identified=start[flagged].astype(np.int64), eliminated=period[flagged])
    return out.reset_index(drop=True)
