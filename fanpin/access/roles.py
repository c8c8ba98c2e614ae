"""Roles, what each may open and do, case-worker township scoping, and masking of personal data.

The rules live here, in one table each (``ROLE_PAGES``, ``ROLE_PERMISSIONS``), and are
enforced where data are loaded and changed: loaders keep only a case worker's
townships (``scope_frame``), domain functions that change data call ``require``
(and ``require_household`` for one household) before they write.  Hiding a button
is only a courtesy on top.

Names become 张* (surname kept, one star whatever the length), ID numbers keep
the first 6 and last 4 characters, phone numbers the first 3 and last 4.
Masking is the default everywhere, downloads included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from fanpin.core.regions import LEVELS, WIDTH, level_index
from fanpin.store.households import township_of

ROLES: tuple[str, ...] = (
    "leader", "analyst", "case_worker", "township_leader", "trainer", "data_steward", "admin", "province_leader", "city_leader",
)
#: Roles scoped to their townships (a user row lists them): they see and work only those households.
TOWNSHIP_ROLES: tuple[str, ...] = ("case_worker", "township_leader")
#: Roles scoped to one region above the county, by its code's prefix (a user row names it): the
#: leaders of a province's or a city's bureau.  The level each role's region must have.
REGION_ROLES: dict[str, str] = {"province_leader": "province", "city_leader": "city"}


# --------------------------------------------------------------------------- pages and permissions
PAGES: tuple[str, ...] = ("todo", "overview", "map", "simulator", "profile", "clues", "register", "model", "training", "import", "quality", "admin")
ROLE_PAGES: dict[str, frozenset[str]] = {
    "leader": frozenset({"todo", "overview", "map", "simulator", "register", "model", "training", "quality"}),
    "analyst": frozenset({"overview", "map", "simulator", "profile", "clues", "register", "model", "training", "quality"}),
    "case_worker": frozenset({"todo", "overview", "map", "profile", "clues", "register", "training", "quality"}),
    "township_leader": frozenset({"todo", "overview", "map", "profile", "clues", "register", "quality"}),
    "trainer": frozenset({"training", "overview", "map"}),
    "data_steward": frozenset({"overview", "map", "profile", "clues", "import", "quality"}),
    "admin": frozenset(PAGES),
    # a province's or city's bureau leader reads the figures of the counties below (the county
    # leader's overview, map and simulator, never the county's work queues, cases or model)
    "province_leader": frozenset({"overview", "map", "simulator"}),
    "city_leader": frozenset({"overview", "map", "simulator"}),
}

#: What a role may do (beyond opening pages).  Codes, one per guarded domain function.
#: Not to be confused with ``fanpin.access.audit.AUDIT_ACTIONS`` (what the audit log records).
PERMISSIONS: tuple[str, ...] = (
    "household_view",  # open one household's detail (profile)
    "unmask",  # see one household's names, ID numbers, phones in full
    "export",  # download tables
    "clue_add",  # record a clue (cadre visit, self-report)
    "clue_generate",  # turn the month's red tier into scoring clues
    "order_create",
    "order_work",  # start, reassign, note
    "order_decide",
    "elimination_propose",
    "case_local",  # the township's steps of a case: village review, notice, township check; resubmit, withdraw
    "case_county",  # the county's approval of a case (县级审定)
    "policy_save",
    "policy_adopt",
    "model_train",
    "model_to_clues",
    "import",
    "audit_view",
    "user_manage",
)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "leader": frozenset({"export", "policy_adopt", "policy_save", "case_county"}),
    "analyst": frozenset({"household_view", "unmask", "export", "policy_save", "model_train", "model_to_clues", "clue_generate"}),
    "case_worker": frozenset(
        {"household_view", "unmask", "export", "clue_add", "clue_generate", "order_create", "order_work", "order_decide", "elimination_propose", "case_local"}
    ),
    "township_leader": frozenset({"household_view", "export", "case_local"}),
    "trainer": frozenset(),
    "data_steward": frozenset({"household_view", "export", "import", "clue_add"}),
    "admin": frozenset(PERMISSIONS),
    # aggregates only: like ``leader`` without the county's own decisions (adopting the county's
    # baseline, 县级审定) and without saving scenarios into a county's database; tables they may
    # download are region x month counts.  No household_view: no household's rows or profile.
    "province_leader": frozenset({"export"}),
    "city_leader": frozenset({"export"}),
}


class AccessDenied(PermissionError):
    """The principal may not do this (``code``: the action, or ``township`` for a household outside their scope)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


