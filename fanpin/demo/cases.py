"""培训案例: curated demo-county households, one per main risk type, walked through step by step.

Trainers show bureau officials how a shock becomes data, the data a score, the
score a tier with reasons, and the reasons a cadre's next steps.  The cases are
chosen by explicit rules (below) from the synthetic demo county only, so the
default seed always gives the same library and any other demo county still
gives one case per risk type.  Nothing here reads names or ID numbers: the
walk-through works from the monthly snapshot (household attributes and panel
values) and the events table.

Selection rules (``find_cases``).  "Before" is the month before the shock, and
"after" is the month, within the window after the shock, in which the rule's
condition holds and the score is highest.  Every shock case must also move the
household up at least one tier (after > before).  Only where no household of
the county meets a rule in that strict form (small demo counties) does the
relaxed form apply: the score rose instead of the tier, and for disasters
yellow is accepted for red.  Thresholds are the policy's warning lines.

========================  =====================================================
case (risk type)          rule
========================  =====================================================
illness (因病)             an ``illness`` event; within 6 months a medical
                          warning line is hit (out-of-pocket spending or its
                          share of net income) and the tier is yellow or red
disaster (因灾)            a ``flood`` event (``drought`` only if no flood case
                          qualifies) with a loss above the disaster-loss
                          warning line; within 6 months the tier is red
unstable_work (因务工就业不稳)  a ``job_loss`` / ``factory_closure`` event; within 6
                          months the months worked per labourer fell by at
                          least 2 and the tier is yellow or red
schooling (因学)           a ``school_entry`` event; within 12 months the
                          schooling burden hits its warning line (it did not
                          the month before)
lack_of_labour / disability (因缺劳动力/因残)  no shock: in the last month the
                          household has no working-age labourer or a disabled
                          member, per-capita income under its warning line
                          (1.5x the income line) and tier yellow or red;
                          "before" is 12 months earlier
industry_failure (因产业失败)  a ``price_crash`` event; within 12 months income
                          change vs a year before hits its warning line
                          (a fall of more than 30%)
accident (因意外事故)       optional seventh case: an ``accident`` event that
                          left a member disabled (severity 1); within 6 months
                          the tier rose
========================  =====================================================

Among the candidates of a rule the library takes the strict form first, then
the preferred event kind (flood before drought), then a "clean" story (no other
kind of household event from 12 months before the shock to the after month;
for the structural case no event at all in the 24 months up to the last
month), then the largest score rise (for the structural case: both no labourer
and a disabled member first, then the highest score), then the smallest
household_id.  A household appears in at most one case, taken in library order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.core import fmt
from fanpin.core.i18n import label, translate
from fanpin.core.indicators import BY_KEY, INCOME_KEY
from fanpin.core.periods import format_period, shift
from fanpin.engine.income_line import IncomeLine
from fanpin.engine.scoring import TIER_CODE, TIERS, RiskPolicy, Scorer, suggest_category
from fanpin.engine.trends import PanelScores
from fanpin.store import events as events_store
from fanpin.store import meta as meta_store

# --------------------------------------------------------------------------- the library's vocabulary

#: Case keys in library order, with the risk type each teaches.
CASE_TYPES: dict[str, str] = {
    "illness": "illness",
    "disaster": "disaster",
    "job_loss": "unstable_work",
    "schooling": "schooling",
    "labour": "lack_of_labour",
    "industry": "industry_failure",
    "accident": "accident",
}
#: The six main types every demo county must yield; ``accident`` is a bonus.
MAIN_CASES: tuple[str, ...] = ("illness", "disaster", "job_loss", "schooling", "labour", "industry")

#: Events that qualify a case, in order of preference.
CASE_EVENTS: dict[str, tuple[str, ...]] = {
    "illness": ("illness",),
    "disaster": ("flood", "drought"),
    "job_loss": ("job_loss", "factory_closure"),
    "schooling": ("school_entry",),
    "industry": ("price_crash",),
    "accident": ("accident",),
}
#: Months after the shock in which the condition is looked for.
WINDOW: dict[str, int] = {"illness": 6, "disaster": 6, "job_loss": 6, "schooling": 12, "industry": 12, "accident": 6}
#: Indicators each case's data step compares before and after.
CASE_INDICATORS: dict[str, tuple[str, ...]] = {
    "illness": ("medical_oop", "medical_burden", "months_worked", "debt_ratio"),
    "disaster": ("disaster_loss", "disaster_burden", "housing_grade", "debt_ratio"),
    "job_loss": ("months_worked", "job_lost", "income_change"),
    "schooling": ("schooling_burden", "students"),
    "labour": ("labour_count", "disabled", "dependency_ratio", "transfer_share", "elderly_share"),
    "industry": ("income_change", "business_share", "debt_ratio"),
    "accident": ("medical_oop", "disabled", "months_worked", "job_lost"),
}
#: The department whose feed usually reports this kind of case first.
CASE_SOURCE: dict[str, tuple[str, ...]] = {
    "illness": ("medical_insurance", "health_commission"),
    "disaster": ("emergency", "housing"),
    "job_loss": ("hrss",),
    "schooling": ("education",),
    "labour": ("civil_affairs", "disability_federation"),
    "industry": ("agriculture",),
    "accident": ("disability_federation", "medical_insurance"),
}
#: What a cadre would do next, per case (message keys ``training.action.<code>``), then the common steps.
CASE_ACTIONS: dict[str, tuple[str, ...]] = {
    "illness": ("check_medical_insurance", "medical_assistance", "health_assistance", "temporary_assistance"),
    "disaster": ("verify_loss", "housing_appraisal", "disaster_relief", "restart_production"),
    "job_loss": ("register_unemployment", "job_matching", "public_welfare_job", "skills_training"),
    "schooling": ("education_aid", "check_dropout", "student_loan"),
    "labour": ("check_dibao", "disability_subsidy", "comprehensive_guarantee", "keep_monitored"),
    "industry": ("verify_farm_loss", "crop_insurance", "industry_support", "credit_extension"),
    "accident": ("check_medical_insurance", "disability_certificate", "medical_assistance", "public_welfare_job"),
}
COMMON_ACTIONS: tuple[str, ...] = ("open_order", "person_decides")

MONTHS_WORKED_FALL = 2.0  # months per labourer: the job-loss rule's minimum fall
STRUCTURAL_LOOKBACK = 12  # months: "before" of the lack-of-labour case
CLEAN_LOOKBACK = 12  # months before the shock in which other events spoil a clean story


# --------------------------------------------------------------------------- message parameters
@dataclass(frozen=True)
class Yuan:
    value: float


@dataclass(frozen=True)
class Pct:
    value: float


@dataclass(frozen=True)
class Num:
    value: float
    digits: int = 1
    signed: bool = False


@dataclass(frozen=True)
class Month:
    period: int


@dataclass(frozen=True)
class Label:
    kind: str
    code: str | None


@dataclass(frozen=True)
class Labels:
    kind: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Value:
    """An indicator value shown in the indicator's unit."""

    key: str
    value: float


