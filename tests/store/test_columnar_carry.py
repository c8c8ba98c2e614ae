"""The columnar copy of a new data version keeps what the write left alone: the same frames as SQL,
with SQL read only for the months (and the household file) the write changed."""

from __future__ import annotations

import pandas as pd
import pytest

from fanpin import store
from fanpin.core.periods import shift
from fanpin.store import columnar
from fanpin.store import io as sio
from fanpin.store import schema as S
from tests.conftest import copy_sqlite


@pytest.fixture
def county(small_demo, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A private copy of the small demo county with every month's copy written."""
    monkeypatch.setenv("FANPIN_CACHE_DIR", str(tmp_path / "cache"))
    engine = store.make_engine(copy_sqlite(small_demo[0], tmp_path / "county.db"))
    columnar.write_copies(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sql_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The months read from SQL from now on."""
    seen: list[int] = []
    real = columnar._month_from_sql

    def spy(engine, period, table_ids):
        seen.append(int(period))
        return real(engine, period, table_ids)

    monkeypatch.setattr(columnar, "_month_from_sql", spy)
    return seen


def same_as_sql(engine) -> None:
    months = store.periods(engine)
    copied = store.load_snapshots(engine, months)
    from_sql = store.load_snapshots(engine, months, use_cache=False)
    for p in months:
        pd.testing.assert_frame_equal(copied[p], from_sql[p])


def test_a_write_that_touches_no_copied_table_reads_no_month(county, sql_reads) -> None:
    with county.begin() as conn:
        sio.bump_data_version(conn, changed=())  # e.g. a province's income line, or clues
    assert columnar.write_copies(county) == len(store.periods(county))
    assert sql_reads == []
    assert columnar.missing_copies(county) == []
    same_as_sql(county)


def test_an_import_of_one_month_reads_that_month_and_the_one_a_year_later(county, sql_reads) -> None:
    months = store.periods(county)
    changed = months[1]
    with county.begin() as conn:
        conn.execute(S.panel.update().where(S.panel.c.period == changed).values(income_pc=S.panel.c.income_pc + 1.0))
        sio.bump_data_version(conn, changed=["panel"], periods=[changed])
    columnar.write_copies(county)
    assert sorted(sql_reads) == sorted(p for p in months if p == changed or shift(p, -12) == changed)
    same_as_sql(county)


def test_new_households_renumber_the_carried_months(county, sql_reads) -> None:
    months = store.periods(county)
    with county.connect() as conn:
        first = conn.execute(S.households.select().order_by(S.households.c.household_id).limit(1)).mappings().one()
    new_id = "0" * len(first["household_id"])  # sorts first: every carried row moves by one
    with county.begin() as conn:
        conn.execute(S.households.insert().values({**first, "household_id": new_id}))
        sio.bump_data_version(conn, changed=["households"])
    columnar.write_copies(county)
    assert sql_reads == []
    table = columnar.household_table(county)
    assert table["household_id"][0] == new_id
    same_as_sql(county)
    assert len(store.load_snapshot(county, months[-1])) == len(store.load_snapshot(county, months[-1], use_cache=False))


def test_a_page_asking_for_a_month_first_gets_it_carried_too(county, sql_reads) -> None:
    with county.begin() as conn:
        sio.bump_data_version(conn, changed=())
    last = store.periods(county)[-1]
    store.load_snapshot(county, last)
    assert sql_reads == []
    assert columnar.month_path(county, last, store.data_version(county)).exists()


def test_a_write_that_says_nothing_reads_every_month_again(county, sql_reads) -> None:
    with county.begin() as conn:
        sio.bump_data_version(conn)
    columnar.write_copies(county)
    assert sorted(sql_reads) == store.periods(county)
    same_as_sql(county)
