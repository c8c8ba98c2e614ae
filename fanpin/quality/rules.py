"""Data-quality and supervision rules (数据质量与监督): contradictions an inspector looks for.

Each rule is one vectorised pandas computation over the month's tables (no loop over
households) and returns the households it flags, with a bilingual detail naming the
values that contradict each other.  ``find`` runs them for one month (the latest by
default) and returns one row per (rule, household); ``findings_to_clues`` turns
findings into warning clues (source ``supervision``) once, however often it is asked.

The rules are grouped by what they read (``roster``, ``income``, ``record``, ``procedure``, over
the month's tables in ``month``); their thresholds are in ``thresholds``, so that an inspector
can read what "large" means.  This module is the registry (``RULES``) and how the findings are
run, summed up and turned into clues.

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

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from fanpin.access.masking import mask_frame
from fanpin.access.roles import AccessDenied, Principal, can, scope_frame
from fanpin.quality.income import identical_income, income_vs_dept, medical_no_clue
from fanpin.quality.month import MonthData
from fanpin.quality.procedure import notice_too_short, procedure_skipped
from fanpin.quality.record import assistance_no_development, eliminated_below_line, eliminated_too_fast, risk_no_measure
from fanpin.quality.roster import (
    death_not_recorded,
    deceased_benefit,
    duplicate_person,
    no_labour_wage,
    official_relative_dibao,
    school_not_enrolled,
    unsafe_house_secured,
    welfare_job_no_labour,
)
from fanpin.quality.thresholds import ASSET_INCOME_RATIO, FAST_ELIMINATION_MONTHS, MEDICAL_LARGE, SAME_INCOME_MIN, SCHOOL_AGES
from fanpin.store import quality as qstore
from fanpin.store.clues import insert_clues

SEVERITIES: tuple[str, ...] = ("high", "medium", "low")
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


RULES: tuple[Rule, ...] = (
    Rule("deceased_benefit", "已死亡成员（家庭成员信息标注死亡月份，或部门死亡登记早于本月）仍标注享受低保或特困供养。",
         "A member who died before this month (roster or department death record) is still marked as receiving dibao or tekun.",
         "high", ("members.deceased_period", "members.dibao", "members.tekun", "dept_records.record_type=death"),
         "已故人员仍享受救助", "Deceased still on benefits", "other", deceased_benefit),
    Rule("death_not_recorded", "部门（公安等）有死亡登记，但家庭成员信息未标注死亡。",
         "A department (police etc.) registered a member's death but the household roster does not mark it.",
         "medium", ("dept_records.record_type=death", "dept_records.id_number", "members.deceased_period"),
         "死亡信息未更新", "Death not recorded", "other", death_not_recorded),
    Rule("income_vs_dept", f"申报收入与部门比对数据矛盾：车辆或商品房价值达到家庭纯收入的{ASSET_INCOME_RATIO:g}倍以上（价值不详时为低保/特困户），或有工商注册而经营性收入为零。",
         f"Declared income contradicts department records: a car or commercial house worth at least {ASSET_INCOME_RATIO:g} years of net income "
         "(any value for a dibao/tekun household when the value is unknown), or a registered business with no business income.",
         "high", ("dept_records.record_type", "dept_records.value", "panel.income_net", "panel.income_business", "panel.dibao", "panel.tekun"),
         "收入与部门数据矛盾", "Income contradicts departments", "other", income_vs_dept),
    Rule("official_relative_dibao", "享受低保的家庭中有成员是村（乡）干部的近亲属，需备案核查。",
         "A household receiving dibao has a member who is a close relative of a village or township official (to be recorded and checked).",
         "high", ("official_relations.relative_id_number", "members.id_number", "panel.dibao"),
         "干部近亲属享受低保", "Officials' relatives on dibao", "other", official_relative_dibao),
    Rule("duplicate_person", "同一人疑似在两户重复登记：姓名、性别、出生日期相同，身份证号前14位相同而末四位不同（录入错误或重新编号）。完全相同的身份证号由导入校验拒绝。",
         "The same person apparently registered in two households: same name, sex and birth date, ID numbers equal in the first 14 characters "
         "and different in the last four (mistyped or re-issued). An exactly repeated ID number is refused by the import.",
         "high", ("members.name", "members.sex", "members.birth_date", "members.id_number", "members.household_id"),
         "同一人重复登记", "Person registered twice", "other", duplicate_person),
    Rule("no_labour_wage", "标注整户无劳动能力（兜底户）的家庭有工资性收入。",
         "A household marked as having no labour capacity (state-guaranteed) has wage income.",
         "medium", ("households.no_labour_guarantee", "households.n_labour", "households.n_weak_labour", "panel.income_wage"),
         "无劳动能力却有工资收入", "Wage income without labour", "other", no_labour_wage),
    Rule("identical_income", f"同一村{SAME_INCOME_MIN}户及以上家庭纯收入完全相同，疑似估算而非入户核算。",
         f"{SAME_INCOME_MIN} or more households in one village declare exactly the same net income: estimated rather than surveyed.",
         "medium", ("panel.income_net", "households.village_code"),
         "收入疑似估算", "Estimated incomes", "other", identical_income),
    Rule("medical_no_clue", f"近12个月合规自付医疗费用达到{MEDICAL_LARGE:,.0f}元，但同期未产生因病风险线索。",
         f"Out-of-pocket medical costs of at least {MEDICAL_LARGE:,.0f} yuan over 12 months but no illness clue was raised in that time.",
         "medium", ("panel.medical_oop", "clues.risk_type=illness", "clues.period"),
         "大额医疗支出未预警", "Large medical cost, no clue", "illness", medical_no_clue),
    Rule("risk_no_measure", "监测对象的致贫/返贫风险类型在监测期间没有对应的帮扶措施：因病无健康帮扶、综合保障或社会帮扶，因残无综合保障、社会帮扶或健康帮扶，"
         "因学无教育帮扶，因住房安全无住房安全保障或搬迁，因饮水安全无饮水安全保障或搬迁，因务工就业不稳无就业帮扶或公益岗位。",
         "A monitored household's risk type has no matching assistance measure in effect during its monitoring: illness without health, "
         "comprehensive or social assistance; disability without comprehensive, social or health; schooling without education; housing "
         "without housing safety or relocation; water without drinking-water safety or relocation; unstable work without employment or a public welfare job.",
         "medium", ("monitoring_records.risk_1-5", "monitoring_records.identified_period", "monitoring_records.eliminated_period",
                    "monitoring_records.development_measures", "assistance.measure", "assistance.period", "assistance.end_period"),
         "风险类型无对应帮扶措施", "Risk without matching measure", "other", risk_no_measure),
    Rule("assistance_no_development", "以帮扶消除方式消除风险，但监测期间没有产业、就业、金融、公益岗位等开发式帮扶措施。",
         "Risk eliminated by assistance (帮扶消除) but no development-type measure (industry, employment, finance, public welfare job) was in effect during monitoring.",
         "high", ("monitoring_records.elimination_method", "monitoring_records.development_measures", "assistance.measure", "assistance.period", "assistance.end_period"),
         "帮扶消除无开发式措施", "Assisted elimination, no development measure", "other", assistance_no_development),
    Rule("eliminated_too_fast", f"识别为监测对象后{FAST_ELIMINATION_MONTHS}个月内（含当月）即消除风险（“体外循环”“数字消除”风险）。",
         f"Risk eliminated within {FAST_ELIMINATION_MONTHS} months of identification (the same month included): a paper elimination risk.",
         "high", ("monitoring_records.identified_period", "monitoring_records.eliminated", "monitoring_records.eliminated_period"),
         "识别后过快消除风险", "Eliminated too fast", "other", eliminated_too_fast),
    Rule("eliminated_below_line", "已消除风险的家庭，消除当年的人均纯收入（年度收支，无则月度滚动收入）低于当年监测线。",
         "A household whose risk was eliminated has an income per head in the year of elimination (the yearly income, else the rolling monthly one) below that year's line.",
         "high", ("monitoring_records.eliminated", "monitoring_records.eliminated_period", "yearly_incomes.income_pc", "panel.income_pc", "meta.income_lines"),
         "消除后收入低于监测线", "Eliminated below the line", "other", eliminated_below_line),
    Rule("procedure_skipped", "纳入监测或风险消除已在系统中生效，但没有经县级审定通过、且依次通过村级民主评议、村内公示、乡镇审核、县级审定的程序记录（导入的国家系统监测信息不检查）。",
         "An inclusion or risk elimination took effect in fanpin without an approved case that passed the village review, the village notice, "
         "the township check and the county approval (records imported from the national system are not checked).",
         "high", ("monitoring.status", "monitoring.order_id", "monitoring.proposal_id", "cases.state", "case_steps.step", "case_steps.result"),
         "未经完整程序纳入或消除", "Procedure skipped", "other", procedure_skipped),
    Rule("notice_too_short", "已审定的纳入或消除，村内公示开始后不足规定天数（省定公示天数）即完成乡镇审核。",
         "An approved inclusion or elimination whose township check was done fewer days after the village notice went up than the province requires.",
         "medium", ("case_steps.step=notice", "case_steps.step_date", "case_steps.step=township_check", "case_steps.done_at", "meta.notice_days"),
         "公示时间不足", "Notice too short", "other", notice_too_short),
    Rule("school_not_enrolled", f"义务教育阶段（{SCHOOL_AGES[0]}-{SCHOOL_AGES[1]}岁）儿童未在学（控辍保学）。",
         f"A child of compulsory school age ({SCHOOL_AGES[0]}-{SCHOOL_AGES[1]}) is not enrolled.",
         "medium", ("members.birth_date", "members.schooling", "members.deceased_period"),
         "适龄儿童未在学", "School-age child not enrolled", "schooling", school_not_enrolled),
    Rule("unsafe_house_secured", "住房鉴定为C/D级危房，却标注住房安全有保障。",
         "A house graded C or D (unsafe) is marked as housing-secure.",
         "high", ("households.housing_secured", "panel.housing_grade"),
         "危房标注住房安全", "Unsafe house marked secure", "housing", unsafe_house_secured),
    Rule("welfare_job_no_labour", "丧失劳动能力或无劳动能力的成员占用公益岗位。",
         "A member who has lost or has no labour capacity holds a public welfare job.",
         "medium", ("members.public_welfare_job", "members.labour_capacity"),
         "无劳动能力占用公益岗", "Welfare job without labour", "other", welfare_job_no_labour),
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
    "BY_CODE", "CLUE_SOURCE", "FINDING_COLUMNS", "RULES", "SEVERITIES", "Rule", "by_rule", "by_township", "clue_detail", "detail_text", "find",
    "findings_to_clues", "household_heads", "latest_period", "state_token",
]
