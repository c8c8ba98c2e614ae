"""The monitoring record and register (监测台账): inclusion history, risk-elimination eligibility, proposal and second-person approval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin.access.roles import Principal, require_household
from fanpin.engine.policies import income_line_for
from fanpin.engine.scoring import TIERS
from fanpin.store import schema as S
from fanpin.store.io import shift_period
from fanpin.workflow.common import METHODS, WorkflowError, _audit, _check, _now

#: Income must be at or above the month's line for this many consecutive months.
STABLE_MONTHS = 6
#: "Large unavoidable spending resolved": medical out-of-pocket + schooling cost + disaster
#: loss (rolling 12 months) below this share of the household's net income.
SPENDING_SHARE = 0.3


# --------------------------------------------------------------------------- monitoring register


def _latest_records(conn: Connection) -> pd.DataFrame:
    m = S.monitoring.c
    latest = select(m.household_id, func.max(m.record_id).label("rid")).group_by(m.household_id).subquery()
    q = select(S.monitoring).join(latest, and_(latest.c.rid == m.record_id))
    return pd.DataFrame(conn.execute(q).fetchall(), columns=[c.name for c in S.monitoring.columns])


def monitoring_history(engine: Engine, household_id: str | None = None, principal: Principal | None = None) -> pd.DataFrame:
    q = select(S.monitoring).order_by(S.monitoring.c.record_id)
    if household_id:
        q = q.where(S.monitoring.c.household_id == household_id)
    if principal is not None and principal.townships is not None:
        inside = select(S.households.c.household_id).where(S.households.c.township_code.in_(sorted(principal.townships)))
        q = q.where(S.monitoring.c.household_id.in_(inside))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).fetchall(), columns=[c.name for c in S.monitoring.columns])


def register(engine: Engine, panel=None, period: int | None = None, include_eliminated: bool = False, principal: Principal | None = None) -> pd.DataFrame:  # noqa: ANN001
    """Who is monitored (or has a pending elimination proposal), since when, category, risk types,
    assistance measures, and the latest score and tier from ``panel`` (PanelScores) if given.
    A case worker's townships only."""
    with engine.connect() as conn:
        last = _latest_records(conn)
        hist = pd.DataFrame(conn.execute(select(S.monitoring.c.household_id, S.monitoring.c.period, S.monitoring.c.status, S.monitoring.c.record_id)).fetchall(), columns=["household_id", "period", "status", "record_id"])
        a = S.assistance.c
        ids = last["household_id"].tolist()
        assist = pd.DataFrame(conn.execute(select(a.household_id, a.measure, a.period).where(a.household_id.in_(ids))).fetchall(), columns=["household_id", "measure", "period"]) if ids else pd.DataFrame(columns=["household_id", "measure", "period"])
        hh = pd.DataFrame(conn.execute(select(S.households.c.household_id, S.households.c.township_code, S.households.c.household_type, S.households.c.no_labour_guarantee).where(S.households.c.household_id.in_(ids))).fetchall(), columns=["household_id", "township_code", "household_type", "no_labour_guarantee"]) if ids else None
    cols = ["household_id", "township_code", "household_type", "status", "since", "category", "risk_types", "measures", "n_measures", "no_labour_guarantee", "proposal_id", "method", "proposed_by", "score", "tier"]
    if last.empty:
        return pd.DataFrame(columns=cols)
    if not include_eliminated:
        last = last[last["status"] != "eliminated"]
    if principal is not None and principal.townships is not None:
        inside = hh is not None and hh["township_code"].isin(sorted(principal.townships))
        keep = set(hh.loc[inside, "household_id"]) if hh is not None else set()
        last = last[last["household_id"].isin(keep)]
    # "since": the first "monitored" month after the household's last elimination.
    hist = hist.sort_values("record_id")
    elim = hist[hist["status"] == "eliminated"].groupby("household_id")["record_id"].max()
    hist["after"] = hist["record_id"] > hist["household_id"].map(elim).fillna(-1)
    since = hist[hist["after"] & (hist["status"] == "monitored")].groupby("household_id")["period"].min()
    # category / risk types: the last "monitored" row (proposal rows copy them)
    out = last.rename(columns={"record_id": "proposal_id_"}).merge(hh, on="household_id", how="left")
    out["since"] = out["household_id"].map(since)
    out["proposal_id"] = np.where(out["status"] == "proposed", out["proposal_id_"], np.nan)
    out["proposed_by"] = np.where(out["status"] == "proposed", out["recorded_by"], None)
    out["method"] = np.where(out["status"] == "proposed", out["method"], None)
    if len(assist):
        g = assist.groupby("household_id")["measure"]
        out["measures"] = out["household_id"].map(g.agg(lambda s: ",".join(sorted(set(s)))))
        out["n_measures"] = out["household_id"].map(g.size()).fillna(0).astype(int)
    else:
        out["measures"], out["n_measures"] = None, 0
    out["score"], out["tier"] = np.nan, None
    if panel is not None and len(out):
        j = panel.col(period) if period is not None else len(panel.periods) - 1
        rows = np.searchsorted(panel.household_ids, out["household_id"].to_numpy().astype(str))
        rows = np.clip(rows, 0, max(len(panel.household_ids) - 1, 0))
        found = panel.household_ids[rows] == out["household_id"].to_numpy().astype(str)
        out["score"] = np.where(found, panel.score[rows, j], np.nan).round(2)
        t = panel.tier[rows, j]
        out["tier"] = [TIERS[k] if ok and k >= 0 else None for k, ok in zip(t, found)]
    return out[cols].sort_values("household_id").reset_index(drop=True)


