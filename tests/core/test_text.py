"""Invisible characters and the household ID format (issue 17, items 2 and 8)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fanpin.core.text import has_invisible, household_id_ok, household_ids_ok, strip_invisible


def test_bidi_and_zero_width_characters_are_removed() -> None:
    assert strip_invisible("张\u200b三") == "张三"
    assert strip_invisible("\u202e1001") == "1001"
    assert strip_invisible("\ufeff户编号") == "户编号"
    assert strip_invisible("a\x00b\tc\n") == "ab\tc\n"
    assert has_invisible("王\u2066五") and not has_invisible("王五")


@given(st.text())
def test_stripping_is_idempotent_and_leaves_no_format_characters(s: str) -> None:
    once = strip_invisible(s)
    assert strip_invisible(once) == once
    assert not has_invisible(once)


def test_household_id_format() -> None:
    good = ["99010100100100001", "A-01_2", "1"]
    bad = ["![](//host/x)", "", " 9901", "9901 0001", "<b>1</b>", "x" * 21, "-1", "张三", "9901\u200b"]
    assert all(household_id_ok(g) for g in good)
    assert not any(household_id_ok(b) for b in bad)
    assert household_ids_ok(np.array(good + bad, dtype=object)).tolist() == [True] * 3 + [False] * len(bad)
    assert household_ids_ok(np.array([None, np.nan, "9"], dtype=object)).tolist() == [False, False, True]
