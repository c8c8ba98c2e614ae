"""ID check characters (GB 11643) and region-code structure."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanpin.core.ids import (
    birth_date_of,
    id_check_char,
    parent_code,
    region_level,
    sex_of,
    validate_id_number,
)

# Published examples: the standard's own sample and widely cited valid numbers.
VALID = ["11010519491231002X", "11010119900307803X", "110101199003072316"]


@pytest.mark.parametrize("number", VALID)
def test_valid_examples(number: str) -> None:
    assert validate_id_number(number) is None
    assert id_check_char(number[:17]) == number[17]


def test_check_character_by_hand() -> None:
    # 11010519491231002: sum(d_i * W_i) = 167, 167 mod 11 = 2 -> 'X'
    body = "11010519491231002"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights))
    assert total == 167 and total % 11 == 2
    assert id_check_char(body) == "X"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("110105194912310021", "check"),  # wrong check character
        ("11010519491231002", "length"),
        ("1101051949123100AX", "chars"),
        ("110105194902300023", "birth_date"),  # 30 February
        ("110105299912310021", "birth_date"),  # in the future
        ("440524188001010014", "birth_date"),  # valid check character, but born 1880
    ],
)
def test_invalid_examples(number: str, code: str) -> None:
    problem = validate_id_number(number, today=date(2026, 1, 1))
    assert problem is not None and problem.code == code


def test_vectorised_equals_scalar() -> None:
    bodies = np.array(["11010519491231002", "44052418800101001", "99010120000229123"])
    assert list(id_check_char(bodies)) == [id_check_char(b) for b in bodies]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_detected(body: str, pos: int, delta: int) -> None:
    """Mod-11 with these weights catches every single-digit error."""
    check = id_check_char(body)
    changed = body[:pos] + str((int(body[pos]) + delta) % 10) + body[pos + 1 :]
    assert id_check_char(changed) != check


def test_birth_date_and_sex() -> None:
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)
    assert sex_of("11010519491231002X") == "F"  # sequence 002: even
    assert sex_of("440524188001010014") == "M"  # sequence 001: odd


def test_region_levels() -> None:
    assert region_level("990101000000") == "county"
    assert region_level("990101003000") == "township"
    assert region_level("990101003017") == "village"
    assert parent_code("990101003017") == "990101003000"
    assert parent_code("990101003000") == "990101000000"
    assert parent_code("990101000000") is None
    for bad in ("99010100300", "99010100300a", ""):
        with pytest.raises(ValueError, match="12 digits"):
            region_level(bad)
