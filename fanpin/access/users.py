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

Changing an account takes the acting ``principal`` (required; the command line passes
``system_principal()``), checks ``user_manage`` and writes the audit row as that principal.
An administrator cannot disable themself or take away their own admin role, so the last
way in is not locked by a slip.  User names are ASCII letters, digits and ``._@-`` only
(``username_ok``); display names lose invisible characters (``clean_display_name``).  The SQL is
in ``fanpin.store.users``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Connection, Engine

from fanpin.access.audit import record
from fanpin.access.passwords import MIN_LENGTH as MIN_PASSWORD
from fanpin.access.passwords import password_problem
from fanpin.access.roles import REGION_ROLES, ROLES, TOWNSHIP_ROLES, Principal, in_region, require
from fanpin.core.regions import LEVELS, level_index
from fanpin.core.text import strip_invisible
from fanpin.store import users as store
from fanpin.store.users import UserRow

MAX_FAILURES = 5
LOCK_MINUTES = 15
USERNAME_MAX = 64
DISPLAY_NAME_MAX = 64
_USERNAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{USERNAME_MAX - 1}}}")

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
    #: A province or city leader's region (12-digit code); None for every other role.
    region: str | None = None

    def principal(self, engine: Engine | Connection | None = None) -> Principal:
        """The account's principal.  A province or city leader's townships are the database's
        townships inside their region (``engine``; without one, none: failing closed)."""
        if self.role in REGION_ROLES:
            towns = frozenset(c for c in store.township_codes(engine) if self.region and in_region(c, self.region)) if engine is not None else frozenset()
            return Principal(self.username, self.role, towns, self.display_name or self.username, region=self.region)
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


def _user(row: UserRow) -> User:
    """An account as read.  The ``townships`` column holds the region codes the account is scoped
    to: a case worker's or township leader's townships, or a province or city leader's one region
    (no column of its own: the same column, the same session rule when it changes)."""
    region = (row.townships or "").strip() or None if row.role in REGION_ROLES else None
    return User(
        username=row.username,
        role=row.role,
        region=region,
        townships=None if row.role in REGION_ROLES else _parse_townships(row.townships),
        display_name=row.display_name or "",
        disabled=bool(row.disabled),
        failed_logins=int(row.failed_logins or 0),
        locked_until=row.locked_until,
        has_password=bool(row.password_hash),
    )


def township_codes(engine: Engine | Connection) -> set[str]:
    """The township codes a case worker may be scoped to."""
    return store.township_codes(engine)


_PASSWORD_MESSAGES = {
    "short": f"a password needs at least {MIN_PASSWORD} characters",
    "blank": "a password cannot be only spaces",
    "common": "this password is among the most common ones an attacker tries first; choose another",
}


def check_password(password: str) -> None:
    """Raise ``UserError`` (``short_password`` / ``blank_password`` / ``common_password``) for a
    password the policy refuses (``fanpin.access.passwords``)."""
    problem = password_problem(password)
    if problem:
        raise UserError(f"{problem}_password", _PASSWORD_MESSAGES[problem])


def region_code(text: str | None) -> str | None:
    """A region code as typed (``"99"``, ``"9901"`` or 12 digits) as its 12-digit form, or None when
    it is not one (digits only, at most 12)."""
    code = (text or "").strip()
    if not code.isdigit() or len(code) > 12 or not code.isascii():
        return None
    return code.ljust(12, "0")


def known_regions(engine: Engine) -> set[str]:
    """The 12-digit codes of townships a region may contain: the database's townships and the
    counties of the analytic store (``FANPIN_STORE_DIR``), if one is configured."""
    known = set(store.township_codes(engine))
    try:
        from fanpin.store.snapshot import SnapshotStore

        known |= {c.ljust(12, "0") for c in SnapshotStore().manifest().counties}
    except (OSError, ValueError):  # no store, or one this fanpin cannot read: the database's regions only
        pass
    return known


def _validate_region(engine: Engine, role: str, region: str | None) -> str:
    level = REGION_ROLES[role]
    code = region_code(region)
    if code is None or LEVELS[int(level_index(code)[0])] != level:
        raise UserError("bad_region", f"a {role} needs --region: the {level}'s region code (e.g. {'99' if level == 'province' else '9901'} or 12 digits)")
    if not any(in_region(c, code) for c in known_regions(engine)):
        raise UserError("unknown_region", f"no county of the database or the analytic store lies in region {code}")
    return code


