"""Tests for fanpin.engine.weights: hand-computed cases, rejections, properties, and cross-checks
against independent implementations (pymcdm, scipy, pandas, closed forms)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pymcdm.weights as pw
import pytest
import scipy.stats
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pymcdm.weights.subjective import AHP as PymcdmAHP

from fanpin.engine.weights import (
    RANDOM_INDEX,
    AHPResult,
    NoInformationError,
    WeightError,
    ahp,
    ahp_from_upper,
    combine,
    combine_multiplicative,
    critic,
    cv,
    entropy,
    hierarchical,
    normalise,
    saaty_scale,
    upper_to_matrix,
)

FAST = settings(max_examples=int(__import__("os").environ.get("WEIGHTS_EXAMPLES", 60)), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def raises(msg: str, exc: type[Exception] = WeightError):
    return pytest.raises(exc, match=re.escape(msg))


# =============================================================================================
# AHP: hand-computed cases

def test_ahp_consistent_3x3():
    # a_ij = w_i / w_j with w = (4, 2, 1): eigenvector is w / 7, lambda_max = n = 3, CI = CR = 0
    r = ahp([[1, 2, 4], [1 / 2, 1, 2], [1 / 4, 1 / 2, 1]])
    assert isinstance(r, AHPResult)
    np.testing.assert_allclose(r.weights, [4 / 7, 2 / 7, 1 / 7], rtol=1e-12)
    assert r.lambda_max == pytest.approx(3.0, abs=1e-12)
    assert r.ci == pytest.approx(0.0, abs=1e-12)
    assert r.cr == pytest.approx(0.0, abs=1e-12)
    assert r.acceptable


def test_ahp_textbook_inconsistent_3x3():
    # [[1,3,5],[1/3,1,3],[1/5,1/3,1]]. For a 3x3 reciprocal matrix the characteristic polynomial
    # gives lambda_max = 1 + c^(1/3) + c^(-1/3) with c = a12*a23/a13 = 9/5:
    #   1.8^(1/3) = 1.216440, 1.8^(-1/3) = 0.822071  ->  lambda_max = 3.038511
    # CI = 0.038511 / 2 = 0.019256, CR = 0.019256 / 0.58 = 0.033199 (< 0.1: acceptable).
    # For n = 3 the eigenvector equals the row geometric mean: (15^(1/3), 1, 15^(-1/3))
    #   = (2.466212, 1, 0.405480), sum 3.871692 -> (0.636986, 0.258285, 0.104729).
    r = ahp([[1, 3, 5], [1 / 3, 1, 3], [1 / 5, 1 / 3, 1]])
    c = 9 / 5
    lam = 1 + c ** (1 / 3) + c ** (-1 / 3)
    assert r.lambda_max == pytest.approx(lam, rel=1e-12)
    assert r.lambda_max == pytest.approx(3.0385, abs=1e-4)
    assert r.ci == pytest.approx((lam - 3) / 2, rel=1e-9)
    assert r.cr == pytest.approx((lam - 3) / 2 / 0.58, rel=1e-9)
    assert r.cr == pytest.approx(0.0332, abs=1e-4)
    assert r.acceptable
    g = np.array([15 ** (1 / 3), 1, 15 ** (-1 / 3)])
    np.testing.assert_allclose(r.weights, g / g.sum(), rtol=1e-10)
    np.testing.assert_allclose(r.weights, [0.636986, 0.258285, 0.104729], atol=1e-6)


def test_ahp_unacceptable_cr():
    # a12 = 9, a23 = 9, a13 = 1/9 (i >> j >> k but k >> i): c = 729, lambda = 1 + 9 + 1/9
    r = ahp_from_upper([9, 1 / 9, 9], 3)
    assert r.lambda_max == pytest.approx(1 + 9 + 1 / 9, rel=1e-10)
    assert r.cr == pytest.approx((r.lambda_max - 3) / 2 / 0.58, rel=1e-10)
    assert not r.acceptable


def test_ahp_n1_and_n2():
    r1 = ahp([[1]])
    np.testing.assert_array_equal(r1.weights, [1.0])
    assert (r1.ci, r1.cr, r1.acceptable) == (0.0, 0.0, True)
    # n = 2: [[1,3],[1/3,1]] -> w = (3/4, 1/4), always consistent
    r2 = ahp([[1, 3], [1 / 3, 1]])
    np.testing.assert_allclose(r2.weights, [0.75, 0.25], rtol=1e-12)
    assert (r2.lambda_max, r2.ci, r2.cr, r2.acceptable) == (2.0, 0.0, 0.0, True)


def test_ahp_random_index_table_and_beyond_11():
    assert [RANDOM_INDEX[n] for n in range(3, 12)] == [0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49, 1.51]
    rng = np.random.default_rng(1)
    for n in (4, 7, 12, 14):
        w = rng.uniform(1, 9, n)
        a = np.outer(w, 1 / w)
        a[0, 1] *= 2  # break consistency, keep reciprocity
        a[1, 0] /= 2
        r = ahp(a)
        assert r.ci > 0
        assert r.cr == pytest.approx(r.ci / (RANDOM_INDEX[n] if n <= 11 else 1.51), rel=1e-12)


def test_ahp_from_upper_row_by_row():
    # n = 3 order: a01, a02, a12
    a = upper_to_matrix([2, 4, 2], 3)
    np.testing.assert_allclose(a, [[1, 2, 4], [1 / 2, 1, 2], [1 / 4, 1 / 2, 1]])
    np.testing.assert_allclose(ahp_from_upper([2, 4, 2], 3).weights, [4 / 7, 2 / 7, 1 / 7])
    a4 = upper_to_matrix([1, 2, 3, 4, 5, 6], 4)
    assert (a4[0, 3], a4[1, 2], a4[1, 3], a4[2, 3], a4[3, 2]) == (3, 4, 5, 6, 1 / 6)
    np.testing.assert_array_equal(upper_to_matrix([], 1), [[1.0]])


def test_saaty_scale():
    assert len(saaty_scale) == 17
    assert saaty_scale[0] == pytest.approx(1 / 9) and saaty_scale[8] == 1.0 and saaty_scale[-1] == 9.0
    assert list(saaty_scale) == sorted(saaty_scale)
    for v, rv in zip(saaty_scale, reversed(saaty_scale)):
        assert v * rv == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("matrix", "msg"),
    [
        ([[1, 2, 3], [0.5, 1, 2]], "pairwise matrix must be square (n x n, n >= 1), got shape (2, 3)"),
        ([1, 2], "pairwise matrix must be square (n x n, n >= 1), got shape (2,)"),
        ([], "pairwise matrix must be square"),
        ([[1, -2], [-0.5, 1]], "matrix[0,1]=-2 must be a positive finite number"),
        ([[1, 0], [0, 1]], "matrix[0,1]=0 must be a positive finite number"),
        ([[1, 2], [np.nan, 1]], "matrix[1,0]=nan must be a positive finite number"),
        ([[1, np.inf], [0, 1]], "matrix[0,1]=inf must be a positive finite number"),
        ([[1, 2], [0.5, 2]], "matrix[1,1]=2 but a diagonal entry must be 1"),
        ([[1, 2, 3], [0.5, 1, 2], [0.5, 0.5, 1]], "matrix[0,2]=3 but matrix[2,0]=0.5, expected 1/3"),
        ([[1, 0.5], [3, 1]], "matrix[0,1]=0.5 but matrix[1,0]=3, expected 2"),
        ([["a", 1], [1, 1]], "pairwise matrix must be numbers"),
    ],
)
def test_ahp_rejections(matrix, msg):
    with raises(msg):
        ahp(matrix)


def test_ahp_reciprocal_tolerance():
    ahp([[1, 3], [0.3333333, 1]])  # within rtol 1e-6 of 1/3
    with raises("expected 1/3"):
        ahp([[1, 3], [0.3333, 1]])
    assert issubclass(WeightError, ValueError)


@pytest.mark.parametrize(
    ("values", "n", "msg"),
    [
        ([2, 3], 3, "expected 3 upper-triangle judgements for n=3, got 2"),
        ([2], 1, "expected 0 upper-triangle judgements for n=1, got 1"),
        ([2, 0, 3], 3, "judgement 1 (matrix[0,2])=0 must be a positive finite number"),
        ([2, 3, -1], 3, "judgement 2 (matrix[1,2])=-1 must be a positive finite number"),
        ([2], 0, "n must be a positive integer, got 0"),
        ([2], 2.0, "n must be a positive integer, got 2.0"),
    ],
)
def test_ahp_from_upper_rejections(values, n, msg):
    with raises(msg):
        ahp_from_upper(values, n)


# AHP cross-checks on random matrices ---------------------------------------------------------

def _power_iteration(a: np.ndarray, iters: int = 2000) -> tuple[np.ndarray, float]:
    v = np.ones(a.shape[0]) / a.shape[0]
    for _ in range(iters):
        v2 = a @ v
        v2 /= v2.sum()
        if np.abs(v2 - v).max() < 1e-15:
            break
        v = v2
    return v2, float((a @ v2).sum())  # sum(A v) / sum(v) with sum(v) = 1


@FAST
@given(st.lists(st.floats(0.1, 10.0), min_size=1, max_size=12))
def test_ahp_consistent_matrices_match_geometric_mean(w):
    # a_ij = w_i / w_j: eigenvector and row geometric mean both equal w / sum(w) exactly
    w = np.array(w)
    a = np.outer(w, 1 / w)
    r = ahp(a)
    gm = np.exp(np.log(a).mean(axis=1))
    np.testing.assert_allclose(r.weights, gm / gm.sum(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(r.weights, w / w.sum(), rtol=1e-8, atol=1e-12)
    assert r.lambda_max == pytest.approx(len(w), rel=1e-9)
    assert r.cr == pytest.approx(0.0, abs=1e-8)
    assert r.acceptable


@FAST
@given(st.integers(3, 9).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.integers(0, 16), min_size=n * (n - 1) // 2,
                                             max_size=n * (n - 1) // 2))))
def test_ahp_saaty_matrices_match_power_iteration_and_pymcdm(case):
    n, idx = case
    a = upper_to_matrix([saaty_scale[i] for i in idx], n)
    r = ahp(a)
    v, lam = _power_iteration(a)
    np.testing.assert_allclose(r.weights, v, rtol=1e-7, atol=1e-10)
    assert r.lambda_max == pytest.approx(lam, rel=1e-9)
    assert r.weights.min() > 0 and r.weights.sum() == pytest.approx(1.0)
    # pymcdm's AHP: same eigenvector method. Its CR uses another RI table (Tummala & Ling:
    # 0.5799, 0.8921, ...), so compare CI = CR_pymcdm * RI_pymcdm instead of CR.
    p = PymcdmAHP(matrix=a)
    np.testing.assert_allclose(r.weights, p(), rtol=1e-8, atol=1e-12)
    ci_p = p.get_cr() * PymcdmAHP.RI_M[n - 1]
    assert r.ci == pytest.approx(max(ci_p, 0.0), abs=1e-10)
    assert r.cr == pytest.approx(r.ci / RANDOM_INDEX[n])
    assert r.acceptable == (r.cr < 0.1)


def test_hierarchical():
    # income 0.6 x (3/4, 1/4) ; health 0.4 x 1
    g = hierarchical({"income": 0.6, "health": 0.4},
                     {"income": {"income_pc": 3, "wage": 1}, "health": {"illness": 1}})
    assert list(g) == ["income_pc", "wage", "illness"]
    assert g == pytest.approx({"income_pc": 0.45, "wage": 0.15, "illness": 0.4})
    # dimension weights are normalised too (e.g. straight from ahp on a 2-level hierarchy)
    g2 = hierarchical({"a": 2, "b": 2}, {"a": {"x": 1, "y": 1}, "b": {"z": 5}})
    assert g2 == pytest.approx({"x": 0.25, "y": 0.25, "z": 0.5})
    assert sum(g2.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("dims", "within", "msg"),
    [
        ({"a": 1}, {"a": {"x": 1}, "b": {"y": 1}}, "unknown dimension 'b' in local weights"),
        ({"a": 1, "b": 1}, {"a": {"x": 1}}, "dimension 'b' has a weight but no indicators"),
        ({"a": 1}, {"a": {}}, "dimension 'a' has no indicators"),
        ({"a": 1, "b": 1}, {"a": {"x": 1}, "b": {"x": 1}}, "indicator 'x' appears in more than one dimension"),
        ({"a": -1}, {"a": {"x": 1}}, "dimension weights[0]=-1 is negative"),
        ({"a": 1}, {"a": {"x": 0, "y": 0}}, "local weights of 'a' are all zero"),
    ],
)
def test_hierarchical_rejections(dims, within, msg):
    with raises(msg):
        hierarchical(dims, within)


# =============================================================================================
# objective weights: hand-computed 4 x 2 (and 4 x 3 for CRITIC)

# column A (direction +1) = 0, 1, 2, 3 ; column B (direction -1) = 8, 6, 2, 0
X42 = np.array([[0, 8], [1, 6], [2, 2], [3, 0]], dtype=float)
D42 = np.array([1, -1])


def test_entropy_by_hand():
    # A: x' = (x - 0)/3 = 0, 1/3, 2/3, 1 ; sum 2 ; p = 0, 1/6, 1/3, 1/2
    #    H = 1/6 ln 6 + 1/3 ln 3 + 1/2 ln 2 = 0.298627 + 0.366204 + 0.346574 = 1.011404
    #    e = H / ln 4 = 1.011404 / 1.386294 = 0.729574 ; d = 0.270426
    # B (cost): x' = (8 - x)/8 = 0, 1/4, 3/4, 1 ; sum 2 ; p = 0, 1/8, 3/8, 1/2
    #    H = 1/8 ln 8 + 3/8 ln(8/3) + 1/2 ln 2 = 0.259930 + 0.367811 + 0.346574 = 0.974315
    #    e = 0.702820 ; d = 0.297180
    # w = (0.270426, 0.297180) / 0.567606 = (0.476432, 0.523568)
    d_a = 1 - (math.log(6) / 6 + math.log(3) / 3 + math.log(2) / 2) / math.log(4)
    d_b = 1 - (math.log(8) / 8 + 3 / 8 * math.log(8 / 3) + math.log(2) / 2) / math.log(4)
    w = entropy(X42, D42)
    np.testing.assert_allclose(w, np.array([d_a, d_b]) / (d_a + d_b), rtol=1e-12)
    np.testing.assert_allclose(w, [0.476432, 0.523568], atol=2e-6)


def test_entropy_missing_value_by_hand():
    # A = nan, 1, 2, 3: uses the 3 present values, n_A = 3: x' = 0, 1/2, 1 ; p = 0, 1/3, 2/3
    #    H = 1/3 ln 3 + 2/3 ln(3/2) = 0.366204 + 0.270310 = 0.636514 ; e = H / ln 3 = 0.579380
    #    d = 0.420620 ; B as above d = 0.297180 -> w = (0.585985, 0.414015)
    x = X42.copy()
    x[0, 0] = np.nan
    d_a = 1 - (math.log(3) / 3 + 2 / 3 * math.log(1.5)) / math.log(3)
    d_b = 1 - (math.log(8) / 8 + 3 / 8 * math.log(8 / 3) + math.log(2) / 2) / math.log(4)
    np.testing.assert_allclose(entropy(x, D42), np.array([d_a, d_b]) / (d_a + d_b), rtol=1e-12)
    np.testing.assert_allclose(entropy(x, D42), [0.585985, 0.414015], atol=2e-6)


def test_cv_by_hand():
    # A: mean 1.5, population var (2.25 + .25 + .25 + 2.25)/4 = 1.25, std 1.118034, cv = sqrt(5)/3 = 0.745356
    # B: mean 4, var (16 + 4 + 4 + 16)/4 = 10, std 3.162278, cv = sqrt(10)/4 = 0.790569
    # w = (0.745356, 0.790569) / 1.535925 = (0.485281, 0.514719); direction is not used
    cva, cvb = math.sqrt(5) / 3, math.sqrt(10) / 4
    np.testing.assert_allclose(cv(X42), [cva / (cva + cvb), cvb / (cva + cvb)], rtol=1e-12)
    np.testing.assert_allclose(cv(X42), [0.485281, 0.514719], atol=1e-6)


def test_critic_by_hand():
    # standardised: A' = 0, 1/3, 2/3, 1 ; B' (cost) = 0, 1/4, 3/4, 1 ; C' = 1, 0, 0, 1
    # std (population): A' sqrt(5/36) = 0.372678, B' sqrt(5/32) = 0.395285, C' 0.5
    # cov(A',B') = mean((-1/2)(-1/2), (-1/6)(-1/4), (1/6)(1/4), (1/2)(1/2)) = (7/12)/4 = 7/48
    # r_AB = (7/48) / (0.372678 * 0.395285) = 7 sqrt(2) / 10 = 0.989949
    # r_AC = mean(-1/4, 1/12, -1/12, 1/4)/... = 0 ; r_BC = mean(-1/4, 1/8, -1/8, 1/4) = 0
    # C_A = 0.372678 * ((1 - 0.989949) + 1) = 0.376424
    # C_B = 0.395285 * ((1 - 0.989949) + 1) = 0.399258
    # C_C = 0.5 * (1 + 1) = 1 ;  sum = 1.775682 -> w = (0.211988, 0.224848, 0.563165)
    x = np.column_stack([X42, [1, 0, 0, 1]])
    r_ab = 7 * math.sqrt(2) / 10
    c = np.array([math.sqrt(5 / 36) * (2 - r_ab), math.sqrt(5 / 32) * (2 - r_ab), 1.0])
    w = critic(x, [1, -1, 1])
    np.testing.assert_allclose(w, c / c.sum(), rtol=1e-12)
    np.testing.assert_allclose(w, [0.211988, 0.224848, 0.563165], atol=3e-6)
    # with only two columns the conflict term is shared, so weights are proportional to std
    w2 = critic(X42, D42)
    s = np.array([math.sqrt(5 / 36), math.sqrt(5 / 32)])
    np.testing.assert_allclose(w2, s / s.sum(), rtol=1e-12)
    # direction matters for CRITIC: B as a benefit column correlates negatively with A
    # (r = -0.989949), so both get large conflict 1 - r = 1.989949
    assert critic(X42, [1, 1]) == pytest.approx(s / s.sum())  # shared term again, only std


# edge-case rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["entropy", "cv", "critic"])
def test_constant_and_sparse_columns_get_zero_and_do_not_disturb_others(method):
    f = {"entropy": lambda x, d: entropy(x, d), "cv": lambda x, d: cv(x),
         "critic": lambda x, d: critic(x, d)}[method]
    base = np.column_stack([X42, [1, 0, 0, 1]])
    d = np.array([1, -1, 1])
    w0 = f(base, d)
    const = np.full(4, 7.0)
    single = np.array([np.nan, 5.0, np.nan, np.nan])
    empty = np.full(4, np.nan)
    x = np.column_stack([const, base[:, 0], single, base[:, 1], empty, base[:, 2]])
    w = f(x, np.array([1, 1, -1, -1, 1, 1]))
    np.testing.assert_array_equal(w[[0, 2, 4]], 0.0)
    np.testing.assert_allclose(w[[1, 3, 5]], w0, rtol=1e-12)


@pytest.mark.parametrize("method", ["entropy", "cv", "critic"])
def test_no_information_raises(method):
    f = {"entropy": entropy, "cv": lambda x, d: cv(x), "critic": critic}[method]
    x = np.array([[3.0, np.nan], [3.0, 1.0], [3.0, np.nan]])
    with raises("no indicator column carries information (column 0: constant; "
                "column 1: 1 non-missing value)", NoInformationError):
        f(x, [1, 1])
    with pytest.raises(NoInformationError):  # a single household
        f(np.array([[1.0, 2.0]]), [1, 1])
    assert issubclass(NoInformationError, WeightError)


def test_cv_zero_mean_column_gets_zero():
    x = np.column_stack([[-1.0, 1.0, -2.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(cv(x), [0.0, 1.0])
    with raises("column 0: mean 0", NoInformationError):
        cv(x[:, :1])


def test_critic_degenerate_conflict():
    # one informative column: CRITIC's conflict is 0, it takes all the weight
    x = np.column_stack([[1.0, 1, 1, 1], [1.0, 2, 3, 5]])
    np.testing.assert_array_equal(critic(x, [1, 1]), [0.0, 1.0])
    # two perfectly correlated informative columns share equally
    x2 = np.column_stack([[1.0, 2, 3, 5], [10.0, 20, 30, 50], [4.0, 4, 4, 4]])
    np.testing.assert_allclose(critic(x2, [1, 1, 1]), [0.5, 0.5, 0.0], atol=1e-9)


@pytest.mark.parametrize("method", [entropy, critic])
def test_data_rejections(method):
    with raises("data matrix must be 2-D (households x indicators), got shape (3,)"):
        method(np.ones(3), [1])
    with raises("directions has shape (1,), expected (2,) for 2 indicators"):
        method(X42, [1])
    with raises("directions[1]=0; must be +1 (higher = riskier) or -1 (higher = safer)"):
        method(X42, [1, 0])
    x = X42.copy()
    x[2, 1] = np.inf
    with raises("column 1 contains an infinite value; use NaN for missing values"):
        method(x, D42)
    with raises("column 1 contains an infinite value"):
        cv(x)


# properties -----------------------------------------------------------------------------------

def data(min_rows=2, max_rows=30, max_cols=6, lo=-1e3, hi=1e3, nan=False, integers=False):
    elems = st.integers(int(lo), int(hi)).map(float) if integers else st.floats(lo, hi, allow_subnormal=False)
    if nan:
        elems = st.one_of(elems, st.just(np.nan))
    return st.tuples(st.integers(min_rows, max_rows), st.integers(1, max_cols)).flatmap(
        lambda s: st.tuples(hnp.arrays(np.float64, s, elements=elems),
                            hnp.arrays(np.int64, (s[1],), elements=st.sampled_from([1, -1]))))


def _informative(x: np.ndarray) -> bool:
    ok = np.isfinite(x)
    return any(ok[:, j].sum() >= 2 and np.ptp(x[ok[:, j], j]) > 0 for j in range(x.shape[1]))


@FAST
@given(data(nan=True))
def test_objective_weights_are_a_distribution(case):
    x, d = case
    for f in (lambda: entropy(x, d), lambda: cv(x), lambda: critic(x, d)):
        try:
            w = f()
        except NoInformationError:
            continue
        assert w.shape == (x.shape[1],)
        assert np.all(w >= 0)
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
    if not _informative(x):
        for f in (lambda: entropy(x, d), lambda: critic(x, d)):
            with pytest.raises(NoInformationError):
                f()


@FAST
@given(data(min_rows=2, lo=0, hi=100, integers=True), st.data())  # integers: no gaps a shift could round away
def test_entropy_invariant_to_positive_affine_maps_and_flips(case, draw):
    x, d = case
    assume(_informative(x))
    m = x.shape[1]
    a = np.array(draw.draw(st.lists(st.floats(0.5, 50), min_size=m, max_size=m)))
    b = np.array(draw.draw(st.lists(st.floats(-1e3, 1e3), min_size=m, max_size=m)))
    w = entropy(x, d)
    np.testing.assert_allclose(entropy(x * a + b, d), w, atol=1e-9)
    # x -> -x with the direction flipped describes the same indicator
    np.testing.assert_allclose(entropy(-x, -d), w, atol=1e-12)
    np.testing.assert_allclose(critic(x * a + b, d), critic(x, d), atol=1e-9)


def _entropy_reference(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Per column with scipy.stats.entropy (which normalises p itself), NaN dropped."""
    div = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        c = x[~np.isnan(x[:, j]), j]
        if c.size < 2 or np.ptp(c) == 0:
            continue
        z = (c - c.min()) / np.ptp(c) if d[j] > 0 else (c.max() - c) / np.ptp(c)
        div[j] = 1 - scipy.stats.entropy(z) / math.log(c.size)
    return div / div.sum()


