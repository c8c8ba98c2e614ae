"""Map colour scales: sequential and diverging classes with a legend that means something."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- colours and legend
SEQUENTIAL = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # ColorBrewer YlOrRd 5
DIVERGING_COLOURS = ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b")  # RdBu 5, red = worse
NO_DATA = "#d9d9d9"


@dataclass(frozen=True)
class ColourScale:
    """Classes between ``edges`` (one more entry than ``colours``); values outside go to the end classes."""

    edges: tuple[float, ...]
    colours: tuple[str, ...]

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Class index per value (-1 for NaN)."""
        v = np.asarray(values, dtype=np.float64)
        k = np.clip(np.searchsorted(np.asarray(self.edges[1:-1]), v, side="right"), 0, len(self.colours) - 1)
        return np.where(np.isfinite(v), k, -1)

    def rgba(self, values: np.ndarray, alpha: int = 200) -> list[list[int]]:
        palette = [rgba(c, alpha) for c in self.colours]
        grey = rgba(NO_DATA, alpha)
        return [palette[k] if k >= 0 else grey for k in self.classify(values)]


def nice_step(raw: float, resolution: float = 0.0) -> float:
    """The smallest 1, 2 or 5 x 10^k at least ``raw`` (and at least ``resolution``, the finest
    difference the legend prints), so that class edges print as round, distinct numbers."""
    raw = max(float(raw), float(resolution), 1e-12)
    k = math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        step = float(f"{m * 10.0**k:.12g}")
        if step >= raw * (1 - 1e-9):
            return step
    return float(f"{10.0 ** (k + 1):.12g}")  # pragma: no cover - the loop's 10 always fits


def colour_scale(values: np.ndarray, diverging: bool = False, classes: int = 5, *, min_span: float = 0.0, resolution: float = 0.0) -> ColourScale:
    """Classes with round edges over the values: a legend whose classes differ and mean something.

    Sequential: ``classes`` equal steps of a round size (1, 2 or 5 x 10^k) covering the values and
    at least ``min_span`` (the metric's smallest difference worth a colour), centred on the values
    and never below 0 for values that are not negative.  So townships a hair apart share a class
    instead of being drawn at the two ends of the scale, and a single value sits mid-scale.
    Diverging (a change: red = worse): symmetric about 0 with a neutral middle class (-s, +s)
    around "no change", then (s, 2s) and (2s, 3s) either side, 3s covering the largest change and
    at least ``min_span`` / 2.  Edges are multiples of the step, which is at least ``resolution``,
    so their labels never repeat.  Equal steps read more easily than quantiles with a county's
    dozen townships.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    palette = DIVERGING_COLOURS if diverging else SEQUENTIAL
    if diverging:
        half = max(float(np.abs(v).max()) if len(v) else 0.0, min_span / 2)
        step = nice_step(half / 3 if half > 0 else 1.0, resolution)
        edges = (-3 * step, -2 * step, -step, step, 2 * step, 3 * step)
        return ColourScale(tuple(_clean(e) for e in edges), palette)
    lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
    span = max(hi - lo, min_span)
    step = nice_step(span / classes if span > 0 else 1.0, resolution)
    while True:
        start = math.floor(((lo + hi) / 2 - classes * step / 2) / step + 1e-9) * step
        if lo >= 0:
            start = max(start, 0.0)
        start = min(start, math.floor(lo / step + 1e-9) * step)  # the lowest value inside the first class
        if start + classes * step >= hi - 1e-9 * step:
            break
        step = nice_step(step * 1.0001, resolution)  # the next round step
    return ColourScale(tuple(_clean(start + i * step) for i in range(classes + 1)), tuple(palette[:classes]))


def _clean(x: float) -> float:
    """An edge without floating-point dust (0.30000000000000004 -> 0.3; -0.0 -> 0.0)."""
    return float(f"{x:.12g}") + 0.0

def rgba(hex_colour: str, alpha: int = 255) -> list[int]:
    """'#d62728' -> [214, 39, 40, alpha], the form deck.gl colour accessors take."""
    h = hex_colour.lstrip("#")
    return [int(h[i : i + 2], 16) for i in (0, 2, 4)] + [int(alpha)]
