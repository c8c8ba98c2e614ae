"""Per-task partial aggregates that add up: one county-month's figures by township.

A task scores one county-month with the one ``Scorer`` and returns, per township,
tier counts, the sum of the (float32) scores in float64, the households below the
income line, and, from the panel stage, the newly red and the rising.  Every figure
is a count or a sum, so townships add up to counties, cities and the province
(``fanpin.core.regions``) in any order and on any machine; a mean is a sum over a
count taken at the end.  ``Aggregates`` is what the app asks for: region x month
tables at any level, never a province's rows.

The panel rules are those of ``fanpin.engine.trends.PanelScores``: newly red = red
now and present but not red the month before; rising = the score rose by at least
``min_step`` in each of the last ``months`` months (float32 differences, as there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.core.regions import LEVELS, parent
from fanpin.engine.scoring import TIERS, ScoreResult

RISING_MONTHS = 3
RISING_STEP = 1.0
_SUMS = ("households", "green", "yellow", "red", "score_sum", "below_line", "newly_red", "rising")


@dataclass
class Scored:
    """One county-month's households as scored: what the panel stage needs from a month."""

    period: int
    county: str
    household_id: np.ndarray  # sorted (bytes), the store's order
    township: np.ndarray  # index into ``townships``
    townships: np.ndarray  # 12-digit codes, sorted
    score: np.ndarray  # float32
    tier: np.ndarray  # int8
    below: np.ndarray  # bool: income under the month's line

    @classmethod
    def of(cls, period: int, county: str, res: ScoreResult, income_pc: np.ndarray, line: float) -> Scored:
        s = res.scorer
        ids = np.asarray(s.household_ids).astype("S")
        return cls(int(period), county, ids, s.township.copy(), np.asarray(s.township_codes).astype(str),
                   res.score.copy(), res.tier.copy(), np.asarray(income_pc, dtype=np.float64) < line)

    @property
    def n_townships(self) -> int:
        return len(self.townships)

    def aligned(self, other: Scored | None, values: np.ndarray, fill: float) -> np.ndarray:
        """``values`` of ``other`` (a month of the same county) for this month's households; ``fill`` where absent."""
        out = np.full(len(self.household_id), fill, dtype=values.dtype)
        if other is None or len(other.household_id) == 0:
            return out
        pos = np.minimum(np.searchsorted(other.household_id, self.household_id), len(other.household_id) - 1)
        found = other.household_id[pos] == self.household_id
        out[found] = values[pos[found]]
        return out


@dataclass
class MonthFigures:
    """One county-month's sums by township (the partial aggregate a task returns)."""

    period: int
    county: str
    townships: np.ndarray
    households: np.ndarray
    counts: np.ndarray  # townships x (green, yellow, red)
    score_sum: np.ndarray
    below_line: np.ndarray
    newly_red: np.ndarray
    rising: np.ndarray
    income_line: float

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "period": self.period, "county_code": self.county, "township_code": self.townships, "households": self.households,
            **{t: self.counts[:, i] for i, t in enumerate(TIERS)},
            "score_sum": self.score_sum, "below_line": self.below_line, "newly_red": self.newly_red, "rising": self.rising,
            "income_line": self.income_line,
        })


def newly_red_mask(now: Scored, previous: Scored | None) -> np.ndarray:
    """Red now, present the month before and not red then."""
    prev = now.aligned(previous, previous.tier if previous is not None else np.zeros(0, np.int8), -1)
    return (now.tier == 2) & (prev >= 0) & (prev < 2)


def rising_mask(now: Scored, history: Sequence[Scored | None], step: float = RISING_STEP) -> np.ndarray:
    """Rose by ``step`` or more in each month: ``history`` is the previous months, nearest first."""
    if len(history) < RISING_MONTHS or any(h is None for h in history):
        return np.zeros(len(now.score), dtype=bool)
    cols = [now.aligned(h, h.score, np.nan) for h in reversed(history)]  # oldest first
    window = np.column_stack([*cols, now.score])
    with np.errstate(invalid="ignore"):
        return np.all(np.diff(window, axis=1) >= step, axis=1)


def month_figures(now: Scored, history: Sequence[Scored | None] = (), line: float = np.nan) -> MonthFigures:
    """The township sums of one scored county-month; the panel counts when ``history`` is given."""
    T, idx = now.n_townships, now.township
    counts = np.bincount(idx * 3 + now.tier.astype(np.intp), minlength=3 * T).reshape(T, 3)
    per = lambda mask: np.bincount(idx, weights=mask, minlength=T).astype(np.int64)
    newly = newly_red_mask(now, history[0]) if history else np.zeros(len(idx), dtype=bool)
    rising = rising_mask(now, history) if history else np.zeros(len(idx), dtype=bool)
    return MonthFigures(now.period, now.county, now.townships, counts.sum(axis=1), counts,
                        np.bincount(idx, weights=now.score.astype(np.float64), minlength=T), per(now.below), per(newly), per(rising), float(line))


