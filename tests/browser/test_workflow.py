"""预警处置 and 监测台账 in a real browser: tick a clue in the inbox grid, dispatch an order, see it listed.

Runs its own server on a copy of the small demo county, so the shared one keeps no orders.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fanpin import store
from fanpin.access.roles import SYSTEM
from fanpin.workflow import orders as orders_mod
from tests.conftest import copy_sqlite

from .conftest import (
    ADMIN,
    Recorder,
    auto_login,
    ensure_user,
    errors_on_page,
    running_app,
    screenshot,
    wait_ready,
)


@pytest.fixture(scope="module")
def wf_server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    engine, _ = small_demo
    path = tmp_path_factory.mktemp("wf-browser") / "wf.db"
    url = copy_sqlite(engine, path)
    ensure_user(url, ADMIN[0], "admin", ADMIN[1])
    with running_app(url, path.parent) as base:
        yield base, url


def test_dispatch_an_order_from_a_ticked_clue(browser, wf_server) -> None:
    base, url = wf_server
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
    pg = context.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    auto_login(pg, *ADMIN)
    try:
        pg.goto(f"{base}/clues")
        wait_ready(pg)
        assert errors_on_page(pg) == []
        grid = pg.locator('[data-testid="stDataFrame"]').first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        pg.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the first row's selection box
        wait_ready(pg)
        pg.get_by_text("已选线索：").first.wait_for(timeout=10_000)
        assert "—" not in pg.get_by_text("已选线索：").first.inner_text()
        pg.get_by_role("button", name="建立工单").click()
        wait_ready(pg)
        pg.locator('[data-testid="stAlert"]').filter(has_text="已建立工单").first.wait_for(timeout=15_000)
        engine = store.make_engine(url)
        orders = orders_mod.list_orders(engine, principal=SYSTEM)
        engine.dispose()
        assert len(orders) == 1 and orders["n_clues"].iloc[0] == 1
        pg.get_by_role("tab", name="核查工单").click()
        wait_ready(pg)
        # the order's household is on the tab (waited for: on a busy machine the rerun after the
        # dispatch may still be drawing the tab when it is clicked)
        pg.get_by_text(str(orders["household_id"].iloc[0])).first.wait_for(state="attached", timeout=20_000)
        assert pg.get_by_text(str(orders["household_id"].iloc[0])).count() >= 1
        screenshot(pg, "clues_orders")
        pg.goto(f"{base}/register")
        wait_ready(pg)
        assert errors_on_page(pg) == []
        screenshot(pg, "register")
        assert rec.external() == []
    finally:
        context.close()
