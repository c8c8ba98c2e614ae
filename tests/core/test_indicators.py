"""The indicator catalogue and the indicator matrix, checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanpin.core.indicators import (
    BY_KEY,
    CATALOGUE,
    DEPARTMENTS,
    DIMENSIONS,
    INCOME_KEY,
    KEYS,
    indicator_matrix,
)
from fanpin.store.io import HOUSEHOLD_COLUMNS
from fanpin.store.schema import PANEL_VALUE_COLUMNS

RISK_TYPES = {
    "illness",
    "disability",
    "schooling",
    "disaster",
    "accident",
    "industry_failure",
    "unstable_work",
    "lack_of_labour",
    "housing",
    "water",
    "other",
}
REQUIRED_DIMENSIONS = {"income", "employment", "health", "education", "housing", "water", "security", "disaster", "debt"}

#: A safe, ordinary household: no indicator is on the risky side of its default warning line
#: at an income line of 8,000 yuan (1.5x = 12,000).
BASE_ROW: dict[str, object] = {
    "household_id": "H000",
    "village_code": "990101001001",
    "township_code": "990101001000",
    "household_type": "ordinary",
    "size": 4.0,
    "no_labour_guarantee": False,
    "relocated": False,
    "n_labour": 2.0,
    "n_weak_labour": 0.0,
    "n_elderly": 0.0,
    "n_children": 2.0,
    "n_chronic": 0.0,
    "n_serious": 0.0,
    "n_disabled": 0.0,
    "n_students": 1.0,
    "n_uninsured": 0.0,
    "income_wage": 70_000.0,
    "income_business": 10_000.0,
    "income_property": 0.0,
    "income_transfer": 0.0,
    "business_cost": 0.0,
    "income_net": 80_000.0,
    "income_pc": 20_000.0,
    "medical_oop": 0.0,
    "schooling_cost": 0.0,
    "debt": 0.0,
    "housing_grade": 0.0,
    "water_safe": True,
    "disaster_loss": 0.0,
    "months_worked": 24.0,
    "benefits": 0.0,
    "dibao": False,
    "tekun": False,
    "job_lost": False,
    "income_pc_12m_ago": 20_000.0,
}


def make_frame(*rows: dict) -> pd.DataFrame:
    """A snapshot-shaped frame: BASE_ROW overridden by each row's values."""
    recs = []
    for i, r in enumerate(rows):
        rec = dict(BASE_ROW)
        rec["household_id"] = f"H{i:03d}"
        rec.update(r)
        recs.append(rec)
    frame = pd.DataFrame(recs)
    for c in frame.columns:
        if c not in ("household_id", "village_code", "township_code", "household_type") and frame[c].dtype == object:
            frame[c] = frame[c].astype(np.float64)
    return frame


def test_base_row_has_every_snapshot_column() -> None:
    expected = {*HOUSEHOLD_COLUMNS, *PANEL_VALUE_COLUMNS, "income_pc_12m_ago"}
    assert set(BASE_ROW) == expected


# --------------------------------------------------------------------------- catalogue
def test_catalogue_size_and_dimensions() -> None:
    assert len(CATALOGUE) >= 18
    assert {i.dimension for i in CATALOGUE} >= REQUIRED_DIMENSIONS
    assert set(DIMENSIONS) >= REQUIRED_DIMENSIONS
    assert len(KEYS) == len(set(KEYS)) == len(CATALOGUE)
    assert tuple(i.key for i in CATALOGUE) == KEYS
    assert INCOME_KEY in BY_KEY and BY_KEY[INCOME_KEY].unit == "x_line"


@pytest.mark.parametrize("ind", CATALOGUE, ids=lambda i: i.key)
def test_every_indicator_is_fully_described(ind) -> None:
    assert ind.zh.strip() and ind.en.strip()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in ind.zh), "zh label has Chinese characters"
    assert ind.en.isascii()
    assert ind.unit in {"yuan", "ratio", "persons", "months", "grade", "flag", "x_line"}
    assert ind.dimension in DIMENSIONS
    assert ind.direction in (1, -1)
    lo, hi = ind.bounds
    assert math.isfinite(lo) and math.isfinite(hi) and lo < hi
    assert ind.source in DEPARTMENTS
    assert ind.risk_type in RISK_TYPES
    if ind.warning_line is not None:
        assert math.isfinite(ind.warning_line)
    assert callable(ind.compute)
    assert all(len(v) == 2 and all(v) for v in DEPARTMENTS.values())


