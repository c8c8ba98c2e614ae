"""Values stored with the data in the ``meta`` table that the domain reads by meaning."""

from __future__ import annotations

import json

from sqlalchemy.engine import Connection, Engine

from fanpin.store.io import get_meta


def _raw(target: Engine | Connection, key: str) -> str | None:
    if isinstance(target, Connection):
        return get_meta(target, key)
    with target.connect() as conn:
        return get_meta(conn, key)


def income_lines(target: Engine | Connection) -> dict[int, float]:
    """The provincial income line of each year ({year: yuan}; empty when none is stored)."""
    raw = _raw(target, "income_lines")
    return {int(k): float(v) for k, v in json.loads(raw).items()} if raw else {}


def is_demo(target: Engine | Connection) -> bool:
    """Whether the database is the synthetic demo county (meta ``demo`` = "1")."""
    return _raw(target, "demo") == "1"