@dataclass
class Eligibility:
    """Per household: the elimination rules and their outcome."""

    frame: pd.DataFrame  # household_id, months_above, income_ok, spending, income_net, spending_ok, no_labour, eligible

    def row(self, household_id: str) -> dict:
        return self.frame.set_index("household_id").loc[household_id].to_dict()


def elimination_eligibility(
    engine: Engine,
    household_ids: Sequence[str],
    period: int,
    *,
    stable_months: int = STABLE_MONTHS,
    spending_share: float = SPENDING_SHARE,
) -> Eligibility:
    """Risk elimination rules at ``period``: income_pc at or above each month's income line for
    ``stable_months`` consecutive months ending at ``period`` (fanpin.policies.income_line_for per
    month), medical + schooling + disaster spending below ``spending_share`` of net income, and not a
    household with no labour capacity (兜底: stays monitored)."""
    ids = sorted({str(h) for h in household_ids})
    cols = ["household_id", "months_above", "income_ok", "spending", "income_net", "spending_ok", "no_labour", "eligible"]
    if not ids:
        return Eligibility(pd.DataFrame(columns=cols))
    months = [shift_period(int(period), -k) for k in range(stable_months - 1, -1, -1)]
    p = S.panel.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.household_id, p.period, p.income_pc, p.income_net, p.medical_oop, p.schooling_cost, p.disaster_loss).where(p.household_id.in_(ids), p.period.in_(months))
        ).fetchall()
        nolab = dict(conn.execute(select(S.households.c.household_id, S.households.c.no_labour_guarantee).where(S.households.c.household_id.in_(ids))).fetchall())
    lines = {m: income_line_for(engine, m) for m in months}
    f = pd.DataFrame(rows, columns=["household_id", "period", "income_pc", "income_net", "medical_oop", "schooling_cost", "disaster_loss"])
    above = pd.DataFrame(False, index=ids, columns=months)
    if len(f):
        f["line"] = f["period"].map(lines).astype(float)
        f["above"] = f["income_pc"] >= f["line"]
        wide = f.pivot(index="household_id", columns="period", values="above").reindex(index=ids, columns=months)
        above = wide.eq(True)
    # consecutive months at or above the line, counting back from ``period``
    run = np.cumprod(above.to_numpy()[:, ::-1], axis=1).sum(axis=1)
    cur = f[f["period"] == int(period)].set_index("household_id").reindex(ids) if len(f) else pd.DataFrame(index=ids, columns=["income_net", "medical_oop", "schooling_cost", "disaster_loss"])
    spending = cur[["medical_oop", "schooling_cost", "disaster_loss"]].astype(float).fillna(0.0).sum(axis=1).to_numpy()
    net = cur["income_net"].astype(float).to_numpy()
    spending_ok = np.nan_to_num(net, nan=0.0) > 0
    spending_ok &= spending < spending_share * np.nan_to_num(net, nan=0.0)
    no_labour = np.array([bool(nolab.get(h, False)) for h in ids])
    income_ok = run >= stable_months
    out = pd.DataFrame({
        "household_id": ids, "months_above": run.astype(int), "income_ok": income_ok, "spending": spending, "income_net": net,
        "spending_ok": spending_ok, "no_labour": no_labour, "eligible": income_ok & spending_ok & ~no_labour,
    })
    return Eligibility(out)


#: 开发式帮扶措施: counties flag 帮扶消除 with none of these recorded.
DEVELOPMENT_MEASURES = ("industry", "employment", "finance", "public_welfare_job")


def development_measures(engine: Engine, household_id: str) -> list[str]:
    """The development-type assistance measures recorded for a household (empty: flag 帮扶消除)."""
    a = S.assistance.c
    with engine.connect() as conn:
        rows = conn.execute(select(a.measure).where(a.household_id == household_id, a.measure.in_(DEVELOPMENT_MEASURES)).distinct())
        return sorted(r[0] for r in rows)


def _identified_period(conn: Connection, household_id: str) -> int | None:
    m = S.monitoring.c
    rows = conn.execute(select(m.period, m.status).where(m.household_id == household_id).order_by(m.record_id)).fetchall()
    start = None
    for per, status in rows:  # one household's short history
        if status == "eliminated":
            start = None
        elif status == "monitored" and start is None:
            start = int(per)
    return start


def early_elimination(identified: int | None, eliminated: int) -> bool:
    """Flag: elimination in the same or the next month as identification."""
    return identified is not None and int(eliminated) <= shift_period(int(identified), 1)


