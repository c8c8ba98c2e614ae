"""Where one household stands this month and why (农户画像's reasons): its indicators against the
warning lines, the points each adds to the score, the tier rules that raised its tier.

The figures are the scorer's own (``Scorer.contributions``, ``warnings_hit``), so the reasons
shown always add up to the score shown.  The forced-tier reason ("forced red: income below the
line") is said here, once, for the page and anything else that explains a tier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.core import fmt
from fanpin.core.i18n import label, translate
from fanpin.core.indicators import BY_KEY, INCOME_KEY
from fanpin.engine.scoring import (
    TIER_CODE,
    TIERS,
    ForceRule,
    RiskPolicy,
    Scorer,
    ScoreResult,
)
from fanpin.engine.trends import PanelScores


def row_of(scorer: Scorer, household_id: str) -> int | None:
    """The household's row in a month's scorer, or None if it has no data that month."""
    ids = getattr(scorer, "household_ids", None)
    if ids is None:
        return None
    hits = np.flatnonzero(ids == str(household_id))
    return int(hits[0]) if len(hits) else None


def indicator_table(scorer: Scorer, result: ScoreResult, row: int, policy: RiskPolicy | None = None) -> pd.DataFrame:
    """One household's indicators: value vs warning line, hit, contribution (score points), missing.

    ``value`` and ``warning_line`` are in the matrix unit (income in yuan per
    person); contributions are computed under the policy the result was scored
    with, so they sum to the household's score.
    """
    policy = result.policy if policy is None else policy.normalised()[0]
    rows = np.array([int(row)])
    contrib = scorer.contributions(policy, rows)[0]
    hits = scorer.warnings_hit(policy, rows)[0]
    miss = scorer.missing_mask(rows)[0]
    raw = scorer.raw_values(rows)[0]
    keys = list(scorer.keys)
    lines = [policy.line_of(k) for k in keys]
    return pd.DataFrame(
        {
            "key": keys,
            "dimension": [BY_KEY[k].dimension for k in keys],
            "unit": [BY_KEY[k].unit for k in keys],
            "direction": [BY_KEY[k].direction for k in keys],
            "value": raw,
            "warning_line": np.array([np.nan if v is None else v for v in lines], dtype=float),
            "hit": hits,
            "weight": policy.weight_vector(keys),
            "contribution": contrib,
            "missing": miss,
        }
    )


@dataclass(frozen=True)
class Standing:
    """Where a household stands this month and why."""

    household_id: str
    score: float
    tier: str
    score_tier: str  # the tier the score alone gives
    rules_hit: tuple[ForceRule, ...]  # tier rules that apply to this household
    indicators: pd.DataFrame  # ``indicator_table``

    @property
    def forced(self) -> bool:
        """The tier is higher than the score alone gives: a rule raised it."""
        return TIER_CODE[self.tier] > TIER_CODE[self.score_tier]

    def reasons(self, top: int | None = None) -> pd.DataFrame:
        """Indicators that explain the score, largest contribution first.

        ``top`` caps the list, but never drops a warning line hit or a missing
        value: those are what a reader must see, however small their points.
        """
        f = self.indicators
        f = f[(f["contribution"] > 0) | f["hit"] | f["missing"]]
        f = f.sort_values("contribution", ascending=False, kind="stable")
        if top:
            flagged = f["hit"] | f["missing"]
            room = max(top - int(flagged.sum()), 0)
            f = f[flagged | (~flagged).cumsum().le(room) & ~flagged]
        return f


def standing(scorer: Scorer, result: ScoreResult, household_id: str) -> Standing | None:
    """Score, tier, tier rules and indicator table of one household from a scorer run."""
    row = row_of(scorer, household_id)
    if row is None:
        return None
    policy = result.policy
    table = indicator_table(scorer, result, row)
    score = float(result.score[row])
    y, r = policy.cutoffs
    exact = float(scorer.score64(policy, np.array([row]))[0])
    score_tier = TIERS[int(exact >= y) + int(exact >= r)]
    values = table.set_index("key")
    rules = []
    for rule in policy.forces:  # a handful of rules, one household
        v = values.at[rule.indicator, "value"]
        if values.at[rule.indicator, "missing"] or not np.isfinite(v):
            continue
        thr = rule.threshold * policy.income_line if rule.indicator == INCOME_KEY else rule.threshold
        if bool(BY_KEY[rule.indicator].hits(np.array([v]), thr)[0]):
            rules.append(rule)
    rules.sort(key=lambda x: -TIER_CODE[x.tier])
    return Standing(str(household_id), score, TIERS[int(result.tier[row])], score_tier, tuple(rules), table)


# --------------------------------------------------------------------------- history
def score_history(panel_scores: PanelScores, household_id: str) -> pd.DataFrame:
    """Score, tier and income against the line in every month of the panel (NaN/None where absent)."""
    ps = panel_scores
    cols = ["period", "score", "tier", "income_pc", "income_line"]
    ids = ps.household_ids
    i = int(np.searchsorted(ids, str(household_id))) if len(ids) else 0
    if i >= len(ids) or ids[i] != str(household_id):
        return pd.DataFrame(columns=cols)
    tier = ps.tier[i]
    names = np.array(TIERS, dtype=object)[tier.clip(0)]
    names[tier < 0] = None
    return pd.DataFrame(
        {
            "period": ps.periods,
            "score": ps.score[i].astype(float),
            "tier": names,
            "income_pc": ps.income_pc[i].astype(float),
            "income_line": ps.income_line.astype(float),
        }
    )


# --------------------------------------------------------------------------- saying it
def format_indicator(key: str, value: float | None, lang: str = "zh", income_line: float | None = None) -> str:
    """An indicator value in its unit for Chinese or English readers ("—" when missing).

    The income indicator is held in yuan; with ``income_line`` it also says how
    many times the line that is, since its warning line is a multiple of the line.
    """
    if value is None or not np.isfinite(value):
        return "—"
    unit = BY_KEY[key].unit
    if unit == "x_line" and income_line:
        return translate("profile.unit.x_line", lang, yuan=fmt.yuan(float(value), lang), x=f"{value / income_line:.2f}")
    if unit in ("yuan", "x_line"):
        return fmt.yuan(float(value), lang)
    if unit == "ratio":
        return fmt.pct(float(value))
    if unit == "flag":
        return translate("profile.yes" if value >= 0.5 else "profile.no", lang)
    if unit == "persons":
        return translate("profile.unit.persons", lang, n=f"{value:g}")
    if unit == "months":
        return translate("profile.unit.months", lang, n=f"{value:.1f}")
    if unit == "grade":
        return translate(f"profile.grade.{int(round(value))}", lang) if 0 <= value <= 4 else f"{value:g}"
    return f"{value:g}"


def line_text(key: str, line: float | None, lang: str = "zh", income_line: float | None = None) -> str:
    """A warning line with the side that hits it: "≥ 2 人", "< 11,700元" ("—" when there is none)."""
    if line is None or not np.isfinite(line):
        return "—"
    text = format_indicator(key, line, lang, income_line)
    if BY_KEY[key].unit == "flag":
        return text
    return ("≥ " if BY_KEY[key].direction > 0 else "< ") + text


def forced_causes(sd: Standing, income_line: float, lang: str = "zh") -> list[str]:
    """What raised the tier above the score's: each rule of the household's tier that applies,
    said for a reader ("income below 1 x the line (8,100元)", a flag's name, "indicator ≥ line")."""
    causes = []
    for rule in (r for r in sd.rules_hit if r.tier == sd.tier):
        if rule.indicator == INCOME_KEY:
            causes.append(translate("profile.forced_income", lang, threshold=f"{rule.threshold:g}", amount=fmt.yuan(rule.threshold * income_line, lang)))
        elif BY_KEY[rule.indicator].unit == "flag":
            causes.append(label("indicator", rule.indicator, lang))
        else:
            line = line_text(rule.indicator, rule.threshold, lang, income_line)
            causes.append(translate("profile.forced_other", lang, indicator=label("indicator", rule.indicator, lang), line=line))
    return causes


def forced_reason(sd: Standing, income_line: float, lang: str = "zh") -> str | None:
    """The sentence that says a rule, not the score, gave the tier (None when the score did)."""
    if not sd.forced:
        return None
    cause = translate("profile.list_sep", lang).join(forced_causes(sd, income_line, lang))
    return translate("profile.forced", lang, cause=cause, tier=label("tier", sd.tier, lang), score_tier=label("tier", sd.score_tier, lang))
