"""Baseline vs scenario: hand-computed transitions and costs, sensitivity signs, weight helpers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fanpin import store
from fanpin.core.indicators import BY_KEY, DIMENSIONS, KEYS
from fanpin.engine import weights as wts
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scenario import (
    DIMENSION_KEYS,
    ahp_dimensions,
    apply_dimension_weights,
    assistance_cost,
    combined_weights,
    compare,
    cost_comparison,
    dimension_weights,
    judgements_from_weights,
    movers_frame,
    nearest_saaty,
    objective_weights,
    scale_dimension,
    sensitivity,
)
from fanpin.engine.scoring import TIERS, RiskPolicy, Scorer, ScoreResult
from tests.core.test_indicators import make_frame

T1, T2 = "990101001000", "990101002000"


def _result(scorer: Scorer, tiers: list[int], counts: list[list[int]], score: list[float] | None = None) -> ScoreResult:
    n = len(tiers)
    return ScoreResult(
        scorer=scorer,
        policy=RiskPolicy.default(),
        score=np.array(score if score is not None else [0.0] * n, dtype=np.float32),
        tier=np.array(tiers, dtype=np.int8),
        forced=np.zeros(n, dtype=np.int8),
        township_counts=np.array(counts),
        township_mean=np.zeros(len(counts)),
    )


@pytest.fixture
def six() -> Scorer:
    """Six households: three in each of two townships."""
    rows = [{"township_code": T1, "village_code": T1[:-3] + "001"}] * 3 + [{"township_code": T2, "village_code": T2[:-3] + "001"}] * 3
    return Scorer.from_frame(make_frame(*rows))


# =========================================================================== compare
def test_transition_matrix_and_townships_by_hand(six: Scorer) -> None:
    # household:       0  1  2  3  4  5      (0-2 in T1, 3-5 in T2; 0 green, 1 yellow, 2 red)
    base_t = [0, 0, 1, 1, 2, 2]
    scen_t = [0, 1, 2, 2, 2, 0]
    # T1 base g2 y1 r0 -> scen g1 y1 r1;  T2 base g0 y1 r2 -> scen g1 y0 r2
    base = _result(six, base_t, [[2, 1, 0], [0, 1, 2]], score=[10, 20, 30, 30, 50, 45])
    scen = _result(six, scen_t, [[1, 1, 1], [1, 0, 2]], score=[11, 26, 41, 42, 55, 20])
    cmp = compare(base, scen)
    expected = np.array(
        [
            [1, 1, 0],  # green -> green (h0), green -> yellow (h1)
            [0, 0, 2],  # yellow -> red (h2, h3)
            [1, 0, 1],  # red -> green (h5), red -> red (h4)
        ]
    )
    np.testing.assert_array_equal(cmp.transition, expected)
    assert cmp.base_counts == {"green": 2, "yellow": 2, "red": 2}
    assert cmp.scen_counts == {"green": 2, "yellow": 1, "red": 3}
    assert cmp.change("red") == 1 and cmp.change("yellow") == -1 and cmp.change("green") == 0
    np.testing.assert_array_equal(cmp.up, [1, 2, 3])
    np.testing.assert_array_equal(cmp.down, [5])
    assert cmp.moved == 4
    np.testing.assert_array_equal(cmp.movers(), [1, 2, 3, 5])
    town = cmp.townships.set_index("township_code")
    assert list(town.index) == [T1, T2]
    assert town.loc[T1, "households"] == 3 and town.loc[T2, "households"] == 3
    assert (town.loc[T1, "red_base"], town.loc[T1, "red_scen"], town.loc[T1, "red_change"]) == (0, 1, 1)
    assert (town.loc[T2, "red_base"], town.loc[T2, "red_scen"], town.loc[T2, "red_change"]) == (2, 2, 0)
    assert (town.loc[T1, "green_change"], town.loc[T2, "green_change"]) == (-1, 1)
    assert (town.loc[T2, "yellow_change"]) == -1

    mv = movers_frame(base, scen, cmp.movers(), village_codes=np.array(["v0", "v1", "v2", "v3", "v4", "v5"], dtype=object))
    assert list(mv["household_id"]) == ["H001", "H002", "H003", "H005"]
    assert list(mv["township_code"]) == [T1, T1, T2, T2]
    assert list(mv["village_code"]) == ["v1", "v2", "v3", "v5"]
    assert list(mv["base_tier"]) == ["green", "yellow", "yellow", "red"]
    assert list(mv["scen_tier"]) == ["yellow", "red", "red", "green"]
    assert list(mv["score_change"]) == [6.0, 11.0, 12.0, -25.0]
    assert not {"name", "id_number", "phone"} & set(mv.columns)


def test_compare_identical_results_moves_nobody(six: Scorer) -> None:
    r = _result(six, [0, 1, 2, 0, 1, 2], [[1, 1, 1], [1, 1, 1]])
    cmp = compare(r, r)
    np.testing.assert_array_equal(cmp.transition, np.diag([2, 2, 2]))
    assert cmp.moved == 0 and (cmp.townships["red_change"] == 0).all()


def test_compare_rejects_different_household_sets(six: Scorer) -> None:
    a = _result(six, [0] * 6, [[3, 0, 0], [3, 0, 0]])
    b = replace(a, tier=np.zeros(5, dtype=np.int8))
    with pytest.raises(ValueError, match="different household sets"):
        compare(a, b)


@pytest.fixture(scope="module")
def demo_scorer(small_demo) -> tuple[Scorer, RiskPolicy, pd.DataFrame]:
    engine, _ = small_demo
    period = store.periods(engine)[-1]
    frame = store.load_snapshot(engine, period)
    return Scorer.from_frame(frame), baseline_policy(engine, period), frame


def test_compare_on_the_demo_matches_pandas(demo_scorer) -> None:
    scorer, policy, frame = demo_scorer
    base = scorer.run(policy).copy()
    scen = scorer.run(replace(policy, income_line=policy.income_line * 1.15, cutoffs=(22.0, 38.0)))
    cmp = compare(base, scen)
    bt = pd.Series(np.array(TIERS)[base.tier])
    st = pd.Series(np.array(TIERS)[scen.tier])
    cross = pd.crosstab(bt, st).reindex(index=TIERS, columns=TIERS, fill_value=0)
    np.testing.assert_array_equal(cmp.transition, cross.to_numpy())
    assert cmp.transition.sum() == len(frame)
    assert cmp.scen_counts == scen.tier_counts() and cmp.base_counts == base.tier_counts()
    by_town = pd.DataFrame({"t": frame["township_code"], "b": base.tier == 2, "s": scen.tier == 2}).groupby("t").sum()
    town = cmp.townships.set_index("township_code")
    np.testing.assert_array_equal(town.loc[by_town.index, "red_change"], by_town["s"] - by_town["b"])
    np.testing.assert_array_equal(cmp.up, np.flatnonzero(scen.tier > base.tier))
    assert cmp.moved > 0  # a higher income line moves households up


# =========================================================================== cost
def test_assistance_cost_by_hand() -> None:
    c = assistance_cost({"red": 10, "yellow": 20, "green": 70}, {"red": 5000, "yellow": 2000})
    assert c.per_tier == {"green": 0.0, "yellow": 40_000.0, "red": 50_000.0}
    assert c.total == 90_000.0
    cc = cost_comparison({"red": 10, "yellow": 20, "green": 70}, {"red": 12, "yellow": 15, "green": 73}, {"red": 5000, "yellow": 2000, "green": 100})
    # base 50,000 + 40,000 + 7,000 = 97,000; scenario 60,000 + 30,000 + 7,300 = 97,300
    assert cc.base.total == 97_000.0 and cc.scenario.total == 97_300.0
    assert cc.difference == 300.0
    assert cc.per_tier_difference() == {"green": 300.0, "yellow": -10_000.0, "red": 10_000.0}


@pytest.mark.parametrize("costs", [{"red": -1}, {"red": float("nan")}, {"purple": 3}])
def test_assistance_cost_rejects_bad_unit_costs(costs: dict) -> None:
    with pytest.raises(ValueError):
        assistance_cost({"red": 1}, costs)


# =========================================================================== sensitivity
def _income_case() -> tuple[Scorer, RiskPolicy, np.ndarray]:
    """Three low-income households (income far below the line) and three at the safe end; no tier rules."""
    low = {"income_pc": 1000.0, "income_pc_12m_ago": 1000.0, "income_net": 4000.0, "income_wage": 4000.0, "income_business": 0.0}
    rich = {"income_pc": 30_000.0, "income_pc_12m_ago": 30_000.0, "income_net": 120_000.0, "income_wage": 110_000.0}  # >= 3x the line
    rows = [low] * 3 + [rich] * 3
    scorer = Scorer.from_frame(make_frame(*rows))
    policy = replace(RiskPolicy.default(income_line=8000.0), forces=())
    return scorer, policy, np.array([True] * 3 + [False] * 3)


def test_more_income_weight_raises_low_income_scores() -> None:
    scorer, policy, low = _income_case()
    s0 = scorer.run(policy).score.copy()
    w = dict(policy.weights)
    s_up = scorer.run(replace(policy, weights={**w, "income_ratio": w["income_ratio"] * 1.2})).score.copy()
    s_down = scorer.run(replace(policy, weights={**w, "income_ratio": w["income_ratio"] * 0.8})).score.copy()
    assert (s_up[low] > s0[low]).all() and (s_down[low] < s0[low]).all()
    assert (s_up[~low] <= s0[~low]).all()  # income at the safe end: its share only dilutes


def test_sensitivity_signs_for_the_income_weight() -> None:
    scorer, policy, low = _income_case()
    s0 = float(scorer.run(policy).score[0])
    w = dict(policy.weights)
    s_up = float(scorer.run(replace(policy, weights={**w, "income_ratio": w["income_ratio"] * 1.2})).score[0])
    assert s_up > s0 + 1.0
    # red just above the low-income households' score: +20% on income pushes exactly them to red
    cut = replace(policy, cutoffs=(1.0, s0 + 0.5))
    sens = sensitivity(scorer, cut, 0.2).set_index("indicator")
    assert sens.loc["income_ratio", "red_plus"] == low.sum()
    assert sens.loc["income_ratio", "red_minus"] == 0
    assert set(sens.index) == {k for k, v in cut.weights.items() if v > 0}
    swing = sens[["red_minus", "red_plus"]].abs().max(axis=1).to_numpy()
    assert (np.diff(swing) <= 0).all()  # sorted by the largest change in red


def test_sensitivity_leaves_the_policy_result_in_the_buffers(demo_scorer) -> None:
    scorer, policy, _ = demo_scorer
    view = scorer.run(policy)
    expected = view.score.copy(), view.tier.copy()
    sensitivity(scorer, policy, 0.2)
    np.testing.assert_array_equal(view.score, expected[0])
    np.testing.assert_array_equal(view.tier, expected[1])


def test_sensitivity_rejects_bad_delta(demo_scorer) -> None:
    scorer, policy, _ = demo_scorer
    with pytest.raises(ValueError):
        sensitivity(scorer, policy, 1.5)


# =========================================================================== weights
@pytest.mark.parametrize("method", ["entropy", "cv", "critic"])
def test_objective_weights_sum_to_one(demo_scorer, method: str) -> None:
    scorer, _, _ = demo_scorer
    w = objective_weights(scorer, method)
    assert list(w) == list(scorer.keys)
    assert all(v >= 0 for v in w.values())
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-9)
    assert sum(v > 0 for v in w.values()) >= 10


def test_objective_weights_use_raw_values_and_catalogue_directions(demo_scorer) -> None:
    scorer, _, _ = demo_scorer
    X = scorer.raw_values(slice(None))
    dirs = [BY_KEY[k].direction for k in scorer.keys]
    np.testing.assert_allclose(list(objective_weights(scorer, "entropy").values()), wts.entropy(X, dirs))
    np.testing.assert_allclose(list(objective_weights(scorer, "critic").values()), wts.critic(X, dirs))
    with pytest.raises(ValueError, match="unknown objective method"):
        objective_weights(scorer, "topsis")


def _policy(weights: dict[str, float]) -> RiskPolicy:
    return replace(RiskPolicy.default(), weights=weights)


def test_dimension_weights_by_hand() -> None:
    p = _policy({"income_ratio": 0.2, "income_change": 0.2, "medical_oop": 0.3, "serious_ill": 0.3})
    d = dimension_weights(p)
    assert list(d) == list(DIMENSIONS)
    assert d["income"] == pytest.approx(0.4) and d["health"] == pytest.approx(0.6)
    assert sum(v for k, v in d.items() if k not in ("income", "health")) == 0
    # unnormalised input gives shares
    assert dimension_weights({"income_ratio": 2.0, "debt_ratio": 6.0})["debt"] == pytest.approx(0.75)


def test_apply_dimension_weights_by_hand() -> None:
    p = _policy({"income_ratio": 0.2, "income_change": 0.2, "medical_oop": 0.1, "serious_ill": 0.5})
    target = dict.fromkeys(DIMENSIONS, 0.0) | {"income": 0.5, "health": 0.3, "education": 0.2}
    q = apply_dimension_weights(p, target)
    w = q.weights
    assert list(w) == list(KEYS)
    assert w["income_ratio"] == pytest.approx(0.25) and w["income_change"] == pytest.approx(0.25)
    assert w["medical_oop"] == pytest.approx(0.05) and w["serious_ill"] == pytest.approx(0.25)  # shares 1:5 kept
    # education had no weight: its indicators share the dimension's weight equally
    assert w["schooling_burden"] == pytest.approx(0.1) and w["students"] == pytest.approx(0.1)
    assert sum(w.values()) == pytest.approx(1.0)
    assert dimension_weights(q)["health"] == pytest.approx(0.3)


def test_apply_dimension_weights_keeps_unnamed_dimensions_and_normalises() -> None:
    p = RiskPolicy.default()
    before = dimension_weights(p)
    q = apply_dimension_weights(p, {"debt": before["debt"] * 2})
    after = dimension_weights(q)
    total = 1 + before["debt"]
    assert after["debt"] == pytest.approx(2 * before["debt"] / total)
    assert after["income"] == pytest.approx(before["income"] / total)
    assert sum(q.weights.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown dimensions"):
        apply_dimension_weights(p, {"wealth": 1.0})


def test_scale_dimension_by_hand() -> None:
    w = {"income_ratio": 0.2, "income_change": 0.1, "debt_ratio": 0.3}
    out = scale_dimension(w, "income", 0.6)
    assert out["income_ratio"] == pytest.approx(0.4) and out["income_change"] == pytest.approx(0.2)
    assert out["transfer_share"] == 0 and out["debt_ratio"] == 0.3  # other dimensions untouched, not normalised
    eq = scale_dimension(w, "education", 0.2)  # all zero before: equal shares
    assert eq["schooling_burden"] == pytest.approx(0.1) and eq["students"] == pytest.approx(0.1)


def test_ahp_dimensions() -> None:
    dims = tuple(DIMENSIONS)
    equal = judgements_from_weights(dict.fromkeys(dims, 1.0), dims)
    assert equal == [1.0] * (len(dims) * (len(dims) - 1) // 2)
    w, res = ahp_dimensions(equal, dims)
    assert list(w) == list(dims) and all(v == pytest.approx(1 / len(dims)) for v in w.values())
    assert res.cr == pytest.approx(0.0, abs=1e-9) and res.acceptable
    # consistent ratios 4:2:1 over three dimensions are recovered exactly
    w3, res3 = ahp_dimensions([2.0, 4.0, 2.0], ("income", "health", "debt"))
    assert w3 == pytest.approx({"income": 4 / 7, "health": 2 / 7, "debt": 1 / 7})
    assert res3.acceptable
    # a circle (income > health > debt > income) is not acceptable
    _, bad = ahp_dimensions([9.0, 1 / 9, 9.0], ("income", "health", "debt"))
    assert bad.cr >= 0.1 and not bad.acceptable


def test_saaty_snapping_and_starting_judgements() -> None:
    assert nearest_saaty(2.9) == 3.0 and nearest_saaty(0.3) == pytest.approx(1 / 3) and nearest_saaty(50) == 9.0
    assert nearest_saaty(1.0) == 1.0 and nearest_saaty(0.0) == 1.0
    dims = tuple(DIMENSIONS)
    start = dimension_weights(RiskPolicy.default())
    j = judgements_from_weights(start, dims)
    assert all(v in wts.saaty_scale for v in j)
    w, res = ahp_dimensions(j, dims)
    assert res.acceptable
    assert max(w, key=w.get) == max(start, key=start.get) == "income"


def test_combined_weights() -> None:
    s = {"income_ratio": 3.0, "debt_ratio": 1.0}
    o = {"income_ratio": 0.0, "debt_ratio": 0.5, "students": 0.5}
    assert combined_weights(s, o, 1.0)["income_ratio"] == pytest.approx(0.75)
    assert combined_weights(s, o, 0.0)["students"] == pytest.approx(0.5)
    half = combined_weights(s, o, 0.5)
    assert half["income_ratio"] == pytest.approx(0.375) and half["debt_ratio"] == pytest.approx(0.375) and half["students"] == pytest.approx(0.25)
    assert sum(half.values()) == pytest.approx(1.0) and list(half) == list(KEYS)
    with pytest.raises(wts.WeightError):
        combined_weights(s, o, 1.5)


def test_dimension_keys_cover_the_catalogue() -> None:
    assert sorted(k for keys in DIMENSION_KEYS.values() for k in keys) == sorted(KEYS)
