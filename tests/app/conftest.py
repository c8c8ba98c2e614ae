"""AppTest helpers: the app pointed at the small demo county, logged in as a user of a role."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fanpin import store
from fanpin.access import users
from fanpin.access.roles import SYSTEM


@pytest.fixture
def app_db(small_demo, monkeypatch: pytest.MonkeyPatch):
    engine, spec = small_demo
    monkeypatch.setenv("FANPIN_DB_URL", engine.url.render_as_string(hide_password=False))
    return engine, spec


@pytest.fixture
def demo_copy(small_demo, tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A private copy of the small demo county for a test that writes, pointed to by FANPIN_DB_URL."""
    from fanpin import store
    from tests.conftest import copy_sqlite

    url = copy_sqlite(small_demo[0], tmp_path / "copy.db")
    monkeypatch.setenv("FANPIN_DB_URL", url)
    eng = store.make_engine(url)
    yield eng
    eng.dispose()


APP = str(Path(__file__).resolve().parents[2] / "app.py")


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=90)


def password_of(username: str) -> str:
    return f"test-pass-{username}"


def ensure_user(role: str, username: str | None = None, townships: list[str] | None = None, url: str | None = None) -> str:
    """A user of ``role`` in the test database (created once; named after the role by default, so that
    who/when columns read as before).  The default case worker covers every township."""
    engine = store.make_engine(url or os.environ["FANPIN_DB_URL"])
    try:
        username = username or role
        if users.get_user(engine, username) is None:
            if role in ("case_worker", "township_leader") and townships is None:
                townships = sorted(users.township_codes(engine))
            region = {"province_leader": "99", "city_leader": "9901"}.get(role)  # (the demo county 990101's province and city)
            users.add_user(engine, username, role, password_of(username), townships=townships, principal=SYSTEM, region=region)
        return username
    finally:
        engine.dispose()


def login(at: AppTest, username: str, password: str | None = None) -> AppTest:
    """Fill in and submit the login form the app is showing."""
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_password").input(password if password is not None else password_of(username))
    at.button(key="login_submit").click()
    return at.run()


def open_page(page: str, lang: str = "zh", role: str = "admin", period: int | None = None) -> AppTest:
    """Run app.py, log in as the test user of ``role``, then switch to ``pages/<page>.py`` with the given language."""
    username = ensure_user(role)
    at = new_app()
    at.run()
    login(at, username)
    at.switch_page(f"pages/{page}.py")
    at.run()
    if lang != "zh" or period is not None:
        at.radio(key="lang").set_value(lang)
        if period is not None:
            at.session_state["period"] = period  # the sidebar's choice (its widget is keyed per language)
        at.run()
    return at


def switch_user(at: AppTest, role: str, username: str | None = None) -> AppTest:
    """Log out and log in again as another user (the session keeps the page and its widgets)."""
    username = ensure_user(role, username)
    at.button(key="sb_logout").click().run()
    return login(at, username)


def run_as(at: AppTest, role: str, username: str | None = None) -> AppTest:
    """First run of an app (page already switched, state already set): the login form, then log in."""
    username = ensure_user(role, username)
    at.run()
    return login(at, username)


def finish_jobs(at: AppTest, timeout: float = 120.0) -> AppTest:
    """Wait for the background jobs (``fanpin.ui.jobs``) to end, then run the page once more
    (in a browser the progress fragment reruns it; AppTest has no timer)."""
    import time

    from fanpin.ui import jobs

    deadline = time.time() + timeout
    while any(job.running for job in jobs.runner().jobs.values()):
        if time.time() > deadline:
            raise TimeoutError("a background job did not finish")
        time.sleep(0.05)
    return at.run()
