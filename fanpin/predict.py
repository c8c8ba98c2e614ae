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

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import and_, insert, select
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.store.engine import PROJECT_ROOT
from fanpin.audit import record
from fanpin.store.schema import clues, events, monitoring

DEFAULT_HORIZON = 6
MODEL_FILE = "risk_model.joblib"
#: Months of history the change and volatility features read.
HISTORY = 6
MIN_HISTORY = 3

Progress = Callable[[str, float], None]

# Features, with the risk type a contribution points to (for the clue and the profile).
_LEVELS = {
    "inc_ratio": "other",  # income_pc / income line
    "income_change_12m": "other",
    "wage_pc_ratio": "unstable_work",
    "business_pc_ratio": "industry_failure",
    "business_cost_pc_ratio": "industry_failure",
    "property_pc_ratio": "other",
    "transfer_pc_ratio": "other",
    "benefits_pc_ratio": "other",
    "medical_pc_ratio": "illness",
    "schooling_pc_ratio": "schooling",
    "debt_pc_ratio": "other",
    "disaster_pc_ratio": "disaster",
    "housing_grade": "housing",
    "water_unsafe": "water",
    "months_worked_per_worker": "unstable_work",
    "dibao": "other",
    "tekun": "other",
    "job_lost": "unstable_work",
}
_CHANGES = {
    "inc_chg_3m": "other",
    "inc_chg_6m": "other",
    "inc_vol_3m": "other",
    "inc_vol_6m": "other",
    "wage_chg_3m": "unstable_work",
    "business_chg_3m": "industry_failure",
    "medical_chg_3m": "illness",
    "months_worked_chg_3m": "unstable_work",
}
_STRUCTURE = {
    "size": "other",
    "former_poor": "other",
    "no_labour_guarantee": "lack_of_labour",
    "relocated": "other",
    "n_labour": "lack_of_labour",
    "n_weak_labour": "lack_of_labour",
    "n_elderly": "lack_of_labour",
    "n_children": "lack_of_labour",
    "n_chronic": "illness",
    "n_serious": "illness",
    "n_disabled": "disability",
    "n_students": "schooling",
    "n_uninsured": "illness",
    "dependency": "lack_of_labour",
}
#: Recorded household events counted over the last 3 months (event types -> feature).
EVENT_GROUPS = {
    "illness": "ev_illness_3m",
    "accident": "ev_accident_3m",
    "job_loss": "ev_job_loss_3m",
    "price_crash": "ev_price_crash_3m",
    "flood": "ev_disaster_3m",
    "drought": "ev_disaster_3m",
    "school_entry": "ev_school_entry_3m",
}
_ACTIVITY = {
    "ev_illness_3m": "illness",
    "ev_accident_3m": "accident",
    "ev_job_loss_3m": "unstable_work",
    "ev_price_crash_3m": "industry_failure",
    "ev_disaster_3m": "disaster",
    "ev_school_entry_3m": "schooling",
    "ev_other_3m": "other",
    "clues_3m": "other",
    "clues_6m": "other",
}
FEATURE_RISK: dict[str, str] = {**_LEVELS, **_CHANGES, **_STRUCTURE, **_ACTIVITY}
FEATURES: tuple[str, ...] = tuple(FEATURE_RISK)
FEATURE_GROUP: dict[str, str] = {
    **{f: "level" for f in _LEVELS},
    **{f: "change" for f in _CHANGES},
    **{f: "structure" for f in _STRUCTURE},
    **{f: "activity" for f in _ACTIVITY},
}
METHODS = ("model", "logistic", "income_line", "index_tiers")


class ModelError(RuntimeError):
    """A saved model that cannot be used here (other schema, other features, no model)."""


# --------------------------------------------------------------------------- data
@dataclass
class PanelData:
    """Everything the model reads from the database, by month."""

    snapshots: dict[int, pd.DataFrame]  # period -> frame ordered by household_id
    events: pd.DataFrame  # household_id, period, event_type (household events only)
    clues: pd.DataFrame  # household_id, period (clues the model itself sent are left out)
    lines: dict[int, float]  # period -> income line

    @property
    def periods(self) -> list[int]:
        return sorted(self.snapshots)


