"""Evidence in a real browser: a photo and a PDF uploaded on an order card (预警处置 → 核查工单), the
photo's thumbnail drawn, each file downloaded through its button and compared byte for byte with
what was uploaded; every download wrote its ``export`` audit row.

Runs its own server on a copy of the small demo county, so the shared one keeps no orders.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.store import schema as S
from fanpin.workflow import clues, evidence
from fanpin.workflow import orders as orders_mod
from tests.conftest import copy_sqlite
from tests.workflow.test_evidence import jpeg, pdf

from .conftest import ADMIN, Recorder, auto_login, ensure_user, errors_on_page, running_app, screenshot, wait_ready


@pytest.fixture(scope="module")
def ev_server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    engine, _ = small_demo
    path = tmp_path_factory.mktemp("ev-browser") / "ev.db"
    url = copy_sqlite(engine, path)
    ensure_user(url, ADMIN[0], "admin", ADMIN[1])
    eng = store.make_engine(url)
    box = clues.clue_inbox(eng, principal=SYSTEM, until_period=store.periods(eng)[-1])
    oid = orders_mod.create_order(eng, clue_ids=[int(box["clue_id"].iloc[0])], assignee_kind="township", assignee=box["township_code"].iloc[0],
                                  principal=Principal("someone", "admin"))
    eng.dispose()
    with running_app(url, path.parent) as base:
        yield base, url, oid


def _exports(url: str) -> list[str]:
    eng = store.make_engine(url)
    try:
        with eng.connect() as conn:
            a = S.audit_log.c
            return [r[0] for r in conn.execute(select(a.target).where(a.action == "export", a.actor == ADMIN[0]).order_by(a.audit_id))]
    finally:
        eng.dispose()


def test_upload_thumbnail_and_download_identical_bytes(browser, ev_server, tmp_path: Path) -> None:
    base, url, oid = ev_server
    photo, scan = jpeg(900, 600, seed=31), pdf()
    (tmp_path / "入户照片.jpg").write_bytes(photo)
    (tmp_path / "签字表.pdf").write_bytes(scan)
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    auto_login(pg, *ADMIN)
    try:
        pg.goto(f"{base}/clues")
        wait_ready(pg)
        pg.get_by_role("tab", name="核查工单").click()
        wait_ready(pg)
        panel = pg.locator('[data-testid="stExpander"]').filter(has_text="佐证材料")
        panel.first.locator("summary").click()
        uploader = panel.first.locator('[data-testid="stFileUploader"] input[type="file"]')
        uploader.set_input_files([str(tmp_path / "入户照片.jpg"), str(tmp_path / "签字表.pdf")])
        panel.first.get_by_text("签字表.pdf").first.wait_for(timeout=20_000)  # both files arrived at the server
        panel.first.get_by_role("button", name="添加附件").click()
        wait_ready(pg)
        assert errors_on_page(pg) == []
        pg.locator('[data-testid="stAlert"]').filter(has_text="已添加 2 个附件").first.wait_for(timeout=20_000)
        eng = store.make_engine(url)
        files = evidence.list_for(eng, "order", oid, principal=SYSTEM)
        eng.dispose()
        assert files["file_name"].tolist() == ["入户照片.jpg", "签字表.pdf"]
        panel = pg.locator('[data-testid="stExpander"]').filter(has_text="佐证材料 (2)").first
        thumb = panel.locator('[data-testid="stImage"] img').first
        thumb.wait_for(timeout=20_000)
        assert thumb.evaluate("img => img.complete && img.naturalWidth") == 240  # the thumbnail, drawn
        screenshot(pg, "evidence_order")
        before = len(_exports(url))
        got = {}
        for button in panel.locator('[data-testid="stDownloadButton"] button').filter(has_text="下载").all():
            with pg.expect_download(timeout=60_000) as info:
                button.click()
            got[info.value.suggested_filename] = Path(info.value.path()).read_bytes()
        assert got == {"入户照片.jpg": photo, "签字表.pdf": scan}  # byte for byte
        deadline = time.time() + 10
        while len(_exports(url)) < before + 2 and time.time() < deadline:
            time.sleep(0.2)
        assert sorted(_exports(url)[before:]) == sorted(f"attachment:{int(a)}" for a in files["attachment_id"])
        assert rec.external() == []
    finally:
        context.close()
