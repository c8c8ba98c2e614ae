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
ADMIN = ("browser_pv_admin", "browser-pv-admin-pass")


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
    users.add_user(engine, ADMIN[0], "admin", ADMIN[1], principal=SYSTEM)
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


def test_an_administrator_keeps_a_gis_export_of_the_counties(browser, province_server, tmp_path) -> None:
    """The admin page's 分析库边界 tab: a GB18030 export with 6-digit codes is kept (audited); one with a
    county of another province is refused in Chinese and changes nothing."""
    import json

    base, store, url = province_server
    before = store.read_boundaries("county")
    feats = [{"type": "Feature", "properties": {"区划代码": f["properties"]["region_code"][:6], "name": f["properties"]["name"]},
              "geometry": f["geometry"]} for f in before["features"]]
    good, bad = tmp_path / "counties.geojson", tmp_path / "other.geojson"
    good.write_bytes(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False).encode("gb18030"))
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [{**feats[0], "properties": {"code": "430101"}}]}))
    context = browser.new_context(viewport={"width": 1366, "height": 1000}, locale="zh-CN")
    pg = context.new_page()
    try:
        pg.goto(f"{base}/admin")
        wait_ready(pg)
        login(pg, *ADMIN)
        if "/admin" not in pg.url:
            pg.goto(f"{base}/admin")
            wait_ready(pg)
        pg.get_by_role("tab", name="分析库边界").click()
        wait_ready(pg)
        for path, expect in ((bad, "未采用边界文件"), (good, "已保存 3 个县的边界")):
            pg.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(str(path))
            wait_ready(pg)
            pg.get_by_role("button", name="检查并保存").click()
            pg.get_by_text(expect).first.wait_for(timeout=60_000)
            if path is bad:
                assert "430101" in pg.locator('[data-testid="stAlert"]').first.inner_text()
                assert store.read_boundaries("county") == before  # nothing changed
        kept = store.read_boundaries("county")
        assert [f["properties"]["region_code"] for f in kept["features"]] == [f["properties"]["region_code"] for f in before["features"]]
        assert errors_on_page(pg) == []
        from fanpin import store as db
        from fanpin.access.audit import audit_query
        from fanpin.access.roles import SYSTEM

        engine = db.make_engine(url)
        log, n = audit_query(engine, principal=SYSTEM, action="boundaries")
        engine.dispose()
        assert n == 1 and log["actor"].tolist() == [ADMIN[0]] and log["target"].tolist() == ["county"]
    finally:
        context.close()
