"""The province map in a real browser: a province leader sees the counties painted as polygons (no
base map, nothing fetched from outside), and a click on a county opens it (the region picker follows).

A small demo province (3 counties in 2 cities, 500 households each, 4 months) is built into a store of
its own, and the app runs on a server of its own pointed at it (``FANPIN_STORE_DIR``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.demo.province_geography import province_boundaries
from fanpin.store.snapshot import SnapshotStore
from tests.conftest import copy_sqlite

from .conftest import Recorder, errors_on_page, login, running_app, screenshot, wait_ready

SPEC = ProvinceSpec(counties=3, households_per_county=500, months=4, townships=4, villages=8, counties_per_city=2, duplicates=0, seed=5)
LEADER = ("browser_gov", "browser-gov-pass")


@pytest.fixture(scope="module")
def province_server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = SnapshotStore(tmp_path_factory.mktemp("province-browser") / "store")
    build_province(store, SPEC)
    url = copy_sqlite(small_demo[0], tmp_path_factory.mktemp("province-db") / "county.db")  # its own accounts
    from fanpin import store as db
    from fanpin.access import users
    from fanpin.access.roles import SYSTEM

    engine = db.make_engine(url)
    users.add_user(engine, LEADER[0], "province_leader", LEADER[1], region="99", principal=SYSTEM)
    engine.dispose()
    with running_app(url, tmp_path_factory.mktemp("province-server"), env={"FANPIN_STORE_DIR": str(store.root)}) as base:
        yield base, store, url


def test_a_province_leader_clicks_a_county_on_the_map(browser, province_server) -> None:
    from PIL import Image

    province_server = province_server[0]
    names = {f["properties"]["region_code"]: f["properties"]["name"] for fc in province_boundaries(SPEC, townships=False).values()
             for f in fc["features"]}
    context = browser.new_context(viewport={"width": 1366, "height": 1000}, locale="zh-CN")
    pg = context.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    try:
        pg.goto(f"{province_server}/map")
        wait_ready(pg)
        login(pg, *LEADER)
        if "/map" not in pg.url:
            pg.goto(f"{province_server}/map")
            wait_ready(pg)
        canvas = pg.locator('[data-testid="stDeckGlJsonChart"] canvas').first
        canvas.wait_for(timeout=60_000)
        wait_ready(pg)
        assert names["990000000000"] in pg.locator('[data-testid="stMain"] h1').first.inner_text()
        img = Image.open(io.BytesIO(canvas.screenshot())).convert("RGB").resize((120, 120))
        assert len(img.getcolors(120 * 120)) > 20, "the map canvas is blank"
        screenshot(pg, "province_map_leader")
        assert errors_on_page(pg) == [] and rec.external() == []
        box = canvas.bounding_box()
        pg.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the province's middle: one of its counties
        pg.wait_for_function(
            "names => names.some(n => (document.querySelector('[data-testid=\"stMain\"] h1') || {}).innerText?.includes(n))",
            arg=[names[c] for c in ("990101000000", "990102000000", "990201000000")], timeout=60_000)
        wait_ready(pg)
        title = pg.locator('[data-testid="stMain"] h1').first.inner_text()
        county = next(c for c in ("990101000000", "990102000000", "990201000000") if names[c] in title)
        picker = pg.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.inner_html()
        assert names[county] in picker and names["990000000000"] not in picker, picker  # the sidebar's region picker follows the click
        assert errors_on_page(pg) == [] and rec.external() == []
    finally:
        context.close()

