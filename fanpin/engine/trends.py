"""Scores over every month of the panel: trends, newly red households, rising streaks.

A leader's questions are about change ("how many turned red this month, where,
and who has been getting worse"), so the whole panel is scored under one policy
and kept as households x months arrays.  Each month is scored with the line
that holds for it under the policy (``fanpin.engine.income_line``: its year's
stored line, or the analyst's line in the year it was set for), so a trend does
not jump because the line of the latest year was applied to earlier years, and
a month of the panel has the line a single month's scoring gives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.engine.income_line import IncomeLine
from fanpin.engine.scoring import TIERS, RiskPolicy, Scorer


@dataclass
class PanelScores:
    periods: list[int]
    household_ids: np.ndarray  # sorted
    township: np.ndarray  # township code per household
    townships: np.ndarray  # sorted township codes
    score: np.ndarray  # households x periods, float32, NaN where a household has no row
    tier: np.ndarray  # households x periods, int8, -1 where absent
    income_pc: np.ndarray  # households x periods, float32
    income_line: np.ndarray  # per period

    def col(self, period: int) -> int:
        try:
            return self.periods.index(int(period))
        except ValueError as exc:
            raise KeyError(f"period {period} not in the panel") from exc

    def tier_counts(self) -> pd.DataFrame:
        """Periods x (green, yellow, red) household counts."""
        data = {t: (self.tier == i).sum(axis=0) for i, t in enumerate(TIERS)}
        return pd.DataFrame(data, index=pd.Index(self.periods, name="period"))

    def mean_score(self) -> pd.Series:
        return pd.Series(np.nanmean(self.score, axis=0), index=pd.Index(self.periods, name="period"), name="mean_score")

    def below_line_share(self) -> pd.Series:
        present = ~np.isnan(self.income_pc)
        below = (self.income_pc < self.income_line[None, :]) & present
        return pd.Series(below.sum(axis=0) / np.maximum(present.sum(axis=0), 1), index=pd.Index(self.periods, name="period"), name="below_line")

    def township_tier_share(self, tier: str = "red") -> pd.DataFrame:
        """Townships x periods share of present households in ``tier``."""
        code = TIERS.index(tier)
        idx = np.searchsorted(self.townships, self.township)
        T, P = len(self.townships), len(self.periods)
        hit = np.zeros((T, P))
        tot = np.zeros((T, P))
        for j in range(P):  # loop over months, vectorised over households
            present = self.tier[:, j] >= 0
            hit[:, j] = np.bincount(idx, weights=(self.tier[:, j] == code), minlength=T)
            tot[:, j] = np.bincount(idx, weights=present, minlength=T)
        share = np.divide(hit, tot, out=np.full_like(hit, np.nan), where=tot > 0)
        return pd.DataFrame(share, index=pd.Index(self.townships, name="township_code"), columns=self.periods)

    def newly_red(self, period: int) -> np.ndarray:
        """Red this month and present but not red the month before."""
        j = self.col(period)
        if j == 0:
            return np.zeros(len(self.household_ids), dtype=bool)
        prev = self.tier[:, j - 1]
        return (self.tier[:, j] == 2) & (prev >= 0) & (prev < 2)

    def rising(self, period: int, months: int = 3, min_step: float = 1.0) -> np.ndarray:
        """Score rose by at least ``min_step`` points in each of the last ``months`` months.

        The step keeps month-to-month noise in rolling incomes (a few tenths of a
        point) from counting as a rise; needs months+1 observations.
        """
        j = self.col(period)
        if j < months:
            return np.zeros(len(self.household_ids), dtype=bool)
        window = self.score[:, j - months : j + 1]
        with np.errstate(invalid="ignore"):
            return np.all(np.diff(window, axis=1) >= min_step, axis=1)

    def change_vs_previous(self, period: int) -> dict[str, int]:
        j = self.col(period)
        counts = self.tier_counts()
        if j == 0:
            return {t: 0 for t in TIERS}
        return {t: int(counts[t].iloc[j] - counts[t].iloc[j - 1]) for t in TIERS}


def score_panel(
    frames: Mapping[int, pd.DataFrame],
    policy: RiskPolicy,
    income_lines: Mapping[int, float] | IncomeLine | None = None,
) -> PanelScores:
    """Score every month in ``frames`` (period -> snapshot) under ``policy`` as saved (its own
    line and ``line_year``), each month with ``IncomeLine.of(policy, income_lines).apply``."""
    line_rule = IncomeLine.of(policy, income_lines)
    periods = sorted(int(p) for p in frames)
    ids = np.unique(np.concatenate([frames[p]["household_id"].to_numpy().astype(str) for p in periods])) if periods else np.array([], dtype=str)
    last = frames[periods[-1]] if periods else pd.DataFrame({"household_id": [], "township_code": []})
    town_of = pd.Series(last["township_code"].to_numpy(), index=last["household_id"].to_numpy().astype(str))
    township = town_of.reindex(ids).to_numpy(dtype=object)
    if pd.isna(township).any():  # households that left before the last month: take any month's township
        for p in periods:
            f = frames[p]
            fill = pd.Series(f["township_code"].to_numpy(), index=f["household_id"].to_numpy().astype(str)).reindex(ids).to_numpy(dtype=object)
            miss = pd.isna(township)
            township[miss] = fill[miss]
    townships = np.array(sorted(set(township.tolist())), dtype=object)
    n, P = len(ids), len(periods)
    score = np.full((n, P), np.nan, dtype=np.float32)
    tier = np.full((n, P), -1, dtype=np.int8)
    income = np.full((n, P), np.nan, dtype=np.float32)
    line = np.zeros(P)
    for j, p in enumerate(periods):
        f = frames[p]
        pol = line_rule.apply(policy, p)
        line[j] = pol.income_line
        rows = np.searchsorted(ids, f["household_id"].to_numpy().astype(str))
        res = Scorer.from_frame(f, townships).run(pol)
        score[rows, j] = res.score
        tier[rows, j] = res.tier
        income[rows, j] = f["income_pc"].to_numpy(dtype=np.float32)
    return PanelScores(periods, ids, township, townships, score, tier, income, line)
