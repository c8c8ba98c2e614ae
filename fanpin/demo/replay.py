"""Replay the demo county's monitoring work, so the county opens with work under way.

A real bureau never starts from an empty register: clues have been turned into
verification orders, most decided within the 15 days, some late, some still open;
households have been identified as monitored (监测对象) and some of them, once their
income held above the line for six months, eliminated (风险消除), each through the official
procedure (village review, notice, township check, county approval).  ``seed_workflow`` writes
exactly that history, month by month, through the real workflow functions (``create_order``,
``start_verification``, ``decide_order``, ``propose_elimination`` and the steps of
``fanpin.workflow.procedure`` with ``now=`` timestamps inside the demo's months), so every row
(orders and their versions, cases and steps, monitoring, audit) is what the app itself would have
written; cases opened near the end stop at the step they have reached.  The system acts
(``SYSTEM``'s rights) under the names of the demo's people (``cw_<township>``, ``tl_<township>``,
``leader_demo``), so the who/when columns and the rule that each step is someone else's read as a
real county's would.

Who gets an order and what is decided is chosen vectorised from the clues and the
panel (households below or near the line at the clue's month are included); only the
few hundred chosen orders are then replayed one call at a time, in time order.  No
elimination falls in the same or the next month as identification: those are the
supervision rule ``eliminated_too_fast``, planted separately by ``demo_plant``.
It has its own random stream, so the rest of the county does not change with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import SYSTEM, Principal
from fanpin.engine.income_line import IncomeLine
from fanpin.store import cases as case_store
from fanpin.store import clues as clue_store
from fanpin.store import households as household_store
from fanpin.store import monitoring as monitoring_store
from fanpin.store.io import shift_period
from fanpin.store.regions import load_regions
from fanpin.workflow import common, elimination, monitoring, orders, procedure

#: Orders over the demo's months per household (the default 20k county: about 400).
ORDER_SHARE = 0.02
MIN_ORDERS, MAX_ORDERS = 24, 4_000
#: Share of orders about households at risk at the clue's month (decided "included").
INCLUDED_SHARE = 0.55
#: "Near the line": income per person under this multiple of the month's line.
NEAR_LINE = 1.2
#: Share of the included chosen among households whose income later recovers (so eliminations exist).
RECOVER_SHARE = 0.4
#: Share of orders decided after the 15 days (when not still open).
LATE_SHARE = 0.12
#: Share of orders whose clue is in the last two months (half of them still undecided).
RECENT_SHARE = 0.08
#: Share of orders handed to the department that sent the clue.
DEPARTMENT_SHARE = 0.12
#: Share of eligible monitored households whose elimination is proposed (and approved).
ELIMINATION_SHARE = 0.7
#: Elimination no sooner than this many months after identification (the rule flags 0, 1 and 2).
MIN_ELIMINATION_GAP = 3
LEADER = "leader_demo"

_CHUNK = 1_000
_RISK_ORDER = {r: i for i, r in enumerate(common.RISK_TYPES)}
_NOTE = "收入连续6个月稳定高于监测线"
_REASON = "入户核查：人均纯收入高于监测线，无大额刚性支出"
_MEETING = "村民代表会议记录（评议通过）"
_NOTICE = "村务公开栏公示"
_ANNOUNCEMENT = "县乡村振兴局公告"


def _actors(engine: Engine) -> dict[str, str]:
    """Township code -> case-worker account name ``cw_<short English name>`` (unique)."""
    towns = load_regions(engine)
    towns = towns[towns["level"] == "township"]
    out: dict[str, str] = {}
    for code, name_en in zip(towns["region_code"], towns["name_en"]):
        stem = re.sub(r"[^a-z0-9]+", "", (name_en or "").rsplit(" ", 1)[0].lower()) or str(code)[-3:]
        name = f"cw_{stem}"
        if name in out.values():
            name = f"{name}{str(code)[-3:]}"
        out[str(code)] = name
    return out


def _as(name: str) -> Principal:
    """The system acting under a demo person's name (the audit log and who/when columns say ``name``)."""
    return replace(SYSTEM, username=name)


