"""Issue 18 item 6 in a real browser: a case worker of one township sees a map of that township.

The title names the township (not the county), the legend's classes are distinct ranges, the deck
draws one township and the township table lists only theirs.
"""

from __future__ import annotations

import re

from .conftest import ensure_user, errors_on_page, login, screenshot, wait_ready

CASE_WORKER = ("browser_cw_one", "browser-cw-one-pass")


def test_a_one_township_case_worker_sees_their_township(browser, app_server, small_demo) -> None:
    from fanpin.store.regions import load_regions

    engine, _ = small_demo
    regions = load_regions(engine)
    towns = regions[regions["level"] == "township"].sort_values("region_code")
    code, name = towns["region_code"].iloc[2], towns["name"].iloc[2]
    county = regions.loc[regions["level"] == "county", "name"].iloc[0]
    ensure_user(engine.url.render_as_string(hide_password=False), *CASE_WORKER[:1], "case_worker", CASE_WORKER[1], townships=[code])
    context = browser.new_context(viewport={"width": 1366, "height": 1000}, locale="zh-CN")
    pg = context.new_page()
    try:
        pg.goto(f"{app_server}/map")
        wait_ready(pg)
        login(pg, *CASE_WORKER)
        if "/map" not in pg.url:  # a case worker lands on 我的待办 after login
            pg.goto(f"{app_server}/map")
            wait_ready(pg)
        pg.wait_for_selector('[data-testid="stMain"] canvas', timeout=60_000)
        screenshot(pg, "map_one_township_case_worker")
        assert errors_on_page(pg) == []
        title = pg.locator('[data-testid="stMain"] h1').first.inner_text()
        assert name in title and county not in title, title
        # the legend: five fill classes, each a different range
        legend = pg.locator('[data-testid="stMain"] [data-testid="stHtml"]').first.inner_text()
        classes = [line.strip() for line in legend.splitlines() if re.search(r"\d", line)][:5]
        assert len(classes) == 5 and len(set(classes)) == 5, legend
        # the township table (first data frame): one row, their township
        grid = pg.locator('[data-testid="stDataFrame"]').first
        grid.wait_for(timeout=30_000)
        rows = int(grid.locator('[role="grid"], [role="table"]').first.get_attribute("aria-rowcount") or 0)
        assert rows == 2, rows  # the header and their township
        cells = grid.locator('[role="gridcell"]').all_inner_texts() or grid.locator("td").all_inner_texts()
        assert code in cells or name in cells, cells
    finally:
        context.close()
