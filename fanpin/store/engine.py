"""Engine from one URL, and the clear errors an app shows instead of a traceback.

``FANPIN_DB_URL`` (or ``db_url`` in ``.streamlit/secrets.toml``) chooses the
database; the default is the SQLite file ``data/fanpin.db`` in the project.
"""

from __future__ import annotations

import os
import sqlite3
import tomllib
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "fanpin.db"


class StoreError(RuntimeError):
    """A database problem the user can act on; ``code`` keys the i18n message."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def default_url() -> str:
    """The URL in force: environment, then Streamlit secrets, then the embedded SQLite file."""
    url = os.environ.get("FANPIN_DB_URL")
    if url:
        return url
    secrets = PROJECT_ROOT / ".streamlit" / "secrets.toml"
    if secrets.exists():
        with secrets.open("rb") as fh:
            data = tomllib.load(fh)
        if data.get("db_url"):
            return str(data["db_url"])
    return f"sqlite:///{DEFAULT_DB_PATH}"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other backends and in-memory databases."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI objects
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-200000")
    # REPLACE deletes a conflicting row without firing delete triggers unless this is on
    cur.execute("PRAGMA recursive_triggers=ON")
    cur.close()
    from fanpin.store.audit import chain_function

    dbapi_conn.create_function("fanpin_audit_hash", 2, chain_function, deterministic=True)


def make_engine(url: str | None = None, *, create: bool = False) -> Engine:
    """Create an engine; with ``create=False`` a missing SQLite file is an error, not a new empty file.

    SQLite's driver silently creates a missing file, which would turn a typo in the
    path into an empty database and a confusing "no such table" later.
    """
    url = url or default_url()
    path = sqlite_path(url)
    if path is not None:
        if not path.exists() and not create:
            raise StoreError("db_missing", f"database file not found: {path}", path=str(path))
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        if path is not None and path.exists():
            _probe_sqlite(engine, path)
    return engine


def _probe_sqlite(engine: Engine, path: Path) -> None:
    """Refuse a file that is not a SQLite database, asking SQLite itself.

    The file is never opened and closed by Python: closing any descriptor of a file drops
    every POSIX lock this process holds on it, so a plain header check while another engine
    of this process had the database open let a second process delete the live ``-wal`` and
    ``-shm`` files (the two then saw different data).  SQLite's own opens share one lock table
    per file within the process, so they are safe.  The probe connection stays in the pool.
    """
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA schema_version").scalar()
    except sa_exc.DatabaseError as exc:
        if is_corruption(exc):
            raise StoreError("db_corrupt", f"not a SQLite database: {path}", path=str(path)) from exc
        raise


def is_corruption(exc: BaseException) -> bool:
    """Whether an exception means the SQLite file is damaged."""
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.DatabaseError) and (
        "malformed" in str(orig) or "not a database" in str(orig)
    )