# --------------------------------------------------------------------------- matrix
@pytest.fixture(scope="module")
def hand() -> tuple[pd.DataFrame, np.ndarray]:
    frame = make_frame(
        # 0: a working household with some of everything
        dict(size=4, n_labour=2, n_weak_labour=1, months_worked=18, n_elderly=1, income_net=40_000, income_pc=10_000,
             income_pc_12m_ago=12_500, medical_oop=10_000, debt=20_000, income_transfer=8_000, income_business=12_000,
             business_cost=2_000, schooling_cost=6_000, disaster_loss=4_000, tekun=True, water_safe=True, housing_grade=2),
        # 1: no labourers, no net income, no month a year before
        dict(size=2, n_labour=0, n_weak_labour=0, months_worked=0, n_elderly=2, income_net=0, income_pc=0,
             income_pc_12m_ago=np.nan, medical_oop=3_000, debt=5_000, income_transfer=2_000, income_business=0,
             schooling_cost=100, disaster_loss=50, water_safe=False, dibao=True, job_lost=True),
        # 2: negative net income, zero income a year before, unreported months worked and medical spending
        dict(size=3, n_labour=1, n_weak_labour=0, months_worked=np.nan, income_net=-5_000, income_pc=-1_666.0,
             income_pc_12m_ago=0.0, medical_oop=np.nan, debt=1_000, income_business=1_000, business_cost=7_000),
        # 3: business loss against a positive net income; income rose 25%
        dict(size=5, n_labour=3, n_weak_labour=1, months_worked=30, income_net=10_000, income_pc=2_000,
             income_pc_12m_ago=1_600, income_business=1_000, business_cost=3_000),
        # 4: size 0 (an emptied household): dependency and elderly share take their caps
        dict(size=0, n_labour=0, n_weak_labour=0, months_worked=0, n_elderly=0),
    )
    return frame, indicator_matrix(frame)


def col(X: np.ndarray, key: str) -> np.ndarray:
    return X[:, KEYS.index(key)].astype(np.float64)


def test_matrix_layout(hand) -> None:
    frame, X = hand
    assert X.shape == (len(frame), len(KEYS))
    assert X.dtype == np.float32
    assert X.flags.f_contiguous and not X.flags.c_contiguous
    sub = indicator_matrix(frame, ("debt_ratio", "income_ratio"))
    assert sub.shape == (5, 2) and sub.dtype == np.float32 and sub.flags.f_contiguous
    np.testing.assert_array_equal(sub[:, 0], X[:, KEYS.index("debt_ratio")])
    np.testing.assert_array_equal(sub[:, 1], X[:, KEYS.index("income_ratio")])


def test_income_ratio_holds_yuan(hand) -> None:
    _, X = hand
    np.testing.assert_array_equal(col(X, "income_ratio"), [10_000, 0, -1_666, 2_000, 20_000])


def test_income_change(hand) -> None:
    _, X = hand
    got = col(X, "income_change")
    np.testing.assert_allclose(got[[0, 3, 4]], [10_000 / 12_500 - 1, 2_000 / 1_600 - 1, 0.0], rtol=1e-6)
    assert np.isnan(got[1]), "no income 12 months ago -> NaN"
    assert np.isnan(got[2]), "zero income 12 months ago -> NaN (no meaningful change)"


