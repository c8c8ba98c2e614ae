"""Shared fixtures: real SQLite files and the real PostgreSQL server, never mocks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("FANPIN_TEST_PG_URL")

# CI runs the same examples every time: a property failure there is reproducible, not luck.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep snapshot caches and trained models out of the project's data/ during tests, and the
    project's analytic store (``make run``'s demo province) out of the app: a test that wants a
    province sets ``FANPIN_STORE_DIR`` to its own."""
    old = {k: os.environ.get(k) for k in ("FANPIN_CACHE_DIR", "FANPIN_MODEL_DIR", "FANPIN_STORE_DIR")}
    os.environ["FANPIN_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["FANPIN_MODEL_DIR"] = str(tmp_path_factory.mktemp("models"))
    os.environ["FANPIN_STORE_DIR"] = str(tmp_path_factory.mktemp("no-store") / "store")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


def new_pg_url() -> str:
    """A fresh PostgreSQL schema in the test database (dropped at session end)."""
    schema = f"fanpin_t_{uuid.uuid4().hex[:10]}"
    eng = create_engine(PG_URL)
    with eng.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    _PG_SCHEMAS.append(schema)
    return _pg_schema_url(schema)


_PG_SCHEMAS: list[str] = []


@pytest.fixture(autouse=True, scope="session")
def _drop_pg_schemas() -> Iterator[None]:
    yield
    if PG_URL and _PG_SCHEMAS:
        eng = create_engine(PG_URL)
        # one transaction per schema: dropping hundreds of schemas at once needs more locks
        # than the server's lock table holds (max_locks_per_transaction x max_connections)
        for s in _PG_SCHEMAS:
            with eng.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{s}" CASCADE'))
        eng.dispose()


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.pg),
]


def backend_url(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'fanpin-{uuid.uuid4().hex[:6]}.db'}"
    if not PG_URL:
        pytest.skip("FANPIN_TEST_PG_URL is not set (CI sets it; see .ci/run)")
    return new_pg_url()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database on each backend."""
    return backend_url(request.param, tmp_path)


#: A two-township county with one village in each, for tests that build their own small database.
TINY_REGIONS = [
    {"region_code": "990101000000", "level": "county", "parent_code": None, "name": "示范县"},
    {"region_code": "990101001000", "level": "township", "parent_code": "990101000000", "name": "一镇"},
    {"region_code": "990101002000", "level": "township", "parent_code": "990101000000", "name": "二镇"},
    {"region_code": "990101001001", "level": "village", "parent_code": "990101001000", "name": "一村"},
    {"region_code": "990101002001", "level": "village", "parent_code": "990101002000", "name": "二村"},
]


def insert_tiny_regions(conn) -> None:
    from sqlalchemy import insert

    from fanpin.store import schema as S

    conn.execute(insert(S.regions), TINY_REGIONS)


def copy_sqlite(engine, path) -> str:
    """A consistent copy of a SQLite database (the backup API: a plain file copy would miss what is
    still in the WAL); returns the copy's URL.  Tests that write copy the shared demo first."""
    import sqlite3

    src, dst = sqlite3.connect(engine.url.database), sqlite3.connect(path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory):
    """A migrated SQLite demo county: 1,500 households x 15 months."""
    from fanpin import store
    from fanpin.demo.build import build_demo
    from fanpin.demo.spec import DemoSpec

    path = tmp_path_factory.mktemp("demo") / "small.db"
    engine = store.make_engine(f"sqlite:///{path}", create=True)
    store.upgrade(engine)
    # workflow=False: tests on this county add their own orders and count them exactly
    spec = DemoSpec(households=1500, months=15, start=202401, townships=8, villages=40, seed=7, workflow=False)
    build_demo(engine, spec)
    return engine, spec


@pytest.fixture(scope="session")
def dask_cluster():
    """One LocalCluster for the session's engine tests (starting one costs seconds): 2 single-threaded
    worker processes, 2 GB each, no dashboard.  Tests connect by its address, as to a real cluster."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="2GB", processes=True, dashboard_address=None) as cluster:
        yield cluster
