"""The columnar copy of the panel: what a page reads instead of SQL.

Reading a month through SQL costs about 1 s per 100k households (the DBAPI builds a Python
object per cell); a Parquet copy of the same month reads in a few tens of milliseconds.  The
copy is two kinds of file per data version (``data_version`` in ``meta``: any write makes a new
one, so a copy is never stale):

- ``households_c2_v<version>.parquet``: the household attributes (``HOUSEHOLD_COLUMNS``) of
  every household, ordered by household_id, once per version;
- ``month_<period>_c2_v<version>.parquet``: that month's panel values plus
  ``income_pc_12m_ago``, numbers only, with ``row``, the household's position in the household
  file (so no household ID string is read per month).

A page asks for the columns it needs (``month_values(..., columns=)``): the risk score needs 25
of the 35.  Copies are written month by month (``write_copies``: bounded memory) by
``fanpin demo``, by the app as soon as it sees a new data version (``fanpin.ui.data``), and by
the first read of a month that has none.  Writers hold a lock per file, so two sessions asking
for the same cold month read SQL once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from fanpin.store import io as store_io
from fanpin.store.io import HOUSEHOLD_COLUMNS, cache_dir, data_version, periods, shift_period
from fanpin.store.schema import PANEL_VALUE_COLUMNS, households, panel

#: Part of every file name: copies of an older layout are never read.
FORMAT = "c2"
PREV_INCOME = "income_pc_12m_ago"
MONTH_COLUMNS: tuple[str, ...] = (*PANEL_VALUE_COLUMNS, PREV_INCOME)
TEXT_COLUMNS = frozenset({"household_id", "village_code", "township_code", "household_type"})
#: Tables whose change makes the household file be read again (members: the household counts).
HOUSEHOLD_TABLES = frozenset({"households", "members"})
BOOL_COLUMNS = frozenset({"no_labour_guarantee", "relocated", "water_safe", "dibao", "tekun", "job_lost"})
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class MonthValues:
    """One month's panel columns; ``rows`` are positions in ``household_table`` (ascending)."""

    period: int
    rows: np.ndarray
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.rows)


# --------------------------------------------------------------------------- files
def _dir(engine: Engine) -> Path:
    ident = hashlib.sha1(engine.url.render_as_string(hide_password=True).encode()).hexdigest()[:12]
    return cache_dir() / ident


def households_path(engine: Engine, version: str) -> Path:
    return _dir(engine) / f"households_{FORMAT}_v{version}.parquet"


def month_path(engine: Engine, period: int, version: str) -> Path:
    return _dir(engine) / f"month_{int(period)}_{FORMAT}_v{version}.parquet"


