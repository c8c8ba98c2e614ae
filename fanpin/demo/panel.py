"""The demo county's months: incomes, spending and the events that move them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from fanpin.core.clue_text import coded
from fanpin.demo.geography import Geography, township_adjacency
from fanpin.demo.population import Population
from fanpin.demo.spec import DemoSpec, Progress
from fanpin.store import demo as dstore
from fanpin.store import io as sio
from fanpin.store.clues import insert_clues


# --------------------------------------------------------------------------- shocks
@dataclass(frozen=True)
class AreaShock:
    """A hidden shock on an area: which townships or villages, when, how hard."""

    kind: str  # flood / drought / factory_closure / price_crash
    period: int
    townships: tuple[int, ...] = ()
    villages: tuple[int, ...] = ()
    hit_prob: float = 0.5
    severity: float = 0.5
    duration: int = 6


def _plan_area_shocks(rng: np.random.Generator, spec: DemoSpec, geo: Geography, pop: Population) -> list[AreaShock]:
    periods = spec.periods
    codes = [t.code for t in geo.townships]
    adj = township_adjacency(geo.townships)
    idx = {c: i for i, c in enumerate(codes)}

    def cluster(size: int) -> tuple[int, ...]:
        seed = int(rng.integers(len(codes)))
        out = [seed]
        for nb in adj.get(codes[seed], []):
            if len(out) >= size:
                break
            out.append(idx[nb])
        return tuple(out)

    def month_of(year_offset: int, month: int) -> int | None:
        p = (spec.start // 100 + year_offset) * 100 + month
        return p if p in periods else None

    shocks: list[AreaShock] = []
    for year in range(max(1, len(periods) // 12 + 1)):
        p = month_of(year, 7)
        if p is not None:
            shocks.append(AreaShock("flood", p, townships=cluster(3), hit_prob=0.45, severity=0.6, duration=9))
        p = month_of(year, 8) if year % 2 == 0 else None
        if p is not None:
            shocks.append(AreaShock("drought", p, townships=cluster(2), hit_prob=0.5, severity=0.4, duration=6))
    p = month_of(1, 3) or (periods[len(periods) // 2] if len(periods) > 2 else None)
    if p is not None:
        shocks.append(AreaShock("factory_closure", p, townships=cluster(2), hit_prob=0.55, severity=1.0, duration=7))
    crop_villages = np.unique(pop.hh_village[pop.cash_crop])
    p = month_of(1, 10) or month_of(0, 10)
    if p is not None and len(crop_villages):
        chosen = rng.choice(crop_villages, size=max(1, len(crop_villages) // 2), replace=False)
        shocks.append(AreaShock("price_crash", p, villages=tuple(int(v) for v in chosen), hit_prob=0.9, severity=0.55, duration=12))
    return shocks


# --------------------------------------------------------------------------- panel simulation
_CLUE_SOURCES = {
    "illness": ("department", "medical_insurance"),
    "disaster": ("department", "emergency"),
    "housing": ("department", "housing"),
    "schooling": ("department", "education"),
    "unstable_work": ("department", "hrss"),
    "disability": ("department", "disability_federation"),
    "dibao": ("department", "civil_affairs"),
}


#: How household events reach the database: (share recorded, probabilities of 0, 1, 2 months' delay).
#: Not every illness is settled through medical insurance, not every lost job is registered,
#: and department feeds arrive a month or two after the fact (the recorded period is the arrival).
EVENT_RECORDING: dict[str, tuple[float, tuple[float, ...]]] = {
    "illness": (0.7, (0.2, 0.5, 0.3)),
    "accident": (0.5, (0.5, 0.5)),
    "job_loss": (0.5, (0.6, 0.4)),
    "price_crash": (0.6, (0.0, 1.0)),
    "flood": (0.9, (0.6, 0.4)),
    "drought": (0.9, (0.6, 0.4)),
    "school_entry": (1.0, (1.0,)),
}
#: Department feeds' delay (months) by source; cadre visits and self-reports arrive in their month.
CLUE_DELAY: dict[str, tuple[float, ...]] = {
    "medical_insurance": (0.2, 0.5, 0.3),
    "emergency": (0.6, 0.4),
    "housing": (0.3, 0.4, 0.3),
    "education": (0.7, 0.3),
    "hrss": (0.5, 0.5),
    "disability_federation": (0.2, 0.5, 0.3),
    "civil_affairs": (0.6, 0.4),
}
#: Share of work losses the panel's ``job_lost`` flag hears of (registration, a cadre's visit).
JOB_LOSS_SEEN = 0.7


def _delay(obs: np.random.Generator, n: int, p: tuple[float, ...]) -> np.ndarray:
    return obs.choice(len(p), size=n, p=p) if len(p) > 1 else np.zeros(n, dtype=np.int64)


class _Sink:
    """Collects events and clues as column lists, flushed to the database in bulk.

    What it records is what reaches a bureau: ``obs`` (an observation stream of its own, so the
    county's incomes do not depend on it) drops the events no feed reports and delays the feeds
    (``EVENT_RECORDING``, ``CLUE_DELAY``); records arriving after ``end`` are not in the database.
    """

    def __init__(self, obs: np.random.Generator | None = None, end: int | None = None) -> None:
        self.obs, self.end = obs, end
        self.events: dict[str, list] = {k: [] for k in ("period", "event_type", "household_id", "region_code", "severity", "amount", "description")}
        self.clues: dict[str, list] = {k: [] for k in ("household_id", "period", "channel", "source", "risk_type", "detail", "amount", "received_at")}

    def _recorded(self, period: int, kind: str, n: int, household: bool) -> tuple[np.ndarray, np.ndarray]:
        """(kept mask, recorded period) of ``n`` household events of ``kind`` in ``period``."""
        if self.obs is None or not household or kind not in EVENT_RECORDING:
            return np.ones(n, dtype=bool), np.full(n, period)
        share, delay = EVENT_RECORDING[kind]
        keep = self.obs.random(n) < share
        return keep, _shifted(period, _delay(self.obs, n, delay))

    def event(self, period: int, kind: str, hids: np.ndarray, region: np.ndarray | str | None, severity: np.ndarray | float | None, amount: np.ndarray | float | None, description: str) -> None:
        n = len(hids)
        if n == 0:
            return
        keep, when = self._recorded(period, kind, n, hids[0] is not None)
        if self.end is not None:
            keep &= when <= self.end
        if not keep.all():
            hids = np.asarray(hids, dtype=object)[keep]
            severity = severity if np.ndim(severity) == 0 else np.asarray(severity)[keep]
            amount = amount if np.ndim(amount) == 0 else np.asarray(amount)[keep]
            when, n = when[keep], int(keep.sum())
            if n == 0:
                return
        self.events["period"].append(when)
        self.events["event_type"].append(np.full(n, kind, dtype=object))
        self.events["household_id"].append(np.asarray(hids, dtype=object))
        self.events["region_code"].append(np.broadcast_to(np.asarray(region, dtype=object), (n,)))
        self.events["severity"].append(np.broadcast_to(np.asarray(severity, dtype=float), (n,)))
        self.events["amount"].append(np.broadcast_to(np.asarray(amount, dtype=float), (n,)))
        self.events["description"].append(np.full(n, description, dtype=object))

    def clue(self, rng: np.random.Generator, period: int, hids: np.ndarray, risk_type: str, channel: str, source: str, detail: str, amount: np.ndarray | float | None = None) -> None:
        n = len(hids)
        if n == 0:
            return
        day = rng.integers(1, 29, n)
        hour = rng.integers(8, 18, n)
        when = np.full(n, period)
        if self.obs is not None and source in CLUE_DELAY:
            when = _shifted(period, _delay(self.obs, n, CLUE_DELAY[source]))
        keep = when <= self.end if self.end is not None else np.ones(n, dtype=bool)
        hids, day, hour, when = np.asarray(hids, dtype=object)[keep], day[keep], hour[keep], when[keep]
        if np.ndim(amount) and amount is not None:
            amount = np.asarray(amount)[keep]
        n = len(hids)
        if n == 0:
            return
        ym = np.char.add(np.char.add(np.char.zfill((when // 100).astype(str), 4), "-"), np.char.zfill((when % 100).astype(str), 2))
        received = np.char.add(np.char.add(ym, "-"), np.char.add(np.char.zfill(day.astype(str), 2), np.char.add(" ", np.char.add(np.char.zfill(hour.astype(str), 2), ":00:00"))))
        self.clues["household_id"].append(hids)
        self.clues["period"].append(when)
        self.clues["channel"].append(np.full(n, channel, dtype=object))
        self.clues["source"].append(np.full(n, source, dtype=object))
        self.clues["risk_type"].append(np.full(n, risk_type, dtype=object))
        self.clues["detail"].append(np.full(n, detail, dtype=object))
        self.clues["amount"].append(np.broadcast_to(np.asarray(amount if amount is not None else np.nan, dtype=float), (n,)))
        self.clues["received_at"].append(received.astype(object))

    @staticmethod
    def _concat(d: dict[str, list]) -> dict[str, np.ndarray]:
        if not d["period"]:
            return {}
        return {k: np.concatenate([np.asarray(v) for v in vs]) for k, vs in d.items()}

    def frames(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        return self._concat(self.events), self._concat(self.clues)


def _shifted(period: int, months: np.ndarray) -> np.ndarray:
    """``period`` (YYYYMM) moved on by ``months`` (an array), as YYYYMM."""
    k = (period // 100) * 12 + (period % 100 - 1) + np.asarray(months, dtype=np.int64)
    return (k // 12) * 100 + k % 12 + 1


def _school_cost(age: np.ndarray, student: np.ndarray) -> np.ndarray:
    """Monthly schooling cost by stage (compulsory schooling is free; boarding and fees are not)."""
    m = np.zeros(len(age))
    m[(age >= 6) & (age <= 14)] = 120.0
    m[(age >= 15) & (age <= 17)] = 550.0
    m[(age >= 18) & (age <= 21)] = 1300.0
    return np.where(student, m, 0.0)


_WINDOW = 12  # months in the rolling sums
_RING_KEYS = ("wage", "business", "cost", "property", "transfer", "oop", "school", "loss", "worked", "benefit")
_AREA_NAMES = {"flood": "洪涝灾害", "drought": "干旱", "factory_closure": "外省工厂关停", "price_crash": "经济作物价格暴跌"}


def _months_between(earlier: int, later: int) -> int:
    return (later // 100 * 12 + later % 100) - (earlier // 100 * 12 + earlier % 100)


@dataclass
class PanelEnd:
    """What the build needs after the last month: row counts, the feeds' clues (assistance follows
    them), and the end-of-panel housing grades and benefit flags (the roster shows them)."""

    counts: dict[str, int]
    clues: dict[str, np.ndarray]
    house_grade: np.ndarray
    dibao: np.ndarray
    tekun: np.ndarray


class PanelSimulation:
    """The demo county month by month: hidden shock state in attributes, one ``step`` per month.

    The constructor draws the baseline flows and the area shocks, then burns in twelve months of
    ordinary life so the rolling sums start full; each ``step(period)`` draws that month's shocks,
    updates the state and returns the month's panel columns.  The random draws happen in a fixed
    order (constructor, then the steps in month order, and within a step in the order of its
    helpers), so one seed always makes the same county.  Events and clues collect in ``sink``.
    """

    def __init__(self, spec: DemoSpec, geo: Geography, pop: Population, hids: np.ndarray, rng: np.random.Generator) -> None:
        self.spec, self.pop, self.hids, self.rng = spec, pop, hids, rng
        self.n = n = spec.households
        self.hh = hh = pop.hh
        self.periods = spec.periods
        self.index = {p: t for t, p in enumerate(self.periods)}
        self.end = self.periods[-1]
        self.lines = spec.lines()
        self.shocks = _plan_area_shocks(rng, spec, geo, pop)
        self.t_codes = np.array([t.code for t in geo.townships], dtype=object)
        self.v_codes = np.array([v.code for v in geo.villages], dtype=object)
        # what reaches the database is drawn from a stream of its own: the county's lives are the same
        self.obs = np.random.default_rng([spec.seed, 0x0B5E])
        self.sink = _Sink(self.obs, self.end)
        # monthly baseline flows (yuan per month) per household
        self.business = (pop.farmland * 95.0 + pop.livestock * 900.0 + pop.cash_crop * 700.0) * rng.lognormal(0, 0.3, n)
        self.prop = np.where(pop.former_poor, rng.uniform(40, 130, n), rng.uniform(0, 60, n)) + pop.farmland * 0.2 * 50.0
        elderly = np.bincount(hh, weights=(pop.age >= 60), minlength=n)
        # children working elsewhere support parents who live on their own (赡养费, a transfer)
        n_lab = np.bincount(hh, weights=pop.labour == 0, minlength=n)
        family_support = np.where((n_lab == 0) & (elderly > 0), rng.uniform(150, 400, n), 0.0)
        self.transfer = elderly * 230.0 + 25.0 + family_support  # pension, ecological compensation, support
        self.base_oop = np.bincount(hh, weights=(pop.health == 1) * 45.0 + (pop.health == 2) * 260.0, minlength=n)
        self.latent = np.zeros(n)  # AR(1) wage noise
        self._init_shock_state(rng)
        self.ring = {k: np.zeros((_WINDOW, n), dtype=np.float64) for k in _RING_KEYS}
        self._loss_now: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for k in range(_WINDOW):
            flows = self._flows(-_WINDOW + k, sio.shift_period(spec.start, -_WINDOW + k))
            for key, arr in flows.items():
                self.ring[key][k] = arr

    def _init_shock_state(self, rng: np.random.Generator) -> None:
        """The hidden state the shocks move: wage and business cuts, medical bills, debt, benefits."""
        n, hh, pop = self.n, self.hh, self.pop
        self.wage_cut_until = np.full(n, -1)
        self.wage_cut = np.zeros(n)  # fraction of household wage lost
        self.biz_cut_until = np.full(n, -1)
        self.biz_cut = np.zeros(n)
        self.oop_until = np.full(n, -1)
        self.oop_month = np.zeros(n)
        self.member_wage = pop.wage_rate * (pop.labour <= 1)
        self.hh_wage = np.bincount(hh, weights=self.member_wage, minlength=n)
        self.hh_workers = np.bincount(hh, weights=self.member_wage > 0, minlength=n)
        self.debt = np.where(rng.random(n) < 0.25, rng.lognormal(9.0, 0.8, n), 0.0)
        self.house_grade = pop.house_grade.copy()
        self.dibao = np.zeros(n, dtype=bool)
        self.lost_work_seen = np.full(n, -99)  # the month (index) a recorded work loss last began
        first_member = pop.age[np.concatenate([[0], np.cumsum(pop.size)[:-1]])]
        self.tekun = (pop.size == 1) & (np.bincount(hh, weights=pop.labour >= 2, minlength=n) >= 1) & (first_member >= 60) & (rng.random(n) < 0.5)

    # ------------------------------------------------------------------ flows
    def _flows(self, t: int, period: int) -> dict[str, np.ndarray]:
        """The month's flows per household (yuan), given the shock state; draws the wage noise."""
        pop, n, hh = self.pop, self.n, self.hh
        self.latent = 0.8 * self.latent + self.rng.normal(0, 0.09, n)
        age_t = pop.age - _months_between(period, self.end) / 12.0
        cut = np.where(self.wage_cut_until >= t, self.wage_cut, 0.0)
        seasonal = 1.0 - 0.15 * (period % 100 in (1, 2))  # Spring Festival at home
        bcut = np.where(self.biz_cut_until >= t, self.biz_cut, 0.0)
        return {
            "wage": self.hh_wage * np.exp(self.latent) * (1 - cut) * seasonal,
            "business": self.business * (1 - bcut),
            "cost": self.business * 0.38,
            "property": self.prop,
            "transfer": self.transfer,
            "oop": np.where(self.oop_until >= t, self.oop_month, 0.0) + self.base_oop,
            "school": np.bincount(hh, weights=_school_cost(age_t, pop.extra["student"]), minlength=n),
            "loss": np.zeros(n),
            "worked": self.hh_workers * (1 - cut) * seasonal,
            "benefit": np.zeros(n),
        }

    def _cut_wages(self, idx: np.ndarray, until: np.ndarray | int, t: int) -> None:
        """One worker's share of the household wage lost until ``until`` (the larger cut holds)."""
        self.wage_cut_until[idx] = until
        self.wage_cut[idx] = np.maximum(self.wage_cut[idx], 1.0 / np.maximum(self.hh_workers[idx], 1))
        self._lost_work(idx, t)

    def _lost_work(self, idx: np.ndarray, t: int) -> None:
        """A member of these households lost work in month ``t``; the panel's ``job_lost`` hears of
        ``JOB_LOSS_SEEN`` of such losses (drawn from the observation stream).  How long the loss
        lasts stays hidden: the flag says only that one began in the last 3 months."""
        seen = idx[self.obs.random(len(idx)) < JOB_LOSS_SEEN]
        self.lost_work_seen[seen] = t

    # ------------------------------------------------------------------ household shocks
    def _illness(self, t: int, period: int) -> None:
        """Serious illness: hazard rises with age; heavy-tailed costs, 30-45% out of pocket."""
        rng, pop, hh = self.rng, self.pop, self.hh
        mem_p = (0.0007 + 0.00005 * np.maximum(pop.age - 30, 0)) * np.where(pop.health > 0, 2.0, 1.0)
        sick_h = np.unique(hh[rng.random(len(hh)) < mem_p])
        if not len(sick_h):
            return
        total_cost = np.minimum(rng.lognormal(10.3, 0.9, len(sick_h)), 600_000.0)
        oop_share = rng.uniform(0.3, 0.45, len(sick_h))
        months = rng.integers(2, 7, len(sick_h))
        self.oop_until[sick_h] = t + months - 1
        self.oop_month[sick_h] = total_cost * oop_share / months
        lose = rng.random(len(sick_h)) < 0.6
        self._cut_wages(sick_h[lose], t + rng.integers(4, 12, lose.sum()), t)
        self.debt[sick_h] += total_cost * oop_share * rng.uniform(0.2, 0.7, len(sick_h))
        self.sink.event(period, "illness", self.hids[sick_h], None, None, np.round(total_cost, -1), "重大疾病住院 / serious illness")
        report = sick_h[(total_cost * oop_share > 10_000) & (rng.random(len(sick_h)) < 0.9)]
        rep_amt = np.round(self.oop_month[report] * (self.oop_until[report] - t + 1), -1)
        self.sink.clue(rng, period, self.hids[report], "illness", "department", "medical_insurance", coded("medical_settlement"), rep_amt)

    def _accidents(self, t: int, period: int) -> None:
        """Accidents: medical cost and sometimes a lasting disability."""
        rng, hids = self.rng, self.hids
        acc = np.flatnonzero(rng.random(self.n) < 0.0004)
        if not len(acc):
            return
        cost = rng.lognormal(9.6, 0.8, len(acc))
        self.oop_until[acc] = t + 2
        self.oop_month[acc] = np.maximum(self.oop_month[acc], cost * 0.4 / 3)
        disabled = rng.random(len(acc)) < 0.35
        self._cut_wages(acc[disabled], t + 36, t)
        self.sink.event(period, "accident", hids[acc], None, disabled.astype(float), np.round(cost, -1), "意外事故 / accident")
        rep = acc[disabled & (rng.random(len(acc)) < 0.7)]
        self.sink.clue(rng, period, hids[rep], "disability", "department", "disability_federation", coded("disability_certificate"))
        selfr = acc[~disabled & (rng.random(len(acc)) < 0.3)]
        self.sink.clue(rng, period, hids[selfr], "accident", "self_report", "household", coded("self_report_accident"))

    def _job_loss(self, t: int, period: int) -> None:
        """Individual job loss of a migrant worker."""
        rng = self.rng
        jl = np.flatnonzero((self.hh_wage > 0) & (rng.random(self.n) < 0.003))
        if not len(jl):
            return
        self._cut_wages(jl, t + rng.integers(2, 6, len(jl)), t)
        self.sink.event(period, "job_loss", self.hids[jl], None, None, None, "务工人员失业 / migrant worker lost job")
        rep = jl[rng.random(len(jl)) < 0.3]
        self.sink.clue(rng, period, self.hids[rep], "unstable_work", "department", "hrss", coded("unemployment_registration"))

    def _school_entries(self, period: int) -> None:
        """School entries in September: senior high and college cost jumps."""
        if period % 100 != 9:
            return
        pop, rng = self.pop, self.rng
        age_t = np.floor(pop.age - _months_between(period, self.end) / 12.0)
        ent_h = np.unique(self.hh[pop.extra["student"] & ((age_t == 15) | (age_t == 18))])
        if len(ent_h):
            self.sink.event(period, "school_entry", self.hids[ent_h], None, None, None, "子女升入高中或大学 / child enters high school or college")
            watch = ent_h[(pop.former_poor[ent_h]) & (rng.random(len(ent_h)) < 0.6)]
            self.sink.clue(rng, period, self.hids[watch], "schooling", "department", "education", coded("school_change"))

    # ------------------------------------------------------------------ area shocks
    def _area_shock(self, s: AreaShock, t: int, period: int) -> None:
        """One planned shock hitting its townships or villages this month."""
        pop = self.pop
        if s.townships:
            in_area = np.isin(pop.hh_township, s.townships)
            region_codes = [self.t_codes[i] for i in s.townships]
        else:
            in_area = np.isin(pop.hh_village, s.villages)
            region_codes = [self.v_codes[i] for i in s.villages]
        for rc in region_codes:
            self.sink.event(period, s.kind, np.array([None], dtype=object), rc, s.severity, None, _AREA_NAMES[s.kind])
        if s.kind == "factory_closure":
            self._factory_closure(s, in_area, t, period)
        elif s.kind == "price_crash":
            self._price_crash(s, in_area, t, period)
        else:
            self._disaster(s, in_area, t, period)

    def _factory_closure(self, s: AreaShock, in_area: np.ndarray, t: int, period: int) -> None:
        rng, pop, hh, n = self.rng, self.pop, self.hh, self.n
        hit = np.flatnonzero(in_area & (np.bincount(hh, weights=pop.work_loc == 3, minlength=n) > 0) & (rng.random(n) < s.hit_prob))
        share = np.bincount(hh, weights=self.member_wage * (pop.work_loc == 3), minlength=n)[hit] / np.maximum(self.hh_wage[hit], 1)
        self.wage_cut_until[hit] = t + rng.integers(3, s.duration + 3, len(hit))
        self.wage_cut[hit] = np.clip(share * s.severity, 0, 1)
        self._lost_work(hit, t)
        self.sink.event(period, "job_loss", self.hids[hit], None, share, None, "工厂关停失业返乡 / factory closure")
        rep = hit[rng.random(len(hit)) < 0.6]
        self.sink.clue(rng, period, self.hids[rep], "unstable_work", "department", "hrss", coded("factory_closure"))

    def _price_crash(self, s: AreaShock, in_area: np.ndarray, t: int, period: int) -> None:
        rng = self.rng
        hit = np.flatnonzero(in_area & self.pop.cash_crop & (rng.random(self.n) < s.hit_prob))
        self.biz_cut_until[hit] = t + s.duration
        self.biz_cut[hit] = np.maximum(self.biz_cut[hit], s.severity)
        self.sink.event(period, "price_crash", self.hids[hit], None, s.severity, None, "经济作物价格下跌 / cash crop price crash")
        rep = hit[rng.random(len(hit)) < 0.08]
        self.sink.clue(rng, period, self.hids[rep], "industry_failure", "cadre_visit", "cadre", coded("farm_income_collapse"))

    def _disaster(self, s: AreaShock, in_area: np.ndarray, t: int, period: int) -> None:
        """Floods and droughts: a loss this month, cut farm income, sometimes a damaged house."""
        rng, hids = self.rng, self.hids
        hit = np.flatnonzero(in_area & (rng.random(self.n) < s.hit_prob))
        sev = s.severity * rng.beta(2, 2, len(hit))
        loss = np.round((self.business[hit] * 12 * sev + (s.kind == "flood") * rng.lognormal(8.5, 1.0, len(hit)) * (rng.random(len(hit)) < 0.4)), -1)
        self.biz_cut_until[hit] = t + s.duration
        self.biz_cut[hit] = np.maximum(self.biz_cut[hit], sev)
        self._loss_now[t] = (hit, loss)  # a second disaster in the same month replaces the first's losses (as before)
        if s.kind == "flood":
            grade = self.house_grade
            damaged = hit[rng.random(len(hit)) < 0.12]
            grade[damaged] = np.maximum(grade[damaged], rng.choice([2, 3, 4], size=len(damaged), p=[0.5, 0.35, 0.15]))
            rep = damaged[(grade[damaged] >= 3) & (rng.random(len(damaged)) < 0.8)]
            self.sink.clue(rng, period, hids[rep], "housing", "department", "housing", coded("house_unsafe"))
        self.debt[hit] += loss * rng.uniform(0.0, 0.4, len(hit))
        self.sink.event(period, s.kind, hids[hit], None, sev, loss, "受灾损失 / disaster loss")
        rep = hit[(loss > 3000) & (rng.random(len(hit)) < 0.7)]
        self.sink.clue(rng, period, hids[rep], "disaster", "department", "emergency", coded("disaster_loss"), loss[np.isin(hit, rep)])

    # ------------------------------------------------------------------ the month
    def _benefits(self, slot: int, period: int, dibao_line: float) -> None:
        """低保: households whose pre-benefit per-capita income sits under the dibao line; then benefits and debt repayment."""
        ring, rng, n, size = self.ring, self.rng, self.n, self.pop.size
        pre = (ring["wage"].sum(0) + ring["business"].sum(0) - ring["cost"].sum(0) + ring["property"].sum(0) + ring["transfer"].sum(0)) / size
        newly = (~self.dibao) & (pre < dibao_line) & (rng.random(n) < 0.35)
        left = self.dibao & (pre > dibao_line * 1.3)
        self.dibao = (self.dibao | newly) & ~left
        if newly.any():
            self.sink.clue(rng, period, self.hids[newly], "other", "department", "civil_affairs", coded("new_dibao"))
        ring["benefit"][slot] = np.where(self.dibao, np.maximum(dibao_line - pre, 1200.0) * size / 12.0, 0.0) + self.tekun * 700.0
        self.debt = np.maximum(self.debt - rng.uniform(0, 120, n), 0.0)

    def _row(self, t: int, period: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The month's panel row (rolling 12-month sums and the state) and the unrounded net income."""
        r = {k: v.sum(0) for k, v in self.ring.items()}
        trans12 = r["transfer"] + r["benefit"]
        net = r["wage"] + r["business"] - r["cost"] + r["property"] + trans12
        return {
            "household_id": self.hids,
            "period": np.full(self.n, period),
            "income_wage": np.round(r["wage"], 0),
            "income_business": np.round(r["business"], 0),
            "income_property": np.round(r["property"], 0),
            "income_transfer": np.round(trans12, 0),
            "business_cost": np.round(r["cost"], 0),
            "income_net": np.round(net, 0),
            "income_pc": np.round(net / self.pop.size, 0),
            "medical_oop": np.round(r["oop"], 0),
            "schooling_cost": np.round(r["school"], 0),
            "debt": np.round(self.debt, -1),
            "housing_grade": self.house_grade,
            "water_safe": self.pop.water_safe,
            "disaster_loss": np.round(r["loss"], 0),
            "months_worked": np.round(r["worked"], 1),
            "benefits": np.round(r["benefit"], 0),
            "dibao": self.dibao,
            "tekun": self.tekun,
            "job_lost": t - self.lost_work_seen < 3,  # a member lost work in the last 3 months (as recorded)
        }, net

    def step(self, period: int) -> dict[str, np.ndarray]:
        """Draw ``period``'s shocks, move the state on, and return the month's panel columns."""
        t = self.index[period]
        line = self.lines[period // 100]
        self._illness(t, period)
        self._accidents(t, period)
        self._job_loss(t, period)
        for s in (s for s in self.shocks if s.period == period):
            self._area_shock(s, t, period)
        self._school_entries(period)
        flows = self._flows(t, period)
        if t in self._loss_now:
            hit, loss = self._loss_now.pop(t)
            flows["loss"][hit] = loss
        slot = t % _WINDOW
        for key, arr in flows.items():
            self.ring[key][slot] = arr
        self._benefits(slot, period, self.spec.dibao_share * line)
        cols, net = self._row(t, period)
        # cadre visits find some households that no feed reported
        low = np.flatnonzero((net / self.pop.size < 1.5 * line) & (self.rng.random(self.n) < 0.01))
        self.sink.clue(self.rng, period, self.hids[low], "other", "cadre_visit", "cadre", coded("cadre_low_income"))
        return cols


def simulate(
    engine: Engine,
    spec: DemoSpec,
    geo: Geography,
    pop: Population,
    hids: np.ndarray,
    rng: np.random.Generator,
    progress: Progress | None = None,
) -> PanelEnd:
    """Run the monthly panel and write it month by month, then the events and the feeds' clues."""
    sim = PanelSimulation(spec, geo, pop, hids, rng)
    counts = {"panel": 0}
    for k, period in enumerate(sim.periods):
        cols = sim.step(period)
        with engine.begin() as conn:
            counts["panel"] += dstore.write_columns(conn, "panel", cols)
        if progress:
            progress(f"panel {period}", (k + 1) / len(sim.periods))
    ev, cl = sim.sink.frames()
    with engine.begin() as conn:
        counts["events"] = dstore.write_columns(conn, "events", ev)
        counts["clues"] = insert_clues(conn, cl) if cl else 0
    return PanelEnd(counts, cl, sim.house_grade, sim.dibao, sim.tekun)