def propose_elimination(
    engine: Engine, household_id: str, period: int, method: str, actor: str, note: str | None = None, now: datetime | None = None,
    *, principal: Principal | None = None,
) -> int:
    """Propose eliminating a monitored household's risk; refused unless the rules hold.

    Returns the proposal's record_id.  A second person approves (``approve_elimination``).
    """
    if method not in METHODS:
        raise WorkflowError("bad_method", f"method must be one of {METHODS}")
    if principal is not None:
        require_household(principal, engine, household_id, "elimination_propose")
    at = _now(now)
    elig = elimination_eligibility(engine, [household_id], period).row(household_id)
    if not elig["eligible"]:
        raise WorkflowError("not_eligible", f"household {household_id} does not meet the elimination rules", **elig)
    with engine.begin() as conn:
        last = conn.execute(select(S.monitoring).where(S.monitoring.c.household_id == household_id).order_by(S.monitoring.c.record_id.desc()).limit(1)).mappings().first()
        if last is None or last["status"] != "monitored":
            code = "already_proposed" if last is not None and last["status"] == "proposed" else "not_monitored"
            raise WorkflowError(code, f"household {household_id} is not monitored without a pending proposal")
        res = conn.execute(
            insert(S.monitoring).values(
                household_id=household_id, period=int(period), status="proposed", category=last["category"], risk_types=last["risk_types"],
                method=method, recorded_at=at, recorded_by=actor, order_id=last["order_id"], note=note,
            )
        )
        rid = int(res.inserted_primary_key[0])
        early = early_elimination(_identified_period(conn, household_id), period)
        _audit(conn, actor, "elimination_proposed", household_id, {"proposal_id": rid, "method": method, "period": int(period), "early": early}, at)
    return rid


def _resolve(engine: Engine, proposal_id: int, actor: str, approve: bool, note: str | None, now: datetime | None, principal: Principal | None = None) -> int:
    at = _now(now)
    m = S.monitoring.c
    with engine.begin() as conn:
        prop = conn.execute(select(S.monitoring).where(m.record_id == int(proposal_id))).mappings().first()
        if prop is None or prop["status"] != "proposed":
            raise WorkflowError("no_proposal", f"no elimination proposal {proposal_id}")
        _check(principal, "elimination_approve", conn, prop["household_id"])
        if approve and prop["recorded_by"] == actor:
            raise WorkflowError("self_approval", "the proposer cannot approve their own proposal; a second person must", proposer=actor)
        latest = conn.execute(select(func.max(m.record_id)).where(m.household_id == prop["household_id"])).scalar()
        if latest != int(proposal_id):
            raise WorkflowError("already_resolved", f"proposal {proposal_id} was already approved or rejected; reload")
        try:
            res = conn.execute(
                insert(S.monitoring).values(
                    household_id=prop["household_id"], period=prop["period"], status="eliminated" if approve else "monitored", category=prop["category"],
                    risk_types=prop["risk_types"], method=prop["method"] if approve else None, recorded_at=at, recorded_by=prop["recorded_by"] if approve else actor,
                    approved_by=actor if approve else None, order_id=prop["order_id"], proposal_id=int(proposal_id), note=note,
                )
            )
        except IntegrityError as exc:  # a concurrent approval/rejection won the unique proposal_id
            raise WorkflowError("already_resolved", f"proposal {proposal_id} was already approved or rejected; reload") from exc
        rid = int(res.inserted_primary_key[0])
        _audit(conn, actor, "elimination_approved" if approve else "elimination_rejected", prop["household_id"],
               {"proposal_id": int(proposal_id), "method": prop["method"], "proposer": prop["recorded_by"], "note": note}, at)
    return rid


def approve_elimination(
    engine: Engine, proposal_id: int, approver: str, note: str | None = None, now: datetime | None = None, *, principal: Principal | None = None
) -> int:
    """A second person approves: appends an ``eliminated`` row (approver != proposer)."""
    return _resolve(engine, proposal_id, approver, True, note, now, principal)


def reject_elimination(
    engine: Engine, proposal_id: int, actor: str, note: str | None = None, now: datetime | None = None, *, principal: Principal | None = None
) -> int:
    """Reject a proposal: the household stays monitored (a new ``monitored`` row)."""
    return _resolve(engine, proposal_id, actor, False, note, now, principal)


def early_eliminations(engine: Engine, principal: Principal | None = None) -> pd.DataFrame:
    """Eliminated (or proposed) households whose elimination month is the same or next month as identification."""
    h = monitoring_history(engine, principal=principal)
    if h.empty:
        return pd.DataFrame(columns=["household_id", "identified", "eliminated", "status"])
    out = []
    for hid, g in h.groupby("household_id", sort=True):  # per monitored household: small
        start = None
        for r in g.itertuples():
            if r.status == "monitored" and start is None:
                start = int(r.period)
            elif r.status in ("proposed", "eliminated"):
                if early_elimination(start, r.period):
                    out.append({"household_id": hid, "identified": start, "eliminated": int(r.period), "status": r.status})
                if r.status == "eliminated":
                    start = None
    return pd.DataFrame(out, columns=["household_id", "identified", "eliminated", "status"]).drop_duplicates(["household_id", "identified"], keep="last")
