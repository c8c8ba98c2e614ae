"""Text read from files and forms: invisible characters out, household IDs in one format.

Right-to-left overrides and zero-width characters (Unicode category Cf) make one string look
like another in a table, a CSV opened in Excel or the brief ("‮1001" reads "1001" backwards);
they have no place in a name, an ID or a code.  Household IDs are codes the national system
issues: letters, digits, ``-`` and ``_``, at most 20 characters — anything else (spaces,
markdown, HTML) is refused at the door rather than escaped everywhere it is shown.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

import numpy as np
import pandas as pd

HOUSEHOLD_ID_MAX = 20
_HOUSEHOLD_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,19}")


def strip_invisible(text: str) -> str:
    """``text`` without format characters (zero-width, bidi controls, BOM) and with the other
    control characters but tab and newline removed; NFC-normalised."""
    s = unicodedata.normalize("NFC", str(text))
    return "".join(ch for ch in s if unicodedata.category(ch) != "Cf" and (ch in "\t\n" or unicodedata.category(ch) != "Cc"))


def has_invisible(text: str) -> bool:
    return strip_invisible(text) != unicodedata.normalize("NFC", str(text))


def household_id_ok(value: str) -> bool:
    """Whether ``value`` is a well-formed household ID (see the module docstring)."""
    return bool(_HOUSEHOLD_ID.fullmatch(str(value)))


def household_ids_ok(values: pd.Series | np.ndarray) -> np.ndarray:
    """Vectorised ``household_id_ok`` over a column of strings (NaN is not well formed)."""
    s = pd.Series(values, dtype="object").astype("string")
    return s.str.fullmatch(_HOUSEHOLD_ID.pattern).fillna(False).to_numpy(dtype=bool)



@functools.cache
def _invisible() -> frozenset[str]:
    """Every character ``strip_invisible`` removes: format characters (Cf) and the controls (Cc)
    but tab and newline (built once, on first use: a pass over all of Unicode takes ~0.2 s)."""
    cats = (unicodedata.category(chr(i)) for i in range(sys.maxunicode + 1))
    return frozenset(chr(i) for i, cat in enumerate(cats) if cat == "Cf" or (cat == "Cc" and chr(i) not in "\t\n"))


@functools.cache
def _invisible_table() -> np.ndarray:
    """``_invisible`` as a lookup table by code point."""
    table = np.zeros(sys.maxunicode + 1, dtype=bool)
    table[[ord(c) for c in _invisible()]] = True
    return table


def needs_cleaning(text: str) -> bool:
    """Whether ``strip_invisible`` would change ``text``: one set of its characters (C speed), so
    a whole block of text is checked at once; a long block as an array of code points looked up
    in a table (a set of millions of characters took seconds)."""
    if len(text) > 65536:
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        found = bool(_invisible_table()[codes].any())
    else:
        found = not _invisible().isdisjoint(set(text))
    return found or (not text.isascii() and not unicodedata.is_normalized("NFC", text))


def strip_invisible_rows(rows: list[list[str]]) -> list[list[str]]:
    """Every cell of a grid through ``strip_invisible``; the rows are looked at as one block first,
    so a clean file (nearly all of them) costs one pass instead of a call per cell."""
    if not rows or not needs_cleaning("".join("".join(r) for r in rows)):
        return rows
    return [[strip_invisible(c) if needs_cleaning(c) else c for c in r] for r in rows]


def strip_invisible_text(value: object) -> object:
    """A stored free text (a clue's detail, an order's notes) without invisible characters; other
    values (None, numbers) unchanged.  Tabs and newlines stay."""
    return strip_invisible(value) if isinstance(value, str) and needs_cleaning(value) else value
