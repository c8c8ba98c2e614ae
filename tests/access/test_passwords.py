"""The password policy refuses blank, short and common passwords (issue 17, item 8)."""

from __future__ import annotations

import pytest

from fanpin.access.passwords import MIN_LENGTH, common_passwords, password_problem


@pytest.mark.parametrize("pw", ["", " " * 8, "\t \u3000  \n  "])
def test_blank_passwords_are_refused(pw: str) -> None:
    assert password_problem(pw) == "blank"


@pytest.mark.parametrize("pw", ["12345678", "password", "PASSWORD", "Password1", "qwertyui", "woaini1314", "5201314520", "aaaaaaaa", "11111111"])
def test_common_passwords_are_refused(pw: str) -> None:
    assert password_problem(pw) == "common"


def test_short_passwords_are_refused() -> None:
    assert password_problem("Ab3$xyz") == "short" and MIN_LENGTH == 8


@pytest.mark.parametrize("pw", ["tea-kettle-村口-42", "Correct horse battery", "s3cret-admin"])
def test_ordinary_good_passwords_pass(pw: str) -> None:
    assert password_problem(pw) is None


def test_the_shipped_list_is_the_top_thousand_and_more() -> None:
    words = common_passwords()
    assert 1000 <= len(words) < 1200
    assert {"123456", "password", "qwerty", "5201314"} <= words
    assert all(w == w.lower() and w.strip() == w for w in words)
