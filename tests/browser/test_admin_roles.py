"""Issue 18 item 3 in a real browser: changing a user's role on 用户与审计.

Seen before the fix: the role box defaulted to 局领导, not the user's current role, so one click
on the button without touching the box demoted an analyst.  Now the role and townships boxes
start at the account's current values, a click without a change changes nothing, and a change
of role or townships asks for a confirmation that names it; only after it is the role changed
(and audited).  Runs its own server on a copy of the small demo county.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from fanpin import store
from fanpin.access import users
from fanpin.store.regions import load_regions
from fanpin.store.schema import audit_log
from tests.conftest import copy_sqlite

from .conftest import ensure_user, errors_on_page, login, screenshot, wait_ready

ADMIN = ("roles_admin", "roles-admin-pass-2026")
ANALYST = ("roles_analyst", "roles-analyst-pass-2026")
WORKER = ("roles_worker", "roles-worker-pass-2026")


@pytest.fixture(scope="module")
def server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, str]]]:
    from .conftest import running_app

    engine, _ = small_demo
    path = tmp_path_factory.mktemp("roles") / "roles.db"
    url = copy_sqlite(engine, path)
    eng = store.make_engine(url)
    regions = load_regions(eng)
    eng.dispose()
    towns = regions[regions["level"] == "township"].sort_values("region_code")
    names = dict(zip(towns["region_code"], towns["name"]))
    ensure_user(url, ADMIN[0], "admin", ADMIN[1])
    ensure_user(url, ANALYST[0], "analyst", ANALYST[1])
    ensure_user(url, WORKER[0], "case_worker", WORKER[1], townships=list(names)[1:3])
    with running_app(url, path.parent) as base:
        yield base, url, names


def _changes(url: str, username: str) -> int:
    """user_changed audit rows of ``username`` other than its creation."""
    eng = store.make_engine(url)
    try:
        with eng.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(audit_log)
                .where(audit_log.c.action == "user_changed", audit_log.c.target == username, ~audit_log.c.detail.contains('"op": "add"'))
            ).scalar())
    finally:
        eng.dispose()


def _user(url: str, username: str) -> users.User:
    eng = store.make_engine(url)
    try:
        return users.get_user(eng, username)
    finally:
        eng.dispose()


def _change_form(pg):
    """The right-hand column of the users tab: the disable/enable and change-role form."""
    return pg.locator('[data-testid="stColumn"]').filter(has=pg.get_by_role("heading", name="停用 / 启用用户")).first


def _shown(box) -> str:
    """The option a select box shows (its combobox input's value)."""
    return box.locator('input[role="combobox"]').first.input_value()


def _chips(box) -> list[str]:
    """The options a multiselect shows as chosen."""
    return [c.get_attribute("aria-label") or "" for c in box.locator("[data-tag]").all()]


def _pick(pg, box, option: str) -> None:
    box.click()
    pg.locator('[role="option"]').filter(has_text=option).first.click()
    wait_ready(pg)


def test_role_box_starts_at_the_current_role_and_a_change_needs_a_confirmation(browser, server) -> None:
    base, url, names = server
    assert _user(url, ANALYST[0]).role == "analyst"
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
    pg = ctx.new_page()
    try:
        pg.goto(f"{base}/admin")
        wait_ready(pg)
        login(pg, *ADMIN)
        pg.goto(f"{base}/admin")
        wait_ready(pg)
        form = _change_form(pg)
        target = form.locator('[data-testid="stSelectbox"]').filter(has_text="用户名").first
        role_box = form.locator('[data-testid="stSelectbox"]').filter(has_text="角色").first
        towns_box = form.locator('[data-testid="stMultiSelect"]').first
        button = form.get_by_role("button", name="修改角色")

        # a case worker: the boxes show their role and their two townships
        _pick(pg, target, WORKER[0])
        assert _shown(role_box) == "帮扶干部"
        assert sorted(_chips(towns_box)) == sorted(names[c] for c in list(names)[1:3]), _chips(towns_box)
        assert button.is_disabled()

        # the analyst: the role box shows 分析员; the button changes nothing untouched
        _pick(pg, target, ANALYST[0])
        assert _shown(role_box) == "分析员"
        assert _chips(towns_box) == []
        assert button.is_disabled()
        button.click(force=True)  # a click on it anyway
        wait_ready(pg)
        assert _user(url, ANALYST[0]).role == "analyst" and _changes(url, ANALYST[0]) == 0
        assert pg.get_by_text("的角色改为").count() == 0

        # another role: a confirmation naming the change; nothing changes before it is ticked
        _pick(pg, role_box, "局领导")
        confirm = form.get_by_text("确认将 roles_analyst 的角色由“分析员”改为“局领导”")
        confirm.wait_for(timeout=10_000)
        assert button.is_disabled()
        button.click(force=True)
        wait_ready(pg)
        assert _user(url, ANALYST[0]).role == "analyst" and _changes(url, ANALYST[0]) == 0
        screenshot(pg, "admin_role_confirm")
        pg.mouse.move(5, 5)  # the button's tooltip away
        confirm.click()
        wait_ready(pg)
        expect(button).to_be_enabled(timeout=20_000)  # the rerun the tick starts may begin after a first look found the page idle (loaded machine)
        button.click()
        wait_ready(pg)
        pg.get_by_text("已将 roles_analyst 的角色改为 局领导").first.wait_for(timeout=10_000)
        assert errors_on_page(pg) == []
        assert _user(url, ANALYST[0]).role == "leader" and _changes(url, ANALYST[0]) == 1
        # the boxes now start at the new role: a further click changes nothing
        assert _shown(role_box) == "局领导" and button.is_disabled()
    finally:
        ctx.close()
