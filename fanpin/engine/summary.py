"""The overview's figures: one month's headline numbers and the township ranking.

Both the dashboard and the monthly brief take their numbers from here, so a
figure in a report is always the figure on the screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.core.indicators import INCOME_KEY
from fanpin.engine.scoring import TIERS, RiskPolicy
from fanpin.engine.trends import PanelScores


@dataclass(frozen=True)
class MonthSummary:
    period: int
    households: int
    counts: dict[str, int]
    change: dict[str, int]  # vs the month before (0 for the first month)
    newly_red: int
    rising: int  # score rose three months in a row
    mean_score: float
    below_line: int


def _mask(ps: PanelScores, township: str | None) -> np.ndarray:
    return np.ones(len(ps.household_ids), dtype=bool) if township is None else ps.township == township


def month_summary(ps: PanelScores, period: int, township: str | None = None) -> MonthSummary:
    j = ps.col(period)
    sel = _mask(ps, township)
    tier = ps.tier[sel, j]
    counts = {t: int((tier == i).sum()) for i, t in enumerate(TIERS)}
    if j > 0:
        prev = ps.tier[sel, j - 1]
        change = {t: counts[t] - int((prev == i).sum()) for i, t in enumerate(TIERS)}
    else:
        change = {t: 0 for t in TIERS}
    income = ps.income_pc[sel, j]
    return MonthSummary(
        period=int(period),
        households=int((tier >= 0).sum()),
        counts=counts,
        change=change,
        newly_red=int(ps.newly_red(period)[sel].sum()),
        rising=int(ps.rising(period)[sel].sum()),
        mean_score=float(np.nanmean(ps.score[sel, j])) if (tier >= 0).any() else float("nan"),
        below_line=int((income < ps.income_line[j]).sum()),
    )


def trend_frame(ps: PanelScores, township: str | None = None) -> pd.DataFrame:
    """Per month: tier counts, mean score and share below the income line."""
    sel = _mask(ps, township)
    tier = ps.tier[sel]
    present = tier >= 0
    out = pd.DataFrame(index=pd.Index(ps.periods, name="period"))
    for i, t in enumerate(TIERS):
        out[t] = (tier == i).sum(axis=0)
    with np.errstate(invalid="ignore"):
        out["mean_score"] = np.nanmean(np.where(present, ps.score[sel], np.nan), axis=0)
    below = (ps.income_pc[sel] < ps.income_line[None, :]) & present
    out["below_line_share"] = below.sum(axis=0) / np.maximum(present.sum(axis=0), 1)
    return out


def township_table(ps: PanelScores, period: int) -> pd.DataFrame:
    """Townships ranked by red share this month, with counts, change and the red-share series."""
    j = ps.col(period)
    share = ps.township_tier_share("red")
    idx = np.searchsorted(ps.townships, ps.township)
    T = len(ps.townships)
    tier = ps.tier[:, j]
    counts = {t: np.bincount(idx, weights=(tier == i), minlength=T).astype(int) for i, t in enumerate(TIERS)}
    total = np.bincount(idx, weights=(tier >= 0), minlength=T).astype(int)
    prev_share = share.iloc[:, j - 1].to_numpy() if j > 0 else np.full(T, np.nan)
    frame = pd.DataFrame(
        {
            "township_code": ps.townships,
            "households": total,
            "red": counts["red"],
            "yellow": counts["yellow"],
            "green": counts["green"],
            "red_share": share.iloc[:, j].to_numpy(),
            "red_share_change": share.iloc[:, j].to_numpy() - prev_share,
            "mean_score": np.bincount(idx, weights=np.nan_to_num(ps.score[:, j]), minlength=T) / np.maximum(total, 1),
            "trend": [row.tolist() for row in share.iloc[:, : j + 1].to_numpy()],
        }
    )
    return frame.sort_values(["red_share", "township_code"], ascending=[False, True], ignore_index=True)


def household_list(ps: PanelScores, period: int, mask: np.ndarray, policy: RiskPolicy | None = None) -> pd.DataFrame:
    """The households in ``mask`` for the month, highest score first; with ``policy`` (the one the
    panel was scored under) also why a tier is above what the score gives (``forced_by``)."""
    j = ps.col(period)
    rows = np.flatnonzero(mask)
    prev = ps.score[rows, j - 1] if j > 0 else np.full(len(rows), np.nan)
    out = pd.DataFrame(
        {
            "household_id": ps.household_ids[rows],
            "township_code": ps.township[rows],
            "score": np.round(ps.score[rows, j].astype(float), 1),
            "score_change": np.round((ps.score[rows, j] - prev).astype(float), 1),
            "tier": np.array(TIERS, dtype=object)[ps.tier[rows, j].clip(0)],
            "income_pc": ps.income_pc[rows, j].astype(float),
        }
    )
    if policy is not None:
        out["forced_by"], out["forced_line"] = forced_by(ps, period, rows, policy)
    return out.sort_values("score", ascending=False, ignore_index=True)


def forced_of(ps: PanelScores, period: int, household_ids: Sequence[str] | pd.Series, policy: RiskPolicy) -> tuple[np.ndarray, np.ndarray]:
    """``forced_by`` for the given households (in their order; "" for a household or month the panel lacks)."""
    ids = np.asarray(household_ids, dtype=object).astype(str)
    why, line = np.full(len(ids), "", dtype=object), np.full(len(ids), np.nan)
    if int(period) not in ps.periods or not len(ids) or not len(ps.household_ids):
        return why, line
    pos = np.searchsorted(ps.household_ids, ids)  # household_ids are sorted
    found = ps.household_ids[np.minimum(pos, len(ps.household_ids) - 1)] == ids
    why[found], line[found] = forced_by(ps, period, pos[found], policy)
    return why, line


def forced_by(ps: PanelScores, period: int, rows: np.ndarray, policy: RiskPolicy) -> tuple[np.ndarray, np.ndarray]:
    """Why each household's tier is above the one its score gives: "" (the score gave it), "income"
    (income per head below the policy's income rule for that tier: the amount in yuan is returned
    beside it) or "rule" (another of the policy's tier rules).  The month's line is the panel's."""
    j = ps.col(period)
    score, tier, income = ps.score[rows, j], ps.tier[rows, j], ps.income_pc[rows, j]
    yellow, red = policy.cutoffs
    score_tier = np.where(score >= red, TIERS.index("red"), np.where(score >= yellow, TIERS.index("yellow"), TIERS.index("green")))
    forced = (tier > score_tier) & (tier >= 0)
    why = np.where(forced, "rule", "").astype(object)
    line = np.full(len(rows), np.nan)
    for rule in sorted((r for r in policy.forces if r.indicator == INCOME_KEY), key=lambda r: r.threshold):
        amount = rule.threshold * float(ps.income_line[j])
        hit = forced & (tier == TIERS.index(rule.tier)) & (income < amount) & (why == "rule")
        why[hit], line[hit] = "income", amount
    return why, line
