"""The risk model for a province: fanpin's features per county-month, XGBoost trained on Dask.

Features and labels are the county model's (``fanpin.model.features``: month t reads months
<= t only; label = falling below the line within ``horizon`` months), computed by one task
per county-month over the analytic store.  Training uses XGBoost's own Dask interface
(``xgboost.dask.train`` on a ``DaskDMatrix`` built with ``dd.from_map`` from those tasks):
each worker trains on the partitions it holds and the histograms are all-reduced, so no
machine holds the training set.  Scoring is again one task per county-month with the
trained booster, returning township sums (expected number falling below the line, the
households over a threshold) and score histograms of the held-out months, from which the
ROC AUC is computed without gathering anyone's score.

Limits: the store carries no events or clues yet, so the activity features are zero here;
training months and a deterministic share of households bound the training set
(``fraction``), since 5M households x 20 months x 49 features would be 20 GB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fanpin.model.features import FEATURES, HISTORY, LINE_AHEAD, PanelData, features_for, labels_for, split_months
from fanpin.store import io as sio
from fanpin.store.snapshot import SnapshotStore

BINS = 1000
PARAMS = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.1, "nthread": 1, "eval_metric": "auc"}
_EMPTY_EVENTS = pd.DataFrame({"household_id": pd.Series([], dtype=object), "period": pd.Series([], dtype=np.int64), "event_type": pd.Series([], dtype=object)})
_EMPTY_CLUES = pd.DataFrame({"household_id": pd.Series([], dtype=object), "period": pd.Series([], dtype=np.int64)})


#: What the features read of the months before t (and the label of the months after): the rest of
#: a month's columns is read for month t only, which keeps a task's memory to about a fifth.
OTHER_MONTH_COLUMNS = ("household_id", "income_pc", "income_wage", "income_business", "medical_oop", "months_worked")


def _panel(store: SnapshotStore, county: str, t: int, horizon: int, lines: dict[int, float], periods: Sequence[int]) -> PanelData:
    """The county's months t-HISTORY..t+horizon that exist, as the county model's PanelData.

    Income lines as ``load_panel`` gives them: every month of the store by the stored yearly
    lines, and the months after the store's last whose year's line is stored (announced)."""
    have = set(periods)
    months = [sio.shift_period(t, k) for k in range(-HISTORY, horizon + 1)]
    snaps = {p: store.read_month(p, county, None if p == t else OTHER_MONTH_COLUMNS) for p in months if p in have}
    return PanelData(snaps, _EMPTY_EVENTS, _EMPTY_CLUES, _lines(lines, t, periods))


def _lines(lines: dict[int, float], t: int, periods: Sequence[int]) -> dict[int, float]:
    """period -> line for months t-HISTORY..t+LINE_AHEAD: stored months, and announced ones after the store."""
    from fanpin.engine.income_line import IncomeLine

    stored = IncomeLine.stored(lines)
    last, years = max(periods), {int(y) for y in lines}
    out = {}
    for k in range(-HISTORY, LINE_AHEAD + 1):
        p = sio.shift_period(t, k)
        if (p <= last or p // 100 in years) and stored.stored_at(p) is not None:
            out[p] = float(stored.stored_at(p))
    return out


def _sample(ids: pd.Index, fraction: float) -> np.ndarray:
    """A deterministic share of households (by a hash of the ID: the same ones every month)."""
    if fraction >= 1.0:
        return np.ones(len(ids), dtype=bool)
    h = pd.util.hash_pandas_object(pd.Series(ids.astype(str)), index=False).to_numpy()
    return (h % 10_000) < int(fraction * 10_000)


def training_task(root: str, county: str, t: int, horizon: int, lines: dict[int, float], fraction: float, periods: Sequence[int]) -> pd.DataFrame:
    """One county-month's training rows: the features (float32) and the label, in-population only."""
    data = _panel(SnapshotStore(root), county, t, horizon, lines, periods)
    X = features_for(data, t, horizon)
    y, pop = labels_for(data, t, horizon)
    keep = pop & _sample(X.index, fraction)
    out = X[keep].astype(np.float32).reset_index(drop=True)
    out["label"] = y[keep].astype(np.float32)
    return out


