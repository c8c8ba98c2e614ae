"""The local user store: accounts, argon2 password hashes, lock-out, and who is logged in.

Used on the embedded default (and anywhere without an identity provider).  There
is no default password: the first administrator is created from the command line
(``fanpin user add NAME --role admin``).  Passwords are hashed with argon2id
(``argon2-cffi``); a hash made with weaker parameters is upgraded at the next
successful login.

Lock-out: ``MAX_FAILURES`` failed logins in a row lock the account for
``LOCK_MINUTES`` (stored in ``users.failed_logins`` / ``locked_until``), and the
answer to a failed login is the same whether the user exists, is disabled, is
locked or typed a wrong password, so the form cannot be used to probe for names.
Every login and failed login is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from fanpin.access.audit import record
from fanpin.access.roles import ROLES, Principal
from fanpin.store.schema import regions, users

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8
USERNAME_MAX = 64

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("fanpin-no-such-user")


class UserError(ValueError):
    """A refused account change; ``code`` names it (``exists``, ``no_user``, ``bad_role``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class LoginFailed(Exception):
    """The one answer a failed login gets (``reason`` is for the audit log, never for the screen)."""

    def __init__(self, reason: str) -> None:
        super().__init__("login failed")
        self.reason = reason


@dataclass(frozen=True)
class User:
    username: str
    role: str
    townships: frozenset[str] | None
    display_name: str
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    has_password: bool

    def principal(self) -> Principal:
        return Principal(self.username, self.role, self.townships, self.display_name or self.username)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for no hash or a malformed one)."""
    if not password_hash:
        _verify_dummy(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _verify_dummy(password: str) -> None:
    try:
        _hasher.verify(_DUMMY_HASH, password)
    except VerificationError:
        pass


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def _townships_text(townships: frozenset[str] | None) -> str | None:
    return None if townships is None else ",".join(sorted(townships))


def _parse_townships(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    return frozenset(c for c in (p.strip() for p in text.split(",")) if c)


def _user(row) -> User:  # noqa: ANN001 - a Row
    return User(
        username=row.username,
        role=row.role,
        townships=_parse_townships(row.townships),
        display_name=row.display_name or "",
        disabled=bool(row.disabled),
        failed_logins=int(row.failed_logins or 0),
        locked_until=row.locked_until,
        has_password=bool(row.password_hash),
    )


def township_codes(engine: Engine | Connection) -> set[str]:
    stmt = select(regions.c.region_code).where(regions.c.level == "township")
    if isinstance(engine, Connection):
        return {r[0] for r in engine.execute(stmt)}
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(stmt)}


def validate(engine: Engine, username: str, role: str, townships: list[str] | None, password: str | None) -> frozenset[str] | None:
    """Check an account's fields; returns the townships to store (None = all)."""
    name = (username or "").strip()
    if not name or len(name) > USERNAME_MAX or any(ch.isspace() for ch in name):
        raise UserError("bad_name", f"a user name is 1-{USERNAME_MAX} characters without spaces")
    if role not in ROLES:
        raise UserError("bad_role", f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise UserError("short_password", f"a password needs at least {MIN_PASSWORD} characters")
    if role == "case_worker":
        if not townships:
            raise UserError("need_townships", "a case worker needs --townships (township region codes)")
        known = township_codes(engine)
        bad = sorted(set(townships) - known)
        if bad:
            raise UserError("bad_townships", f"not township codes in this database: {', '.join(bad)}")
        return frozenset(townships)
    if townships:
        raise UserError("townships_not_case_worker", "only case workers are scoped to townships")
    return None


def add_user(
    engine: Engine,
    username: str,
    role: str,
    password: str | None,
    *,
    townships: list[str] | None = None,
    display_name: str | None = None,
    created_by: str = "cli",
    now: datetime | None = None,
) -> User:
    """Create an account.  ``password=None`` makes an identity-provider account (no local login)."""
    towns = validate(engine, username, role, townships, password)
    username = username.strip()
    at = _now(now)
    with engine.begin() as conn:
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise UserError("exists", f"user {username} exists already")
        conn.execute(
            insert(users).values(
                username=username, display_name=display_name or None, password_hash=hash_password(password) if password else None,
                role=role, townships=_townships_text(towns), disabled=False, failed_logins=0, created_at=at, created_by=created_by,
                password_changed_at=at if password else None,
            )
        )
        record(conn, created_by, "user_changed", username, {"op": "add", "role": role, "townships": _townships_text(towns)}, at=at)
    return get_user(engine, username)


def set_password(engine: Engine, username: str, password: str, *, actor: str = "cli", now: datetime | None = None) -> None:
    """A new password; also clears failures and a lock-out."""
    if len(password or "") < MIN_PASSWORD:
        raise UserError("short_password", f"a password needs at least {MIN_PASSWORD} characters")
    at = _now(now)
    with engine.begin() as conn:
        n = conn.execute(
            update(users).where(users.c.username == username)
            .values(password_hash=hash_password(password), password_changed_at=at, failed_logins=0, locked_until=None)
        ).rowcount
        if not n:
            raise UserError("no_user", f"no user {username}")
        record(conn, actor, "user_changed", username, {"op": "passwd"}, at=at)


def set_disabled(engine: Engine, username: str, disabled: bool = True, *, actor: str = "cli", now: datetime | None = None) -> None:
    at = _now(now)
    with engine.begin() as conn:
        n = conn.execute(update(users).where(users.c.username == username).values(disabled=bool(disabled))).rowcount
        if not n:
            raise UserError("no_user", f"no user {username}")
        record(conn, actor, "user_changed", username, {"op": "disable" if disabled else "enable"}, at=at)


def set_role(engine: Engine, username: str, role: str, townships: list[str] | None = None, *, actor: str = "cli") -> None:
    towns = validate(engine, username, role, townships, None)
    with engine.begin() as conn:
        n = conn.execute(update(users).where(users.c.username == username).values(role=role, townships=_townships_text(towns))).rowcount
        if not n:
            raise UserError("no_user", f"no user {username}")
        record(conn, actor, "user_changed", username, {"op": "role", "role": role, "townships": _townships_text(towns)})


def get_user(engine: Engine, username: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == str(username))).first()
    return _user(row) if row else None


