"""One picture of the month in a real browser (issue 18 items 1 and 8): a bureau leader adopts a
scenario at another income line; the overview, the simulator's baseline and the map then show
one line and one red count, and the monthly brief, made in the background while the page stays
usable, says the same.  Runs its own server on a copy of the small demo county."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import pytest
from docx import Document

from fanpin import store
from fanpin.access.roles import Principal
from fanpin.core import fmt
from fanpin.engine.policies import save_policy, stored_lines
from fanpin.engine.scoring import RiskPolicy
from tests.conftest import copy_sqlite

from .conftest import Recorder, ensure_user, errors_on_page, login, screenshot, wait_ready

PASSWORD = "month-pass-2026"
SCENARIO = "收入线下调500"


@pytest.fixture(scope="module")
def server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, float]]:
    from .conftest import running_app

    engine, _ = small_demo
    path = tmp_path_factory.mktemp("month") / "month.db"
    url = copy_sqlite(engine, path)
    eng = store.make_engine(url)
    period = store.periods(eng)[-1]
    line = stored_lines(eng).stored_at(period) - 500.0
    save_policy(eng, replace(RiskPolicy.default(), income_line=line, line_year=period // 100), SCENARIO, principal=Principal("ana", "analyst"))
    eng.dispose()
    ensure_user(url, "leader_m", "leader", PASSWORD)
    with running_app(url, path.parent) as base:
        yield base, url, line


def _metric(pg, label: str) -> str:
    m = pg.locator('[data-testid="stMetric"]').filter(has=pg.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return m.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_after_adopting_every_page_and_the_brief_show_one_month(browser, server) -> None:
    base, _url, line = server
    shown_line = fmt.yuan(line, "zh")
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN", accept_downloads=True)
    pg = ctx.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    try:
        pg.goto(f"{base}/simulator")
        wait_ready(pg)
        login(pg, "leader_m", PASSWORD)
        pg.goto(f"{base}/simulator")
        wait_ready(pg)
        pg.get_by_role("tab", name="采纳为基准").click()
        wait_ready(pg)
        box = pg.locator('[data-testid="stSelectbox"]').filter(has_text="要采纳的方案").first
        box.click()
        pg.locator('[role="option"]').filter(has_text=SCENARIO).first.click()
        wait_ready(pg)
        pg.get_by_text("我确认：采纳后").click()
        wait_ready(pg)
        pg.get_by_role("button", name="采纳为基准方案").click()
        wait_ready(pg)
        assert errors_on_page(pg) == []
        pg.locator('[data-testid="stAlert"]').filter(has_text=SCENARIO).first.wait_for(timeout=20_000)
        # the overview
        pg.goto(f"{base}/")
        wait_ready(pg)
        red = _metric(pg, "红色")
        assert pg.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').filter(has_text=shown_line).count() >= 1
        # the simulator's baseline: the same line in the box, the same red count
        pg.goto(f"{base}/simulator")
        wait_ready(pg)
        assert _metric(pg, "红色") == red
        assert pg.get_by_text(shown_line).count() >= 1
        # the map: the same line
        pg.goto(f"{base}/map")
        wait_ready(pg)
        assert errors_on_page(pg) == [] and pg.get_by_text(shown_line).count() >= 1
        # the brief, made in the background: the page goes on, the brief says the same
        pg.goto(f"{base}/")
        wait_ready(pg)
        pg.get_by_role("button", name="生成月报").click()
        pg.locator('[data-testid="stProgress"]').first.wait_for(timeout=20_000)
        assert "月度简报正在后台进行" in pg.locator('[data-testid="stProgress"]').first.inner_text() or pg.get_by_text("月度简报正在后台进行").count()
        assert _metric(pg, "红色") == red  # the page is usable while the brief is made
        screenshot(pg, "brief_running")
        download = pg.get_by_role("button", name="下载月报 (Word)")
        download.wait_for(timeout=180_000)
        with pg.expect_download() as got:
            download.click()
        text = "\n".join(p.text for p in Document(io.BytesIO(open(got.value.path(), "rb").read())).paragraphs)
        assert f"{line:,.0f}" in text  # the brief's line is the adopted scenario's
        assert f"其中红色 {red} 户" in text  # and its red count the overview's
        assert rec.external() == []
    finally:
        ctx.close()
