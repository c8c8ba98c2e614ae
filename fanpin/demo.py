"""The synthetic demo county: households, members, a monthly panel, events and clues.

Everything is drawn from one seed, vectorised over households, month by month,
so the default county (20k households x 36 months) builds in seconds and the
1M-household county fits in a few GB.  The shocks are what make the panel worth
analysing: heavy-tailed illness costs, floods and droughts that hit neighbouring
townships together (so real spatial hotspots exist), a factory closure that cuts
the wages of one labour-export network, a cash-crop price crash in some
villages, accidents and school entries.  Department feeds turn some of those
events into warning clues, as the real feeds do.  The shock parameters stay
inside this module: only their observable consequences are written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import bindparam
from sqlalchemy.engine import Engine

from fanpin.demo_geo import Geography, make_geography, township_adjacency
from fanpin.ids import id_check_char
from fanpin.store import io as sio
from fanpin.store import schema as S

Progress = Callable[[str, float], None]


def default_income_lines(first_year: int, last_year: int) -> dict[int, float]:
    """Provincial monitoring lines by year: 7,500 yuan in 2023, rising 300 a year (a parameter)."""
    return {y: 7500.0 + 300.0 * (y - 2023) for y in range(first_year, last_year + 1)}


@dataclass(frozen=True)
class DemoSpec:
    households: int = 20_000
    months: int = 36
    start: int = 202301  # YYYYMM
    townships: int = 14
    villages: int = 200
    seed: int = 20231
    county_code: str = "990101"
    income_lines: dict[int, float] | None = None
    dibao_share: float = 0.9  # rural dibao standard as a share of the year's income line
    workflow: bool = True  # replay orders, monitoring and eliminations over the months (fanpin.demo_workflow)

    @property
    def periods(self) -> list[int]:
        return [sio.shift_period(self.start, k) for k in range(self.months)]

    def lines(self) -> dict[int, float]:
        years = sorted({p // 100 for p in self.periods})
        return self.income_lines or default_income_lines(years[0], years[-1])


# --------------------------------------------------------------------------- names
_SURNAMES = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱覃武"))
_SURNAME_P = np.linspace(3.0, 0.3, len(_SURNAMES))
_SURNAME_P /= _SURNAME_P.sum()
_GIVEN_M = np.array(list("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆国建文志海永林峰春"))
_GIVEN_F = np.array(list("芳娜敏静丽艳娟霞秀英华玲燕红梅兰琴云莲凤洁婷雪慧琳月萍桂珍翠"))


def _names(rng: np.random.Generator, surnames: np.ndarray, female: np.ndarray) -> np.ndarray:
    n = len(surnames)
    pool_m = rng.choice(_GIVEN_M, size=(n, 2))
    pool_f = rng.choice(_GIVEN_F, size=(n, 2))
    g1 = np.where(female, pool_f[:, 0], pool_m[:, 0])
    g2 = np.where(female, pool_f[:, 1], pool_m[:, 1])
    two = rng.random(n) < 0.7
    given = np.where(two, np.char.add(g1.astype(str), g2.astype(str)), g1.astype(str))
    return np.char.add(surnames.astype(str), given)


# --------------------------------------------------------------------------- population
@dataclass
class Population:
    """Households and members as column arrays (members indexed by ``hh``)."""

    hh_village: np.ndarray  # index into geography.villages
    hh_township: np.ndarray  # index into geography.townships
    former_poor: np.ndarray
    size: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    relocated: np.ndarray
    farmland: np.ndarray
    livestock: np.ndarray
    cash_crop: np.ndarray
    house_grade: np.ndarray
    water_safe: np.ndarray
    # members
    hh: np.ndarray
    age: np.ndarray  # age in years at the end of the panel
    female: np.ndarray
    relation: np.ndarray
    health: np.ndarray  # 0 healthy, 1 chronic, 2 serious
    disability: np.ndarray  # 0 none, 1..4
    labour: np.ndarray  # 0 normal, 1 weak, 2 lost, 3 none
    work_loc: np.ndarray  # 0 home, 1 in county, 2 in province, 3 out of province
    wage_rate: np.ndarray  # yuan per month when working
    insured: np.ndarray
    pension_insured: np.ndarray
    welfare_job: np.ndarray
    extra: dict = field(default_factory=dict)


LABOUR_CODES = np.array(["normal", "weak", "lost", "none"])
HEALTH_CODES = np.array(["healthy", "chronic", "serious"])
WORK_CODES = np.array([None, "in_county", "in_province", "out_province"], dtype=object)
RELATION_CODES = np.array(["head", "spouse", "child", "parent", "grandchild"])


def _population(rng: np.random.Generator, spec: DemoSpec, geo: Geography) -> Population:
    n = spec.households
    nv = len(geo.villages)
    t_index = {t.code: i for i, t in enumerate(geo.townships)}
    v_town = np.array([t_index[v.township_code] for v in geo.villages])
    # Remote villages are poorer: a latent remoteness per township and village.
    town_remote = rng.uniform(0, 1, len(geo.townships))
    v_remote = np.clip(town_remote[v_town] + rng.normal(0, 0.2, nv), 0, 1)
    v_weight = rng.gamma(4.0, 1.0, nv)
    hh_village = np.sort(rng.choice(nv, size=n, p=v_weight / v_weight.sum()))
    hh_township = v_town[hh_village]
    remote = v_remote[hh_village]
    former_poor = rng.random(n) < (0.10 + 0.30 * remote)

    size = rng.choice(np.arange(1, 8), size=n, p=[0.13, 0.22, 0.2, 0.2, 0.13, 0.08, 0.04])
    # Household points scattered around their village, kept inside the township.
    v_lon = np.array([v.lon for v in geo.villages])
    v_lat = np.array([v.lat for v in geo.villages])
    lon = v_lon[hh_village] + rng.normal(0, 0.004, n)
    lat = v_lat[hh_village] + rng.normal(0, 0.004, n)

    relocated = former_poor & (rng.random(n) < 0.12)
    farmland = np.round(rng.gamma(2.0, 1.6 + 1.0 * (1 - remote)), 1)
    livestock = rng.random(n) < 0.35
    cash_crop_village = rng.random(nv) < 0.18
    cash_crop = cash_crop_village[hh_village] & (rng.random(n) < 0.7)
    house_grade = np.where(rng.random(n) < 0.02 + 0.03 * remote, rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]), 0)
    water_safe = rng.random(n) > 0.006 + 0.02 * remote

    # ---- members
    total = int(size.sum())
    hh = np.repeat(np.arange(n), size)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    pos = np.arange(total) - np.repeat(start, size)
    head_age = np.where(size == 1, rng.normal(67, 11, n), rng.normal(52, 12, n)).clip(24, 92).round()
    ha = head_age[hh]
    u = rng.random(total)
    relation = np.full(total, 2)  # child
    relation[pos == 0] = 0
    relation[(pos == 1) & (u < 0.85)] = 1
    rest = pos >= 2
    relation[rest & (ha < 52) & (u < 0.25)] = 3  # parent
    relation[rest & (ha >= 52) & (u < 0.45)] = 4  # grandchild
    age = np.empty(total)
    age[relation == 0] = ha[relation == 0]
    sel = relation == 1
    age[sel] = ha[sel] + rng.normal(-2, 3, sel.sum())
    sel = relation == 2
    age[sel] = ha[sel] - rng.uniform(20, 36, sel.sum())
    sel = relation == 3
    age[sel] = ha[sel] + rng.uniform(22, 32, sel.sum())
    sel = relation == 4
    age[sel] = ha[sel] - rng.uniform(42, 60, sel.sum())
    age = np.clip(np.round(age), 0, 99)
    female = rng.random(total) < 0.5
    female[relation == 0] = rng.random((relation == 0).sum()) < 0.15
    spouse = relation == 1
    female[spouse] = ~female[start[hh[spouse]]]

    fp = former_poor[hh]
    a35 = np.maximum(age - 35, 0)
    p_chronic = np.minimum(0.03 + 0.006 * a35, 0.5) * np.where(fp, 1.3, 1.0)
    p_serious = (0.008 + 0.0006 * np.maximum(age - 40, 0)) * np.where(fp, 1.5, 1.0)
    r = rng.random(total)
    health = np.where(r < p_serious, 2, np.where(r < p_serious + p_chronic, 1, 0))
    p_dis = (0.025 + 0.0005 * age) * np.where(fp, 1.8, 1.0)
    disability = np.where(rng.random(total) < p_dis, rng.choice([1, 2, 3, 4], size=total, p=[0.1, 0.2, 0.35, 0.35]), 0)

    student = (
        ((age >= 6) & (age <= 14) & (rng.random(total) < 0.99))
        | ((age >= 15) & (age <= 17) & (rng.random(total) < 0.85))
        | ((age >= 18) & (age <= 21) & (rng.random(total) < 0.4))
    )
    labour = np.full(total, 0)
    labour[(age >= 60) | (health == 1) | (disability >= 3)] = 1
    labour[(health == 2) | ((disability >= 1) & (disability <= 2))] = 2
    labour[(age < 16) | (age >= 75) | (student & (age >= 16))] = 3
    work_loc = np.where(labour == 0, rng.choice([0, 1, 2, 3], size=total, p=[0.08, 0.27, 0.2, 0.45]), 0)
    work_loc = np.where((labour == 1) & (rng.random(total) < 0.35), 1, work_loc)
    base = np.array([900.0, 2900.0, 3700.0, 4500.0])[work_loc]  # at home: casual local work
    wage_rate = base * rng.lognormal(0, 0.28, total) * np.where(fp, 0.56, 1.0) * np.where(labour == 1, 0.55, 1.0)
    welfare_job = fp & (labour == 1) & (rng.random(total) < 0.25) & (work_loc == 0)
    wage_rate = np.where(welfare_job, 650.0, wage_rate)
    insured = rng.random(total) > 0.015
    pension_insured = (age >= 16) & (rng.random(total) > 0.04)
    return Population(
        hh_village=hh_village,
        hh_township=hh_township,
        former_poor=former_poor,
        size=size,
        lon=lon,
        lat=lat,
        relocated=relocated,
        farmland=farmland,
        livestock=livestock,
        cash_crop=cash_crop,
        house_grade=house_grade,
        water_safe=water_safe,
        hh=hh,
        age=age,
        female=female,
        relation=relation,
        health=health,
        disability=disability,
        labour=labour,
        work_loc=work_loc,
        wage_rate=wage_rate,
        insured=insured,
        pension_insured=pension_insured,
        welfare_job=welfare_job,
        extra={"student": student, "remote": remote, "v_remote": v_remote},
    )


# --------------------------------------------------------------------------- ids
def make_id_numbers(county_code: str, birth: np.ndarray, female: np.ndarray) -> np.ndarray:
    """18-digit ID numbers: address code, birth date, sequence (odd male / even female), check character.

    Sequence numbers are ranks within (birth date, sex) so every number is unique;
    past 500 people on one birth date and sex the address code moves on (990102...)
    inside the fictional 99 province.
    """
    n = len(birth)
    bdays = birth.astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((female, bdays))
    key = bdays[order] * 2 + female[order]
    first = np.r_[True, key[1:] != key[:-1]]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank_sorted = np.arange(n) - grp_start
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    seq = (rank % 500) * 2 + np.where(female, 2, 1)
    seq = np.where(seq > 999, seq - 1000, seq)
    addr = int(county_code) + rank // 500
    ymd = pd.DatetimeIndex(birth).strftime("%Y%m%d").to_numpy().astype(str)
    body = np.char.add(np.char.add(np.char.zfill(addr.astype(str), 6), ymd), np.char.zfill(seq.astype(str), 3))
    return np.char.add(body, id_check_char(body))


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


class _Sink:
    """Collects events and clues as column lists, flushed to the database in bulk."""

    def __init__(self) -> None:
        self.events: dict[str, list] = {k: [] for k in ("period", "event_type", "household_id", "region_code", "severity", "amount", "description")}
        self.clues: dict[str, list] = {k: [] for k in ("household_id", "period", "channel", "source", "risk_type", "detail", "amount", "received_at")}

    def event(self, period: int, kind: str, hids: np.ndarray, region: np.ndarray | str | None, severity: np.ndarray | float | None, amount: np.ndarray | float | None, description: str) -> None:
        n = len(hids)
        if n == 0:
            return
        self.events["period"].append(np.full(n, period))
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
        y, m = divmod(period, 100)
        day = rng.integers(1, 29, n)
        hour = rng.integers(8, 18, n)
        received = np.char.add(np.char.add(f"{y:04d}-{m:02d}-", np.char.zfill(day.astype(str), 2)), np.char.add(" ", np.char.add(np.char.zfill(hour.astype(str), 2), ":00:00")))
        self.clues["household_id"].append(np.asarray(hids, dtype=object))
        self.clues["period"].append(np.full(n, period))
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


def _school_cost(age: np.ndarray, student: np.ndarray) -> np.ndarray:
    """Monthly schooling cost by stage (compulsory schooling is free; boarding and fees are not)."""
    m = np.zeros(len(age))
    m[(age >= 6) & (age <= 14)] = 120.0
    m[(age >= 15) & (age <= 17)] = 550.0
    m[(age >= 18) & (age <= 21)] = 1300.0
    return np.where(student, m, 0.0)


def simulate(
    engine: Engine,
    spec: DemoSpec,
    geo: Geography,
    pop: Population,
    hids: np.ndarray,
    rng: np.random.Generator,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Run the monthly panel and write it month by month; returns row counts."""
    n = spec.households
    hh = pop.hh
    periods = spec.periods
    end = periods[-1]
    lines = spec.lines()
    shocks = _plan_area_shocks(rng, spec, geo, pop)
    t_codes = np.array([t.code for t in geo.townships], dtype=object)
    v_codes = np.array([v.code for v in geo.villages], dtype=object)
    fp = pop.former_poor
    student = pop.extra["student"]

    # Monthly baseline flows (yuan per month) per household.
    business = (pop.farmland * 95.0 + pop.livestock * 900.0 + pop.cash_crop * 700.0) * rng.lognormal(0, 0.3, n)
    biz_cost_share = 0.38
    prop = np.where(fp, rng.uniform(40, 130, n), rng.uniform(0, 60, n)) + pop.farmland * 0.2 * 50.0
    elderly = np.bincount(hh, weights=(pop.age >= 60), minlength=n)
    pension = elderly * 230.0
    # Children working elsewhere support parents who live on their own (赡养费, a transfer).
    n_lab = np.bincount(hh, weights=pop.labour == 0, minlength=n)
    family_support = np.where((n_lab == 0) & (elderly > 0), rng.uniform(150, 400, n), 0.0)
    eco = 25.0
    latent = np.zeros(n)  # AR(1) wage noise

    # Hidden shock state.
    wage_cut_until = np.full(n, -1)
    wage_cut = np.zeros(n)  # fraction of household wage lost
    biz_cut_until = np.full(n, -1)
    biz_cut = np.zeros(n)
    oop_until = np.full(n, -1)
    oop_month = np.zeros(n)
    member_wage = pop.wage_rate * (pop.labour <= 1)
    hh_wage = np.bincount(hh, weights=member_wage, minlength=n)
    hh_workers = np.bincount(hh, weights=member_wage > 0, minlength=n)
    debt = np.where(rng.random(n) < 0.25, rng.lognormal(9.0, 0.8, n), 0.0)
    house_grade = pop.house_grade.copy()
    dibao = np.zeros(n, dtype=bool)
    tekun = (pop.size == 1) & (np.bincount(hh, weights=pop.labour >= 2, minlength=n) >= 1) & (pop.age[np.concatenate([[0], np.cumsum(pop.size)[:-1]])] >= 60) & (rng.random(n) < 0.5)

    window = 12
    ring = {k: np.zeros((window, n), dtype=np.float64) for k in ("wage", "business", "cost", "property", "transfer", "oop", "school", "loss", "worked", "benefit")}

    def month_flows(t: int, period: int, burn_in: bool) -> dict[str, np.ndarray]:
        nonlocal latent
        latent = 0.8 * latent + rng.normal(0, 0.09, n)
        months_to_end = (end // 100 * 12 + end % 100) - (period // 100 * 12 + period % 100)
        age_t = pop.age - months_to_end / 12.0
        cut = np.where(wage_cut_until >= t, wage_cut, 0.0)
        seasonal = 1.0 - 0.15 * (period % 100 in (1, 2))  # Spring Festival at home
        wage = hh_wage * np.exp(latent) * (1 - cut) * seasonal
        worked = hh_workers * (1 - cut) * seasonal
        bcut = np.where(biz_cut_until >= t, biz_cut, 0.0)
        gross = business * (1 - bcut)
        cost = business * biz_cost_share
        school = np.bincount(hh, weights=_school_cost(age_t, student), minlength=n)
        oop = np.where(oop_until >= t, oop_month, 0.0)
        base_oop = np.bincount(hh, weights=(pop.health == 1) * 45.0 + (pop.health == 2) * 260.0, minlength=n)
        return {
            "wage": wage,
            "business": gross,
            "cost": cost,
            "property": prop,
            "transfer": pension + eco + family_support,
            "oop": oop + base_oop,
            "school": school,
            "loss": np.zeros(n),
            "worked": worked,
            "benefit": np.zeros(n),
        }

    # Burn in 12 months of ordinary life so the rolling sums start full.
    for k in range(window):
        flows = month_flows(-window + k, sio.shift_period(spec.start, -window + k), True)
        for key, arr in flows.items():
            ring[key][k] = arr
    sink = _Sink()
    counts = {"panel": 0}
    t_by_village = pop.hh_village

    for t, period in enumerate(periods):
        year, month = divmod(period, 100)
        line = lines[year]
        dibao_line = spec.dibao_share * line
        # ---- household shocks this month
        # Serious illness: hazard rises with age; heavy-tailed costs, 30-45% out of pocket.
        mem_p = (0.0007 + 0.00005 * np.maximum(pop.age - 30, 0)) * np.where(pop.health > 0, 2.0, 1.0)
        sick_m = rng.random(len(hh)) < mem_p
        sick_h = np.unique(hh[sick_m])
        if len(sick_h):
            total_cost = np.minimum(rng.lognormal(10.3, 0.9, len(sick_h)), 600_000.0)
            oop_share = rng.uniform(0.3, 0.45, len(sick_h))
            months = rng.integers(2, 7, len(sick_h))
            oop_until[sick_h] = t + months - 1
            oop_month[sick_h] = total_cost * oop_share / months
            lose = rng.random(len(sick_h)) < 0.6
            wage_cut_until[sick_h[lose]] = t + rng.integers(4, 12, lose.sum())
            wage_cut[sick_h[lose]] = np.maximum(wage_cut[sick_h[lose]], 1.0 / np.maximum(hh_workers[sick_h[lose]], 1))
            debt[sick_h] += total_cost * oop_share * rng.uniform(0.2, 0.7, len(sick_h))
            sink.event(period, "illness", hids[sick_h], None, None, np.round(total_cost, -1), "重大疾病住院 / serious illness")
            report = sick_h[(total_cost * oop_share > 10_000) & (rng.random(len(sick_h)) < 0.9)]
            rep_amt = np.round(oop_month[report] * (oop_until[report] - t + 1), -1)
            sink.clue(rng, period, hids[report], "illness", "department", "medical_insurance", "医保结算：合规自付超过1万元 / medical settlement: out-of-pocket over 10,000", rep_amt)
        # Accidents: medical cost and sometimes a lasting disability.
        acc = np.flatnonzero(rng.random(n) < 0.0004)
        if len(acc):
            cost = rng.lognormal(9.6, 0.8, len(acc))
            oop_until[acc] = t + 2
            oop_month[acc] = np.maximum(oop_month[acc], cost * 0.4 / 3)
            disabled = rng.random(len(acc)) < 0.35
            wage_cut_until[acc[disabled]] = t + 36
            wage_cut[acc[disabled]] = np.maximum(wage_cut[acc[disabled]], 1.0 / np.maximum(hh_workers[acc[disabled]], 1))
            sink.event(period, "accident", hids[acc], None, disabled.astype(float), np.round(cost, -1), "意外事故 / accident")
            rep = acc[disabled & (rng.random(len(acc)) < 0.7)]
            sink.clue(rng, period, hids[rep], "disability", "department", "disability_federation", "新办残疾证 / new disability certificate")
            selfr = acc[~disabled & (rng.random(len(acc)) < 0.3)]
            sink.clue(rng, period, hids[selfr], "accident", "self_report", "household", "农户自主申报：意外事故 / self-report: accident")
        # Individual job loss.
        jl = np.flatnonzero((hh_wage > 0) & (rng.random(n) < 0.003))
        if len(jl):
            wage_cut_until[jl] = t + rng.integers(2, 6, len(jl))
            wage_cut[jl] = np.maximum(wage_cut[jl], 1.0 / np.maximum(hh_workers[jl], 1))
            sink.event(period, "job_loss", hids[jl], None, None, None, "务工人员失业 / migrant worker lost job")
            rep = jl[rng.random(len(jl)) < 0.3]
            sink.clue(rng, period, hids[rep], "unstable_work", "department", "hrss", "失业登记 / unemployment registration")
        # Area shocks.
        for s in (s for s in shocks if s.period == period):
            if s.townships:
                in_area = np.isin(pop.hh_township, s.townships)
                region_codes = [t_codes[i] for i in s.townships]
            else:
                in_area = np.isin(t_by_village, s.villages)
                region_codes = [v_codes[i] for i in s.villages]
            for rc in region_codes:
                sink.event(period, s.kind, np.array([None], dtype=object), rc, s.severity, None, {"flood": "洪涝灾害", "drought": "干旱", "factory_closure": "外省工厂关停", "price_crash": "经济作物价格暴跌"}[s.kind])
            if s.kind == "factory_closure":
                hit = np.flatnonzero(in_area & (np.bincount(hh, weights=pop.work_loc == 3, minlength=n) > 0) & (rng.random(n) < s.hit_prob))
                share = np.bincount(hh, weights=member_wage * (pop.work_loc == 3), minlength=n)[hit] / np.maximum(hh_wage[hit], 1)
                wage_cut_until[hit] = t + rng.integers(3, s.duration + 3, len(hit))
                wage_cut[hit] = np.clip(share * s.severity, 0, 1)
                sink.event(period, "job_loss", hids[hit], None, share, None, "工厂关停失业返乡 / factory closure")
                rep = hit[rng.random(len(hit)) < 0.6]
                sink.clue(rng, period, hids[rep], "unstable_work", "department", "hrss", "失业登记：工厂关停 / unemployment registration: factory closure")
                continue
            if s.kind == "price_crash":
                hit = np.flatnonzero(in_area & pop.cash_crop & (rng.random(n) < s.hit_prob))
                biz_cut_until[hit] = t + s.duration
                biz_cut[hit] = np.maximum(biz_cut[hit], s.severity)
                sink.event(period, "price_crash", hids[hit], None, s.severity, None, "经济作物价格下跌 / cash crop price crash")
                rep = hit[rng.random(len(hit)) < 0.08]
                sink.clue(rng, period, hids[rep], "industry_failure", "cadre_visit", "cadre", "干部走访：产业收入大幅下降 / cadre visit: farm income collapsed")
                continue
            # floods and droughts
            hit = np.flatnonzero(in_area & (rng.random(n) < s.hit_prob))
            sev = s.severity * rng.beta(2, 2, len(hit))
            loss = np.round((business[hit] * 12 * sev + (s.kind == "flood") * rng.lognormal(8.5, 1.0, len(hit)) * (rng.random(len(hit)) < 0.4)), -1)
            biz_cut_until[hit] = t + s.duration
            biz_cut[hit] = np.maximum(biz_cut[hit], sev)
            ring["loss"][t % window][hit] = 0  # set below with this month's flows
            pop.extra.setdefault("loss_now", {})[t] = (hit, loss)
            if s.kind == "flood":
                damaged = hit[rng.random(len(hit)) < 0.12]
                house_grade[damaged] = np.maximum(house_grade[damaged], rng.choice([2, 3, 4], size=len(damaged), p=[0.5, 0.35, 0.15]))
                rep = damaged[(house_grade[damaged] >= 3) & (rng.random(len(damaged)) < 0.8)]
                sink.clue(rng, period, hids[rep], "housing", "department", "housing", "住房安全鉴定为C/D级 / house graded C or D")
            debt[hit] += loss * rng.uniform(0.0, 0.4, len(hit))
            sink.event(period, s.kind, hids[hit], None, sev, loss, "受灾损失 / disaster loss")
            rep = hit[(loss > 3000) & (rng.random(len(hit)) < 0.7)]
            sink.clue(rng, period, hids[rep], "disaster", "department", "emergency", "灾情报送：损失超过3000元 / disaster report: loss over 3,000", loss[np.isin(hit, rep)])
        # School entries in September: senior high and college cost jumps.
        if month == 9:
            months_to_end = (end // 100 * 12 + end % 100) - (year * 12 + month)
            age_t = np.floor(pop.age - months_to_end / 12.0)
            entering = student & ((age_t == 15) | (age_t == 18))
            ent_h = np.unique(hh[entering])
            if len(ent_h):
                sink.event(period, "school_entry", hids[ent_h], None, None, None, "子女升入高中或大学 / child enters high school or college")
                watch = ent_h[(fp[ent_h]) & (rng.random(len(ent_h)) < 0.6)]
                sink.clue(rng, period, hids[watch], "schooling", "department", "education", "学籍变动：升入高中/大学 / school record: enters high school or college")

        flows = month_flows(t, period, False)
        if t in pop.extra.get("loss_now", {}):
            hit, loss = pop.extra["loss_now"].pop(t)
            flows["loss"][hit] = loss
        # 低保: households whose pre-benefit per-capita income sits under the dibao line.
        slot = t % window
        for key, arr in flows.items():
            ring[key][slot] = arr
        pre = (ring["wage"].sum(0) + ring["business"].sum(0) - ring["cost"].sum(0) + ring["property"].sum(0) + ring["transfer"].sum(0)) / pop.size
        newly = (~dibao) & (pre < dibao_line) & (rng.random(n) < 0.35)
        left = dibao & (pre > dibao_line * 1.3)
        dibao = (dibao | newly) & ~left
        if newly.any():
            sink.clue(rng, period, hids[newly], "other", "department", "civil_affairs", "新纳入低保 / newly receiving dibao")
        benefit = np.where(dibao, np.maximum(dibao_line - pre, 1200.0) * pop.size / 12.0, 0.0) + tekun * 700.0
        ring["benefit"][slot] = benefit
        debt = np.maximum(debt - rng.uniform(0, 120, n), 0.0)

        # ---- rolling sums and the panel row
        wage12 = ring["wage"].sum(0)
        biz12 = ring["business"].sum(0)
        cost12 = ring["cost"].sum(0)
        prop12 = ring["property"].sum(0)
        trans12 = ring["transfer"].sum(0) + ring["benefit"].sum(0)
        net = wage12 + biz12 - cost12 + prop12 + trans12
        cols = {
            "household_id": hids,
            "period": np.full(n, period),
            "income_wage": np.round(wage12, 0),
            "income_business": np.round(biz12, 0),
            "income_property": np.round(prop12, 0),
            "income_transfer": np.round(trans12, 0),
            "business_cost": np.round(cost12, 0),
            "income_net": np.round(net, 0),
            "income_pc": np.round(net / pop.size, 0),
            "medical_oop": np.round(ring["oop"].sum(0), 0),
            "schooling_cost": np.round(ring["school"].sum(0), 0),
            "debt": np.round(debt, -1),
            "housing_grade": house_grade,
            "water_safe": pop.water_safe,
            "disaster_loss": np.round(ring["loss"].sum(0), 0),
            "months_worked": np.round(ring["worked"].sum(0), 1),
            "benefits": np.round(ring["benefit"].sum(0), 0),
            "dibao": dibao,
            "tekun": tekun,
            "job_lost": wage_cut_until >= t,
        }
        # Cadre visits find some households that no feed reported.
        low = np.flatnonzero((net / pop.size < 1.5 * line) & (rng.random(n) < 0.01))
        sink.clue(rng, period, hids[low], "other", "cadre_visit", "cadre", "干部走访：收入偏低 / cadre visit: low income")
        with engine.begin() as conn:
            counts["panel"] += sio.bulk_insert(conn, S.panel, cols)
        if progress:
            progress(f"panel {period}", (t + 1) / len(periods))

    ev, cl = sink.frames()
    pop.extra["clue_frame"] = cl
    with engine.begin() as conn:
        counts["events"] = sio.bulk_insert(conn, S.events, ev) if ev else 0
        if cl:
            cl["status"] = np.full(len(cl["period"]), "new", dtype=object)
            counts["clues"] = sio.bulk_insert(conn, S.clues, cl)
        else:
            counts["clues"] = 0
    pop.extra["house_grade_end"] = house_grade
    pop.extra["dibao_end"] = dibao
    pop.extra["tekun_end"] = tekun
    return counts


# --------------------------------------------------------------------------- assistance
_MEASURE_FOR_RISK = {
    "illness": ("health", 3_000.0),
    "disability": ("comprehensive", 2_400.0),
    "schooling": ("education", 2_500.0),
    "disaster": ("housing", 6_000.0),
    "housing": ("housing", 15_000.0),
    "unstable_work": ("employment", 1_500.0),
    "industry_failure": ("industry", 3_000.0),
    "accident": ("social", 2_000.0),
    "other": ("comprehensive", 1_800.0),
}
_CADRES = np.array(["县乡村振兴局", "县人社局", "县医保局", "县住建局", "县教育局", "镇政府", "驻村工作队"])


def _assistance(rng: np.random.Generator, spec: DemoSpec, pop: Population, hids: np.ndarray, clues: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Assistance that follows clues (1-2 months later, about half of them) and routine support of former-poor households.

    It is what the household profile's 幸福清单 lists; amounts are yuan.
    """
    periods = spec.periods
    parts: list[dict[str, np.ndarray]] = []
    if clues:
        take = rng.random(len(clues["period"])) < 0.5
        risk = clues["risk_type"][take]
        lag = rng.integers(1, 3, take.sum())
        when = np.array([sio.shift_period(int(p), int(k)) for p, k in zip(clues["period"][take], lag)])
        keep = when <= periods[-1]
        measure = np.array([_MEASURE_FOR_RISK.get(r, _MEASURE_FOR_RISK["other"])[0] for r in risk], dtype=object)
        base = np.array([_MEASURE_FOR_RISK.get(r, _MEASURE_FOR_RISK["other"])[1] for r in risk])
        parts.append(
            {
                "household_id": clues["household_id"][take][keep],
                "period": when[keep],
                "measure": measure[keep],
                "amount": np.round(base[keep] * rng.lognormal(0, 0.35, keep.sum()), -1),
            }
        )
    fp = np.flatnonzero(pop.former_poor)
    for p in periods:
        if p % 100 != 3:
            continue
        got = fp[rng.random(len(fp)) < 0.55]
        parts.append(
            {
                "household_id": hids[got],
                "period": np.full(len(got), p),
                "measure": rng.choice(np.array(["industry", "finance", "employment", "public_welfare_job"], dtype=object), size=len(got), p=[0.5, 0.15, 0.2, 0.15]),
                "amount": np.round(rng.uniform(800, 5_000, len(got)), -1),
            }
        )
    if not parts:
        return {}
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["cadre"] = rng.choice(_CADRES, size=len(out["period"])).astype(object)
    out["description"] = np.full(len(out["period"]), None, dtype=object)
    return out


# --------------------------------------------------------------------------- writing
def _write_regions(conn, spec: DemoSpec, geo: Geography) -> None:  # noqa: ANN001
    county = spec.county_code + "000000"
    cg = geo.county_geojson()
    c_geom = cg["features"][0]["geometry"] if cg.get("type") == "FeatureCollection" else cg.get("geometry", cg)
    rows = {
        "region_code": [county],
        "level": ["county"],
        "parent_code": [None],
        "name": [geo.county_name],
        "name_en": [geo.county_name_en],
        "lon": [geo.outline.centroid.x],
        "lat": [geo.outline.centroid.y],
        "geometry": [json.dumps(c_geom)],
    }
    tj = {f["properties"]["region_code"]: f["geometry"] for f in geo.township_geojson()["features"]}
    for t in geo.townships:
        rows["region_code"].append(t.code)
        rows["level"].append("township")
        rows["parent_code"].append(county)
        rows["name"].append(t.name)
        rows["name_en"].append(t.name_en)
        rows["lon"].append(t.lon)
        rows["lat"].append(t.lat)
        rows["geometry"].append(json.dumps(tj[t.code]))
    for v in geo.villages:
        rows["region_code"].append(v.code)
        rows["level"].append("village")
        rows["parent_code"].append(v.township_code)
        rows["name"].append(v.name)
        rows["name_en"].append(v.name_en)
        rows["lon"].append(v.lon)
        rows["lat"].append(v.lat)
        rows["geometry"].append(None)
    sio.bulk_insert(conn, S.regions, rows)


def build_demo(engine: Engine, spec: DemoSpec = DemoSpec(), progress: Progress | None = None) -> dict[str, int]:
    """Generate the demo county into an empty, migrated database. Returns row counts."""
    rng = np.random.default_rng(spec.seed)
    say = progress or (lambda _msg, _frac: None)
    say("geography", 0.0)
    geo = make_geography(rng, spec.townships, spec.villages, spec.county_code)
    pop = _population(rng, spec, geo)
    n = spec.households
    v_codes = np.array([v.code for v in geo.villages], dtype=object)
    t_codes = np.array([t.code for t in geo.townships], dtype=object)
    seq = np.arange(n) - np.searchsorted(pop.hh_village, pop.hh_village)  # hh_village is sorted
    hids = np.char.add(v_codes[pop.hh_village].astype(str), np.char.zfill((seq + 1).astype(str), 5)).astype(object)
    say("households", 0.02)
    # Members and households, with the end-of-panel state.
    hh = pop.hh
    end = spec.periods[-1]
    end_date = np.datetime64(f"{end // 100:04d}-{end % 100:02d}-15")
    birth = end_date - (pop.age * 365.25 + rng.uniform(0, 364, len(hh))).astype("timedelta64[D]")
    surname_hh = rng.choice(_SURNAMES, size=n, p=_SURNAME_P)
    surname = surname_hh[hh].astype("<U1")
    other_surname = rng.choice(_SURNAMES, size=len(hh), p=_SURNAME_P)
    marry_in = (pop.relation == 1) | ((pop.relation == 3) & pop.female)
    surname = np.where(marry_in, other_surname, surname)
    names = _names(rng, surname, pop.female)
    id_numbers = make_id_numbers(spec.county_code, birth, pop.female)
    schooling = np.full(len(hh), "none", dtype=object)
    st = pop.extra["student"]
    schooling[st & (pop.age <= 11)] = "primary"
    schooling[st & (pop.age >= 12) & (pop.age <= 14)] = "junior"
    schooling[st & (pop.age >= 15) & (pop.age <= 17)] = "senior"
    schooling[st & (pop.age >= 18)] = "college"
    schooling[(pop.age >= 3) & (pop.age <= 5)] = "preschool"
    education = np.where(pop.age < 6, None, rng.choice(["illiterate", "primary", "junior", "senior", "college"], size=len(hh), p=[0.08, 0.32, 0.42, 0.12, 0.06])).astype(object)
    members_cols = {
        "household_id": hids[hh],
        "name": names.astype(object),
        "id_number": id_numbers.astype(object),
        "sex": np.where(pop.female, "F", "M").astype(object),
        "birth_date": pd.DatetimeIndex(birth).strftime("%Y-%m-%d").to_numpy().astype(object),
        "relation": RELATION_CODES[pop.relation].astype(object),
        "ethnicity": np.where(rng.random(len(hh)) < 0.82, "汉族", rng.choice(["苗族", "布依族", "土家族", "侗族"], size=len(hh))).astype(object),
        "education": education,
        "schooling": schooling,
        "health": HEALTH_CODES[pop.health].astype(object),
        "disability": pop.disability,
        "labour_capacity": LABOUR_CODES[pop.labour].astype(object),
        "work_location": WORK_CODES[pop.work_loc],
        "medical_insurance": pop.insured,
        "serious_illness_insurance": pop.insured,
        "pension_insurance": pop.pension_insured,
        "dibao": np.zeros(len(hh), dtype=bool),  # set from the panel's last month below
        "tekun": np.zeros(len(hh), dtype=bool),
        "public_welfare_job": pop.welfare_job,
    }
    count = lambda w: np.bincount(hh, weights=w, minlength=n).astype(int)  # noqa: E731
    labour_hh = count(pop.labour == 0)
    hh_cols = {
        "household_id": hids,
        "village_code": v_codes[pop.hh_village],
        "township_code": t_codes[pop.hh_township],
        "household_type": np.where(pop.former_poor, "former_poor", "ordinary").astype(object),
        "size": pop.size,
        "lon": np.round(pop.lon, 5),
        "lat": np.round(pop.lat, 5),
        "phone": np.char.add("1", rng.integers(3_000_000_000, 9_999_999_999, n).astype(str)).astype(object),
        "relocated": pop.relocated,
        "no_labour_guarantee": (labour_hh == 0) & (count(pop.labour == 1) == 0),
        "farmland_mu": pop.farmland,
        "house_area": np.round(rng.uniform(25, 45, n) * np.sqrt(pop.size), 1),
        "road_distance_km": np.round(rng.gamma(1.5, 1.2, n) * (0.5 + pop.extra["remote"]), 2),
        "in_cooperative": rng.random(n) < 0.3,
        "n_labour": labour_hh,
        "n_weak_labour": count(pop.labour == 1),
        "n_elderly": count(pop.age >= 65),
        "n_children": count(pop.age < 16),
        "n_chronic": count(pop.health == 1),
        "n_serious": count(pop.health == 2),
        "n_disabled": count(pop.disability > 0),
        "n_students": count(st),
        "n_uninsured": count(~pop.insured),
        "created_period": np.full(n, spec.start),
    }
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        _write_regions(conn, spec, geo)
        counts["households"] = sio.bulk_insert(conn, S.households, hh_cols)
        counts["members"] = sio.bulk_insert(conn, S.members, members_cols)
    say("panel", 0.05)
    counts.update(simulate(engine, spec, geo, pop, hids, rng, lambda m, f: say(m, 0.05 + 0.9 * f)))
    with engine.begin() as conn:
        counts["assistance"] = sio.bulk_insert(conn, S.assistance, _assistance(rng, spec, pop, hids, pop.extra.pop("clue_frame")))
    # Feeds report the same cause twice in a month, as real ones do; merge them where clues
    # enter (as add_clue does for single clues), not when someone opens the inbox.
    from fanpin.workflow import merge_duplicates

    counts["clues_merged"] = merge_duplicates(engine)
    with engine.begin() as conn:
        for flag in ("dibao", "tekun"):
            on = hids[pop.extra[f"{flag}_end"]]
            if len(on):
                conn.execute(
                    S.members.update()
                    .where(S.members.c.household_id == bindparam("hid"), S.members.c.relation == "head")
                    .values({flag: True}),
                    [{"hid": h} for h in on.tolist()],
                )
        sio.set_meta(conn, "county_code", spec.county_code)
        sio.set_meta(conn, "demo_seed", str(spec.seed))
        sio.set_meta(conn, "income_lines", json.dumps({str(k): v for k, v in spec.lines().items()}))
        sio.set_meta(conn, "demo", "1")
        sio.bump_data_version(conn)
    counts["regions"] = 1 + len(geo.townships) + len(geo.villages)
    if spec.workflow:  # monitoring work under way (own random stream; before planting, which counts what exists)
        from fanpin.demo_workflow import seed_workflow

        say("workflow", 0.975)
        counts.update({f"workflow_{k}": v for k, v in seed_workflow(engine, spec, np.random.default_rng([spec.seed, 0x0DE5])).items()})
        say("supervision cases", 0.999)
    # Supervision-rule cases in known numbers (own random stream; bumps the data version).
    from fanpin.demo_plant import plant_findings

    counts.update({f"planted_{k}": v for k, v in plant_findings(engine, spec, np.random.default_rng([spec.seed, 0x5E1F])).items()})
    say("done", 1.0)
    return counts


__all__ = ["DemoSpec", "build_demo", "default_income_lines", "make_id_numbers"]
