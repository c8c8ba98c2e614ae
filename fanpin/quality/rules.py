"""Data-quality and supervision rules (数据质量与监督): contradictions an inspector looks for.

Each rule is one vectorised pandas computation over the month's tables (no loop over
households) and returns the households it flags, with a bilingual detail naming the
values that contradict each other.  ``find`` runs them for one month (the latest by
default) and returns one row per (rule, household); ``findings_to_clues`` turns
findings into warning clues (source ``supervision``) once, however often it is asked.

Thresholds are module constants so that an inspector can read what "large" means.

Four rules are the checks counties already run on the national system's exports; they read the
monitoring record (``monitoring_records``: one row per household, imported or written by the
workflow), not the append-only history: a risk type with no matching measure (``risk_no_measure``),
帮扶消除 with no development-type measure (``assistance_no_development``), elimination within two
months of identification (``eliminated_too_fast``) and an eliminated household whose income per
head in its elimination year is below that year's line (``eliminated_below_line``).  A record is
read as it stood at the end of the month checked: identified by then, and eliminated only if its
消除监测时间 is not later (the table holds the latest episode only, so a month before a
re-identification does not see the earlier episode).

Two rules check the official procedure (``fanpin.workflow.procedure``): an inclusion or elimination
that took effect in fanpin without an approved case whose last round passed every step
(``procedure_skipped``: 村级民主评议 passed, 村内公示, 乡镇审核 passed, 县级审定 passed), and an
approved case whose township check came fewer than the province's ``notice_days`` after the notice
went up (``notice_too_short``).  Records imported from the national system (no history in fanpin)
passed their chain elsewhere and are never flagged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from fanpin.access.masking import mask_frame
from fanpin.access.roles import AccessDenied, Principal, can, scope_frame
from fanpin.core.i18n import label
from fanpin.engine.income_line import IncomeLine
from fanpin.engine.policies import baseline, stored_lines
from fanpin.store import meta as meta_store
from fanpin.store import quality as qstore
from fanpin.store.clues import insert_clues
from fanpin.store.io import shift_period
from fanpin.store.monitoring_records import DEVELOPMENT_MEASURES, RISK_COLUMNS
from fanpin.workflow.monitoring import EARLY_MONTHS

SEVERITIES: tuple[str, ...] = ("high", "medium", "low")
#: A car or commercial house worth at least this many years of declared net income contradicts it.
ASSET_INCOME_RATIO = 3.0
#: Households in one village with the same declared net income: at least this many looks estimated.
SAME_INCOME_MIN = 5
#: A medical settlement (合规自付, rolling 12 months) at least this large should have raised a clue.
MEDICAL_LARGE = 10_000.0
#: Compulsory schooling ages checked (a year of slack on either side of 6-15 for entry age and finishing).
SCHOOL_AGES = (7, 14)
#: Housing grades that are 危房 (C and D); 1-2 (A, B) are habitable.
UNSAFE_GRADE = 3
#: Department record types that speak of wealth.
ASSET_TYPES = ("car", "commercial_house", "business")
#: Risk types the county check reads, and the assistance measures that answer each (any one of them
#: in effect during the monitoring will do).  公益岗位 is a job placement, so it answers 务工就业不稳;
#: 易地搬迁 answers housing and water.  Risk types not listed are not checked.
MATCHING_MEASURES: dict[str, tuple[str, ...]] = {
    "illness": ("health", "comprehensive", "social"),
    "disability": ("comprehensive", "social", "health"),
    "schooling": ("education", "other_education"),
    "housing": ("housing", "relocation"),
    "water": ("water", "relocation"),
    "unstable_work": ("employment", "public_welfare_job"),
}
#: Eliminated within this many months of identification (识别监测时间 + 2 months or earlier) is too fast.
FAST_ELIMINATION_MONTHS = EARLY_MONTHS

#: The official procedure's steps a case must have passed in its last round (after its last
#: resubmission) for what it carried to count as done by the book: (step, result).
CHAIN_STEPS: tuple[tuple[str, str], ...] = (("village_review", "passed"), ("notice", "done"), ("township_check", "passed"), ("county_approval", "passed"))

FINDING_COLUMNS = ["rule", "severity", "household_id", "township_code", "village_code", "period", "detail"]
CLUE_SOURCE = "supervision"
CLUE_CHANNEL = "department"


@dataclass(frozen=True)
class Rule:
    """One rule: code, short names and descriptions in both languages, severity, the fields it reads."""

    code: str
    zh: str  # description
    en: str
    severity: str  # high / medium / low
    fields: tuple[str, ...]
    name_zh: str = ""
    name_en: str = ""
    risk_type: str = "other"  # the clue's risk type when a finding becomes a clue
    check: Callable[[MonthData], pd.DataFrame] | None = field(default=None, compare=False, repr=False)

    def name(self, lang: str = "zh") -> str:
        return self.name_zh if lang == "zh" else self.name_en

    def description(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


# --------------------------------------------------------------------------- month data
class MonthData:
    """The tables one month's rules read, each loaded once and only if a rule asks for it
    (the queries are in ``fanpin.store.quality``; the demo's planting reads the same frames)."""

    def __init__(self, conn: Connection, period: int) -> None:
        self.conn = conn
        self.period = int(period)

    @cached_property
    def households(self) -> pd.DataFrame:
        return qstore.household_rows(self.conn)

    @cached_property
    def members(self) -> pd.DataFrame:
        f = qstore.member_rows(self.conn)
        f["deceased_period"] = pd.to_numeric(f["deceased_period"], errors="coerce")
        for c in ("dibao", "tekun", "public_welfare_job"):
            f[c] = f[c].fillna(False).astype(bool)
        return f

    @cached_property
    def alive(self) -> pd.DataFrame:
        m = self.members
        return m[m["deceased_period"].isna() | (m["deceased_period"] > self.period)]

    @cached_property
    def panel(self) -> pd.DataFrame:
        f = qstore.panel_rows(self.conn, self.period)
        for c in ("dibao", "tekun"):
            f[c] = f[c].fillna(False).astype(bool)
        for c in ("income_wage", "income_business", "income_net", "income_pc", "medical_oop", "housing_grade"):
            f[c] = pd.to_numeric(f[c], errors="coerce")
        return f

    @cached_property
    def dept(self) -> pd.DataFrame:
        f = qstore.dept_rows_until(self.conn, self.period)
        f["period"] = pd.to_numeric(f["period"], errors="coerce")
        f["value"] = pd.to_numeric(f["value"], errors="coerce")
        return f

    @cached_property
    def relations(self) -> pd.DataFrame:
        return qstore.relation_rows(self.conn)

    @cached_property
    def records(self) -> pd.DataFrame:
        """The monitoring records as they stood at the end of the month: identified by then (or
        undated), ``eliminated`` only if eliminated by then (or undated); ``start`` / ``end`` the
        months the monitoring covers (识别监测时间, and 消除监测时间 or this month; NaN: unknown)."""
        f = qstore.record_rows(self.conn)
        for c in ("identified_period", "eliminated_period"):
            f[c] = pd.to_numeric(f[c], errors="coerce").astype(float)
        f = f[~(f["identified_period"] > self.period)].copy()
        f["eliminated"] = f["eliminated"].fillna(False).astype(bool) & ~(f["eliminated_period"] > self.period)
        f["start"] = f["identified_period"]
        f["end"] = np.where(f["eliminated"] & f["eliminated_period"].notna(), f["eliminated_period"], float(self.period))
        return f.reset_index(drop=True)

    @cached_property
    def assistance(self) -> pd.DataFrame:
        """Assistance measures started by this month (``period`` the start, ``end_period`` NaN when open)."""
        f = qstore.assistance_rows_until(self.conn, self.period)
        for c in ("period", "end_period"):
            f[c] = pd.to_numeric(f[c], errors="coerce").astype(float)
        return f

    def measures_in_effect(self, recs: pd.DataFrame, measures: Iterable[str]) -> pd.DataFrame:
        """household_id, measure of ``measures`` in effect during each record's monitoring: an
        assistance row started by its ``end`` and not ended before its ``start`` (an unknown bound
        does not exclude), or named in its 实施开发式帮扶措施情况 (``development_measures``)."""
        wanted = list(measures)
        a = self.assistance[self.assistance["measure"].isin(wanted)].merge(recs[["household_id", "start", "end"]], on="household_id")
        a = a[~(a["period"] > a["end"]) & ~(a["end_period"] < a["start"])]
        named = recs[["household_id", "development_measures"]].assign(measure=recs["development_measures"].fillna("").astype(str).str.split(","))
        named = named.explode("measure")
        named = named[named["measure"].isin(wanted)]
        return pd.concat([a[["household_id", "measure"]], named[["household_id", "measure"]]], ignore_index=True).drop_duplicates()

    @cached_property
    def lines(self) -> IncomeLine:
        """The stored yearly income lines (the one year rule: ``fanpin.engine.income_line``)."""
        return stored_lines(self.conn)

    def line_of_year(self, year: int) -> float:
        """The income line of ``year``: the stored line by the year rule; with no line stored at all,
        the baseline policy's own line (what the scorer then uses for every month)."""
        line = self.lines.stored_at(int(year) * 100 + 12)
        return float(line) if line is not None else float(baseline(self.conn.engine).income_line)

    @cached_property
    def elimination_income(self) -> pd.DataFrame:
        """household_id, year, income_pc, source of each eliminated record's elimination year: the
        yearly income per head (``yearly_incomes``, source "yearly") when the year has one, else the
        panel's rolling 12-month income per head at the year's latest month up to this one (December
        for a past year; source "panel")."""
        r = self.records[self.records["eliminated"] & self.records["eliminated_period"].notna()]
        want = pd.DataFrame({"household_id": r["household_id"].to_numpy(), "year": (r["eliminated_period"] // 100).astype(int).to_numpy()})
        y = qstore.eliminated_yearly_incomes(self.conn)
        y = y.assign(year=pd.to_numeric(y["year"]).astype(int), income_pc=pd.to_numeric(y["income_pc"], errors="coerce").astype(float)).dropna(subset=["income_pc"])
        out = want.merge(y, on=["household_id", "year"], how="left").assign(source="yearly")
        missing = out["income_pc"].isna()
        if missing.any():
            months = pd.Series(qstore.panel_periods_until(self.conn, self.period), dtype=int)
            last = months.groupby(months // 100).max()  # year -> its latest month up to this one
            p = qstore.eliminated_panel_incomes(self.conn, last.tolist())
            p = p.assign(year=pd.to_numeric(p["period"]).astype(int) // 100, income_pc=pd.to_numeric(p["income_pc"], errors="coerce").astype(float))
            fill = out.loc[missing, ["household_id", "year"]].merge(p[["household_id", "year", "income_pc"]], on=["household_id", "year"], how="left")
            out.loc[missing, "income_pc"] = fill["income_pc"].to_numpy()
            out.loc[missing, "source"] = "panel"
        return out.dropna(subset=["income_pc"]).reset_index(drop=True)

    @cached_property
    def effects(self) -> pd.DataFrame:
        """What took effect in fanpin up to this month (the history's inclusions with an order and
        approved eliminations): record_id, household_id, period, kind, and ``ref``, the order or
        proposal that ties it to its case."""
        f = qstore.effect_rows(self.conn, self.period)
        elim = f["status"] == "eliminated"
        ref = pd.to_numeric(f["proposal_id"].where(elim, f["order_id"]), errors="coerce")
        return f.assign(kind=np.where(elim, "elimination", "inclusion"), ref=ref, period=pd.to_numeric(f["period"]))[
            ["record_id", "household_id", "period", "kind", "ref"]]

    @cached_property
    def chains(self) -> pd.DataFrame:
        """Every case with its last round (the steps after its last resubmission): case_id,
        household_id, kind, ref (order or proposal), period, state, ``missing`` (the
        ``CHAIN_STEPS`` it lacks, comma separated, "" when complete), ``notice_day`` (the notice's
        first day) and ``check_day`` (the day the township check passed)."""
        c = qstore.case_rows(self.conn)
        s = qstore.step_rows(self.conn)
        s["case_id"] = pd.to_numeric(s["case_id"])
        s["step_id"] = pd.to_numeric(s["step_id"])
        cut = s[s["step"] == "resubmitted"].groupby("case_id")["step_id"].max()
        s = s[s["step_id"] > s["case_id"].map(cut).fillna(-1)]
        have = set(zip(s["case_id"], s["step"], s["result"]))
        ids = pd.to_numeric(c["case_id"]).astype(int)
        missing = [",".join(step for step, result in CHAIN_STEPS if (cid, step, result) not in have) for cid in ids]
        notice = s[s["step"] == "notice"].groupby("case_id")["step_date"].last()
        check = s[(s["step"] == "township_check") & (s["result"] == "passed")].groupby("case_id")["done_at"].last()
        elim = c["kind"] == "elimination"
        return pd.DataFrame({
            "case_id": ids, "household_id": c["household_id"], "kind": c["kind"],
            "ref": pd.to_numeric(c["proposal_id"].where(elim, c["order_id"]), errors="coerce"), "period": pd.to_numeric(c["period"]),
            "state": c["state"], "missing": missing,
            "notice_day": pd.to_datetime(ids.map(notice)).dt.normalize(), "check_day": pd.to_datetime(ids.map(check)).dt.normalize(),
        })

    @cached_property
    def notice_days(self) -> int:
        """The province's minimum notice period (``meta.notice_days``)."""
        return meta_store.notice_days(self.conn)

    def illness_clue_households(self, months: int = 12) -> np.ndarray:
        """Households with an illness clue in the ``months`` up to this one."""
        return qstore.clue_households(self.conn, "illness", shift_period(self.period, -(months - 1)), self.period)


def _hits(household_id: Iterable, detail: Iterable) -> pd.DataFrame:
    return pd.DataFrame({"household_id": list(household_id), "detail": list(detail)})


def _ym(p: float | int) -> str:
    p = int(p)
    return f"{p // 100}-{p % 100:02d}"


def _join_details(f: pd.DataFrame) -> pd.DataFrame:
    """One row per household, several details joined with '; '."""
    if f.empty:
        return _hits([], [])
    return f.groupby("household_id", sort=True)["detail"].agg(lambda s: "; ".join(dict.fromkeys(s))).reset_index()


# --------------------------------------------------------------------------- the rules
def _death_periods(d: MonthData) -> pd.DataFrame:
    """Per member: the death month from the roster or from a department death record (earliest)."""
    m = d.members[["member_id", "household_id", "id_number", "deceased_period", "dibao", "tekun"]]
    deaths = d.dept[d.dept["record_type"] == "death"]
    rec = deaths.assign(p=deaths["period"].fillna(0)).groupby("id_number")["p"].min()
    out = m.assign(record_period=m["id_number"].map(rec))
    out["died"] = out[["deceased_period", "record_period"]].min(axis=1)
    return out


def _deceased_benefit(d: MonthData) -> pd.DataFrame:
    m = _death_periods(d)
    hit = m[(m["died"] < d.period) & (m["dibao"] | m["tekun"])]
    first = hit.groupby("household_id")["died"].min()
    n = hit.groupby("household_id").size()
    return _hits(
        first.index,
        [f"{k}名成员已死亡（{_ym(p) if p else '时间不详'}）仍享受低保/特困 / {k} member(s) deceased ({_ym(p) if p else 'date unknown'}) still receiving dibao/tekun"
         for k, p in zip(n.reindex(first.index), first)],
    )


def _death_not_recorded(d: MonthData) -> pd.DataFrame:
    deaths = d.dept[(d.dept["record_type"] == "death") & d.dept["id_number"].notna()]
    m = d.members[d.members["deceased_period"].isna()][["household_id", "id_number"]]
    hit = deaths.merge(m, on="id_number", suffixes=("_rec", ""))
    when = hit["period"].map(lambda p: _ym(p) if pd.notna(p) else "?")
    return _join_details(_hits(hit["household_id"], [f"部门死亡登记（{s}，{w}），家庭成员信息未标注死亡 / death registered by {s} ({w}) but the roster does not mark the member deceased"
                                                     for s, w in zip(hit["source"], when)]))


_ASSET_LABELS = {"car": ("车辆", "a car"), "commercial_house": ("商品房", "a commercial house"), "business": ("工商注册", "a registered business")}


def _income_vs_dept(d: MonthData) -> pd.DataFrame:
    r = d.dept[d.dept["record_type"].isin(ASSET_TYPES)]
    if r.empty:
        return _hits([], [])
    owner = d.members.drop_duplicates("id_number").set_index("id_number")["household_id"]
    hid = r["id_number"].map(owner)
    r = r.assign(hh=hid.where(hid.notna(), r["household_id"])).dropna(subset=["hh"])
    r = r.merge(d.panel, left_on="hh", right_on="household_id", how="inner", suffixes=("_rec", ""))
    net = r["income_net"].fillna(0).clip(lower=0)
    asset = r["record_type"].isin(("car", "commercial_house"))
    on_benefit = r["dibao"] | r["tekun"]
    bad = (asset & r["value"].notna() & (r["value"] >= ASSET_INCOME_RATIO * net)) | (asset & r["value"].isna() & on_benefit)
    bad |= (r["record_type"] == "business") & (r["income_business"].isna() | (r["income_business"] <= 0))
    r = r[bad]
    zh = r["record_type"].map(lambda k: _ASSET_LABELS[k][0])
    en = r["record_type"].map(lambda k: _ASSET_LABELS[k][1])
    val = r["value"].map(lambda v: f"{v:,.0f}" if pd.notna(v) else "?")
    return _join_details(_hits(
        r["household_id"],
        [f"部门记录有{a}（{v}元），申报家庭纯收入{n:,.0f}元、经营性收入{b:,.0f}元 / department records {e} ({v} yuan) against declared net income {n:,.0f} and business income {b:,.0f}"
         for a, e, v, n, b in zip(zh, en, val, r["income_net"].fillna(0), r["income_business"].fillna(0))],
    ))


def _official_relative_dibao(d: MonthData) -> pd.DataFrame:
    rel = d.relations.merge(d.alive[["household_id", "id_number"]], left_on="relative_id_number", right_on="id_number")
    rel = rel.merge(d.panel[d.panel["dibao"]][["household_id"]], on="household_id")
    return _join_details(_hits(rel["household_id"], [f"低保户成员为干部近亲属（{p}，{r}） / dibao household member is a close relative of an official ({p}, {r})"
                                                     for p, r in zip(rel["official_post"], rel["relation"])]))


def _duplicate_person(d: MonthData) -> pd.DataFrame:
    """Same name, sex and birth date in two households with ID numbers equal in the first 14 characters
    (address code and birth date) and different in the last four (sequence and check character):
    one person registered twice under a mistyped or re-issued number.  An exact repeat of an ID
    number cannot reach the database (unique) and is refused by the import."""
    m = d.members[["household_id", "name", "sex", "birth_date", "id_number"]].copy()
    m["id14"] = m["id_number"].str[:14]
    key = ["name", "sex", "birth_date", "id14"]
    g = m.groupby(key, sort=False)
    dup = m[(g["household_id"].transform("nunique") >= 2) & (g["id_number"].transform("nunique") >= 2)]
    if dup.empty:
        return _hits([], [])
    others = dup.groupby(key, sort=False)["household_id"].agg(lambda s: sorted(set(s)))
    dup = dup.join(others.rename("all"), on=key)
    detail = [f"疑似同一人在两户重复登记（姓名、性别、出生日期相同，身份证号末四位不同），另见 {','.join(x for x in a if x != h)} / "
              f"same person apparently registered in two households (same name, sex and birth date, ID numbers differ in the last four characters), also in {','.join(x for x in a if x != h)}"
              for h, a in zip(dup["household_id"], dup["all"])]
    return _join_details(_hits(dup["household_id"], detail))


def _no_labour_wage(d: MonthData) -> pd.DataFrame:
    h = d.households
    none = h["no_labour_guarantee"].fillna(False).astype(bool) | ((h["n_labour"] + h["n_weak_labour"]) == 0)
    f = d.panel.merge(h[none][["household_id"]], on="household_id")
    f = f[f["income_wage"].fillna(0) > 0]
    return _hits(f["household_id"], [f"标注整户无劳动能力，但工资性收入{w:,.0f}元 / marked as having no labour capacity but has wage income of {w:,.0f} yuan" for w in f["income_wage"]])


def _identical_income(d: MonthData) -> pd.DataFrame:
    f = d.panel[d.panel["income_net"] > 0][["household_id", "income_net"]].merge(d.households[["household_id", "village_code"]], on="household_id")
    n = f.groupby(["village_code", "income_net"])["household_id"].transform("size")
    f = f.assign(n=n)[n >= SAME_INCOME_MIN]
    return _hits(f["household_id"], [f"本村{k}户家庭纯收入同为{v:,.0f}元，疑似估算而非入户核实 / {k} households in the village declare exactly {v:,.0f} yuan net income (estimated rather than surveyed)"
                                      for k, v in zip(f["n"], f["income_net"])])


def _medical_no_clue(d: MonthData) -> pd.DataFrame:
    f = d.panel[d.panel["medical_oop"].fillna(0) >= MEDICAL_LARGE]
    f = f[~f["household_id"].isin(d.illness_clue_households(12))]
    return _hits(f["household_id"], [f"近12个月合规自付医疗费用{v:,.0f}元，未产生因病风险线索 / out-of-pocket medical costs of {v:,.0f} yuan in 12 months but no illness clue was raised" for v in f["medical_oop"]])


def _month_index(period: pd.Series) -> pd.Series:
    """YYYYMM as a count of months (so that differences are months)."""
    p = period.astype(int)
    return (p // 100) * 12 + p % 100


def unmatched_risks(d: MonthData) -> pd.DataFrame:
    """household_id, risk: each checked risk type of a record (致贫/返贫风险1-5, in their order)
    with none of its ``MATCHING_MEASURES`` in effect during the monitoring."""
    r = d.records
    risks = r.melt(id_vars=["household_id"], value_vars=list(RISK_COLUMNS), var_name="slot", value_name="risk")
    risks = risks[risks["risk"].isin(list(MATCHING_MEASURES))].sort_values(["household_id", "slot"]).drop_duplicates(["household_id", "risk"])
    if risks.empty:
        return pd.DataFrame({"household_id": pd.Series(dtype=object), "risk": pd.Series(dtype=object)})
    have = d.measures_in_effect(r, {m for ms in MATCHING_MEASURES.values() for m in ms})
    need = pd.DataFrame([(k, m) for k, ms in MATCHING_MEASURES.items() for m in ms], columns=["risk", "measure"])
    met = risks.merge(need, on="risk").merge(have, on=["household_id", "measure"])[["household_id", "risk"]].drop_duplicates()
    key = pd.MultiIndex.from_frame(risks[["household_id", "risk"]])
    return risks[~key.isin(pd.MultiIndex.from_frame(met))][["household_id", "risk"]].reset_index(drop=True)


def _risk_no_measure(d: MonthData) -> pd.DataFrame:
    miss = unmatched_risks(d)
    names = {k: ("、".join(label("measure", m, "zh") for m in ms), ", ".join(label("measure", m, "en").lower() for m in ms)) for k, ms in MATCHING_MEASURES.items()}
    return _join_details(_hits(miss["household_id"], [
        f"风险类型{label('risk', k, 'zh')}，监测期间无对应帮扶措施（{names[k][0]}） / risk type {label('risk', k, 'en').lower()} with no matching measure during monitoring ({names[k][1]})"
        for k in miss["risk"]]))


def _assistance_no_development(d: MonthData) -> pd.DataFrame:
    """帮扶消除 records with no development-type measure (``DEVELOPMENT_MEASURES``) in effect from
    identification to elimination: neither an assistance row nor the record's 实施开发式帮扶措施情况."""
    r = d.records[d.records["eliminated"] & (d.records["elimination_method"] == "by_assistance")]
    have = d.measures_in_effect(r, DEVELOPMENT_MEASURES)
    r = r[~r["household_id"].isin(have["household_id"])]
    when = [_ym(p) if p == p else "时间不详" for p in r["eliminated_period"]]
    when_en = [_ym(p) if p == p else "date unknown" for p in r["eliminated_period"]]
    return _hits(r["household_id"], [f"{w}帮扶消除，监测期间无产业、就业、金融、公益岗位等开发式帮扶措施 / eliminated by assistance ({e}) with no development-type measure "
                                     "(industry, employment, finance, public welfare job) during monitoring" for w, e in zip(when, when_en)])


def _eliminated_too_fast(d: MonthData) -> pd.DataFrame:
    """Records eliminated at most ``FAST_ELIMINATION_MONTHS`` months after their 识别监测时间 (both months known)."""
    r = d.records
    r = r[r["eliminated"] & r["identified_period"].notna() & r["eliminated_period"].notna()]
    gap = _month_index(r["eliminated_period"]) - _month_index(r["identified_period"])
    r = r[gap <= FAST_ELIMINATION_MONTHS]
    gap = gap[gap <= FAST_ELIMINATION_MONTHS]
    return _hits(r["household_id"], [f"{_ym(i)}识别为监测对象，{_ym(p)}即消除风险（相隔{g}个月） / identified {_ym(i)}, risk eliminated {_ym(p)} ({g} month(s) later)"
                                     for i, p, g in zip(r["identified_period"], r["eliminated_period"], gap)])


def _eliminated_below_line(d: MonthData) -> pd.DataFrame:
    """Eliminated records whose income per head in the year of 消除监测时间 is below that year's line.

    The income is the household's yearly income per head of that year (``yearly_incomes.income_pc``,
    the national income sheet's 家庭人均纯收入) when there is one, else the panel's rolling 12-month
    income per head at the year's latest month up to the month checked (December for a past year);
    the line is the stored line of the year (``stored_lines(...).stored_at``, the one year rule).
    Income exactly at the line is not below it."""
    inc = d.elimination_income
    if inc.empty:
        return _hits([], [])
    lines = {int(y): d.line_of_year(int(y)) for y in inc["year"].unique()}
    inc = inc.assign(line=inc["year"].map(lines))
    inc = inc[inc["income_pc"] < inc["line"]]
    src = {"yearly": ("年度收支", "yearly income"), "panel": ("月度滚动", "rolling 12 months")}
    return _hits(inc["household_id"], [f"已消除风险，{y}年人均纯收入{v:,.0f}元（{src[s][0]}）低于当年监测线{x:,.0f}元 / risk eliminated but income per head in {y} "
                                       f"of {v:,.0f} yuan ({src[s][1]}) is below that year's line of {x:,.0f}"
                                       for y, v, s, x in zip(inc["year"], inc["income_pc"], inc["source"], inc["line"])])


_KIND_TEXT = {"inclusion": ("纳入监测", "inclusion"), "elimination": ("风险消除", "risk elimination")}


def _procedure_skipped(d: MonthData) -> pd.DataFrame:
    """Inclusions (a history row ``monitored`` with an order) and eliminations (``eliminated`` with
    a proposal) that took effect by this month without an approved case of the household carrying
    that order or proposal whose last round passed every step of ``CHAIN_STEPS``."""
    e = d.effects
    if e.empty:
        return _hits([], [])
    ok = d.chains[d.chains["state"] == "approved"]
    e = e.merge(ok[["household_id", "kind", "ref", "missing"]], on=["household_id", "kind", "ref"], how="left")
    # several approved cases for one effect cannot happen in the app; the most complete one counts
    e = e.assign(_n=e["missing"].fillna("?").str.len()).sort_values(["record_id", "_n"]).drop_duplicates("record_id")
    bad = e[e["missing"].isna() | (e["missing"] != "")]
    details = []
    for kind, period, missing in zip(bad["kind"], bad["period"], bad["missing"]):
        zh_k, en_k = _KIND_TEXT[kind]
        if not isinstance(missing, str):
            details.append(f"{_ym(period)}{zh_k}已生效，无审定通过的程序记录 / {en_k} of {_ym(period)} took effect with no approved case")
            continue
        steps = missing.split(",")
        zh = "、".join(label("case_step", x, "zh") for x in steps)
        en = ", ".join(label("case_step", x, "en").lower() for x in steps)
        details.append(f"{_ym(period)}{zh_k}已生效，程序缺少{zh} / {en_k} of {_ym(period)} took effect without {en}")
    return _join_details(_hits(bad["household_id"], details))


def _notice_too_short(d: MonthData) -> pd.DataFrame:
    """Approved cases (of months up to this one) whose township check passed fewer than
    ``notice_days`` days after the notice's first day."""
    c = d.chains
    c = c[(c["state"] == "approved") & (c["period"] <= d.period) & c["notice_day"].notna() & c["check_day"].notna()]
    days = (c["check_day"] - c["notice_day"]).dt.days
    c, days = c[days < d.notice_days], days[days < d.notice_days]
    need = d.notice_days
    return _join_details(_hits(c["household_id"], [
        f"{_KIND_TEXT[k][0]}公示自{n:%Y-%m-%d}起仅{g}天即乡镇审核（规定不少于{need}天） / {_KIND_TEXT[k][1]}: township check {g} day(s) after the notice "
        f"went up on {n:%Y-%m-%d} ({need} required)" for k, n, g in zip(c["kind"], c["notice_day"], days)]))


def _age_at_end_of(birth: pd.Series, period: int) -> pd.Series:
    b = pd.to_datetime(birth)
    y, m = divmod(int(period), 100)
    return y - b.dt.year - (b.dt.month > m).astype(int)


def _school_not_enrolled(d: MonthData) -> pd.DataFrame:
    m = d.alive
    age = _age_at_end_of(m["birth_date"], d.period)
    lo, hi = SCHOOL_AGES
    hit = m[(age >= lo) & (age <= hi) & m["schooling"].isin(("none", "preschool"))]
    n = hit.groupby("household_id").size()
    return _hits(n.index, [f"{k}名义务教育阶段（{lo}-{hi}岁）儿童未在学 / {k} child(ren) of compulsory school age ({lo}-{hi}) not enrolled" for k in n])


def _unsafe_house_secured(d: MonthData) -> pd.DataFrame:
    h = d.households[d.households["housing_secured"].fillna(False).astype(bool)][["household_id"]]
    f = d.panel.merge(h, on="household_id")
    f = f[f["housing_grade"].fillna(0) >= UNSAFE_GRADE]
    grade = f["housing_grade"].astype(int).map({1: "A", 2: "B", 3: "C", 4: "D"})
    return _hits(f["household_id"], [f"住房鉴定为{g}级危房，却标注住房安全有保障 / house graded {g} (unsafe) but marked housing-secure" for g in grade])


def _welfare_job_no_labour(d: MonthData) -> pd.DataFrame:
    m = d.alive
    hit = m[m["public_welfare_job"] & m["labour_capacity"].isin(("lost", "none"))]
    n = hit.groupby("household_id").size()
    return _hits(n.index, [f"{k}名无劳动能力成员占用公益岗位 / {k} member(s) without labour capacity hold a public welfare job" for k in n])


RULES: tuple[Rule, ...] = (
    Rule("deceased_benefit", "已死亡成员（家庭成员信息标注死亡月份，或部门死亡登记早于本月）仍标注享受低保或特困供养。",
         "A member who died before this month (roster or department death record) is still marked as receiving dibao or tekun.",
         "high", ("members.deceased_period", "members.dibao", "members.tekun", "dept_records.record_type=death"),
         "已故人员仍享受救助", "Deceased still on benefits", "other", _deceased_benefit),
    Rule("death_not_recorded", "部门（公安等）有死亡登记，但家庭成员信息未标注死亡。",
         "A department (police etc.) registered a member's death but the household roster does not mark it.",
         "medium", ("dept_records.record_type=death", "dept_records.id_number", "members.deceased_period"),
         "死亡信息未更新", "Death not recorded", "other", _death_not_recorded),
    Rule("income_vs_dept", f"申报收入与部门比对数据矛盾：车辆或商品房价值达到家庭纯收入的{ASSET_INCOME_RATIO:g}倍以上（价值不详时为低保/特困户），或有工商注册而经营性收入为零。",
         f"Declared income contradicts department records: a car or commercial house worth at least {ASSET_INCOME_RATIO:g} years of net income "
         "(any value for a dibao/tekun household when the value is unknown), or a registered business with no business income.",
         "high", ("dept_records.record_type", "dept_records.value", "panel.income_net", "panel.income_business", "panel.dibao", "panel.tekun"),
         "收入与部门数据矛盾", "Income contradicts departments", "other", _income_vs_dept),
    Rule("official_relative_dibao", "享受低保的家庭中有成员是村（乡）干部的近亲属，需备案核查。",
         "A household receiving dibao has a member who is a close relative of a village or township official (to be recorded and checked).",
         "high", ("official_relations.relative_id_number", "members.id_number", "panel.dibao"),
         "干部近亲属享受低保", "Officials' relatives on dibao", "other", _official_relative_dibao),
    Rule("duplicate_person", "同一人疑似在两户重复登记：姓名、性别、出生日期相同，身份证号前14位相同而末四位不同（录入错误或重新编号）。完全相同的身份证号由导入校验拒绝。",
         "The same person apparently registered in two households: same name, sex and birth date, ID numbers equal in the first 14 characters "
         "and different in the last four (mistyped or re-issued). An exactly repeated ID number is refused by the import.",
         "high", ("members.name", "members.sex", "members.birth_date", "members.id_number", "members.household_id"),
         "同一人重复登记", "Person registered twice", "other", _duplicate_person),
    Rule("no_labour_wage", "标注整户无劳动能力（兜底户）的家庭有工资性收入。",
         "A household marked as having no labour capacity (state-guaranteed) has wage income.",
         "medium", ("households.no_labour_guarantee", "households.n_labour", "households.n_weak_labour", "panel.income_wage"),
         "无劳动能力却有工资收入", "Wage income without labour", "other", _no_labour_wage),
    Rule("identical_income", f"同一村{SAME_INCOME_MIN}户及以上家庭纯收入完全相同，疑似估算而非入户核算。",
         f"{SAME_INCOME_MIN} or more households in one village declare exactly the same net income: estimated rather than surveyed.",
         "medium", ("panel.income_net", "households.village_code"),
         "收入疑似估算", "Estimated incomes", "other", _identical_income),
    Rule("medical_no_clue", f"近12个月合规自付医疗费用达到{MEDICAL_LARGE:,.0f}元，但同期未产生因病风险线索。",
         f"Out-of-pocket medical costs of at least {MEDICAL_LARGE:,.0f} yuan over 12 months but no illness clue was raised in that time.",
         "medium", ("panel.medical_oop", "clues.risk_type=illness", "clues.period"),
         "大额医疗支出未预警", "Large medical cost, no clue", "illness", _medical_no_clue),
    Rule("risk_no_measure", "监测对象的致贫/返贫风险类型在监测期间没有对应的帮扶措施：因病无健康帮扶、综合保障或社会帮扶，因残无综合保障、社会帮扶或健康帮扶，"
         "因学无教育帮扶，因住房安全无住房安全保障或搬迁，因饮水安全无饮水安全保障或搬迁，因务工就业不稳无就业帮扶或公益岗位。",
         "A monitored household's risk type has no matching assistance measure in effect during its monitoring: illness without health, "
         "comprehensive or social assistance; disability without comprehensive, social or health; schooling without education; housing "
         "without housing safety or relocation; water without drinking-water safety or relocation; unstable work without employment or a public welfare job.",
         "medium", ("monitoring_records.risk_1-5", "monitoring_records.identified_period", "monitoring_records.eliminated_period",
                    "monitoring_records.development_measures", "assistance.measure", "assistance.period", "assistance.end_period"),
         "风险类型无对应帮扶措施", "Risk without matching measure", "other", _risk_no_measure),
    Rule("assistance_no_development", "以帮扶消除方式消除风险，但监测期间没有产业、就业、金融、公益岗位等开发式帮扶措施。",
         "Risk eliminated by assistance (帮扶消除) but no development-type measure (industry, employment, finance, public welfare job) was in effect during monitoring.",
         "high", ("monitoring_records.elimination_method", "monitoring_records.development_measures", "assistance.measure", "assistance.period", "assistance.end_period"),
         "帮扶消除无开发式措施", "Assisted elimination, no development measure", "other", _assistance_no_development),
    Rule("eliminated_too_fast", f"识别为监测对象后{FAST_ELIMINATION_MONTHS}个月内（含当月）即消除风险（“体外循环”“数字消除”风险）。",
         f"Risk eliminated within {FAST_ELIMINATION_MONTHS} months of identification (the same month included): a paper elimination risk.",
         "high", ("monitoring_records.identified_period", "monitoring_records.eliminated", "monitoring_records.eliminated_period"),
         "识别后过快消除风险", "Eliminated too fast", "other", _eliminated_too_fast),
    Rule("eliminated_below_line", "已消除风险的家庭，消除当年的人均纯收入（年度收支，无则月度滚动收入）低于当年监测线。",
         "A household whose risk was eliminated has an income per head in the year of elimination (the yearly income, else the rolling monthly one) below that year's line.",
         "high", ("monitoring_records.eliminated", "monitoring_records.eliminated_period", "yearly_incomes.income_pc", "panel.income_pc", "meta.income_lines"),
         "消除后收入低于监测线", "Eliminated below the line", "other", _eliminated_below_line),
    Rule("procedure_skipped", "纳入监测或风险消除已在系统中生效，但没有经县级审定通过、且依次通过村级民主评议、村内公示、乡镇审核、县级审定的程序记录（导入的国家系统监测信息不检查）。",
         "An inclusion or risk elimination took effect in fanpin without an approved case that passed the village review, the village notice, "
         "the township check and the county approval (records imported from the national system are not checked).",
         "high", ("monitoring.status", "monitoring.order_id", "monitoring.proposal_id", "cases.state", "case_steps.step", "case_steps.result"),
         "未经完整程序纳入或消除", "Procedure skipped", "other", _procedure_skipped),
    Rule("notice_too_short", "已审定的纳入或消除，村内公示开始后不足规定天数（省定公示天数）即完成乡镇审核。",
         "An approved inclusion or elimination whose township check was done fewer days after the village notice went up than the province requires.",
         "medium", ("case_steps.step=notice", "case_steps.step_date", "case_steps.step=township_check", "case_steps.done_at", "meta.notice_days"),
         "公示时间不足", "Notice too short", "other", _notice_too_short),
    Rule("school_not_enrolled", f"义务教育阶段（{SCHOOL_AGES[0]}-{SCHOOL_AGES[1]}岁）儿童未在学（控辍保学）。",
         f"A child of compulsory school age ({SCHOOL_AGES[0]}-{SCHOOL_AGES[1]}) is not enrolled.",
         "medium", ("members.birth_date", "members.schooling", "members.deceased_period"),
         "适龄儿童未在学", "School-age child not enrolled", "schooling", _school_not_enrolled),
    Rule("unsafe_house_secured", "住房鉴定为C/D级危房，却标注住房安全有保障。",
         "A house graded C or D (unsafe) is marked as housing-secure.",
         "high", ("households.housing_secured", "panel.housing_grade"),
         "危房标注住房安全", "Unsafe house marked secure", "housing", _unsafe_house_secured),
    Rule("welfare_job_no_labour", "丧失劳动能力或无劳动能力的成员占用公益岗位。",
         "A member who has lost or has no labour capacity holds a public welfare job.",
         "medium", ("members.public_welfare_job", "members.labour_capacity"),
         "无劳动能力占用公益岗", "Welfare job without labour", "other", _welfare_job_no_labour),
)
BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}


# --------------------------------------------------------------------------- running them
latest_period = qstore.latest_period
state_token = qstore.state_token


def _may_read(principal: Principal) -> None:
    """Findings name households: only a principal who may open the quality page reads them."""
    if not isinstance(principal, Principal):
        raise AccessDenied("page:quality", "nobody may read the findings")
    if not can(principal, "page:quality"):
        raise AccessDenied("page:quality", f"{principal.username} ({principal.role}) may not read the findings")


def find(engine: Engine, period: int | None = None, *, principal: Principal, codes: Iterable[str] | None = None) -> pd.DataFrame:
    """Run the rules for ``period`` (None: the latest month); one row per (rule, household).

    ``principal`` must be one who may open the quality page; a case worker's keeps only their townships.
    """
    _may_read(principal)
    wanted = [BY_CODE[c] for c in codes] if codes is not None else list(RULES)
    with engine.connect() as conn:
        if period is None:
            period = latest_period(conn)
        if period is None:
            return pd.DataFrame(columns=FINDING_COLUMNS)
        d = MonthData(conn, int(period))
        parts = []
        for rule in wanted:
            f = rule.check(d)
            if len(f):
                parts.append(f.assign(rule=rule.code, severity=rule.severity))
        if not parts:
            return pd.DataFrame(columns=FINDING_COLUMNS)
        out = pd.concat(parts, ignore_index=True).merge(d.households[["household_id", "township_code", "village_code"]], on="household_id", how="left")
    out["period"] = int(period)
    out = scope_frame(out, principal)
    order = {r.code: i for i, r in enumerate(RULES)}
    out = out.assign(_o=out["rule"].map(order)).sort_values(["_o", "household_id"]).drop(columns="_o")
    return out[FINDING_COLUMNS].reset_index(drop=True)


def household_heads(engine: Engine, household_ids: Iterable[str], *, principal: Principal) -> pd.DataFrame:
    """household_id, name, id_number of the heads of ``household_ids`` (the drill-down's who), masked.

    Only households in the principal's townships; the principal must be one who reads findings."""
    _may_read(principal)
    ids = sorted({str(h) for h in household_ids})
    if not ids:
        return pd.DataFrame(columns=["household_id", "name", "id_number"])
    with engine.connect() as conn:
        heads = qstore.household_heads(conn, ids)
    return mask_frame(scope_frame(heads, principal)).reset_index(drop=True)


def by_rule(findings: pd.DataFrame) -> pd.DataFrame:
    """Per rule (every rule, zeros included): severity, findings, distinct households and townships."""
    g = findings.groupby("rule")
    out = pd.DataFrame({
        "rule": [r.code for r in RULES],
        "severity": [r.severity for r in RULES],
        "name_zh": [r.name_zh for r in RULES],
        "name_en": [r.name_en for r in RULES],
    })
    out["findings"] = out["rule"].map(g.size()).fillna(0).astype(int)
    out["households"] = out["rule"].map(g["household_id"].nunique()).fillna(0).astype(int)
    out["townships"] = out["rule"].map(g["township_code"].nunique()).fillna(0).astype(int)
    return out


def by_township(findings: pd.DataFrame) -> pd.DataFrame:
    """Per township: findings, distinct households, high-severity findings, and one column per rule."""
    if findings.empty:
        return pd.DataFrame(columns=["township_code", "findings", "households", "high", *[r.code for r in RULES]])
    g = findings.groupby("township_code")
    out = pd.DataFrame({
        "findings": g.size(),
        "households": g["household_id"].nunique(),
        "high": findings[findings["severity"] == "high"].groupby("township_code").size(),
    }).fillna(0)
    per = findings.pivot_table(index="township_code", columns="rule", values="household_id", aggfunc="count", fill_value=0)
    per = per.reindex(columns=[r.code for r in RULES], fill_value=0)
    out = out.join(per).fillna(0).astype(int).reset_index()
    return out.sort_values(["findings", "township_code"], ascending=[False, True]).reset_index(drop=True)


def detail_text(detail: str | None, lang: str = "zh") -> str:
    """A finding's or a clue's detail in one language, for every screen that shows one.

    A finding's detail is stored as "zh / en" (several joined by "; "); a supervision clue's as
    ``[rule_code] finding`` (``clue_detail``; older rows carry the rule's two names between, which are
    read past), shown as the rule's name in ``lang`` and the finding's half; any other clue detail is
    read by ``fanpin.core.clue_text.render`` (coded details, older bilingual text, text as written)."""
    from fanpin.core.clue_text import render
    from fanpin.core.i18n import translate

    text = "" if detail is None or (isinstance(detail, float) and detail != detail) else str(detail)
    m = _CODE_IN_DETAIL.match(text)
    if m and m.group(1) in BY_CODE:
        r = BY_CODE[m.group(1)]
        finding = text[m.end():].strip()
        old_names = f"监督规则：{r.name_zh} / supervision rule: {r.name_en} — "
        finding = finding[len(old_names):] if finding.startswith(old_names) else finding
        return translate("clue_detail.rule", lang, name=r.name(lang), finding=render(finding, lang))
    return render(text, lang)


_CODE_IN_DETAIL = re.compile(r"^\[([a-z_]+)\]")


def clue_detail(rule: str, detail: str) -> str:
    """The clue's detail as stored: the rule code in brackets (what makes repeats recognisable and
    names the rule in the reader's language, ``detail_text``), then the finding."""
    BY_CODE[rule]  # a known rule
    return f"[{rule}] {detail}"


def _scoped_by_the_roster(conn: Connection, findings: pd.DataFrame, principal: Principal) -> pd.DataFrame:
    """The findings whose household exists and lies in the principal's townships, by the roster's
    township (never a township column the caller passed)."""
    towns = qstore.household_townships(conn, findings["household_id"])
    return scope_frame(findings.assign(township_code=findings["household_id"].astype(str).map(towns)), principal).dropna(subset=["township_code"])


def _new_findings(conn: Connection, f: pd.DataFrame, period: int) -> pd.DataFrame:
    """Drop the (rule, household) pairs that already have a supervision clue in ``period``."""
    have = qstore.supervision_clues(conn, CLUE_SOURCE, period)
    if have.empty:
        return f
    have["rule"] = have["detail"].fillna("").str.extract(_CODE_IN_DETAIL, expand=False)
    seen = pd.MultiIndex.from_frame(have[["rule", "household_id"]].dropna())
    return f[~pd.MultiIndex.from_frame(f[["rule", "household_id"]]).isin(seen)]


def findings_to_clues(engine: Engine, findings: pd.DataFrame | None, period: int, now: datetime | None = None, *, principal: Principal) -> int:
    """Turn findings into ``supervision`` clues for ``period``; returns how many were created.

    A (household, rule) that already has a supervision clue this month gets none, so asking twice
    creates nothing the second time; clues about the same household and risk type then merge
    (``workflow.clues.merge_duplicates``).  The audit entry (actor: the principal) commits with the
    clues.  Only roles that record clues may do it; each household's township is looked up in the
    roster, and households outside a case worker's townships (or not in the roster) are dropped.
    """
    from fanpin.access import audit
    from fanpin.workflow.clues import merge_duplicates

    if not isinstance(principal, Principal) or not (can(principal, "clue_add") or can(principal, "clue_generate")):
        who = "nobody" if not isinstance(principal, Principal) else f"{principal.username} ({principal.role})"
        raise AccessDenied("clue_add", f"{who} may not turn findings into clues")
    if findings is None or findings.empty:
        return 0
    f = findings[["rule", "household_id", "detail"]].drop_duplicates(["rule", "household_id"])
    at = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        f = _new_findings(conn, _scoped_by_the_roster(conn, f, principal), int(period))
        if f.empty:
            return 0
        rows = [
            {"household_id": h, "period": int(period), "channel": CLUE_CHANNEL, "source": CLUE_SOURCE, "risk_type": BY_CODE[r].risk_type,
             "detail": clue_detail(r, d), "received_at": at}
            for r, h, d in zip(f["rule"], f["household_id"], f["detail"])
        ]
        insert_clues(conn, rows)
        audit.record(conn, principal.actor, "findings_to_clues", target=f"period:{int(period)}",
                     detail={"created": len(rows), "rules": {k: int(v) for k, v in f["rule"].value_counts().sort_index().items()}}, at=at)
    merge_duplicates(engine, int(period))
    return len(rows)


__all__ = [
    "BY_CODE", "CHAIN_STEPS", "FAST_ELIMINATION_MONTHS", "MATCHING_MEASURES", "RULES", "MonthData", "Rule", "by_rule", "by_township", "clue_detail", "detail_text", "find",
    "findings_to_clues", "household_heads", "latest_period", "state_token", "unmatched_risks",
]
