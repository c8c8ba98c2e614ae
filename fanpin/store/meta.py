"""Values stored with the data in the ``meta`` table that the domain reads by meaning."""

from __future__ import annotations

import json

from sqlalchemy.engine import Connection, Engine

from fanpin.store.io import get_meta, set_meta


def _raw(target: Engine | Connection, key: str) -> str | None:
    if isinstance(target, Connection):
        return get_meta(target, key)
    with target.connect() as conn:
        return get_meta(conn, key)


def income_lines(target: Engine | Connection) -> dict[int, float]:
    """The provincial income line of each year ({year: yuan}; empty when none is stored)."""
    raw = _raw(target, "income_lines")
    return {int(k): float(v) for k, v in json.loads(raw).items()} if raw else {}


def set_income_lines(conn: Connection, lines: dict[int, float]) -> None:
    """Store the provincial income lines ({year: yuan}, replacing those stored)."""
    set_meta(conn, "income_lines", json.dumps({str(int(k)): float(v) for k, v in sorted(lines.items())}))


def is_demo(target: Engine | Connection) -> bool:
    """Whether the database is the synthetic demo county (meta ``demo`` = "1")."""
    return _raw(target, "demo") == "1"


#: Region codes (and the ID numbers and household IDs made from them) of the synthetic demo county:
#: no real province has code 99.
SYNTHETIC_PREFIX = "99"


def clear_demo(conn: Connection) -> bool:
    """Mark the database as no longer (only) the synthetic demo county, in the caller's transaction
    (an import of real data: trainers lose it, ``fanpin demo`` no longer replaces it); True when
    it was the demo county until now."""
    if get_meta(conn, "demo") != "1":
        return False
    set_meta(conn, "demo", "0")
    return True


#: 村内公示 lasts at least this many days before the township step (provinces set their own).
DEFAULT_NOTICE_DAYS = 5


def notice_days(target: Engine | Connection) -> int:
    """The province's minimum notice period in days (meta ``notice_days``, default 5)."""
    raw = _raw(target, "notice_days")
    try:
        return max(1, int(raw)) if raw else DEFAULT_NOTICE_DAYS
    except ValueError:
        return DEFAULT_NOTICE_DAYS


def set_notice_days(conn: Connection, days: int) -> None:
    if int(days) < 1:
        raise ValueError("a notice lasts at least one day")
    set_meta(conn, "notice_days", str(int(days)))
