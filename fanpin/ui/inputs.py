"""Inputs that say, in the user's language and under the box, why a value was not used.

Streamlit's own ``min_value``/``max_value`` refuse a typed value in the browser with an English
tooltip on hover and leave the page as it was: the user sees their value in the box and results
that ignore it.  ``bounded_number`` draws the box without those bounds, checks the value itself and,
for a value out of range, shows an error right below the box naming the value, the range and the
value still in use (the last accepted one), which it returns.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from fanpin.ui.i18n import t


def bounded_number(
    where,  # noqa: ANN001 - st or a column
    label: str,
    key: str,
    lo: float,
    hi: float,
    fallback: float,
    *,
    show: Callable[[float], str] = "{:,.0f}".format,
    **kwargs: object,
) -> float:
    """The number typed into the box when ``lo <= value <= hi``, else the last accepted value (``fallback``
    before any), with the refusal said under the box.  ``show`` prints a value as the user reads it."""
    value = where.number_input(label, key=key, **kwargs)
    accepted = f"_accepted_{key}"
    if value is not None and lo <= float(value) <= hi:
        st.session_state[accepted] = float(value)
        return float(value)
    kept = float(st.session_state.get(accepted, fallback))
    shown = t("input.empty") if value is None else show(float(value))
    where.error(t("input.out_of_range", label=label, value=shown, lo=show(lo), hi=show(hi), kept=show(kept)))
    return kept
