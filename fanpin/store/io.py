"""Reading and writing in bulk: the hot paths between the database and numpy.

Writes go through the fastest path each backend offers (``executemany`` on
SQLite, ``COPY`` on PostgreSQL).  Reads build numpy columns straight from the
DBAPI cursor, skipping pandas' per-cell conversion, and keep a Parquet copy of
each month's snapshot keyed by the database's ``data_version`` so that the
second load of a month costs milliseconds.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection, Engine

from fanpin.store.engine import PROJECT_ROOT
from fanpin.store.schema import PANEL_VALUE_COLUMNS, households, meta, panel


def cache_dir() -> Path:
    """Where snapshot copies live; ``FANPIN_CACHE_DIR`` overrides (tests use a temporary one)."""
    return Path(os.environ.get("FANPIN_CACHE_DIR") or PROJECT_ROOT / "data" / "cache")

#: Household attributes that travel with every snapshot row.
HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "household_id",
    "village_code",
    "township_code",
    "household_type",
    "size",
    "no_labour_guarantee",
    "relocated",
    "n_labour",
    "n_weak_labour",
    "n_elderly",
    "n_children",
    "n_chronic",
    "n_serious",
    "n_disabled",
    "n_students",
    "n_uninsured",
)
_BOOL_COLUMNS = {"no_labour_guarantee", "relocated", "water_safe", "dibao", "tekun", "job_lost"}
_TEXT_COLUMNS = {"household_id", "village_code", "township_code", "household_type"}


_CHUNK = 100_000


def _as_python(values: np.ndarray | Sequence) -> list:
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "f":
            # NaN -> NULL
            out = values.astype(object)
            out[np.isnan(values)] = None
            return out.tolist()
        return values.tolist()
    return list(values)


def bulk_insert(conn: Connection, table: Table, columns: Mapping[str, np.ndarray | Sequence]) -> int:
    """Insert column arrays into ``table``; returns the number of rows.

    Dates and datetimes must already be ISO strings (``YYYY-MM-DD`` and
    ``YYYY-MM-DD HH:MM:SS``): both backends parse those, and formatting once in
    numpy is far cheaper than building Python date objects per row.
    """
    names = list(columns)
    if not names:
        return 0
    n = len(next(iter(columns.values())))
    if n == 0:
        return 0
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        cols = ", ".join(f'"{c}"' for c in names)
        with raw.cursor() as cur:
            with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')') as cp:
                for start in range(0, n, _CHUNK):
                    frame = pd.DataFrame({k: np.asarray(columns[k])[start : start + _CHUNK] for k in names})
                    for k in names:
                        if frame[k].dtype == bool:
                            frame[k] = frame[k].map({True: "t", False: "f"})
                    buf = io.StringIO()
                    frame.to_csv(buf, index=False, header=False, na_rep="\\N", quoting=csv.QUOTE_MINIMAL)
                    cp.write(buf.getvalue())
        return n
    placeholders = ", ".join("?" for _ in names)
    cols = ", ".join(f'"{c}"' for c in names)
    sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({placeholders})'
    # Chunks bound the Python objects alive at once (a million-row month would
    # otherwise hold ~1 GB of tuples).
    for start in range(0, n, _CHUNK):
        part = [_as_python(columns[k][start : start + _CHUNK]) for k in names]
        conn.exec_driver_sql(sql, list(zip(*part)))
    return n


def get_meta(conn: Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute(select(meta.c.value).where(meta.c.key == key)).first()
    return row[0] if row else default


def set_meta(conn: Connection, key: str, value: str) -> None:
    if conn.execute(update(meta).where(meta.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(meta.insert().values(key=key, value=value))


def bump_data_version(conn: Connection) -> str:
    """Every write batch sets a new version, which invalidates cached snapshots.

    A random token rather than a counter, so that a rebuilt database at the same
    URL can never be mistaken for the one a cache was made from.
    """
    version = uuid.uuid4().hex[:16]
    set_meta(conn, "data_version", version)
    return version


def periods(engine: Engine) -> list[int]:
    """The months present in the panel, ascending (YYYYMM integers)."""
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(select(panel.c.period).distinct().order_by(panel.c.period))]


def shift_period(period: int, months: int) -> int:
    y, m = divmod(period, 100)
    idx = y * 12 + (m - 1) + months
    return (idx // 12) * 100 + idx % 12 + 1


def _fetch_columns(conn: Connection, sql: str, params: tuple, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Run raw SQL on the DBAPI cursor and return one numpy array per column.

    Skips SQLAlchemy's result rows and pandas' per-cell inference: the rows go
    into one object array in C, and each column is cast once.  NULL becomes NaN
    in numeric columns and stays missing (NaN) in flag columns.
    """
    raw = conn.connection.driver_connection
    cur = raw.cursor()
    try:
        cur.execute(sql, params)
        rows = cur.fetchall()
    finally:
        cur.close()
    if not rows:
        return {k: np.array([], dtype=object if k in _TEXT_COLUMNS else bool if k in _BOOL_COLUMNS else float) for k in names}
    table = np.array(rows, dtype=object)
    del rows
    out: dict[str, np.ndarray] = {}
    for j, k in enumerate(names):
        col = table[:, j]
        if k in _TEXT_COLUMNS:
            out[k] = col.copy()
        elif k in _BOOL_COLUMNS:
            nulls = np.equal(col, None)
            if nulls.any():
                out[k] = np.where(nulls, np.nan, np.where(nulls, 0, col).astype(bool).astype(np.float64))
            else:
                out[k] = col.astype(bool)
        else:
            out[k] = col.astype(np.float64)  # None -> NaN
    return out


