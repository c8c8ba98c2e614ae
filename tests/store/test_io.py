"""The columnar copy: the same frames as SQL, one month at a time, only the columns asked for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fanpin import store
from fanpin.store import columnar
from fanpin.store import io as sio
from fanpin.store import schema as S
from tests.conftest import copy_sqlite


@pytest.fixture
def county(small_demo, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A private copy of the small demo county with its own, empty copy directory."""
    monkeypatch.setenv("FANPIN_CACHE_DIR", str(tmp_path / "cache"))
    engine = store.make_engine(copy_sqlite(small_demo[0], tmp_path / "county.db"))
    yield engine
    engine.dispose()


def test_a_month_from_its_copy_equals_the_month_from_sql(county) -> None:
    period = store.periods(county)[-1]
    from_sql = store.load_snapshot(county, period, use_cache=False)
    assert not columnar.month_path(county, period, store.data_version(county)).exists()
    first = store.load_snapshot(county, period)  # reads SQL once and writes the copy
    assert columnar.month_path(county, period, store.data_version(county)).exists()
    again = store.load_snapshot(county, period)
    pd.testing.assert_frame_equal(from_sql, first)
    pd.testing.assert_frame_equal(from_sql, again)
    assert list(from_sql["household_id"]) == sorted(from_sql["household_id"])
    assert again.attrs["period"] == period


def test_write_copies_writes_every_month_once(county) -> None:
    months = store.periods(county)
    progress: list[tuple[int, int]] = []
    assert columnar.write_copies(county, progress=lambda done, total: progress.append((done, total))) == len(months)
    assert progress[-1] == (len(months), len(months))
    assert columnar.missing_copies(county) == []
    assert columnar.write_copies(county) == 0
    assert sio.warm_cache(county) == 0


def test_a_write_makes_new_copies(county) -> None:
    period = store.periods(county)[-1]
    store.load_snapshot(county, period)
    old = store.data_version(county)
    with county.begin() as conn:
        conn.execute(S.panel.update().where(S.panel.c.period == period).values(income_pc=1.0))
        sio.bump_data_version(conn)
    assert columnar.missing_copies(county) == store.periods(county)
    assert (store.load_snapshot(county, period)["income_pc"] == 1.0).all()
    assert not columnar.month_path(county, period, old).exists()  # the old version's file is gone


def test_month_values_reads_only_the_columns_asked_for(county) -> None:
    period = store.periods(county)[-1]
    whole = store.load_snapshot(county, period)
    month = columnar.month_values(county, period, ["income_pc", "income_pc_12m_ago"])
    assert set(month.values) == {"income_pc", "income_pc_12m_ago"}
    table = columnar.household_table(county)
    assert list(table["household_id"][month.rows]) == list(whole["household_id"])
    np.testing.assert_array_equal(month.values["income_pc"], whole["income_pc"].to_numpy())
    np.testing.assert_array_equal(month.values["income_pc_12m_ago"], whole["income_pc_12m_ago"].to_numpy())


def test_household_count_is_a_count(county) -> None:
    period = store.periods(county)[-1]
    frame = store.load_snapshot(county, period)
    assert columnar.month_household_count(county, period) == len(frame)
    town = sorted(frame["township_code"].unique())[0]
    assert columnar.month_household_count(county, period, [town]) == int((frame["township_code"] == town).sum())
    assert columnar.month_household_count(county, period, []) == 0
