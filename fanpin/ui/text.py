"""Text from data or a user, shown inside markdown: escaped so that it stays text.

Streamlit renders markdown in ``st.markdown``, ``st.caption``, ``st.success``/``error``,
widget labels and help texts.  A household ID, a typed finding or a township name read from a
file could otherwise become a link, an image (which the browser would fetch) or emphasis.
``md`` is the one helper every page uses before putting such text into markdown.
"""

from __future__ import annotations

_SPECIAL = frozenset("\\`*_{}[]()<>#+-.!|~$=:\"'&")


def md(text: object) -> str:
    """``text`` with every markdown-active character backslash-escaped (and newlines as spaces,
    so a value cannot start a heading or list of its own)."""
    s = "" if text is None else str(text)
    s = s.replace("\r", " ").replace("\n", " ")
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in s)
