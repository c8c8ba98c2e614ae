"""The app explains a missing, damaged or outdated database instead of showing a traceback."""

from __future__ import annotations

import pytest

from fanpin import store

from .conftest import new_app


def _run(monkeypatch: pytest.MonkeyPatch, url: str, lang: str = "zh"):
    monkeypatch.setenv("FANPIN_DB_URL", url)
    at = new_app()
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    return " ".join(e.value for e in at.error)


def test_missing_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _run(monkeypatch, f"sqlite:///{tmp_path / 'gone.db'}")
    assert "找不到数据库文件" in text and "fanpin demo" in text
    assert not (tmp_path / "gone.db").exists()


def test_corrupt_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"PK\x03\x04 an xlsx renamed to .db" * 50)
    text = _run(monkeypatch, f"sqlite:///{bad}", lang="en")
    assert "damaged" in text


def test_old_schema_names_the_command(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store.upgrade(store.make_engine(url, create=True), "0001")
    text = _run(monkeypatch, url)
    assert "fanpin db upgrade" in text and "0001" in text


def test_empty_database(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store.make_engine(url, create=True).dispose()
    (tmp_path / "empty.db").touch()
    text = _run(monkeypatch, url)
    assert "fanpin db upgrade" in text