def training_meta() -> pd.DataFrame:
    return pd.DataFrame({**{f: pd.Series([], dtype=np.float32) for f in FEATURES}, "label": pd.Series([], dtype=np.float32)})


@dataclass
class ModelFigures:
    """One county-month scored by the model: township sums and, with labels, score histograms."""

    period: int
    county: str
    townships: np.ndarray
    households: np.ndarray
    expected: np.ndarray  # sum of probabilities per township
    flagged: np.ndarray  # households at or over the threshold
    hist_pos: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))
    hist_neg: np.ndarray = field(default_factory=lambda: np.zeros(BINS, dtype=np.int64))


def county_scores(root: str, county: str, t: int, horizon: int, lines: dict[int, float], periods: Sequence[int], booster: object,
                  labelled: bool = False) -> pd.DataFrame:
    """One county-month's households scored by the booster: household_id, township_code, probability
    (and, when ``labelled``, label and in_population).  A county's rows, for drill-down and checks."""
    data = _panel(SnapshotStore(root), county, t, horizon if labelled else 0, lines, periods)
    X = features_for(data, t, horizon)
    p = booster.inplace_predict(X.to_numpy(dtype=np.float32))  # type: ignore[attr-defined]
    frame = data.snapshots[t]
    out = pd.DataFrame({"household_id": frame["household_id"].to_numpy(dtype=object),
                        "township_code": frame["township_code"].to_numpy(dtype=object), "probability": p.astype(np.float64)})
    if labelled:
        y, pop = labels_for(data, t, horizon)
        out["label"], out["in_population"] = y, pop
    return out


def scoring_task(root: str, county: str, t: int, horizon: int, lines: dict[int, float], periods: Sequence[int], booster: object,
                 threshold: float, labelled: bool) -> ModelFigures:
    """Score one county-month with the trained booster: township sums, and the held-out histograms
    (in-population households only, as in training) when the labels exist."""
    s = county_scores(root, county, t, horizon, lines, periods, booster, labelled)
    p = s["probability"].to_numpy()
    codes, idx = np.unique(s["township_code"].to_numpy(dtype=str), return_inverse=True)
    T = len(codes)
    fig = ModelFigures(t, county, codes, np.bincount(idx, minlength=T), np.bincount(idx, weights=p, minlength=T),
                       np.bincount(idx, weights=p >= threshold, minlength=T).astype(np.int64))
    if labelled:
        y, pop = s["label"].to_numpy(), s["in_population"].to_numpy()
        b = histogram_bins(p)
        fig.hist_pos = np.bincount(b[pop & y], minlength=BINS)
        fig.hist_neg = np.bincount(b[pop & ~y], minlength=BINS)
    return fig


def histogram_bins(p: np.ndarray) -> np.ndarray:
    """The bin of each probability: BINS equal bins over [0, 1]."""
    return np.clip((np.asarray(p, dtype=np.float64) * BINS).astype(np.intp), 0, BINS - 1)


