"""AppTest helpers: the app pointed at the small demo county."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def app_db(small_demo, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    engine, spec = small_demo
    monkeypatch.setenv("FANPIN_DB_URL", engine.url.render_as_string(hide_password=False))
    return engine, spec


APP = str(Path(__file__).resolve().parents[2] / "app.py")


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=90)


def open_page(page: str, lang: str = "zh", role: str = "admin", period: int | None = None) -> AppTest:
    """Run app.py, then switch to ``pages/<page>.py`` with the given language and role."""
    at = new_app()
    at.session_state["role"] = role  # before the first run: the default page may refuse otherwise
    at.run()
    at.switch_page(f"pages/{page}.py")
    at.run()
    if lang != "zh" or period is not None:
        at.radio(key="lang").set_value(lang)
        if period is not None:
            at.session_state["period"] = period  # the sidebar's choice (its widget is keyed per language)
        at.run()
    return at
