"""The scikit-learn risk model: will a household fall below the income line within H months?

Why a model beside the rules: the weighted index and the income line look at one
month; the model also reads the last six months (changes, volatility), the
household's structure and recent events and clues, and is checked against the
rules on later months it never saw.  It only *suggests*: nothing here creates a
verification order, and sending its list to the clue inbox is a person's act,
recorded in the audit log.

Label: a household at or above the income line in month t is positive if its
per-capita income falls below the line (of that month's year) in any of months
t+1..t+H.  Households already below the line at t are the rules' business and
are left out of training and evaluation.  Features for month t read only months
<= t (tests perturb later months and check nothing changes), and nothing the demo
generator keeps hidden (its shock parameters) is used: only the panel, the
household table and the recorded events and clues.  One caveat: the household
table (size, members' health, labour) keeps only the current state, not its
history; in the demo it does not change over the panel, but with real data a
backtest using it is slightly optimistic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.access.roles import Principal, require
from fanpin.model.evaluate import (
    METHODS,
    brier,
    budget_curve,
    calibration,
    precision_recall_at,
    ranking_metrics,
    rule_scores,
)
from fanpin.model.features import (
    DEFAULT_HORIZON,
    FEATURE_RISK,
    FEATURES,
    ModelError,
    PanelData,
    Progress,
    features_for,
    labels_for,
    load_panel,
    split_months,
)


# --------------------------------------------------------------------------- model
@dataclass
class RiskModel:
    """The fitted pair (gradient boosting for probabilities, logistic for explanations) and its record."""

    hgb: object
    logit: object
    meta: dict
    evaluation: pd.DataFrame = field(default_factory=pd.DataFrame)  # held-out rows: month, y, one score column per method
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)

    def probability(self, X: pd.DataFrame) -> np.ndarray:
        return self.hgb.predict_proba(X[list(FEATURES)].to_numpy(dtype=np.float64))[:, 1]

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """The logistic baseline's additive terms coef_j * z_j (log-odds) per household and feature."""
        imp, scale, lr = (self.logit.named_steps[k] for k in ("impute", "scale", "lr"))
        z = scale.transform(imp.transform(X[list(FEATURES)].to_numpy(dtype=np.float64)))
        return z * lr.coef_[0]

    def main_factors(self, X: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Each household's ``top`` features raising its risk most (logistic contributions > 0)."""
        c = self.contributions(X)
        order = np.argsort(-c, axis=1)[:, :top]
        names = np.array(FEATURES, dtype=object)
        vals = np.take_along_axis(c, order, axis=1)
        out = pd.DataFrame(index=X.index)
        for i in range(top):
            out[f"factor_{i + 1}"] = np.where(vals[:, i] > 0, names[order[:, i]], None)
            out[f"weight_{i + 1}"] = np.round(vals[:, i], 3)
        risk = np.array([FEATURE_RISK[f] for f in FEATURES], dtype=object)
        out["risk_type"] = np.where(vals[:, 0] > 0, risk[order[:, 0]], "other")
        return out

    def budget(self, ks: Sequence[float]) -> pd.DataFrame:
        ev = self.evaluation
        return budget_curve(ev["y"].to_numpy(), {m: ev[m].to_numpy() for m in METHODS}, ev["month"].to_numpy(), ks)


def _pipelines(seed: int = 0):  # noqa: ANN202
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    # Chosen on a validation split inside the training months of the default demo
    # (fit 2023-04..09, validate 2024-04..06), never on the evaluation months: smaller
    # trees with larger leaves did a little better than 31 leaves x 200 rounds, and fit faster.
    hgb = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=200, l2_regularization=1.0, random_state=seed)
    logit = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=1000, C=0.5))])
    return hgb, logit


def _dataset(data: PanelData, months: Sequence[int], horizon: int, with_rules: Callable | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    Xs, ys, ms = [], [], []
    rules: dict[str, list] = {"income_line": [], "index_tiers": []}
    for t in months:
        X = features_for(data, t)
        y, pop = labels_for(data, t, horizon)
        Xs.append(X[pop])
        ys.append(y[pop])
        ms.append(np.full(int(pop.sum()), t))
        if with_rules is not None:
            r = rule_scores(with_rules, data.snapshots[t], data.lines[t])
            for k in rules:
                rules[k].append(r[k][pop])
    rcat = {k: np.concatenate(v) for k, v in rules.items()} if with_rules is not None else {}
    return pd.concat(Xs), np.concatenate(ys), np.concatenate(ms), rcat


def _versions() -> dict[str, str]:
    import sklearn

    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__}


