"""Issue 18 item 7: a login survives a reload and a second tab until the idle timeout or logout,
through a random token stored hashed (AppTest: a new AppTest is a new browser session; the
browser's cookie is handed to it by replacing ``login.browser_token``)."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from fanpin import store
from fanpin.access import users
from fanpin.access.roles import SYSTEM
from fanpin.core.i18n import translate
from fanpin.store import schema as S
from fanpin.ui import login as login_ui

from .conftest import ensure_user, login, new_app, password_of


@pytest.fixture(scope="module")
def login_db(small_demo, tmp_path_factory):
    engine, _ = small_demo
    path = tmp_path_factory.mktemp("login") / "login.db"
    with sqlite3.connect(engine.url.database) as a, sqlite3.connect(path) as b:
        a.backup(b)
    eng = store.make_engine(f"sqlite:///{path}")
    yield eng, f"sqlite:///{path}"
    eng.dispose()


@pytest.fixture
def db(login_db, monkeypatch: pytest.MonkeyPatch):
    eng, url = login_db
    monkeypatch.setenv("FANPIN_DB_URL", url)
    monkeypatch.setenv("FANPIN_IDLE_MINUTES", "30")
    return eng


def _sessions(eng, username: str) -> list:
    with eng.connect() as conn:
        return list(conn.execute(select(S.sessions).where(S.sessions.c.username == username)))


def _log(eng, action: str, actor: str) -> list:
    q = select(S.audit_log).where(S.audit_log.c.action == action, S.audit_log.c.actor == actor).order_by(S.audit_log.c.audit_id)
    with eng.connect() as conn:
        return list(conn.execute(q))


def _login_form(at) -> bool:
    return any(w.key == "login_password" for w in at.text_input)


def _logged_in(role: str, username: str, page: str = "overview"):
    name = ensure_user(role, username)
    at = new_app()
    at.switch_page(f"pages/{page}.py")
    at.run()
    login(at, name)
    assert not _login_form(at) and not at.exception, at.exception
    return at, at.session_state[login_ui.AUTH_TOKEN]


def _tab(monkeypatch: pytest.MonkeyPatch, token: str | None, page: str = "overview"):
    """A reload or a second tab: a new Streamlit session whose browser sends ``token`` as its cookie."""
    monkeypatch.setattr(login_ui, "browser_token", lambda: token)
    at = new_app()
    at.switch_page(f"pages/{page}.py")
    return at.run()


def test_a_login_stores_only_the_hash_of_a_random_token(db) -> None:
    at, token = _logged_in("leader", "ld_token")
    rows = _sessions(db, "ld_token")
    assert len(rows) == 1
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert len(token) >= 40 and "ld_token" not in token and password_of("ld_token") not in token
    scripts = [h.proto.body for h in at.get("html")]
    assert any(f"fanpin_session={token}" in body for body in scripts), "the cookie is written after login"
    assert not any("ld_token" in body or password_of("ld_token") in body for body in scripts)
    assert _log(db, "login", "ld_token")


def test_a_reload_of_a_bookmarked_page_keeps_the_login(db, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = _logged_in("analyst", "an_reload", page="simulator")
    again = _tab(monkeypatch, token, page="simulator")
    assert not _login_form(again) and not again.exception, again.exception
    assert any(w.key == "sim_income_line" for w in again.number_input), "the bookmarked page itself, logged in"
    logins = len(_log(db, "login", "an_reload"))
    assert logins == 1, "resuming is not a new login"


def test_a_second_tab_is_logged_in_and_logout_ends_both(db, monkeypatch: pytest.MonkeyPatch) -> None:
    first, token = _logged_in("leader", "ld_tabs")
    second = _tab(monkeypatch, token)
    assert second.metric and not _login_form(second)
    second.button(key="sb_logout").click().run()
    assert _login_form(second)
    assert any("Max-Age=0" in h.proto.body for h in second.get("html")), "logout clears the cookie"
    assert _sessions(db, "ld_tabs") == []
    first.run()
    assert _login_form(first) and not first.metric
    assert translate("access.logged_out", "zh") in [i.value for i in first.info]
    assert len(_log(db, "logout", "ld_tabs")) == 1
    again = _tab(monkeypatch, token)  # the old cookie after logout
    assert _login_form(again) and not again.metric


def test_the_idle_timeout_counts_across_tabs(db, monkeypatch: pytest.MonkeyPatch) -> None:
    at, token = _logged_in("leader", "ld_idle")
    with db.begin() as conn:
        conn.execute(update(S.sessions).where(S.sessions.c.username == "ld_idle").values(last_seen=datetime.now() - timedelta(minutes=29)))
    assert _tab(monkeypatch, token).metric  # 29 minutes: still in, and seen again now
    with db.begin() as conn:
        conn.execute(update(S.sessions).where(S.sessions.c.username == "ld_idle").values(last_seen=datetime.now() - timedelta(minutes=31)))
    at.run()
    assert _login_form(at) and not at.metric
    assert "30" in " ".join(w.value for w in at.warning)
    assert '"idle"' in _log(db, "logout", "ld_idle")[-1].detail
    assert _sessions(db, "ld_idle") == []


@pytest.mark.parametrize("change", ["role", "disable", "password"])
def test_an_account_change_ends_its_sessions(db, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    name = f"an_change_{change}"
    at, token = _logged_in("analyst", name)
    if change == "role":
        users.set_role(db, name, "leader", principal=SYSTEM)
    elif change == "disable":
        users.set_disabled(db, name, True, principal=SYSTEM)
    else:
        users.set_password(db, name, "another-long-pass-9", principal=SYSTEM)
    at.run()
    assert _login_form(at) and not at.metric
    assert translate("session.revoked", "zh") in [w.value for w in at.warning]
    assert _sessions(db, name) == []
    assert _login_form(_tab(monkeypatch, token))


def test_a_session_ends_at_its_latest_end(db) -> None:
    at, _ = _logged_in("leader", "ld_old")
    with db.begin() as conn:
        conn.execute(update(S.sessions).where(S.sessions.c.username == "ld_old").values(expires_at=datetime.now() - timedelta(seconds=1)))
    at.run()
    assert _login_form(at)
    assert _sessions(db, "ld_old") == []


def test_a_made_up_cookie_gives_the_login_form_and_no_notice(db, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _tab(monkeypatch, "A" * 43)
    assert _login_form(at) and not at.metric
    assert not at.warning and not at.info and not at.error
