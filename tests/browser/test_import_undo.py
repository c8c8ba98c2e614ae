"""Issue 18 item 4 in a real browser: a data steward downloads the households template and imports
it back — no household is touched (the example's household ID belongs to the reserved example
county 999999, which no county can have); then imports a file that changes one real household,
sees the changes field by field before applying, applies, rolls the batch back from the page, and
the household is as it was.

Before the fix the template's example row (户编号 99010100100100001) overwrote that household of the
demo county ("更新 1"), with no before/after view and no undo.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.store import schema as S
from tests.conftest import copy_sqlite

from .conftest import Recorder, ensure_user, errors_on_page, login, running_app, screenshot, wait_ready

STEWARD = ("browser_steward", "browser-steward-pass")


@pytest.fixture(scope="module")
def server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server on a private copy of the small demo (the shared one stays untouched)."""
    engine, _ = small_demo
    path = tmp_path_factory.mktemp("import_undo") / "import.db"
    url = copy_sqlite(engine, path)
    ensure_user(url, STEWARD[0], "data_steward", STEWARD[1])
    with running_app(url, path.parent) as base:
        yield base, url


def _query(url: str, stmt):
    eng = store.make_engine(url)
    try:
        with eng.connect() as conn:
            return conn.execute(stmt).fetchall()
    finally:
        eng.dispose()


def _households(url: str) -> str:
    """A digest of the whole household table, row for row."""
    rows = sorted(repr(tuple(str(v) for v in r)) for r in _query(url, select(S.households)))
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _household(url: str, hid: str) -> tuple:
    h = S.households.c
    return tuple(_query(url, select(h.household_type, h.farmland_mu, h.size).where(h.household_id == hid))[0])


def _pick(pg, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    box = pg.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    pg.keyboard.type(option)  # the list is virtual: typing filters it to the option
    pg.locator('[role="option"]').filter(has_text=option).first.click()
    wait_ready(pg)


def _alert(pg, text: str) -> str:
    alert = pg.locator('[data-testid="stAlert"]').filter(has_text=text).first
    alert.wait_for(timeout=60_000)
    return alert.inner_text()


def _upload(pg, path: Path) -> None:
    pg.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(path))
    pg.wait_for_timeout(500)
    wait_ready(pg)


def test_template_back_touches_nothing_then_an_update_is_shown_applied_and_rolled_back(browser, server, tmp_path: Path) -> None:
    base, url = server
    h = S.households.c
    hid, htype, farmland, size = _query(url, select(h.household_id, h.household_type, h.farmland_mu, h.size).order_by(h.household_id).limit(1))[0]
    before_all = _households(url)
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    try:
        pg.goto(f"{base}/import")
        wait_ready(pg)
        login(pg, *STEWARD)
        if not pg.url.rstrip("/").endswith("import"):
            pg.goto(f"{base}/import")
            wait_ready(pg)
        _pick(pg, "导入类型", "农户信息")
        # the uploader's English, explained in Chinese beside it
        assert "将文件拖入上面的框内，或点击框内的“Upload”（上传）按钮选择文件" in pg.locator('[data-testid="stMain"]').inner_text()

        # 1. the template, downloaded and imported back as it is
        help_box = pg.locator('[data-testid="stExpander"]').filter(has_text="列说明").first
        help_box.locator("summary").click()
        wait_ready(pg)
        with pg.expect_download(timeout=60_000) as info:
            help_box.get_by_role("button", name="下载 CSV").click()
        template = tmp_path / info.value.suggested_filename
        info.value.save_as(template)
        assert template.name == "template_households_zh.csv"
        assert "99999900100100001" in template.read_text(encoding="utf-8-sig")  # the reserved example county
        _upload(pg, template)
        _alert(pg, "校验通过，可以导入")
        assert "新增 0，更新 0，无变化 0，跳过 1" in pg.locator('[data-testid="stMain"]').inner_text()
        assert pg.locator('[data-testid="stTable"]').count() == 0  # nothing would change
        pg.get_by_role("button", name="确认导入").click()
        wait_ready(pg)
        assert "已导入为批次 1：新增 0，更新 0，无变化 0，跳过 1" in _alert(pg, "已导入为批次 1")
        assert _households(url) == before_all  # no household touched
        assert _query(url, select(h.household_id).where(h.household_id.like("999999%"))) == []
        screenshot(pg, "import_template_back")

        # 2. a file that changes one real household: the changes first, then the import
        new_type, label = ("ordinary", "一般农户") if htype == "former_poor" else ("former_poor", "脱贫户")
        old_label = {"ordinary": "一般农户", "former_poor": "脱贫户"}[htype]
        change = tmp_path / "roster_update.csv"
        change.write_text(f"户编号,户类型,耕地面积(亩)\n{hid},{label},{farmland + 1:g}\n", encoding="utf-8")
        _upload(pg, change)
        _alert(pg, "校验通过，可以导入")
        pg.get_by_text("导入前核对：将更新的字段").first.wait_for(timeout=30_000)
        table = pg.locator('[data-testid="stTable"]').first.inner_text()
        assert f"{old_label} → {label}" in table and f"{farmland:g} → {farmland + 1:g}" in table and hid in table
        assert _household(url, hid) == (htype, farmland, size)  # nothing written yet
        screenshot(pg, "import_changes")
        pg.get_by_role("button", name="确认导入").click()
        wait_ready(pg)
        assert "新增 0，更新 1，无变化 0，跳过 0" in _alert(pg, "已导入为批次 2")
        assert _household(url, hid) == (new_type, farmland + 1, size)

        # 3. rolled back from the page, after the confirmation
        box = pg.locator('[data-testid="stExpander"]').filter(has_text="回滚导入批次").first
        box.locator("summary").click()
        wait_ready(pg)
        go = box.get_by_role("button", name="回滚")
        assert go.is_disabled()
        box.get_by_text("我确认回滚批次 2").click()
        wait_ready(pg)
        go.click()
        wait_ready(pg)
        assert "已回滚批次 2：恢复 1 条记录的原值，删除 0 条新增记录" in _alert(pg, "已回滚批次 2")
        assert _household(url, hid) == (htype, farmland, size)
        assert _households(url) == before_all
        b = S.import_batches.c
        assert _query(url, select(b.batch_id, b.status, b.rolled_back_by).order_by(b.batch_id)) == [
            (1, "applied", None), (2, "rolled_back", STEWARD[0]),
        ]
        a = S.audit_log.c
        assert _query(url, select(a.actor, a.target).where(a.action == "import_rollback")) == [(STEWARD[0], "batch:2")]
        screenshot(pg, "import_rolled_back")
        assert errors_on_page(pg) == [] and rec.external() == []
    finally:
        context.close()