def auc_from_histograms(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC from binned scores (ties within a bin count half): exact up to the bin width."""
    if pos.sum() == 0 or neg.sum() == 0:
        return float("nan")
    neg_below = np.cumsum(neg) - neg
    return float(((pos * neg_below).sum() + 0.5 * (pos * neg).sum()) / (pos.sum() * neg.sum()))


@dataclass
class ProvinceModel:
    """A booster trained over a province, with its months and held-out AUC."""

    booster: object
    horizon: int
    train_months: list[int]
    eval_months: list[int]
    rows: int
    auc: float = float("nan")


def _months(store: SnapshotStore, horizon: int, train_months: int | None) -> tuple[list[int], list[int]]:
    train, ev = split_months(store.manifest().periods, horizon)
    return (train[-train_months:] if train_months else train), ev


def train_province(store: SnapshotStore, client: object | None = None, *, horizon: int = 6, rounds: int = 60,
                   train_months: int | None = 3, fraction: float = 1.0, evaluate: bool = True) -> ProvinceModel:
    """Train on the province's county-months (XGBoost on Dask with a client, else in this process);
    ``evaluate``: also the held-out AUC (``evaluate_province``)."""
    import xgboost as xgb

    man = store.manifest()
    train, ev = _months(store, horizon, train_months)
    pairs = [(c, t) for t in train for c in man.counties]
    root, lines, periods = str(store.root), dict(man.income_lines), man.periods
    if client is None:
        frame = pd.concat([training_task(root, c, t, horizon, lines, fraction, periods) for c, t in pairs], ignore_index=True)
        booster = xgb.train(PARAMS, xgb.DMatrix(frame[list(FEATURES)], label=frame["label"]), rounds)
        rows = len(frame)
    else:
        import dask.dataframe as dd
        import xgboost.dask as dxgb

        ddf = dd.from_map(training_task, [root] * len(pairs), [c for c, _ in pairs], [t for _, t in pairs],
                          horizon=horizon, lines=lines, fraction=fraction, periods=periods, meta=training_meta())
        ddf = ddf.persist()  # type: ignore[attr-defined]
        dtrain = dxgb.DaskDMatrix(client, ddf[list(FEATURES)], ddf["label"])
        booster = dxgb.train(client, PARAMS, dtrain, num_boost_round=rounds)["booster"]
        rows = int(ddf.shape[0].compute())  # type: ignore[attr-defined]
        del ddf, dtrain
    model = ProvinceModel(booster, horizon, train, ev, rows)
    if evaluate:
        model.auc = evaluate_province(store, model, client)
    return model


def _run(client: object | None, fn: object, args: Sequence[tuple]) -> list:
    if client is None:
        return [fn(*a) for a in args]  # type: ignore[operator]
    from distributed import as_completed

    futures = [client.submit(fn, *a, pure=False) for a in args]  # type: ignore[attr-defined]
    return [f.result() for f in as_completed(futures)]


def evaluate_province(store: SnapshotStore, model: ProvinceModel, client: object | None = None) -> float:
    """Held-out ROC AUC from per-task histograms (no score leaves its task)."""
    man = store.manifest()
    booster = client.scatter(model.booster, broadcast=True, hash=False) if client is not None else model.booster  # type: ignore[attr-defined]
    args = [(str(store.root), c, t, model.horizon, dict(man.income_lines), man.periods, booster, 0.5, True) for t in model.eval_months for c in man.counties]
    figs = _run(client, scoring_task, args)
    return auc_from_histograms(np.sum([f.hist_pos for f in figs], axis=0), np.sum([f.hist_neg for f in figs], axis=0))


def score_province(store: SnapshotStore, model: ProvinceModel, period: int, client: object | None = None, threshold: float = 0.5) -> pd.DataFrame:
    """Township sums of the model's scores for one month: households, expected to fall below, flagged."""
    man = store.manifest()
    if period not in man.periods:
        raise KeyError(f"no month {period} in the analytic store")
    booster = client.scatter(model.booster, broadcast=True, hash=False) if client is not None else model.booster  # type: ignore[attr-defined]
    args = [(str(store.root), c, period, model.horizon, dict(man.income_lines), man.periods, booster, threshold, False)
            for c in man.counties if (period, c) in man.partitions]
    figs = _run(client, scoring_task, args)
    rows = [pd.DataFrame({"county_code": f.county, "township_code": f.townships, "households": f.households,
                          "expected": f.expected, "flagged": f.flagged}) for f in figs]
    return pd.concat(rows, ignore_index=True).sort_values("township_code", ignore_index=True)
