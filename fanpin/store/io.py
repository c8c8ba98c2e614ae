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
    """Run raw SQL and return one numpy array per column, built without pandas."""
    cur = conn.exec_driver_sql(sql, params)
    rows = cur.fetchall()
    if not rows:
        return {k: np.array([], dtype=object if k in _TEXT_COLUMNS else bool if k in _BOOL_COLUMNS else float) for k in names}
    cols = list(zip(*rows))
    out: dict[str, np.ndarray] = {}
    for k, col in zip(names, cols):
        if k in _TEXT_COLUMNS:
            out[k] = np.array(col, dtype=object)
        elif k in _BOOL_COLUMNS:
            # NULL (not reported) must stay missing, not become False
            arr = np.array(col, dtype=object)
            out[k] = arr.astype(bool) if not any(v is None for v in col) else pd.array(arr, dtype="boolean").to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[k] = np.array(col, dtype=np.float64)  # None -> NaN
    return out


def _snapshot_sql(dialect: str, n_periods: int) -> tuple[str, list[str]]:
    """One query for one or more months; a year earlier is ``period - 100`` in YYYYMM."""
    names = [*HOUSEHOLD_COLUMNS, *PANEL_VALUE_COLUMNS, "income_pc_12m_ago", "period"]
    hcols = ", ".join(f"h.{c}" for c in HOUSEHOLD_COLUMNS)
    pcols = ", ".join(f"p.{c}" for c in PANEL_VALUE_COLUMNS)
    ph = "%s" if dialect == "postgresql" else "?"
    marks = ", ".join([ph] * n_periods)
    sql = (
        f"SELECT {hcols}, {pcols}, q.income_pc, p.period FROM panel p "
        f"JOIN households h ON h.household_id = p.household_id "
        f"LEFT JOIN panel q ON q.household_id = p.household_id AND q.period = p.period - 100 "
        f"WHERE p.period IN ({marks}) ORDER BY p.period, p.household_id"
    )
    return sql, names


def data_version(engine: Engine) -> str:
    with engine.connect() as conn:
        return get_meta(conn, "data_version", "0") or "0"


def _cache_path(engine: Engine, period: int, version: str) -> Path:
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


def load_snapshots(engine: Engine, periods_wanted: Sequence[int], *, use_cache: bool = True) -> dict[int, pd.DataFrame]:
    """Several months at once: cached months from Parquet, the rest in one SQL query.

    Each frame holds the household attributes in ``HOUSEHOLD_COLUMNS``, the panel
    values and ``income_pc_12m_ago`` (NaN where there is no month a year before),
    ordered by household_id.
    """
    version = data_version(engine) if use_cache else ""
    out: dict[int, pd.DataFrame] = {}
    todo: list[int] = []
    for p in periods_wanted:
        path = _cache_path(engine, p, version)
        if use_cache and path.exists():
            out[p] = pd.read_parquet(path)
        else:
            todo.append(int(p))
    if todo:
        sql, names = _snapshot_sql(engine.dialect.name, len(todo))
        with engine.connect() as conn:
            cols = _fetch_columns(conn, sql, tuple(todo), names)
        per = cols.pop("period").astype(np.int64) if len(cols["period"]) else np.array([], dtype=np.int64)
        for p in todo:
            lo, hi = np.searchsorted(per, p, "left"), np.searchsorted(per, p, "right")
            frame = pd.DataFrame({k: v[lo:hi] for k, v in cols.items()}, copy=True)
            out[p] = frame
            if use_cache and len(frame):
                _write_cache(_cache_path(engine, p, version), frame)
    for p, f in out.items():
        f.attrs["period"] = p
    return {p: out[p] for p in periods_wanted}


def load_snapshot(engine: Engine, period: int, *, use_cache: bool = True) -> pd.DataFrame:
    """One month's frame of households x raw indicators, ordered by household_id."""
    return load_snapshots(engine, [int(period)], use_cache=use_cache)[int(period)]


def warm_cache(engine: Engine, max_rows: int = 1_000_000) -> int:
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
