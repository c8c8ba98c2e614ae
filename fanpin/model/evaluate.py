"""Metrics of held-out household-months (ranking, Brier score, calibration) and the rules' scores;
the backtest of distinct fallers found at a visit budget is ``fanpin.model.backtest``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine


# --------------------------------------------------------------------------- metrics
def brier(y: np.ndarray, prob: np.ndarray) -> float:
    return float(np.mean((np.asarray(prob, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))


def calibration(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed rate in equal-width probability bins (empty bins dropped)."""
    prob = np.asarray(prob, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    b = np.clip((prob * bins).astype(int), 0, bins - 1)
    n = np.bincount(b, minlength=bins)
    ok = n > 0
    return pd.DataFrame(
        {
            "bin": np.arange(bins)[ok],
            "predicted": (np.bincount(b, prob, bins)[ok] / n[ok]),
            "observed": (np.bincount(b, y, bins)[ok] / n[ok]),
            "households": n[ok],
        }
    )


def ranking_metrics(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y, dtype=bool)
    if y.all() or not y.any():
        return {"roc_auc": float("nan"), "pr_auc": float("nan")}
    return {"roc_auc": float(roc_auc_score(y, score)), "pr_auc": float(average_precision_score(y, score))}


# --------------------------------------------------------------------------- rules
def rule_scores(engine_or_policy: Engine | Callable, frame: pd.DataFrame, line: float) -> dict[str, np.ndarray]:
    """Ranking scores of the two rules for one month's full snapshot.

    income_line: closeness to the line (lower income per head first).
    index_tiers: the current policy's tier, then its weighted-index score.
    """
    from fanpin.engine.scoring import Scorer

    if callable(engine_or_policy):
        policy = engine_or_policy(int(frame.attrs.get("period", 0)))
    else:
        from fanpin.engine.policies import baseline_policy

        policy = baseline_policy(engine_or_policy, int(frame.attrs["period"]))
    policy, _ = policy.normalised()
    res = Scorer.from_frame(frame).run(policy)
    s = res.score.astype(np.float64)
    return {
        "income_line": -frame["income_pc"].to_numpy(dtype=np.float64) / line,
        "index_tiers": res.tier.astype(np.float64) * 1e6 + s,
    }
