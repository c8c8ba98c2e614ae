"""What an applied import changed, and taking it back: the ``import_undo`` rows of a batch.

An import writes, in its own transaction, one row per record it inserted (the record's key and a
digest of the row as written) and per record it updated (the changed columns' prior and written
values, JSON).  A rollback reads them back, checks that the records still hold what the batch
wrote, restores the prior values, deletes the inserted records and marks the batch
``rolled_back``.  The SQL for all of it is here; the rules are in ``fanpin.ingest.undo``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Table, and_, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection

from fanpin.store.imports import chunks
from fanpin.store.schema import import_batches, import_undo, metadata

__all__ = [
    "KEYS", "batch_row", "digest", "entries", "insert_entries", "insert_returning", "later_batches", "mark_rolled_back",
    "plain", "read_rows", "restore", "delete_rows", "row_key", "set_undoable", "undoable_batches",
]

#: The key a batch names a record by, per table: the upsert key, or the primary key of appended rows.
KEYS: dict[str, tuple[str, ...]] = {
    "regions": ("region_code",),
    "households": ("household_id",),
    "members": ("id_number",),
    "panel": ("period", "household_id"),
    "official_relations": ("official_id_number", "relative_id_number"),
    "monitoring_records": ("household_id",),
    "yearly_incomes": ("year", "household_id"),
    "assistance": ("assistance_id",),
    "dept_records": ("record_id",),
    "clues": ("clue_id",),
}
#: Columns a digest leaves out: generated keys, and what the workflow may change on a row without
#: making its import irreversible (a clue merged into an older one).
_NOT_DIGESTED: dict[str, frozenset[str]] = {
    "members": frozenset({"member_id"}),
    "official_relations": frozenset({"relation_id"}),
    "clues": frozenset({"status", "merged_into"}),
}


def _table(name: str) -> Table:
    if name not in KEYS:
        raise ValueError(f"not an import table: {name!r}")
    return metadata.tables[name]


# --------------------------------------------------------------------------- values


def plain(v: object) -> object:
    """A stored or imported value in one comparable, JSON-ready form: None, bool, int, float,
    str (dates and times ISO); a float with an integral value becomes an int."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, float):
        if math.isnan(v):
            return None
        return int(v) if v.is_integer() and abs(v) < 2**53 else round(v, 9)
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, datetime):
        return v.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def row_key(values: Sequence) -> str:
    """The JSON text naming a record (its key values in the table's key order)."""
    return json.dumps([plain(v) for v in values], ensure_ascii=False, separators=(",", ":"))


def digest(table: str, row: Mapping[str, object]) -> str:
    """SHA-256 of a row's values (the columns a digest covers, sorted by name)."""
    skip = _NOT_DIGESTED.get(table, frozenset())
    values = {c: plain(row[c]) for c in sorted(row) if c not in skip}
    return hashlib.sha256(json.dumps(values, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _typed(table: Table, column: str, v: object) -> object:
    """A plain value back in the column's type (for writing it)."""
    if v is None:
        return None
    t = table.c[column].type
    if isinstance(t, DateTime):
        return v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
    if isinstance(t, Date):
        return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])
    if isinstance(t, Boolean):
        return bool(v)
    if isinstance(t, Integer):
        return int(v)
    if isinstance(t, Float):
        return float(v)
    return v


# --------------------------------------------------------------------------- reading records


