"""The demo county's months: incomes, spending and the events that move them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine

from fanpin.demo.geography import Geography, township_adjacency
from fanpin.demo.population import Population
from fanpin.demo.spec import DemoSpec, Progress
from fanpin.store import io as sio
from fanpin.store import schema as S


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