def _evaluate(model: RiskModel, Xev: pd.DataFrame, yev: np.ndarray, mev: np.ndarray, rules: dict[str, np.ndarray], ks: Sequence[float]) -> tuple[pd.DataFrame, dict[str, dict]]:
    """The held-out rows scored by every method, and each method's metrics at each budget."""
    p_model = model.probability(Xev)
    p_logit = model.logit.predict_proba(Xev.to_numpy(dtype=np.float64))[:, 1]
    evaluation = pd.DataFrame({"month": mev, "y": yev, "model": p_model, "logistic": p_logit, **rules})
    metrics: dict[str, dict] = {}
    for m in METHODS:
        metrics[m] = ranking_metrics(yev, evaluation[m].to_numpy())
        for k in ks:
            p, r = precision_recall_at(yev, evaluation[m].to_numpy(), k, mev)
            metrics[m][f"precision@{k:g}"] = p
            metrics[m][f"recall@{k:g}"] = r
    metrics["model"]["brier"] = brier(yev, p_model)
    metrics["logistic"]["brier"] = brier(yev, p_logit)
    return evaluation, metrics


def _importance(hgb: object, Xev: pd.DataFrame, yev: np.ndarray, rows: int, seed: int) -> pd.DataFrame:
    """Permutation importance (drop in ROC AUC) on a sample of the held-out rows, largest first."""
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(seed)
    take = rng.choice(len(yev), size=min(rows, len(yev)), replace=False)
    if yev[take].any() and not yev[take].all():
        pi = permutation_importance(hgb, Xev.to_numpy(dtype=np.float64)[take], yev[take], scoring="roc_auc", n_repeats=3, random_state=seed, n_jobs=1)
        importance = pd.DataFrame({"feature": FEATURES, "importance": pi.importances_mean, "std": pi.importances_std})
    else:
        importance = pd.DataFrame({"feature": FEATURES, "importance": 0.0, "std": 0.0})
    importance["risk_type"] = importance["feature"].map(FEATURE_RISK)
    return importance.sort_values("importance", ascending=False, ignore_index=True)


def _meta(engine: Engine, horizon: int, train_m: Sequence[int], eval_m: Sequence[int], ytr: np.ndarray, yev: np.ndarray, p_model: np.ndarray, metrics: dict) -> dict:
    """The model's record: what it was trained on, how it did, and the database it belongs to."""
    return {
        "trained_at": datetime.now().isoformat(timespec="seconds"),
        "horizon": int(horizon),
        "train_months": [int(m) for m in train_m],
        "eval_months": [int(m) for m in eval_m],
        "features": list(FEATURES),
        "metrics": metrics,
        "positive_rate_train": float(ytr.mean()),
        "positive_rate_eval": float(yev.mean()),
        "rows_train": int(len(ytr)),
        "rows_eval": int(len(yev)),
        "calibration": calibration(yev, p_model).to_dict(orient="list"),
        "versions": _versions(),
        "data_version": store.data_version(engine),
        "database_id": store.database_id(engine),
        "schema_head": store.head_revision(),
        "database": engine.url.render_as_string(hide_password=True),
    }


def _baseline_per_month(engine: Engine) -> Callable[[int], object]:
    """The baseline policy of a month, looked up once per month (the index-tier rule's policy)."""
    from fanpin.engine.policies import baseline_policy

    policies: dict[int, object] = {}

    def policy_for(p: int):  # noqa: ANN202 - a RiskPolicy
        if p not in policies:
            policies[p] = baseline_policy(engine, p)
        return policies[p]

    return policy_for


def train(
    engine: Engine,
    horizon: int = DEFAULT_HORIZON,
    *,
    principal: Principal,
    eval_months: int | None = None,
    ks: Sequence[float] = (0.05, 0.10, 0.20),
    progress: Progress | None = None,
    data: PanelData | None = None,
    importance_rows: int = 20_000,
    seed: int = 0,
) -> RiskModel:
    """Fit on earlier months, evaluate on later unseen months against the two rules, explain.

    Refused (``AccessDenied``) unless the principal may train the model (it reads every
    household's history).  Steps report to ``progress(message, fraction)`` (the page's bar,
    the CLI's line).
    """
    require(principal, "model_train")
    say = progress or (lambda m, f: None)
    say("loading", 0.0)
    data = data or load_panel(engine)
    train_m, eval_m = split_months(data.periods, horizon, eval_months)
    say("features", 0.15)
    Xtr, ytr, _, _ = _dataset(data, train_m, horizon)
    if ytr.all() or not ytr.any():
        raise ModelError("the training months hold only one class: nothing to learn")
    Xev, yev, mev, rules = _dataset(data, eval_m, horizon, with_rules=_baseline_per_month(engine))
    say("gradient boosting", 0.35)
    hgb, logit = _pipelines(seed)
    A = Xtr.to_numpy(dtype=np.float64, copy=True)
    A[:, np.isnan(A).all(axis=0)] = 0.0  # e.g. no year-ago income in a short panel: a constant the trees ignore
    hgb.fit(A, ytr)
    say("logistic baseline", 0.6)
    logit.fit(A, ytr)
    say("evaluating", 0.7)
    model = RiskModel(hgb, logit, {})
    model.evaluation, metrics = _evaluate(model, Xev, yev, mev, rules, ks)
    say("feature importance", 0.8)
    model.importance = _importance(hgb, Xev, yev, importance_rows, seed)
    model.meta = _meta(engine, horizon, train_m, eval_m, ytr, yev, model.evaluation["model"].to_numpy(), metrics)
    say("done", 1.0)
    return model
