"""Issue 18 item 5 in a real browser: the overview filtered to a township.

Seen before the fix: filtering the overview to a township left the order figures and the brief
county-wide.  Now every figure on the filtered page follows the filter, and the brief made from
the filtered page is the township's.  A leader clicks a township in the overview's table; the
tier counts and the verification-order figures are then that township's (computed here by the
domain functions, and different from the county's), and the downloaded .docx is the township's
brief (its title, scope, headline and orders).  Runs its own server on a copy of the small demo
county with orders added in two townships.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from docx import Document

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.core import fmt
from fanpin.engine.policies import baseline_policy, stored_lines
from fanpin.engine.summary import month_summary, township_table
from fanpin.engine.trends import score_panel
from fanpin.report.brief import compute_brief
from fanpin.report.document import headline_text, order_text
from fanpin.workflow.common import as_of_date
from fanpin.workflow.orders import closed_loop, create_order
from tests.conftest import copy_sqlite

from .conftest import Recorder, ensure_user, errors_on_page, login, screenshot, wait_ready

LEADER = ("leader_town", "leader-town-pass-2026")
ORDERS = (3, 5)  # orders in the picked township and in another
OVERDUE = (1, 5)  # of which created long enough before the month's end to be overdue


@pytest.fixture(scope="module")
def server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The server, and what the domain says of the township the test will click (the table's
    first row) and of the county."""
    from .conftest import running_app

    engine, spec = small_demo
    path = tmp_path_factory.mktemp("township") / "township.db"
    url = copy_sqlite(engine, path)
    eng = store.make_engine(url)
    period = store.periods(eng)[-1]
    ps = score_panel(store.load_snapshots(eng, store.periods(eng)), baseline_policy(eng, period), stored_lines(eng))
    table = township_table(ps, period)
    code, other = str(table["township_code"].iloc[0]), str(table["township_code"].iloc[3])
    as_of = as_of_date(period)
    snap = store.load_snapshot(eng, period)
    for town, n, late in ((code, ORDERS[0], OVERDUE[0]), (other, ORDERS[1], OVERDUE[1])):
        for i, h in enumerate(snap.loc[snap["township_code"] == town, "household_id"].iloc[:n]):
            days = 40 if i < late else 2  # due 15 days after creation: overdue at the month's end, or not yet
            create_order(eng, assignee_kind="township", assignee=town, principal=SYSTEM, household_id=h,
                         now=datetime.combine(as_of, datetime.min.time()) - timedelta(days=days))
    leader = Principal(LEADER[0], "leader")
    expected = {
        "period": period, "code": code,
        "town": month_summary(ps, period, code), "county": month_summary(ps, period, None),
        "town_loop": closed_loop(eng, as_of, principal=leader, township=code), "county_loop": closed_loop(eng, as_of, principal=leader),
        "brief": compute_brief(eng, period, principal=leader, ps=ps, model=None, township=code),
        "county_brief": compute_brief(eng, period, principal=leader, ps=ps, model=None),
    }
    eng.dispose()
    ensure_user(url, LEADER[0], "leader", LEADER[1])
    with running_app(url, path.parent) as base:
        yield {"base": base, **expected}


def _metric(pg, label: str) -> str:
    m = pg.locator('[data-testid="stMetric"]').filter(has=pg.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return m.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _figures(pg) -> dict[str, str]:
    return {k: _metric(pg, k) for k in ("户数", "红色", "黄色", "核查工单", "已研判", "超期工单（占比）")}


def _expected(s, loop) -> dict[str, str]:
    return {
        "户数": fmt.count(s.households, "zh"), "红色": fmt.count(s.counts["red"], "zh"), "黄色": fmt.count(s.counts["yellow"], "zh"),
        "核查工单": fmt.count(loop.orders, "zh"), "已研判": fmt.count(loop.decided, "zh"),
        "超期工单（占比）": f"{fmt.count(loop.overdue, 'zh')} ({fmt.pct(loop.overdue_share)})",
    }


def test_every_figure_and_the_brief_follow_the_township_filter(browser, server) -> None:
    base, code, brief = server["base"], server["code"], server["brief"]
    town, county = _expected(server["town"], server["town_loop"]), _expected(server["county"], server["county_loop"])
    assert server["town_loop"].orders == ORDERS[0] and server["county_loop"].orders == sum(ORDERS)
    assert all(town[k] != county[k] for k in ("户数", "红色", "核查工单", "超期工单（占比）")), (town, county)
    name = brief.name(code, "zh")
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN", accept_downloads=True)
    pg = ctx.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    try:
        pg.goto(f"{base}/")
        wait_ready(pg)
        login(pg, *LEADER)
        pg.goto(f"{base}/")
        wait_ready(pg)
        assert _figures(pg) == county
        # a click on the township's row (the first) in the township table filters the page
        grid = pg.locator('[data-testid="stDataFrame"]').first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        pg.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the row-selection column of the first data row
        pg.locator('[data-testid="stAlert"]').filter(has_text="已筛选").first.wait_for(timeout=30_000)
        wait_ready(pg)
        assert errors_on_page(pg) == []
        assert name in pg.locator('[data-testid="stMain"] h1').first.inner_text()
        assert _figures(pg) == town
        screenshot(pg, "overview_township_filtered")
        # the brief from the filtered page: the township's
        pg.get_by_role("button", name="生成月报").click()
        download = pg.get_by_role("button", name="下载月报 (Word)")
        download.wait_for(timeout=120_000)
        assert _figures(pg) == town  # still filtered after the brief
        with pg.expect_download() as got:
            download.click()
        assert code in got.value.suggested_filename
        doc = Document(io.BytesIO(open(got.value.path(), "rb").read()))
        paragraphs = [p.text for p in doc.paragraphs]
        text = "\n".join(paragraphs)
        assert doc.core_properties.title == paragraphs[0] and name in paragraphs[0], paragraphs[0]
        assert order_text(brief, "zh") in text  # the township's orders (3, 1 overdue) ...
        assert order_text(server["county_brief"], "zh") not in text  # ... not the county's (8, 6 overdue)
        s = server["town"]  # the headline: the township's households and tiers, as on the filtered page
        assert f"纳入风险评分的农户共 {fmt.count(s.households, 'zh')} 户。其中红色 {fmt.count(s.counts['red'], 'zh')} 户" in text
        assert headline_text(brief, "zh") in text
        assert rec.external() == []
    finally:
        ctx.close()