def _in_list(dialect: str, n: int) -> str:
    ph = "%s" if dialect == "postgresql" else "?"
    return ", ".join([ph] * n)


def _sorted_by_id(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Order rows by household_id in numpy (database collations may differ)."""
    ids = cols["household_id"].astype(str)
    if len(ids) > 1 and not (ids[:-1] <= ids[1:]).all():
        order = np.argsort(ids, kind="stable")
        return {k: v[order] for k, v in cols.items()}
    return cols


def _align(ids: np.ndarray, ref_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``ids`` in sorted ``ref_ids`` and whether each was found."""
    if len(ref_ids) == 0:
        return np.zeros(len(ids), dtype=np.intp), np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(ref_ids, ids), len(ref_ids) - 1)
    return pos, ref_ids[pos] == ids


def database_id(engine: Engine) -> str:
    """A random identity written once per database (``fanpin db upgrade`` / a new demo); unlike the
    data version it survives writes, so a saved model can tell its own database from another one.
    A copy of the file is the same database."""
    with engine.connect() as conn:
        found = get_meta(conn, "database_id")
    if found:
        return found
    with engine.begin() as conn:
        return ensure_database_id(conn)


def ensure_database_id(conn: Connection) -> str:
    found = get_meta(conn, "database_id")
    if not found:
        found = uuid.uuid4().hex
        set_meta(conn, "database_id", found)
    return found


def data_version(engine: Engine) -> str:
    with engine.connect() as conn:
        return get_meta(conn, "data_version", "0") or "0"


