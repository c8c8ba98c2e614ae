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
from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, Table, and_, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection

from fanpin.store.imports import chunks, rows_frame
from fanpin.store.io import bulk_insert
from fanpin.store.schema import import_batches, import_undo, metadata

__all__ = [
    "KEYS", "batch_row", "digests", "entries", "insert_entries", "insert_returning", "later_batches", "mark_rolled_back",
    "plain", "read_rows", "restore", "delete_rows", "row_key", "row_keys", "set_undoable", "undoable_batches", "written_frame",
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


_JSON_PLAIN = r'^[^"\\\x00-\x1f\x7f\u2028\u2029]*$'  # text json.dumps(ensure_ascii=False) writes as it is


def _key_part(s: pd.Series) -> pd.Series | None:
    """One key column as the JSON text :func:`row_key` writes for each value, at pandas speed for
    integers and plain strings; None for anything else (then value by value)."""
    if pd.api.types.is_integer_dtype(s.dtype) and s.dtype != bool:
        return s.astype(np.int64).astype(str).astype(object)
    if (s.dtype == object or isinstance(s.dtype, pd.StringDtype)) and s.notna().all() and pd.api.types.infer_dtype(s, skipna=False) == "string":
        if s.str.match(_JSON_PLAIN).all():
            return ('"' + s + '"').astype(object)
    return None


def row_keys(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """:func:`row_key` of every row of ``frame`` (its ``columns`` in key order), the same texts."""
    if not len(frame):
        return []
    parts = [_key_part(frame[c]) for c in columns]
    if any(p is None for p in parts):
        return [row_key(k) for k in frame[list(columns)].itertuples(index=False, name=None)]
    joined = parts[0].str.cat(parts[1:], sep=",") if len(parts) > 1 else parts[0]
    return ("[" + joined + "]").tolist()


def _text(v: object) -> str:
    """One value as digest text (the same text whichever way it was read)."""
    v = plain(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(np.round(np.float64(v), 9))
    return "s:" + str(v)


def _column_text(s: pd.Series) -> pd.Series:
    """A column as digest text: numbers and flags at numpy speed, anything else value by value."""
    if s.dtype == bool:
        return pd.Series(np.where(s.to_numpy(), "true", "false"), index=s.index, dtype=object)
    if pd.api.types.is_integer_dtype(s.dtype):
        return s.astype(np.int64).astype(str).astype(object)
    if s.dtype == np.float64:
        x = s.to_numpy()
        nan = np.isnan(x)
        whole = ~nan & (x == np.floor(np.where(nan, 0, x))) & (np.abs(np.where(nan, 0, x)) < 2**53)
        out = np.full(len(x), "null", dtype=object)
        out[whole] = x[whole].astype(np.int64).astype(str)
        rest = ~nan & ~whole  # (numpy's float text is slow: only for the values that need it)
        out[rest] = np.round(x[rest], 9).astype(str)
        return pd.Series(out, index=s.index, dtype=object)
    kind = pd.api.types.infer_dtype(s, skipna=True)
    if kind == "boolean" and s.notna().all():
        return pd.Series(np.where(s.to_numpy(dtype=bool), "true", "false"), index=s.index, dtype=object)
    if kind in ("string", "empty"):
        return ("s:" + s.astype(object).where(s.notna(), "")).where(s.notna(), "null").astype(object)
    return s.map(_text).astype(object)


def texts(s: pd.Series) -> pd.Series:
    """A column's values as comparable text (equal values, however read, give equal text)."""
    return _column_text(s)


def digests(table: str, frame: pd.DataFrame) -> list[str]:
    """SHA-256 of each row's values (the columns a digest covers, in name order)."""
    skip = _NOT_DIGESTED.get(table, frozenset())
    cols = sorted(c for c in frame.columns if c not in skip)
    if not len(frame):
        return []
    parts = [_column_text(frame[c]).tolist() for c in cols]
    head = "\x1f".join(cols) + "\x1e"
    sha = hashlib.sha256
    return [sha((head + "\x1f".join(values)).encode()).hexdigest() for values in zip(*parts)]  # (str.cat: a numpy sum of strings)


_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"


def _as_read(column: Column, values: np.ndarray | Sequence, n: int) -> pd.Series | None:
    """A written column's values as reading them back gives them (the same digest text), or None
    when that is not certain without reading them (then the caller reads the records back)."""
    numeric = isinstance(values, np.ndarray) and values.dtype.kind in "biuf"
    s = pd.Series(values if isinstance(values, np.ndarray) else list(values), dtype=values.dtype if numeric else object)  # (no Arrow strings: slow to make)
    if len(s) != n:
        return None
    t = column.type
    if s.dtype.kind == "f":
        if isinstance(t, Float) or (isinstance(t, Integer) and not isinstance(t, Boolean)):
            return s  # NaN is written as NULL; whole floats read back as the same digest text
        return None
    kind = pd.api.types.infer_dtype(s, skipna=True)
    if kind == "empty":
        return pd.Series([None] * n, dtype=object)
    if isinstance(t, Boolean):
        if s.dtype == bool:
            return s
        if kind == "boolean":
            return s.map(lambda v: None if v is None else bool(v)).astype(object)
        return None
    if isinstance(t, (Integer, Float)):
        if s.dtype.kind in "iu":
            return s
        if kind in ("integer", "floating", "mixed-integer-float"):  # as a read gives them: int64, or float64 with NaN
            return pd.to_numeric(s)
        return None
    if isinstance(t, (Date, DateTime)):
        if kind == "string" and s.dropna().str.match(_ISO_DATE if isinstance(t, Date) and not isinstance(t, DateTime) else _ISO_DATETIME).all():
            return s.astype(object)
        return None
    if kind == "string" and not (s == "\\N").any():  # text as written (\N: PostgreSQL's COPY reads it as NULL)
        return s.astype(object)
    return None


def written_frame(table: str, columns: Mapping[str, np.ndarray | Sequence]) -> pd.DataFrame | None:
    """The records just inserted from ``columns`` (as given to ``fanpin.store.io.bulk_insert``) as
    :func:`read_rows` would read them back, for their keys and :func:`digests`; None when a column
    could read back otherwise (a default the database fills, a value of another type): read them."""
    t = _table(table)
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    skip = _NOT_DIGESTED.get(table, frozenset())
    data: dict[str, pd.Series] = {}
    for c in t.columns:
        if c.name in skip:
            continue
        if c.name not in columns:
            if c.server_default is not None or not c.nullable or c.autoincrement is True:
                return None
            data[c.name] = pd.Series([None] * n, dtype=object)
            continue
        s = _as_read(c, columns[c.name], n)
        if s is None:
            return None
        data[c.name] = s.reset_index(drop=True)
    return pd.DataFrame(data)


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
    unique = list(dict.fromkeys(map(tuple, keys)))
    if len(key_cols) == 1:
        for chunk in chunks([k[0] for k in unique]):
            rows = conn.execute(select(*sel).where(t.c[key_cols[0]].in_(list(chunk)))).fetchall()
            if rows:
                parts.append(rows_frame(rows, names))
    else:
        # (period, household): each household chunk with the few months (years, officials) named,
        # then only the pairs asked for
        *outer, last = key_cols
        fixed = [t.c[c].in_(sorted({k[i] for k in unique}, key=str)) for i, c in enumerate(outer)]
        for chunk in chunks(sorted({k[-1] for k in unique}, key=str)):
            rows = conn.execute(select(*sel).where(*fixed, t.c[last].in_(list(chunk)))).fetchall()
            if rows:
                parts.append(rows_frame(rows, names))
    if not parts:
        return pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    found = pd.concat(parts, ignore_index=True)
    if len(key_cols) > 1:
        wanted = pd.DataFrame(unique, columns=list(key_cols))
        for c in key_cols:  # one type on both sides of the join
            wanted[c], found[c] = _same_type(wanted[c], found[c])
        found = found.merge(wanted, on=list(key_cols), how="inner")
    return found


def _same_type(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        return a.astype(np.int64), b.astype(np.int64)
    return a.astype(str), b.astype(str)


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
    rows = list(rows)
    if not rows:
        return 0
    cols = list(zip(*rows))
    data = {"table_name": cols[0], "action": cols[1], "row_key": cols[2], "prior": cols[3], "written": cols[4]}
    columns = {"batch_id": np.full(len(rows), batch_id, dtype=np.int64), **{k: np.array(v, dtype=object) for k, v in data.items()}}
    return bulk_insert(conn, import_undo, columns)


def set_undoable(conn: Connection, batch_id: int) -> None:
    """Mark the batch as having recorded what it changed."""
    conn.execute(update(import_batches).where(import_batches.c.batch_id == batch_id).values(undoable=True))


def entries(conn: Connection, batch_id: int) -> pd.DataFrame:
    """The batch's undo rows in the order written."""
    u = import_undo.c
    q = select(u.undo_id, u.table_name, u.action, u.row_key, u.prior, u.written).where(u.batch_id == batch_id).order_by(u.undo_id)
    return rows_frame(conn.execute(q).fetchall(), ["undo_id", "table_name", "action", "row_key", "prior", "written"])


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
    return rows_frame(conn.execute(q).fetchall(), [c.name for c in q.selected_columns])
