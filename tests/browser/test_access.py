"""Login in a real browser: an administrator and a case worker each see exactly what their role allows."""

from __future__ import annotations

from sqlalchemy import select

from fanpin import store
from fanpin.store import schema as S

from .conftest import (
    ADMIN,
    LOGIN_PASSWORD,
    Recorder,
    ensure_user,
    errors_on_page,
    login,
    login_form_shown,
    screenshot,
    wait_ready,
)

CW = ("browser_cw", "browser-cw-pass")


def _township_and_households(db_url: str) -> tuple[str, str, str, str]:
    engine = store.make_engine(db_url)
    try:
        with engine.connect() as conn:
            h, r = S.households.c, S.regions.c
            town = conn.execute(select(r.region_code).where(r.level == "township").order_by(r.region_code).limit(1)).scalar_one()
            name = conn.execute(select(r.name).where(r.region_code == town)).scalar_one()
            inside = conn.execute(select(h.household_id).where(h.township_code == town).order_by(h.household_id).limit(1)).scalar_one()
            outside = conn.execute(select(h.household_id).where(h.township_code != town).order_by(h.household_id).limit(1)).scalar_one()
    finally:
        engine.dispose()
    return town, name, inside, outside


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
    pg = context.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    return context, pg, rec


def _nav(pg, label: str) -> None:
    """Client-side navigation through the sidebar (the session, and so the login, is kept)."""
    pg.locator('[data-testid="stSidebar"] [data-testid="stPageLink"] a').filter(has_text=label).first.click()
    pg.wait_for_timeout(500)
    wait_ready(pg)


def test_login_page_then_admin_sees_users_and_audit(browser, app_server, small_demo) -> None:
    context, pg, rec = _new_page(browser)
    try:
        pg.goto(f"{app_server}/admin")
        wait_ready(pg)
        pg.locator(LOGIN_PASSWORD).first.wait_for(timeout=30_000)
        assert login_form_shown(pg)
        assert pg.locator('[data-testid="stMain"] h1').first.inner_text().startswith("登录")
        assert pg.locator('[data-testid="stMetric"]').count() == 0
        screenshot(pg, "login")
        # a wrong password: the form stays, with the one message for every failure
        pg.locator('input[autocomplete="username"]').first.fill(ADMIN[0])
        pg.locator(LOGIN_PASSWORD).first.fill("not-the-password")
        pg.locator(LOGIN_PASSWORD).first.press("Enter")
        pg.locator('[data-testid="stAlert"]').filter(has_text="用户名或密码错误").first.wait_for(timeout=20_000)
        wait_ready(pg)  # the alert can arrive before the rerun has redrawn the form below it
        pg.locator(LOGIN_PASSWORD).first.wait_for(timeout=20_000)
        assert login_form_shown(pg)
        login(pg, *ADMIN)
        assert not login_form_shown(pg)
        assert pg.locator('[data-testid="stMain"] h1').first.inner_text() == "用户与审计"
        sidebar = pg.locator('[data-testid="stSidebar"]').inner_text()
        assert ADMIN[0] in sidebar and "系统管理员" in sidebar and "退出登录" in sidebar
        assert pg.locator('[data-testid="stDataFrame"]').count() >= 1
        screenshot(pg, "admin_users")
        pg.get_by_role("tab", name="审计日志").click()
        pg.wait_for_timeout(800)
        wait_ready(pg)
        assert pg.get_by_text("审计日志只能追加").count() == 1
        screenshot(pg, "admin_audit")
        assert errors_on_page(pg) == []
        # the session is kept on client-side navigation
        _nav(pg, "阈值与权重模拟")
        assert not login_form_shown(pg) and pg.locator('[data-testid="stMetric"]').count() > 0
        assert rec.external() == []
    finally:
        context.close()


