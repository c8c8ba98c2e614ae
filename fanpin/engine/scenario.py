"""Baseline vs scenario: tier transitions, per-township change, assistance cost, sensitivity, weights.

The simulator page reruns on every slider move, so everything here works on the
``ScoreResult`` arrays of one ``Scorer`` with numpy (bincount, flatnonzero): no
loop over households.  Loops are over indicators (about 20) or tiers (3).

A ``ScoreResult`` is a view into its scorer's buffers, which the next
``Scorer.run`` overwrites: keep the baseline as ``result.copy()``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from fanpin.core.indicators import BY_KEY, DIMENSIONS, KEYS
from fanpin.engine import weights as wts
from fanpin.engine.scoring import TIERS, RiskPolicy, Scorer, ScoreResult

OBJECTIVE_METHODS: tuple[str, ...] = ("entropy", "cv", "critic")

#: Dimension -> its indicator keys, in catalogue order.
DIMENSION_KEYS: dict[str, tuple[str, ...]] = {d: tuple(k for k in KEYS if BY_KEY[k].dimension == d) for d in DIMENSIONS}


# --------------------------------------------------------------------------- comparison
@dataclass
class ScenarioComparison:
    """How a scenario's tiers differ from the baseline's, county-wide and by township.

    ``transition[i, j]`` counts households in baseline tier i and scenario tier j
    (order green, yellow, red); ``up``/``down`` are row indices of the households
    whose tier rose/fell.
    """

    base_counts: dict[str, int]
    scen_counts: dict[str, int]
    transition: np.ndarray  # 3 x 3, int
    townships: pd.DataFrame  # township_code, households, <tier>_base, <tier>_scen, <tier>_change
    up: np.ndarray
    down: np.ndarray

    def change(self, tier: str) -> int:
        return self.scen_counts[tier] - self.base_counts[tier]

    @property
    def moved(self) -> int:
        return int(len(self.up) + len(self.down))

    def movers(self) -> np.ndarray:
        """Row indices of every household whose tier changed, ascending."""
        return np.sort(np.concatenate([self.up, self.down]))


def compare(base: ScoreResult, scen: ScoreResult) -> ScenarioComparison:
    """Tier counts, the 3x3 transition matrix, township changes and the movers of two results of one scorer."""
    if base.tier.shape != scen.tier.shape:
        raise ValueError(f"results are for different household sets ({base.tier.shape[0]} vs {scen.tier.shape[0]})")
    bt = base.tier.astype(np.intp)
    st = scen.tier.astype(np.intp)
    transition = np.bincount(bt * 3 + st, minlength=9).reshape(3, 3)
    bc, sc = base.township_counts, scen.township_counts
    codes = getattr(base.scorer, "township_codes", None)
    if codes is None or len(codes) != bc.shape[0]:
        codes = np.arange(bc.shape[0])
    town = {"township_code": np.asarray(codes), "households": bc.sum(axis=1)}
    for i, t in enumerate(TIERS):
        town[f"{t}_base"] = bc[:, i]
        town[f"{t}_scen"] = sc[:, i]
        town[f"{t}_change"] = sc[:, i] - bc[:, i]
    return ScenarioComparison(
        base_counts={t: int(transition[i, :].sum()) for i, t in enumerate(TIERS)},
        scen_counts={t: int(transition[:, i].sum()) for i, t in enumerate(TIERS)},
        transition=transition,
        townships=pd.DataFrame(town),
        up=np.flatnonzero(st > bt),
        down=np.flatnonzero(st < bt),
    )


def movers_frame(base: ScoreResult, scen: ScoreResult, rows: np.ndarray, village_codes: np.ndarray | None = None) -> pd.DataFrame:
    """One row per household in ``rows``: ids and both scores and tiers (no personal data)."""
    scorer = base.scorer
    ids = getattr(scorer, "household_ids", None)
    codes = getattr(scorer, "township_codes", None)
    out = {
        "household_id": ids[rows] if ids is not None else rows,
        "township_code": codes[scorer.township[rows]] if codes is not None else scorer.township[rows],
    }
    if village_codes is not None:
        out["village_code"] = village_codes[rows]
    tiers = np.array(TIERS, dtype=object)
    out["base_score"] = np.round(base.score[rows].astype(np.float64), 1)
    out["base_tier"] = tiers[base.tier[rows]]
    out["scen_score"] = np.round(scen.score[rows].astype(np.float64), 1)
    out["scen_tier"] = tiers[scen.tier[rows]]
    out["score_change"] = np.round(scen.score[rows].astype(np.float64) - base.score[rows], 1)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- cost
@dataclass
class CostEstimate:
    """Assistance cost: per-tier household count x unit cost (yuan per household per year)."""

    per_tier: dict[str, float]
    total: float


@dataclass
class CostComparison:
    base: CostEstimate
    scenario: CostEstimate

    @property
    def difference(self) -> float:
        return self.scenario.total - self.base.total

    def per_tier_difference(self) -> dict[str, float]:
        return {t: self.scenario.per_tier[t] - self.base.per_tier[t] for t in TIERS}


def assistance_cost(tier_counts: Mapping[str, int], unit_costs: Mapping[str, float]) -> CostEstimate:
    """Estimated cost of assisting every household at its tier; a tier without a unit cost costs 0."""
    unknown = sorted(set(unit_costs) - set(TIERS))
    if unknown:
        raise ValueError(f"unit costs for unknown tiers: {', '.join(unknown)}")
    per: dict[str, float] = {}
    for t in TIERS:
        c = float(unit_costs.get(t, 0.0))
        if not math.isfinite(c) or c < 0:
            raise ValueError(f"unit cost of {t} must be a non-negative number of yuan, got {c}")
        per[t] = c * int(tier_counts.get(t, 0))
    return CostEstimate(per, float(sum(per.values())))


def cost_comparison(base_counts: Mapping[str, int], scen_counts: Mapping[str, int], unit_costs: Mapping[str, float]) -> CostComparison:
    return CostComparison(assistance_cost(base_counts, unit_costs), assistance_cost(scen_counts, unit_costs))


# --------------------------------------------------------------------------- sensitivity
def sensitivity(scorer: Scorer, policy: RiskPolicy, delta: float = 0.2) -> pd.DataFrame:
    """Change in red and yellow counts when one weight is multiplied by 1 -/+ delta.

    One row per indicator with a positive weight (the others are renormalised by
    ``Scorer.run``), sorted by the largest change in red.  Only the per-township
    counts (fresh arrays) are read from each run; afterwards the scorer's buffers
    hold ``policy``'s result again, so a caller's view of it stays valid.
    """
    if not 0 < delta < 1:
        raise ValueError(f"delta must be between 0 and 1, got {delta}")
    policy, _ = policy.normalised()

    def counts(p: RiskPolicy) -> np.ndarray:
        return scorer.run(p, normalise=True).township_counts.sum(axis=0)

    ref = counts(policy)
    rows = []
    for k, w in policy.weights.items():
        if w <= 0:
            continue
        out = {"indicator": k, "weight": float(w)}
        for sign, tag in ((-1, "minus"), (1, "plus")):
            c = counts(replace(policy, weights={**policy.weights, k: w * (1 + sign * delta)}))
            out[f"red_{tag}"] = int(c[2] - ref[2])
            out[f"yellow_{tag}"] = int(c[1] - ref[1])
        rows.append(out)
    scorer.run(policy)  # leave the buffers holding the policy's own result
    frame = pd.DataFrame(rows, columns=["indicator", "weight", "red_minus", "yellow_minus", "red_plus", "yellow_plus"])
    swing = frame[["red_minus", "red_plus"]].abs().max(axis=1) if len(frame) else pd.Series(dtype=float)
    return frame.assign(_swing=swing).sort_values(["_swing", "weight"], ascending=False, kind="stable").drop(columns="_swing").reset_index(drop=True)


def weight_free(result: ScoreResult, cutoffs: tuple[float, float]) -> tuple[int, float]:
    """Why a change of weights may move no one: (households whose tier a tier rule set, so that no
    weight changes it; the smallest distance of any other household's score to a cut-off)."""
    free = np.asarray(result.forced) <= 0
    scores = np.asarray(result.score, dtype=np.float64)[free]
    gap = float(np.min(np.abs(scores[:, None] - np.asarray(cutoffs, dtype=np.float64)[None, :]))) if len(scores) else float("nan")
    return int((~free).sum()), gap


# --------------------------------------------------------------------------- weights
def objective_weights(scorer: Scorer, method: str) -> dict[str, float]:
    """Entropy / CV / CRITIC weights of the month's indicator matrix (missing values left out).

    Uses the raw values (the scorer's median fill undone), so a gap does not
    count as information.  Indicators with no information get 0.
    """
    X = scorer.raw_values(slice(None))
    dirs = np.array([BY_KEY[k].direction for k in scorer.keys], dtype=float)
    if method == "entropy":
        w = wts.entropy(X, dirs)
    elif method == "cv":
        w = wts.cv(X)
    elif method == "critic":
        w = wts.critic(X, dirs)
    else:
        raise ValueError(f"unknown objective method {method!r}; use one of {', '.join(OBJECTIVE_METHODS)}")
    return {k: float(v) for k, v in zip(scorer.keys, w)}


def combined_weights(subjective: Mapping[str, float], objective: Mapping[str, float], alpha: float) -> dict[str, float]:
    """``alpha * subjective + (1 - alpha) * objective`` over the catalogue (each normalised first)."""
    s = [float(subjective.get(k, 0.0)) for k in KEYS]
    o = [float(objective.get(k, 0.0)) for k in KEYS]
    return dict(zip(KEYS, (float(v) for v in wts.combine(s, o, alpha))))


def dimension_weights(policy: RiskPolicy | Mapping[str, float]) -> dict[str, float]:
    """Each dimension's share of the total weight (sums to 1), in catalogue order."""
    w = policy.weights if isinstance(policy, RiskPolicy) else policy
    total = float(sum(w.values()))
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    return {d: float(sum(w.get(k, 0.0) for k in keys)) / total for d, keys in DIMENSION_KEYS.items()}


def _local(w: Mapping[str, float], d: str) -> dict[str, float]:
    """A dimension's indicator weights; all-zero means equal shares (a dimension given weight needs indicators)."""
    local = {k: float(w.get(k, 0.0)) for k in DIMENSION_KEYS[d]}
    return local if sum(local.values()) > 0 else dict.fromkeys(local, 1.0)


def dimension_scaled(weights: Mapping[str, float], dim_weights: Mapping[str, float]) -> dict[str, float]:
    """Catalogue weights with each dimension's indicators scaled so the dimension totals match ``dim_weights``.

    Hierarchical: shares within a dimension are kept (equal shares if they were all 0);
    dimensions missing from ``dim_weights`` keep their current share.  The result sums to 1.
    """
    unknown = sorted(set(dim_weights) - set(DIMENSIONS))
    if unknown:
        raise ValueError(f"unknown dimensions: {', '.join(unknown)}")
    current = dimension_weights(weights) if set(dim_weights) != set(DIMENSIONS) else {}
    target = {d: float(dim_weights[d]) if d in dim_weights else current[d] for d in DIMENSIONS}
    g = wts.hierarchical(target, {d: _local(weights, d) for d in DIMENSIONS})
    return {k: g[k] for k in KEYS}


def apply_dimension_weights(policy: RiskPolicy, dim_weights: Mapping[str, float]) -> RiskPolicy:
    """The policy with its weights :func:`dimension_scaled` to ``dim_weights`` (summing to 1)."""
    return replace(policy, weights=dimension_scaled(policy.weights, dim_weights))


def scale_dimension(weights: Mapping[str, float], dimension: str, total: float) -> dict[str, float]:
    """Raw (not normalised) weights with one dimension's indicators rescaled to sum ``total``.

    What the by-hand dimension slider does: the other indicators are untouched.
    """
    if total < 0 or not math.isfinite(total):
        raise ValueError(f"a dimension total must be a non-negative number, got {total}")
    out = {k: float(weights.get(k, 0.0)) for k in KEYS}
    local = _local(out, dimension)
    s = sum(local.values())
    for k, v in local.items():
        out[k] = total * v / s
    return out


def ahp_dimensions(judgements: Sequence[float], dims: Sequence[str] = tuple(DIMENSIONS)) -> tuple[dict[str, float], wts.AHPResult]:
    """Dimension weights from the upper-triangle Saaty judgements (row by row), with the AHP result (CR)."""
    res = wts.ahp_from_upper(judgements, len(dims))
    return dict(zip(dims, (float(v) for v in res.weights))), res


def nearest_saaty(ratio: float) -> float:
    """The Saaty-scale value (1/9 .. 9) closest to ``ratio`` on a log scale."""
    if not ratio > 0:
        return 1.0
    scale = np.array(wts.saaty_scale)
    return float(scale[np.argmin(np.abs(np.log(scale) - math.log(ratio)))])


def judgements_from_weights(dim_weights: Mapping[str, float], dims: Sequence[str] = tuple(DIMENSIONS)) -> list[float]:
    """Upper-triangle judgements ``w_i / w_j`` snapped to the Saaty scale: an AHP starting point near ``dim_weights``."""
    w = [max(float(dim_weights.get(d, 0.0)), 1e-9) for d in dims]
    iu, ju = np.triu_indices(len(dims), k=1)
    return [nearest_saaty(w[i] / w[j]) for i, j in zip(iu, ju)]
