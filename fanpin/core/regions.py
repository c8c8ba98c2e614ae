"""Region hierarchy from 12-digit region codes: province > city > county > township > village.

A 行政区划代码 is 2 digits of province, 2 of city (prefecture), 2 of county, 3 of
township and 3 of village; a region above the village is written with zeros in the
places below it (``990101000000`` is a county, ``990101003000`` a township).  So a
code's level and every parent follow from its digits alone, and everything here is
vectorised over arrays of codes (numpy string arrays: truncating ``astype`` to a
shorter width is the prefix, ``np.char.add`` the zero padding).  No table is
needed to roll a township's figures up to its city or province.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LEVELS: tuple[str, ...] = ("province", "city", "county", "township", "village")
#: Digits that name a region at each level (its prefix of the 12-digit code).
WIDTH: dict[str, int] = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
CODE_LENGTH = 12
#: The county of the import templates' example rows: province 99 is no real province, and the demo
#: county (990101) and the demo province's counties (99CCKK, CC and KK from 01, refusing this one)
#: never use it; an imported row naming it (a household ID, ID number or region code beginning
#: with it) is a template example, skipped with a note (``fanpin.ingest.examples``).
EXAMPLE_COUNTY = "999999"


def _as_codes(codes: Sequence[str] | np.ndarray | str) -> np.ndarray:
    """A 12-character unicode array; shorter prefixes (``"990101"``) are padded with zeros."""
    arr = np.atleast_1d(np.asarray(codes, dtype=str))
    if arr.dtype.itemsize // 4 < CODE_LENGTH or (np.char.str_len(arr) < CODE_LENGTH).any():
        arr = np.char.ljust(arr, CODE_LENGTH, "0")
    arr = arr.astype(f"<U{CODE_LENGTH}")
    bad = ~np.char.isdigit(arr)
    if bad.any():
        raise ValueError(f"not a region code: {arr[bad][0]!r} (12 digits expected)")
    return arr


def prefix(codes: Sequence[str] | np.ndarray | str, level: str) -> np.ndarray:
    """The short code at ``level`` (``"990101"`` for a county): the first WIDTH[level] digits."""
    return _as_codes(codes).astype(f"<U{WIDTH[level]}")


def parent(codes: Sequence[str] | np.ndarray | str, level: str) -> np.ndarray:
    """The 12-digit code of each code's region at ``level`` (its prefix padded with zeros)."""
    return np.char.ljust(prefix(codes, level), CODE_LENGTH, "0")


def level_index(codes: Sequence[str] | np.ndarray | str) -> np.ndarray:
    """Index into LEVELS of each code's own level (0 province ... 4 village), from its zeros."""
    arr = _as_codes(codes)
    digits = arr.view(np.uint32).reshape(len(arr), CODE_LENGTH) != ord("0")
    out = np.zeros(len(arr), dtype=np.int8)
    starts = [WIDTH[lv] for lv in LEVELS[:-1]]  # digits 2.., 4.., 6.., 9.. name the next level
    ends = [WIDTH[lv] for lv in LEVELS[1:]]
    for i, (lo, hi) in enumerate(zip(starts, ends), start=1):
        out[digits[:, lo:hi].any(axis=1)] = i
    return out


def level_of(codes: Sequence[str] | np.ndarray | str) -> np.ndarray:
    """Each code's level name ("province" ... "village")."""
    return np.array(LEVELS, dtype=object)[level_index(codes)]


def within(codes: Sequence[str] | np.ndarray | str, region: str) -> np.ndarray:
    """Whether each code lies inside ``region`` (a 12-digit code of any level; itself included)."""
    lv = LEVELS[int(level_index(region)[0])]
    return prefix(codes, lv) == prefix(region, lv)[0]


def children_level(level: str) -> str:
    """The level one below ``level`` (a village has none)."""
    i = LEVELS.index(level)
    if i == len(LEVELS) - 1:
        raise ValueError("a village has no lower level")
    return LEVELS[i + 1]


@dataclass(frozen=True)
class Grouping:
    """Codes grouped at a level: the sorted distinct regions and each code's index among them."""

    level: str
    regions: np.ndarray  # 12-digit codes, sorted
    index: np.ndarray  # per input code, index into ``regions``

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per-region sums of ``values`` (rows of a 2-D array are summed column by column)."""
        values = np.asarray(values)
        if values.ndim == 1:
            return np.bincount(self.index, weights=values, minlength=len(self.regions))
        out = np.zeros((len(self.regions), values.shape[1]), dtype=np.float64)
        np.add.at(out, self.index, values)
        return out


def group(codes: Sequence[str] | np.ndarray | str, level: str) -> Grouping:
    """Group codes by their region at ``level`` (e.g. townships by county), vectorised."""
    regions, index = np.unique(parent(codes, level), return_inverse=True)
    return Grouping(level, regions, index.reshape(-1))


def ancestors(code: str) -> dict[str, str]:
    """Level -> 12-digit code of one code's region and every region above it."""
    own = int(level_index(code)[0])
    return {lv: str(parent(code, lv)[0]) for lv in LEVELS[: own + 1]}
