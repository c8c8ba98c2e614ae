"""The weight-mode choice: given a mode and its inputs, the weights a scenario scores with.

The simulator offers six ways to weight the indicators: by hand (the sliders), AHP (pairwise
judgements of the dimensions, indicator shares within a dimension kept from the sliders), one
of the objective methods of the month's data (entropy, CV, CRITIC) or a combination of the
sliders with an objective method.  Which mode gives which weights, which failures are the
analyst's to fix and whether the weights had to be rescaled is a domain rule, written here
once; the page only draws the inputs and says what came back.

Objective weights cost a pass over the month's matrix, so they are asked for through a
function (``objective(method)``) that a caller may cache, and only in the modes that use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fanpin.core.indicators import DIMENSIONS, KEYS
from fanpin.engine import weights as wts
from fanpin.engine.scenario import OBJECTIVE_METHODS, ahp_dimensions, combined_weights, dimension_scaled

#: The weight modes, in the order the simulator offers them.
MODES: tuple[str, ...] = ("hand", "ahp", *OBJECTIVE_METHODS, "combined")
DIMS: tuple[str, ...] = tuple(DIMENSIONS)
#: The AHP judgements' (row, column) pairs of dimensions: the upper triangle, row by row.
PAIRS: tuple[tuple[int, int], ...] = tuple((i, j) for i in range(len(DIMS)) for j in range(i + 1, len(DIMS)))

#: Why a mode gave no weights: ``no_weight`` (nothing positive, or an input out of range) or
#: ``no_information`` (no indicator of the month varies: the objective methods have nothing to go on).
PROBLEMS: tuple[str, ...] = ("no_weight", "no_information")


@dataclass(frozen=True)
class WeightChoice:
    """What a weight mode gave.

    ``weights`` cover the catalogue and sum to 1 (None when the mode gave none; ``problem``
    then says why); ``rescaled`` says the mode's raw weights summed to ``total`` rather than 1
    (by hand, the sliders need not add up); ``ahp`` is the AHP result (its CR) in AHP mode.
    """

    mode: str
    weights: dict[str, float] | None
    rescaled: bool = False
    total: float = 1.0
    ahp: wts.AHPResult | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.weights is not None


def _normalised(mode: str, raw: Mapping[str, float], ahp: wts.AHPResult | None = None) -> WeightChoice:
    """The raw weights scaled to sum 1 as ``RiskPolicy.normalised`` scales them (same floats)."""
    values = {k: float(raw.get(k, 0.0)) for k in KEYS}
    try:
        wts.normalise(list(values.values()))  # refuses negative, non-finite and all-zero weights
    except wts.WeightError:
        return WeightChoice(mode, None, ahp=ahp, problem="no_weight")
    total = float(sum(values.values()))
    if abs(total - 1.0) <= 1e-9:
        return WeightChoice(mode, values, False, total, ahp)
    return WeightChoice(mode, {k: v / total for k, v in values.items()}, True, total, ahp)


def choose_weights(
    mode: str,
    hand: Mapping[str, float],
    *,
    judgements: Sequence[float] = (),
    objective: Callable[[str], Mapping[str, float]] | None = None,
    method: str = "entropy",
    alpha: float = 0.5,
) -> WeightChoice:
    """The weights ``mode`` gives.

    ``hand``: the slider weights (raw, any total); ``judgements``: AHP's upper-triangle Saaty
    values in :data:`PAIRS` order; ``objective(method)``: the month's objective weights for a
    method (entropy, cv, critic), asked for in those modes and in ``combined``, which mixes
    ``alpha * hand + (1 - alpha) * objective(method)``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown weight mode {mode!r}; use one of {', '.join(MODES)}")
    if mode == "hand":
        return _normalised(mode, hand)
    if mode == "ahp":
        try:
            dim_w, res = ahp_dimensions(judgements, DIMS)
            return _normalised(mode, dimension_scaled(hand, dim_w), res)
        except ValueError:  # WeightError and PolicyError are ValueErrors: judgements out of range
            return WeightChoice(mode, None, problem="no_weight")
    if objective is None:
        raise ValueError(f"mode {mode!r} needs the objective weights")
    try:
        if mode == "combined":
            return _normalised(mode, combined_weights(hand, objective(method), alpha))
        return _normalised(mode, objective(mode))
    except wts.NoInformationError:
        return WeightChoice(mode, None, problem="no_information")
    except ValueError:
        return WeightChoice(mode, None, problem="no_weight")
