"""Replay the demo county's monitoring work, so the county opens with work under way.

A real bureau never starts from an empty register: clues have been turned into
verification orders, most decided within the 15 days, some late, some still open;
households have been identified as monitored (监测对象) and some of them, once their
income held above the line for six months, eliminated (风险消除) with a second
person's approval.  ``seed_workflow`` writes exactly that history, month by month,
through the real workflow functions (``create_order``, ``start_verification``,
``decide_order``, ``propose_elimination``, ``approve_elimination`` with ``now=``
timestamps inside the demo's months), so every row (orders and their versions,
order_clues, monitoring, audit) is what the app itself would have written.

Who gets an order and what is decided is chosen vectorised from the clues and the
panel (households below or near the line at the clue's month are included); only the
few hundred chosen orders are then replayed one call at a time, in time order.  No
elimination falls in the same or the next month as identification: those are the
supervision rule ``eliminated_too_fast``, planted separately by ``demo_plant``.
It has its own random stream, so the rest of the county does not change with it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.store import schema as S
from fanpin.store.io import shift_period
from fanpin.workflow import common, monitoring, orders

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
#: Elimination no sooner than this many months after identification (the rule flags 0 and 1).
MIN_ELIMINATION_GAP = 3
LEADER = "leader_demo"

_CHUNK = 1_000
_RISK_ORDER = {r: i for i, r in enumerate(common.RISK_TYPES)}
_REASON = "入户核查：人均纯收入高于监测线，无大额刚性支出 / verified at home: income above the monitoring line, no large unavoidable spending"


def _actors(engine: Engine) -> dict[str, str]:
    """Township code -> case-worker account name ``cw_<short English name>`` (unique)."""
    r = S.regions.c
    with engine.connect() as conn:
        rows = conn.execute(select(r.region_code, r.name_en).where(r.level == "township").order_by(r.region_code)).fetchall()
    out: dict[str, str] = {}
    for code, name_en in rows:
        stem = re.sub(r"[^a-z0-9]+", "", (name_en or "").rsplit(" ", 1)[0].lower()) or str(code)[-3:]
        name = f"cw_{stem}"
        if name in out.values():
            name = f"{name}{str(code)[-3:]}"
        out[str(code)] = name
    return out


def _groups(engine: Engine, spec) -> pd.DataFrame:  # noqa: ANN001 - DemoSpec
    """Open clues grouped per (household, month), with the household and the month's panel row."""
    c, p, h = S.clues.c, S.panel.c, S.households.c
    q = (
        select(c.clue_id, c.household_id, c.period, c.risk_type, c.source, c.received_at, p.income_pc, p.income_net, p.income_wage,
               p.medical_oop, p.schooling_cost, p.disaster_loss, p.job_lost, h.township_code, h.household_type, h.no_labour_guarantee, h.n_labour)
        .join_from(S.clues, S.panel, (p.household_id == c.household_id) & (p.period == c.period))
        .join(S.households, h.household_id == c.household_id)
        .where(c.status == "new", c.period <= int(spec.periods[-1]))
        .order_by(c.clue_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    cols = [col.name for col in q.selected_columns]
    f = pd.DataFrame(dict(zip(cols, (list(v) for v in zip(*rows))))) if rows else pd.DataFrame(columns=cols)
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
    """The month's income line, as ``fanpin.policies.income_line_for`` reads it from meta."""
    year = int(period) // 100
    if year in lines:
        return float(lines[year])
    earlier = [y for y in lines if y <= year]
    return float(lines[max(earlier)] if earlier else lines[min(lines)])


def _risk_types(risks: list[str], n_labour: int, job_lost: bool, wage_share: float) -> list[str]:
    """The clues' risk types; a bare "other" (a dibao or cadre-visit clue) made specific from the household."""
    out = [r for r in risks if r != "other"]
    if out:
        return out
    if n_labour == 0:
        return ["lack_of_labour"]
    return ["unstable_work"] if job_lost or wage_share < 0.3 else ["other"]


def _eligible_matrix(engine: Engine, spec, hids: list[str]) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Per household x month: the elimination rules (as ``workflow.elimination_eligibility``) hold."""
    periods = spec.periods
    if not hids:
        return np.zeros((0, len(periods)), dtype=bool), np.array(periods)
    p, h = S.panel.c, S.households.c
    rows, nolab = [], {}
    with engine.connect() as conn:
        for i in range(0, len(hids), _CHUNK):
            part = hids[i : i + _CHUNK]
            rows += conn.execute(select(p.household_id, p.period, p.income_pc, p.income_net, p.medical_oop, p.schooling_cost, p.disaster_loss)
                                 .where(p.household_id.in_(part))).fetchall()
            nolab.update(conn.execute(select(h.household_id, h.no_labour_guarantee).where(h.household_id.in_(part))).fetchall())
    f = pd.DataFrame(rows, columns=["household_id", "period", "income_pc", "income_net", "medical_oop", "schooling_cost", "disaster_loss"])
    lines = spec.lines()
    f["above"] = f["income_pc"].astype(float) >= f["period"].map(lambda x: _line(lines, x)).astype(float)
    spend = f[["medical_oop", "schooling_cost", "disaster_loss"]].astype(float).fillna(0.0).sum(axis=1)
    net = f["income_net"].astype(float).fillna(0.0)
    f["spend_ok"] = (net > 0) & (spend < monitoring.SPENDING_SHARE * net)
    above = f.pivot(index="household_id", columns="period", values="above").reindex(index=hids, columns=periods).eq(True).to_numpy()
    spend_ok = f.pivot(index="household_id", columns="period", values="spend_ok").reindex(index=hids, columns=periods).eq(True).to_numpy()
    run = np.zeros_like(above, dtype=int)
    for t in range(above.shape[1]):  # consecutive months above the line ending at t (36 columns, vectorised over households)
        run[:, t] = np.where(above[:, t], (run[:, t - 1] if t else 0) + 1, 0)
    no_labour = np.array([bool(nolab.get(x)) for x in hids])
    return (run >= monitoring.STABLE_MONTHS) & spend_ok & ~no_labour[:, None], np.array(periods)


def _development_households(engine: Engine, hids: list[str]) -> pd.DataFrame:
    a = S.assistance.c
    rows = []
    with engine.connect() as conn:
        for i in range(0, len(hids), _CHUNK):
            rows += conn.execute(select(a.household_id, a.period).where(a.household_id.in_(hids[i : i + _CHUNK]), a.measure.in_(monitoring.DEVELOPMENT_MEASURES))).fetchall()
    return pd.DataFrame(rows, columns=["household_id", "period"])


def _at(day: pd.Timestamp, rng: np.random.Generator) -> datetime:
    return (day.normalize() + timedelta(hours=int(rng.integers(9, 18)), minutes=int(rng.integers(0, 60)))).to_pydatetime()


def seed_workflow(engine: Engine, spec, rng: np.random.Generator | None = None) -> dict[str, int]:  # noqa: ANN001 - DemoSpec
    """Replay orders, decisions and eliminations over the demo's months; returns counts
    (orders, decided, overdue at the last month's end, monitored, eliminated)."""
    rng = rng if rng is not None else np.random.default_rng([int(spec.seed), 0x0DE5])
    periods = spec.periods
    last = int(periods[-1])
    end = pd.Timestamp(common.as_of_date(last)) + timedelta(hours=18)
    counts = {"orders": 0, "decided": 0, "overdue": 0, "monitored": 0, "eliminated": 0}
    g = _groups(engine, spec)
    if g.empty:
        return counts
    actors = _actors(engine)
    lines = spec.lines()

    # ---- who gets an order: one (household, month) per household, at-risk ones for "included"
    line = g["period"].map(lambda x: _line(lines, x)).astype(float)
    rigid = g[["medical_oop", "schooling_cost", "disaster_loss"]].astype(float).fillna(0.0).sum(axis=1)
    net = g["income_net"].astype(float).fillna(0.0)
    inc = g["income_pc"].astype(float)
    g["at_risk"] = (inc < NEAR_LINE * line) | ((rigid > 0) & (rigid >= 0.5 * net.clip(lower=0)) & (inc < 2 * line))
    g["sudden"] = (rigid > 0) & (rigid >= 0.5 * net.clip(lower=0))
    g = g.iloc[rng.permutation(len(g))].drop_duplicates("household_id").reset_index(drop=True)
    g["recent"] = g["period"] >= shift_period(last, -1)
    # Monitored households recover (assistance works): some of the included are households whose
    # income later holds above the line for six months, found on the panel.
    risk_hids = g.loc[g["at_risk"], "household_id"].tolist()
    ok, per = _eligible_matrix(engine, spec, risk_hids)
    row_of = {h: j for j, h in enumerate(risk_hids)}
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
    m = len(o)
    if m == 0:
        return counts

    # ---- the timeline of each order (vectorised draws, then clamped to the demo's last day)
    first = o["first_at"]
    day = pd.to_timedelta(1, "D")
    created_day = first.dt.normalize() + day * rng.integers(1, 6, m)
    created = [min(_at(d, rng), end.to_pydatetime()) for d in created_day]
    created = [max(c, f.to_pydatetime() + timedelta(minutes=30)) for c, f in zip(created, first)]
    verify = [c + timedelta(days=int(k), hours=int(hh)) for c, k, hh in zip(created, rng.integers(0, 4, m), rng.integers(1, 6, m))]
    late = rng.random(m) < LATE_SHARE
    offset = np.where(late, rng.integers(17, 46, m), rng.integers(3, 15, m))
    decided = [max(_at(f.normalize() + day * int(k), rng), _at(pd.Timestamp(v) + day, rng)) for f, k, v in zip(first, offset, verify)]
    hold = o["recent"].to_numpy() & (rng.random(m) < 0.5)
    is_decided = np.array([d <= end.to_pydatetime() for d in decided]) & ~hold
    is_verifying = ~is_decided & np.array([v <= end.to_pydatetime() for v in verify]) & (rng.random(m) < 0.65)
    dept = (rng.random(m) < DEPARTMENT_SHARE) & o["sources"].map(lambda s: any(x not in ("cadre", "household", "scoring", "supervision") for x in s)).to_numpy()
    o["assignee_kind"] = np.where(dept, "department", "township")
    o["assignee"] = [next((x for x in s if x not in ("cadre", "household", "scoring", "supervision")), t) if d else t
                     for s, t, d in zip(o["sources"], o["township_code"], dept)]
    o["worker"] = [f"dept_{a}" if d else actors.get(t, "cw_demo") for a, t, d in zip(o["assignee"], o["township_code"], dept)]
    o["creator"] = [LEADER if d else w for w, d in zip(o["worker"], dept)]
    o["included"] = o["at_risk"]
    o["category"] = np.where(o["household_type"] == "former_poor", "unstable_former_poor", np.where(o["sudden"], "sudden_hardship", "marginal"))
    wage_share = o["income_wage"].astype(float).fillna(0.0) / o["income_net"].astype(float).where(o["income_net"].astype(float) > 0)
    o["risk_types"] = [_risk_types(r, int(nl or 0), bool(j), float(w) if w == w else 0.0) for r, nl, j, w in zip(o["risks"], o["n_labour"], o["job_lost"], wage_share)]
    o["ident"] = [int(d.strftime("%Y%m")) for d in decided]

    # ---- eliminations: included, decided, eligible some months after identification
    elim_rows: list[tuple] = []
    inc_idx = np.flatnonzero(o["included"].to_numpy() & is_decided)
    if len(inc_idx):
        hids = o.loc[inc_idx, "household_id"].tolist()
        dev = _development_households(engine, hids)
        lag = rng.integers(0, 3, len(inc_idx))
        chosen = rng.random(len(inc_idx)) < ELIMINATION_SHARE
        pday, aday, pending = rng.integers(3, 21, len(inc_idx)), rng.integers(1, 8, len(inc_idx)), rng.random(len(inc_idx)) < 0.5
        for j, i in enumerate(inc_idx):  # a few hundred included households
            hid = hids[j]
            earliest = shift_period(int(o.at[i, "ident"]), MIN_ELIMINATION_GAP + int(lag[j]))
            cols = np.flatnonzero(ok[row_of[hid]] & (per >= earliest))
            if not chosen[j] or not len(cols):
                continue
            p = int(per[cols[0]])
            y, mo = divmod(p, 100)
            prop_at = _at(pd.Timestamp(year=y, month=mo, day=int(pday[j])), rng)
            month_end = pd.Timestamp(common.as_of_date(p)) + timedelta(hours=18)
            appr_at = min(prop_at + timedelta(days=int(aday[j]), hours=1), month_end.to_pydatetime())
            d = dev[dev["household_id"] == hid]
            method = "by_assistance" if len(d) and (d["period"] <= p).any() else "natural"
            elim_rows.append((i, p, prop_at, None if (p == last and pending[j]) else appr_at, method))

    # ---- replay in time order through the workflow functions
    events: list[tuple[datetime, int, str, int]] = []
    for i in range(m):
        events.append((created[i], 0, "create", i))
        if is_decided[i] or is_verifying[i]:
            events.append((verify[i], 1, "verify", i))
        if is_decided[i]:
            events.append((decided[i], 2, "decide", i))
    elim_of: dict[int, tuple] = {}
    for row in elim_rows:
        elim_of[row[0]] = row
        events.append((row[2], 3, "propose", row[0]))
        if row[3] is not None:
            events.append((row[3], 4, "approve", row[0]))
    events.sort(key=lambda e: (e[0], e[1], e[3]))
    oid: dict[int, int] = {}
    version: dict[int, int] = {}
    proposal: dict[int, int] = {}
    for at, _, kind, i in events:
        r = o.iloc[i]
        if kind == "create":
            oid[i] = orders.create_order(engine, assignee_kind=r["assignee_kind"], assignee=r["assignee"], actor=r["creator"], clue_ids=r["clue_ids"], now=at)
            version[i] = 1
        elif kind == "verify":
            orders.start_verification(engine, oid[i], version[i], r["worker"], now=at)
            version[i] += 1
        elif kind == "decide":
            findings = f"入户核查：人均纯收入{float(r['income_pc']):,.0f}元 / home visit: income per person {float(r['income_pc']):,.0f} yuan"
            if r["included"]:
                orders.decide_order(engine, oid[i], version[i], included=True, actor=r["worker"], period=int(r["ident"]), category=r["category"],
                               risk_types=r["risk_types"], findings=findings, now=at)
            else:
                orders.decide_order(engine, oid[i], version[i], included=False, actor=r["worker"], period=int(r["ident"]), reason=_REASON, findings=findings, now=at)
            version[i] += 1
            counts["decided"] += 1
        elif kind == "propose":
            _, p, _, _, method = elim_of[i]
            actor = actors.get(r["township_code"], "cw_demo")
            try:
                proposal[i] = monitoring.propose_elimination(engine, r["household_id"], p, method, actor, note="收入连续6个月稳定高于监测线 / income stably above the line for 6 months", now=at)
            except common.WorkflowError:  # the vectorised check and the workflow's disagree: skip, never force
                continue
        elif kind == "approve" and i in proposal:
            monitoring.approve_elimination(engine, proposal[i], LEADER, now=at)
            counts["eliminated"] += 1
    counts["orders"] = len(oid)
    loop = orders.closed_loop(engine, common.as_of_date(last))
    counts["overdue"] = loop.overdue
    counts["monitored"] = len(monitoring.register(engine))
    return counts


__all__ = ["seed_workflow"]
