"""Plant a known number of each supervision rule's case into a built demo county.

Runs after ``build_demo`` with its own random stream (derived from the seed), so the rest
of the county is unchanged by it.  First the roster's 住房安全有保障 marks are set
consistently with the last month's housing grades; then the rules run once to count
what the county already contains (some rules find natural cases: a child not in school,
a large medical bill no feed reported); then each rule gets a handful of cases in
households no rule flagged and no other planting touched, so that the rules find exactly
``natural + planted`` afterwards.  Those totals go to ``meta["planted_findings"]`` (JSON,
rule -> count), the planted household ids to ``meta["planted_households"]`` and the county
checks' near misses (households just on the clean side, rule -> ids) to ``meta["planted_near_misses"]``.

Plantings are minimally invasive: single member fields, a few panel cells of the last
month (kept consistent: net income stays the sum of its parts), department records,
officials' relations, monitoring cases and their assistance measures; no member is added or
removed.

The county checks (``risk_no_measure``, ``assistance_no_development``, ``eliminated_too_fast``,
``eliminated_below_line``) read the monitoring record.  A planted case is written the way the
workflow writes one: the history (identification, then proposal and approved elimination), the
record derived from that history (``store.monitoring_records.records_from_history``) and the
measures; it goes to a household with no monitoring of its own (and, but for the income below the
line, no clue either), and each comes with near misses just on the clean side of the boundary.  Before counting, every risk type
of the replayed cases gets a matching measure from its identification month (the demo's
assistance follows only some clues and is drawn before the replay decides the risk types), so
``risk_no_measure`` finds only what is planted.  ``eliminated_below_line`` may find a few natural
cases: replayed households eliminated after six months above the line whose year's income fell
back below it later in the year (a relapse the check rightly reports).

Every planted monitoring case carries its cases of the official procedure, written with the case
store's functions as the workflow would have left them (``_procedure``): an approved inclusion and,
when eliminated, an approved elimination, each through 村级民主评议, 村内公示 (at least the
province's ``notice_days``), 乡镇审核 and 县级审定 by three different people, so the procedure's
rules find none of them.  ``procedure_skipped`` plants eliminations that took effect with no case, a
case without the notice, one whose township check never passed, and a withdrawn case; its near
misses went through the whole chain again after a return.  ``notice_too_short`` plants approved
eliminations checked two days before the notice ran its days; its near misses on the last day
allowed.  (Inclusions are not planted: the rule reads inclusions decided from an order, and the
small demo has no orders so that tests can count their own.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from fanpin.access.roles import SYSTEM
from fanpin.core.ids import id_check_char
from fanpin.demo.spec import DemoSpec
from fanpin.quality import month, record
from fanpin.quality import rules as R
from fanpin.quality import thresholds as T
from fanpin.store import cases as case_store
from fanpin.store import demo as dstore
from fanpin.store import io as sio
from fanpin.store import meta as meta_store
from fanpin.store import monitoring_records as mrstore
from fanpin.store import quality as qstore


def planted_counts(engine: Engine) -> dict[str, int]:
    """The totals recorded by the last planting (rule -> findings expected in the last month)."""
    return {k: int(v) for k, v in (sio.load_json_meta(engine, "planted_findings", {}) or {}).items()}


class _Picker:
    """Draws households no rule flagged and no planting used yet."""

    def __init__(self, rng: np.random.Generator, used: set[str]) -> None:
        self.rng = rng
        self.used = used

    def pick(self, candidates: Iterable, n: int) -> list[str]:
        c = np.array(sorted(set(map(str, candidates)) - self.used), dtype=object)
        if len(c) == 0 or n <= 0:
            return []
        chosen = sorted(self.rng.choice(c, size=min(n, len(c)), replace=False).tolist())
        self.used.update(chosen)
        return chosen


def _at(period: int, day: int = 15) -> datetime:
    return datetime(period // 100, period % 100, day, 10, 0, 0)


@dataclass(frozen=True)
class _Case:
    """One planted monitoring case: identified at ``ident``; eliminated at ``elim`` (None: still monitored)."""

    household_id: str
    ident: int
    risks: tuple[str, ...]
    category: str = "marginal"
    elim: int | None = None
    method: str | None = None
    #: How its elimination went through the official procedure (``_procedure``): "complete", or a
    #: planted fault: "none", "no_notice", "check_rejected", "withdrawn", "short_notice"; near
    #: misses "exact_notice" and "resubmitted".
    chain: str = "complete"


@dataclass
class _Planting:
    """One planting: the last month's frames, the picker, and the changes collected rule by rule.

    Each ``_plant_*`` function adds one rule's cases; they run in ``STEPS`` order, which is
    also the order of the random draws (so a seed plants the same cases)."""

    rng: np.random.Generator
    period: int
    k: int  # cases per rule
    pick: _Picker
    hh: pd.DataFrame
    mem: pd.DataFrame
    pan: pd.DataFrame
    clue_hh: set[str]
    illness_hh: set[str]
    planted: dict[str, list[str]] = field(default_factory=dict)
    near: dict[str, list[str]] = field(default_factory=dict)  # the county checks' near misses (clean), per rule
    member_updates: list[dict] = field(default_factory=list)  # {"member_id": ..., column: value}
    panel_updates: list[dict] = field(default_factory=list)  # {"household_id": ..., column: value}
    dept_rows: list[dict] = field(default_factory=list)
    relation_rows: list[dict] = field(default_factory=list)
    unmonitored: set[str] = field(default_factory=set)  # households with no monitoring history and no record
    quiet: set[str] = field(default_factory=set)  # of those, the ones with no clue either
    assisted: set[str] = field(default_factory=set)  # households with any assistance measure
    line_of_year: dict[int, float] = field(default_factory=dict)
    year_income: dict[int, pd.Series] = field(default_factory=dict)  # year -> income per head (the rule's reading)
    cases: list[_Case] = field(default_factory=list)  # monitoring cases, in planting order
    measure_rows: list[dict] = field(default_factory=list)  # assistance

    @cached_property
    def alive(self) -> pd.DataFrame:
        return self.mem[self.mem["deceased_period"].isna()]

    @cached_property
    def ids_taken(self) -> set[str]:
        return set(self.mem["id_number"])

    @cached_property
    def pi(self) -> pd.DataFrame:
        return self.pan.set_index("household_id")

    def shifted(self, months: int) -> int:
        return sio.shift_period(self.period, months)


def _year_incomes(conn: Connection, d: month.MonthData, years: Iterable[int]) -> dict[int, pd.Series]:
    """Per year: every household's income per head as ``eliminated_below_line`` reads it (the yearly
    income, else the panel's rolling income at the year's latest month up to the month checked)."""
    months = pd.Series(qstore.panel_periods_until(conn, d.period), dtype=int)
    last = months.groupby(months // 100).max()
    years = sorted({int(x) for x in years})
    yearly = qstore.yearly_income_rows(conn, years)
    yearly = yearly.assign(year=pd.to_numeric(yearly["year"]).astype(int), income_pc=pd.to_numeric(yearly["income_pc"], errors="coerce"))
    out: dict[int, pd.Series] = {}
    for y in years:
        got = yearly[yearly["year"] == y].set_index("household_id")["income_pc"].dropna()
        if y in last.index:
            pan = qstore.panel_rows(conn, int(last[y]), ("household_id", "income_pc")).set_index("household_id")["income_pc"]
            got = got.combine_first(pd.to_numeric(pan, errors="coerce").dropna())
        out[y] = got.astype(float)
    return out


def _read(engine: Engine, spec: DemoSpec, rng: np.random.Generator) -> tuple[_Planting, dict[str, int]]:
    """Count the natural findings and load the last month's frames the plantings choose from."""
    P = int(spec.periods[-1])
    natural = R.find(engine, P, principal=SYSTEM)
    nat = natural["rule"].value_counts().to_dict()
    with engine.connect() as conn:
        d = month.MonthData(conn, P)
        hh, mem, pan = d.households.copy(), d.members.copy(), d.panel.copy()
        extra = dstore.panel_parts(conn, P)
        clue_hh = set(qstore.clue_households(conn))
        illness_hh = set(d.illness_clue_households(12))
        monitored = set(qstore.record_rows(conn)["household_id"]) | set(qstore.history_households(conn))
        assisted = set(qstore.assisted_households(conn))
        years = {sio.shift_period(P, -k) // 100 for k in range(9)}
        lines = {y: d.line_of_year(y) for y in years}
        incomes = _year_incomes(conn, d, years)
    pan = pan.merge(extra, on="household_id").merge(hh[["household_id", "village_code", "size", "no_labour_guarantee"]], on="household_id")
    pan = pan.sort_values("household_id").reset_index(drop=True)
    mem = mem.sort_values("member_id").reset_index(drop=True)
    mem["age"] = month.age_at_end_of(mem["birth_date"], P)
    pick = _Picker(rng, set(natural["household_id"].astype(str)))
    unmonitored = set(pan["household_id"].astype(str)) - monitored
    return _Planting(rng, P, max(3, spec.households // 2000), pick, hh, mem, pan, clue_hh, illness_hh, unmonitored=unmonitored, quiet=unmonitored - clue_hh, assisted=assisted,
                     line_of_year=lines, year_income=incomes), nat


def _plant_deceased_benefit(c: _Planting) -> None:
    """Deceased heads still marked as receiving dibao / tekun."""
    alive = c.alive
    heads = alive[(alive["relation"] == "head") & (alive["dibao"] | alive["tekun"])]
    chosen = c.pick.pick(heads["household_id"], c.k)
    for mid in heads[heads["household_id"].isin(chosen)]["member_id"]:
        c.member_updates.append({"member_id": int(mid), "deceased_period": c.shifted(-2)})
    c.planted["deceased_benefit"] = chosen


def _plant_death_not_recorded(c: _Planting) -> None:
    """A death registered by the police that the roster does not show."""
    alive = c.alive
    cand = alive[~alive["dibao"] & ~alive["tekun"] & (alive["age"] >= 60)]
    chosen = c.pick.pick(cand["household_id"], c.k)
    for _, m in cand[cand["household_id"].isin(chosen)].drop_duplicates("household_id").iterrows():
        c.dept_rows.append({"id_number": m["id_number"], "household_id": m["household_id"], "source": "public_security", "record_type": "death",
                            "period": c.shifted(-1), "value": None, "detail": "死亡登记 / death registration"})
    c.planted["death_not_recorded"] = chosen


def _business_record(head_id: pd.Series, h: str, c: _Planting) -> dict:
    return {"id_number": head_id[h], "household_id": h, "source": "market_regulation", "record_type": "business", "period": c.shifted(-6),
            "value": None, "detail": "个体工商户登记 / registered sole proprietorship"}


def _plant_income_vs_dept(c: _Planting) -> None:
    """Cars and commercial houses worth several years of declared income (and near misses that are not)."""
    alive, pan, pick, rng = c.alive, c.pan, c.pick, c.rng
    head_id = alive[alive["relation"] == "head"].drop_duplicates("household_id").set_index("household_id")["id_number"]
    with_head = pan[pan["household_id"].isin(head_id.index) & (pan["income_net"] > 0)]
    net = with_head.set_index("household_id")["income_net"]
    no_biz = with_head[with_head["income_business"].fillna(0) <= 0]["household_id"]
    chosen = pick.pick(no_biz, 1) if len(no_biz) else []
    c.dept_rows += [_business_record(head_id, h, c) for h in chosen]
    more = pick.pick(with_head["household_id"], c.k - len(chosen))
    for i, h in enumerate(more):
        kind, src = (("car", "transport"), ("commercial_house", "housing"))[i % 2]
        value = round(T.ASSET_INCOME_RATIO * float(net[h]) + float(rng.uniform(20_000, 150_000)), -3)
        c.dept_rows.append({"id_number": head_id[h], "household_id": h, "source": src, "record_type": kind, "period": c.shifted(-3),
                            "value": value, "detail": "购置登记 / purchase registered"})
    c.planted["income_vs_dept"] = chosen + more
    near = pick.pick(with_head[with_head["income_net"] > 20_000]["household_id"], c.k)
    for i, h in enumerate(near):  # a cheap second-hand car, or a business with business income: no contradiction
        if i % 2 == 0:
            c.dept_rows.append({"id_number": head_id[h], "household_id": h, "source": "transport", "record_type": "car", "period": c.shifted(-3),
                                "value": round(0.5 * float(net[h]), -3), "detail": "二手车 / second-hand car"})
        elif float(with_head.set_index("household_id").loc[h, "income_business"] or 0) > 0:
            c.dept_rows.append(_business_record(head_id, h, c))


_POSTS = np.array(["village_secretary", "village_director", "village_committee", "township_staff"], dtype=object)
_KINDS = np.array(["sibling", "child", "parent", "spouse", "grandchild"], dtype=object)


def _relate(c: _Planting, hids: list[str]) -> None:
    """Make a member of each household a close relative of an official (an adult of the same village if any)."""
    alive, rng = c.alive, c.rng
    adults = alive[alive["age"] >= 30]
    village_of = c.hh.set_index("household_id")["village_code"]
    for h in hids:
        v = village_of[h]
        pool = adults[(adults["household_id"] != h) & (adults["household_id"].map(village_of) == v)]
        if pool.empty:
            pool = adults[adults["household_id"] != h]
        official = pool.iloc[int(rng.integers(len(pool)))]
        relative = alive[alive["household_id"] == h].iloc[0]
        c.relation_rows.append({"official_id_number": official["id_number"], "official_post": str(rng.choice(_POSTS)), "region_code": v,
                                "relative_id_number": relative["id_number"], "relation": str(rng.choice(_KINDS))})


def _plant_official_relative_dibao(c: _Planting) -> None:
    """Dibao households with a member related to a village official (and relatives not on dibao)."""
    pan = c.pan
    dibao_hh = pan[pan["dibao"]]["household_id"]
    chosen = c.pick.pick(dibao_hh[dibao_hh.isin(c.alive["household_id"])], c.k)
    _relate(c, chosen)
    c.planted["official_relative_dibao"] = chosen
    _relate(c, c.pick.pick(pan[~pan["dibao"]]["household_id"], c.k))  # relatives not on dibao: no finding


def _second_id_number(c: _Planting, id_number: str, sex: str) -> str | None:
    """An unused valid ID number equal to ``id_number`` in the first 14 characters (same sex parity)."""
    parity = 1 if sex == "M" else 0
    seq0 = int(id_number[14:17])
    for j in range(1, 500):
        s = (seq0 + 2 * j) % 1000
        if s % 2 != parity or s == 0:
            continue
        body = id_number[:14] + f"{s:03d}"
        cand_id = body + str(id_check_char(body))
        if cand_id not in c.ids_taken:
            return cand_id
    return None


def _plant_duplicate_person(c: _Planting) -> None:
    """One person registered in two households under two ID numbers (a few pairs)."""
    alive, pick = c.alive, c.pick
    cand = alive[(alive["age"] >= 25) & (alive["age"] <= 55) & ~alive["dibao"] & ~alive["tekun"] & ~alive["public_welfare_job"]]
    pairs: list[str] = []
    for _ in range(max(2, c.k // 2)):
        a_h = pick.pick(cand["household_id"], 1)
        if not a_h:
            break
        a = cand[cand["household_id"] == a_h[0]].iloc[0]
        b_h = pick.pick(cand[cand["sex"] == a["sex"]]["household_id"], 1)
        if not b_h:
            break
        b = cand[(cand["household_id"] == b_h[0]) & (cand["sex"] == a["sex"])].iloc[0]
        new_id = _second_id_number(c, a["id_number"], a["sex"])
        if new_id is None:
            continue
        c.ids_taken.add(new_id)
        c.member_updates.append({"member_id": int(b["member_id"]), "name": a["name"], "birth_date": a["birth_date"], "id_number": new_id})
        pairs += [a_h[0], b_h[0]]
    c.planted["duplicate_person"] = sorted(pairs)


def _plant_no_labour_wage(c: _Planting) -> None:
    """Households with no labour capacity that have wage income (net income kept the sum of its parts)."""
    pan, pi = c.pan, c.pi
    cand = pan[pan["no_labour_guarantee"].fillna(False).astype(bool) & (pan["income_wage"].fillna(0) == 0)]
    chosen = c.pick.pick(cand["household_id"], c.k)
    for h in chosen:
        w = round(float(c.rng.uniform(2_000, 8_000)), -2)
        net_h = float(pi.loc[h, "income_net"]) + w
        c.panel_updates.append({"household_id": h, "income_wage": w, "income_net": net_h, "income_pc": round(net_h / int(pi.loc[h, "size"]))})
    c.planted["no_labour_wage"] = chosen


_INCOME_PARTS = ("income_wage", "income_business", "income_property", "income_transfer", "business_cost", "income_net")


def _plant_identical_income(c: _Planting) -> None:
    """A village where several households carry the same (estimated) income."""
    pan, pi, pick = c.pan, c.pi, c.pick
    ok = pan[(pan["income_net"] > 0) & ~pan["no_labour_guarantee"].fillna(False).astype(bool) & ~pan["household_id"].isin(pick.used)]
    per_village = ok.groupby("village_code").size()
    villages = sorted(per_village[per_village >= 10].index)
    group: list[str] = []
    n_groups = max(1, c.k // 5)
    for v in (c.rng.choice(np.array(villages, dtype=object), size=min(n_groups, len(villages)), replace=False) if villages else []):
        members_v = pick.pick(ok[ok["village_code"] == v]["household_id"], T.SAME_INCOME_MIN + 1)
        tpl = pi.loc[members_v[0]]
        for h in members_v:
            c.panel_updates.append({"household_id": h, **{col: float(tpl[col]) for col in _INCOME_PARTS},
                                    "income_pc": round(float(tpl["income_net"]) / int(pi.loc[h, "size"]))})
        group += members_v
    c.planted["identical_income"] = sorted(group)


def _plant_medical_no_clue(c: _Planting) -> None:
    """A large medical bill that no feed reported."""
    pan = c.pan
    cand = pan[(pan["medical_oop"].fillna(0) < T.MEDICAL_LARGE) & ~pan["household_id"].isin(c.illness_hh)]
    chosen = c.pick.pick(cand["household_id"], c.k)
    for h in chosen:
        c.panel_updates.append({"household_id": h, "medical_oop": round(float(c.rng.uniform(12_000, 60_000)), -1)})
    c.planted["medical_no_clue"] = chosen


_MEASURE_AMOUNT = {"health": 3_000.0, "comprehensive": 2_400.0, "social": 2_000.0, "education": 2_500.0, "other_education": 2_000.0, "housing": 15_000.0,
                   "relocation": 30_000.0, "water": 1_200.0, "employment": 1_500.0, "public_welfare_job": 6_000.0, "industry": 3_000.0, "finance": 5_000.0}


def _measure(h: str, measure: str, start: int, end: int | None = None) -> dict:
    return {"household_id": h, "period": int(start), "measure": measure, "amount": _MEASURE_AMOUNT[measure], "description": "监测户帮扶 / assistance of a monitored household",
            "cadre": "驻村工作队", "end_period": None if end is None else int(end)}


def _quiet(c: _Planting, *, unassisted: bool = False, years: Iterable[int] = (), band: tuple[float, float] | None = None, with_clues: bool = False) -> list[str]:
    """Quiet households (or, ``with_clues``, any not monitored) not used yet (with no measure at all if
    ``unassisted``) whose income per head in each of ``years`` lies within ``band`` (multiples of the
    year's line, lower bound included)."""
    cand = (c.unmonitored if with_clues else c.quiet) - c.pick.used - (c.assisted if unassisted else set())
    for y in years:
        inc, line = c.year_income.get(int(y), pd.Series(dtype=float)), c.line_of_year[int(y)]
        lo, hi = band if band is not None else (1.0, np.inf)
        cand &= set(inc.index[(inc >= lo * line) & (inc < hi * line)])
    return sorted(cand)


def _eliminated(c: _Planting, h: str, ident: int, elim: int, method: str = "natural", chain: str = "complete") -> None:
    """An eliminated case with 因病 answered by 健康帮扶 from its identification (clean for ``risk_no_measure``)."""
    c.cases.append(_Case(h, ident, ("illness",), elim=elim, method=method, chain=chain))
    c.measure_rows.append(_measure(h, "health", ident))


def _plant_risk_no_measure(c: _Planting) -> None:
    """Monitored cases whose risk type has no matching measure in effect (half of them with one that
    ended the month before the identification); near misses: a matching measure open since before the
    identification, one that ended in the identification month, a risk type the check does not read."""
    checked = list(T.MATCHING_MEASURES)
    ident = c.shifted(-3)
    chosen = c.pick.pick(_quiet(c, unassisted=True), c.k)
    for i, h in enumerate(chosen):
        risk = checked[i % len(checked)]
        c.cases.append(_Case(h, ident, (risk,)))
        if i % 2 == 1:
            c.measure_rows.append(_measure(h, T.MATCHING_MEASURES[risk][0], c.shifted(-6), sio.shift_period(ident, -1)))
    c.planted["risk_no_measure"] = chosen
    c.near["risk_no_measure"] = c.pick.pick(_quiet(c, unassisted=True), c.k)
    for i, h in enumerate(c.near["risk_no_measure"]):
        risk = checked[(i + 1) % len(checked)]
        if i % 3 == 0:
            c.cases.append(_Case(h, ident, (risk,)))
            c.measure_rows.append(_measure(h, T.MATCHING_MEASURES[risk][-1], c.shifted(-5)))
        elif i % 3 == 1:
            c.cases.append(_Case(h, ident, ("disaster", risk)))
            c.measure_rows.append(_measure(h, T.MATCHING_MEASURES[risk][0], c.shifted(-6), ident))
        else:
            c.cases.append(_Case(h, ident, (("accident", "lack_of_labour", "other")[(i // 3) % 3],)))


def _plant_assistance_no_development(c: _Planting) -> None:
    """帮扶消除 with no development-type measure in effect (half with an industry measure that ended
    before the identification); near misses: employment from the identification, finance open since
    before it, a public welfare job started in the month of elimination, and a 自然消除 with none."""
    ident, elim = c.shifted(-7), c.shifted(-3)
    chosen = c.pick.pick(_quiet(c, unassisted=True, years=[elim // 100]), c.k)
    for i, h in enumerate(chosen):
        _eliminated(c, h, ident, elim, "by_assistance")
        if i % 2 == 1:
            c.measure_rows.append(_measure(h, "industry", c.shifted(-8), c.shifted(-8)))
    c.planted["assistance_no_development"] = chosen
    c.near["assistance_no_development"] = c.pick.pick(_quiet(c, unassisted=True, years=[elim // 100]), c.k + 1)
    for i, h in enumerate(c.near["assistance_no_development"]):
        j = i % 4
        _eliminated(c, h, ident, elim, "natural" if j == 3 else "by_assistance")
        if j < 3:
            c.measure_rows.append(_measure(h, *(("employment", ident), ("finance", c.shifted(-8)), ("public_welfare_job", elim))[j]))


def _plant_eliminated_too_fast(c: _Planting) -> None:
    """Eliminations 0, 1 and 2 months after identification; near misses 3 months after (the boundary)
    and 5 months after, and cases still monitored."""
    k, ident = c.k, c.shifted(-6)
    years = {sio.shift_period(ident, g) // 100 for g in range(6)}
    fast = c.pick.pick(_quiet(c, years=years), k)
    c.planted["eliminated_too_fast"] = fast
    for i, h in enumerate(fast):
        _eliminated(c, h, ident, sio.shift_period(ident, i % (T.FAST_ELIMINATION_MONTHS + 1)))
    c.near["eliminated_too_fast"] = c.pick.pick(_quiet(c, years=years), k)
    for i, h in enumerate(c.near["eliminated_too_fast"]):
        _eliminated(c, h, ident, sio.shift_period(ident, T.FAST_ELIMINATION_MONTHS + 1 + 2 * (i % 2)))
    still = c.pick.pick(_quiet(c), k)
    c.near["eliminated_too_fast"] += still
    for h in still:
        c.cases.append(_Case(h, c.shifted(-2), ("unstable_work",), "unstable_former_poor"))
        c.measure_rows.append(_measure(h, "employment", c.shifted(-2)))


def _plant_eliminated_below_line(c: _Planting) -> None:
    """Eliminated while the year's income per head is below its line (households below the line mostly
    have clues: any household not monitored will do); near misses just above it."""
    ident, elim = c.shifted(-7), c.shifted(-3)
    y = elim // 100
    chosen = c.pick.pick(_quiet(c, years=[y], band=(0.0, 1.0), with_clues=True), c.k)
    for h in chosen:
        _eliminated(c, h, ident, elim)
    c.planted["eliminated_below_line"] = chosen
    c.near["eliminated_below_line"] = c.pick.pick(_quiet(c, years=[y], band=(1.0, 1.15)) or _quiet(c, years=[y]), c.k)
    for h in c.near["eliminated_below_line"]:
        _eliminated(c, h, ident, elim)


#: The faults ``procedure_skipped`` plants, in turn.
SKIPPED_CHAINS = ("none", "no_notice", "check_rejected", "withdrawn")


def _plant_procedure(c: _Planting) -> None:
    """Eliminations that took effect without the whole official procedure (``SKIPPED_CHAINS`` in
    turn) or with a notice two days short; near misses: the whole chain again after a return, and
    the township check on the notice's last day.  Clean otherwise: identified seven months ago,
    eliminated four months later (``_eliminated``) with the year's income above its line."""
    ident, elim = c.shifted(-7), c.shifted(-3)
    y = elim // 100
    for code, faults, near in (("procedure_skipped", SKIPPED_CHAINS, ("resubmitted",)), ("notice_too_short", ("short_notice",), ("exact_notice",))):
        chosen = c.pick.pick(_quiet(c, years=[y]), c.k)
        for i, h in enumerate(chosen):
            _eliminated(c, h, ident, elim, chain=faults[i % len(faults)])
        c.planted[code] = chosen
        c.near[code] = c.pick.pick(_quiet(c, years=[y]), c.k)
        for i, h in enumerate(c.near[code]):
            _eliminated(c, h, ident, elim, chain=near[i % len(near)])


def _plant_school_not_enrolled(c: _Planting) -> None:
    """A child of compulsory school age not enrolled."""
    alive = c.alive
    age = alive["age"]
    cand = alive[(age >= T.SCHOOL_AGES[0]) & (age <= T.SCHOOL_AGES[1]) & alive["schooling"].isin(("primary", "junior"))]
    chosen = c.pick.pick(cand["household_id"], c.k)
    for mid in cand[cand["household_id"].isin(chosen)].drop_duplicates("household_id")["member_id"]:
        c.member_updates.append({"member_id": int(mid), "schooling": "none"})
    c.planted["school_not_enrolled"] = chosen


def _plant_unsafe_house_secured(c: _Planting) -> None:
    """An unsafe house marked housing-secure."""
    c.planted["unsafe_house_secured"] = c.pick.pick(c.pan[c.pan["housing_grade"].fillna(0) >= T.UNSAFE_GRADE]["household_id"], c.k)


def _plant_welfare_job_no_labour(c: _Planting) -> None:
    """A public welfare job held by someone without labour capacity."""
    alive = c.alive
    cand = alive[alive["labour_capacity"].isin(("lost", "none")) & (alive["age"] >= 18) & ~alive["public_welfare_job"]]
    chosen = c.pick.pick(cand["household_id"], c.k)
    for mid in cand[cand["household_id"].isin(chosen)].drop_duplicates("household_id")["member_id"]:
        c.member_updates.append({"member_id": int(mid), "public_welfare_job": True})
    c.planted["welfare_job_no_labour"] = chosen


#: The plantings in the order they draw from the random stream (and pick households).
STEPS: tuple[Callable[[_Planting], None], ...] = (
    _plant_deceased_benefit, _plant_death_not_recorded, _plant_income_vs_dept, _plant_official_relative_dibao, _plant_duplicate_person,
    _plant_no_labour_wage, _plant_identical_income, _plant_medical_no_clue, _plant_eliminated_too_fast, _plant_school_not_enrolled,
    _plant_unsafe_house_secured, _plant_welfare_job_no_labour, _plant_risk_no_measure, _plant_assistance_no_development, _plant_eliminated_below_line,
    _plant_procedure,
)


def _history(conn: Connection, cases: list[_Case]) -> None:
    """The cases' monitoring history as the workflow writes it: the identification, then for an
    eliminated case the proposal and the approved elimination pointing at it."""
    def row(cs: _Case, period: int, status: str, day: int) -> dict:
        return {"household_id": cs.household_id, "period": period, "status": status, "category": cs.category, "risk_types": ",".join(cs.risks),
                "method": cs.method if status != "monitored" else None, "recorded_at": _at(period, day), "recorded_by": "demo_cadre"}

    dstore.insert_rows(conn, "monitoring", [row(cs, cs.ident, "monitored", 15) for cs in cases])
    done = sorted((cs for cs in cases if cs.elim is not None), key=lambda cs: cs.household_id)
    dstore.insert_rows(conn, "monitoring", [row(cs, int(cs.elim), "proposed", 5) for cs in done])
    ids = dstore.proposal_ids(conn, [cs.household_id for cs in done])
    dstore.insert_rows(conn, "monitoring", [{**row(cs, int(cs.elim), "eliminated", 25), "approved_by": "demo_head", "proposal_id": int(ids[cs.household_id])}
                                            for cs in done])


#: The demo's people who take the planted cases' steps (each step by someone else, as the procedure requires).
_OPENER, _CHECKER, _APPROVER = "demo_cadre", "demo_township", "demo_head"
_DAY = timedelta(days=1)


def _case(conn: Connection, cs: _Case, kind: str, effect_at: datetime, chain: str, nd: int, proposal_id: int | None = None) -> None:
    """One case of ``cs`` as the workflow writes it (the case, its steps), its county approval at
    ``effect_at`` (when the history's row took effect) and the earlier steps counted back from it."""
    county = effect_at
    check = county - _DAY
    notice = check - _DAY * ({"short_notice": max(0, nd - 2), "exact_notice": nd}.get(chain, nd + 1))
    review = notice - _DAY
    opened_at = review - _DAY * (4 if chain == "resubmitted" else 1)
    if proposal_id is not None:  # an elimination's case opens with its proposal
        opened_at = min(opened_at, _at(int(cs.elim), 5))
    end = notice.date() + timedelta(days=nd)
    steps: list[tuple[str, str, str, datetime]] = []
    if chain == "resubmitted":  # returned by the village meeting once, then the whole chain again
        steps += [("village_review", "rejected", _OPENER, opened_at + _DAY), ("resubmitted", "done", _OPENER, opened_at + 2 * _DAY)]
    steps += [("village_review", "passed", _OPENER, review), ("notice", "done", _OPENER, notice),
              ("township_check", "rejected" if chain == "check_rejected" else "passed", _CHECKER, check), ("county_approval", "passed", _APPROVER, county)]
    if chain == "no_notice":
        steps = [s for s in steps if s[0] != "notice"]
    if chain == "withdrawn":
        steps = [*steps[:3], ("withdrawn", "done", _OPENER, county - timedelta(hours=2))]
    state = "withdrawn" if chain == "withdrawn" else "approved"
    last = steps[-1][3]
    case_id = case_store.insert_case(conn, {
        "household_id": cs.household_id, "kind": kind, "origin": "proposal" if kind == "elimination" else "cadre", "order_id": None,
        "proposal_id": proposal_id, "period": int(cs.elim if kind == "elimination" else cs.ident), "category": cs.category,
        "risk_types": ",".join(cs.risks), "method": cs.method if kind == "elimination" else None, "state": state, "closed": True,
        "opened_by": _OPENER, "opened_at": opened_at, "notice_start": None if chain == "no_notice" else notice.date(),
        "notice_end": None if chain == "no_notice" else end, "version": len(steps) + 1, "updated_at": last, "updated_by": steps[-1][2],
    })
    case_store.insert_step(conn, {"case_id": case_id, "step": "opened", "result": "done", "done_by": _OPENER, "done_at": opened_at})
    for step, result, who, at in steps:
        case_store.insert_step(conn, {
            "case_id": case_id, "step": step, "result": result, "done_by": who, "done_at": at,
            "step_date": at.date() if step in ("village_review", "notice") else None, "notice_end": end if step == "notice" else None,
            "reason": "材料不全 / papers incomplete" if result == "rejected" else ("补充材料后重新提交 / resubmitted" if step == "resubmitted" else None),
        })


def _procedure(conn: Connection, cases: list[_Case]) -> None:
    """Each planted case's cases of the official procedure: its inclusion (approved when its
    ``monitored`` row was written) and, when eliminated, its elimination (approved when its
    ``eliminated`` row was; ``chain`` says how: a planted fault, a near miss, or complete)."""
    nd = meta_store.notice_days(conn)
    done = [cs for cs in cases if cs.elim is not None]
    ids = dstore.proposal_ids(conn, [cs.household_id for cs in done])
    for cs in sorted(cases, key=lambda x: x.household_id):
        _case(conn, cs, "inclusion", _at(cs.ident, 15), "complete", nd)
        if cs.elim is not None and cs.chain != "none":
            _case(conn, cs, "elimination", _at(int(cs.elim), 25), cs.chain, nd, ids[cs.household_id])


def _measure_columns(rows: list[dict]) -> dict[str, np.ndarray]:
    keys = ["household_id", "period", "measure", "amount", "description", "cadre", "end_period"]
    return {k: np.array([r[k] for r in rows], dtype=object) for k in keys}


def _write(engine: Engine, c: _Planting, totals: dict[str, int]) -> None:
    """Every planted change in one transaction, with the expected totals in ``meta``."""
    with engine.begin() as conn:
        dstore.update_members(conn, c.member_updates)
        dstore.update_panel(conn, c.period, c.panel_updates)
        dstore.insert_rows(conn, "dept_records", c.dept_rows)
        dstore.insert_rows(conn, "official_relations", c.relation_rows)
        dstore.mark_housing_secured(conn, c.planted["unsafe_house_secured"])
        if c.cases:
            dstore.write_columns(conn, "assistance", _measure_columns(c.measure_rows))
            _history(conn, c.cases)
            _procedure(conn, c.cases)
            recs = mrstore.records_from_history(conn)  # each case's record as its history gives it
            mrstore.write_records(conn, recs[recs["household_id"].isin({cs.household_id for cs in c.cases})], _at(c.period, 28))
        sio.set_meta(conn, "planted_findings", json.dumps(totals, sort_keys=True))
        sio.set_meta(conn, "planted_households", json.dumps({code: c.planted.get(code, []) for code in sorted(totals)}, sort_keys=True))
        sio.set_meta(conn, "planted_near_misses", json.dumps(c.near, sort_keys=True))
        sio.bump_data_version(conn)


def _match_recorded_risks(engine: Engine, period: int) -> None:
    """Give every risk type of the county's monitoring records that has no matching measure one from
    its identification month (the first of ``MATCHING_MEASURES``), and name a development-type one in
    the record's 实施开发式帮扶措施情况 too."""
    with engine.begin() as conn:
        d = month.MonthData(conn, period)
        miss = record.unmatched_risks(d)
        if miss.empty:
            return
        start = d.records.set_index("household_id")["start"]
        when = miss["household_id"].map(start).fillna(period).astype(int)
        measure = miss["risk"].map(lambda r: T.MATCHING_MEASURES[r][0])
        dstore.write_columns(conn, "assistance", _measure_columns([_measure(h, m, p) for h, m, p in zip(miss["household_id"], measure, when)]))
        dev = miss.assign(measure=measure)[measure.isin(mrstore.DEVELOPMENT_MEASURES)]
        if dev.empty:
            return
        recs = mrstore.records(conn, dev["household_id"].unique().tolist()).drop(columns=["no_labour_guarantee", "updated_at"])
        added = dev.groupby("household_id")["measure"].agg(set)
        had = recs["development_measures"].fillna("").astype(str).str.split(",").map(lambda xs: {x for x in xs if x})
        codes = [had_i | added[h] for h, had_i in zip(recs["household_id"], had)]
        recs["development_measures"] = [",".join(m for m in mrstore.DEVELOPMENT_MEASURES if m in cs) for cs in codes]
        mrstore.write_records(conn, recs, _at(period, 28))


def plant_findings(engine: Engine, spec: DemoSpec, rng: np.random.Generator | None = None) -> dict[str, int]:
    """Plant each rule's cases; returns rule -> expected findings in the last month (natural + planted)."""
    rng = rng if rng is not None else np.random.default_rng([int(spec.seed), 0x5E1F])
    with engine.begin() as conn:  # the roster's housing-security marks agree with the month's grade
        dstore.secure_housing_by_grade(conn, int(spec.periods[-1]), T.UNSAFE_GRADE)
    _match_recorded_risks(engine, int(spec.periods[-1]))  # and every recorded risk type has its measure
    c, nat = _read(engine, spec, rng)
    for step in STEPS:
        step(c)
    totals = {r.code: int(nat.get(r.code, 0)) + len(c.planted.get(r.code, [])) for r in R.RULES}
    _write(engine, c, totals)
    return totals


__all__ = ["plant_findings", "planted_counts"]
