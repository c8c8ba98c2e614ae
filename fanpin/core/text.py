"""Text read from files and forms: invisible characters out, household IDs in one format.

Right-to-left overrides and zero-width characters (Unicode category Cf) make one string look
like another in a table, a CSV opened in Excel or the brief ("‮1001" reads "1001" backwards);
they have no place in a name, an ID or a code.  Household IDs are codes the national system
issues: letters, digits, ``-`` and ``_``, at most 20 characters — anything else (spaces,
markdown, HTML) is refused at the door rather than escaped everywhere it is shown.
"""

from __future__ import annotations

import re
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