def _value_text(key: str, value: float, lang: str) -> str:
    if value is None or np.isnan(value):
        return translate("training.missing", lang)
    unit = BY_KEY[key].unit
    if unit in ("yuan", "x_line"):
        return fmt.yuan(value, lang)
    if unit == "ratio":
        return fmt.pct(value)
    if unit == "flag":
        return translate("training.yes" if value >= 0.5 else "training.no", lang)
    if unit == "months":
        return f"{value:.1f}"
    return f"{value:.0f}"


def render_param(v: object, lang: str) -> str:
    """A parameter as text in ``lang``: money with 万/元, months as 2025年3月, codes as labels."""
    if isinstance(v, Yuan):
        return fmt.yuan(v.value, lang)
    if isinstance(v, Pct):
        return fmt.pct(v.value)
    if isinstance(v, Num):
        return f"{v.value:+,.{v.digits}f}" if v.signed else f"{v.value:,.{v.digits}f}"
    if isinstance(v, Month):
        return format_period(v.period, lang)
    if isinstance(v, Label):
        return label(v.kind, v.code, lang)
    if isinstance(v, Labels):
        sep = "、" if lang == "zh" else ", "
        return sep.join(label(v.kind, c, lang) for c in v.codes) or translate("training.none", lang)
    if isinstance(v, Value):
        return _value_text(v.key, v.value, lang)
    if isinstance(v, Msg):
        return v.render(lang)
    return str(v)


