"""The database layer on both backends: migrations, round trips, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from fanpin import store
from fanpin.store import io as sio
from fanpin.store import schema as S
from fanpin.store.engine import StoreError, make_engine


def test_migrations_from_empty_match_the_tables(db_url: str) -> None:
    engine = make_engine(db_url, create=True)
    assert store.current_revision(engine) is None
    store.upgrade(engine)
    assert store.current_revision(engine) == store.head_revision() == "0011"
    names = set(inspect(engine).get_table_names())
    assert set(S.metadata.tables) <= names
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), S.metadata)
    assert diff == []
    store.check_schema(engine)  # no error at head


def test_older_schema_names_the_command(db_url: str) -> None:
    engine = make_engine(db_url, create=True)
    store.upgrade(engine, "0001")
    with pytest.raises(StoreError) as err:
        store.check_schema(engine)
    assert err.value.code == "db_old"
    assert "fanpin db upgrade" in str(err.value)
    store.upgrade(engine)
    store.check_schema(engine)


def test_empty_database_is_reported(db_url: str) -> None:
    engine = make_engine(db_url, create=True)
    with pytest.raises(StoreError) as err:
        store.check_schema(engine)
    assert err.value.code == "db_empty"


def test_missing_sqlite_file_is_not_created(tmp_path) -> None:
    path = tmp_path / "nope.db"
    with pytest.raises(StoreError) as err:
        make_engine(f"sqlite:///{path}")
    assert err.value.code == "db_missing"
    assert not path.exists()


def test_corrupt_sqlite_file_is_reported(tmp_path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is a spreadsheet, not a database" * 100)
    with pytest.raises(StoreError) as err:
        make_engine(f"sqlite:///{path}")
    assert err.value.code == "db_corrupt"


def test_damaged_sqlite_pages_are_reported(tmp_path) -> None:
    path = tmp_path / "damaged.db"
    engine = make_engine(f"sqlite:///{path}", create=True)
    store.upgrade(engine)
    engine.dispose()
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\xff" * (4096 - 100)  # keep the header, wreck the schema page
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreError) as err:
        store.check_schema(make_engine(f"sqlite:///{path}"))
    assert err.value.code == "db_corrupt"


def _tiny(engine) -> None:
    """Two households in one village, three months, written through the bulk path."""
    with engine.begin() as conn:
        sio.bulk_insert(
            conn,
            S.regions,
            {
                "region_code": ["990101000000", "990101001000", "990101001001"],
                "level": ["county", "township", "village"],
                "parent_code": [None, "990101000000", "990101001000"],
                "name": ["清溪县", "石桥镇", "龙坪村"],
            },
        )
        sio.bulk_insert(
            conn,
            S.households,
            {
                "household_id": np.array(["99010100100100001", "99010100100100002"], dtype=object),
                "village_code": ["990101001001"] * 2,
                "township_code": ["990101001000"] * 2,
                "household_type": ["former_poor", "ordinary"],
                "size": np.array([3, 1]),
                "relocated": np.array([False, True]),
                "no_labour_guarantee": np.array([False, True]),
                "in_cooperative": np.array([True, False]),
                **{c: np.array([1, 0]) for c in ("n_labour", "n_weak_labour", "n_elderly", "n_children", "n_chronic", "n_serious", "n_disabled", "n_students", "n_uninsured")},
            },
        )
        for k, period in enumerate([202401, 202402, 202501]):
            sio.bulk_insert(
                conn,
                S.panel,
                {
                    "household_id": np.array(["99010100100100001", "99010100100100002"], dtype=object),
                    "period": np.array([period, period]),
                    "income_net": np.array([30000.0 + k, 6000.5]),
                    "income_pc": np.array([10000.0 + k, 6000.5]),
                    "medical_oop": np.array([1234.5, np.nan]),
                    "housing_grade": np.array([0, 3]),
                    "water_safe": np.array([True, False]),
                    "dibao": np.array([False, True]),
                    "tekun": np.array([False, False]),
                    "job_lost": np.array([True, False]),
                    **{c: np.zeros(2) for c in ("income_wage", "income_business", "income_property", "income_transfer", "business_cost", "schooling_cost", "debt", "disaster_loss", "months_worked", "benefits")},
                },
            )
        sio.bump_data_version(conn)


def test_round_trip_snapshot(db_url: str) -> None:
    engine = make_engine(db_url, create=True)
    store.upgrade(engine)
    _tiny(engine)
    assert store.periods(engine) == [202401, 202402, 202501]
    f = store.load_snapshot(engine, 202501, use_cache=False)
    assert list(f["household_id"]) == ["99010100100100001", "99010100100100002"]
    assert f["income_pc"].tolist() == [10002.0, 6000.5]
    assert f["income_pc_12m_ago"].tolist() == [10000.0, 6000.5]  # 202401
    assert f["housing_grade"].tolist() == [0, 3]
    assert f["water_safe"].tolist() == [True, False]
    assert f["job_lost"].tolist() == [True, False]
    assert f["relocated"].tolist() == [False, True]
    assert f["size"].tolist() == [3, 1]
    assert f["township_code"].tolist() == ["990101001000"] * 2
    # a month with no month a year before
    g = store.load_snapshot(engine, 202402, use_cache=False)
    assert g["income_pc_12m_ago"].isna().all()
    # NULL medical_oop violates NOT NULL? It has a default; NaN becomes NULL only where allowed.
    assert f["medical_oop"].tolist()[0] == 1234.5


def test_snapshot_cache_follows_data_version(db_url: str) -> None:
    engine = make_engine(db_url, create=True)
    store.upgrade(engine)
    _tiny(engine)
    first = store.load_snapshot(engine, 202501)
    again = store.load_snapshot(engine, 202501)
    pd.testing.assert_frame_equal(first, again)
    with engine.begin() as conn:
        conn.execute(S.panel.update().where(S.panel.c.period == 202501).values(income_pc=1.0))
        sio.bump_data_version(conn)
    fresh = store.load_snapshot(engine, 202501)
    assert fresh["income_pc"].tolist() == [1.0, 1.0]


def test_shift_period() -> None:
    assert sio.shift_period(202501, -12) == 202401
    assert sio.shift_period(202501, -1) == 202412
    assert sio.shift_period(202412, 1) == 202501
    assert sio.shift_period(202306, 30) == 202512


def test_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANPIN_DB_URL", "sqlite:////tmp/somewhere.db")
    assert store.default_url() == "sqlite:////tmp/somewhere.db"
    monkeypatch.delenv("FANPIN_DB_URL")
    assert store.default_url().endswith("data/fanpin.db")


def test_opening_the_database_again_keeps_another_process_off_the_live_wal(tmp_path) -> None:
    """A second ``make_engine`` in a process that has the database open must not drop that
    process's SQLite locks (a Python open/close of the file does): otherwise another process,
    closing its last connection, thinks it is alone and deletes the live ``-wal``/``-shm``."""
    import subprocess
    import sys

    from sqlalchemy import text

    path = tmp_path / "shared.db"
    url = f"sqlite:///{path}"
    first = make_engine(url, create=True)
    store.upgrade(first)
    conn = first.connect()  # this process keeps the database open, in WAL mode
    conn.execute(text("CREATE TABLE t (x INTEGER)"))
    conn.execute(text("INSERT INTO t VALUES (1)"))
    conn.commit()
    assert (tmp_path / "shared.db-wal").exists()
    make_engine(url)  # the app makes an engine again (a cache cleared, another page)
    other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('select count(*) from t').fetchone(); c.close()"
    subprocess.run([sys.executable, "-c", other, str(path)], check=True)
    try:
        assert (tmp_path / "shared.db-wal").exists(), "the other process deleted the WAL under an open connection"
        conn.execute(text("INSERT INTO t VALUES (2)"))
        conn.commit()
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2
    finally:
        conn.close()
        first.dispose()
