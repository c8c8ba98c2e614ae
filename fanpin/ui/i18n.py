"""The pages' message lookup: the session's language applied to ``fanpin.core.i18n``."""

from __future__ import annotations

import streamlit as st

from fanpin.core.i18n import DEFAULT_LANG, label, translate


def lang() -> str:
    return st.session_state.get("lang", DEFAULT_LANG)


def t(key: str, **params: object) -> str:
    return translate(key, lang(), **params)


def lbl(kind: str, code: str | None) -> str:
    return label(kind, code, lang())


def lkey(key: str) -> str:
    """A widget key per language, for widgets whose option labels are translated: a widget keyed
    alone keeps showing the label of the language it was first drawn in after a switch (its
    value travels as the formatted label).  The choice starts afresh in the other language."""
    return f"{key}_{lang()}"


def kept_selectbox(where, label: str, options: list, state_key: str, format_func, default, *, prefix: str = "w", kind: str = "selectbox", **kwargs: object):  # noqa: ANN001, ANN201 - a Streamlit container, a label function and whatever the widget returns
    """A selectbox (or a radio: ``kind="radio"``) with translated option labels whose choice survives language switches and page
    changes, and which code may set (``st.session_state[state_key] = value``: a click on the map,
    an "open" button).

    The choice lives in ``st.session_state[state_key]``; the widget is keyed per language
    (``<prefix>_<state_key>_<lang>``, see ``lkey``) and re-seeded from the choice when code changed it.
    """
    widget_key = f"{prefix}_{state_key}_{lang()}"
    synced = st.session_state.get(f"_synced_{state_key}")
    widget_value = st.session_state.get(widget_key)
    if widget_value in options and widget_value != synced:  # the user picked something
        st.session_state[state_key] = widget_value
    current = st.session_state.get(state_key)
    if current not in options:
        current = default
    st.session_state[state_key] = current
    st.session_state[widget_key] = current
    st.session_state[f"_synced_{state_key}"] = current
    return getattr(where, kind)(label, options, format_func=format_func, key=widget_key, **kwargs)