def _groups(engine: Engine, spec) -> pd.DataFrame:  # noqa: ANN001 - DemoSpec
    """Open clues grouped per (household, month), with the household and the month's panel row."""
    f = clue_store.new_clues_with_panel(engine, int(spec.periods[-1]))
    if f.empty:
        return f
    f["received_at"] = pd.to_datetime(f["received_at"])
    g = f.groupby(["household_id", "period"], sort=True)
    out = g.first().drop(columns=["clue_id", "risk_type", "received_at"])
    out["clue_ids"] = g["clue_id"].agg(lambda s: sorted(int(x) for x in s))
    out["risks"] = g["risk_type"].agg(lambda s: sorted(set(s), key=_RISK_ORDER.get))
    out["first_at"] = g["received_at"].min()
    out["sources"] = g["source"].agg(lambda s: sorted(set(s)))
    return out.reset_index()


def _line(lines: dict[int, float], period: int) -> float:
    """The month's stored income line (the one year rule: ``fanpin.engine.income_line``)."""
    return float(IncomeLine.stored(lines).stored_at(period))


def _risk_types(risks: list[str], n_labour: int, job_lost: bool, wage_share: float) -> list[str]:
    """The clues' risk types; a bare "other" (a dibao or cadre-visit clue) made specific from the household."""
    out = [r for r in risks if r != "other"]
    if out:
        return out[:5]  # the national record has five places
    if n_labour == 0:
        return ["lack_of_labour"]
    return ["unstable_work"] if job_lost or wage_share < 0.3 else ["other"]


def _eligible_matrix(engine: Engine, spec, hids: list[str]) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001 - a DemoSpec (its module imports this one)
    """Per household x month: the elimination rules (as ``workflow.elimination_eligibility``) hold."""
    periods = spec.periods
    if not hids:
        return np.zeros((0, len(periods)), dtype=bool), np.array(periods)
    with engine.connect() as conn:
        f = monitoring_store.rule_inputs(conn, hids)
        attrs = household_store.attributes(conn, hids)
    nolab = dict(zip(attrs["household_id"], attrs["no_labour_guarantee"]))
    lines = spec.lines()
    f["above"] = f["income_pc"].astype(float) >= f["period"].map(lambda x: _line(lines, x)).astype(float)
    spend = f[["medical_oop", "schooling_cost", "disaster_loss"]].astype(float).fillna(0.0).sum(axis=1)
    net = f["income_net"].astype(float).fillna(0.0)
    f["spend_ok"] = (net > 0) & (spend < elimination.SPENDING_SHARE * net)
    above = f.pivot(index="household_id", columns="period", values="above").reindex(index=hids, columns=periods).eq(True).to_numpy()
    spend_ok = f.pivot(index="household_id", columns="period", values="spend_ok").reindex(index=hids, columns=periods).eq(True).to_numpy()
    run = np.zeros_like(above, dtype=int)
    for t in range(above.shape[1]):  # consecutive months above the line ending at t (36 columns, vectorised over households)
        run[:, t] = np.where(above[:, t], (run[:, t - 1] if t else 0) + 1, 0)
    no_labour = np.array([bool(nolab.get(x)) for x in hids])
    return (run >= elimination.STABLE_MONTHS) & spend_ok & ~no_labour[:, None], np.array(periods)


def _development_households(engine: Engine, hids: list[str]) -> pd.DataFrame:
    """household_id, period of the households' development-type measures."""
    with engine.connect() as conn:
        return household_store.measures(conn, hids, elimination.DEVELOPMENT_MEASURES)[["household_id", "period"]]


def _at(day: pd.Timestamp, rng: np.random.Generator) -> datetime:
    return (day.normalize() + timedelta(hours=int(rng.integers(9, 18)), minutes=int(rng.integers(0, 60)))).to_pydatetime()


@dataclass
class _Recovery:
    """Per at-risk household x month: the elimination rules hold (``ok``), over the demo's ``periods``."""

    ok: np.ndarray
    periods: np.ndarray
    row_of: dict[str, int]


