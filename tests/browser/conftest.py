"""A real app server and a real browser: Debian chromium driven by Playwright.

The server runs on a free local port against a small demo county; every request
the browser makes is recorded so tests can check that nothing leaves 127.0.0.1.
Screenshots are kept under ``artifacts/screenshots`` as test artifacts.

Login is mandatory, and a full page load (``page.goto``) starts a new Streamlit
session; the ``page`` fixture is a new tab of a context logged in once as an
administrator (its session cookie logs each new session in, as for a second tab),
and logs in again after any ``goto`` that lands on the login form (``auto_login``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from fanpin.ui.serve import running_app

__all__ = ["running_app"]  # the modules that run their own server import it from here

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.browser


ADMIN = ("browser_admin", "browser-admin-pass")


def ensure_user(db_url: str, username: str, role: str, password: str, townships: list[str] | None = None) -> None:
    """A user in the server's database (created once)."""
    from fanpin import store
    from fanpin.access import users
    from fanpin.access.roles import SYSTEM

    engine = store.make_engine(db_url)
    try:
        if users.get_user(engine, username) is None:
            users.add_user(engine, username, role, password, townships=townships, principal=SYSTEM)
    finally:
        engine.dispose()


LOGIN_PASSWORD = 'input[autocomplete="current-password"]'  # the login form's (the admin page has other password fields)


def login_form_shown(pg) -> bool:
    return pg.locator(LOGIN_PASSWORD).count() > 0


def login(pg, username: str, password: str) -> None:
    """Fill in the login form on the page and submit it (Enter in the password field)."""
    pg.locator(LOGIN_PASSWORD).first.wait_for(timeout=30_000)
    pg.locator('input[autocomplete="username"]').first.fill(username)
    pg.locator(LOGIN_PASSWORD).first.fill(password)
    pg.locator(LOGIN_PASSWORD).first.press("Enter")
    pg.locator(LOGIN_PASSWORD).first.wait_for(state="detached", timeout=30_000)
    wait_ready(pg)


def auto_login(pg, username: str, password: str) -> None:
    """Make ``pg.goto`` log in whenever it lands on the login form."""
    goto = pg.goto

    def goto_logged_in(url: str, **kwargs):
        response = goto(url, **kwargs)
        wait_ready(pg)
        if login_form_shown(pg):
            login(pg, username, password)
        return response

    pg.goto = goto_logged_in


@pytest.fixture(scope="session")
def app_server(small_demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it: scripts/system-deps.sh)")
    engine, _ = small_demo
    ensure_user(engine.url.render_as_string(hide_password=False), ADMIN[0], "admin", ADMIN[1])
    with running_app(engine.url.render_as_string(hide_password=False), tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield b
        b.close()


class Recorder:
    """Every URL the page asked for."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def external(self) -> list[str]:
        bad = []
        for u in self.urls:
            p = urlparse(u)
            if p.scheme in ("data", "blob", "about"):
                continue
            if p.hostname not in ("127.0.0.1", "localhost"):
                bad.append(u)
        return bad


@pytest.fixture(scope="session")
def admin_context(browser, app_server) -> Iterator[object]:
    """One browser context logged in once as the administrator: its session cookie logs every new tab
    opened in it (a new Streamlit session) in without the login form, as for a real user's second tab."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
    pg = context.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    pg.goto(f"{app_server}/map")
    wait_ready(pg)
    if login_form_shown(pg):
        login(pg, *ADMIN)
    assert rec.external() == [], "the login page's requests left the machine"
    pg.close()
    yield context
    context.close()


@pytest.fixture
def page(admin_context, app_server):
    """A new tab (a new Streamlit session) of the administrator's context; ``goto`` still logs in
    should it land on the login form (``auto_login``)."""
    pg = admin_context.new_page()
    rec = Recorder()
    pg.on("request", lambda req: rec.urls.append(req.url))
    pg.recorder = rec
    pg.base = app_server
    auto_login(pg, *ADMIN)
    yield pg
    pg.close()


def wait_ready(pg, timeout: float = 60_000) -> None:
    """Until the app has rendered and stopped running."""
    pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    pg.wait_for_selector('[data-testid="stMain"] h1, [data-testid="stMain"] [data-testid="stAlert"]', timeout=timeout)
    # Idle for a whole second in a row: on a loaded machine the rerun a click starts may show its
    # running indicator only after a first look has found the page idle.
    deadline = time.time() + timeout / 1000
    idle_since = time.time()
    while time.time() < deadline:
        busy = pg.locator('[data-testid="stStatusWidget"], [data-testid="stSpinner"], [data-testid="stSkeleton"]').count()
        now = time.time()
        if busy:
            idle_since = now
        elif now - idle_since >= 1.0:
            break
        time.sleep(0.2)
    time.sleep(0.3)  # charts and canvases paint after the script finishes


def screenshot(pg, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path


def errors_on_page(pg) -> list[str]:
    return [e.inner_text() for e in pg.locator('[data-testid="stException"]').all()]
