"""The audit log cannot be rewritten quietly (issue 17, item 4): REPLACE and TRUNCATE are refused,
a separate owner holds the table on PostgreSQL, and a hash chain names the first row rewritten
behind the triggers' back."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import datetime

import pytest
from sqlalchemy import create_engine, exc, text

from fanpin import store
from fanpin.access.audit import record
from fanpin.store.audit import verify_chain
from tests.conftest import PG_URL, _pg_schema_url, backend_url

T0 = datetime(2026, 1, 5, 9, 30)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def eng(request, tmp_path):
    e = store.make_engine(backend_url(request.param, tmp_path), create=True)
    store.upgrade(e)
    yield e
    e.dispose()


def _write(e, n: int = 5) -> None:
    for i in range(n):
        record(e, f"user{i % 2}", "household_view", f"H{i}", {"i": i}, at=T0)


def test_a_fresh_log_chains_and_verifies(eng) -> None:
    _write(eng)
    rep = verify_chain(eng)
    assert rep.intact and rep.rows == 5
    with eng.connect() as c:
        first, second = c.execute(text("SELECT prev_hash, row_hash FROM audit_log ORDER BY audit_id LIMIT 2")).all()
    assert first.prev_hash is None and second.prev_hash == first.row_hash and len(first.row_hash) == 64


def _raw_sqlite(e) -> sqlite3.Connection:
    return sqlite3.connect(e.url.database)


def test_a_row_rewritten_with_raw_sql_is_named(tmp_path) -> None:
    e = store.make_engine(f"sqlite:///{tmp_path / 'a.db'}", create=True)
    store.upgrade(e)
    _write(e)
    con = _raw_sqlite(e)
    con.execute("DROP TRIGGER audit_log_no_update")  # what someone with the file could do
    third = con.execute("SELECT audit_id FROM audit_log ORDER BY audit_id LIMIT 1 OFFSET 2").fetchone()[0]
    con.execute("UPDATE audit_log SET actor = 'nobody' WHERE audit_id = ?", (third,))
    con.commit()
    con.close()
    rep = verify_chain(e)
    assert not rep.intact and rep.first_broken == third and rep.reason == "hash"


def test_a_row_removed_with_raw_sql_breaks_the_link_of_the_next(tmp_path) -> None:
    e = store.make_engine(f"sqlite:///{tmp_path / 'a.db'}", create=True)
    store.upgrade(e)
    _write(e)
    con = _raw_sqlite(e)
    con.execute("DROP TRIGGER audit_log_no_delete")
    ids = [r[0] for r in con.execute("SELECT audit_id FROM audit_log ORDER BY audit_id")]
    con.execute("DELETE FROM audit_log WHERE audit_id = ?", (ids[1],))
    con.commit()
    con.close()
    rep = verify_chain(e)
    assert rep.first_broken == ids[2] and rep.reason == "link"


def test_sqlite_replace_cannot_rewrite_a_row(tmp_path) -> None:
    e = store.make_engine(f"sqlite:///{tmp_path / 'a.db'}", create=True)
    store.upgrade(e)
    _write(e, 2)
    con = _raw_sqlite(e)  # a plain connection: no recursive_triggers, none of fanpin's settings
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("INSERT OR REPLACE INTO audit_log (audit_id, at, actor, action) VALUES (1, '2026-01-01 00:00:00', 'x', 'login')")
    con.close()
    assert verify_chain(e).intact


def test_concurrent_writers_keep_one_chain(eng) -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(10):
                record(eng, f"t{k}", "login", f"x{i}")
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    rep = verify_chain(eng)
    assert rep.intact and rep.rows == 60


@pytest.mark.pg
def test_postgresql_truncate_is_refused(eng) -> None:
    if eng.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    _write(eng, 2)
    with pytest.raises(exc.DBAPIError, match="append-only"), eng.begin() as c:
        c.execute(text("TRUNCATE audit_log"))


@pytest.mark.pg
def test_the_apps_own_postgresql_user_cannot_rewrite_or_unprotect_the_log() -> None:
    """Migrated by a non-superuser that may create roles (how a bureau's app user is set up), the
    table belongs to fanpin_audit_owner: the app's user may read and append, nothing else."""
    if not PG_URL:
        pytest.skip("FANPIN_TEST_PG_URL is not set (CI sets it; see .ci/run)")
    role, schema = f"fanpin_app_{uuid.uuid4().hex[:8]}", f"fanpin_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE ROLE "{role}" LOGIN CREATEROLE'))
        c.execute(text(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"'))
    from sqlalchemy.engine import make_url

    url = _pg_schema_url(schema).replace(f"{make_url(PG_URL).username}@", f"{role}@", 1)
    app = store.make_engine(url)
    try:
        store.upgrade(app)
        _write(app, 3)
        for stmt, why in (
            ("DELETE FROM audit_log", "permission denied"),
            ("UPDATE audit_log SET actor = 'x'", "permission denied"),
            ("TRUNCATE audit_log", "permission denied|append-only"),
            ("DROP TRIGGER audit_log_no_change ON audit_log", "must be owner"),
            ("ALTER TABLE audit_log DISABLE TRIGGER ALL", "must be owner"),
        ):
            with pytest.raises(exc.DBAPIError, match=why), app.begin() as c:
                c.execute(text(stmt))
        assert verify_chain(app).intact and verify_chain(app).rows == 3
    finally:
        app.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            c.execute(text(f'DROP OWNED BY "{role}"'))
            c.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


def test_fanpin_audit_verify_on_the_demo_county_then_after_a_rewrite(small_demo, tmp_path, capsys) -> None:
    from fanpin.cli.main import main
    from tests.conftest import copy_sqlite

    url = copy_sqlite(small_demo[0], tmp_path / "copy.db")
    e = store.make_engine(url)
    record(e, "wang", "login", "wang")
    record(e, "wang", "household_view", "H1")
    n = verify_chain(e).rows
    assert main(["audit", "verify", "--db", url]) == 0
    assert f"{n} 条记录" in capsys.readouterr().out
    con = _raw_sqlite(e)
    con.execute("DROP TRIGGER audit_log_no_update")
    last = con.execute("SELECT max(audit_id) FROM audit_log").fetchone()[0]
    con.execute("UPDATE audit_log SET target = 'H2' WHERE audit_id = ?", (last,))
    con.commit()
    con.close()
    e.dispose()
    assert main(["audit", "verify", "--db", url, "--lang", "en"]) == 1
    assert f"entry {last} no longer matches its hash" in capsys.readouterr().err


def test_rows_written_before_the_chain_are_chained_by_the_migration(tmp_path) -> None:
    e = store.make_engine(f"sqlite:///{tmp_path / 'old.db'}", create=True)
    store.upgrade(e, "0005")
    with e.begin() as c:
        for i in range(3):
            c.execute(text("INSERT INTO audit_log (at, actor, action, target) VALUES (:at, 'old', 'login', 'old')"), {"at": f"2025-01-0{i + 1} 08:00:00.000000"})
    store.upgrade(e)
    rep = verify_chain(e)
    assert rep.intact and rep.rows == 3
    record(e, "new", "login", "new")
    assert verify_chain(e).rows == 4 and verify_chain(e).intact
