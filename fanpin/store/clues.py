"""The clues table: the one writer (``insert_clues``) and the queries about clues.

Every clue, whatever made it (a cadre's visit, a department feed, a month's scoring, a
supervision finding, the risk model, the demo), is written here, so its defaults and its
shape are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from fanpin.store.io import bulk_insert
from fanpin.store.schema import clues

#: Columns a caller must give; the others default (status ``new``, no merge, no amount, no event).
REQUIRED: tuple[str, ...] = ("household_id", "period", "channel", "source", "risk_type", "received_at")
_DEFAULTS: dict[str, object] = {"detail": None, "amount": None, "event_id": None, "status": "new", "merged_into": None}


def insert_clues(conn: Connection, rows: Sequence[Mapping[str, object]] | Mapping[str, np.ndarray]) -> list[int] | int:
    """Insert clues in the caller's transaction.

    ``rows`` is either a list of dicts (the workflow, rules, model: returns the new clue IDs in
    order) or a mapping of column arrays (the demo's bulk feeds: returns the number written,
    through ``bulk_insert``'s COPY/executemany path).  Missing optional columns take the defaults.
    """
    if isinstance(rows, Mapping):
        missing = [c for c in REQUIRED if c not in rows]
        if missing:
            raise ValueError(f"clue columns missing: {', '.join(missing)}")
        n = len(next(iter(rows.values()))) if rows else 0
        cols = dict(rows)
        for k, v in _DEFAULTS.items():
            cols.setdefault(k, np.full(n, v, dtype=object))
        return bulk_insert(conn, clues, cols)
    full = []
    for r in rows:
        missing = [c for c in REQUIRED if r.get(c) is None]
        if missing:
            raise ValueError(f"clue columns missing: {', '.join(missing)}")
        full.append({**_DEFAULTS, **r})
    if not full:
        return []
    if len(full) == 1:
        return [int(conn.execute(insert(clues).values(**full[0])).inserted_primary_key[0])]
    res = conn.execute(insert(clues).returning(clues.c.clue_id), full)
    return [int(x) for x in res.scalars().all()]