@dataclass(frozen=True)
class Principal:
    """Who is acting: the logged-in user, their role and, for a case worker, the
    townships they may see (``None`` = all).  Domain functions that load or change
    household data take one so the rule is enforced where the data are, not only
    by hiding widgets.

    A province or city leader (``REGION_ROLES``) carries ``region``, the 12-digit code of their
    province or city, and as ``townships`` the database's townships inside it (possibly none):
    every township-scoped loader then keeps exactly their region's households, failing closed."""

    username: str
    role: str
    townships: frozenset[str] | None = None
    display_name: str = ""
    region: str | None = None

    @property
    def actor(self) -> str:
        """The name written to ``audit_log`` and to who/when columns."""
        return self.username

    def sees(self, township_code: str | None) -> bool:
        return self.townships is None or (township_code is not None and str(township_code) in self.townships)

    def covers(self, region_code: str | None) -> bool:
        """Whether the principal may read the analytic store's figures for a region (a 12-digit
        code of any level, or its prefix): a province or city leader inside their region, an
        administrator (or the system) anywhere, and nobody else: a county's roles read their county
        from its database, through the county's pages."""
        if region_code is None or not str(region_code).isdigit():
            return False
        code = str(region_code).ljust(12, "0")
        if self.role in REGION_ROLES:
            return self.region is not None and in_region(code, self.region)
        return self.role == "admin" and self.townships is None


def in_region(code: str, region: str) -> bool:
    """Whether the 12-digit ``code`` lies inside ``region`` (a 12-digit code: its digits before the
    trailing zeros of its level are the prefix).  A plain prefix test, so it needs no table."""
    width = WIDTH[LEVELS[int(level_index(region)[0])]]
    return len(code) == 12 and code[:width] == region[:width]


def scoped_to_region(principal: Principal | None) -> bool:
    """A province or city leader (scoped by a region code, not by townships)."""
    return principal is not None and principal.role in REGION_ROLES


#: The system itself (the demo build, migrations, batch jobs): may do everything, and says so in
#: the audit log as ``system``.  Never a default: a caller that means it passes it.
SYSTEM = Principal("system", "admin")


def system_principal(who: str | None = None) -> Principal:
    """The principal of a command run by a person at the server (``fanpin ...``): the operating-
    system user's name (``cli:<user>``) in the audit log, with the rights of an administrator,
    since whoever can run the command can open the database file anyway."""
    import getpass

    if who is None:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no such user in the password database (a container)
            who = "unknown"
    return Principal(f"cli:{who}"[:64], "admin")


def can_open(role: str, page: str) -> bool:
    return page in ROLE_PAGES.get(role, frozenset())


def can(principal: Principal | str | None, action: str) -> bool:
    """Whether the principal (or a bare role) may do ``action``; ``page:<name>`` asks about a page."""
    if principal is None:
        return False
    role = principal if isinstance(principal, str) else principal.role
    if action.startswith("page:"):
        return can_open(role, action[5:])
    if action not in PERMISSIONS:
        raise ValueError(f"unknown permission {action!r}")
    return action in ROLE_PERMISSIONS.get(role, frozenset())


def require(principal: Principal | None, action: str) -> None:
    """Raise ``AccessDenied`` unless the principal may do ``action``."""
    if not can(principal, action):
        who = "nobody" if principal is None else f"{principal.username} ({principal.role})"
        raise AccessDenied(action, f"{who} may not {action}")


def township_filter(principal: Principal) -> frozenset[str] | None:
    """The townships to keep, or None for all.  No principal is refused, never read as "all"."""
    if principal is None:
        raise AccessDenied("township", "nobody may see households")
    return principal.townships


def scope_frame(frame: pd.DataFrame, principal: Principal, column: str = "township_code") -> pd.DataFrame:
    """Keep only rows in the principal's townships (all rows for everyone else).

    Vectorised: one ``isin`` over the column.  A frame without the column keeps
    nothing for a scoped principal: failing closed beats leaking."""
    towns = township_filter(principal)
    if towns is None:
        return frame
    if column not in frame.columns:
        return frame.iloc[0:0]
    return frame[frame[column].astype(str).isin(list(towns))]


def scope_ids(ids: Iterable[str], township_of: pd.Series, principal: Principal) -> list[str]:
    """The household IDs (of ``ids``) whose township (``township_of``: household_id -> code) the principal sees."""
    towns = township_filter(principal)
    ids = [str(i) for i in ids]
    if towns is None:
        return ids
    codes = township_of.reindex(ids)
    return [i for i, c in zip(ids, codes) if isinstance(c, str) and c in towns]


def household_township(engine: Engine | Connection, household_id: str) -> str | None:
    """The household's township code (None when there is no such household)."""
    return township_of(engine, household_id)


def require_household(principal: Principal, engine: Engine | Connection, household_id: str, action: str | None = None) -> None:
    """``require(action)`` and, for a scoped principal, that the household lies in their townships.

    An unknown household is refused like one outside the scope, so the answer does
    not tell a case worker which IDs exist elsewhere."""
    if action is not None:
        require(principal, action)
    if principal is None:
        raise AccessDenied("township", "nobody may see this household")
    if principal.townships is None:
        return
    if not principal.sees(household_township(engine, household_id)):
        raise AccessDenied("township", f"household {household_id} is outside {principal.username}'s townships")
