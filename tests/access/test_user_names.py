"""User names and display names (issue 17): a name shown on every page and in the audit log cannot
carry invisible characters, look-alike letters or markup.  On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from fanpin import store
from fanpin.access import users
from fanpin.access.roles import SYSTEM, Principal

ROOT = Principal("root", "admin")


@pytest.fixture
def eng(db_url: str):
    engine = store.make_engine(db_url, create=True)
    store.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("name", [
    "wang\u202e",  # right-to-left override: "wang" shown, another name stored
    "wa\u200bng",  # zero-width space: two accounts that look the same
    "wаng",  # Cyrillic а
    "张三",
    "[a](javascript:alert(1))",
    "![](//h/x)",
    "<b>x</b>",
    "-wang",
    ".wang",
    "x" * 65,
])
def test_unsafe_user_names_are_refused(eng, name: str) -> None:
    with pytest.raises(users.UserError) as exc:
        users.add_user(eng, name, "analyst", "correct horse", principal=ROOT)
    assert exc.value.code == "bad_name"
    assert users.list_users(eng, principal=SYSTEM).empty


@pytest.mark.parametrize("name", ["wang", "li.na", "zhang_3", "zhao@bureau.example", "a-b", "x" * 64])
def test_safe_user_names_are_accepted(eng, name: str) -> None:
    assert users.add_user(eng, name, "analyst", "correct horse", principal=ROOT).username == name


def test_display_names_lose_invisible_characters(eng) -> None:
    u = users.add_user(eng, "wang", "analyst", "correct horse", display_name="王\u202e分析\u200b员\n\t（县局）", principal=ROOT)
    assert u.display_name == "王分析员 （县局）"
    assert users.add_user(eng, "li", "analyst", "correct horse", display_name="\u200b\u202e", principal=ROOT).display_name == ""