def load_panel(engine: Engine, periods: Sequence[int] | None = None) -> PanelData:
    """Snapshots, household events and clues for ``periods`` (default: all months)."""
    from fanpin.policies import income_line_for

    ps = sorted(int(p) for p in (periods if periods is not None else store.periods(engine)))
    if not ps:
        raise ModelError("no panel months in the database")
    snaps = store.load_snapshots(engine, ps)
    lo, hi = ps[0], ps[-1]
    with engine.connect() as conn:
        ev = conn.execute(
            select(events.c.household_id, events.c.period, events.c.event_type).where(
                and_(events.c.household_id.is_not(None), events.c.period >= lo, events.c.period <= hi)
            )
        ).all()
        cl = conn.execute(
            select(clues.c.household_id, clues.c.period).where(and_(clues.c.period >= lo, clues.c.period <= hi, clues.c.source != "model"))
        ).all()
    ev_f = pd.DataFrame(ev, columns=["household_id", "period", "event_type"])
    cl_f = pd.DataFrame(cl, columns=["household_id", "period"])
    lines = {p: float(income_line_for(engine, p) or np.nan) for p in ps}
    return PanelData(snaps, ev_f, cl_f, lines)


def _window(periods: Sequence[int], t: int, back: int) -> list[int]:
    """The months t-back+1..t that exist in the panel."""
    lo = store.shift_period(t, -(back - 1))
    return [p for p in periods if lo <= p <= t]


def _aligned(frame: pd.DataFrame, ids: pd.Index, column: str) -> np.ndarray:
    """``frame[column]`` for the households ``ids`` (NaN where absent)."""
    pos = pd.Index(frame["household_id"].astype(str)).get_indexer(ids)
    vals = frame[column].to_numpy(dtype=np.float64)
    out = np.full(len(ids), np.nan)
    ok = pos >= 0
    out[ok] = vals[pos[ok]]
    return out


def _counts(frame: pd.DataFrame, ids: pd.Index, months: Sequence[int], mask: np.ndarray | None = None) -> np.ndarray:
    if frame.empty:
        return np.zeros(len(ids))
    sel = frame["period"].isin(months).to_numpy().copy()
    if mask is not None:
        sel &= mask
    pos = ids.get_indexer(frame["household_id"].astype(str).to_numpy()[sel])
    pos = pos[pos >= 0]
    return np.bincount(pos, minlength=len(ids)).astype(np.float64)


def features_for(data: PanelData, t: int) -> pd.DataFrame:
    """The feature frame for month ``t`` (index household_id, columns FEATURES); reads months <= t only."""
    f = data.snapshots[t]
    ids = pd.Index(f["household_id"].astype(str), name="household_id")
    line = data.lines.get(t, np.nan)
    size = np.maximum(f["size"].to_numpy(dtype=np.float64), 1.0)
    col = lambda c: f[c].to_numpy(dtype=np.float64)  # noqa: E731
    pc = lambda c: col(c) / size / line  # noqa: E731
    out: dict[str, np.ndarray] = {}
    inc = col("income_pc")
    out["inc_ratio"] = inc / line
    with np.errstate(divide="ignore", invalid="ignore"):
        prev = col("income_pc_12m_ago")
        out["income_change_12m"] = np.where(prev > 0, inc / prev - 1.0, np.nan)
    out["wage_pc_ratio"] = pc("income_wage")
    out["business_pc_ratio"] = pc("income_business")
    out["business_cost_pc_ratio"] = pc("business_cost")
    out["property_pc_ratio"] = pc("income_property")
    out["transfer_pc_ratio"] = pc("income_transfer")
    out["benefits_pc_ratio"] = pc("benefits")
    out["medical_pc_ratio"] = pc("medical_oop")
    out["schooling_pc_ratio"] = pc("schooling_cost")
    out["debt_pc_ratio"] = pc("debt")
    out["disaster_pc_ratio"] = pc("disaster_loss")
    out["housing_grade"] = col("housing_grade")
    out["water_unsafe"] = 1.0 - col("water_safe")
    workers = np.maximum(col("n_labour") + col("n_weak_labour"), 1.0)
    out["months_worked_per_worker"] = col("months_worked") / workers
    for c in ("dibao", "tekun", "job_lost"):
        out[c] = col(c)

    # Changes and volatility over the last 3 and 6 months (in units of this month's line).
    def past(months_back: int, column: str) -> np.ndarray:
        p = store.shift_period(t, -months_back)
        if p not in data.snapshots:
            return np.full(len(ids), np.nan)
        return _aligned(data.snapshots[p], ids, column)

    out["inc_chg_3m"] = (inc - past(3, "income_pc")) / line
    out["inc_chg_6m"] = (inc - past(6, "income_pc")) / line
    for back, name in ((3, "inc_vol_3m"), (6, "inc_vol_6m")):
        months = _window(data.periods, t, back + 1)
        if len(months) >= 2:
            m = np.column_stack([_aligned(data.snapshots[p], ids, "income_pc") for p in months])
            with np.errstate(invalid="ignore"):
                out[name] = np.nanstd(np.diff(m, axis=1), axis=1) / line
        else:
            out[name] = np.full(len(ids), np.nan)
    out["wage_chg_3m"] = (col("income_wage") - past(3, "income_wage")) / size / line
    out["business_chg_3m"] = (col("income_business") - past(3, "income_business")) / size / line
    out["medical_chg_3m"] = (col("medical_oop") - past(3, "medical_oop")) / size / line
    out["months_worked_chg_3m"] = (col("months_worked") - past(3, "months_worked")) / workers

    for c in ("size", "no_labour_guarantee", "relocated", "n_labour", "n_weak_labour", "n_elderly", "n_children", "n_chronic", "n_serious", "n_disabled", "n_students", "n_uninsured"):
        out[c] = col(c)
    out["former_poor"] = (f["household_type"].to_numpy() == "former_poor").astype(np.float64)
    out["dependency"] = (col("n_elderly") + col("n_children")) / size

    last3 = _window(data.periods, t, 3)
    last6 = _window(data.periods, t, 6)
    ev = data.events
    kinds = ev["event_type"].to_numpy() if len(ev) else np.array([], dtype=object)
    for name in sorted(set(EVENT_GROUPS.values())):
        types = [k for k, v in EVENT_GROUPS.items() if v == name]
        out[name] = _counts(ev, ids, last3, np.isin(kinds, types))
    out["ev_other_3m"] = _counts(ev, ids, last3, ~np.isin(kinds, list(EVENT_GROUPS)))
    out["clues_3m"] = _counts(data.clues, ids, last3)
    out["clues_6m"] = _counts(data.clues, ids, last6)
    return pd.DataFrame({k: out[k] for k in FEATURES}, index=ids)


