"""Who is logged in: the login form, the idle timeout, logout, and the optional OIDC login.

``st.session_state`` keeps only the username and the last-seen time
(``AUTH_USER``, ``AUTH_SEEN``); every run re-reads the user's row (role, townships,
disabled) from the database, so editing other session keys (``role``...) gives
nothing and disabling a user takes effect on their next click.

With an ``[auth]`` section in ``.streamlit/secrets.toml`` the bureau's identity
provider logs users in (``st.login``); the e-mail it returns must name a row in
``users`` (username = e-mail), whose role applies.  An unknown e-mail is refused.
"""

from __future__ import annotations

import os
import time

import streamlit as st
from sqlalchemy.engine import Engine

from fanpin.access import users
from fanpin.access.audit import record
from fanpin.access.roles import Principal
from fanpin.ui.i18n import t

AUTH_USER = "auth_user"
AUTH_SEEN = "auth_seen"
_NOTICE = "_login_notice"
DEFAULT_IDLE_MINUTES = 30.0


def idle_minutes() -> float:
    """``FANPIN_IDLE_MINUTES`` (default 30)."""
    try:
        value = float(os.environ.get("FANPIN_IDLE_MINUTES", DEFAULT_IDLE_MINUTES))
    except ValueError:
        return DEFAULT_IDLE_MINUTES
    return value if value > 0 else DEFAULT_IDLE_MINUTES


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


#: Per-user session keys dropped at logout, so the next user of the browser starts clean.
_PER_USER = ("pf_unmasked", "_pf_viewed", "_cl_seen")


def _forget() -> None:
    for key in (AUTH_USER, AUTH_SEEN, *_PER_USER):
        st.session_state.pop(key, None)


def logout(engine: Engine) -> None:
    """The sidebar's logout button (a callback: runs before the next script run)."""
    who = st.session_state.get(AUTH_USER)
    if who:
        record(engine, who, "logout", who)
    _forget()
    st.session_state[_NOTICE] = "logged_out"
    if oidc_configured():
        st.logout()


def _on_login(engine: Engine) -> None:
    ss = st.session_state
    name, password = (ss.get("login_user") or "").strip(), ss.get("login_password") or ""
    ss["login_password"] = ""  # the password never stays in the session
    try:
        principal = users.authenticate(engine, name, password)
    except users.LoginFailed:
        ss[_NOTICE] = "failed"
        return
    ss[AUTH_USER] = principal.username
    ss[AUTH_SEEN] = time.time()
    ss.pop(_NOTICE, None)


def current_principal(engine: Engine) -> Principal | None:
    """The logged-in user's principal, or None (then the caller draws the login form).

    Applies the idle timeout: a session unseen for longer than ``idle_minutes``
    is logged out and says so."""
    ss = st.session_state
    name = ss.get(AUTH_USER)
    now = time.time()
    if name:
        seen = ss.get(AUTH_SEEN)
        if not isinstance(seen, (int, float)) or now - float(seen) > idle_minutes() * 60:
            record(engine, str(name), "logout", str(name), {"reason": "idle"})
            _forget()
            ss[_NOTICE] = "expired"
            if oidc_configured():
                st.logout()  # the provider's session cookie goes too
            return None
    if oidc_configured():
        return _oidc_principal(engine)
    if not name:
        return None
    principal = users.principal_for(engine, str(name))
    if principal is None:  # deleted or disabled since: out at once
        _forget()
        ss[_NOTICE] = "failed"
        return None
    ss[AUTH_SEEN] = now
    return principal


def _oidc_principal(engine: Engine) -> Principal | None:
    if not getattr(st.user, "is_logged_in", False):
        return None
    email = str(st.user.get("email") or "")
    ss = st.session_state
    if ss.get(AUTH_USER) is None:  # first run of this login: one audit row, then remembered
        principal = users.login_external(engine, email)
        if principal is None:
            ss[_NOTICE] = "oidc_unknown"
            return None
        ss[AUTH_USER] = principal.username
    principal = users.principal_for(engine, ss[AUTH_USER])
    if principal is None:  # disabled since
        _forget()
        ss[_NOTICE] = "oidc_unknown"
        return None
    ss[AUTH_SEEN] = time.time()
    return principal


def login_form(engine: Engine) -> None:
    """The main area's login page (drawn by ``page_context`` when no one is logged in)."""
    st.title(t("access.login_title"))
    box, _ = st.columns([3, 2])
    with box:
        _login_body(engine)


def _login_body(engine: Engine) -> None:
    notice = st.session_state.get(_NOTICE)
    if notice == "failed":
        st.error(t("access.login_failed", n=users.MAX_FAILURES, minutes=users.LOCK_MINUTES))
    elif notice == "expired":
        st.warning(t("access.expired", minutes=f"{idle_minutes():g}"))
    elif notice == "logged_out":
        st.info(t("access.logged_out"))
    elif notice == "oidc_unknown":
        st.error(t("access.oidc_unknown"))
    if users.user_count(engine) == 0:
        st.info(t("access.no_users"))
        st.code("fanpin user add NAME --role admin", language="bash")
    if oidc_configured():
        if getattr(st.user, "is_logged_in", False):
            st.button(t("access.logout"), key="login_oidc_logout", on_click=st.logout)
        else:
            st.button(t("access.login_oidc"), key="login_oidc", type="primary", on_click=st.login)
        return
    with st.form("login_form", clear_on_submit=False):
        st.text_input(t("access.username"), key="login_user", max_chars=users.USERNAME_MAX, autocomplete="username")
        st.text_input(t("access.password"), key="login_password", type="password", max_chars=256, autocomplete="current-password")
        st.form_submit_button(t("access.login"), type="primary", on_click=_on_login, args=(engine,), key="login_submit")
    st.caption(t("access.login_help"))

