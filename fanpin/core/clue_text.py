"""A clue's detail: stored as a code with its parameters, read in the reader's language.

New details are written as ``[code]`` or ``[code] {"param": value, ...}`` (``coded``), the words
living in the message catalogue under ``clue_detail.<code>``.  Older rows, and text fanpin did not
write (a department's file, a cadre's note, the model's suggestions), are read as they are, with
one rule for the bilingual form earlier versions stored: ``"中文 / English"`` (several such parts
joined by ``"; "``) shows the reader's half.  A part is bilingual only when its Chinese half has
Chinese characters and its English half has none, so a note such as "张三 / 李四" stays whole.

Supervision clues (``[rule_code] finding``) are read by ``fanpin.quality.rules.detail_text``,
which knows the rules' names and uses ``render`` for the finding.
"""

from __future__ import annotations

import json
import math
import re

from fanpin.core.i18n import catalogue, translate

#: ``[code]`` at the start of a stored detail, and what follows it.
CODED = re.compile(r"^\[([a-z][a-z0-9_]*)\]\s*(.*)$", re.S)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def coded(code: str, **params: object) -> str:
    """The stored form of a detail written by fanpin: the code and its parameters (JSON)."""
    if f"clue_detail.{code}" not in catalogue():
        raise KeyError(f"no message clue_detail.{code}")
    return f"[{code}]" + (" " + json.dumps(params, ensure_ascii=False, sort_keys=True) if params else "")


def parse(detail: object) -> tuple[str | None, dict | str]:
    """(code, parameters) of a coded detail whose code has a message, else (None, the text)."""
    text = _text(detail)
    m = CODED.match(text)
    if m and f"clue_detail.{m.group(1)}" in catalogue():
        rest = m.group(2).strip()
        try:
            params = json.loads(rest) if rest else {}
        except ValueError:
            params = None
        if isinstance(params, dict):
            return m.group(1), params
    return None, text


def render(detail: object, lang: str = "zh") -> str:
    """The detail in ``lang``: a coded detail from the catalogue, a bilingual one's half, other text as is."""
    code, params = parse(detail)
    if code is not None:
        try:
            return translate(f"clue_detail.{code}", lang, **params)
        except (KeyError, IndexError, ValueError):  # a row whose parameters the message no longer takes: its words, blanks filled
            return translate(f"clue_detail.{code}", lang).format_map(_Blank(params))
    model = _MODEL.match(params)
    if model:  # the risk model's suggestion (fanpin.model.suggest), its factors as feature codes
        factors = [_feature(f.strip(), lang) for f in model.group(3).split(",") if f.strip()]
        return translate("clue_detail.model", lang, horizon=model.group(1), p=model.group(2), factors=translate("clue_detail.list_sep", lang).join(factors) or "—")
    return "; ".join(pick_language(part, lang) for part in params.split("; "))


#: How the risk model writes its suggestions: horizon, probability, its three factors (feature codes).
_MODEL = re.compile(r"^模型预测(\d+)个月内跌破监测线概率 (\d+%)（([^（）]*)） / model: probability \d+% of falling below the line within \d+ months \([^()]*\)$")


def _feature(code: str, lang: str) -> str:
    key = f"model.feature.{code}"
    return translate(key, lang) if key in catalogue() else code


class _Blank(dict):
    """Format parameters where a missing one reads as "?" (and a format that does not fit, as the value)."""

    def __missing__(self, key: str) -> str:
        return "?"


def pick_language(text: object, lang: str = "zh") -> str:
    """``"中文 / English"`` -> the reader's half; other text unchanged."""
    s = _text(text)
    zh, sep, en = s.partition(" / ")
    if sep and zh.strip() and en.strip() and _CJK.search(zh) and not _CJK.search(en):
        return zh.strip() if lang == "zh" else en.strip()
    return s


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)
