"""Who is logged in: the login form, sessions that survive a reload, the idle timeout, logout,
and the optional OIDC login.

A login issues a session token (``fanpin.access.sessions``: random, stored hashed, expiring,
revocable).  ``st.session_state`` keeps the token for this browser session; the browser keeps it in
a cookie, so a reload, a bookmarked page or a second tab (each a new Streamlit session) resumes the
login until the idle timeout, logout, or a change to the account.  Every run re-reads the user's
row (role, townships, disabled) from the database, so editing other session keys (``role``...)
gives nothing and disabling a user takes effect on their next click.

The cookie: ``st.context.cookies`` reads the cookies the browser sent when this session opened;
Streamlit has no API to write one, so a one-line script rendered once after login
(``st.html(..., unsafe_allow_javascript=True)``, fixed text plus the token, which is checked to be
URL-safe base64) sets it: ``fanpin_session``, ``Path=/``, ``SameSite=Strict``, ``Secure`` under
https, no ``Max-Age`` (it goes when the browser closes; the server ends it sooner).  It holds the
token only, never the password or the username.  The token is not put in the URL: a URL leaks
into the browser history, bookmarks, screenshots and server logs.  A script can read the cookie
(it cannot be HttpOnly when a script sets it), which is why pages escape data (``md()``) and why
the token dies at logout, after the idle timeout and at the latest after ``FANPIN_SESSION_HOURS``.

With an ``[auth]`` section in ``.streamlit/secrets.toml`` the bureau's identity
provider logs users in (``st.login``, whose own cookie survives reloads); the e-mail it returns
must name a row in ``users`` (username = e-mail), whose role applies.  An unknown e-mail is refused.
"""

from __future__ import annotations

import os
import time

import streamlit as st
from sqlalchemy.engine import Engine

from fanpin.access import sessions, users
from fanpin.access.audit import record
from fanpin.access.roles import Principal
from fanpin.ui.i18n import t

AUTH_TOKEN = "auth_token"
AUTH_USER = "auth_user"  # the identity-provider login's user name
AUTH_SEEN = "auth_seen"  # the identity-provider login's last run (its idle timeout)
COOKIE = "fanpin_session"
_NOTICE = "_login_notice"
_COOKIE_JS = "_login_cookie"  # a cookie to write on this run: the token, or "" to clear it
_REFUSED = "_login_refused"
FRESH_LOGIN = "_fresh_login"  # set by a login; the first page run after it may go to the role's home page  # a cookie token already refused in this browser session
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
    for key in (AUTH_TOKEN, AUTH_USER, AUTH_SEEN, *_PER_USER):
        st.session_state.pop(key, None)


def browser_token() -> str | None:
    """The session cookie the browser sent when this Streamlit session opened (None without one)."""
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (a bare script run)
        return None
    return value if sessions.looks_like_token(value) else None


def _write_cookie(token: str) -> None:
    """Set (a token) or clear ("") the browser's session cookie, from a one-line script."""
    if token and not sessions.looks_like_token(token):
        return
    value = f"{COOKIE}={token}; Path=/; SameSite=Strict" + ("" if token else "; Max-Age=0")
    script = f'<script>document.cookie="{value}"+(location.protocol==="https:"?"; Secure":"");</script>'
    st.sidebar.html(script, unsafe_allow_javascript=True, width="content")


def cookie_step() -> None:
    """Write the cookie a login or a logout asked for (once, on the run that follows it)."""
    pending = st.session_state.pop(_COOKIE_JS, None)
    if pending is not None:
        _write_cookie(pending)


def logout(engine: Engine) -> None:
    """The sidebar's logout button (a callback: runs before the next script run): the audit row,
    the session deleted (every tab of this login is out), the cookie cleared."""
    ss = st.session_state
    token, who = ss.get(AUTH_TOKEN), ss.get(AUTH_USER)
    if who:
        record(engine, who, "logout", who)
    if token:
        sessions.end(engine, token)
    if browser_token():
        ss[_REFUSED] = browser_token()
    _forget()
    ss[_COOKIE_JS] = ""
    ss[_NOTICE] = "logged_out"
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
    sessions.prune(engine, idle_minutes())
    token = sessions.issue(engine, principal)
    ss[AUTH_TOKEN] = token
    ss[AUTH_USER] = principal.username
    ss[_COOKIE_JS] = token
    ss[FRESH_LOGIN] = True  # the role's first page is shown once (``fanpin.ui.sidebar.page_context``)
    ss.pop(_NOTICE, None)


#: The notice a refused session leaves on the login form.
_REFUSAL_NOTICE = {"idle": "expired", "expired": "session_over", "revoked": "revoked", "unknown": "logged_out"}


def current_principal(engine: Engine) -> Principal | None:
    """The logged-in user's principal, or None (then the caller draws the login form).

    The token comes from this session or, on a reload or a new tab, from the cookie; the
    session table applies the idle timeout (across tabs), the absolute end and revocation."""
    if oidc_configured():
        return _oidc_session(engine)
    ss = st.session_state
    token = ss.get(AUTH_TOKEN)
    cookie = browser_token()
    if not token and cookie and cookie != ss.get(_REFUSED):
        token = cookie
    if not token:
        return None
    resumed = sessions.resume(engine, token, idle_minutes())
    if resumed.principal is not None:
        ss[AUTH_TOKEN] = token
        ss[AUTH_USER] = resumed.principal.username
        return resumed.principal
    if resumed.reason == "idle" and resumed.username:
        record(engine, resumed.username, "logout", resumed.username, {"reason": "idle"})
    if resumed.reason == "revoked" and resumed.username:
        record(engine, resumed.username, "logout", resumed.username, {"reason": "account_changed"})
    if cookie:
        ss[_REFUSED] = cookie
        ss[_COOKIE_JS] = ""
    had_session = bool(ss.get(AUTH_TOKEN))
    _forget()
    if had_session or resumed.reason != "unknown":
        ss[_NOTICE] = _REFUSAL_NOTICE.get(resumed.reason, "logged_out")
    return None


def _oidc_session(engine: Engine) -> Principal | None:
    """The identity provider's login, with the idle timeout kept in this session."""
    ss = st.session_state
    name, seen = ss.get(AUTH_USER), ss.get(AUTH_SEEN)
    if name and (not isinstance(seen, (int, float)) or time.time() - float(seen) > idle_minutes() * 60):
        record(engine, str(name), "logout", str(name), {"reason": "idle"})
        _forget()
        ss[_NOTICE] = "expired"
        st.logout()  # the provider's session cookie goes too
        return None
    return _oidc_principal(engine)


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
    elif notice == "session_over":
        st.warning(t("session.over", hours=f"{sessions.session_hours():g}"))
    elif notice == "revoked":
        st.warning(t("session.revoked"))
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