def _choose_orders(engine: Engine, spec, g: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, _Recovery]:  # noqa: ANN001 - DemoSpec
    """Who gets an order: one (household, month) per household, at-risk ones for "included", some of
    them households whose income later holds above the line (so eliminations exist)."""
    lines, last = spec.lines(), int(spec.periods[-1])
    line = g["period"].map(lambda x: _line(lines, x)).astype(float)
    rigid = g[["medical_oop", "schooling_cost", "disaster_loss"]].astype(float).fillna(0.0).sum(axis=1)
    net = g["income_net"].astype(float).fillna(0.0)
    inc = g["income_pc"].astype(float)
    g["at_risk"] = (inc < NEAR_LINE * line) | ((rigid > 0) & (rigid >= 0.5 * net.clip(lower=0)) & (inc < 2 * line))
    g["sudden"] = (rigid > 0) & (rigid >= 0.5 * net.clip(lower=0))
    g = g.iloc[rng.permutation(len(g))].drop_duplicates("household_id").reset_index(drop=True)
    g["recent"] = g["period"] >= shift_period(last, -1)
    risk_hids = g.loc[g["at_risk"], "household_id"].tolist()
    ok, per = _eligible_matrix(engine, spec, risk_hids)
    g["recovers"] = False
    if risk_hids:
        soon = np.array([shift_period(int(x), MIN_ELIMINATION_GAP + 1) for x in g.loc[g["at_risk"], "period"]])
        g.loc[g["at_risk"], "recovers"] = (ok & (per[None, :] >= soon[:, None])).any(axis=1)
    n = int(np.clip(round(spec.households * ORDER_SHARE), min(MIN_ORDERS, spec.households // 10), MAX_ORDERS))
    n_recent = max(4, round(n * RECENT_SHARE))
    take = []
    for recent, k in ((False, n - n_recent), (True, n_recent)):
        pool = g[g["recent"] == recent]
        k_in = round(k * INCLUDED_SHARE)
        rec = pool[pool["at_risk"] & pool["recovers"]].head(round(k_in * RECOVER_SHARE))
        rest = pool[pool["at_risk"] & ~pool["household_id"].isin(rec["household_id"])].head(k_in - len(rec))
        take += [rec, rest, pool[~pool["at_risk"]].head(k - len(rec) - len(rest))]
    o = pd.concat(take).sort_values(["first_at", "household_id"]).reset_index(drop=True)
    return o, _Recovery(ok, per, {h: j for j, h in enumerate(risk_hids)})


def _schedule(o: pd.DataFrame, rng: np.random.Generator, end: pd.Timestamp, actors: dict[str, str]) -> pd.DataFrame:
    """Each order's timeline (vectorised draws, clamped to the demo's last day), assignee, people and decision."""
    m = len(o)
    first = o["first_at"]
    day = pd.to_timedelta(1, "D")
    created_day = first.dt.normalize() + day * rng.integers(1, 6, m)
    created = [min(_at(d, rng), end.to_pydatetime()) for d in created_day]
    o["created"] = [max(c, f.to_pydatetime() + timedelta(minutes=30)) for c, f in zip(created, first)]
    o["verify"] = [c + timedelta(days=int(k), hours=int(hh)) for c, k, hh in zip(o["created"], rng.integers(0, 4, m), rng.integers(1, 6, m))]
    late = rng.random(m) < LATE_SHARE
    offset = np.where(late, rng.integers(17, 46, m), rng.integers(3, 15, m))
    decided = [max(_at(f.normalize() + day * int(k), rng), _at(pd.Timestamp(v) + day, rng)) for f, k, v in zip(first, offset, o["verify"])]
    hold = o["recent"].to_numpy() & (rng.random(m) < 0.5)
    o["decided"] = decided
    o["is_decided"] = np.array([d <= end.to_pydatetime() for d in decided]) & ~hold
    o["is_verifying"] = ~o["is_decided"].to_numpy() & np.array([v <= end.to_pydatetime() for v in o["verify"]]) & (rng.random(m) < 0.65)
    people = ("cadre", "household", "scoring", "supervision")
    dept = (rng.random(m) < DEPARTMENT_SHARE) & o["sources"].map(lambda s: any(x not in people for x in s)).to_numpy()
    o["assignee_kind"] = np.where(dept, "department", "township")
    o["assignee"] = [next((x for x in s if x not in people), t) if d else t for s, t, d in zip(o["sources"], o["township_code"], dept)]
    o["worker"] = [f"dept_{a}" if d else actors.get(t, "cw_demo") for a, t, d in zip(o["assignee"], o["township_code"], dept)]
    o["creator"] = [LEADER if d else w for w, d in zip(o["worker"], dept)]
    o["included"] = o["at_risk"]
    o["category"] = np.where(o["household_type"] == "former_poor", "unstable_former_poor", np.where(o["sudden"], "sudden_hardship", "marginal"))
    wage_share = o["income_wage"].astype(float).fillna(0.0) / o["income_net"].astype(float).where(o["income_net"].astype(float) > 0)
    o["risk_types"] = [_risk_types(r, int(nl or 0), bool(j), float(w) if w == w else 0.0) for r, nl, j, w in zip(o["risks"], o["n_labour"], o["job_lost"], wage_share)]
    o["ident"] = [int(d.strftime("%Y%m")) for d in decided]
    return o


def _eliminations(engine: Engine, o: pd.DataFrame, rec: _Recovery, rng: np.random.Generator, last: int) -> list[tuple]:
    """(order row, month, proposed at, approved at or None, method) for included, decided households
    eligible some months after identification."""
    out: list[tuple] = []
    inc_idx = np.flatnonzero(o["included"].to_numpy() & o["is_decided"].to_numpy())
    if not len(inc_idx):
        return out
    hids = o.loc[inc_idx, "household_id"].tolist()
    dev = _development_households(engine, hids)
    lag = rng.integers(0, 3, len(inc_idx))
    chosen = rng.random(len(inc_idx)) < ELIMINATION_SHARE
    pday, aday, pending = rng.integers(3, 21, len(inc_idx)), rng.integers(1, 8, len(inc_idx)), rng.random(len(inc_idx)) < 0.5
    for j, i in enumerate(inc_idx):  # a few hundred included households
        hid = hids[j]
        earliest = shift_period(int(o.at[i, "ident"]), MIN_ELIMINATION_GAP + int(lag[j]))
        cols = np.flatnonzero(rec.ok[rec.row_of[hid]] & (rec.periods >= earliest))
        if not chosen[j] or not len(cols):
            continue
        p = int(rec.periods[cols[0]])
        y, mo = divmod(p, 100)
        prop_at = _at(pd.Timestamp(year=y, month=mo, day=int(pday[j])), rng)
        month_end = pd.Timestamp(common.as_of_date(p)) + timedelta(hours=18)
        appr_at = min(prop_at + timedelta(days=int(aday[j]), hours=1), month_end.to_pydatetime())
        d = dev[dev["household_id"] == hid]
        method = "by_assistance" if len(d) and (d["period"] <= p).any() else "natural"
        out.append((i, p, prop_at, None if (p == last and pending[j]) else appr_at, method))
    return out


#: The official procedure's steps after a decision or a proposal, in order (``fanpin.workflow.procedure``).
CHAIN = ("village_review", "notice", "township_check", "county_approval")


def _chain(start: datetime, rng: np.random.Generator, notice_days: int) -> list[tuple[str, datetime]]:
    """When each step of a case opened at ``start`` is taken: the village meets within days, the
    notice goes up the same or the next day and runs its days, the township checks after it ends,
    the county approves within the week."""
    review = (pd.Timestamp(start).normalize() + timedelta(days=int(rng.integers(1, 4)), hours=10)).to_pydatetime()
    notice = review + timedelta(days=int(rng.integers(0, 2)), hours=1)
    check = (pd.Timestamp(notice).normalize() + timedelta(days=notice_days + int(rng.integers(0, 3)), hours=15)).to_pydatetime()
    county = check + timedelta(days=int(rng.integers(1, 5)), hours=-5)
    return list(zip(CHAIN, (review, notice, check, county)))


def _events(o: pd.DataFrame, elim_rows: list[tuple], rng: np.random.Generator, notice_days: int, end: datetime) -> list[tuple[datetime, int, str, int]]:
    """Every step of every order, case and elimination up to ``end``, in time order."""
    events: list[tuple[datetime, int, str, int]] = []
    for i, r in enumerate(o.itertuples(index=False)):
        events.append((pd.Timestamp(r.created).to_pydatetime(), 0, "create", i))
        if r.is_decided or r.is_verifying:
            events.append((pd.Timestamp(r.verify).to_pydatetime(), 1, "verify", i))
        if r.is_decided:
            events.append((pd.Timestamp(r.decided).to_pydatetime(), 2, "decide", i))
            if r.included:
                events += [(at, 5 + k, f"inc:{step}", i) for k, (step, at) in enumerate(_chain(pd.Timestamp(r.decided).to_pydatetime(), rng, notice_days))]
    for row in elim_rows:
        events.append((row[2], 3, "propose", row[0]))
        chain = _chain(row[2], rng, notice_days)
        events += [(at, 10 + k, f"elim:{step}", row[0]) for k, (step, at) in enumerate(chain if row[3] is not None else chain[:2])]
    return sorted((e for e in events if e[0] <= end), key=lambda e: (e[0], e[1], e[3]))


def _step(engine: Engine, case_id: int, version: int, step: str, at: datetime, who: str) -> None:
    """One step of the official procedure, passed, as the demo person ``who``."""
    p = _as(who)
    if step == "village_review":
        procedure.village_review(engine, case_id, version, passed=True, meeting_date=at.date(), document=_MEETING, now=at, principal=p)
    elif step == "notice":
        procedure.start_notice(engine, case_id, version, first_day=at.date(), document=_NOTICE, now=at, principal=p)
    elif step == "township_check":
        procedure.township_check(engine, case_id, version, passed=True, now=at, principal=p)
    else:
        procedure.county_approval(engine, case_id, version, passed=True, document=_ANNOUNCEMENT, now=at, principal=p)


def _replay(engine: Engine, o: pd.DataFrame, elim_rows: list[tuple], actors: dict[str, str], counts: dict[str, int], rng: np.random.Generator, end: datetime) -> None:
    """Run the steps through the workflow functions, each as the demo person who took it: the
    township's case worker opens cases, holds the village review and posts the notice, the
    township leader checks, the bureau leader approves for the county."""
    elim_of = {row[0]: row for row in elim_rows}
    oid: dict[int, int] = {}
    version: dict[int, int] = {}
    case: dict[str, list[int]] = {}  # "inc:i" / "elim:i" -> [case_id, version]
    for at, _, kind, i in _events(o, elim_rows, rng, procedure.notice_days(engine), end):
        r = o.iloc[i]
        worker = actors.get(r["township_code"], "cw_demo")
        if kind == "create":
            oid[i] = orders.create_order(engine, assignee_kind=r["assignee_kind"], assignee=r["assignee"], clue_ids=r["clue_ids"], now=at, principal=_as(r["creator"]))
            version[i] = 1
        elif kind == "verify":
            orders.start_verification(engine, oid[i], version[i], now=at, principal=_as(r["worker"]))
            version[i] += 1
        elif kind == "decide":
            findings = f"入户核查：人均纯收入{float(r['income_pc']):,.0f}元"
            decision = {"category": r["category"], "risk_types": r["risk_types"]} if r["included"] else {"reason": _REASON}
            made = orders.decide_order(engine, oid[i], version[i], included=bool(r["included"]), principal=_as(r["worker"]), period=int(r["ident"]),
                                       findings=findings, now=at, **decision)
            version[i] += 1
            counts["decided"] += 1
            if made is not None:
                case[f"inc:{i}"] = [made, 1]
        elif kind == "propose":
            _, p, _, _, method = elim_of[i]
            try:
                pid = elimination.propose_elimination(engine, r["household_id"], p, method, note=_NOTE, now=at, principal=_as(worker))
            except common.WorkflowError:  # the vectorised check and the workflow's disagree (or the inclusion is not approved yet): skip
                continue
            with engine.connect() as conn:
                case[f"elim:{i}"] = [int(case_store.case_by_proposal(conn, pid)["case_id"]), 1]
        elif kind.split(":")[0] + f":{i}" in case:
            key, step = kind.split(":")[0] + f":{i}", kind.split(":")[1]
            who = {"township_check": worker.replace("cw_", "tl_", 1), "county_approval": LEADER}.get(step, worker)
            _step(engine, case[key][0], case[key][1], step, at, who)
            case[key][1] += 1
            if step == "county_approval" and key.startswith("elim"):
                counts["eliminated"] += 1
    counts["orders"] = len(oid)


def seed_workflow(engine: Engine, spec, rng: np.random.Generator | None = None) -> dict[str, int]:  # noqa: ANN001 - DemoSpec
    """Replay orders, decisions and eliminations over the demo's months; returns counts
    (orders, decided, overdue at the last month's end, monitored, eliminated)."""
    rng = rng if rng is not None else np.random.default_rng([int(spec.seed), 0x0DE5])
    last = int(spec.periods[-1])
    end = pd.Timestamp(common.as_of_date(last)) + timedelta(hours=18)
    counts = {"orders": 0, "decided": 0, "overdue": 0, "monitored": 0, "eliminated": 0}
    g = _groups(engine, spec)
    if g.empty:
        return counts
    actors = _actors(engine)
    o, recovery = _choose_orders(engine, spec, g, rng)
    if len(o) == 0:
        return counts
    o = _schedule(o, rng, end, actors)
    _replay(engine, o, _eliminations(engine, o, recovery, rng, last), actors, counts, rng, end.to_pydatetime())
    counts["overdue"] = orders.closed_loop(engine, common.as_of_date(last), principal=SYSTEM).overdue
    counts["monitored"] = len(monitoring.register(engine, principal=SYSTEM))
    return counts


__all__ = ["seed_workflow"]