@dataclass
class Aggregates:
    """Township x month sums for a province (or any set of counties): roll up to any level."""

    frame: pd.DataFrame  # one row per township and month: the _SUMS columns

    @classmethod
    def of(cls, parts: Iterable[MonthFigures]) -> Aggregates:
        """The parts' rows in one frame, sorted by month and township (columns joined once: a province's
        36 months are thousands of parts, and a frame per part cost 2 ms each)."""
        parts = list(parts)
        if not parts:
            return cls(pd.DataFrame(columns=["period", "county_code", "township_code", *_SUMS, "income_line"]))
        n = np.array([len(p.townships) for p in parts])
        each = lambda get, dtype: np.repeat(np.array([get(p) for p in parts], dtype=dtype), n)
        cat = lambda get: np.concatenate([get(p) for p in parts])
        counts = cat(lambda p: p.counts)
        f = pd.DataFrame({
            "period": each(lambda p: p.period, np.int64), "county_code": each(lambda p: p.county, object),
            "township_code": cat(lambda p: p.townships).astype(object), "households": cat(lambda p: p.households),
            **{t: counts[:, i] for i, t in enumerate(TIERS)},
            "score_sum": cat(lambda p: p.score_sum), "below_line": cat(lambda p: p.below_line), "newly_red": cat(lambda p: p.newly_red),
            "rising": cat(lambda p: p.rising), "income_line": each(lambda p: p.income_line, np.float64),
        })
        return cls(f.sort_values(["period", "township_code"], ignore_index=True))

    @property
    def periods(self) -> list[int]:
        return sorted(int(p) for p in self.frame["period"].unique())

    def at(self, level: str = "county", region: str | None = None) -> pd.DataFrame:
        """Region x month sums at ``level`` (inside ``region`` if given), with mean score and shares."""
        if level not in LEVELS[:4]:
            raise ValueError(f"aggregates go down to townships, not {level!r}")
        f = self.frame
        if region is not None:
            from fanpin.core.regions import within

            f = f[within(f["township_code"].to_numpy(dtype=str), region)]
        codes = parent(f["township_code"].to_numpy(dtype=str), level) if len(f) else np.array([], dtype=str)
        out = f.assign(region_code=codes).groupby(["region_code", "period"], as_index=False)[list(_SUMS)].sum()
        out["mean_score"] = out["score_sum"] / out["households"].where(out["households"] > 0)
        for t in ("red", "yellow", "below_line"):
            out[f"{t}_share"] = out[t] / out["households"].where(out["households"] > 0)
        return out

    def totals(self) -> pd.DataFrame:
        """Month x sums over everything held (the province line of a trend chart)."""
        return self.at("province").drop(columns="region_code").groupby("period", as_index=False).sum(numeric_only=True)

    def tier_counts(self, level: str = "county") -> pd.DataFrame:
        """Region x month x tier household counts (long), for charts and the brief."""
        wide = self.at(level)
        return wide.melt(id_vars=["region_code", "period"], value_vars=list(TIERS), var_name="tier", value_name="households")


@dataclass
class ScenarioFigures:
    """One county-month under a baseline and a scenario: per-township counts and the 3x3 transition."""

    period: int
    county: str
    townships: np.ndarray
    base: np.ndarray  # townships x 3
    scen: np.ndarray  # townships x 3
    transition: np.ndarray  # 3 x 3: baseline tier i -> scenario tier j

    @classmethod
    def of(cls, period: int, county: str, townships: np.ndarray, town: np.ndarray, base_tier: np.ndarray, scen_tier: np.ndarray) -> ScenarioFigures:
        T = len(townships)
        b, s = base_tier.astype(np.intp), scen_tier.astype(np.intp)
        cnt = lambda t: np.bincount(town * 3 + t, minlength=3 * T).reshape(T, 3)
        return cls(int(period), county, np.asarray(townships).astype(str), cnt(b), cnt(s), np.bincount(b * 3 + s, minlength=9).reshape(3, 3))


@dataclass
class ScenarioAggregates:
    """A province's scenario against its baseline: the transition and counts by region."""

    transition: np.ndarray
    frame: pd.DataFrame  # township_code, county_code, <tier>_base, <tier>_scen

    @classmethod
    def of(cls, parts: Iterable[ScenarioFigures]) -> ScenarioAggregates:
        parts = list(parts)
        rows = [pd.DataFrame({"county_code": p.county, "township_code": p.townships,
                              **{f"{t}_base": p.base[:, i] for i, t in enumerate(TIERS)},
                              **{f"{t}_scen": p.scen[:, i] for i, t in enumerate(TIERS)}}) for p in parts]
        trans = np.sum([p.transition for p in parts], axis=0) if parts else np.zeros((3, 3), dtype=np.int64)
        frame = pd.concat(rows, ignore_index=True).sort_values("township_code", ignore_index=True) if rows else pd.DataFrame()
        return cls(trans, frame)

    @property
    def base_counts(self) -> dict[str, int]:
        return {t: int(self.transition[i, :].sum()) for i, t in enumerate(TIERS)}

    @property
    def scen_counts(self) -> dict[str, int]:
        return {t: int(self.transition[:, i].sum()) for i, t in enumerate(TIERS)}

    def at(self, level: str = "county") -> pd.DataFrame:
        """Region x (base, scenario, change) counts per tier."""
        codes = parent(self.frame["township_code"].to_numpy(dtype=str), level)
        cols = [c for c in self.frame.columns if c.endswith(("_base", "_scen"))]
        out = self.frame.assign(region_code=codes).groupby("region_code", as_index=False)[cols].sum()
        for t in TIERS:
            out[f"{t}_change"] = out[f"{t}_scen"] - out[f"{t}_base"]
        return out