def _lock(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


def side_path(engine: Engine, stem: str, version: str, suffix: str) -> Path:
    """A file kept beside the copy for the data version (such as the panel's scores)."""
    return _dir(engine) / f"{stem}_v{version}{suffix}"


def file_lock(path: Path) -> threading.Lock:
    """The lock of one file in this process: who writes it holds it, who reads it waits for it."""
    return _lock(path)


def unchanged_since(engine: Engine, version: str, tables: Iterable[str]) -> str | None:
    """The previous data version when the change to ``version`` said it wrote none of ``tables``
    (``bump_data_version(changed=)``), else None."""
    rec = store_io.data_change(engine)
    if not rec or rec.get("to") != version or rec.get("changed") is None or not rec.get("from"):
        return None
    return None if set(rec["changed"]) & set(tables) else str(rec["from"])


def carry_side_file(engine: Engine, stem: str, version: str, suffix: str, tables: Iterable[str]) -> bool:
    """The previous version's side file ``stem`` as this version's, when the change wrote none of
    the ``tables`` it is made from; whether it was carried over."""
    old = unchanged_since(engine, version, tables)
    if old is None:
        return False
    try:
        _carry_file(side_path(engine, stem, old, suffix), side_path(engine, stem, version, suffix))
    except FileNotFoundError:
        return False
    return True


def drop_other_versions(path: Path, prefix: str) -> None:
    """Remove the files starting with ``prefix`` of every data version but ``path``'s."""
    version = path.name.rsplit("_v", 1)[-1]
    for old in path.parent.glob(f"{prefix}*_v*{path.suffix}"):  # not another writer's .tmp
        if old.name.rsplit("_v", 1)[-1] != version:
            old.unlink(missing_ok=True)


def _write(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write atomically (a reader sees the old file or the whole new one) and drop the same
    file of other versions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
    pq.write_table(pa.table({k: pa.array(v) for k, v in columns.items()}), tmp, compression="lz4")
    tmp.replace(path)
    _drop_others(path)


def _drop_others(path: Path) -> None:
    """Remove the same file of other versions; of the household file the newest other one is kept
    (the month files carried over from it are renumbered by its household IDs)."""
    stem = path.name.split("_v", 1)[0]
    others = [old for old in path.parent.glob(f"{stem}_v*.parquet") if old != path]
    if stem.startswith("households_") and others:
        others.sort(key=lambda f: f.stat().st_mtime if f.exists() else 0.0)
        others.pop()
    for old in others:
        old.unlink(missing_ok=True)


def _read(path: Path, columns: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    table = pq.read_table(path, columns=list(columns) if columns is not None else None, use_threads=False)
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


# --------------------------------------------------------------------------- SQL reads
def _rows(conn: Connection, sql: str, params: tuple) -> list[tuple]:
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        cur.close()


def _numbers(block: np.ndarray) -> np.ndarray:
    """An object block of numbers, None for NULL, as float64 (NULL -> NaN)."""
    try:
        return block.astype(np.float64)
    except TypeError:  # NULLs: numpy will not turn None into a float
        block = block.copy()
        block[np.equal(block, None)] = np.nan
        return block.astype(np.float64)


def _fetch(conn: Connection, sql: str, params: tuple, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The rows as numpy columns: text stays object, numbers float64 (NULL -> NaN), a flag bool
    unless it has NULLs (then float with NaN).  The rows go into one object block and the numbers
    are converted as one block (numpy's loops, not one Python call per cell and column: 0.3 s
    instead of 0.5-0.8 s for a month of 100k households on a loaded machine)."""
    rows = _rows(conn, sql, params)
    block = np.array(rows, dtype=object).reshape(len(rows), len(names))
    nums = [j for j, k in enumerate(names) if k not in TEXT_COLUMNS]
    values = _numbers(block[:, nums]) if nums else None
    out: dict[str, np.ndarray] = {}
    for j, k in enumerate(names):
        if k in TEXT_COLUMNS:
            out[k] = np.ascontiguousarray(block[:, j])
            continue
        col = np.ascontiguousarray(values[:, nums.index(j)])
        out[k] = col.astype(bool) if k in BOOL_COLUMNS and not np.isnan(col).any() else col
    return out


def _by_id(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rows ordered by household_id in numpy (database collations differ)."""
    ids = cols["household_id"].astype(str)
    if len(ids) > 1 and not (ids[:-1] <= ids[1:]).all():
        order = np.argsort(ids, kind="stable")
        return {k: v[order] for k, v in cols.items()}
    return cols


def _placeholder(conn: Connection) -> str:
    return "%s" if conn.dialect.name == "postgresql" else "?"


# --------------------------------------------------------------------------- the household file
def household_table(engine: Engine, *, version: str | None = None, use_cache: bool = True) -> dict[str, np.ndarray]:
    """Every household's attributes (``HOUSEHOLD_COLUMNS``), ordered by household_id."""
    version = data_version(engine) if version is None else version
    path = households_path(engine, version)
    if use_cache and path.exists():
        return _read(path)
    with _lock(path):
        if use_cache and path.exists():
            return _read(path)
        carried = _carried(engine, version) if use_cache else None
        if carried is not None and not carried[1] & HOUSEHOLD_TABLES:
            try:
                _carry_file(households_path(engine, carried[0]), path, keep=True)
                return _read(path)
            except FileNotFoundError:
                pass
        with engine.connect() as conn:
            cols = _by_id(_fetch(conn, f"SELECT {', '.join(HOUSEHOLD_COLUMNS)} FROM households", (), HOUSEHOLD_COLUMNS))
        if use_cache:
            _write(path, cols)
    return cols


def positions(ids: np.ndarray, table_ids: np.ndarray) -> np.ndarray:
    """Positions of ``ids`` in the sorted household IDs; refuses an ID that is not there."""
    ids, table_ids = ids.astype(str), table_ids.astype(str)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int32)
    pos = np.minimum(np.searchsorted(table_ids, ids), max(len(table_ids) - 1, 0))
    if len(table_ids) == 0 or (table_ids[pos] != ids).any():
        raise ValueError("panel rows name households that are not in the household table")
    return pos.astype(np.int32)


# --------------------------------------------------------------------------- month files
def _month_from_sql(engine: Engine, period: int, table_ids: np.ndarray) -> dict[str, np.ndarray]:
    """A month's copy columns read from SQL: its panel values and the incomes of a year before."""
    names = ("household_id", *PANEL_VALUE_COLUMNS)
    with engine.connect() as conn:
        ph = _placeholder(conn)
        month = _by_id(_fetch(conn, f"SELECT {', '.join(names)} FROM panel WHERE period = {ph}", (int(period),), names))
        before = _fetch(conn, f"SELECT household_id, income_pc FROM panel WHERE period = {ph}", (shift_period(int(period), -12),), ("household_id", "income_pc"))
    rows = positions(month["household_id"], table_ids)
    prev = np.full(len(table_ids), np.nan)
    prev[positions(before["household_id"], table_ids)] = before["income_pc"]
    out = {"row": rows, **{k: month[k] for k in PANEL_VALUE_COLUMNS}}
    out[PREV_INCOME] = prev[rows]
    return out


def month_values(
    engine: Engine, period: int, columns: Sequence[str] | None = None, *, version: str | None = None, use_cache: bool = True,
    table_ids: np.ndarray | None = None,
) -> MonthValues:
    """One month's panel values (``columns`` of ``MONTH_COLUMNS``, default all), from its copy;
    a month without one is read from SQL once and its copy written."""
    version = data_version(engine) if version is None else version
    wanted = list(MONTH_COLUMNS if columns is None else columns)
    path = month_path(engine, period, version)
    if use_cache and path.exists():
        got = _read(path, ["row", *wanted])
        return MonthValues(int(period), got.pop("row"), got)
    if use_cache:  # carried over from the previous version where it can be, else read from SQL; under the file's lock
        write_copies(engine, [period], version=version)
        if path.exists():
            got = _read(path, ["row", *wanted])
            return MonthValues(int(period), got.pop("row"), got)
    with _lock(path):  # a month with no households, or no copy wanted
        if use_cache and path.exists():
            got = _read(path, ["row", *wanted])
            return MonthValues(int(period), got.pop("row"), got)
        if table_ids is None:
            table_ids = household_table(engine, version=version, use_cache=use_cache)["household_id"]
        cols = _month_from_sql(engine, period, table_ids)
        if use_cache and len(cols["row"]):
            _write(path, cols)
    return MonthValues(int(period), cols["row"], {k: cols[k] for k in wanted})


def snapshot_frame(table: dict[str, np.ndarray], month: MonthValues) -> pd.DataFrame:
    """The month's frame of households x indicators (household attributes taken by ``rows``)."""
    cols = {k: table[k][month.rows] for k in HOUSEHOLD_COLUMNS}
    cols.update(month.values)
    frame = pd.DataFrame(cols)
    frame.attrs["period"] = month.period
    return frame


def load_snapshots(engine: Engine, periods_wanted: Sequence[int], *, use_cache: bool = True) -> dict[int, pd.DataFrame]:
    """Whole snapshot frames (``HOUSEHOLD_COLUMNS``, the panel values and ``income_pc_12m_ago``,
    ordered by household_id), one month at a time."""
    version = data_version(engine) if use_cache else ""
    table = household_table(engine, version=version, use_cache=use_cache)
    return {
        int(p): snapshot_frame(table, month_values(engine, p, version=version, use_cache=use_cache, table_ids=table["household_id"]))
        for p in periods_wanted
    }


def missing_copies(engine: Engine, version: str | None = None) -> list[int]:
    """The months of the panel that have no copy for the data version."""
    version = data_version(engine) if version is None else version
    return [p for p in periods(engine) if not month_path(engine, p, version).exists()]


def _carried(engine: Engine, version: str) -> tuple[str, frozenset[str], frozenset[int] | None] | None:
    """(the previous version, the tables changed, the months changed or None for all) when the last
    version change says what it changed and the previous version's copy is there; else None."""
    rec = store_io.data_change(engine)
    if not rec or rec.get("to") != version or rec.get("changed") is None or not rec.get("from"):
        return None
    if not households_path(engine, rec["from"]).exists():
        return None
    months = None if rec.get("periods") is None else frozenset(int(p) for p in rec["periods"])
    return rec["from"], frozenset(rec["changed"]), months


def _month_changed(period: int, changed: frozenset[str], months: frozenset[int] | None) -> bool:
    """Whether a write of ``months`` of the panel reaches a month's file (its own rows, or the
    incomes of a year before that it carries)."""
    if "panel" not in changed:
        return False
    return months is None or period in months or shift_period(period, -12) in months


def _carry_month(engine: Engine, period: int, old: str, version: str, remap: np.ndarray | None) -> bool:
    """The previous version's file of an unchanged month as this version's: a hard link (or a copy),
    or rewritten with the rows moved where the household file gained households.  False when the
    old file is gone (another writer moved on): the month is then read from SQL."""
    src, dst = month_path(engine, period, old), month_path(engine, period, version)
    try:
        if remap is None:
            _carry_file(src, dst)
        else:
            cols = _read(src)
            cols["row"] = remap[cols["row"]].astype(np.int32)
            _write(dst, cols)
    except FileNotFoundError:
        return False
    return True


def write_copies(
    engine: Engine, months: Iterable[int] | None = None, *, version: str | None = None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Write the copies of the data version (default: the current one) that are missing, month by
    month (one month's rows in memory at a time); returns the months written.  ``progress(done,
    total)`` after each.

    When the last version change said what it wrote (``bump_data_version(changed=, periods=)``),
    the files of the previous version that the write left alone are carried over instead of read
    from SQL: after an import of one month only that month (and the month a year later, which
    carries its incomes) is read; after new households the other months' rows are renumbered."""
    version = data_version(engine) if version is None else version
    todo = missing_copies(engine, version) if months is None else [int(p) for p in months if not month_path(engine, p, version).exists()]
    if not todo:
        return 0
    carried = _carried(engine, version)
    old_ids = None
    if carried is not None:
        try:
            old_ids = _read(households_path(engine, carried[0]), ["household_id"])["household_id"]
        except FileNotFoundError:
            carried = None
    table_ids = household_table(engine, version=version)["household_id"]
    remap = None
    if carried is not None and not (len(old_ids) == len(table_ids) and bool((old_ids.astype(str) == table_ids.astype(str)).all())):
        try:
            remap = positions(old_ids, table_ids)  # old row -> new row
        except ValueError:  # households went away: nothing is carried over
            carried = None
    for done, p in enumerate(todo, 1):
        path = month_path(engine, p, version)
        with _lock(path):
            if not path.exists():
                moved = carried is not None and not _month_changed(p, carried[1], carried[2]) and _carry_month(engine, p, carried[0], version, remap)
                if not moved:
                    cols = _month_from_sql(engine, p, table_ids)
                    if len(cols["row"]):
                        _write(path, cols)
        if progress is not None:
            progress(done, len(todo))
    return len(todo)


def _carry_file(src: Path, dst: Path, *, keep: bool = False) -> None:
    """``src`` as ``dst`` (a hard link, else a copy); ``src`` removed unless ``keep``."""
    tmp = dst.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
    try:
        os.link(src, tmp)
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copyfile(src, tmp)
    tmp.replace(dst)
    if keep:
        _drop_others(dst)
    else:
        src.unlink(missing_ok=True)


def month_household_count(engine: Engine, period: int, townships: Iterable[str] | None = None) -> int:
    """Households with a row in the month (in ``townships`` when given): a COUNT, no snapshot."""
    stmt = select(func.count()).select_from(panel).where(panel.c.period == int(period))
    if townships is not None:
        towns = sorted({str(t) for t in townships})
        stmt = stmt.join(households, households.c.household_id == panel.c.household_id).where(households.c.township_code.in_(towns))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar() or 0)
