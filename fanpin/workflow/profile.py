"""One household in full (农户画像): finding it, its detail, its personal data masked, the
audit trail of who looked.

Queries are in ``fanpin.store.households`` (and the clues, orders, monitoring stores); search
text is always a bound parameter, never SQL.  Personal data (names, ID numbers, phones) leave
this module masked unless the caller asks for them explicitly, and every look at a household's
detail is written to ``audit_log`` by ``log_view``: a cadre's curiosity about a neighbour leaves
a trace, as the bureaus' data rules require.  Every function takes the acting ``principal``:
the search keeps a case worker's townships only, ``household_detail`` / ``unmask`` refuse
(``AccessDenied``) a household outside them or a role that may not.

Why a household has its tier is ``fanpin.workflow.standing``; its time line and 幸福清单
``fanpin.workflow.timeline``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.audit import audit_query, record
from fanpin.access.masking import mask_id_number, mask_name, mask_phone
from fanpin.access.roles import ROLES, Principal, can, require_household
from fanpin.store import clues as clue_store
from fanpin.store import households as store
from fanpin.store import monitoring as monitoring_store
from fanpin.store import orders as order_store
from fanpin.workflow.common import read_scope

#: Roles that may see one household's personal data in full (each time is logged).
UNMASK_ROLES: frozenset[str] = frozenset(r for r in ROLES if can(r, "unmask"))

SEARCH_COLUMNS: tuple[str, ...] = ("household_id", "village_code", "township_code", "household_type", "size")


def can_unmask(role: str | Principal) -> bool:
    return can(role, "unmask")


# --------------------------------------------------------------------------- finding
@dataclass(frozen=True)
class SearchAreas:
    """The townships and villages a principal may search in (a case worker's own only)."""

    townships: list[str]
    villages: pd.DataFrame  # region_code, parent_code of the villages in those townships, by code

    def villages_in(self, township: str | None) -> list[str]:
        """The villages of one township, or of every searchable township."""
        v = self.villages if not township else self.villages[self.villages["parent_code"] == township]
        return v["region_code"].tolist()

    @property
    def parent_of(self) -> dict[str, str]:
        return dict(zip(self.villages["region_code"], self.villages["parent_code"]))


def search_areas(regions: pd.DataFrame, *, principal: Principal) -> SearchAreas:
    """The search's township and village choices from the region table, scoped to the principal."""
    read_scope(principal)
    towns = sorted(c for c in regions.loc[regions["level"] == "township", "region_code"] if principal.sees(c))
    villages = regions[(regions["level"] == "village") & regions["parent_code"].isin(towns)].sort_values("region_code")
    return SearchAreas(towns, villages[["region_code", "parent_code"]].reset_index(drop=True))


def find_households(
    engine: Engine,
    query: str | None,
    township: str | None = None,
    village: str | None = None,
    limit: int = 50,
    *,
    principal: Principal,
) -> pd.DataFrame:
    """Households whose ID starts with ``query`` (exact IDs first), within a township or village
    and the principal's townships.

    The text is bound as a parameter and its LIKE wildcards escaped, so
    ``"' OR 1=1 --"`` or ``"%"`` find nothing rather than everything.  With no
    text and no area, nothing is returned: listing a whole county is not a search.
    """
    towns = read_scope(principal)
    q = (query or "").strip()
    if (not q and not township and not village) or len(q) > store.ID_LENGTH:
        return pd.DataFrame(columns=list(SEARCH_COLUMNS))
    return store.search(engine, SEARCH_COLUMNS, prefix=q, township=township, village=village, townships=towns, limit=limit)


# --------------------------------------------------------------------------- detail
@dataclass
class HouseholdDetail:
    """Everything the database holds about one household (personal columns not yet masked)."""

    household: dict
    members: pd.DataFrame
    events: pd.DataFrame  # own events and area events of its village or township; ``scope`` says which
    clues: pd.DataFrame
    orders: pd.DataFrame  # with ``clue_ids``: the clues each order verifies
    monitoring: pd.DataFrame  # append-only status history, oldest first
    assistance: pd.DataFrame

    @property
    def household_id(self) -> str:
        return str(self.household["household_id"])

    def monitoring_status(self) -> dict | None:
        """The latest monitoring record (status, category, risk types, method), or None if never monitored."""
        if self.monitoring.empty:
            return None
        return self.monitoring.iloc[-1].to_dict()


def household_detail(engine: Engine, household_id: str, *, principal: Principal) -> HouseholdDetail | None:
    """The household row and its members, events, clues, orders, monitoring history and assistance.

    ``AccessDenied`` unless the role may view households and, for a case worker, the household
    is in their townships (an unknown ID is refused alike)."""
    hid = str(household_id)
    require_household(principal, engine, hid, "household_view")
    with engine.connect() as conn:
        hh = store.household_row(conn, hid)
        if hh is None:
            return None
        ev = store.household_events(conn, hid, [hh["village_code"], hh["township_code"]])
        ev["scope"] = np.where(ev["household_id"].isna(), "area", "household") if len(ev) else pd.Series(dtype=object)
        return HouseholdDetail(
            hh, store.household_members(conn, hid), ev, clue_store.household_clues(conn, hid), order_store.household_orders(conn, hid),
            monitoring_store.household_records(conn, hid), store.household_assistance(conn, hid),
        )


# --------------------------------------------------------------------------- personal data
def _age(birth: pd.Series, as_of: int | None) -> pd.Series:
    """Whole years at the end of month ``as_of`` (YYYYMM), or today; vectorised."""
    if as_of is None:
        today = date.today()
        y, m = today.year, today.month
    else:
        y, m = divmod(int(as_of), 100)
    b = pd.to_datetime(birth, errors="coerce")
    age = y - b.dt.year - (b.dt.month > m).astype(int)
    return age.astype("Int64")


def members_masked(members: pd.DataFrame, unmask: bool = False, as_of: int | None = None) -> pd.DataFrame:
    """Members for display: names and ID numbers masked unless ``unmask`` (the caller logs that).

    The birth date is replaced by the age when masked, because a full birth date
    is the middle of the ID number that the mask hides.
    """
    out = members.copy()
    if "birth_date" in out.columns:
        out.insert(out.columns.get_loc("birth_date"), "age", _age(out["birth_date"], as_of))
        if not unmask:
            out = out.drop(columns="birth_date")
    if unmask:
        return out
    if "name" in out.columns:
        out["name"] = out["name"].map(mask_name, na_action="ignore")
    if "id_number" in out.columns:
        out["id_number"] = out["id_number"].map(mask_id_number, na_action="ignore")
    if "phone" in out.columns:
        out["phone"] = out["phone"].map(mask_phone, na_action="ignore")
    return out


def phone_shown(household: Mapping, unmask: bool = False) -> str:
    phone = household.get("phone")
    return (phone or "") if unmask else mask_phone(phone)


# --------------------------------------------------------------------------- audit
def log_view(
    engine: Engine,
    household_id: str,
    *,
    principal: Principal,
    action: str = "household_view",
    detail: Mapping | str | None = None,
) -> None:
    """Append one audit entry: who (``principal.actor``) looked at (or unmasked) which household, when."""
    read_scope(principal)
    record(engine, principal.actor, action, str(household_id), detail)


def unmask(engine: Engine, principal: Principal, household_id: str, detail: Mapping | None = None) -> None:
    """Allow one household's personal data in full: refused (``AccessDenied``) for a role that
    may not or a household outside a case worker's townships; logged as ``unmask``."""
    require_household(principal, engine, household_id, "unmask")
    record(engine, principal.actor, "unmask", str(household_id), detail)


def audit_entries(
    engine: Engine, *, principal: Principal, target: str | None = None, action: str | None = None, limit: int = 100
) -> pd.DataFrame:
    """Latest audit entries, newest first, optionally for one household and one action: the one
    audit reader (``fanpin.access.audit.audit_query``), for a principal who may read the log."""
    return audit_query(engine, principal=principal, target=target, action=action, limit=limit)[0]
