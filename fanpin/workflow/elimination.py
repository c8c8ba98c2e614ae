"""Risk elimination (风险消除): the rules and the proposal that opens its case.

A proposal is refused unless the rules hold at the month (income stably above the line for six
months, the large unavoidable spending resolved, not a household without labour capacity).  It
appends a ``proposed`` row to the monitoring history and opens an elimination case, which then
passes the official procedure (``fanpin.workflow.procedure``: village review, notice, township
check, county approval by people other than the proposer); the county's approval eliminates.
One open case per household is enforced by the database, so two proposals made at the same
moment leave one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal, require_household
from fanpin.engine.policies import stored_lines
from fanpin.store import households as household_store
from fanpin.store import monitoring as store
from fanpin.store import monitoring_records as records_store
from fanpin.store.io import shift_period
from fanpin.workflow import procedure
from fanpin.workflow.common import METHODS, WorkflowError, audit_change, check_access, read_scope, stamp_time
from fanpin.workflow.monitoring import early_elimination, identified_period

#: Income must be at or above the month's line for this many consecutive months.
STABLE_MONTHS = 6
#: "Large unavoidable spending resolved": medical out-of-pocket + schooling cost + disaster
#: loss (rolling 12 months) below this share of the household's net income.
SPENDING_SHARE = 0.3
#: 开发式帮扶措施: counties flag 帮扶消除 with none of these recorded.
DEVELOPMENT_MEASURES = records_store.DEVELOPMENT_MEASURES
_COLUMNS = ["household_id", "months_above", "income_ok", "spending", "income_net", "spending_ok", "no_labour", "eligible"]


@dataclass
class Eligibility:
    """Per household: the elimination rules and their outcome."""

    frame: pd.DataFrame  # household_id, months_above, income_ok, spending, income_net, spending_ok, no_labour, eligible

    def row(self, household_id: str) -> dict:
        return self.frame.set_index("household_id").loc[household_id].to_dict()


def _months_above(f: pd.DataFrame, ids: list[str], months: list[int], lines: dict[int, float | None]) -> np.ndarray:
    """Consecutive months at or above the line, counting back from the last of ``months``."""
    above = pd.DataFrame(False, index=ids, columns=months)
    if len(f):
        f = f.assign(above=f["income_pc"].astype(float) >= f["period"].map(lines).astype(float))
        above = f.pivot(index="household_id", columns="period", values="above").reindex(index=ids, columns=months).eq(True)
    return np.cumprod(above.to_numpy()[:, ::-1], axis=1).sum(axis=1)


def elimination_eligibility(
    engine: Engine,
    household_ids: Sequence[str],
    period: int,
    *,
    principal: Principal,
    stable_months: int = STABLE_MONTHS,
    spending_share: float = SPENDING_SHARE,
) -> Eligibility:
    """Risk elimination rules at ``period``: income_pc at or above each month's income line for
    ``stable_months`` consecutive months ending at ``period`` (each month's stored line),
    medical + schooling + disaster spending below ``spending_share`` of net income, and not a
    household with no labour capacity (兜底: stays monitored).  A case worker's townships only."""
    towns = read_scope(principal)
    ids = sorted({str(h) for h in household_ids})
    months = [shift_period(int(period), -k) for k in range(stable_months - 1, -1, -1)]
    with engine.connect() as conn:
        attrs = household_store.attributes(conn, ids)
        if towns is not None:
            attrs = attrs[attrs["township_code"].isin(sorted(towns))]
            inside = set(attrs["household_id"])  # (a set per ID made this 6 s for a case worker at 100k)
            ids = [h for h in ids if h in inside]
        f = store.rule_inputs(conn, ids, months) if ids else pd.DataFrame(columns=list(store.RULE_COLUMNS))
    if not ids:
        return Eligibility(pd.DataFrame(columns=_COLUMNS))
    nolab = dict(zip(attrs["household_id"], attrs["no_labour_guarantee"]))
    lines = stored_lines(engine)  # the one year rule (fanpin.engine.income_line)
    run = _months_above(f, ids, months, {m: lines.stored_at(m) for m in months})
    cur = f[f["period"] == int(period)].set_index("household_id").reindex(ids)
    spending = cur[["medical_oop", "schooling_cost", "disaster_loss"]].astype(float).fillna(0.0).sum(axis=1).to_numpy()
    net = cur["income_net"].astype(float).to_numpy()
    spending_ok = (np.nan_to_num(net, nan=0.0) > 0) & (spending < spending_share * np.nan_to_num(net, nan=0.0))
    no_labour = np.array([bool(nolab.get(h, False)) for h in ids])
    income_ok = run >= stable_months
    return Eligibility(pd.DataFrame({
        "household_id": ids, "months_above": run.astype(int), "income_ok": income_ok, "spending": spending, "income_net": net,
        "spending_ok": spending_ok, "no_labour": no_labour, "eligible": income_ok & spending_ok & ~no_labour,
    }))


def with_eligibility(engine: Engine, reg: pd.DataFrame, period: int, *, principal: Principal) -> tuple[pd.DataFrame, Eligibility]:
    """The register with the elimination rules at ``period`` (months_above, spending_ok, eligible)
    and ``eligible_now``: monitored (no proposal pending) and the rules hold."""
    active = reg[reg["status"] != "eliminated"]["household_id"].tolist()
    elig = elimination_eligibility(engine, active, period, principal=principal)
    out = reg.merge(elig.frame[["household_id", "months_above", "spending_ok", "eligible"]], on="household_id", how="left")
    out["eligible_now"] = out["eligible"].eq(True) & (out["status"] == "monitored")
    return out, elig


def development_measures(engine: Engine, household_id: str, *, principal: Principal) -> list[str]:
    """The development-type assistance measures recorded for a household (empty: flag 帮扶消除);
    refused outside a case worker's townships."""
    read_scope(principal)
    require_household(principal, engine, household_id)
    with engine.connect() as conn:
        return sorted(set(household_store.measures(conn, [household_id], DEVELOPMENT_MEASURES)["measure"]))


def propose_elimination(
    engine: Engine, household_id: str, period: int, method: str, note: str | None = None, now: datetime | None = None,
    *, principal: Principal,
) -> int:
    """Propose eliminating a monitored household's risk; refused unless the rules hold.

    Returns the proposal's record_id; its case (``procedure``) carries it to the county's approval.
    """
    if method not in METHODS:
        raise WorkflowError("bad_method", f"method must be one of {METHODS}")
    check_access(principal, "elimination_propose", engine, household_id)
    at = stamp_time(now)
    elig = elimination_eligibility(engine, [household_id], period, principal=principal).row(household_id)
    if not elig["eligible"]:
        raise WorkflowError("not_eligible", f"household {household_id} does not meet the elimination rules", **elig)
    with engine.begin() as conn:
        last = store.last_record(conn, household_id)
        if last is None or last["status"] != "monitored":
            code = "already_proposed" if last is not None and last["status"] == "proposed" else "not_monitored"
            raise WorkflowError(code, f"household {household_id} is not monitored without a pending proposal")
        rid = store.insert_record(conn, {
            "household_id": household_id, "period": int(period), "status": "proposed", "category": last["category"],
            "risk_types": last["risk_types"], "method": method, "recorded_at": at, "recorded_by": principal.actor,
            "order_id": last["order_id"], "note": note,
        })
        case = procedure.open_case(
            conn, household_id=household_id, kind="elimination", origin="proposal", period=int(period), principal=principal, at=at,
            proposal_id=rid, category=last["category"], risk_types=[r for r in (last["risk_types"] or "").split(",") if r], method=method,
        )
        early = early_elimination(identified_period(store.household_records(conn, household_id).sort_values("record_id")), period)
        detail = {"proposal_id": rid, "case_id": case.case_id, "method": method, "period": int(period), "early": early}
        audit_change(conn, principal, "elimination_proposed", household_id, detail, at)
    return rid