def test_case_worker_sees_only_their_township(browser, app_server, small_demo) -> None:
    engine, _ = small_demo
    url = engine.url.render_as_string(hide_password=False)
    town, tname, inside, outside = _township_and_households(url)
    ensure_user(url, CW[0], "case_worker", CW[1], townships=[town])
    context, pg, rec = _new_page(browser)
    try:
        pg.goto(f"{app_server}/profile")
        wait_ready(pg)
        login(pg, *CW)
        sidebar = pg.locator('[data-testid="stSidebar"]').inner_text()
        assert "帮扶干部" in sidebar and tname in sidebar
        search = pg.locator('[data-testid="stMain"] input[type="text"]').first
        search.fill(outside)
        search.press("Enter")
        pg.wait_for_timeout(500)
        wait_ready(pg)
        assert pg.get_by_text("没有找到").count() >= 1 or pg.locator('[data-testid="stAlert"]').count() >= 1
        assert pg.locator('[data-testid="stMain"] h2').count() == 0  # no household header
        search.fill(inside)
        search.press("Enter")
        pg.wait_for_timeout(500)
        wait_ready(pg)
        assert inside in pg.locator('[data-testid="stMain"] h2').first.inner_text()
        body = pg.locator('[data-testid="stMain"]').inner_text()
        assert "*" in body  # names and ID numbers masked
        screenshot(pg, "case_worker_profile")
        # the sidebar links only the role's pages ...
        links = " ".join(pg.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').all_inner_texts())
        assert "农户画像" in links and "预警处置" in links
        for label in ("用户与审计", "阈值与权重模拟", "模型评估", "数据导入"):
            assert label not in links, label
        # ... and the overview counts the case worker's township only
        _nav(pg, "总览")
        caption = pg.locator('[data-testid="stSidebar"]').inner_text()
        assert "1,500 户" not in caption
        assert errors_on_page(pg) == []
        # a forbidden page opened by URL (a bookmark, a shared link) is refused after login
        for path in ("admin", "simulator"):
            pg.goto(f"{app_server}/{path}")
            pg.locator(f'{LOGIN_PASSWORD}, [data-testid="stAlert"]').first.wait_for(timeout=30_000)
            if login_form_shown(pg):
                login(pg, *CW)
            pg.locator('[data-testid="stAlert"]').filter(has_text="无权").first.wait_for(timeout=30_000)
            assert pg.locator('[data-testid="stMetric"]').count() == 0 and pg.locator('[data-testid="stDataFrame"]').count() == 0, path
        screenshot(pg, "case_worker_refused")
        assert rec.external() == []
    finally:
        context.close()


def test_users_made_with_the_command_line_see_exactly_their_pages(browser, app_server, small_demo) -> None:
    """The issue's "done when": an administrator and a case worker created with `fanpin user add`
    (the real command, password on stdin) log in in the browser; each sidebar links exactly the
    pages of the role, and the case worker's county figures are their township's."""
    import subprocess
    import sys

    from fanpin.access.roles import PAGES, ROLE_PAGES
    from fanpin.core.i18n import label, translate

    engine, _ = small_demo
    url = engine.url.render_as_string(hide_password=False)
    town, tname, _inside, _outside = _township_and_households(url)
    made = {"cli_admin": ("admin", "cli-admin-pass-1", []), "cli_cw": ("case_worker", "cli-cw-pass-1", ["--townships", town])}
    for name, (role, password, extra) in made.items():
        r = subprocess.run(
            [sys.executable, "-m", "fanpin.cli", "user", "add", name, "--role", role, "--password-stdin", "--db", url, *extra],
            input=password + "\n", capture_output=True, text=True, timeout=60,
        )
        assert r.returncode == 0 or "exists already" in r.stderr, r.stderr
    for name, (role, password, _extra) in made.items():
        context, pg, rec = _new_page(browser)
        try:
            pg.goto(f"{app_server}/")
            wait_ready(pg)
            login(pg, name, password)
            pg.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').first.wait_for(timeout=30_000)
            links = pg.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]').all_inner_texts()
            shown = {p for p in PAGES if any(translate(f"nav.{p}", "zh") in text for text in links)}
            assert shown == set(ROLE_PAGES[role]), (role, sorted(shown))
            sidebar = pg.locator('[data-testid="stSidebar"]').inner_text()
            assert name in sidebar and label("role", role, "zh") in sidebar
            if role == "case_worker":
                assert tname in sidebar and "1,500 户" not in sidebar
            assert errors_on_page(pg) == [] and rec.external() == []
        finally:
            context.close()