@dataclass(frozen=True)
class Msg:
    """A message key with typed parameters, rendered in either language."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, lang: str) -> str:
        return translate(self.key, lang, **{k: render_param(v, lang) for k, v in self.params.items()})


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class TrainingCase:
    """One curated household: which risk type it teaches and the months that tell its story."""

    key: str  # a CASE_TYPES key
    risk_type: str  # national risk-type code
    household_id: str
    number: int  # 1-based position in the library: "案例一" / "Case 1"
    before: int  # YYYYMM, the month before the shock (12 months earlier for the structural case)
    after: int  # YYYYMM, the month the rule's condition holds with the highest score
    shock: int | None = None  # YYYYMM of the event, None for the structural case
    event_type: str | None = None
    event_amount: float | None = None  # yuan (illness: total cost; disaster: loss)
    event_severity: float | None = None
    risk_types: tuple[str, ...] = ()  # the structural case may teach both lack_of_labour and disability

    def title(self, lang: str) -> str:
        """'案例一 · 因病' / 'Case 1 · Illness': never the household id."""
        return f"{case_label(self.number, lang)} · {case_type_label(self, lang)}"

    def walkthrough(
        self,
        snapshot: Callable[[int], pd.DataFrame],
        policy: RiskPolicy,
        income_lines: Mapping[int, float] | None = None,
    ) -> Walkthrough:
        """The ordered steps with the household's real numbers (scored as the dashboard scores them)."""
        return build_walkthrough(self, snapshot, policy, income_lines)


_CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1..99 in Chinese numerals: 1 -> 一, 10 -> 十, 12 -> 十二, 21 -> 二十一."""
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def case_label(number: int, lang: str) -> str:
    """'案例一' / 'Case 1': how a household is named on the training page."""
    return translate("training.case_label", lang, n=chinese_number(number) if lang == "zh" else number)


def case_type_label(case: TrainingCase, lang: str) -> str:
    """'因病', or '因缺劳动力/因残' when the structural case teaches both."""
    return "/".join(label("risk", c, lang) for c in (case.risk_types or (case.risk_type,)))


# --------------------------------------------------------------------------- inputs
def is_demo(engine: Engine) -> bool:
    """Only the synthetic demo county (meta ``demo`` = "1") may be used for training."""
    return meta_store.is_demo(engine)


def load_household_events(engine: Engine) -> pd.DataFrame:
    """Events that name a household (area events carry no household_id)."""
    return events_store.household_events(engine)


def policy_for(policy: RiskPolicy, income_lines: Mapping[int, float] | IncomeLine | None, period: int) -> RiskPolicy:
    """The policy as it scores ``period`` (``IncomeLine.apply``, exactly as ``trends.score_panel``)."""
    return IncomeLine.of(policy, income_lines).apply(policy, period)


#: Indicators the selection rules read over the whole panel.
_RULE_KEYS = ("medical_oop", "medical_burden", "disaster_loss", "months_worked", "schooling_burden", "income_change", "income_ratio", "labour_count", "disabled")


@dataclass
class _Wide:
    """Households x months arrays of what the rules need (NaN / False where a household has no row)."""

    periods: list[int]
    ids: np.ndarray
    score: np.ndarray
    tier: np.ndarray
    value: dict[str, np.ndarray]
    hit: dict[str, np.ndarray]


def _wide(ps: PanelScores, snapshot: Callable[[int], pd.DataFrame], policy: RiskPolicy, income_lines: Mapping[int, float] | None) -> _Wide:
    n, P = len(ps.household_ids), len(ps.periods)
    value = {k: np.full((n, P), np.nan) for k in _RULE_KEYS}
    hit = {k: np.zeros((n, P), dtype=bool) for k in _RULE_KEYS}
    for j, p in enumerate(ps.periods):  # a loop over months, vectorised over households
        f = snapshot(p)
        rows = np.searchsorted(ps.household_ids, f["household_id"].to_numpy().astype(str))
        pol = policy_for(policy, income_lines, p)
        for k in _RULE_KEYS:
            v = BY_KEY[k].compute(f)
            value[k][rows, j] = v
            hit[k][rows, j] = BY_KEY[k].hits(v, pol.line_of(k))
    return _Wide(list(ps.periods), ps.household_ids, ps.score.astype(np.float64), ps.tier, value, hit)


# --------------------------------------------------------------------------- selection
def _clean(events: pd.DataFrame, cand: pd.DataFrame, kinds: Sequence[str]) -> np.ndarray:
    """Whether no event of another kind touched the household from 12 months before the shock to the after month."""
    if cand.empty:
        return np.zeros(0, dtype=bool)
    other = events.loc[~events["event_type"].isin(kinds), ["household_id", "period"]].rename(columns={"period": "other"})
    m = cand[["household_id", "shock", "after", "_i"]].merge(other, on="household_id", how="inner")
    lo = (m["shock"] // 100 * 12 + m["shock"] % 100) - CLEAN_LOOKBACK
    x = m["other"] // 100 * 12 + m["other"] % 100
    hi = m["after"] // 100 * 12 + m["after"] % 100
    spoiled = m.loc[(x >= lo) & (x <= hi), "_i"].unique()
    return ~np.isin(np.arange(len(cand)), spoiled)


def _event_candidates(key: str, w: _Wide, events: pd.DataFrame, policy: RiskPolicy) -> pd.DataFrame:
    """Every event of the case's kinds that meets the case's rule, with before/after months and the score rise."""
    kinds = CASE_EVENTS[key]
    ev = events[events["event_type"].isin(kinds)]
    if key == "disaster":
        ev = ev[ev["amount"] > policy.line_of("disaster_loss")]
    if key == "accident":
        ev = ev[ev["severity"] >= 1]
    ids = ev["household_id"].to_numpy().astype(str)
    row = np.searchsorted(w.ids, ids).clip(0, max(len(w.ids) - 1, 0))
    col = np.searchsorted(w.periods, ev["period"].to_numpy())
    ok = (len(w.ids) > 0) & (w.ids[row] == ids) & (col >= 1) & (col < len(w.periods))
    ev, row, col = ev[ok], row[ok], col[ok]
    P = len(w.periods)
    win = WINDOW[key]
    cols = col[:, None] + np.arange(win + 1)[None, :]
    valid = cols < P
    cols = np.minimum(cols, P - 1)
    r = row[:, None]
    tier = w.tier[r, cols]
    score = w.score[r, cols]
    before_tier = w.tier[row, col - 1][:, None]
    before_score = w.score[row, col - 1][:, None]
    relaxed_tier = tier >= 1
    if key == "illness":
        cond = (w.hit["medical_oop"][r, cols] | w.hit["medical_burden"][r, cols]) & (tier >= 1)
        relaxed = cond
    elif key == "disaster":
        cond = (w.value["disaster_loss"][r, cols] > policy.line_of("disaster_loss")) & (tier == 2)
        relaxed = (w.value["disaster_loss"][r, cols] > policy.line_of("disaster_loss")) & relaxed_tier
    elif key == "job_loss":
        before_mw = w.value["months_worked"][row, col - 1][:, None]
        with np.errstate(invalid="ignore"):
            cond = (w.value["months_worked"][r, cols] <= before_mw - MONTHS_WORKED_FALL) & (tier >= 1)
        relaxed = cond
    elif key == "schooling":
        cond = w.hit["schooling_burden"][r, cols] & ~w.hit["schooling_burden"][row, col - 1][:, None]
        relaxed = cond
    elif key == "industry":
        cond = w.hit["income_change"][r, cols]
        relaxed = cond
    elif key == "accident":
        cond = tier >= 0
        relaxed = cond
    else:
        raise KeyError(key)
    present = valid & (before_tier >= 0)
    strict = cond & present & (tier > before_tier)
    relaxed = relaxed & present & (score > before_score)
    level = np.where(strict.any(axis=1), 0, np.where(relaxed.any(axis=1), 1, 2))
    use = np.where((level == 0)[:, None], strict, relaxed)
    pick = np.argmax(np.where(use, score, -np.inf), axis=1)
    after_col = cols[np.arange(len(cols)), pick]
    good = level < 2
    out = pd.DataFrame(
        {
            "household_id": ids[ok],
            "shock": ev["period"].to_numpy(),
            "before": np.asarray(w.periods)[col - 1],
            "after": np.asarray(w.periods)[after_col],
            "event_type": ev["event_type"].to_numpy(),
            "amount": ev["amount"].to_numpy(),
            "severity": ev["severity"].to_numpy(),
            "level": level,
            "rise": w.score[row, after_col] - w.score[row, col - 1],
        }
    )[good].reset_index(drop=True)
    out["preference"] = -out["event_type"].map({k: i for i, k in enumerate(kinds)}).to_numpy()
    out["_i"] = np.arange(len(out))
    out["clean"] = _clean(events, out, kinds)
    return out.sort_values(["level", "preference", "clean", "rise", "household_id", "shock"], ascending=[True, False, False, False, True, True], kind="stable")


def _structural_candidates(w: _Wide, events: pd.DataFrame) -> pd.DataFrame:
    """No labourer or a disabled member, income under its warning line, yellow or red, in the last month."""
    j = len(w.periods) - 1
    jb = max(j - STRUCTURAL_LOOKBACK, 0)
    no_labour = w.value["labour_count"][:, j] == 0
    disabled = w.value["disabled"][:, j] >= 1
    cond = (no_labour | disabled) & w.hit["income_ratio"][:, j] & (w.tier[:, j] >= 1) & (w.tier[:, jb] >= 0)
    rows = np.flatnonzero(cond)
    last = w.periods[j]
    # Rolling 12-month sums at "before" already carry the year before it: look back that far too.
    since = shift(w.periods[jb], -CLEAN_LOOKBACK)
    recent = events.loc[events["period"] > since, "household_id"].unique()
    out = pd.DataFrame(
        {
            "household_id": w.ids[rows],
            "before": w.periods[jb],
            "after": last,
            "both": no_labour[rows] & disabled[rows],
            "no_labour": no_labour[rows],
            "disabled": disabled[rows],
            "clean": ~np.isin(w.ids[rows], recent),
            "score": w.score[rows, j],
        }
    )
    return out.sort_values(["both", "clean", "score", "household_id"], ascending=[False, False, False, True], kind="stable")


def find_cases(
    ps: PanelScores,
    snapshot: Callable[[int], pd.DataFrame],
    events: pd.DataFrame,
    policy: RiskPolicy,
    income_lines: Mapping[int, float] | None = None,
) -> list[TrainingCase]:
    """The case library: at most one case per type, in ``CASE_TYPES`` order, by the module's rules.

    ``ps`` must be the panel scored under ``policy`` and ``income_lines`` (as
    ``Data.panel_scores`` does); ``snapshot(period)`` returns a month's frame.
    """
    if not ps.periods or not len(ps.household_ids):
        return []
    w = _wide(ps, snapshot, policy, income_lines)
    used: set[str] = set()
    out: list[TrainingCase] = []
    for key, risk in CASE_TYPES.items():
        if key == "labour":
            cand = _structural_candidates(w, events)
        else:
            cand = _event_candidates(key, w, events, policy_for(policy, income_lines, ps.periods[-1]))
        cand = cand[~cand["household_id"].isin(used)]
        if cand.empty:
            continue
        c = cand.iloc[0]
        hid = str(c["household_id"])
        used.add(hid)
        if key == "labour":
            types = tuple(t for t, on in (("lack_of_labour", c["no_labour"]), ("disability", c["disabled"])) if on)
            case = TrainingCase(key, types[0], hid, len(out) + 1, int(c["before"]), int(c["after"]), risk_types=types)
        else:
            amount = None if pd.isna(c["amount"]) else float(c["amount"])
            sev = None if pd.isna(c["severity"]) else float(c["severity"])
            case = TrainingCase(key, risk, hid, len(out) + 1, int(c["before"]), int(c["after"]), int(c["shock"]), str(c["event_type"]), amount, sev)
        out.append(case)
    return out


def household_series(ps: PanelScores, household_id: str, policy: RiskPolicy | None = None) -> pd.DataFrame:
    """The household's income, income line (and warning line), score and tier in every month, for the charts.

    ``warning_line`` is the income warning line (1.5x the line by default) when ``policy`` is given.
    """
    i = int(np.searchsorted(ps.household_ids, household_id))
    if i >= len(ps.household_ids) or ps.household_ids[i] != household_id:
        raise KeyError(household_id)
    tier = ps.tier[i]
    line = ps.income_line.astype(np.float64)
    out = pd.DataFrame(
        {
            "period": ps.periods,
            "income_pc": ps.income_pc[i].astype(np.float64),
            "income_line": line,
            "score": ps.score[i].astype(np.float64),
            "tier": np.where(tier >= 0, np.array(TIERS, dtype=object)[tier.clip(0)], None),
        }
    )
    if policy is not None:
        out["warning_line"] = line * (policy.line_of(INCOME_KEY) / policy.income_line)
    return out


# --------------------------------------------------------------------------- walk-through
@dataclass(frozen=True)
class ReasonRow:
    key: str
    value: float
    contribution: float
    warning_hit: bool
    missing: bool


@dataclass(frozen=True)
class MonthView:
    """One month of the household as the scorer saw it."""

    period: int
    income_line: float
    income_pc: float
    score: float
    tier: str
    forced_by: tuple[tuple[str, float, str], ...]  # (indicator, threshold, tier) of force rules hit
    values: dict[str, float]  # indicator -> raw value (NaN if missing)
    contributions: dict[str, float]  # indicator -> score points
    warnings: tuple[str, ...]  # indicators past their warning line
    reasons: tuple[ReasonRow, ...]  # ordered as ScoreResult.reasons
    category: str | None
    risk_types: tuple[str, ...]
    household: dict[str, float]  # size, labourers ... (snapshot attributes)
    household_type: str
    township_code: str
    village_code: str


@dataclass(frozen=True)
class Step:
    key: str
    title: Msg
    lines: tuple[Msg, ...]
    bullets: bool = False


@dataclass(frozen=True)
class Walkthrough:
    case: TrainingCase
    before: MonthView
    after: MonthView
    steps: tuple[Step, ...]

    def message_keys(self) -> set[str]:
        keys: set[str] = set()

        def walk(m: Msg) -> None:
            keys.add(m.key)
            for v in m.params.values():
                if isinstance(v, Msg):
                    walk(v)

        for s in self.steps:
            walk(s.title)
            for m in s.lines:
                walk(m)
        return keys

    def contributions(self, top: int = 8) -> pd.DataFrame:
        """Score points per indicator before and after, the ``top`` largest after the shock (for the reasons chart)."""
        keys = list(self.after.contributions)
        frame = pd.DataFrame(
            {
                "indicator": keys,
                "before": [self.before.contributions[k] for k in keys],
                "after": [self.after.contributions[k] for k in keys],
                "warning_hit": [k in self.after.warnings for k in keys],
            }
        )
        frame = frame[(frame["before"] > 0) | (frame["after"] > 0)]
        return frame.sort_values(["after", "indicator"], ascending=[False, True]).head(top).reset_index(drop=True)


_HOUSEHOLD_FIELDS = ("size", "n_labour", "n_weak_labour", "n_elderly", "n_children", "n_students", "n_disabled", "n_serious", "n_chronic", "n_uninsured")


def month_view(frame: pd.DataFrame, household_id: str, policy: RiskPolicy, *, period: int, top: int = 6) -> MonthView:
    """Score the whole month (medians for gaps depend on it) and read out one household."""
    ids = frame["household_id"].to_numpy().astype(str)
    row = int(np.searchsorted(ids, household_id))
    if row >= len(ids) or ids[row] != household_id:
        raise KeyError(f"{household_id} has no row in {period}")
    scorer = Scorer.from_frame(frame)
    res = scorer.run(policy)
    pol = res.policy
    rows = np.array([row])
    contrib = scorer.contributions(pol, rows)[0]
    hits = scorer.warnings_hit(pol, rows)[0]
    raw = scorer.raw_values(rows)[0]
    keys = scorer.keys
    forced = []
    for r in pol.forces:
        j = keys.index(r.indicator)
        thr = r.threshold * pol.income_line if r.indicator == INCOME_KEY else r.threshold
        if not np.isnan(raw[j]) and bool(BY_KEY[r.indicator].hits(raw[j : j + 1], thr)[0]):
            forced.append((r.indicator, float(r.threshold), r.tier))
    tier = int(res.tier[row])
    score_tier = int(res.score[row] >= pol.cutoffs[0]) + int(res.score[row] >= pol.cutoffs[1])
    forced_by = tuple(f for f in forced if TIER_CODE[f[2]] == tier and tier > score_tier)
    reasons = tuple(ReasonRow(r.key, r.value, r.contribution, r.warning_hit, r.missing) for r in res.reasons(row, top=top))
    # The category the verification form would suggest (vectorised over the month, read for one row).
    cat, types = suggest_category(frame, res)
    hh = {k: float(frame[k].iloc[row]) for k in _HOUSEHOLD_FIELDS}
    return MonthView(
        period=int(period),
        income_line=float(pol.income_line),
        income_pc=float(frame["income_pc"].iloc[row]),
        score=float(res.score[row]),
        tier=TIERS[tier],
        forced_by=forced_by,
        values={k: float(raw[j]) for j, k in enumerate(keys)},
        contributions={k: float(contrib[j]) for j, k in enumerate(keys)},
        warnings=tuple(k for j, k in enumerate(keys) if hits[j]),
        reasons=reasons,
        category=cat[row],
        risk_types=tuple(t for t in str(types[row]).split(",") if t),
        household=hh,
        household_type=str(frame["household_type"].iloc[row]),
        township_code=str(frame["township_code"].iloc[row]),
        village_code=str(frame["village_code"].iloc[row]),
    )


def build_walkthrough(
    case: TrainingCase,
    snapshot: Callable[[int], pd.DataFrame],
    policy: RiskPolicy,
    income_lines: Mapping[int, float] | None = None,
) -> Walkthrough:
    b = month_view(snapshot(case.before), case.household_id, policy_for(policy, income_lines, case.before), period=case.before)
    a = month_view(snapshot(case.after), case.household_id, policy_for(policy, income_lines, case.after), period=case.after)
    pol = policy_for(policy, income_lines, case.after).normalised()[0]
    steps = (
        _step_household(case, a),
        _step_event(case, b, a),
        _step_data(case, b, a, pol),
        _step_score(case, b, a, pol),
        _step_reasons(a, pol),
        _step_actions(case, a),
    )
    return Walkthrough(case, b, a, steps)


def _step_household(case: TrainingCase, a: MonthView) -> Step:
    h = a.household
    lines = [
        Msg(
            "training.household.body",
            {
                "type": Label("household_type", a.household_type),
                "size": Num(h["size"], 0),
                "labour": Num(h["n_labour"], 0),
                "weak": Num(h["n_weak_labour"], 0),
                "elderly": Num(h["n_elderly"], 0),
                "children": Num(h["n_children"], 0),
                "students": Num(h["n_students"], 0),
            },
        ),
        Msg("training.household.health", {"serious": Num(h["n_serious"], 0), "chronic": Num(h["n_chronic"], 0), "disabled": Num(h["n_disabled"], 0), "uninsured": Num(h["n_uninsured"], 0)}),
        Msg("training.household.privacy"),
    ]
    return Step("household", Msg("training.step.household"), tuple(lines))


def _step_event(case: TrainingCase, b: MonthView, a: MonthView) -> Step:
    if case.shock is None:
        kinds = Labels("risk", case.risk_types or (case.risk_type,))
        lines = [
            Msg("training.event.structural", {"types": kinds, "transfer": Value("transfer_share", a.values["transfer_share"]), "month": Month(a.period)}),
        ]
    else:
        params: dict[str, object] = {"month": Month(case.shock), "event": Label("event", case.event_type)}
        if case.event_amount is not None:
            params["amount"] = Yuan(case.event_amount)
        if case.event_severity is not None:
            params["severity"] = Pct(case.event_severity)
        key = f"training.event.{case.key}"
        if case.key == "job_loss" and case.event_severity is not None:
            key = "training.event.job_loss_closure"
        lines = [Msg(key, params)]
    lines.append(Msg("training.event.source", {"departments": Labels("department", CASE_SOURCE[case.key])}))
    return Step("event", Msg("training.step.event"), tuple(lines))


def _indicator_line(key: str, b: MonthView, a: MonthView, pol: RiskPolicy) -> Msg:
    line = pol.line_of(key)
    params = {"indicator": Label("indicator", key), "before": Value(key, b.values[key]), "after": Value(key, a.values[key])}
    if line is None:
        return Msg("training.data.indicator_noline", params)
    hit = key in a.warnings
    if BY_KEY[key].unit == "flag":
        return Msg("training.data.flag", {**params, "hit": Msg("training.data.hit" if hit else "training.data.not_hit")})
    return Msg("training.data.indicator", {**params, "line": Value(key, line), "hit": Msg("training.data.hit" if hit else "training.data.not_hit")})


def _step_data(case: TrainingCase, b: MonthView, a: MonthView, pol: RiskPolicy) -> Step:
    change = a.income_pc / b.income_pc - 1 if b.income_pc > 0 else float("nan")
    lines = [
        Msg(
            "training.data.income",
            {
                "before_month": Month(b.period),
                "after_month": Month(a.period),
                "before": Yuan(b.income_pc),
                "after": Yuan(a.income_pc),
                "change": Pct(change) if not np.isnan(change) else "—",
            },
        ),
        Msg("training.data.line", {"line": Yuan(a.income_line), "warning": Yuan(pol.line_of(INCOME_KEY))}),
    ]
    lines += [_indicator_line(k, b, a, pol) for k in CASE_INDICATORS[case.key]]
    return Step("data", Msg("training.step.data"), tuple(lines))


def _step_score(case: TrainingCase, b: MonthView, a: MonthView, pol: RiskPolicy) -> Step:
    lines = [
        Msg("training.score.score", {"before": Num(b.score), "after": Num(a.score), "change": Num(a.score - b.score, 1, signed=True), "yellow": Num(pol.cutoffs[0], 0), "red": Num(pol.cutoffs[1], 0)}),
        Msg("training.score.tier", {"before": Label("tier", b.tier), "after": Label("tier", a.tier)}),
    ]
    for ind, thr, tier in a.forced_by:
        value = Yuan(thr * a.income_line) if ind == INCOME_KEY else Value(ind, thr)
        key = "training.score.forced_below" if BY_KEY[ind].direction < 0 else "training.score.forced_above"
        lines.append(Msg(key, {"indicator": Label("indicator", ind), "threshold": value, "tier": Label("tier", tier)}))
    if a.category:
        lines.append(Msg("training.score.category", {"category": Label("category", a.category), "types": Labels("risk", a.risk_types)}))
    return Step("score", Msg("training.step.score"), tuple(lines))


def _step_reasons(a: MonthView, pol: RiskPolicy) -> Step:
    lines = [Msg("training.reasons.intro", {"month": Month(a.period), "score": Num(a.score)})]
    for r in a.reasons:
        if r.missing:
            key = "training.reasons.missing"
        elif r.warning_hit:
            key = "training.reasons.hit"
        else:
            key = "training.reasons.row"
        lines.append(Msg(key, {"indicator": Label("indicator", r.key), "value": Value(r.key, r.value), "points": Num(r.contribution, 1)}))
    lines.append(Msg("training.reasons.warnings", {"list": Labels("indicator", a.warnings)}))
    return Step("reasons", Msg("training.step.reasons"), tuple(lines), bullets=True)


def _step_actions(case: TrainingCase, a: MonthView) -> Step:
    lines = [Msg(f"training.action.{k}") for k in CASE_ACTIONS[case.key] + COMMON_ACTIONS]
    return Step("actions", Msg("training.step.actions"), tuple(lines), bullets=True)


__all__ = [
    "CASE_TYPES",
    "MAIN_CASES",
    "MonthView",
    "Msg",
    "Step",
    "TrainingCase",
    "Walkthrough",
    "build_walkthrough",
    "case_label",
    "find_cases",
    "household_series",
    "is_demo",
    "load_household_events",
    "month_view",
    "policy_for",
]