@FAST
@given(data(nan=True))
def test_nan_handling_matches_per_column_reference(case):
    x, d = case
    assume(_informative(x))
    np.testing.assert_allclose(entropy(x, d), _entropy_reference(x, d), rtol=1e-9, atol=1e-12)
    # an all-missing household changes nothing
    x2 = np.vstack([x, np.full(x.shape[1], np.nan)])
    np.testing.assert_allclose(entropy(x2, d), entropy(x, d), rtol=1e-12)
    np.testing.assert_allclose(critic(x2, d), critic(x, d), rtol=1e-9, atol=1e-12)


def _critic_reference_pandas(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """CRITIC with pandas' pairwise-complete DataFrame.corr(); rules as documented."""
    m = x.shape[1]
    keep = [j for j in range(m) if (~np.isnan(x[:, j])).sum() >= 2 and np.nanmax(x[:, j]) > np.nanmin(x[:, j])]
    z = pd.DataFrame({j: (x[:, j] - np.nanmin(x[:, j])) / (np.nanmax(x[:, j]) - np.nanmin(x[:, j]))
                      if d[j] > 0 else (np.nanmax(x[:, j]) - x[:, j]) / (np.nanmax(x[:, j]) - np.nanmin(x[:, j]))
                      for j in keep})
    r = z.corr(method="pearson").fillna(0.0).to_numpy().copy()
    np.fill_diagonal(r, 1.0)
    c = z.std(ddof=0).to_numpy() * (1 - r).sum(axis=1)
    w = np.zeros(m)
    w[keep] = c if c.sum() > 0 else 1.0
    return w / w.sum()


@FAST
@given(data(min_rows=6, lo=0, hi=100, nan=True))
def test_critic_pairwise_complete_matches_pandas(case):
    x, d = case
    assume(_informative(x))
    # keep away from pairs that are constant or perfectly correlated on their common rows, where
    # the two one-pass/two-pass computations legitimately differ by rounding
    z = pd.DataFrame(x)
    r = z.corr().to_numpy()
    off = r[~np.eye(len(r), dtype=bool)]
    assume(np.all(np.isnan(off) | (np.abs(off) < 1 - 1e-6)))
    counts = (~np.isnan(x)).astype(int)
    pair_n = counts.T @ counts
    for j in range(x.shape[1]):  # a column's own spread: none, or clearly more than rounding
        own = x[~np.isnan(x[:, j]), j]
        if own.size >= 2:
            assume(np.ptp(own) == 0 or np.ptp(own) > 1e-3)
    for j in range(x.shape[1]):
        for k in range(j + 1, x.shape[1]):
            both = ~np.isnan(x[:, j]) & ~np.isnan(x[:, k])
            if pair_n[j, k] >= 2:
                assume(np.ptp(x[both, j]) == 0 or np.ptp(x[both, j]) > 1e-3)
                assume(np.ptp(x[both, k]) == 0 or np.ptp(x[both, k]) > 1e-3)
    np.testing.assert_allclose(critic(x, d), _critic_reference_pandas(x, d), rtol=1e-6, atol=1e-9)


# cross-checks against pymcdm ------------------------------------------------------------------
#
# pymcdm 1.4 (pymcdm.weights):
# * entropy_weights(X): sum-normalises the *raw* columns (no min-max, no direction) and rejects
#   any value <= 0 (sum_normalization raises; its "column containing 0 -> entropy 0" branch is then
#   unreachable), whereas min-max standardisation always yields a 0 and the DESIGN uses 0 ln 0 = 0.
#   Our DESIGN formula = pymcdm's entropy of our min-max standardised matrix, so we feed it that
#   matrix with the zeros replaced by 1e-300: p ln p -> 0 as p -> 0, so this changes each entropy
#   by < 1e-290. A constant column standardises to all ones (e = 1, d = 0),
#   which is our "weight 0" rule.
# * standard_deviation_weights(X): w ∝ std(ddof=1). CV = std/|mean|, so we feed X / |mean_j|;
#   ddof=1 vs our ddof=0 multiplies every column by the same sqrt(n/(n-1)) (no NaN), which cancels.
# * critic_weights(X): min-max (profit only) then std(ddof=1) * sum(1 - pearson). Directions are
#   folded in by passing X * directions ((max - x)/range is the min-max of -x). ddof cancels again.
#   It returns NaN for constant columns (0/0 correlation), so those cases are excluded.
# * variance_weights / gini / merec / ... are different methods and not used.

def _minmax(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    z = np.ones_like(x)
    for j in range(x.shape[1]):
        rng = np.ptp(x[:, j])
        if rng > 0:
            z[:, j] = (x[:, j] - x[:, j].min()) / rng if d[j] > 0 else (x[:, j].max() - x[:, j]) / rng
    return z


@FAST
@given(data(min_rows=2))
def test_entropy_matches_pymcdm(case):
    x, d = case
    assume(_informative(x))
    z = _minmax(x, d)
    z[z == 0] = 1e-300
    np.testing.assert_allclose(entropy(x, d), pw.entropy_weights(z), rtol=1e-9, atol=1e-12)


@FAST
@given(data(min_rows=2, lo=1, hi=1e4))
def test_cv_matches_pymcdm_standard_deviation_weights(case):
    x, _ = case
    assume(_informative(x))
    ref = pw.standard_deviation_weights(x / np.abs(x.mean(axis=0)))
    np.testing.assert_allclose(cv(x), ref, rtol=1e-9, atol=1e-9)


@FAST
@given(data(min_rows=4, lo=0, hi=100))
def test_critic_matches_pymcdm(case):
    x, d = case
    assume(x.shape[1] >= 2 and np.all(np.ptp(x, axis=0) > 1e-3))
    r = np.corrcoef(x, rowvar=False)
    assume(np.all(np.abs(r[~np.eye(len(r), dtype=bool)]) < 1 - 1e-6))
    with np.errstate(all="ignore"):
        ref = pw.critic_weights(x * d)
    np.testing.assert_allclose(critic(x, d), ref, rtol=1e-7, atol=1e-10)


def test_pymcdm_entropy_needs_zero_substitution():
    # why the 1e-300 substitution above is needed, and that it reproduces the hand-computed case
    z = _minmax(X42, D42)
    with pytest.raises(ValueError, match="positive"):
        pw.entropy_weights(z)
    z[z == 0] = 1e-300
    np.testing.assert_allclose(pw.entropy_weights(z), entropy(X42, D42), rtol=1e-12)


# =============================================================================================
# combination and normalisation

def test_normalise():
    w, scaled = normalise([1, 1, 2])
    np.testing.assert_allclose(w, [0.25, 0.25, 0.5])
    assert scaled
    w, scaled = normalise(np.array([0.2, 0.3, 0.5]))
    np.testing.assert_allclose(w, [0.2, 0.3, 0.5])
    assert not scaled
    assert normalise([0.5, 0.5 + 1e-12])[1] is False


@pytest.mark.parametrize(
    ("w", "msg"),
    [
        ([0.5, -0.1], "weights[1]=-0.1 is negative; weights must be >= 0"),
        ([0.5, np.nan], "weights[1]=nan is not a finite number"),
        ([0, 0, 0], "weights are all zero; at least one weight must be positive"),
        ([], "weights must be a non-empty 1-D sequence, got shape (0,)"),
        ([[1, 2]], "weights must be a non-empty 1-D sequence, got shape (1, 2)"),
    ],
)
def test_normalise_rejections(w, msg):
    with raises(msg):
        normalise(w)


def test_combine_by_hand_and_endpoints():
    s, o = [2, 1, 1], [0.1, 0.3, 0.6]  # s normalises to (0.5, 0.25, 0.25)
    # 0.3 * (0.5, .25, .25) + 0.7 * (.1, .3, .6) = (0.22, 0.285, 0.495)
    np.testing.assert_allclose(combine(s, o, 0.3), [0.22, 0.285, 0.495])
    np.testing.assert_allclose(combine(s, o, 1), [0.5, 0.25, 0.25])
    np.testing.assert_allclose(combine(s, o, 0), o)
    # multiplicative: (0.05, 0.075, 0.15) / 0.275
    np.testing.assert_allclose(combine_multiplicative(s, o), np.array([0.05, 0.075, 0.15]) / 0.275)


@FAST
@given(st.integers(1, 8).flatmap(lambda m: st.tuples(
    st.lists(st.floats(0, 10), min_size=m, max_size=m).filter(lambda v: sum(v) > 1e-3),
    st.lists(st.floats(0, 10), min_size=m, max_size=m).filter(lambda v: sum(v) > 1e-3))),
    st.floats(0, 1))
def test_combine_properties(pair, alpha):
    s, o = pair
    sn, on = normalise(s)[0], normalise(o)[0]
    w = combine(s, o, alpha)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w, alpha * sn + (1 - alpha) * on, atol=1e-12)
    np.testing.assert_allclose(combine(s, o, 1.0), sn, rtol=1e-15)
    np.testing.assert_allclose(combine(s, o, 0.0), on, rtol=1e-15)
    if np.dot(sn, on) > 0:
        wm = combine_multiplicative(s, o)
        assert np.all(wm >= 0) and wm.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(wm, sn * on / np.dot(sn, on), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("alpha", [-0.1, 1.1, float("nan"), "x", None])
def test_combine_rejects_alpha(alpha):
    with raises("alpha must be"):
        combine([1, 1], [1, 1], alpha)


def test_combine_rejections():
    with raises("subjective weights have shape (2,) but objective weights (3,)"):
        combine([1, 1], [1, 1, 1], 0.5)
    with raises("subjective weights have shape (2,) but objective weights (3,)"):
        combine_multiplicative([1, 1], [1, 1, 1])
    with raises("subjective[0]=-1 is negative"):
        combine([-1, 2], [1, 1], 0.5)
    with raises("objective[1]=-1 is negative"):
        combine_multiplicative([1, 2], [1, -1])
    with raises("no indicator has both a positive subjective and a positive objective weight"):
        combine_multiplicative([1, 0], [0, 1])


# =============================================================================================
# scale (speed is measured in bench/, never asserted here)

def test_one_million_households_twenty_indicators_runs():
    rng = np.random.default_rng(7)
    x = np.asfortranarray(rng.random((1_000_000, 20)))
    x[::9, 4] = np.nan
    d = np.where(np.arange(20) % 3 == 0, -1, 1)
    for f in (lambda: entropy(x, d), lambda: cv(x), lambda: critic(x, d)):
        w = f()
        assert w.sum() == pytest.approx(1.0)
        assert (w > 0).all()
