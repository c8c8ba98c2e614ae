"""Map colour scales: sequential and diverging classes with a legend that means something."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------- colours and legend
SEQUENTIAL = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # ColorBrewer YlOrRd 5
DIVERGING_COLOURS = ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b")  # RdBu 5, red = worse
NO_DATA = "#d9d9d9"


@dataclass(frozen=True)
class ColourScale:
    """Equal-interval classes; ``edges`` has one more entry than ``colours``."""

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


def colour_scale(values: np.ndarray, diverging: bool = False, classes: int = 5) -> ColourScale:
    """Equal-interval classes over the values (symmetric about 0 for a diverging metric).

    Equal intervals read more easily than quantiles with a county's dozen townships.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    palette = DIVERGING_COLOURS if diverging else SEQUENTIAL
    if diverging:
        m = float(np.abs(v).max()) if len(v) else 0.0
        m = m or 1.0
        lo, hi = -m, m
    else:
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
        if hi == lo:
            hi = lo + 1.0
    return ColourScale(tuple(np.linspace(lo, hi, classes + 1).tolist()), tuple(palette[:classes]))


def rgba(hex_colour: str, alpha: int = 255) -> list[int]:
    """'#d62728' -> [214, 39, 40, alpha], the form deck.gl colour accessors take."""
    h = hex_colour.lstrip("#")
    return [int(h[i : i + 2], 16) for i in (0, 2, 4)] + [int(alpha)]
