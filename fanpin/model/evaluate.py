"""Metrics of held-out household-months (ranking, calibration, precision and recall at a budget) and
the rules' scores; the backtest of distinct fallers found is ``fanpin.model.backtest``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.model.backtest import METHODS  # the methods compared, in the table's order


# --------------------------------------------------------------------------- metrics
def precision_recall_at(y: np.ndarray, score: np.ndarray, k: float, groups: np.ndarray | None = None) -> tuple[float, float]:
    """Precision and recall when visiting the top ``k`` share (0..1] of households in each group (month).

    Ties are broken by position (stable), the count per group is round(k * n) (at least 1).
    """
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    groups = np.zeros(len(y), dtype=np.int64) if groups is None else np.asarray(groups)
    tp = sel = 0
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        n_pick = max(1, int(round(k * len(idx))))
        order = idx[np.argsort(-score[idx], kind="stable")][:n_pick]
        tp += int(y[order].sum())
        sel += n_pick
    pos = int(y.sum())
    return (tp / sel if sel else float("nan"), tp / pos if pos else float("nan"))


def budget_curve(y: np.ndarray, scores: dict[str, np.ndarray], groups: np.ndarray, ks: Sequence[float]) -> pd.DataFrame:
    """Precision and recall at each visit budget k for each method (long frame: method, k, precision, recall)."""
    rows = []
    for m, s in scores.items():
        for k in ks:
            p, r = precision_recall_at(y, s, k, groups)
            rows.append({"method": m, "k": float(k), "precision": p, "recall": r})
    return pd.DataFrame(rows)


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


# --------------------------------------------------------------------------- the page's comparison
def method_table(evaluation: pd.DataFrame, k: float) -> pd.DataFrame:
    """One row per method (``method`` code): ROC AUC and PR AUC (3 places), Brier score (NaN for
    the rules, which give no probability), precision and recall in % (1 place) at the visit
    budget ``k`` (top share of households per held-out month)."""
    y, groups = evaluation["y"].to_numpy(), evaluation["month"].to_numpy()
    rows = []
    for m in METHODS:
        s = evaluation[m].to_numpy()
        rk = ranking_metrics(y, s)
        prec, rec = precision_recall_at(y, s, k, groups)
        rows.append(
            {
                "method": m,
                "roc_auc": round(rk["roc_auc"], 3),
                "pr_auc": round(rk["pr_auc"], 3),
                "brier": brier(y, s) if m in ("model", "logistic") else float("nan"),
                "precision": round(100 * prec, 1),
                "recall": round(100 * rec, 1),
            }
        )
    return pd.DataFrame(rows)