def test_medical_burden_and_ratios_with_caps(hand) -> None:
    _, X = hand
    np.testing.assert_allclose(col(X, "medical_burden")[[0, 3]], [0.25, 0.0], rtol=1e-6)
    assert col(X, "medical_burden")[1] == 1.0, "no net income -> cap 1"
    assert np.isnan(col(X, "medical_burden")[2]), "unreported spending stays missing"
    assert np.isnan(col(X, "medical_oop")[2])
    np.testing.assert_allclose(col(X, "debt_ratio"), [0.5, 3.0, 3.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(col(X, "transfer_share"), [0.2, 1.0, 1.0, 0.0, 0.0], rtol=1e-6)
    # (business - cost) / net, clipped at 0; no positive net income -> 0
    np.testing.assert_allclose(col(X, "business_share"), [0.25, 0.0, 0.0, 0.0, 0.125], rtol=1e-6)
    # no positive net income -> each ratio's cap (the risky end)
    np.testing.assert_allclose(col(X, "schooling_burden"), [0.15, 0.6, 0.6, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(col(X, "disaster_burden"), [0.1, 1.0, 1.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(col(X, "disaster_loss"), [4_000, 50, 0, 0, 0])


def test_labour_indicators(hand) -> None:
    _, X = hand
    np.testing.assert_allclose(col(X, "dependency_ratio"), [0.5, 1.0, 2 / 3, 0.4, 1.0], rtol=1e-6)
    # member-months / (normal + weak labourers); 12 (the safe end) when there are no labourers
    mw = col(X, "months_worked")
    np.testing.assert_allclose(mw[[0, 1, 3, 4]], [6.0, 12.0, 7.5, 12.0], rtol=1e-6)
    assert np.isnan(mw[2]), "unreported months worked with labourers -> NaN"
    np.testing.assert_array_equal(col(X, "labour_count"), [2, 0, 1, 3, 0])
    np.testing.assert_array_equal(col(X, "job_lost"), [0, 1, 0, 0, 0])
    np.testing.assert_allclose(col(X, "elderly_share"), [0.25, 1.0, 0.0, 0.0, 0.0], rtol=1e-6)


def test_flags_and_counts(hand) -> None:
    frame, X = hand
    np.testing.assert_array_equal(col(X, "water_unsafe"), [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(col(X, "dibao_tekun"), [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(col(X, "housing_grade"), [2, 0, 0, 0, 0])
    for key, column in [("serious_ill", "n_serious"), ("chronic_ill", "n_chronic"), ("disabled", "n_disabled"),
                        ("students", "n_students"), ("uninsured", "n_uninsured"), ("medical_oop", "medical_oop")]:
        np.testing.assert_array_equal(col(X, key), frame[column].to_numpy(dtype=np.float64), err_msg=key)


def test_unreported_water_stays_missing() -> None:
    frame = make_frame(dict(water_safe=np.nan), dict(water_safe=0.0), dict(water_safe=1.0))
    got = indicator_matrix(frame, ("water_unsafe",))[:, 0]
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:], [1.0, 0.0])


def test_matrix_on_the_demo_snapshot(small_demo) -> None:
    from fanpin import store

    engine, _ = small_demo
    period = store.periods(engine)[-1]
    frame = store.load_snapshot(engine, period)
    X = indicator_matrix(frame)
    assert X.shape == (len(frame), len(KEYS)) and X.flags.f_contiguous
    # independent recomputation of two ratios in float64
    net = frame["income_net"].to_numpy(dtype=float)
    exp = np.where(net > 0, frame["debt"].to_numpy(dtype=float) / np.where(net > 0, net, 1), 3.0)
    np.testing.assert_allclose(col(X, "debt_ratio"), exp, rtol=1e-6)
    workers = (frame["n_labour"] + frame["n_weak_labour"]).to_numpy(dtype=float)
    exp = np.where(workers > 0, frame["months_worked"].to_numpy(dtype=float) / np.maximum(workers, 1), 12.0)
    np.testing.assert_allclose(col(X, "months_worked"), exp, rtol=1e-6)


# --------------------------------------------------------------------------- warning lines
def test_hits_direction_semantics() -> None:
    up = BY_KEY["medical_burden"]  # +1, line 0.4
    down = BY_KEY["months_worked"]  # -1, line 6
    assert up.direction == 1 and down.direction == -1
    v = np.array([0.39, 0.4, 0.41, np.nan])
    np.testing.assert_array_equal(up.hits(v), [False, True, True, False])
    w = np.array([5.99, 6.0, 6.01, np.nan])
    np.testing.assert_array_equal(down.hits(w), [True, False, False, False])
    # an explicit line overrides the catalogue's
    np.testing.assert_array_equal(up.hits(v, 0.41), [False, False, True, False])
    np.testing.assert_array_equal(down.hits(w, 6.01), [True, True, False, False])
    # no warning line -> never hits
    none = BY_KEY["dibao_tekun"]
    assert none.warning_line is None
    np.testing.assert_array_equal(none.hits(np.array([0.0, 1.0])), [False, False])


@settings(max_examples=60, deadline=None)
@given(
    key=st.sampled_from([i.key for i in CATALOGUE if i.warning_line is not None]),
    values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))), min_size=1, max_size=20),
    line=st.floats(-1e5, 1e5),
)
def test_hits_property(key: str, values: list[float], line: float) -> None:
    ind = BY_KEY[key]
    v = np.array(values)
    got = ind.hits(v, line)
    for x, h in zip(values, got):
        if math.isnan(x):
            assert not h
        elif ind.direction > 0:
            assert h == (x >= line)
        else:
            assert h == (x < line)