def user_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar() or 0)


def list_users(engine: Engine) -> pd.DataFrame:
    """Every account without its hash (the admin page's list)."""
    cols = [c for c in users.columns if c.name != "password_hash"]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).order_by(users.c.username)).all()
    return pd.DataFrame(rows, columns=[c.name for c in cols])


def principal_for(engine: Engine, username: str | None) -> Principal | None:
    """The logged-in user's principal, re-read from the database on every run:
    None when the account is gone or disabled, so a change takes effect at once."""
    if not username:
        return None
    u = get_user(engine, username)
    if u is None or u.disabled or u.role not in ROLES:
        return None
    return u.principal()


def authenticate(engine: Engine, username: str, password: str, *, now: datetime | None = None) -> Principal:
    """Check a login; returns the principal or raises ``LoginFailed`` (same message whatever the reason).

    Counts failures in the database and locks the account after ``MAX_FAILURES``;
    writes ``login`` / ``login_failed`` to the audit log."""
    at = _now(now)
    name = (username or "").strip()[:USERNAME_MAX]
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.username == name)).first() if name else None
        if row is None:
            _verify_dummy(password or "")
            record(conn, name or "?", "login_failed", name or None, {"reason": "unknown"}, at=at)
            reason = "unknown"
        else:
            locked = row.locked_until is not None and row.locked_until > at
            ok = verify_password(row.password_hash, password or "")
            if locked:
                reason = "locked"
            elif row.disabled:
                reason = "disabled"
            elif not ok:
                reason = "password"
            else:
                reason = ""
            if reason:
                failures = int(row.failed_logins or 0) + (reason == "password")
                values: dict = {"failed_logins": failures}
                if reason == "password" and failures >= MAX_FAILURES:
                    values["locked_until"] = at + timedelta(minutes=LOCK_MINUTES)
                    values["failed_logins"] = 0
                conn.execute(update(users).where(users.c.username == name).values(**values))
                record(conn, name, "login_failed", name, {"reason": reason, **({"locked": True} if "locked_until" in values else {})}, at=at)
            else:
                values = {"failed_logins": 0, "locked_until": None, "last_login_at": at}
                if _hasher.check_needs_rehash(row.password_hash):
                    values["password_hash"] = hash_password(password)
                conn.execute(update(users).where(users.c.username == name).values(**values))
                record(conn, name, "login", name, {"role": row.role}, at=at)
                return _user(row).principal()
    raise LoginFailed(reason)


def login_external(engine: Engine, email: str | None, *, now: datetime | None = None) -> Principal | None:
    """An identity-provider login: the user's email must name an account (``username`` = email,
    case-insensitive); its role comes from there.  Unknown or disabled: None (and a failed-login row)."""
    at = _now(now)
    mail = (email or "").strip().lower()
    with engine.begin() as conn:
        row = conn.execute(select(users).where(func.lower(users.c.username) == mail)).first() if mail else None
        if row is None or row.disabled or row.role not in ROLES:
            record(conn, mail or "?", "login_failed", mail or None, {"reason": "oidc_unknown" if row is None else "disabled"}, at=at)
            return None
        conn.execute(update(users).where(users.c.username == row.username).values(last_login_at=at))
        record(conn, row.username, "login", row.username, {"role": row.role, "via": "oidc"}, at=at)
        return _user(row).principal()