def _cache_path(engine: Engine, period: int | str, version: str) -> Path:
    ident = hashlib.sha1(engine.url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return cache_dir() / ident / f"snapshot_{period}_v{version}.parquet"


def _write_cache(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    for old in path.parent.glob(f"snapshot_{path.stem.split('_')[1]}_v*.parquet"):
        if old != path:
            old.unlink(missing_ok=True)


def _load_households(engine: Engine, version: str, use_cache: bool) -> dict[str, np.ndarray]:
    """The household attributes of every snapshot, read once per data version."""
    path = _cache_path(engine, "households", version)
    if use_cache and path.exists():
        f = pd.read_parquet(path)
        return {k: f[k].to_numpy() for k in HOUSEHOLD_COLUMNS}
    sql = f"SELECT {', '.join(HOUSEHOLD_COLUMNS)} FROM households"
    with engine.connect() as conn:
        cols = _sorted_by_id(_fetch_columns(conn, sql, (), list(HOUSEHOLD_COLUMNS)))
    if use_cache:
        _write_cache(path, pd.DataFrame(cols))
    return cols


def load_snapshots(engine: Engine, periods_wanted: Sequence[int], *, use_cache: bool = True) -> dict[int, pd.DataFrame]:
    """Several months at once: cached months from Parquet, the rest from SQL.

    Each frame holds the household attributes in ``HOUSEHOLD_COLUMNS``, the panel
    values and ``income_pc_12m_ago`` (NaN where there is no month a year before),
    ordered by household_id.  The SQL path reads each month as one range scan of
    the period-clustered panel plus the incomes of a year before, and joins them
    to the household table in numpy: index lookups per row made the join in SQL
    three times slower.
    """
    version = data_version(engine) if use_cache else ""
    out: dict[int, pd.DataFrame] = {}
    todo: list[int] = []
    for p in periods_wanted:
        path = _cache_path(engine, p, version)
        if use_cache and path.exists():
            out[int(p)] = pd.read_parquet(path)
        else:
            todo.append(int(p))
    if todo:
        dialect = engine.dialect.name
        hh = _load_households(engine, version, use_cache)
        hh_ids = hh["household_id"].astype(str)
        names = ["period", "household_id", *PANEL_VALUE_COLUMNS]
        panel_sql = f"SELECT {', '.join(names)} FROM panel WHERE period IN ({_in_list(dialect, len(todo))}) ORDER BY period, household_id"
        prev = [shift_period(p, -12) for p in todo]
        prev_sql = f"SELECT period, household_id, income_pc FROM panel WHERE period IN ({_in_list(dialect, len(prev))})"
        with engine.connect() as conn:
            cols = _fetch_columns(conn, panel_sql, tuple(todo), names)
            before = _fetch_columns(conn, prev_sql, tuple(prev), ["period", "household_id", "income_pc"])
        per = cols["period"].astype(np.int64)
        bper = before["period"].astype(np.int64)
        for p, q in zip(todo, prev):
            sel = np.flatnonzero(per == p)
            month = _sorted_by_id({k: v[sel] for k, v in cols.items() if k != "period"})
            ids = month["household_id"].astype(str)
            pos, found = _align(ids, hh_ids)
            if not found.all():
                raise ValueError(f"panel rows for {p} name households that are not in the household table")
            frame_cols = {k: hh[k][pos] for k in HOUSEHOLD_COLUMNS if k != "household_id"}
            frame_cols = {"household_id": month["household_id"], **frame_cols}
            frame_cols.update({k: month[k] for k in PANEL_VALUE_COLUMNS})
            bsel = np.flatnonzero(bper == q)
            b = _sorted_by_id({"household_id": before["household_id"][bsel], "income_pc": before["income_pc"][bsel]})
            bpos, bfound = _align(ids, b["household_id"].astype(str))
            frame_cols["income_pc_12m_ago"] = np.where(bfound, b["income_pc"][bpos] if len(bsel) else np.nan, np.nan).astype(np.float64)
            frame = pd.DataFrame({k: frame_cols[k] for k in [*HOUSEHOLD_COLUMNS, *PANEL_VALUE_COLUMNS, "income_pc_12m_ago"]})
            out[p] = frame
            if use_cache and len(frame):
                _write_cache(_cache_path(engine, p, version), frame)
    for p, f in out.items():
        f.attrs["period"] = p
    return {int(p): out[int(p)] for p in periods_wanted}


def load_snapshot(engine: Engine, period: int, *, use_cache: bool = True) -> pd.DataFrame:
    """One month's frame of households x raw indicators, ordered by household_id."""
    return load_snapshots(engine, [int(period)], use_cache=use_cache)[int(period)]


def warm_cache(engine: Engine, max_rows: int = 300_000) -> int:
    """Load every month once so the app's first views read Parquet; returns months cached.

    Months are fetched in groups of about ``max_rows`` panel rows: one query per
    group keeps the round trips few without holding millions of Python objects.
    """
    ps = periods(engine)
    with engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT COUNT(*) FROM households").scalar() or 1
    step = max(1, max_rows // n)
    for i in range(0, len(ps), step):
        load_snapshots(engine, ps[i : i + step])
    return len(ps)


def load_panel_column(engine: Engine, column: str) -> pd.DataFrame:
    """One panel column for every household and month (for trends), long format."""
    if column not in PANEL_VALUE_COLUMNS:
        raise ValueError(f"unknown panel column: {column}")
    with engine.connect() as conn:
        cur = conn.exec_driver_sql(f"SELECT household_id, period, {column} FROM panel")
        rows = cur.fetchall()
    if not rows:
        return pd.DataFrame({"household_id": [], "period": [], column: []})
    hid, per, val = zip(*rows)
    return pd.DataFrame({"household_id": np.array(hid, dtype=object), "period": np.array(per), column: np.array(val)})


def load_json_meta(engine: Engine, key: str, default: object = None) -> object:
    with engine.connect() as conn:
        raw = get_meta(conn, key)
    return json.loads(raw) if raw else default


__all__ = [
    "HOUSEHOLD_COLUMNS",
    "bulk_insert",
    "bump_data_version",
    "data_version",
    "get_meta",
    "load_json_meta",
    "load_panel_column",
    "load_snapshot",
    "periods",
    "set_meta",
    "shift_period",
    "households",
]
