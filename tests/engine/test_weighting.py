"""The weight-mode choice: each mode's weights, the rescaled flag, and the failures an analyst fixes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fanpin.core.indicators import DIMENSIONS, KEYS
from fanpin.engine import weights as wts
from fanpin.engine.scenario import apply_dimension_weights, combined_weights, dimension_weights, judgements_from_weights
from fanpin.engine.scoring import RiskPolicy
from fanpin.engine.weighting import MODES, PAIRS, choose_weights

HAND = {"income_ratio": 0.6, "debt_ratio": 0.3, "medical_burden": 0.23}  # sums to 1.13
OBJECTIVE = {"income_ratio": 0.1, "debt_ratio": 0.4, "students": 0.5}


def _objective(asked: list[str]):
    def lookup(method: str) -> dict[str, float]:
        asked.append(method)
        return dict(OBJECTIVE)

    return lookup


def test_modes_and_pairs() -> None:
    assert MODES == ("hand", "ahp", "entropy", "cv", "critic", "combined")
    n = len(DIMENSIONS)
    assert len(PAIRS) == n * (n - 1) // 2 and PAIRS[0] == (0, 1) and PAIRS[n - 1] == (1, 2)


def test_by_hand_weights_are_rescaled_and_say_so() -> None:
    asked: list[str] = []
    c = choose_weights("hand", HAND, objective=_objective(asked))
    assert c.ok and c.rescaled and c.total == pytest.approx(1.13)
    assert list(c.weights) == list(KEYS) and sum(c.weights.values()) == pytest.approx(1.0)
    # the same floats RiskPolicy.normalised gives: the page's scenario scores as the policy would
    p, rescaled = replace(RiskPolicy.default(), weights={k: HAND.get(k, 0.0) for k in KEYS}).normalised()
    assert rescaled and c.weights == dict(p.weights)
    assert asked == []  # by hand never asks for objective weights
    unit = choose_weights("hand", {"income_ratio": 0.25, "debt_ratio": 0.75})
    assert unit.ok and not unit.rescaled and unit.weights["debt_ratio"] == 0.75


@pytest.mark.parametrize("hand", [{}, {"income_ratio": -0.1, "debt_ratio": 0.5}, {"income_ratio": float("nan")}])
def test_by_hand_without_a_positive_weight_gives_none(hand: dict) -> None:
    c = choose_weights("hand", hand)
    assert not c.ok and c.weights is None and c.problem == "no_weight"


def test_ahp_scales_dimensions_and_keeps_shares_within() -> None:
    equal = [1.0] * len(PAIRS)
    c = choose_weights("ahp", HAND, judgements=equal)
    assert c.ok and not c.rescaled and c.ahp is not None and c.ahp.acceptable
    want = apply_dimension_weights(replace(RiskPolicy.default(), weights=dict(HAND)), dict.fromkeys(DIMENSIONS, 1.0))
    assert c.weights == pytest.approx(dict(want.weights))
    assert all(v == pytest.approx(1 / len(DIMENSIONS)) for v in dimension_weights(c.weights).values())
    # within the income dimension the sliders' 0.6 : 0 share is kept
    assert c.weights["income_ratio"] == pytest.approx(1 / len(DIMENSIONS))


def test_ahp_inconsistent_judgements_still_give_weights_with_the_cr() -> None:
    j = judgements_from_weights(dimension_weights(RiskPolicy.default()))
    j[PAIRS.index((0, 1))], j[PAIRS.index((1, 2))], j[PAIRS.index((0, 2))] = 9.0, 9.0, 1 / 9
    c = choose_weights("ahp", HAND, judgements=j)
    assert c.ok and c.ahp is not None and not c.ahp.acceptable and c.ahp.cr >= 0.1


@pytest.mark.parametrize("judgements", [[1.0] * 3, [0.0] * 36, [-1.0] + [1.0] * 35])
def test_ahp_with_unusable_judgements_gives_none(judgements: list[float]) -> None:
    c = choose_weights("ahp", HAND, judgements=judgements)
    assert not c.ok and c.problem == "no_weight"


@pytest.mark.parametrize("method", ["entropy", "cv", "critic"])
def test_objective_modes_ask_for_their_own_method(method: str) -> None:
    asked: list[str] = []
    c = choose_weights(method, HAND, objective=_objective(asked), method="cv")
    assert asked == [method]
    assert c.ok and not c.rescaled and c.weights == pytest.approx({k: OBJECTIVE.get(k, 0.0) for k in KEYS})


def test_combined_mixes_the_sliders_with_the_chosen_method() -> None:
    asked: list[str] = []
    c = choose_weights("combined", HAND, objective=_objective(asked), method="critic", alpha=0.25)
    assert asked == ["critic"]
    assert c.weights == pytest.approx(combined_weights(HAND, OBJECTIVE, 0.25))


def test_objective_failures_are_named() -> None:
    def nothing(method: str) -> dict[str, float]:
        raise wts.NoInformationError("every column is constant")

    assert choose_weights("entropy", HAND, objective=nothing).problem == "no_information"
    assert choose_weights("combined", HAND, objective=nothing).problem == "no_information"
    bad_alpha = choose_weights("combined", HAND, objective=_objective([]), alpha=1.5)
    assert not bad_alpha.ok and bad_alpha.problem == "no_weight"


def test_unknown_mode_and_missing_objective_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="unknown weight mode"):
        choose_weights("delphi", HAND)
    with pytest.raises(ValueError, match="objective"):
        choose_weights("entropy", HAND)


def test_objective_weights_of_a_real_month(small_demo) -> None:
    from fanpin import store
    from fanpin.engine.scenario import objective_weights
    from fanpin.engine.scoring import Scorer

    engine, _ = small_demo
    scorer = Scorer.from_frame(store.load_snapshot(engine, store.periods(engine)[-1]))
    c = choose_weights("entropy", HAND, objective=lambda m: objective_weights(scorer, m))
    assert c.ok and c.weights == pytest.approx(objective_weights(scorer, "entropy"))