# ---------------------------------------------------------------- downloads: one audited path
TRAINER = ("browser_trainer", "browser-trainer-pass")


def _exports(db_url: str, actor: str) -> list[tuple[str, str]]:
    engine = store.make_engine(db_url)
    try:
        with engine.connect() as conn:
            a = S.audit_log.c
            q = select(a.target, a.detail).where(a.action == "export", a.actor == actor).order_by(a.audit_id)
            return [tuple(r) for r in conn.execute(q)]
    finally:
        engine.dispose()


def _download_once(pg, button, db_url: str, actor: str) -> tuple[str, list[tuple[str, str]]]:
    """Click a download button; return the file's name and the export rows it wrote (waited for)."""
    import time

    before = len(_exports(db_url, actor))
    with pg.expect_download(timeout=60_000) as info:
        button.click()
    name = info.value.suggested_filename
    info.value.path()  # the whole file has arrived
    deadline = time.time() + 10
    while len(_exports(db_url, actor)) == before and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # a second row, if one were written, would be there by now
    return name, _exports(db_url, actor)[before:]


def test_a_download_writes_exactly_one_export_row_and_a_trainer_gets_none(browser, app_server, small_demo) -> None:
    """AppTest cannot run a deferred download: here a real click on the overview's township table
    and on the audit log (用户与审计) each writes one ``export`` row; a trainer sees no download."""
    engine, _ = small_demo
    url = engine.url.render_as_string(hide_password=False)
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN", accept_downloads=True)
    pg = context.new_page()
    try:
        pg.goto(f"{app_server}/")
        wait_ready(pg)
        login(pg, *ADMIN)
        buttons = pg.locator('[data-testid="stMain"] [data-testid="stDownloadButton"] button')
        buttons.first.wait_for(timeout=30_000)
        name, rows = _download_once(pg, buttons.first, url, ADMIN[0])
        assert name.startswith("townships_") and name.endswith(".csv"), name
        assert len(rows) == 1 and rows[0][0] == name.removesuffix(".csv") and '"format": "csv"' in rows[0][1], rows

        _nav(pg, "用户与审计")
        pg.get_by_role("tab", name="审计日志").click()
        pg.wait_for_timeout(800)
        wait_ready(pg)
        audit_buttons = pg.locator('[data-testid="stMain"] [data-testid="stDownloadButton"] button:visible')
        audit_buttons.first.wait_for(timeout=30_000)
        name, rows = _download_once(pg, audit_buttons.first, url, ADMIN[0])
        assert name.startswith("audit_log_") and name.endswith(".csv"), name
        assert len(rows) == 1 and rows[0][0].startswith("audit_log_") and '"format": "csv"' in rows[0][1], rows
        assert errors_on_page(pg) == []
    finally:
        context.close()

    ensure_user(url, TRAINER[0], "trainer", TRAINER[1])
    context, pg, rec = _new_page(browser)
    try:
        pg.goto(f"{app_server}/")
        wait_ready(pg)
        login(pg, *TRAINER)
        assert pg.locator('[data-testid="stMain"] h1').first.inner_text().endswith("总览")
        assert pg.locator('[data-testid="stMetric"]').count() > 0  # the page is there ...
        assert pg.locator('[data-testid="stDownloadButton"]').count() == 0  # ... without a download
        assert pg.get_by_role("button", name="生成月报").count() == 0
        assert errors_on_page(pg) == [] and rec.external() == []
    finally:
        context.close()
