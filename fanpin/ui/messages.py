"""Flash messages: a callback or an action says what happened, the next run of the page shows it.

A button's callback runs before the script, so what it has to say (saved, refused, created) is
kept under one session key per page and shown once at the top of the page by ``show_flash``.
Messages are plain text: ``st.success`` and friends render markdown, so the text is escaped.
"""

from __future__ import annotations

import streamlit as st

from fanpin.ui.text import md

KINDS: tuple[str, ...] = ("success", "info", "warning", "error")


def _key(page: str) -> str:
    return f"_flash_{page}"


def flash(page: str, kind: str, text: str) -> None:
    """Say ``text`` at the top of ``page`` on its next run (``kind``: success, info, warning, error)."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    st.session_state.setdefault(_key(page), []).append((kind, str(text)))


def show_flash(page: str) -> None:
    """Show and forget what was flashed for ``page``."""
    for kind, text in st.session_state.pop(_key(page), []):
        getattr(st, kind)(md(text))
