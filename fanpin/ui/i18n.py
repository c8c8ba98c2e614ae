"""The pages' message lookup: the session's language applied to ``fanpin.i18n``."""

from __future__ import annotations

import streamlit as st

from fanpin.i18n import DEFAULT_LANG, label, translate


def lang() -> str:
    return st.session_state.get("lang", DEFAULT_LANG)


def t(key: str, **params: object) -> str:
    return translate(key, lang(), **params)


def lbl(kind: str, code: str | None) -> str:
    return label(kind, code, lang())