def read_rows(conn: Connection, table: str, keys: Sequence[tuple], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The records of ``table`` named by ``keys`` (tuples in ``KEYS[table]`` order) with their key
    columns and ``columns`` (default: every column); records that do not exist are absent."""
    t = _table(table)
    key_cols = KEYS[table]
    names = list(dict.fromkeys([*key_cols, *(columns if columns is not None else [c.name for c in t.columns])]))
    sel = [t.c[c] for c in names]
    parts = []
    unique = list(dict.fromkeys(tuple(plain(v) for v in k) for k in keys))
    for chunk in chunks(unique, 1000):
        if len(key_cols) == 1:
            cond = t.c[key_cols[0]].in_([k[0] for k in chunk])
        else:
            cond = tuple_(*[t.c[c] for c in key_cols]).in_([tuple(k) for k in chunk])
        rows = conn.execute(select(*sel).where(cond)).fetchall()
        if rows:
            parts.append(pd.DataFrame(rows, columns=names))
    if not parts:
        return pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    return pd.concat(parts, ignore_index=True)


def insert_returning(conn: Connection, table: str, columns: Mapping[str, np.ndarray | Sequence]) -> list[int]:
    """Append column arrays to an appended table (assistance, department records), returning the
    new rows' primary keys (dates may be ISO strings, as for ``fanpin.store.io.bulk_insert``)."""
    t = _table(table)
    (pk,) = KEYS[table]
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    if n == 0:
        return []
    rows = [{c: _typed(t, c, plain(columns[c][i])) for c in names} for i in range(n)]
    ids: list[int] = []
    for chunk in chunks(rows, 5000):
        ids += [int(x) for x in conn.execute(insert(t).returning(t.c[pk]), list(chunk)).scalars().all()]
    return ids


# --------------------------------------------------------------------------- the undo log


def insert_entries(conn: Connection, batch_id: int, rows: Iterable[tuple[str, str, str, str | None, str | None]]) -> int:
    """Write the batch's undo rows: (table, action, row_key, prior JSON, written JSON or digest)."""
    data = [{"batch_id": batch_id, "table_name": t, "action": a, "row_key": k, "prior": p, "written": w} for t, a, k, p, w in rows]
    for chunk in chunks(data, 5000):
        conn.execute(insert(import_undo), list(chunk))
    return len(data)


def set_undoable(conn: Connection, batch_id: int) -> None:
    """Mark the batch as having recorded what it changed."""
    conn.execute(update(import_batches).where(import_batches.c.batch_id == batch_id).values(undoable=True))


def entries(conn: Connection, batch_id: int) -> pd.DataFrame:
    """The batch's undo rows in the order written."""
    u = import_undo.c
    q = select(u.undo_id, u.table_name, u.action, u.row_key, u.prior, u.written).where(u.batch_id == batch_id).order_by(u.undo_id)
    return pd.DataFrame(conn.execute(q).fetchall(), columns=["undo_id", "table_name", "action", "row_key", "prior", "written"])


def batch_row(conn: Connection, batch_id: int) -> dict | None:
    """The batch's kind, file, status, whether it can be undone, and when and by whom it was rolled back."""
    b = import_batches.c
    q = select(b.batch_id, b.kind, b.file_name, b.file_hash, b.status, b.undoable, b.imported_at, b.imported_by, b.rolled_back_at, b.rolled_back_by)
    row = conn.execute(q.where(b.batch_id == batch_id)).mappings().first()
    return None if row is None else dict(row)


def later_batches(conn: Connection, batch_id: int, table: str, keys: Sequence[str]) -> dict[int, str]:
    """Applied batches after ``batch_id`` that changed one of these records of ``table``: {batch: one row_key}."""
    u, b = import_undo.c, import_batches.c
    found: dict[int, str] = {}
    for chunk in chunks(sorted(set(keys))):
        q = (
            select(u.batch_id, u.row_key)
            .join(import_batches, b.batch_id == u.batch_id)
            .where(u.table_name == table, u.row_key.in_(list(chunk)), u.batch_id > batch_id, b.status == "applied")
        )
        for bid, key in conn.execute(q):
            found.setdefault(int(bid), key)
    return found


# --------------------------------------------------------------------------- taking it back


def restore(conn: Connection, table: str, rows: Sequence[tuple[tuple, Mapping[str, object]]]) -> int:
    """Set each record's columns back: ``rows`` of (key, {column: plain value}), grouped by columns."""
    t = _table(table)
    key_cols = KEYS[table]
    groups: dict[tuple[str, ...], list[dict]] = {}
    for key, values in rows:
        cols = tuple(sorted(values))
        params = {f"k_{c}": _typed(t, c, v) for c, v in zip(key_cols, key)}
        params.update({f"v_{c}": _typed(t, c, values[c]) for c in cols})
        groups.setdefault(cols, []).append(params)
    for cols, params in groups.items():
        stmt = update(t).where(and_(*[t.c[c] == bindparam(f"k_{c}") for c in key_cols])).values({c: bindparam(f"v_{c}") for c in cols})
        for chunk in chunks(params, 5000):
            conn.execute(stmt, list(chunk))
    return len(rows)


def delete_rows(conn: Connection, table: str, keys: Sequence[tuple]) -> int:
    """Delete the records named by ``keys`` (children before parents for regions: longer codes first)."""
    t = _table(table)
    key_cols = KEYS[table]
    ordered = sorted({tuple(k) for k in keys}, reverse=True)
    n = 0
    for chunk in chunks(ordered, 1000):
        if len(key_cols) == 1:
            cond = t.c[key_cols[0]].in_([_typed(t, key_cols[0], k[0]) for k in chunk])
        else:
            cond = tuple_(*[t.c[c] for c in key_cols]).in_([tuple(_typed(t, c, v) for c, v in zip(key_cols, k)) for k in chunk])
        n += conn.execute(delete(t).where(cond)).rowcount
    return n


def mark_rolled_back(conn: Connection, batch_id: int, actor: str, at: datetime) -> bool:
    """Mark an applied batch rolled back (which frees its file hash for a new import); False when
    it is no longer applied (rolled back by someone else meanwhile)."""
    b = import_batches.c
    res = conn.execute(
        update(import_batches).where(b.batch_id == batch_id, b.status == "applied").values(status="rolled_back", rolled_back_at=at, rolled_back_by=str(actor)[:64])
    )
    return res.rowcount == 1


def undoable_batches(conn: Connection, limit: int = 50) -> pd.DataFrame:
    """The newest applied batches that recorded what they changed: ID, kind, file, when, who."""
    b = import_batches.c
    q = (
        select(b.batch_id, b.kind, b.file_name, b.imported_at, b.imported_by, b.rows_added, b.rows_updated)
        .where(b.status == "applied", b.undoable.is_(True))
        .order_by(b.batch_id.desc())
        .limit(limit)
    )
    return pd.DataFrame(conn.execute(q).fetchall(), columns=[c.name for c in q.selected_columns])
