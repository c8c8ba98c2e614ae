"""Tables whose cells are read whole: column widths that fit their longest value.

Streamlit sizes a column by its header, so a longer value ends in "…" ("Junior seco…",
"Unstable former…"), worst in English.  ``fit_width`` measures a column's values (CJK characters
count double) and ``fitted`` gives every text column of a frame a width that shows them whole, up
to a cap; a table wider than the page scrolls sideways instead of cutting its cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

#: The widest a fitted column gets (pixels); longer text (a free-text note) is cut there.
MAX_WIDTH = 420


def _px(text: object) -> float:
    return sum(13.5 if ord(ch) > 0x2E80 else 7.0 for ch in str(text))  # the tables' 14 px font, measured on screenshots


def fit_width(values: Sequence[object], header: str, cap: int = MAX_WIDTH) -> int:
    """Pixels that show the longest value and the header whole."""
    return int(min(max([_px(header) + 26, *(_px(v) + 18 for v in values if v is not None and not (isinstance(v, float) and v != v))]), cap))


def fitted(frame: pd.DataFrame, labels: Mapping[str, str] | None = None, formats: Mapping[str, str] | None = None, **config: object) -> dict:
    """A ``column_config`` for ``frame`` (columns named by code, headers from ``labels``): every text
    column as wide as its content, other columns as wide as their header and values as printed;
    ``formats`` prints a number column with a printf format ("%.1f": a score of 41 shows as 41.0,
    not 41 beside 42.6); ``config`` overrides a column."""
    labels, formats = labels or {}, formats or {}
    out: dict = {}
    for c in frame.columns:
        header = labels.get(c, c)
        if c in formats:
            shown = [formats[c] % v for v in frame[c].tolist() if v is not None and v == v]
            out[c] = st.column_config.NumberColumn(header, format=formats[c], width=fit_width(shown, header))
        elif pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c]):  # pandas 3 infers "str"
            out[c] = st.column_config.TextColumn(header, width=fit_width(frame[c].tolist(), header))
        else:  # numbers, dates: the header whole ("Risk scor…")
            out[c] = st.column_config.Column(header, width=fit_width([str(v) for v in frame[c].tolist()], header))
    return out | config
