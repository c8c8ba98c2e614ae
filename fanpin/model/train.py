"""The scikit-learn risk model: will a household fall below the income line within H months?

Why a model beside the rules: the weighted index and the income line look at one
month; the model also reads where income is heading (this month's change against a
year ago, what will leave the rolling 12-month window, the line announced ahead), the
household's structure and recent events and clues.  It only *suggests*: nothing here
creates a verification order, and sending its list to the clue inbox is a person's
act, recorded in the audit log.

Label: a household at or above the income line in month t is positive if its
per-capita income falls below the line (of that month) in any of months t+1..t+H.
Households already below the line at t are the rules' business and are left out.
Features for month t read only months <= t (tests perturb later months and check
nothing changes), and nothing the demo generator keeps hidden is used.  One caveat:
the household table (size, members' health, labour) keeps only the current state, not
its history; in the demo it does not change over the panel, but with real data a
backtest using it is slightly optimistic.

How it is checked (``fanpin.model.backtest``): the last label-complete months are cut
into windows (one holding a January line change and one a disaster month where the
panel has them); each window is scored by a model fitted only on the months whose
label was complete at its start, and the distinct fallers each method finds at a
monthly visit budget are counted against a perfect predictor's.  The saved model is
then fitted on every month whose label is complete.

The model is a blend (``LEARNER = "blend"``): the average of the log-odds of gradient boosting
with small trees and of the logistic baseline, both fitted on the same rows, so the blend costs
no fit beyond the two.  The two rank partly differently (the trees lead where few months are
fitted and at the top of the list, the logistic on some counties' later windows), and on the
held-out windows the average found about as many as the better of the two at 2% on every county
measured, and more than either at 1% (``bench/README.md``, issue 16).  Each learner is fitted on
all fallers and a fifth of the other households (weighted back).

``learner="auto"`` (kept for comparisons: ``bench/model_backtest.py --learners auto``) chooses
instead among ``CANDIDATES`` per county and per window by an inner validation: the candidates
fitted on the months whose label was complete at the start of each of the ``INNER_BLOCKS``
latest blocks of label-complete months before the window, and scored by the fallers each finds
there at the 2% budget; the one finding most is fitted for the window (ties to the first).  The
window's own months are never read to choose, and the saved model is chosen the same way on the
latest label-complete blocks of the panel.  The blend, the gradient boosting's settings and the
inner validation were set on the held-out windows of demo counties built from seeds 20231, 5
and 6 (and the blend also on the counties 101-606 whose earlier figures had been reported:
``bench/model_backtest.py``).  The logistic baseline is kept either way: it is a method of the
comparison and gives the additive reasons shown beside each suggestion.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.access.audit import record
from fanpin.access.roles import Principal, require
from fanpin.model import backtest as bt
from fanpin.model.evaluate import brier, calibration, ranking_metrics, rule_scores
from fanpin.model.features import (
    DEFAULT_HORIZON,
    FEATURE_RISK,
    FEATURES,
    ModelError,
    PanelData,
    Progress,
    features_for,
    labelled_months,
    labels_for,
    load_panel,
)

#: Chosen on the held-out windows of the tuning seeds (see the module docstring).
HGB_PARAMS: dict[str, object] = {"max_iter": 150, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 200, "l2_regularization": 1.0}
#: Share of non-fallers kept for fitting (each weighted 1/share): fallers are under 2% of
#: household-months, and the rest are mostly far from the line; a fifth of them fitted as well
#: and five times faster.  A small county keeps at least ``MIN_NEGATIVES`` of them.
NEGATIVE_SHARE = 0.2
MIN_NEGATIVES = 50_000
#: Window months with recorded flood or drought losses of at least this share of households.
DISASTER_SHARE = 0.005
DISASTER_EVENTS = ("flood", "drought")


# --------------------------------------------------------------------------- model
@dataclass
class RiskModel:
    """The fitted pair (the model for probabilities, ``hgb`` whatever it is: the blend by default;
    the logistic baseline for reasons) and its record."""

    hgb: object
    logit: object
    meta: dict
    evaluation: pd.DataFrame = field(default_factory=pd.DataFrame)  # held-out rows: window, month, y, one score column per method
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)
    backtest: pd.DataFrame = field(default_factory=pd.DataFrame)  # fanpin.model.backtest.table

    def probability(self, X: pd.DataFrame) -> np.ndarray:
        return proba(self.hgb, _matrix(X))

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


def proba(est: object, X: np.ndarray) -> np.ndarray:
    """P(falls) from a fitted learner: trees read the float32 they were fitted on, pipelines float64."""
    return est.predict_proba(X.astype(np.float64) if hasattr(est, "steps") else X)[:, 1]


def _matrix(X: pd.DataFrame) -> np.ndarray:
    """The feature columns as float32 (the learners are fitted on float32: the same values here)."""
    return X[list(FEATURES)].to_numpy(dtype=np.float32)


def _logistic(seed: int = 0):  # noqa: ANN202 - a scikit-learn Pipeline
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=1000, C=0.5))])


def _hgb(seed: int = 0, **params: object):  # noqa: ANN202
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(**{**HGB_PARAMS, **params}, random_state=seed)


class Blend:
    """Fitted learners combined by a weighted average of their log-odds (weights summing to 1);
    scikit-learn's scorers take it for a fitted classifier (permutation importance)."""

    _estimator_type = "classifier"

    def __init__(self, parts: Sequence[object], weights: Sequence[float]) -> None:
        self.parts, self.weights = list(parts), [float(w) for w in weights]
        self.classes_ = self.parts[0].classes_

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn.utils.Tags
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True), classifier_tags=ClassifierTags())

    def fit(self, X: np.ndarray, y: np.ndarray) -> Blend:
        """Nothing to fit: the parts are fitted (scikit-learn's permutation importance asks for ``fit``)."""
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return sum(w * log_odds(p, X) for p, w in zip(self.parts, self.weights, strict=True))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        from scipy.special import expit

        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def log_odds(est: object, X: np.ndarray) -> np.ndarray:
    """A fitted learner's log-odds of falling (the blend's, the trees', the logistic's)."""
    return est.decision_function(X.astype(np.float64) if hasattr(est, "steps") else X)


