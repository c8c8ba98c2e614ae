"""Chinese resident ID numbers (GB 11643-1999) and region codes.

An 18-digit ID number is a 6-digit address code, an 8-digit birth date, a
3-digit sequence (odd for men, even for women) and a check character.  The
check character is sum(d_i * W_i) mod 11 mapped through ``1 0 X 9 8 7 6 5 4 3 2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CHECK = np.array(list("10X98765432"))


def id_check_char(body: np.ndarray | str) -> np.ndarray | str:
    """The check character for 17-digit bodies (vectorised over an array of strings)."""
    scalar = isinstance(body, str)
    arr = np.atleast_1d(np.asarray(body, dtype="<U17"))
    codes = arr.view(np.uint32).reshape(len(arr), 17)  # the code point of each character
    if ((codes >= 48) & (codes <= 57)).all():  # digits: their values without a string per digit
        digits = codes.astype(np.int64) - 48
    else:
        digits = arr.view("<U1").reshape(len(arr), 17).astype(np.int64)
    out = CHECK[(digits @ WEIGHTS) % 11]
    return str(out[0]) if scalar else out


@dataclass(frozen=True)
class IdProblem:
    code: str  # length / chars / check / birth_date
    message: str


def validate_id_number(value: str, *, today: date | None = None) -> IdProblem | None:
    """None when valid, else the first problem found (length, characters, birth date, check)."""
    v = (value or "").strip().upper()
    if len(v) != 18:
        return IdProblem("length", f"ID number must have 18 characters, got {len(v)}")
    if not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        return IdProblem("chars", "ID number must be 17 digits followed by a digit or X")
    try:
        born = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return IdProblem("birth_date", f"ID number has an impossible birth date {v[6:14]}")
    if born > (today or date.today()) or born.year < 1890:
        return IdProblem("birth_date", f"ID number has an implausible birth date {born.isoformat()}")
    expected = id_check_char(v[:17])
    if v[17] != expected:
        return IdProblem("check", f"ID number check character is {v[17]}, expected {expected}")
    return None


def birth_date_of(value: str) -> date:
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def sex_of(value: str) -> str:
    """M or F from the sequence digit (odd men, even women)."""
    return "M" if int(value[16]) % 2 == 1 else "F"


def region_level(code: str) -> str:
    """county / township / village from a 12-digit region code; ValueError otherwise."""
    if len(code) != 12 or not code.isdigit():
        raise ValueError(f"region code must be 12 digits: {code!r}")
    if code[6:] == "000000":
        return "county"
    if code[9:] == "000":
        return "township"
    return "village"


def parent_code(code: str) -> str | None:
    level = region_level(code)
    if level == "county":
        return None
    if level == "township":
        return code[:6] + "000000"
    return code[:9] + "000"