def labels_for(data: PanelData, t: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(label, in_population) for the households of month t, or raises if t+H is past the panel.

    in_population: at or above the line at t.  label: below the line in any of t+1..t+H.
    """
    f = data.snapshots[t]
    ids = pd.Index(f["household_id"].astype(str))
    future = [store.shift_period(t, h) for h in range(1, horizon + 1)]
    if any(p not in data.snapshots for p in future):
        raise ModelError(f"month {t} has no {horizon} months after it in the panel")
    pop = f["income_pc"].to_numpy(dtype=np.float64) >= data.lines[t]
    y = np.zeros(len(ids), dtype=bool)
    for p in future:
        v = _aligned(data.snapshots[p], ids, "income_pc")
        y |= v < data.lines[p]  # NaN (household gone) compares False
    return y, pop


def labelled_months(periods: Sequence[int], horizon: int) -> list[int]:
    """Months with MIN_HISTORY months behind them and ``horizon`` months after them."""
    ps = sorted(periods)
    return ps[MIN_HISTORY : len(ps) - horizon] if len(ps) > MIN_HISTORY + horizon else []


def split_months(periods: Sequence[int], horizon: int, eval_months: int | None = None) -> tuple[list[int], list[int]]:
    """Time split: evaluate on the last labelled months; train on months whose label window ends before them."""
    lab = labelled_months(periods, horizon)
    if len(lab) < 2:
        raise ModelError(f"the panel is too short for a {horizon}-month horizon ({len(periods)} months)")
    n_eval = eval_months or max(1, min(6, len(lab) // 3))
    ev = lab[-n_eval:]
    first_eval = ev[0]
    train = [t for t in lab if store.shift_period(t, horizon) < first_eval]
    if not train:
        raise ModelError("no training months end before the evaluation months: use a shorter horizon or fewer evaluation months")
    return train, ev


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
    from fanpin.scoring import Scorer

    if callable(engine_or_policy):
        policy = engine_or_policy(int(frame.attrs.get("period", 0)))
    else:
        from fanpin.policies import baseline_policy

        policy = baseline_policy(engine_or_policy, int(frame.attrs["period"]))
    policy, _ = policy.normalised()
    res = Scorer.from_frame(frame).run(policy)
    s = res.score.astype(np.float64)
    return {
        "income_line": -frame["income_pc"].to_numpy(dtype=np.float64) / line,
        "index_tiers": res.tier.astype(np.float64) * 1e6 + s,
    }


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


def train(
    engine: Engine,
    horizon: int = DEFAULT_HORIZON,
    *,
    eval_months: int | None = None,
    ks: Sequence[float] = (0.05, 0.10, 0.20),
    progress: Progress | None = None,
    data: PanelData | None = None,
    importance_rows: int = 20_000,
    seed: int = 0,
) -> RiskModel:
    """Fit on earlier months, evaluate on later unseen months against the two rules, explain.

    Steps report to ``progress(message, fraction)`` (the page's bar, the CLI's line).
    """
    from fanpin.policies import baseline_policy
    from sklearn.inspection import permutation_importance

    say = progress or (lambda m, f: None)
    say("loading", 0.0)
    data = data or load_panel(engine)
    train_m, eval_m = split_months(data.periods, horizon, eval_months)
    say("features", 0.15)
    Xtr, ytr, _, _ = _dataset(data, train_m, horizon)
    if ytr.all() or not ytr.any():
        raise ModelError("the training months hold only one class: nothing to learn")
    policies: dict[int, object] = {}

    def policy_for(p: int):  # noqa: ANN202
        if p not in policies:
            policies[p] = baseline_policy(engine, p)
        return policies[p]

    Xev, yev, mev, rules = _dataset(data, eval_m, horizon, with_rules=policy_for)
    say("gradient boosting", 0.35)
    hgb, logit = _pipelines(seed)
    A = Xtr.to_numpy(dtype=np.float64, copy=True)
    A[:, np.isnan(A).all(axis=0)] = 0.0  # e.g. no year-ago income in a short panel: a constant the trees ignore
    hgb.fit(A, ytr)
    say("logistic baseline", 0.6)
    logit.fit(A, ytr)
    say("evaluating", 0.7)
    model = RiskModel(hgb, logit, {})
    p_model = model.probability(Xev)
    p_logit = logit.predict_proba(Xev.to_numpy(dtype=np.float64))[:, 1]
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
    say("feature importance", 0.8)
    rng = np.random.default_rng(seed)
    take = rng.choice(len(yev), size=min(importance_rows, len(yev)), replace=False)
    if yev[take].any() and not yev[take].all():
        pi = permutation_importance(hgb, Xev.to_numpy(dtype=np.float64)[take], yev[take], scoring="roc_auc", n_repeats=3, random_state=seed, n_jobs=1)
        importance = pd.DataFrame({"feature": FEATURES, "importance": pi.importances_mean, "std": pi.importances_std})
    else:
        importance = pd.DataFrame({"feature": FEATURES, "importance": 0.0, "std": 0.0})
    importance["risk_type"] = importance["feature"].map(FEATURE_RISK)
    importance = importance.sort_values("importance", ascending=False, ignore_index=True)
    model.meta = {
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
    model.evaluation = evaluation
    model.importance = importance
    say("done", 1.0)
    return model


# --------------------------------------------------------------------------- persistence
def model_dir() -> Path:
    """``FANPIN_MODEL_DIR`` or data/models (git-ignored with the rest of data/)."""
    return Path(os.environ.get("FANPIN_MODEL_DIR") or PROJECT_ROOT / "data" / "models")


def save_model(model: RiskModel, directory: Path | str | None = None) -> Path:
    """Write the model and a readable copy of its metadata next to it."""
    import joblib

    d = Path(directory) if directory else model_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / MODEL_FILE
    tmp = path.with_suffix(".tmp")
    joblib.dump({"meta": model.meta, "hgb": model.hgb, "logit": model.logit, "evaluation": model.evaluation, "importance": model.importance}, tmp)
    tmp.replace(path)
    (d / "risk_model.json").write_text(json.dumps(model.meta, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return path


def load_model(engine: Engine | None = None, directory: Path | str | None = None) -> RiskModel:
    """Reload the saved model; refuse one built for another schema or feature list, or (given the
    engine) trained on another database: its probabilities would describe other households."""
    import joblib

    path = (Path(directory) if directory else model_dir()) / MODEL_FILE
    if not path.exists():
        raise ModelError(f"no trained model at {path}: train one on the model page or with `fanpin train`")
    blob = joblib.load(path)
    meta = blob["meta"]
    if list(meta.get("features", [])) != list(FEATURES):
        raise ModelError("the saved model was trained on a different feature list than this version of fanpin computes; retrain it")
    head = store.head_revision()
    if meta.get("schema_head") != head:
        raise ModelError(f"the saved model was trained on database schema {meta.get('schema_head')!r}, this version expects {head!r}; retrain it")
    if engine is not None and meta.get("database_id") != store.database_id(engine):
        raise ModelError(
            f"the saved model was trained on another database ({meta.get('database', '?')}), not this one; retrain it here "
            "(the model page or `fanpin train`)"
        )
    return RiskModel(blob["hgb"], blob["logit"], meta, blob.get("evaluation", pd.DataFrame()), blob.get("importance", pd.DataFrame()))


def is_stale(model: RiskModel, engine: Engine) -> bool:
    """Whether the data changed since training (the model still loads; the page says so)."""
    return model.meta.get("data_version") != store.data_version(engine)


# --------------------------------------------------------------------------- scoring and the human in the loop
def score_month(model: RiskModel, data: PanelData, period: int, top: int = 3) -> pd.DataFrame:
    """Every household's probability and main factors for ``period`` (features read months <= period)."""
    X = features_for(data, period)
    out = model.main_factors(X, top)
    out.insert(0, "probability", model.probability(X))
    out.insert(1, "below_line_now", X["inc_ratio"].to_numpy() < 1.0)
    return out


def months_needed(period: int) -> list[int]:
    """The panel months ``features_for(period)`` reads."""
    return [store.shift_period(period, -k) for k in range(HISTORY, -1, -1)]


def score_period(model: RiskModel, engine: Engine, period: int) -> pd.DataFrame:
    """Load only the months the features need, then score."""
    have = set(store.periods(engine))
    return score_month(model, load_panel(engine, [p for p in months_needed(period) if p in have]), period)


def monitored_households(engine: Engine) -> set[str]:
    """Households whose latest monitoring record says monitored."""
    with engine.connect() as conn:
        rows = conn.execute(select(monitoring.c.household_id, monitoring.c.status, monitoring.c.record_id).order_by(monitoring.c.record_id)).all()
    last: dict[str, str] = {}
    for hid, status, _ in rows:
        last[hid] = status
    return {h for h, s in last.items() if s == "monitored"}


def sent_households(engine: Engine) -> set[str]:
    """Households with a model clue still waiting in the inbox (not sent twice)."""
    with engine.connect() as conn:
        rows = conn.execute(select(clues.c.household_id).where(and_(clues.c.source == "model", clues.c.status == "new"))).all()
    return {r[0] for r in rows}


def candidates(scores: pd.DataFrame, monitored: set[str], threshold: float = 0.5, limit: int = 200) -> pd.DataFrame:
    """High-probability households above the line now and not under monitoring, highest first."""
    keep = (scores["probability"] >= threshold) & ~scores["below_line_now"] & ~scores.index.isin(list(monitored))
    return scores[keep].sort_values("probability", ascending=False).head(limit)


def send_to_clues(engine: Engine, picked: pd.DataFrame, period: int, actor: str, horizon: int, *, principal=None) -> int:  # noqa: ANN001 - Principal
    """A person sends the picked households to the clue inbox: one clue each plus one audit row.

    ``picked``: index household_id, columns probability, risk_type, factor_1..
    With a ``principal``: refused (``AccessDenied``) unless the role may send model
    results to clues and, for a scoped principal, every household is in their townships.
    """
    if principal is not None:
        from fanpin.access import require, require_household

        require(principal, "model_to_clues")
        if principal.townships is not None:
            for hid in picked.index:  # a short hand-picked list
                require_household(principal, engine, str(hid))
    if picked.empty:
        return 0
    now = datetime.now()
    rows = []
    for hid, r in picked.iterrows():
        factors = ", ".join(str(r[c]) for c in ("factor_1", "factor_2", "factor_3") if c in r and r[c])
        rows.append(
            {
                "household_id": str(hid),
                "period": int(period),
                "channel": "department",
                "source": "model",
                "risk_type": str(r.get("risk_type") or "other"),
                "detail": f"模型预测{horizon}个月内跌破监测线概率 {r['probability']:.0%}（{factors}） / model: probability {r['probability']:.0%} of falling below the line within {horizon} months ({factors})",
                "received_at": now,
                "status": "new",
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(clues), rows)
        record(conn, actor, "model_to_clues", f"{len(rows)} households", {"period": int(period), "households": [r["household_id"] for r in rows]}, at=now)
    return len(rows)
