"""Message catalogue in Chinese (default) and English; no streamlit here.

Messages live in ``fanpin/core/locales/*.json``, one file per area (``common.json``,
``overview.json`` ...), each mapping a key to ``{"zh": ..., "en": ...}``, so
that pages can be worked on side by side without editing one shared file.  A
test checks that every key has both languages and that every key the code
asks for exists.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"


class MissingMessage(KeyError):
    pass


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All messages, merged from every locale file; a key defined twice is an error."""
    merged: dict[str, dict[str, str]] = {}
    folder = resources.files("fanpin.core").joinpath("locales")
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        for key, texts in data.items():
            if key in merged:
                raise ValueError(f"message key {key!r} defined twice (second time in {entry.name})")
            merged[key] = texts
    return merged


def translate(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The message for ``key`` in ``lang`` with ``{name}`` placeholders filled."""
    try:
        text = catalogue()[key][lang if lang in LANGS else DEFAULT_LANG]
    except KeyError as exc:
        raise MissingMessage(f"no message {key!r} in {lang!r}") from exc
    return text.format(**params) if params else text


def label(kind: str, code: str | None, lang: str = DEFAULT_LANG) -> str:
    """Label of a domain code: ``label("tier", "red")``, ``label("risk", "illness")``...

    Indicators, dimensions and departments come from their catalogues in
    ``fanpin.core.indicators``; the other vocabularies from ``locales/domain.json``.
    """
    if code is None or code == "":
        return "—"
    if kind == "indicator":
        from fanpin.core.indicators import BY_KEY

        ind = BY_KEY[code]
        return ind.zh if lang == "zh" else ind.en
    if kind == "dimension":
        from fanpin.core.indicators import DIMENSIONS

        zh, en = DIMENSIONS[code]
        return zh if lang == "zh" else en
    if kind == "department":
        from fanpin.core.indicators import DEPARTMENTS

        if code in DEPARTMENTS:
            zh, en = DEPARTMENTS[code]
            return zh if lang == "zh" else en
    key = f"{kind}.{code}"
    if key in catalogue():
        return translate(key, lang)
    return str(code)
