"""The province model: the county model's features per county-month over the analytic store,
XGBoost trained through ``xgboost.dask`` on a 2-worker LocalCluster, scored task by task.

A province of 3 counties x 2,000 households x 13 months (horizon 3: train on two months,
hold out the last two labelled ones).  The held-out AUC is computed from per-task score
histograms; sklearn's ``roc_auc_score`` on the same households' scores (gathered here for a
small province only) must agree within the histogram's resolution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.model.features import FEATURES, PanelData, features_for, labels_for
from fanpin.model.province import (
    BINS,
    _lines,
    _panel,
    auc_from_histograms,
    county_scores,
    histogram_bins,
    score_province,
    train_province,
    training_task,
)
from fanpin.store.snapshot import SnapshotStore

SPEC = ProvinceSpec(counties=3, households_per_county=2_000, months=13, townships=4, villages=12, duplicates=0, seed=5)
HORIZON = 3


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    store = SnapshotStore(tmp_path_factory.mktemp("model-province") / "store")
    build_province(store, SPEC)
    return store


@pytest.fixture(scope="module")
def client(dask_cluster):
    """A client of the session's 2-worker LocalCluster."""
    from distributed import Client

    with Client(dask_cluster.scheduler_address) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


@pytest.fixture(scope="module")
def model(province: SnapshotStore, client):
    return train_province(province, client, horizon=HORIZON, rounds=25)


def test_features_from_the_store_are_the_county_models(province: SnapshotStore) -> None:
    """A task reads month t whole and the other months' few columns: the features are those of full frames."""
    man = province.manifest()
    t, county = man.periods[-4], "990102"
    full = {p: province.read_month(p, county) for p in man.periods}
    lines = _lines(man.income_lines, t, man.periods)
    data = _panel(province, county, t, HORIZON, man.income_lines, man.periods)
    ref = PanelData(full, data.events, data.clues, lines)
    pd.testing.assert_frame_equal(features_for(data, t, HORIZON), features_for(ref, t, HORIZON))
    for got, want in zip(labels_for(data, t, HORIZON), labels_for(ref, t, HORIZON)):
        assert np.array_equal(got, want)
    # the months after the store's last carry the announced line of their year (as load_panel gives them)
    last = man.periods[-1]
    ahead = _lines(man.income_lines, last, man.periods)
    assert 202412 in ahead and 202501 not in ahead and ahead[202412] == man.income_lines[2024]
    rows = training_task(str(province.root), county, t, HORIZON, man.income_lines, 1.0, man.periods)
    assert list(rows.columns) == [*FEATURES, "label"] and (rows.dtypes == np.float32).all()
    assert len(rows) == int((full[t]["income_pc"] >= lines[t]).sum())


def test_trained_on_dask_it_learns_from_every_county_month(province: SnapshotStore, model) -> None:
    man = province.manifest()
    assert model.horizon == HORIZON and len(model.train_months) == 2 and len(model.eval_months) == 2
    expected = sum(len(training_task(str(province.root), c, t, HORIZON, man.income_lines, 1.0, man.periods))
                   for t in model.train_months for c in man.counties)
    assert model.rows == expected
    assert 0.6 < model.auc <= 1.0
    local = train_province(province, None, horizon=HORIZON, rounds=25)
    assert local.rows == model.rows and 0.6 < local.auc <= 1.0


def test_the_auc_from_histograms_is_sklearns_within_the_bins(province: SnapshotStore, model) -> None:
    man = province.manifest()
    scores = pd.concat([county_scores(str(province.root), c, t, HORIZON, man.income_lines, man.periods, model.booster, labelled=True)
                        for t in model.eval_months for c in man.counties], ignore_index=True)
    s = scores[scores["in_population"]]
    y, p = s["label"].to_numpy(), s["probability"].to_numpy()
    assert 0 < y.sum() < len(y)
    exact = roc_auc_score(y, p)
    b = histogram_bins(p)
    pos, neg = np.bincount(b[y], minlength=BINS), np.bincount(b[~y], minlength=BINS)
    assert auc_from_histograms(pos, neg) == pytest.approx(model.auc, abs=1e-12)  # the tasks' histograms are these
    resolution = 0.5 * float((pos * neg).sum()) / (pos.sum() * neg.sum())  # pairs tied within a bin count half
    assert abs(model.auc - exact) <= resolution + 1e-12
    assert resolution < 0.01


def test_auc_from_histograms_on_continuous_scores() -> None:
    rng = np.random.default_rng(1)
    y = rng.random(50_000) < 0.1
    p = 1 / (1 + np.exp(-(rng.normal(size=y.size) + 1.5 * y - 2)))
    b = histogram_bins(p)
    pos, neg = np.bincount(b[y], minlength=BINS), np.bincount(b[~y], minlength=BINS)
    bound = 0.5 * (pos * neg).sum() / (pos.sum() * neg.sum())
    assert abs(auc_from_histograms(pos, neg) - roc_auc_score(y, p)) <= bound
    assert np.isnan(auc_from_histograms(pos, np.zeros(BINS, dtype=np.int64)))


def test_scoring_task_by_task_returns_township_sums(province: SnapshotStore, model, client) -> None:
    man = province.manifest()
    period = man.periods[-1]
    got = score_province(province, model, period, client)
    assert list(got.columns) == ["county_code", "township_code", "households", "expected", "flagged"]
    assert got["township_code"].is_monotonic_increasing and got["households"].sum() == man.rows(period)
    for county in man.counties:
        s = county_scores(str(province.root), county, period, HORIZON, man.income_lines, man.periods, model.booster)
        want = s.groupby("township_code").agg(households=("probability", "size"), expected=("probability", "sum"),
                                              flagged=("probability", lambda v: int((v >= 0.5).sum())))
        mine = got[got["county_code"] == county].set_index("township_code")
        assert mine["households"].tolist() == want["households"].tolist()
        assert np.allclose(mine["expected"].to_numpy(), want["expected"].to_numpy(), rtol=1e-12)
        assert mine["flagged"].tolist() == want["flagged"].tolist()
    pd.testing.assert_frame_equal(score_province(province, model, period, None), got)
    with pytest.raises(KeyError):
        score_province(province, model, 203001, client)
