"""The local user store on SQLite and PostgreSQL: argon2 hashes, login, lock-out, disabling, audit rows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access import users
from fanpin.access.roles import SYSTEM, AccessDenied, Principal
from fanpin.store import schema as S
from tests.conftest import insert_tiny_regions

T1, T2 = "990101001000", "990101002000"
T0 = datetime(2025, 3, 1, 9, 0, 0)
ROOT = Principal("root", "admin")


@pytest.fixture
def eng(db_url: str):
    engine = store.make_engine(db_url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
    yield engine
    engine.dispose()


def _log(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(S.audit_log.c.actor, S.audit_log.c.action, S.audit_log.c.target).order_by(S.audit_log.c.audit_id))]


def _row(engine, name: str):
    with engine.connect() as conn:
        return conn.execute(select(S.users).where(S.users.c.username == name)).first()


def test_passwords_are_stored_as_argon2_hashes(eng) -> None:
    u = users.add_user(eng, "wang", "analyst", "correct horse", display_name="王分析", now=T0, principal=ROOT)
    assert (u.username, u.role, u.townships, u.display_name, u.has_password) == ("wang", "analyst", None, "王分析", True)
    stored = _row(eng, "wang").password_hash
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert users.verify_password(stored, "correct horse")
    assert not users.verify_password(stored, "correct horsE")
    assert not users.verify_password(None, "x") and not users.verify_password("not-a-hash", "x")
    # the same password twice: two different hashes (salted)
    users.add_user(eng, "li", "analyst", "correct horse", principal=ROOT)
    assert _row(eng, "li").password_hash != stored
    assert _log(eng) == [("root", "user_changed", "wang"), ("root", "user_changed", "li")]


def test_login_gives_the_principal_from_the_database(eng) -> None:
    users.add_user(eng, "cw", "case_worker", "pass-word-1", townships=[T2, T1], display_name="刘干部", principal=ROOT)
    p = users.authenticate(eng, "cw", "pass-word-1", now=T0)
    assert p == Principal("cw", "case_worker", frozenset({T1, T2}), "刘干部")
    assert _row(eng, "cw").townships == f"{T1},{T2}"
    assert _row(eng, "cw").last_login_at == T0
    assert users.principal_for(eng, "cw") == p
    assert users.principal_for(eng, "nobody") is None and users.principal_for(eng, None) is None
    assert _log(eng)[-1] == ("cw", "login", "cw")


def test_validation(eng) -> None:
    cases = [
        (dict(username="a", role="superuser", password="longenough"), "bad_role"),
        (dict(username="a", role="case_worker", password="longenough"), "need_townships"),
        (dict(username="a", role="case_worker", password="longenough", townships=[T1, "990101099000"]), "bad_townships"),
        (dict(username="a", role="case_worker", password="longenough", townships=["990101001001"]), "bad_townships"),  # a village
        (dict(username="a", role="analyst", password="longenough", townships=[T1]), "townships_not_case_worker"),
        (dict(username="a", role="analyst", password="short"), "short_password"),
        (dict(username="has space", role="analyst", password="longenough"), "bad_name"),
        (dict(username="", role="analyst", password="longenough"), "bad_name"),
    ]
    for kwargs, code in cases:
        with pytest.raises(users.UserError) as exc:
            users.add_user(eng, kwargs.pop("username"), kwargs.pop("role"), kwargs.pop("password"), **kwargs, principal=ROOT)
        assert exc.value.code == code, kwargs
    users.add_user(eng, "a", "analyst", "longenough", principal=ROOT)
    with pytest.raises(users.UserError) as exc:
        users.add_user(eng, "a", "leader", "longenough", principal=ROOT)
    assert exc.value.code == "exists"
    assert users.user_count(eng) == 1


def test_five_failures_lock_the_account_for_fifteen_minutes(eng) -> None:
    users.add_user(eng, "wang", "analyst", "right-password", principal=ROOT)
    for i in range(users.MAX_FAILURES - 1):
        with pytest.raises(users.LoginFailed):
            users.authenticate(eng, "wang", "wrong", now=T0 + timedelta(seconds=i))
    assert _row(eng, "wang").failed_logins == 4 and _row(eng, "wang").locked_until is None
    with pytest.raises(users.LoginFailed):
        users.authenticate(eng, "wang", "wrong", now=T0 + timedelta(seconds=10))
    assert _row(eng, "wang").locked_until == T0 + timedelta(seconds=10, minutes=users.LOCK_MINUTES)
    # locked: even the right password is refused, with the same message as a wrong one
    with pytest.raises(users.LoginFailed) as locked:
        users.authenticate(eng, "wang", "right-password", now=T0 + timedelta(minutes=14))
    with pytest.raises(users.LoginFailed) as unknown:
        users.authenticate(eng, "nobody", "right-password", now=T0)
    assert (locked.value.reason, unknown.value.reason) == ("locked", "unknown")
    assert str(locked.value) == str(unknown.value) == "login failed"
    # after the lock-out the right password works and the counters are cleared
    p = users.authenticate(eng, "wang", "right-password", now=T0 + timedelta(minutes=16))
    assert p.role == "analyst"
    assert (_row(eng, "wang").failed_logins, _row(eng, "wang").locked_until) == (0, None)
    actions = [a for _, a, _ in _log(eng)]
    assert actions.count("login_failed") == 7 and actions[-1] == "login"


def test_a_new_password_lifts_the_lock(eng) -> None:
    users.add_user(eng, "wang", "analyst", "right-password", principal=ROOT)
    for _ in range(users.MAX_FAILURES):
        with pytest.raises(users.LoginFailed):
            users.authenticate(eng, "wang", "wrong", now=T0)
    users.set_password(eng, "wang", "new-password-2", principal=ROOT)
    assert users.authenticate(eng, "wang", "new-password-2", now=T0).username == "wang"
    with pytest.raises(users.LoginFailed):
        users.authenticate(eng, "wang", "right-password", now=T0)
    with pytest.raises(users.UserError):
        users.set_password(eng, "nobody", "new-password-2", principal=ROOT)


def test_a_disabled_user_cannot_log_in_and_loses_the_session(eng) -> None:
    users.add_user(eng, "wang", "leader", "right-password", principal=ROOT)
    assert users.principal_for(eng, "wang") is not None
    users.set_disabled(eng, "wang", True, principal=ROOT)
    assert users.principal_for(eng, "wang") is None  # the next run of a logged-in session ends it
    with pytest.raises(users.LoginFailed) as exc:
        users.authenticate(eng, "wang", "right-password", now=T0)
    assert exc.value.reason == "disabled"
    users.set_disabled(eng, "wang", False, principal=ROOT)
    assert users.authenticate(eng, "wang", "right-password", now=T0).role == "leader"
    assert ("root", "user_changed", "wang") in _log(eng)


def test_role_change_applies_at_once(eng) -> None:
    users.add_user(eng, "wang", "analyst", "right-password", principal=ROOT)
    users.set_role(eng, "wang", "case_worker", [T1], principal=ROOT)
    assert users.principal_for(eng, "wang") == Principal("wang", "case_worker", frozenset({T1}), "wang")


def test_identity_provider_accounts_map_the_email(eng) -> None:
    users.add_user(eng, "zhang@bureau.example", "leader", None, principal=ROOT)
    assert users.get_user(eng, "zhang@bureau.example").has_password is False
    with pytest.raises(users.LoginFailed):  # no local password: the form cannot log this account in
        users.authenticate(eng, "zhang@bureau.example", "", now=T0)
    assert users.login_external(eng, "Zhang@Bureau.example", now=T0).role == "leader"
    assert users.login_external(eng, "stranger@example.com", now=T0) is None
    assert _log(eng)[-2:] == [("zhang@bureau.example", "login", "zhang@bureau.example"), ("stranger@example.com", "login_failed", "stranger@example.com")]


def test_the_list_has_no_hashes(eng) -> None:
    users.add_user(eng, "wang", "analyst", "right-password", principal=ROOT)
    frame = users.list_users(eng, principal=SYSTEM)
    assert "password_hash" not in frame.columns and frame["username"].tolist() == ["wang"]


def test_only_a_user_manager_changes_accounts_and_the_audit_row_names_them(eng) -> None:
    users.add_user(eng, "wang", "analyst", "right-password", principal=ROOT)
    for role in ("leader", "analyst", "case_worker", "trainer", "data_steward"):
        who = Principal("x", role, frozenset({T1}) if role == "case_worker" else None)
        with pytest.raises(AccessDenied):
            users.add_user(eng, "li", "analyst", "right-password", principal=who)
        with pytest.raises(AccessDenied):
            users.set_password(eng, "wang", "new-password-2", principal=who)
        with pytest.raises(AccessDenied):
            users.set_disabled(eng, "wang", True, principal=who)
        with pytest.raises(AccessDenied):
            users.set_role(eng, "wang", "admin", principal=who)
    with pytest.raises(AccessDenied):
        users.add_user(eng, "li", "analyst", "right-password", principal=None)
    assert users.get_user(eng, "li") is None and _log(eng) == [("root", "user_changed", "wang")]
    users.set_role(eng, "wang", "leader", principal=Principal("boss", "admin"))
    assert _log(eng)[-1] == ("boss", "user_changed", "wang")


def test_an_admin_cannot_lock_themself_out(eng) -> None:
    users.add_user(eng, "root", "admin", "right-password", principal=ROOT)
    for change in (lambda: users.set_disabled(eng, "root", True, principal=ROOT), lambda: users.set_role(eng, "root", "analyst", principal=ROOT)):
        with pytest.raises(users.UserError) as exc:
            change()
        assert exc.value.code == "not_self"
    users.set_disabled(eng, "root", False, principal=ROOT)  # enabling oneself is harmless
    users.set_role(eng, "root", "admin", principal=ROOT)
    assert users.principal_for(eng, "root").role == "admin"


def test_parallel_wrong_passwords_cannot_bypass_the_lock_out(eng) -> None:
    """39 wrong passwords sent at once, then the right one (issue 17, item 1): before the count was
    claimed atomically, all 39 were checked against a count of 0 and the account never locked."""
    import threading

    users.add_user(eng, "wang", "analyst", "right-password", principal=ROOT)
    start = threading.Barrier(39)
    refused: list[str] = []

    def guess() -> None:
        start.wait()
        try:
            users.authenticate(eng, "wang", "wrong-guess", now=T0)
        except users.LoginFailed as exc:
            refused.append(exc.reason)

    threads = [threading.Thread(target=guess) for _ in range(39)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(refused) == 39
    assert refused.count("password") <= users.MAX_FAILURES  # the rest were over the limit: not even checked as guesses
    assert _row(eng, "wang").locked_until == T0 + timedelta(minutes=users.LOCK_MINUTES)
    with pytest.raises(users.LoginFailed) as exc:
        users.authenticate(eng, "wang", "right-password", now=T0 + timedelta(seconds=5))
    assert exc.value.reason == "locked"


@pytest.mark.parametrize("pw,code", [("        ", "blank_password"), ("12345678", "common_password"), ("Password1", "common_password"), ("short", "short_password")])
def test_the_password_policy_refuses_blank_and_common_passwords(eng, pw: str, code: str) -> None:
    with pytest.raises(users.UserError) as exc:
        users.add_user(eng, "li", "analyst", pw, principal=ROOT)
    assert exc.value.code == code
    users.add_user(eng, "li", "analyst", "tea-kettle-42", principal=ROOT)
    with pytest.raises(users.UserError) as exc:
        users.set_password(eng, "li", pw, principal=ROOT)
    assert exc.value.code == code