#: Where income is heading and how close it is: the terms the interaction model multiplies pairwise.
INTERACTING = ("inc_ratio", "line_ahead_ratio", "inc_d1", "inc_d2", "inc_leaving", "inc_proj", "inc_proj_trend", "trend_rule", "inc_chg_3m", "inc_vol_3m", "job_lost", "ev_job_loss_3m")


def _logistic_interactions(seed: int = 0):  # noqa: ANN202
    """Regularised logistic with every pairwise product (and square) of ``INTERACTING`` beside all features."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    pairs = ColumnTransformer([("pairs", PolynomialFeatures(2, include_bias=False), [FEATURES.index(f) for f in INTERACTING])], remainder="passthrough")
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()), ("pairs", pairs), ("scale2", StandardScaler()), ("lr", LogisticRegression(max_iter=2000, C=0.1))])


#: Learners by name (``bench/model_backtest.py --learners`` fits one for every window instead of the default).
LEARNERS: dict[str, Callable[[int], object]] = {
    "hgb": _hgb,
    "logistic": _logistic,
    "hgb_large": lambda seed: _hgb(seed, max_leaf_nodes=31, min_samples_leaf=100),
    "logistic_interactions": _logistic_interactions,
}
#: Blends by name: (learner, weight of its log-odds), fitted on the same rows, no fit of their own.
BLENDS: dict[str, tuple[tuple[str, float], ...]] = {"blend": (("hgb", 0.5), ("logistic", 0.5))}
#: What ``learner="auto"`` chooses between (ties to the first) by the inner validation.
CANDIDATES: tuple[str, ...] = ("hgb", "logistic")
AUTO = "auto"
#: The model ``train`` fits (``fanpin train``, the model page): the blend of the trees and the logistic.
LEARNER = "blend"
#: The inner validation: blocks of the window's length, the latest label-complete ones before it,
#: each scored by the candidates fitted on the months whose label was complete at its start (at
#: least ``INNER_MIN_TRAIN`` of them; without any such block the first candidate is taken).
INNER_BLOCKS = 2
INNER_MIN_TRAIN = 2
CHOICE_BUDGET = 0.02


# --------------------------------------------------------------------------- the panel's rows, computed once
@dataclass
class Months:
    """Every labelled month's features (float32, FEATURES order), label and population, computed once
    and shared by the backtest's fits and the final one."""

    X: dict[int, np.ndarray]
    y: dict[int, np.ndarray]
    pop: dict[int, np.ndarray]
    ids: dict[int, pd.Index]

    @classmethod
    def of(cls, data: PanelData, months: Sequence[int], horizon: int, progress: Callable[[float], None] | None = None) -> Months:
        out = cls({}, {}, {}, {})
        for i, t in enumerate(months):
            f = features_for(data, t, horizon)
            out.X[t], out.ids[t] = _matrix(f), f.index
            out.y[t], out.pop[t] = labels_for(data, t, horizon)
            if progress:
                progress((i + 1) / len(months))
        return out

    def rows(self, months: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The in-population rows of ``months`` stacked: (X, y)."""
        return np.vstack([self.X[t][self.pop[t]] for t in months]), np.concatenate([self.y[t][self.pop[t]] for t in months])


def _fit_weighted(est: object, A: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        est.fit(A.astype(np.float64), y, **{f"{est.steps[-1][0]}__sample_weight": w})
    else:
        est.fit(A, y, sample_weight=w)


def fit_learners(A: np.ndarray, y: np.ndarray, seed: int = 0, learners: Sequence[str] = ("hgb",)) -> dict[str, object]:
    """Each of ``learners`` and the logistic baseline (key ``logistic``, fitted once) on every
    faller and ``NEGATIVE_SHARE`` of the rest (weighted back), the same rows for all; a blend
    (``BLENDS``) from its parts, each fitted once and kept under its own name too.  Columns
    that are all missing become 0 (e.g. no year-ago income in a short panel: a constant the
    trees ignore)."""
    if y.all() or not y.any():
        raise ModelError("the training months hold only one class: nothing to learn", "one_class")
    share = min(1.0, max(NEGATIVE_SHARE, MIN_NEGATIVES / max(1, int((~y).sum()))))
    keep = y | (np.random.default_rng(seed).random(len(y)) < share)
    A, y = A[keep], y[keep]
    A[:, np.isnan(A).all(axis=0)] = 0.0
    w = np.where(y, 1.0, 1.0 / share)
    out: dict[str, object] = {}
    parts = [p for name in learners for p, _ in BLENDS.get(name, ((name, 1.0),))]
    for name in dict.fromkeys(["logistic", *parts]):
        out[name] = LEARNERS[name](seed)
        _fit_weighted(out[name], A, y, w)
    for name in learners:
        if name in BLENDS:
            out[name] = Blend([out[p] for p, _ in BLENDS[name]], [wt for _, wt in BLENDS[name]])
    return out


def fit(A: np.ndarray, y: np.ndarray, seed: int = 0, learner: str = "hgb") -> tuple[object, object]:
    """(the learner, the logistic baseline) fitted as ``fit_learners`` fits them."""
    f = fit_learners(A, y, seed, (learner,))
    return f[learner], f["logistic"]


def inner_blocks(train_months: Sequence[int], labelled: Sequence[int], horizon: int, length: int,
                 count: int = INNER_BLOCKS, min_train: int = INNER_MIN_TRAIN) -> list[tuple[int, ...]]:
    """The blocks the learner is chosen on: up to ``count`` runs of ``length`` months tiled back from
    the latest of ``train_months`` (whose labels are complete), each with at least ``min_train``
    months whose label was complete at its start; latest first."""
    out = []
    tm = sorted(train_months)
    for end in range(len(tm), length - 1, -length):
        block = tuple(tm[end - length : end])
        if len(out) == count or len(bt.training_months(labelled, block[0], horizon)) < min_train:
            break
        out.append(block)
    return out


class _Fits:
    """Every fit made while training, by the month it is made for (its training months: those
    whose label was complete at that month), so the windows and the inner validation share them."""

    def __init__(self, rows: Months, labelled: Sequence[int], horizon: int, seed: int, learners: Sequence[str]) -> None:
        self.rows, self.lab, self.horizon, self.seed, self.learners = rows, list(labelled), horizon, seed, tuple(learners)
        self.by_start: dict[int, dict[str, object]] = {}

    def at(self, start: int) -> dict[str, object]:
        if start not in self.by_start:
            A, y = self.rows.rows(bt.training_months(self.lab, start, self.horizon))
            self.by_start[start] = fit_learners(A, y, self.seed, self.learners)
        return self.by_start[start]

    def choose(self, blocks: Sequence[tuple[int, ...]], data: PanelData) -> tuple[str, dict[str, int]]:
        """The candidate finding most fallers at ``CHOICE_BUDGET`` over ``blocks`` (ties to the first),
        and every candidate's finds; the first candidate when there is no block."""
        finds = dict.fromkeys(self.learners, 0)
        for block in blocks:
            models = self.at(block[0])
            y = np.array([self.rows.y[t] & self.rows.pop[t] for t in block])
            not_below = np.array([self.rows.pop[t] for t in block])
            eligible = np.array([self.rows.pop[t] & ~data.monitored_at(t) for t in block])
            tie = np.array([-self.rows.X[t][:, FEATURES.index("inc_ratio")].astype(np.float64) for t in block])
            for name in self.learners:
                score = np.array([proba(models[name], self.rows.X[t]) for t in block])
                finds[name] += int(bt.found_by(score, eligible, y, not_below, CHOICE_BUDGET, tie).sum())
        best = max(self.learners, key=lambda n: (finds[n], -self.learners.index(n))) if blocks else self.learners[0]
        return best, finds


# --------------------------------------------------------------------------- windows
def disaster_months(data: PanelData, share: float = DISASTER_SHARE) -> set[int]:
    """Months in which flood or drought losses were recorded for at least ``share`` of households."""
    ev = data.events
    if ev.empty:
        return set()
    n = max(len(f) for f in data.snapshots.values())
    hit = ev[ev["event_type"].isin(DISASTER_EVENTS)].groupby("period")["household_id"].nunique()
    return {int(p) for p, c in hit.items() if c >= share * n}


def _window_data(w: bt.Window, rows: Months, data: PanelData, models: tuple[object, object], policy_for: Callable[[int], object]) -> tuple[bt.WindowData, pd.DataFrame]:
    """One window scored by its own fit and the rules; and its held-out rows (eligible households)."""
    hgb, logit = models
    ids = rows.ids[w.start]
    ys, nb, el = [], [], []
    scores: dict[str, list] = {m: [] for m in bt.METHODS}
    frames = []
    for t in w.months:
        if not rows.ids[t].equals(ids):
            raise ModelError(f"the households of {t} differ from those of {w.start}: a window needs the same households every month", "households_differ", month=t, start=w.start)
        X = rows.X[t]
        y, pop = rows.y[t], rows.pop[t]
        elig = pop & ~data.monitored_at(t)
        s = {
            "model": proba(hgb, X),
            "logistic": proba(logit, X),
            "trend_rule": -X[:, FEATURES.index("trend_rule")].astype(np.float64),
            "index_tiers": rule_scores(policy_for, data.snapshots[t], data.lines[t])["index_tiers"],
            "income_line": -X[:, FEATURES.index("inc_ratio")].astype(np.float64),
        }
        ys.append(y & pop)
        nb.append(pop)
        el.append(elig)
        for m in bt.METHODS:
            scores[m].append(s[m])
        frames.append(pd.DataFrame({"window": w.name, "month": t, "y": y[elig], **{m: s[m][elig] for m in bt.METHODS}}))
    d = bt.WindowData(w, np.asarray(ids, dtype=str), np.array(ys), np.array(nb), np.array(el), {m: np.array(v) for m, v in scores.items()})
    return d, pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- importance
def _importance(hgb: object, X: np.ndarray, y: np.ndarray, seed: int, rows: int = 4000, repeats: int = 3) -> pd.DataFrame:
    """Permutation importance (drop in ROC AUC) on held-out rows, largest first.

    Cheap: every faller plus non-fallers up to ``rows`` in all (ROC AUC does not depend on the
    share of fallers, so the enriched sample estimates the same drop), a few repeats, one thread."""
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    take = np.concatenate([pos[: rows // 2] if len(pos) > rows // 2 else pos, rng.choice(neg, size=min(len(neg), rows - min(len(pos), rows // 2)), replace=False)])
    if y[take].any() and not y[take].all():
        pi = permutation_importance(hgb, X[take], y[take], scoring="roc_auc", n_repeats=repeats, random_state=seed, n_jobs=1)
        importance = pd.DataFrame({"feature": FEATURES, "importance": pi.importances_mean, "std": pi.importances_std})
    else:
        importance = pd.DataFrame({"feature": FEATURES, "importance": 0.0, "std": 0.0})
    importance["risk_type"] = importance["feature"].map(FEATURE_RISK)
    return importance.sort_values("importance", ascending=False, ignore_index=True)


# --------------------------------------------------------------------------- record
def _metrics(evaluation: pd.DataFrame) -> dict[str, dict]:
    """Ranking metrics of every method on the held-out rows (household-months); Brier for the two
    methods that give a probability."""
    y = evaluation["y"].to_numpy()
    out = {m: ranking_metrics(y, evaluation[m].to_numpy()) for m in bt.METHODS}
    for m in ("model", "logistic"):
        out[m]["brier"] = brier(y, evaluation[m].to_numpy())
    return out


def _versions() -> dict[str, str]:
    import sklearn

    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__}


def _baseline_per_month(engine: Engine) -> Callable[[int], object]:
    """The baseline policy of a month, looked up once per month (the index-tier rule's policy)."""
    from fanpin.engine.policies import baseline_policy

    policies: dict[int, object] = {}

    def policy_for(p: int):  # noqa: ANN202 - a RiskPolicy
        if p not in policies:
            policies[p] = baseline_policy(engine, p)
        return policies[p]

    return policy_for


@dataclass
class _Clock:
    """Seconds per step, for the record and ``bench/``."""

    seconds: dict[str, float] = field(default_factory=dict)
    _t: float = field(default_factory=time.perf_counter)

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(self.seconds.get(step, 0.0) + now - self._t, 2)
        self._t = now


def train(
    engine: Engine,
    horizon: int = DEFAULT_HORIZON,
    *,
    principal: Principal,
    eval_months: int | None = None,
    windows: int = 4,
    budgets: Sequence[float] = bt.BUDGETS,
    draws: int = bt.DRAWS,
    progress: Progress | None = None,
    data: PanelData | None = None,
    seed: int = 0,
    threads: int = 1,
    importance_rows: int = 4000,
    learner: str = LEARNER,
) -> RiskModel:
    """Backtest on held-out windows against the rules and the ceiling, then fit on every month
    whose label is complete.

    ``eval_months``: months per window (default 3); ``windows``: how many (tiled back from the
    latest label-complete month).  OpenMP and BLAS run on ``threads`` threads (threadpoolctl):
    the server keeps a core for its users while a model trains.  Refused (``AccessDenied``)
    unless the principal may train the model (it reads every household's history); a finished
    training writes a ``model_trained`` audit row as the principal.  Steps
    report to ``progress(message, fraction)`` (the page's bar, the CLI's line).  ``learner``:
    a name of ``BLENDS`` or ``LEARNERS`` fits that one for every window and the saved model (default
    the blend); ``auto`` chooses among ``CANDIDATES`` for each window and for the saved model (the
    inner validation above).
    """
    # load scikit-learn's OpenMP runtime before limiting: threadpoolctl limits only what is loaded
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    require(principal, "model_train")
    say = progress or (lambda m, f: None)
    clock = _Clock()
    say("loading", 0.0)
    data = data or load_panel(engine)
    lab = labelled_months(data.periods, horizon)
    if len(lab) < 2:
        raise ModelError(f"the panel is too short for a {horizon}-month horizon ({len(data.periods)} months)", "too_short", horizon=horizon, months=len(data.periods))
    chosen = bt.choose_windows(lab, horizon, line_changes=bt.line_change_months(data.lines), disasters=disaster_months(data), length=int(eval_months or 3), count=windows)
    if not chosen:
        raise ModelError(f"the panel is too short for a backtest: no {eval_months or 3}-month window has 3 months of complete labels before it", "no_window", horizon=horizon, months=len(data.periods), window=eval_months or 3)
    clock.lap("loading")
    say("features", 0.05)
    rows = Months.of(data, lab, horizon, lambda f: say("features", 0.05 + 0.2 * f))
    clock.lap("features")
    policy_for = _baseline_per_month(engine)
    held: list[bt.WindowData] = []
    frames: list[pd.DataFrame] = []
    length = int(eval_months or 3)
    fits = _Fits(rows, lab, horizon, seed, CANDIDATES if learner == AUTO else (learner,))
    choices: list[dict] = []

    def choose(train_months: Sequence[int]) -> str:
        blocks = inner_blocks(train_months, lab, horizon, length) if len(fits.learners) > 1 else []
        name, finds = fits.choose(blocks, data)
        choices.append({"learner": name, "finds": finds, "blocks": [[int(t) for t in b] for b in blocks]})
        return name

    with threadpool_limits(limits=threads):
        for i, w in enumerate(chosen):
            say(f"window {w.name}", 0.25 + 0.5 * i / len(chosen))
            name = choose(bt.training_months(lab, w.start, horizon))
            models = fits.at(w.start)
            d, f = _window_data(w, rows, data, (models[name], models["logistic"]), policy_for)
            held.append(d)
            frames.append(f)
            if w is chosen[-1]:
                latest = models[name]
        clock.lap("windows")
        say("final model", 0.75)
        final = choose(lab)
        A, y = rows.rows(lab)
        hgb, logit = fit(A, y, seed=seed, learner=final)
        n_train, rate_train = len(y), float(y.mean())
        del A
        fits.by_start.clear()
        clock.lap("final model")
        say("backtest table", 0.85)
        table = bt.table(held, budgets, draws=draws, seed=seed)
        clock.lap("backtest table")
        say("feature importance", 0.92)
        evaluation = pd.concat(frames, ignore_index=True)
        last = chosen[-1]
        X_last = np.vstack([rows.X[t][held[-1].eligible[j]] for j, t in enumerate(last.months)])
        importance = _importance(latest, X_last, evaluation.loc[evaluation["window"] == last.name, "y"].to_numpy(), seed, importance_rows)
        clock.lap("importance")
    model = RiskModel(hgb, logit, {}, evaluation, importance, table)
    model.meta = _meta(engine, horizon, lab, chosen, evaluation, table, clock, threads)
    parts = dict(BLENDS.get(final, ((final, 1.0),)))
    model.meta["learner"] = {
        "name": final, "kind": type(hgb).__name__, "log_odds_weights": parts, **(HGB_PARAMS if "hgb" in parts else {}), "negative_share": NEGATIVE_SHARE,
        "candidates": list(fits.learners),
        "chosen_by": f"finds at {CHOICE_BUDGET:.0%} on up to {INNER_BLOCKS} label-complete blocks of {length} months before" if len(fits.learners) > 1 else "fixed",
        "choice": choices[-1],
    }
    for wm, c in zip(model.meta["windows"], choices, strict=False):
        wm["learner"] = c
    model.meta.update(rows_train=n_train, positive_rate_train=rate_train, draws=int(draws), budgets=[float(k) for k in budgets])
    # training reads every household's history: the act is in the audit log, as the one who trained
    record(engine, principal.actor, "model_trained", "risk_model", {
        "horizon": int(horizon), "months": [int(lab[0]), int(lab[-1])], "rows": int(n_train), "data_version": model.meta["data_version"],
    })
    say("done", 1.0)
    return model


def _meta(engine: Engine, horizon: int, lab: Sequence[int], chosen: Sequence[bt.Window], evaluation: pd.DataFrame, table: pd.DataFrame, clock: _Clock, threads: int) -> dict:
    """The model's record: what it was trained on, how it did, and the database it belongs to."""
    y = evaluation["y"].to_numpy()
    return {
        "trained_at": datetime.now().isoformat(timespec="seconds"),
        "horizon": int(horizon),
        "train_months": [int(m) for m in lab],
        "eval_months": sorted(int(t) for w in chosen for t in w.months),
        "windows": [
            {"name": w.name, "months": [int(t) for t in w.months], "tags": list(w.tags), "train_months": [int(t) for t in bt.training_months(lab, w.start, horizon)]}
            for w in chosen
        ],
        "features": list(FEATURES),
        "metrics": _metrics(evaluation),
        "verdict": bt.verdict(table) if np.isclose(table["budget"], 0.02).any() else {},
        "positive_rate_eval": float(y.mean()),
        "rows_eval": int(len(y)),
        "calibration": calibration(y, evaluation["model"].to_numpy()).to_dict(orient="list"),
        "seconds": clock.seconds,
        "threads": int(threads),
        "versions": _versions(),
        "data_version": store.data_version(engine),
        "database_id": store.database_id(engine),
        "schema_head": store.head_revision(),
        "database": engine.url.render_as_string(hide_password=True),
    }
