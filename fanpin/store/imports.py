"""Importing a bureau's files: import batches, the lookups validation needs, the rows an import
writes and the member aggregates it refreshes.

Validation (``fanpin.ingest.validate``) reads through the lookups here and writes nothing;
``fanpin.ingest.apply`` calls the writers inside one transaction of its own.  The import kinds
name their tables by name (``households``, ``members``, ``panel``, ``assistance``,
``dept_records``, ``official_relations``); clues from department feeds go through
``fanpin.store.clues.insert_clues``, the one clue writer.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Column, Date, String, Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from fanpin.store.io import bulk_insert
from fanpin.store.schema import households, import_batches, members, metadata, panel

#: Tables an import may write (clues go through ``fanpin.store.clues``).
IMPORT_TABLES: tuple[str, ...] = ("regions", "households", "members", "panel", "assistance", "dept_records", "official_relations", "monitoring_records", "yearly_incomes")
#: Per-household member counts kept on the household row (see ``fanpin.ingest.aggregates``).
AGGREGATE_COLUMNS: tuple[str, ...] = ("size", "n_labour", "n_weak_labour", "n_elderly", "n_children", "n_chronic", "n_serious", "n_disabled", "n_students", "n_uninsured")
#: Member columns the aggregates are computed from.
AGGREGATE_INPUTS: tuple[str, ...] = ("household_id", "birth_date", "health", "disability", "labour_capacity", "schooling", "medical_insurance", "deceased_period")
_IN_CHUNK = 5000
#: A lookup of at least this many text keys reads the whole table instead, when the table holds at
#: most ``_SCAN_RATIO`` rows per key (``_scan_instead``).
_SCAN_FROM = 10_000
_SCAN_RATIO = 8
_UPDATE_CHUNK = 20_000


def _table(name: str, *, lookup: bool = False) -> Table:
    """An import table by name (``lookup``: the region and clue tables too, which validation reads;
    clues are written through ``fanpin.store.clues``)."""
    if name not in IMPORT_TABLES and not (lookup and name == "clues"):
        raise ValueError(f"not an import table: {name!r}")
    return metadata.tables[name]


def chunks(values: Sequence, n: int = _IN_CHUNK) -> Iterator[Sequence]:
    """``values`` in slices of at most ``n`` (IN lists and executemany batches stay bounded)."""
    for i in range(0, len(values), n):
        yield values[i : i + n]


def rows_frame(rows: Sequence, names: Sequence[str]) -> pd.DataFrame:
    """Fetched rows as a frame (the same frame as ``pd.DataFrame(rows, columns=names)``, eight
    times sooner: pandas probes every SQLAlchemy ``Row`` for attributes, a tuple it does not)."""
    return pd.DataFrame([tuple(r) for r in rows], columns=list(names))


def _present(values: Sequence) -> list:
    return sorted(_distinct(values))


def _distinct(values: Sequence) -> set:
    """The values given (None and NaN left out), once each."""
    return {v for v in values if v is not None and v == v}


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class Batch:
    """One ``import_batches`` row to write (``status`` applied or refused)."""

    kind: str
    file_name: str
    file_hash: str
    status: str
    imported_by: str
    imported_at: datetime
    rows_added: int = 0
    rows_updated: int = 0
    detail: Mapping | None = None


def insert_batch(conn: Connection, batch: Batch) -> int:
    """Write the batch row in the caller's transaction; its ID.  The unique index on applied
    file hashes refuses a second applied batch of the same file (IntegrityError)."""
    res = conn.execute(
        insert(import_batches).values(
            kind=batch.kind, file_name=batch.file_name[:255], file_hash=batch.file_hash, rows_added=batch.rows_added,
            rows_updated=batch.rows_updated, imported_at=batch.imported_at, imported_by=batch.imported_by[:64], status=batch.status,
            detail=None if batch.detail is None else json.dumps(batch.detail, ensure_ascii=False),
        )
    )
    return int(res.inserted_primary_key[0])


def applied_batch(conn_or_engine: Connection | Engine, file_hash: str) -> int | None:
    """The first batch that applied a file with this SHA-256, or None."""
    b = import_batches.c
    stmt = select(b.batch_id).where(b.file_hash == file_hash, b.status == "applied").order_by(b.batch_id).limit(1)
    if isinstance(conn_or_engine, Connection):
        found = conn_or_engine.execute(stmt).scalar()
    else:
        with conn_or_engine.connect() as conn:
            found = conn.execute(stmt).scalar()
    return None if found is None else int(found)


def recent_batches(engine: Engine, limit: int = 20) -> pd.DataFrame:
    """The newest batches first: ID, kind, file, status, counts, when, who, file hash."""
    b = import_batches.c
    q = select(b.batch_id, b.kind, b.file_name, b.status, b.rows_added, b.rows_updated, b.imported_at, b.imported_by, b.file_hash).order_by(b.batch_id.desc()).limit(limit)
    with engine.connect() as conn:
        return rows_frame(conn.execute(q).fetchall(), [c.name for c in q.selected_columns])


# --------------------------------------------------------------------------- lookups for validation


def stored_rows(conn: Connection, table: str, column: str, values: Sequence, columns: Sequence[str] = ()) -> pd.DataFrame:
    """Rows of ``table`` whose ``column`` is one of ``values`` (chunked IN), with ``column`` and
    ``columns``; an empty frame with those columns when none match."""
    t = _table(table, lookup=True)
    cols = [t.c[column], *[t.c[c] for c in columns if c != column]]
    names = [c.name for c in cols]
    keys = _distinct(values)
    parts = []
    if _scan_instead(conn, t, cols[0], keys):  # (unsorted: sorting 350k ID numbers took seconds)
        wanted = keys if all(type(k) is str for k in keys) else {str(k) for k in keys}
        found = rows_frame(conn.execute(select(*cols)).fetchall(), names)
        found = found[[v in wanted for v in found[column].tolist()]].reset_index(drop=True)  # (isin on Arrow strings: a Python call per key)
        parts, keys = ([found] if len(found) else []), set()
    for chunk in chunks(sorted(keys)):
        rows = conn.execute(select(*cols).where(cols[0].in_(list(chunk)))).fetchall()
        if rows:
            parts.append(rows_frame(rows, names))
    if not parts:
        return pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    return pd.concat(parts, ignore_index=True)


def _scan_instead(conn: Connection, t: Table, key: Column, keys: Collection) -> bool:
    """Read the whole table rather than look the keys up, when a file names many keys of a text
    column and the table is not much larger: a scan of a county's table takes a fraction of a
    second, while IN lists of thousands of keys cost SQLAlchemy a bound parameter each (a fresh
    100k-household workbook spent ~5 s of its validation there, finding nothing)."""
    if len(keys) < _SCAN_FROM or not isinstance(key.type, String):
        return False
    n = conn.execute(select(func.count()).select_from(t)).scalar_one()
    return n <= _SCAN_RATIO * len(keys)


def region_levels(conn: Connection, codes: Sequence[str]) -> dict[str, str]:
    """Level (county, township, village) of each known region code among ``codes``."""
    found = stored_rows(conn, "regions", "region_code", codes, ["level"])
    return dict(zip(found["region_code"], found["level"]))


def known_households(conn: Connection, household_ids: Sequence[str]) -> set[str]:
    """The household IDs among ``household_ids`` that are in the household table."""
    return set(stored_rows(conn, "households", "household_id", household_ids)["household_id"])


def member_households(conn: Connection, id_numbers: Sequence[str]) -> dict[str, str]:
    """The household of each stored member among ``id_numbers``."""
    found = stored_rows(conn, "members", "id_number", id_numbers, ["household_id"])
    return dict(zip(found["id_number"], found["household_id"]))


def member_disability(conn: Connection, id_numbers: Sequence[str]) -> dict[str, int]:
    """The stored disability grade of each member among ``id_numbers``."""
    found = stored_rows(conn, "members", "id_number", id_numbers, ["disability"])
    return dict(zip(found["id_number"], found["disability"]))


def living_member_counts(conn: Connection, household_ids: Sequence[str]) -> dict[str, int]:
    """The number of living members (no month of death) of each household among ``household_ids``
    that has stored members."""
    m = members.c
    out: dict[str, int] = {}
    keys = _distinct(household_ids)
    if _scan_instead(conn, members, m.household_id, keys):
        wanted = {str(k) for k in keys}
        q = select(m.household_id, func.count()).where(m.deceased_period.is_(None)).group_by(m.household_id)
        return {str(h): int(n) for h, n in conn.execute(q) if str(h) in wanted}
    for chunk in chunks(sorted(keys)):
        q = select(m.household_id, func.count()).where(m.household_id.in_(list(chunk)), m.deceased_period.is_(None)).group_by(m.household_id)
        out.update({str(h): int(n) for h, n in conn.execute(q)})
    return out


def table_columns(table: str) -> frozenset[str]:
    """The column names of an import table."""
    return frozenset(c.name for c in _table(table, lookup=True).columns)


# --------------------------------------------------------------------------- writes


def insert_rows(conn: Connection, table: str, columns: Mapping[str, np.ndarray | Sequence]) -> int:
    """Append column arrays to an import table (dates as ISO strings, see ``bulk_insert``)."""
    return bulk_insert(conn, _table(table), columns)


def _python(x: object, is_date: bool) -> object:
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, np.generic):
        x = x.item()
    if is_date and isinstance(x, str):
        return date.fromisoformat(x)
    return x


def update_rows(conn: Connection, table: str, keys: Mapping[str, Sequence], values: Mapping[str, Sequence], *, keep_blank: bool = True) -> int:
    """Update the rows named by the ``keys`` arrays with the ``values`` arrays, row for row.

    A missing value (None/NaN) keeps the stored one (``COALESCE(new, stored)``): an empty cell in
    an update row leaves the column as it was; with ``keep_blank=False`` it clears it (a record
    replaced as a whole, such as a monitoring record).  Returns the number of rows sent."""
    t = _table(table)
    value_cols = list(values)
    stmt = update(t).where(*[t.c[k] == bindparam(f"k_{k}") for k in keys]).values(
        {c: func.coalesce(bindparam(f"v_{c}", type_=t.c[c].type), t.c[c]) if keep_blank else bindparam(f"v_{c}", type_=t.c[c].type) for c in value_cols}
    )
    dates = {c for c in value_cols if isinstance(t.c[c].type, Date)}
    n = len(next(iter(keys.values()))) if keys else 0
    rows = [
        {**{f"k_{k}": _python(keys[k][i], False) for k in keys}, **{f"v_{c}": _python(values[c][i], c in dates) for c in value_cols}}
        for i in range(n)
    ]
    for chunk in chunks(rows, _UPDATE_CHUNK):
        conn.execute(stmt, list(chunk))
    return n


# --------------------------------------------------------------------------- member aggregates


def aggregate_inputs(conn: Connection, household_ids: Sequence[str]) -> pd.DataFrame:
    """The members of these households, with the columns the aggregates count (``AGGREGATE_INPUTS``)."""
    m = members.c
    cols = [m[c] for c in AGGREGATE_INPUTS]
    parts = [rows_frame(conn.execute(select(*cols).where(m.household_id.in_(list(ch)))).fetchall(), AGGREGATE_INPUTS) for ch in chunks(list(household_ids))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(AGGREGATE_INPUTS))


def households_with_members(conn: Connection, household_ids: Sequence[str]) -> set[str]:
    """The household IDs among ``household_ids`` that have stored members (living or not)."""
    m = members.c
    out: set[str] = set()
    for chunk in chunks(_present(household_ids)):
        out.update(str(h) for (h,) in conn.execute(select(m.household_id).where(m.household_id.in_(list(chunk))).distinct()))
    return out


def newest_panel_period(conn: Connection) -> int | None:
    """The newest month in the panel (YYYYMM), None without a panel."""
    p = conn.execute(select(func.max(panel.c.period))).scalar()
    return None if p is None else int(p)


def set_household_aggregates(conn: Connection, aggregates: pd.DataFrame) -> int:
    """Write the ``AGGREGATE_COLUMNS`` of ``aggregates`` (indexed by household ID) to the household rows."""
    h = households.c
    stmt = update(households).where(h.household_id == bindparam("hid")).values({c: bindparam(f"a_{c}") for c in AGGREGATE_COLUMNS})
    table = aggregates[list(AGGREGATE_COLUMNS)]
    rows = [{"hid": hid, **{f"a_{c}": int(v) for c, v in zip(AGGREGATE_COLUMNS, vals)}} for hid, vals in zip(table.index, table.to_numpy().tolist())]
    for chunk in chunks(rows, _UPDATE_CHUNK):
        conn.execute(stmt, list(chunk))
    return len(rows)


# --------------------------------------------------------------------------- whole tables (the national export)


def table_frame(engine: Engine | Connection, table: str, columns: Sequence[str] | None = None, order_by: Sequence[str] = ()) -> pd.DataFrame:
    """Every row of an import table (or of ``regions``) with ``columns`` (default all), ordered by
    ``order_by``: what the national-layout export writes."""
    t = _table(table, lookup=True)
    cols = [t.c[c] for c in (columns or [c.name for c in t.columns])]
    stmt = select(*cols).order_by(*[t.c[c] for c in order_by])
    names = [c.name for c in cols]
    if isinstance(engine, Connection):
        return rows_frame(engine.execute(stmt).fetchall(), names)
    with engine.connect() as conn:
        return rows_frame(conn.execute(stmt).fetchall(), names)


def delete_all(conn: Connection, table: str) -> int:
    """Empty a table derived from others (``yearly_incomes`` or ``monitoring_records``) before it is
    written again from its sources; rows deleted."""
    if table not in ("yearly_incomes", "monitoring_records"):
        raise ValueError(f"not a derived table: {table!r}")
    return conn.execute(metadata.tables[table].delete()).rowcount
