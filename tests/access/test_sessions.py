"""Login sessions on both backends: a random token stored hashed, idle and absolute ends, revocation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fanpin import store
from fanpin.access import sessions, users
from fanpin.access.roles import SYSTEM
from fanpin.store import sessions as session_store
from fanpin.store.engine import make_engine

T0 = datetime(2026, 12, 1, 9, 0, 0)


@pytest.fixture
def engine(db_url: str):
    eng = make_engine(db_url, create=True)
    store.upgrade(eng)
    users.add_user(eng, "ana", "analyst", "a-long-password-1", principal=SYSTEM)
    yield eng
    eng.dispose()


def _issue(engine) -> str:
    return sessions.issue(engine, users.principal_for(engine, "ana"), now=T0)


def test_a_token_resumes_and_only_its_hash_is_kept(engine) -> None:
    token = _issue(engine)
    assert sessions.looks_like_token(token) and len(token) >= 40
    row = session_store.session_row(engine, sessions.token_hash(token))
    assert row is not None and row.token_hash != token and row.username == "ana"
    assert session_store.session_row(engine, token) is None
    got = sessions.resume(engine, token, 30, now=T0 + timedelta(minutes=10))
    assert got.principal is not None and got.principal.role == "analyst"
    assert _issue(engine) != token  # random, not derived from the user


def test_idle_and_absolute_ends(engine) -> None:
    token = _issue(engine)
    assert sessions.resume(engine, token, 30, now=T0 + timedelta(minutes=29)).principal is not None
    assert sessions.resume(engine, token, 30, now=T0 + timedelta(minutes=58)).principal is not None  # seen at 29
    assert sessions.resume(engine, token, 30, now=T0 + timedelta(minutes=89)).reason == "idle"
    assert sessions.resume(engine, token, 30, now=T0 + timedelta(minutes=90)).reason == "unknown"  # deleted
    late = _issue(engine)
    assert sessions.resume(engine, late, 10**6, now=T0 + timedelta(hours=sessions.session_hours())).reason == "expired"


def test_account_changes_and_logout_revoke(engine) -> None:
    token = _issue(engine)
    users.set_role(engine, "ana", "leader", principal=SYSTEM)
    assert sessions.resume(engine, token, 30, now=T0).reason == "revoked"
    again = _issue(engine)
    assert sessions.end(engine, again) is True and sessions.end(engine, again) is False
    assert sessions.resume(engine, again, 30, now=T0).reason == "unknown"
    third = _issue(engine)
    users.set_disabled(engine, "ana", True, principal=SYSTEM)
    assert sessions.resume(engine, third, 30, now=T0).reason == "revoked"


def test_a_new_password_in_the_same_second_still_revokes(engine) -> None:
    """The CI failure: an account made and its password changed within one second (same date)."""
    users.set_password(engine, "ana", "first-long-pass-1", principal=SYSTEM, now=T0)
    token = _issue(engine)
    users.set_password(engine, "ana", "second-long-pass-2", principal=SYSTEM, now=T0)
    assert sessions.resume(engine, token, 30, now=T0).reason == "revoked"


def test_garbage_is_never_looked_up_and_stale_rows_are_pruned(engine) -> None:
    assert sessions.resume(engine, "x'; DROP TABLE sessions; --", 30).reason == "unknown"
    assert not sessions.looks_like_token(None)
    _issue(engine)
    assert sessions.prune(engine, 30, now=T0 + timedelta(minutes=31)) == 1
    assert session_store.user_session_count(engine, "ana") == 0
