"""The township boundaries as the map and the brief read them: a stored geometry that cannot be one
(written before imports checked boundaries, or behind their back) is skipped with a warning,
never a RecursionError or JSONDecodeError (issue 17).  On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select, update

from fanpin import store
from fanpin.store import schema as S
from fanpin.store.regions import township_geojson
from tests.conftest import insert_tiny_regions

T1, T2 = "990101001000", "990101002000"
SQUARE = {"type": "Polygon", "coordinates": [[[106.0, 26.0], [106.1, 26.0], [106.1, 26.1], [106.0, 26.1], [106.0, 26.0]]]}


@pytest.fixture
def eng(db_url: str):
    engine = store.make_engine(db_url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("broken", [
    "[" * 100_000 + "]" * 100_000,  # json.loads: RecursionError
    '{"type": "Polygon", "coordinates": ' + "[" * 600 + "]" * 600 + "}",  # JSON, but shapely recurses
    "{not json",
    '{"type": "Point", "coordinates": [106, 26]}',
    '{"type": "Polygon", "coordinates": [[1]]}',
    '{"type": "Polygon"}',
    "[]",
])
def test_a_broken_stored_boundary_is_skipped_with_a_warning(eng, broken: str, caplog: pytest.LogCaptureFixture) -> None:
    with eng.begin() as conn:
        conn.execute(update(S.regions).where(S.regions.c.region_code == T1).values(geometry=json.dumps(SQUARE)))
        conn.execute(update(S.regions).where(S.regions.c.region_code == T2).values(geometry=broken))
    with caplog.at_level(logging.WARNING, logger="fanpin.store.regions"):
        fc = township_geojson(eng)
    assert {f["id"]: f["geometry"] for f in fc["features"]} == {T1: SQUARE, T2: None}
    assert len(caplog.records) == 1 and caplog.records[0].getMessage().startswith(f"region {T2}: stored geometry skipped (")


def test_the_brief_draws_its_hot_spots_without_the_broken_township(small_demo, tmp_path) -> None:
    """The monthly brief reads the same boundaries: a broken one is left out of the hot spots."""
    from datetime import date

    from fanpin.access.roles import Principal
    from fanpin.report.brief import compute_brief
    from tests.conftest import copy_sqlite

    engine, spec = small_demo
    eng = store.make_engine(copy_sqlite(engine, tmp_path / "b.db"))
    with eng.begin() as conn:
        town = conn.execute(select(S.regions.c.region_code).where(S.regions.c.level == "township").order_by(S.regions.c.region_code)).first()[0]
        conn.execute(update(S.regions).where(S.regions.c.region_code == town).values(geometry="[" * 100_000))
    b = compute_brief(eng, spec.periods[-1], principal=Principal("ld", "leader"), today=date(2026, 1, 15), model=None)
    spots = b.townships.set_index("township_code")["hotspot"]
    assert b.hotspots_note is None and spots[town] == "no_data" and (spots.drop(town) != "no_data").all()
    eng.dispose()