def validate(engine: Engine, username: str, role: str, townships: list[str] | None, password: str | None, region: str | None = None) -> frozenset[str] | None:
    """Check an account's fields; returns the codes to store in the ``townships`` column (None =
    all): a township role's townships, or a province or city leader's one region (12 digits)."""
    name = (username or "").strip()
    if not username_ok(name):
        raise UserError("bad_name", f"a user name is 1-{USERNAME_MAX} characters: letters, digits, '.', '_', '@' and '-', starting with a letter or digit")
    if role not in ROLES:
        raise UserError("bad_role", f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if password is not None:
        check_password(password)
    if region and role not in REGION_ROLES:
        raise UserError("region_not_leader", "only province and city leaders are scoped to a region")
    if role in REGION_ROLES:
        if townships:
            raise UserError("townships_not_case_worker", "only case workers and township leaders are scoped to townships")
        return frozenset({_validate_region(engine, role, region)})
    if role in TOWNSHIP_ROLES:
        if not townships:
            raise UserError("need_townships", "a case worker or township leader needs --townships (township region codes)")
        known = store.township_codes(engine)
        bad = sorted(set(townships) - known)
        if bad:
            raise UserError("bad_townships", f"not township codes in this database: {', '.join(bad)}")
        return frozenset(townships)
    if townships:
        raise UserError("townships_not_case_worker", "only case workers and township leaders are scoped to townships")
    return None


def username_ok(name: str) -> bool:
    """Whether ``name`` is a safe user name: ASCII letters and digits, ``.``, ``_``, ``@`` and ``-``
    (an email address fits), starting with a letter or digit, at most ``USERNAME_MAX`` characters.
    A name is shown on every page and in the audit log: invisible characters (a right-to-left
    override makes one name look like another), look-alike letters and markup are refused."""
    return bool(_USERNAME.fullmatch(name or ""))


def clean_display_name(text: str | None) -> str | None:
    """A display name without invisible characters and with every run of whitespace (tabs,
    newlines) one space; None when nothing is left."""
    cleaned = " ".join(strip_invisible(text or "").split())
    return cleaned[:DISPLAY_NAME_MAX] or None


def _not_self(principal: Principal, username: str) -> None:
    if principal.username == username:
        raise UserError("not_self", "an administrator cannot disable themself or give up their own admin role")


def add_user(
    engine: Engine,
    username: str,
    role: str,
    password: str | None,
    *,
    principal: Principal,
    townships: list[str] | None = None,
    display_name: str | None = None,
    now: datetime | None = None,
    region: str | None = None,
) -> User:
    """Create an account.  ``password=None`` makes an identity-provider account (no local login);
    ``region``: a province or city leader's province or city code."""
    require(principal, "user_manage")
    towns = validate(engine, username, role, townships, password, region)
    username = username.strip()
    at = _now(now)
    with engine.begin() as conn:
        if store.exists(conn, username):
            raise UserError("exists", f"user {username} exists already")
        store.insert_user(conn, {
            "username": username, "display_name": clean_display_name(display_name), "password_hash": hash_password(password) if password else None,
            "role": role, "townships": _townships_text(towns), "disabled": False, "failed_logins": 0, "created_at": at,
            "created_by": principal.actor, "password_changed_at": at if password else None,
        })
        record(conn, principal.actor, "user_changed", username, {"op": "add", "role": role, **_scope_detail(role, towns)}, at=at)
    return get_user(engine, username)


def _change(engine: Engine, principal: Principal, username: str, values: dict, detail: dict, at: datetime | None = None) -> None:
    """One audited change of one account, in one transaction."""
    with engine.begin() as conn:
        if not store.update_user(conn, username, values):
            raise UserError("no_user", f"no user {username}")
        record(conn, principal.actor, "user_changed", username, detail, at=at)


def set_password(engine: Engine, username: str, password: str, *, principal: Principal, now: datetime | None = None) -> None:
    """A new password; also clears failures and a lock-out."""
    require(principal, "user_manage")
    check_password(password or "")
    at = _now(now)
    values = {"password_hash": hash_password(password), "password_changed_at": at, "failed_logins": 0, "locked_until": None}
    _change(engine, principal, username, values, {"op": "passwd"}, at)


def set_disabled(engine: Engine, username: str, disabled: bool = True, *, principal: Principal, now: datetime | None = None) -> None:
    """Disable (or enable again) an account; a disabled user's session ends at the next run."""
    require(principal, "user_manage")
    if disabled:
        _not_self(principal, username)
    _change(engine, principal, username, {"disabled": bool(disabled)}, {"op": "disable" if disabled else "enable"}, _now(now))


def set_role(engine: Engine, username: str, role: str, townships: list[str] | None = None, *, principal: Principal, region: str | None = None) -> None:
    """A new role (and, for a case worker, townships; for a province or city leader, the region)."""
    require(principal, "user_manage")
    if role != "admin":
        _not_self(principal, username)
    towns = validate(engine, username, role, townships, None, region)
    values = {"role": role, "townships": _townships_text(towns)}
    _change(engine, principal, username, values, {"op": "role", "role": role, **_scope_detail(role, towns)})


def _scope_detail(role: str, codes: frozenset[str] | None) -> dict[str, str | None]:
    """The audit row's scope: ``region`` for a province or city leader, else ``townships``."""
    if role in REGION_ROLES:
        return {"region": _townships_text(codes)}
    return {"townships": _townships_text(codes)}


def get_user(engine: Engine, username: str) -> User | None:
    row = store.user_row(engine, username)
    return _user(row) if row else None


def user_count(engine: Engine) -> int:
    return store.user_count(engine)


def list_users(engine: Engine, *, principal: Principal) -> pd.DataFrame:
    """Every account without its hash (the admin page's list); needs ``user_manage``."""
    require(principal, "user_manage")
    return store.list_users(engine)


def account_states(frame: pd.DataFrame, now: datetime | None = None) -> list[str]:
    """Each listed account's state code: ``disabled``, ``locked`` (a lock-out still running) or ``active``."""
    at = pd.Timestamp(_now(now))
    return [
        "disabled" if d else ("locked" if lu is not None and not pd.isna(lu) and pd.Timestamp(lu) > at else "active")
        for d, lu in zip(frame["disabled"], frame["locked_until"])
    ]


def principal_for(engine: Engine, username: str | None) -> Principal | None:
    """The logged-in user's principal, re-read from the database on every run:
    None when the account is gone or disabled, so a change takes effect at once."""
    if not username:
        return None
    u = get_user(engine, username)
    if u is None or u.disabled or u.role not in ROLES:
        return None
    return u.principal(engine)


def _refusal(row: UserRow, attempt: int | None, ok: bool) -> str:
    """Why this login is refused ("" = it is not).  ``attempt`` is the claimed failure count
    (None: the account was locked): an attempt past ``MAX_FAILURES`` is refused even with the
    right password, because the guesses before it were in flight at the same time."""
    if attempt is None or attempt > MAX_FAILURES:
        return "locked"
    if row.disabled:
        return "disabled"
    return "" if ok else "password"


def authenticate(engine: Engine, username: str, password: str, *, now: datetime | None = None) -> Principal:
    """Check a login; returns the principal or raises ``LoginFailed`` (same message whatever the reason).

    No principal yet: the audit rows are written as the name typed.  The attempt is counted in
    the database before the password is checked (``store.claim_attempt``), and the account is
    locked after ``MAX_FAILURES`` failures in a row; writes ``login`` / ``login_failed``."""
    at = _now(now)
    name = (username or "").strip()[:USERNAME_MAX]
    row = store.user_row(engine, name) if name else None
    if row is None:
        _verify_dummy(password or "")
        with engine.begin() as conn:
            record(conn, name or "?", "login_failed", name or None, {"reason": "unknown"}, at=at)
        raise LoginFailed("unknown")
    attempt = store.claim_attempt(engine, name, at)
    ok = verify_password(row.password_hash, password or "")  # checked whatever the answer: same timing
    reason = _refusal(row, attempt, ok)
    with engine.begin() as conn:  # the failure rows must commit: nothing raises inside
        _note_login(conn, row, name, reason, attempt, password or "", at)
    if reason:
        raise LoginFailed(reason)
    return _user(row).principal(engine)


def _note_login(conn: Connection, row: UserRow, name: str, reason: str, attempt: int | None, password: str, at: datetime) -> None:
    """Write a known account's login or failure: counters, lock-out, rehash, the audit row."""
    if not reason:
        values: dict = {"failed_logins": 0, "locked_until": None, "last_login_at": at}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = hash_password(password)
        store.update_user(conn, name, values)
        record(conn, name, "login", name, {"role": row.role}, at=at)
        return
    locks = attempt is not None and (attempt > MAX_FAILURES or (reason == "password" and attempt >= MAX_FAILURES))
    if locks:
        store.lock(conn, name, at, at + timedelta(minutes=LOCK_MINUTES))
    elif reason == "disabled" and attempt is not None:
        store.add_failures(conn, name, -1)  # only wrong passwords count
    record(conn, name, "login_failed", name, {"reason": reason, **({"locked": True} if locks else {})}, at=at)


def login_external(engine: Engine, email: str | None, *, now: datetime | None = None) -> Principal | None:
    """An identity-provider login: the user's email must name an account (``username`` = email,
    case-insensitive); its role comes from there.  Unknown or disabled: None (and a failed-login row)."""
    at = _now(now)
    mail = (email or "").strip().lower()
    with engine.begin() as conn:
        row = store.user_row_by_email(conn, mail) if mail else None
        if row is None or row.disabled or row.role not in ROLES:
            record(conn, mail or "?", "login_failed", mail or None, {"reason": "oidc_unknown" if row is None else "disabled"}, at=at)
            return None
        store.update_user(conn, row.username, {"last_login_at": at})
        record(conn, row.username, "login", row.username, {"role": row.role, "via": "oidc"}, at=at)
        return _user(row).principal(conn)
