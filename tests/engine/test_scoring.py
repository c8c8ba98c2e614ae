"""Scoring against an independent float64 reference, hand-computed cases and policy checks."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanpin import store
from fanpin.core.indicators import BY_KEY, INCOME_KEY, KEYS, indicator_matrix
from fanpin.engine.scoring import (
    TIERS,
    ForceRule,
    PolicyError,
    RiskPolicy,
    Scorer,
    score,
    suggest_category,
)
from tests.core.test_indicators import make_frame

TIER = {t: i for i, t in enumerate(TIERS)}


# =========================================================================== reference
@dataclass
class Ref:
    score: np.ndarray
    tier: np.ndarray
    forced: np.ndarray
    contrib: np.ndarray
    hits: np.ndarray
    missing: np.ndarray


def ref_bounds(policy: RiskPolicy, key: str) -> tuple[float, float]:
    lo, hi = policy.bounds[key] if key in policy.bounds else BY_KEY[key].bounds
    if key == INCOME_KEY:  # bounds are multiples of the income line; the matrix holds yuan
        return lo * policy.income_line, hi * policy.income_line
    return float(lo), float(hi)


def ref_on_risky_side(key: str, values: np.ndarray, line: float) -> np.ndarray:
    """Plain comparisons; NaN compares False either way."""
    with np.errstate(invalid="ignore"):
        return np.greater_equal(values, line) if BY_KEY[key].direction == 1 else np.less(values, line)


def reference(X: np.ndarray, keys: tuple[str, ...], policy: RiskPolicy) -> Ref:
    """The score written out plainly in float64, one indicator at a time."""
    X = np.array(X, dtype=np.float64)
    n, m = X.shape
    total_w = sum(policy.weights.values())
    w = {k: v / total_w for k, v in policy.weights.items()}
    missing = np.isnan(X)
    filled = X.copy()
    for j in range(m):
        if missing[:, j].any() and not missing[:, j].all():
            # the documented missing-value rule: the column's median, held at the matrix's float32 precision
            filled[missing[:, j], j] = np.float32(np.median(X[~missing[:, j], j]))
    contrib = np.zeros((n, m))
    acc = np.zeros(n)
    for j, k in enumerate(keys):
        lo, hi = ref_bounds(policy, k)
        c = np.clip(filled[:, j], lo, hi)
        norm = (c - lo) / (hi - lo) if BY_KEY[k].direction == 1 else (hi - c) / (hi - lo)
        if missing[:, j].all():
            norm = np.zeros(n)  # no value at all this month: no median, the column adds nothing
        acc += w.get(k, 0.0) * norm
        contrib[:, j] = 100.0 * w.get(k, 0.0) * norm
    total = 100.0 * acc
    yellow, red = policy.cutoffs
    tier = np.where(total >= red, 2, np.where(total >= yellow, 1, 0))
    forced = np.zeros(n, dtype=int)
    for rule in policy.forces:
        j = keys.index(rule.indicator)
        thr = rule.threshold * policy.income_line if rule.indicator == INCOME_KEY else rule.threshold
        hit = ref_on_risky_side(rule.indicator, X[:, j], thr)  # raw X: a missing value never hits
        forced = np.where(hit, np.maximum(forced, TIER[rule.tier]), forced)
    tier = np.maximum(tier, forced)
    hits = np.zeros((n, m), dtype=bool)
    for j, k in enumerate(keys):
        line = policy.warning_lines.get(k, BY_KEY[k].warning_line)
        if line is None:
            continue
        if k == INCOME_KEY:
            line = line * policy.income_line
        hits[:, j] = ref_on_risky_side(k, X[:, j], line)
    return Ref(total, tier, forced, contrib, hits, missing)


def assert_matches(res, ref: Ref, township: np.ndarray, n_townships: int) -> None:
    np.testing.assert_allclose(res.score.astype(np.float64), ref.score, atol=1e-3, rtol=0)
    # tiers exactly (a score equal to a cut-off takes the higher tier); only a reference score within
    # 1e-9 of a cut-off but not on it (summation noise) may fall either side
    y, r = res.policy.cutoffs
    dy, dr = np.abs(ref.score - y), np.abs(ref.score - r)
    edge = ((dy > 0) & (dy < 1e-9)) | ((dr > 0) & (dr < 1e-9))
    np.testing.assert_array_equal(res.tier[~edge], ref.tier[~edge])
    assert (np.abs(res.tier[edge].astype(int) - ref.tier[edge]) <= 1).all()
    np.testing.assert_array_equal(res.forced, ref.forced)
    counts = np.zeros((n_townships, 3), dtype=int)
    np.add.at(counts, (township, res.tier.astype(int)), 1)
    np.testing.assert_array_equal(res.township_counts, counts)
    if not edge.any():
        ref_counts = np.zeros((n_townships, 3), dtype=int)
        np.add.at(ref_counts, (township, ref.tier), 1)
        np.testing.assert_array_equal(res.township_counts, ref_counts)
    n_t = np.bincount(township, minlength=n_townships)
    sums = np.bincount(township, weights=ref.score, minlength=n_townships)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_t > 0, sums / n_t, np.nan)
    np.testing.assert_allclose(res.township_mean, mean, atol=1e-3, rtol=0)
    assert res.tier_counts() == {t: int((res.tier == i).sum()) for i, t in enumerate(TIERS)}


# =========================================================================== strategies
@st.composite
def cutoffs(draw) -> tuple[float, float]:
    a = draw(st.floats(0, 100, allow_nan=False))
    b = draw(st.floats(0, 100, allow_nan=False).filter(lambda x: x != a))
    return (min(a, b), max(a, b))


weights_st = st.lists(st.one_of(st.just(0.0), st.floats(0.01, 10, allow_nan=False)), min_size=len(KEYS), max_size=len(KEYS)).filter(
    lambda ws: sum(ws) > 0
)
# yuan and fen: 5,000.00 to 12,000.00
income_line_st = st.integers(500_000, 1_200_000).map(lambda c: c / 100)


@st.composite
def demo_policies(draw) -> RiskPolicy:
    ws = draw(weights_st)
    base = RiskPolicy.default()
    bounds = {}
    for k in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        lo, hi = BY_KEY[k].bounds
        span = hi - lo
        a = draw(st.floats(lo - span, hi, allow_nan=False))
        b = draw(st.floats(a + span / 100, a + 2 * span, allow_nan=False))
        bounds[k] = (a, b)
    return RiskPolicy(
        weights=dict(zip(KEYS, ws)),
        income_line=draw(income_line_st),
        cutoffs=draw(cutoffs()),
        bounds=bounds,
        forces=base.forces,
        name="random",
    )


# =========================================================================== (a) the demo county
@pytest.fixture(scope="module", params=[-1, -3], ids=["last_month", "earlier_month"])
def demo_month(request, small_demo):
    engine, _ = small_demo
    period = store.periods(engine)[request.param]
    assert period >= 202501  # a month with a year before it (income_change defined)
    frame = store.load_snapshot(engine, period)
    scorer = Scorer.from_frame(frame)
    X = indicator_matrix(frame)
    return frame, X, scorer


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=demo_policies())
def test_scorer_matches_reference_on_demo(demo_month, policy: RiskPolicy) -> None:
    frame, X, scorer = demo_month
    res = scorer.run(policy)  # the same scorer across examples: its caches must follow the policy
    ref = reference(X, KEYS, policy)
    assert_matches(res, ref, scorer.township, scorer.n_townships)
    assert not ref.missing.any()
    # forced red exactly where per-capita income is under the line
    np.testing.assert_array_equal(res.forced == 2, frame["income_pc"].to_numpy() < policy.income_line)


def test_default_policy_matches_reference_on_demo(demo_month) -> None:
    frame, X, scorer = demo_month
    policy = RiskPolicy.default(8100)
    res = scorer.run(policy)
    assert_matches(res, reference(X, KEYS, policy), scorer.township, scorer.n_townships)
    counts = res.tier_counts()
    assert sum(counts.values()) == len(frame)
    assert counts["red"] > 0 and counts["yellow"] > 0 and counts["green"] > counts["red"]
    # township codes: index i is township_codes[i]
    np.testing.assert_array_equal(scorer.township_codes[scorer.township], frame["township_code"].to_numpy())
    np.testing.assert_array_equal(res.township_counts.sum(axis=1), frame.groupby("township_code").size().sort_index().to_numpy())


# =========================================================================== (b) random matrices with gaps
def _column(rng: np.random.Generator, key: str, n: int, line: float, nan_rate: float) -> np.ndarray:
    lo, hi = BY_KEY[key].bounds
    if key == INCOME_KEY:
        lo, hi = lo * line, hi * line
    span = hi - lo
    v = rng.uniform(lo - 0.3 * span, hi + 0.3 * span, n)
    pick = rng.random(n)
    specials = [lo, hi]
    wl = BY_KEY[key].warning_line
    if wl is not None:
        specials.append(wl * line if key == INCOME_KEY else wl)
    v = np.where(pick < 0.25, rng.choice(specials, n), v)  # values exactly on bounds and lines
    if key == INCOME_KEY:
        # whole yuan, as the national system reports; with the line in fen no income sits within
        # float32 resolution of a line-based threshold (below that resolution the float32 matrix
        # cannot say which side a value is on)
        v = np.round(v)
    return np.where(rng.random(n) < nan_rate, np.nan, v)


@st.composite
def matrix_cases(draw):
    keys = tuple(draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=8, unique=True)))
    n = draw(st.integers(1, 60))
    n_town = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    line = draw(income_line_st)
    nan_rate = draw(st.sampled_from([0.0, 0.1, 0.4, 1.0]))
    rng = np.random.default_rng(seed)
    X = np.column_stack([_column(rng, k, n, line, nan_rate) for k in keys]).astype(np.float32)
    township = rng.integers(0, n_town, n)
    ws = draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 5)), min_size=len(keys), max_size=len(keys)).filter(lambda w: sum(w) > 0))
    forces = []
    for k in draw(st.lists(st.sampled_from(keys), max_size=3)):
        j = keys.index(k)
        reported = X[~np.isnan(X[:, j]), j]
        # a threshold equal to some reported value (float32, so exact) or the rule in income-line multiples
        thr = float(reported[draw(st.integers(0, len(reported) - 1))]) if len(reported) else 1.0
        if k == INCOME_KEY:
            thr = draw(st.sampled_from([0.8, 1.0, 1.5, 2.0]))
        forces.append(ForceRule(k, thr, draw(st.sampled_from(["yellow", "red"]))))
    lines = {}
    for k in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        lines[k] = draw(st.floats(-2, 5, allow_nan=False))
    policy = RiskPolicy(weights=dict(zip(keys, ws)), income_line=line, cutoffs=draw(cutoffs()), forces=tuple(forces), warning_lines=lines)
    return keys, X, township, n_town, policy


@settings(max_examples=120, deadline=None)
@given(case=matrix_cases())
def test_scorer_matches_reference_on_random_matrices(case) -> None:
    keys, X, township, n_town, policy = case
    scorer = Scorer(np.asfortranarray(X.copy()), township, n_town, keys=keys)
    res = scorer.run(policy)
    ref = reference(X, keys, policy)
    assert_matches(res, ref, township, n_town)
    rows = np.arange(len(X))
    pol, _ = policy.normalised()
    # missing values: listed as missing, raw value NaN, never on the risky side of a line
    np.testing.assert_array_equal(scorer.missing_mask(rows), ref.missing)
    np.testing.assert_array_equal(np.isnan(scorer.raw_values(rows)), ref.missing)
    hits = scorer.warnings_hit(pol, rows)
    np.testing.assert_array_equal(hits, ref.hits)
    assert not (hits & ref.missing).any()
    contrib = scorer.contributions(pol, rows)
    np.testing.assert_allclose(contrib, ref.contrib, atol=1e-3)
    np.testing.assert_allclose(contrib.sum(axis=1), res.score, atol=1e-3)
    np.testing.assert_allclose(scorer.score64(pol, rows), ref.score, atol=1e-9)


def test_missing_value_is_scored_at_the_median_and_never_forces() -> None:
    keys = ("income_ratio", "housing_grade")
    X = np.array([[np.nan, 4.0], [6000.0, np.nan], [9000.0, 0.0], [30000.0, 2.0]], dtype=np.float32)
    policy = RiskPolicy(weights={"income_ratio": 0.5, "housing_grade": 0.5}, income_line=8000,
                        forces=(ForceRule("income_ratio", 1.0, "red"), ForceRule("housing_grade", 3, "yellow")))
    res = Scorer(X.copy(order="F"), np.zeros(4, int), 1, keys=keys).run(policy)
    # bounds: income 4,000..24,000 (-1), housing 0..4 (+1); medians 9,000 and 2
    inc = lambda v: (24000 - min(max(v, 4000), 24000)) / 20000
    exp = 50 * np.array([inc(9000) + 1.0, inc(6000) + 0.5, inc(9000) + 0.0, inc(30000) + 0.5])
    np.testing.assert_allclose(res.score, exp, atol=1e-4)
    # row 0: missing income never forces red; row 1: 6,000 < 8,000 forces red; row 0 housing 4 forces yellow
    np.testing.assert_array_equal(res.forced, [1, 2, 0, 0])
    r1 = res.reasons(1)
    assert [(r.key, r.missing, r.warning_hit) for r in r1] == [("income_ratio", False, True), ("housing_grade", True, False)]
    assert math.isnan(r1[1].value) and r1[1].contribution == pytest.approx(25.0)


def test_all_missing_column_does_not_invent_risk(small_demo) -> None:
    engine, _ = small_demo
    first = store.periods(engine)[0]
    frame = store.load_snapshot(engine, first)
    assert frame["income_pc_12m_ago"].isna().all()
    policy, _ = RiskPolicy.default(7800).normalised()
    scorer = Scorer.from_frame(frame)
    j = KEYS.index("income_change")
    contrib = scorer.contributions(policy, np.arange(scorer.n))[:, j]
    # a column with no data at all gives no household risk points (documented: scored at its safe end)
    np.testing.assert_array_equal(contrib, 0.0)
    assert scorer.missing_mask(np.arange(scorer.n))[:, j].all()
    assert not scorer.warnings_hit(policy, np.arange(scorer.n))[:, j].any()
    # the same for an all-missing column of each direction, incl. income (held in yuan)
    keys = ("income_ratio", "income_change", "medical_burden", "housing_grade")
    X = np.array([[np.nan, np.nan, np.nan, 2.0], [np.nan, np.nan, np.nan, 0.0]], dtype=np.float32)
    pol = RiskPolicy(weights=dict.fromkeys(keys, 0.25), income_line=8000)
    res = Scorer(X.copy(order="F"), np.zeros(2, int), 1, keys=keys).run(pol)
    np.testing.assert_allclose(res.score, [12.5, 0.0], atol=1e-5)
    np.testing.assert_array_equal(res.tier, [0, 0])


def test_scorer_does_not_modify_the_callers_matrix() -> None:
    X = np.asfortranarray(np.array([[np.nan, 1.0], [2.0, 3.0], [4.0, np.nan]], dtype=np.float32))
    before = X.copy()
    Scorer(X, np.zeros(3, int), 1, keys=("medical_burden", "housing_grade"))
    np.testing.assert_array_equal(np.isnan(X), np.isnan(before))


def test_from_frame_accepts_townships_in_any_order() -> None:
    frame = make_frame(dict(township_code="T2"), dict(township_code="T1"), dict(township_code="T3"))
    order = ["T3", "T1", "T2"]
    s = Scorer.from_frame(frame, order)
    assert list(s.township_codes) == order
    np.testing.assert_array_equal(s.township, [2, 1, 0])


def test_from_frame_with_an_explicit_township_list_counts_empty_townships() -> None:
    frame = make_frame(dict(township_code="T2"), dict(township_code="T1"), dict(township_code="T2"))
    s = Scorer.from_frame(frame, ["T1", "T2", "T3"])
    res = s.run(RiskPolicy(weights={"housing_grade": 1.0}, forces=()))
    np.testing.assert_array_equal(res.township_counts, [[1, 0, 0], [2, 0, 0], [0, 0, 0]])
    assert np.isnan(res.township_mean[2])
    with pytest.raises(ValueError, match="outside the given list"):
        Scorer.from_frame(frame, ["T1"])


# =========================================================================== hand-computed
HAND_KEYS = ("income_ratio", "medical_burden", "housing_grade")
# income bounds 0.5..3 x 8,000 = 4,000..24,000 (direction -1), medical burden 0..1, housing grade 0..4
HAND_X = np.array(
    [
        [14_000, 0.10, 0],  # 0: 0.2*50 + 0.4*10 + 0          = 14    green
        [30_000, 2.00, 4],  # 1: 0    + 0.4*100 + 0.4*100     = 80    red
        [7_900, 0.00, 1],  # 2: 0.2*80.5 + 0 + 0.4*25         = 26.1  yellow by score, forced red (< 8,000)
        [11_000, 0.20, 0],  # 3: 0.2*65 + 0.4*20 + 0           = 21    green by score, forced yellow (< 12,000)
        [20_000, np.nan, 2],  # 4: 0.2*20 + 0.4*median(0.2)*100 + 0.4*50 = 4 + 8 + 20 = 32 yellow
        [11_000, 0.35, 2],  # 5: 13 + 14 + 20                   = 47    red (and forced yellow)
    ],
    dtype=np.float32,
)
HAND_TOWN = np.array([0, 0, 1, 1, 0, 2])
HAND_POLICY = RiskPolicy(weights={"income_ratio": 0.2, "medical_burden": 0.4, "housing_grade": 0.4}, income_line=8000, cutoffs=(25, 40))


@pytest.fixture()
def hand():
    scorer = Scorer(HAND_X.copy(order="F"), HAND_TOWN, 4, keys=HAND_KEYS)
    return scorer, scorer.run(HAND_POLICY)


def test_hand_computed_scores_and_tiers(hand) -> None:
    _, res = hand
    np.testing.assert_allclose(res.score, [14, 80, 26.1, 21, 32, 47], atol=1e-4)
    np.testing.assert_array_equal(res.tier, [0, 2, 2, 1, 1, 2])
    np.testing.assert_array_equal(res.forced, [0, 0, 2, 1, 0, 1])
    np.testing.assert_array_equal(res.township_counts, [[1, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_allclose(res.township_mean[:3], [(14 + 80 + 32) / 3, (26.1 + 21) / 2, 47], atol=1e-4)
    assert np.isnan(res.township_mean[3])
    assert res.tier_counts() == {"green": 1, "yellow": 2, "red": 3}


def test_hand_contributions_sum_to_score(hand) -> None:
    scorer, res = hand
    c = scorer.contributions(res.policy, np.arange(6))
    np.testing.assert_allclose(c, [[10, 4, 0], [0, 40, 40], [16.1, 0, 10], [13, 8, 0], [4, 8, 20], [13, 14, 20]], atol=1e-4)
    np.testing.assert_allclose(c.sum(axis=1), res.score, atol=1e-3)


def test_reasons_order_and_flags(hand) -> None:
    _, res = hand
    # warning hits first (income 11,000 < 1.5 x 8,000), then by contribution (housing 20 > medical 14)
    r5 = res.reasons(5)
    assert [r.key for r in r5] == ["income_ratio", "housing_grade", "medical_burden"]
    assert [r.warning_hit for r in r5] == [True, False, False]
    assert [round(r.contribution, 3) for r in r5] == [13.0, 20.0, 14.0]
    assert r5[0].value == 11_000.0 and not any(r.missing for r in r5)
    assert [r.key for r in res.reasons(5, top=2)] == ["income_ratio", "housing_grade"]
    # the missing medical value is flagged, its raw value is NaN, it does not hit the 0.4 line
    r4 = res.reasons(4)
    assert [(r.key, r.missing, r.warning_hit) for r in r4] == [
        ("housing_grade", False, False),
        ("medical_burden", True, False),
        ("income_ratio", False, False),
    ]
    assert math.isnan(r4[1].value) and r4[1].contribution == pytest.approx(8.0, abs=1e-4)
    # zero-contribution indicators without a hit are left out
    assert [r.key for r in res.reasons(0)] == ["income_ratio", "medical_burden"]
    # both hits of row 1 come first, income (0 points, no hit) is dropped
    r1 = res.reasons(1)
    assert {r.key for r in r1} == {"medical_burden", "housing_grade"} and all(r.warning_hit for r in r1)


def test_weights_not_summing_to_one_are_rescaled_in_run(hand) -> None:
    scorer, res = hand
    base = res.score.copy()
    doubled = replace(HAND_POLICY, weights={k: 2 * v for k, v in HAND_POLICY.weights.items()})
    np.testing.assert_allclose(scorer.run(doubled).score, base, atol=1e-5)


def test_income_exactly_on_a_line_is_not_below_it() -> None:
    X = np.array([[7_999.0], [8_000.0], [11_999.0], [12_000.0], [np.nan]], dtype=np.float32)
    res = Scorer(X.copy(order="F"), np.zeros(5, int), 1, keys=(INCOME_KEY,)).run(
        RiskPolicy(weights={INCOME_KEY: 1.0}, income_line=8000, cutoffs=(99, 100))
    )
    np.testing.assert_array_equal(res.forced, [2, 1, 1, 0, 0])
    np.testing.assert_array_equal(res.tier, [2, 1, 1, 0, 0])


def test_cutoff_is_inclusive() -> None:
    # housing grade 1 of 0..4 -> exactly 25 points -> yellow at a yellow cut-off of 25; 2 -> 50 -> red at 50
    X = np.array([[0.0], [1.0], [2.0]], dtype=np.float32)
    res = Scorer(X.copy(order="F"), np.zeros(3, int), 1, keys=("housing_grade",)).run(
        RiskPolicy(weights={"housing_grade": 1.0}, cutoffs=(25, 50), forces=())
    )
    np.testing.assert_array_equal(res.score, [0, 25, 50])
    np.testing.assert_array_equal(res.tier, [0, 1, 2])


# =========================================================================== slider behaviour
def test_weight_only_change_reuses_buffers(small_demo) -> None:
    engine, _ = small_demo
    frame = store.load_snapshot(engine, store.periods(engine)[-1])
    scorer = Scorer.from_frame(frame)
    a = RiskPolicy.default(8100)
    b = replace(a, weights={**a.weights, "income_ratio": 0.4, "medical_burden": 0.0, "debt_ratio": 0.2})
    r1 = scorer.run(a)
    keep = r1.copy()
    clipped = scorer._C
    r2 = scorer.run(b)
    assert np.shares_memory(r1.score, r2.score) and np.shares_memory(r1.tier, r2.tier)
    assert scorer._C is clipped
    fresh = Scorer.from_frame(frame).run(b)
    np.testing.assert_array_equal(r2.score, fresh.score)
    np.testing.assert_array_equal(r2.tier, fresh.tier)
    np.testing.assert_array_equal(r2.township_counts, fresh.township_counts)
    # the copy kept before is untouched and still equals a fresh run of the first policy
    again = Scorer.from_frame(frame).run(a)
    np.testing.assert_array_equal(keep.score, again.score)
    np.testing.assert_array_equal(keep.tier, again.tier)
    assert not np.array_equal(keep.score, r2.score)


def test_income_line_moves_households_across_the_forced_red_line(small_demo) -> None:
    engine, _ = small_demo
    frame = store.load_snapshot(engine, store.periods(engine)[-1])
    income = frame["income_pc"].to_numpy()
    grade = frame["housing_grade"].to_numpy()
    unsafe = ~frame["water_safe"].to_numpy(dtype=bool)
    scorer = Scorer.from_frame(frame)
    prev_line, prev_red = None, None
    for line in (7000.0, 8100.0, 9500.0, 12000.0, 8100.0):
        res = scorer.run(RiskPolicy.default(line))
        red = res.forced == 2
        np.testing.assert_array_equal(red, income < line)
        assert (res.tier[red] == 2).all()
        yellow_rule = (income < 1.5 * line) | (grade >= 3) | unsafe
        np.testing.assert_array_equal(res.forced == 1, ~red & yellow_rule)
        if prev_line is not None:
            lo, hi = sorted((prev_line, line))
            np.testing.assert_array_equal(red ^ prev_red, (income >= lo) & (income < hi))
        prev_line, prev_red = line, red.copy()
    assert ((income >= 7000) & (income < 12000)).sum() > 50  # the sweep crossed real households


# =========================================================================== policy checks
def _p(**kw) -> RiskPolicy:
    base = dict(weights={"income_ratio": 0.5, "medical_burden": 0.5})
    base.update(kw)
    return RiskPolicy(**base)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (_p(weights={"income_ratio": 1.0, "medical_burden": -0.1}), "weights must be non-negative numbers: medical_burden=-0.1"),
        (_p(weights={"income_ratio": 1.0, "medical_burden": float("nan")}), "weights must be non-negative numbers: medical_burden=nan"),
        (_p(weights={"income_ratio": float("inf")}), "weights must be non-negative numbers: income_ratio=inf"),
        (_p(weights={"income_ratio": 1.0, "wealth": 1.0, "luck": 2.0}), "unknown indicators in weights: luck, wealth"),
        (_p(weights={"income_ratio": 0.0}), "at least one weight must be positive"),
        (_p(weights={}), "at least one weight must be positive"),
        (_p(cutoffs=(40.0, 25.0)), "tier cut-offs must satisfy 0 <= yellow < red <= 100, got yellow=40.0, red=25.0"),
        (_p(cutoffs=(30.0, 30.0)), "got yellow=30.0, red=30.0"),
        (_p(cutoffs=(-1.0, 30.0)), "tier cut-offs"),
        (_p(cutoffs=(10.0, 101.0)), "tier cut-offs"),
        (_p(income_line=0.0), "income line must be a positive number of yuan, got 0.0"),
        (_p(income_line=float("nan")), "income line must be a positive number"),
        (_p(bounds={"debt_ratio": (3.0, 1.0)}), "bounds of debt_ratio must satisfy low < high, got 3.0, 1.0"),
        (_p(bounds={"debt_ratio": (1.0, 1.0)}), "bounds of debt_ratio must satisfy low < high"),
        (_p(bounds={"debt_ratio": (0.0, float("inf"))}), "bounds of debt_ratio must satisfy low < high"),
        (_p(bounds={"wealth": (0.0, 1.0)}), "unknown indicator in bounds: wealth"),
        (_p(warning_lines={"wealth": 1.0}), "unknown indicator in warning lines: wealth"),
        (_p(forces=(ForceRule("income_ratio", 1.0, "green"),)), "a tier rule must force yellow or red, got green"),
        (_p(forces=(ForceRule("income_ratio", 1.0, "purple"),)), "got purple"),
        (_p(forces=(ForceRule("wealth", 1.0, "red"),)), "unknown indicator in a tier rule: wealth"),
    ],
)
def test_policy_validation_messages(policy: RiskPolicy, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        policy.validate()
    assert message in str(err.value)
    with pytest.raises(PolicyError):
        policy.normalised()
    with pytest.raises(PolicyError):
        RiskPolicy.from_json(json.dumps(policy.to_dict()))
    assert issubclass(PolicyError, ValueError)


def test_scorer_refuses_an_invalid_policy(hand) -> None:
    scorer, _ = hand
    with pytest.raises(PolicyError, match="non-negative"):
        scorer.run(replace(HAND_POLICY, weights={"income_ratio": -1.0, "housing_grade": 2.0}))


def test_normalised_weights() -> None:
    p, rescaled = _p(weights={"income_ratio": 3.0, "medical_burden": 1.0}).normalised()
    assert rescaled is True
    assert p.weights == {"income_ratio": 0.75, "medical_burden": 0.25}
    q = _p(weights={"income_ratio": 0.25, "medical_burden": 0.75})
    same, rescaled = q.normalised()
    assert rescaled is False and same is q


def test_json_round_trip() -> None:
    p = RiskPolicy(
        weights={"income_ratio": 0.3, "medical_oop": 0.2, "housing_grade": 0.5},
        income_line=8050.5,
        cutoffs=(20.0, 45.5),
        bounds={"medical_oop": (0.0, 80_000.0), "income_ratio": (0.6, 2.5)},
        warning_lines={"medical_oop": 8_000.0, "income_change": -0.25},
        forces=(ForceRule("income_ratio", 1.0, "red"), ForceRule("housing_grade", 4.0, "red"), ForceRule("water_unsafe", 1.0, "yellow")),
        name="县乡村振兴局 2025 方案",
    )
    text = p.to_json()
    assert "县乡村振兴局" in text  # readable Chinese, not \\u escapes
    back = RiskPolicy.from_json(text)
    assert back == p
    assert RiskPolicy.from_dict(json.loads(text)) == p
    assert json.loads(back.to_json()) == json.loads(text)


def test_default_policy() -> None:
    d = RiskPolicy.default()
    d.validate()
    assert set(d.weights) == set(KEYS)
    assert sum(d.weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert d.normalised()[1] is False
    assert d.income_line == 7500 and d.cutoffs == (25.0, 40.0)
    assert ForceRule(INCOME_KEY, 1.0, "red") in d.forces
    assert RiskPolicy.default(8100).income_line == 8100
    assert RiskPolicy.default(8100).weights == d.weights


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "policy is not valid JSON"),
        ("", "policy is not valid JSON"),
        ('{"cutoffs": [25, 40], "weights": {"income_ratio": 1}}', "not a valid policy"),  # no income line
        ('{"income_line": 7500, "weights": {"income_ratio": 1}}', "not a valid policy"),  # no cut-offs
        ('{"income_line": "lots", "cutoffs": [25, 40], "weights": {"income_ratio": 1}}', "not a valid policy"),
        ('{"income_line": 7500, "cutoffs": [25, 40, 60], "weights": {"income_ratio": 1}}', "cutoffs must be two numbers"),
        ('{"income_line": 7500, "cutoffs": [25, 40], "weights": {"income_ratio": "x"}}', "not a valid policy"),
        ('{"income_line": 7500, "cutoffs": [25, 40], "weights": {"income_ratio": 1}, "forces": [{"indicator": "income_ratio"}]}', "not a valid policy"),
        ('{"income_line": 7500, "cutoffs": [25, 40], "weights": {"income_ratio": 1}, "bounds": {"income_ratio": [1]}}', "not a valid policy"),
        ('{"income_line": 7500, "cutoffs": [40, 25], "weights": {"income_ratio": 1}}', "tier cut-offs"),
    ],
)
def test_invalid_policy_json(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        RiskPolicy.from_json(text)


@pytest.mark.parametrize("text", ["[]", "null", "3", '{"income_line": 7500, "cutoffs": [25, 40], "weights": [1, 2]}',
                                  '{"income_line": 7500, "cutoffs": [25, 40], "weights": {"income_ratio": 1}, "warning_lines": [1]}'])
def test_non_object_json_is_a_policy_error(text: str) -> None:
    with pytest.raises(PolicyError):
        RiskPolicy.from_json(text)


def test_cutoffs_given_as_a_string_are_rejected() -> None:
    with pytest.raises(PolicyError):
        RiskPolicy.from_json('{"income_line": 7500, "cutoffs": "49", "weights": {"income_ratio": 1}}')


# =========================================================================== score() and categories
LINE = 8000.0  # 1.5 x line = 12,000
CAT_POLICY = RiskPolicy(weights={"housing_grade": 1.0}, income_line=LINE, cutoffs=(25, 40), forces=())
CAT_ROWS = [
    # tier from housing grade alone: 1 -> 25 yellow, 2 -> 50 red, 3 -> 75 red
    dict(household_type="former_poor", housing_grade=2, income_pc=30_000, income_pc_12m_ago=30_000),
    dict(housing_grade=1, income_net=40_000, income_pc=10_000, income_pc_12m_ago=10_000, medical_oop=15_000,
         schooling_cost=5_000, disaster_loss=6_000),  # rigid 26,000 >= half of 40,000
    dict(housing_grade=3, income_pc=11_999, income_pc_12m_ago=11_999),  # under 1.5 x line
    dict(housing_grade=0, medical_oop=60_000, income_pc=5_000, income_pc_12m_ago=5_000),  # green
    dict(housing_grade=1, income_pc=20_000, income_pc_12m_ago=30_000),  # income fell a third
    dict(housing_grade=1, income_pc=12_000, income_pc_12m_ago=12_000),  # at risk, no rule applies
    dict(housing_grade=1, income_net=40_000, schooling_cost=19_999),  # rigid just under half
    dict(housing_grade=1, income_net=40_000, schooling_cost=20_000),  # rigid exactly half
    dict(household_type="former_poor", housing_grade=0),  # green former poor
]


@pytest.fixture(scope="module")
def cat_frame() -> pd.DataFrame:
    frame = make_frame(*CAT_ROWS)
    frame["township_code"] = ["T1", "T1", "T2", "T2", "T1", "T2", "T1", "T2", "T1"]
    return frame


def test_score_frame(cat_frame: pd.DataFrame) -> None:
    out = score(cat_frame, CAT_POLICY)
    assert list(out.columns[:6]) == ["household_id", "township_code", "village_code", "score", "tier", "forced"]
    assert {"warnings", "reason_1", "reason_2", "reason_3", "category", "risk_types"} <= set(out.columns)
    assert [c for c in out.columns if c.startswith("c_")] == [f"c_{k}" for k in KEYS]
    assert len(out) == len(cat_frame)
    assert out["household_id"].tolist() == cat_frame["household_id"].tolist()
    assert out["score"].tolist() == [50.0, 25.0, 75.0, 0.0, 25.0, 25.0, 25.0, 25.0, 0.0]
    assert out["tier"].tolist() == ["red", "yellow", "red", "green", "yellow", "yellow", "yellow", "yellow", "green"]
    assert set(out["tier"]) <= set(TIERS)
    assert not out["forced"].any()
    np.testing.assert_allclose(out["c_housing_grade"], out["score"])
    assert (out[[f"c_{k}" for k in KEYS if k != "housing_grade"]] == 0).all().all()
    assert out.loc[0, "reason_1"] == "housing_grade"
    assert out.loc[1, "warnings"] == "income_ratio,medical_oop,disaster_loss"
    assert out.loc[2, "warnings"] == "income_ratio,housing_grade"
    assert out.loc[5, "warnings"] == ""


def test_suggest_category_rules(cat_frame: pd.DataFrame) -> None:
    out = score(cat_frame, CAT_POLICY)
    assert [c if isinstance(c, str) else None for c in out["category"]] == [
        "unstable_former_poor",  # former poor at risk
        "sudden_hardship",  # rigid spending >= half the net income
        "marginal",  # ordinary, income under 1.5 x line
        None,  # green
        "sudden_hardship",  # income fell 30% or more
        None,  # at risk but no rule applies
        None,  # rigid spending just under half, income not low
        "sudden_hardship",  # exactly half
        None,  # green former poor
    ]
    assert out["risk_types"].tolist() == [
        "other",  # no warning line hit
        "illness,disaster",  # medical_oop >= 10,000 and disaster_loss >= 5,000 (+ low income 'other' dropped)
        "housing",  # housing grade >= 3 (+ 'other' dropped)
        "",
        "industry_failure",  # income change < -0.3
        "other",
        "schooling",  # schooling burden 0.5 >= 0.3
        "schooling",
        "",
    ]


def test_suggest_category_direct(cat_frame: pd.DataFrame) -> None:
    scorer = Scorer.from_frame(cat_frame)
    res = scorer.run(CAT_POLICY)
    cat, types = suggest_category(cat_frame, res)
    assert cat[2] == "marginal" and cat[3] is None and types[3] == ""
    # a higher income line turns the 'no rule' household (12,000 yuan) marginal
    res = scorer.run(replace(CAT_POLICY, income_line=8001.0))
    cat, _ = suggest_category(cat_frame, res)
    assert cat[5] == "marginal"


def test_no_income_and_no_spending_is_not_sudden_hardship() -> None:
    frame = make_frame(dict(housing_grade=1, income_net=0, income_pc=0, income_pc_12m_ago=0, income_wage=0, income_business=0))
    out = score(frame, CAT_POLICY)
    assert out.loc[0, "tier"] == "yellow"
    assert out.loc[0, "category"] == "marginal"


def test_score_on_demo_agrees_with_scorer(small_demo) -> None:
    engine, _ = small_demo
    frame = store.load_snapshot(engine, store.periods(engine)[-1])
    policy = RiskPolicy.default(8100)
    out = score(frame, policy)
    res = Scorer.from_frame(frame).run(policy)
    assert out["tier"].tolist() == [TIERS[t] for t in res.tier]
    np.testing.assert_allclose(out["score"], res.score, atol=0.006)
    np.testing.assert_allclose(out[[f"c_{k}" for k in KEYS]].sum(axis=1), out["score"], atol=0.03)
    at_risk = out["tier"] != "green"
    assert out.loc[at_risk, "risk_types"].str.len().gt(0).all()
    assert (out.loc[~at_risk, "risk_types"] == "").all() and out.loc[~at_risk, "category"].isna().all()
    former = (frame["household_type"] == "former_poor").to_numpy()
    assert (out.loc[at_risk & former, "category"] == "unstable_former_poor").all()
    red_by_income = frame["income_pc"] < policy.income_line
    assert (out.loc[red_by_income, "tier"] == "red").all() and out.loc[red_by_income, "forced"].all()
