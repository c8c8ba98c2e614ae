"""`fanpin user add|passwd|disable|enable|list`: passwords from a prompt or stdin, never from argv."""

from __future__ import annotations

import io

import pytest

from fanpin import store
from fanpin.access import users
from fanpin.cli.main import main
from tests.conftest import insert_tiny_regions

T1 = "990101001000"


@pytest.fixture
def url(tmp_path) -> str:
    u = f"sqlite:///{tmp_path / 'u.db'}"
    engine = store.make_engine(u, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
    engine.dispose()
    return u


def _eng(url: str):
    return store.make_engine(url)


def test_first_admin_from_stdin(url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-admin\n"))
    assert main(["user", "add", "root", "--role", "admin", "--password-stdin", "--db", url]) == 0
    assert "root" in capsys.readouterr().out
    assert users.authenticate(_eng(url), "root", "s3cret-admin").role == "admin"


def test_prompted_password_must_be_typed_twice(url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    answers = iter(["first-password", "other-password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["user", "add", "wang", "--role", "analyst", "--db", url]) == 2
    assert "differ" in capsys.readouterr().err
    assert users.get_user(_eng(url), "wang") is None
    answers = iter(["good-password", "good-password"])
    assert main(["user", "add", "wang", "--role", "analyst", "--db", url]) == 0
    assert users.authenticate(_eng(url), "wang", "good-password").role == "analyst"


def test_a_password_is_never_an_argument(url: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["user", "add", "root", "--role", "admin", "--password", "visible-in-ps", "--db", url])
    assert exc.value.code == 2


def test_case_worker_townships_are_validated(url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("cw-password\n"))
    assert main(["user", "add", "cw", "--role", "case_worker", "--townships", "990101999000", "--password-stdin", "--db", url]) == 2
    assert "990101999000" in capsys.readouterr().err
    assert main(["user", "add", "cw", "--role", "case_worker", "--password-stdin", "--db", url]) == 2  # none given
    assert users.user_count(_eng(url)) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("cw-password\n"))
    assert main(["user", "add", "cw", "--role", "case_worker", "--townships", T1, "--password-stdin", "--db", url]) == 0
    assert users.get_user(_eng(url), "cw").townships == frozenset({T1})


def test_short_password_and_duplicates_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "a", "--role", "leader", "--password-stdin", "--db", url]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough\n"))
    assert main(["user", "add", "a", "--role", "leader", "--password-stdin", "--db", url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("long-enough\n"))
    assert main(["user", "add", "a", "--role", "leader", "--password-stdin", "--db", url]) == 2


def test_passwd_disable_enable_list(url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("old-password\n"))
    main(["user", "add", "wang", "--role", "leader", "--password-stdin", "--db", url])
    monkeypatch.setattr("sys.stdin", io.StringIO("new-password\n"))
    assert main(["user", "passwd", "wang", "--password-stdin", "--db", url]) == 0
    assert users.authenticate(_eng(url), "wang", "new-password").username == "wang"
    assert main(["user", "passwd", "nobody", "--password-stdin", "--db", url]) == 2
    assert main(["user", "disable", "wang", "--db", url]) == 0
    with pytest.raises(users.LoginFailed):
        users.authenticate(_eng(url), "wang", "new-password")
    capsys.readouterr()
    assert main(["user", "list", "--db", url]) == 0
    assert capsys.readouterr().out.split() == ["wang", "leader", "-", "disabled"]
    assert main(["user", "enable", "wang", "--db", url]) == 0
    assert users.authenticate(_eng(url), "wang", "new-password").role == "leader"
    assert main(["user", "disable", "nobody", "--db", url]) == 2


def test_identity_provider_account_has_no_password(url: str) -> None:
    assert main(["user", "add", "li@bureau.example", "--role", "analyst", "--no-password", "--db", url]) == 0
    assert users.get_user(_eng(url), "li@bureau.example").has_password is False


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_make_run_asks_for_the_first_admin_only_when_there_is_none(url: str, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # no terminal (CI, a service): it only says what to do, and never fails the start-up
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["user", "first-admin", "--db", url]) == 0
    assert "fanpin user add NAME --role admin" in capsys.readouterr().err
    assert users.user_count(_eng(url)) == 0
    # a person at the terminal: name, then the password twice
    monkeypatch.setattr("sys.stdin", _Tty("boss\n"))
    typed = iter(["s3cret-admin", "s3cret-admin"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    assert main(["user", "first-admin", "--db", url]) == 0
    assert users.authenticate(_eng(url), "boss", "s3cret-admin").role == "admin"
    # once a user exists it asks nothing
    monkeypatch.setattr("sys.stdin", _Tty(""))
    assert main(["user", "first-admin", "--db", url]) == 0
    assert users.user_count(_eng(url)) == 1


def test_role_change_with_townships_is_validated(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("li-password-1\n"))
    assert main(["user", "add", "li", "--role", "analyst", "--password-stdin", "--db", url]) == 0
    assert main(["user", "role", "li", "--role", "case_worker", "--townships", "990101999000", "--db", url]) == 2  # no such township
    assert users.get_user(_eng(url), "li").role == "analyst"
    assert main(["user", "role", "li", "--role", "case_worker", "--townships", T1, "--db", url]) == 0
    p = users.authenticate(_eng(url), "li", "li-password-1")
    assert (p.role, p.townships) == ("case_worker", frozenset({T1}))
    assert main(["user", "role", "nobody", "--role", "leader", "--db", url]) == 2
