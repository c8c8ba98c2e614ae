"""The validation lookups read the same rows whether they look keys up in IN lists or scan the
table (``fanpin.store.imports._scan_instead``: many keys of a text column, a table not much larger)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert

from fanpin import store
from fanpin.store import imports as I
from fanpin.store import schema as S
from fanpin.store.engine import make_engine
from tests.conftest import insert_tiny_regions


@pytest.fixture
def county(db_url: str):
    engine = make_engine(db_url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
        conn.execute(insert(S.households), [
            {"household_id": f"H{i:04d}", "village_code": "990101001001", "township_code": "990101001000", "household_type": "general",
             "size": i % 5 + 1}
            for i in range(60)
        ])
        conn.execute(insert(S.members), [
            {"household_id": f"H{i // 3:04d}", "id_number": f"ID{i:05d}", "name": "某", "sex": "F", "birth_date": date(1980, 1, 1),
             "relation": "head" if i % 3 == 0 else "child", "labour_capacity": "none",
             "disability": i % 4, "deceased_period": 202401 if i % 7 == 0 else None}
            for i in range(150)
        ])
    return engine


@pytest.mark.parametrize("scan_from", [1, 10**9], ids=["scan", "in-lists"])
def test_lookups_find_the_same_rows_either_way(county, monkeypatch, scan_from: int) -> None:
    monkeypatch.setattr(I, "_SCAN_FROM", scan_from)
    monkeypatch.setattr(I, "_IN_CHUNK", 7)  # several IN lists on the lookup path
    asked = [f"H{i:04d}" for i in range(40, 80)] + [None, float("nan"), "H0041"]
    people = [f"ID{i:05d}" for i in range(0, 300, 2)]
    with county.connect() as conn:
        assert I._scan_instead(conn, S.households, S.households.c.household_id, I._present(asked)) is (scan_from == 1)
        assert I.known_households(conn, asked) == {f"H{i:04d}" for i in range(40, 60)}
        assert I.member_households(conn, people) == {f"ID{i:05d}": f"H{i // 3:04d}" for i in range(0, 150, 2)}
        assert I.member_disability(conn, people) == {f"ID{i:05d}": i % 4 for i in range(0, 150, 2)}
        living = {f"H{h:04d}": sum(1 for i in range(3 * h, 3 * h + 3) if i % 7) for h in range(40, 50)}
        assert I.living_member_counts(conn, [f"H{h:04d}" for h in range(40, 55)] + ["H9999"]) == {h: n for h, n in living.items() if n}
        sizes = I.stored_rows(conn, "households", "household_id", asked, ["size"])
        assert sorted(zip(sizes["household_id"], sizes["size"])) == [(f"H{i:04d}", i % 5 + 1) for i in range(40, 60)]
        none = I.stored_rows(conn, "households", "household_id", ["X1", "X2"], ["size"])
        assert list(none.columns) == ["household_id", "size"] and none.empty


def test_a_large_table_is_looked_up_not_scanned(county, monkeypatch) -> None:
    monkeypatch.setattr(I, "_SCAN_FROM", 1)
    with county.connect() as conn:  # 60 households: 5 keys would read 12 rows per key
        assert not I._scan_instead(conn, S.households, S.households.c.household_id, ["H0001", "H0002", "H0003", "H0004", "H0005"])
        assert I._scan_instead(conn, S.households, S.households.c.household_id, [f"H{i:04d}" for i in range(8)])
        assert not I._scan_instead(conn, S.panel, S.panel.c.period, list(range(100)))  # not a text column
