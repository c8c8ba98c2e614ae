"""The rules' roster reads kept per data version give the frames SQL gives, and follow a new version."""

from __future__ import annotations

import pandas as pd
import pytest

from fanpin import store
from fanpin.store import io as sio
from fanpin.store import quality as Q
from fanpin.store import schema as S
from tests.conftest import copy_sqlite


@pytest.fixture
def county(small_demo, tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FANPIN_CACHE_DIR", str(tmp_path / "cache"))
    engine = store.make_engine(copy_sqlite(small_demo[0], tmp_path / "county.db"))
    yield engine
    engine.dispose()


def _from_sql(conn, table, columns) -> pd.DataFrame:
    return Q._frame(conn, Q._pick(table, columns), columns)


def test_kept_rosters_equal_sql_and_follow_the_data_version(county) -> None:
    with county.connect() as conn:
        for read, table, cols in ((Q.member_rows, S.members, Q.MEMBER_COLUMNS), (Q.household_rows, S.households, Q.HOUSEHOLD_COLUMNS)):
            expected = _from_sql(conn, table, cols)
            pd.testing.assert_frame_equal(read(conn), expected)  # read through SQL, file written
            pd.testing.assert_frame_equal(read(conn), expected)  # from the file
    with county.connect() as conn:
        first = Q.member_rows(conn)["household_id"].iloc[0]
    with county.begin() as conn:
        conn.execute(S.members.update().where(S.members.c.household_id == first).values(deceased_period=202301))
        sio.bump_data_version(conn)
    with county.connect() as conn:
        got = Q.member_rows(conn)
        pd.testing.assert_frame_equal(got, _from_sql(conn, S.members, Q.MEMBER_COLUMNS))
    assert (got.loc[got["household_id"] == first, "deceased_period"] == 202301).all()


def test_a_write_of_neither_table_carries_the_rosters_over(county, monkeypatch: pytest.MonkeyPatch) -> None:
    with county.connect() as conn:
        expected = Q.member_rows(conn)
    with county.begin() as conn:
        sio.bump_data_version(conn, changed=["panel"], periods=[202301])
    monkeypatch.setattr(Q, "_frame", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read from SQL")))
    with county.connect() as conn:
        pd.testing.assert_frame_equal(Q.member_rows(conn), expected)
