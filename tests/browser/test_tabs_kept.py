"""Issue 18 item 15 in a real browser: 转为线索 on the quality page's details tab stays on that tab.

Runs its own server on a copy of the small demo county (the clues it makes stay there).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import copy_sqlite

from .conftest import ADMIN, auto_login, ensure_user, errors_on_page, running_app, screenshot, wait_ready


@pytest.fixture(scope="module")
def copy_server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("tabs-browser") / "tabs.db"
    url = copy_sqlite(small_demo[0], path)
    ensure_user(url, ADMIN[0], "admin", ADMIN[1])
    with running_app(url, path.parent) as base:
        yield base


def test_turning_findings_into_clues_stays_on_the_details_tab(browser, copy_server) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 1000}, locale="zh-CN")
    pg = context.new_page()
    auto_login(pg, *ADMIN)
    try:
        pg.goto(f"{copy_server}/quality")
        tab = pg.get_by_role("tab", name="明细与转线索")
        tab.click()
        wait_ready(pg)
        assert tab.get_attribute("aria-selected") == "true"
        pg.get_by_role("button", name="当前列表全部").click()
        wait_ready(pg)
        pg.get_by_text("条监督线索").first.wait_for(timeout=30_000)  # the flashed message above the tabs
        screenshot(pg, "quality_after_to_clues")
        assert errors_on_page(pg) == []
        assert pg.get_by_role("tab", name="明细与转线索").get_attribute("aria-selected") == "true"
    finally:
        context.close()
