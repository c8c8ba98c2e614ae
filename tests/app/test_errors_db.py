"""A SQLite file whose data pages are damaged (header and schema intact) gives a message after
login, not a traceback (issue 17, item 6)."""

from __future__ import annotations

import sqlite3

from fanpin.core.i18n import translate
from tests.app.conftest import new_app, run_as
from tests.conftest import copy_sqlite


def _wreck_panel_pages(path) -> int:
    """Overwrite the leaf pages of the panel table's b-tree (found through SQLite's dbstat)."""
    con = sqlite3.connect(path)
    try:
        size = con.execute("PRAGMA page_size").fetchone()[0]
        pages = [r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = 'panel' AND pagetype = 'leaf' ORDER BY pageno")]
    finally:
        con.close()
    raw = bytearray(path.read_bytes())
    for p in pages[len(pages) // 4 :]:
        start = (p - 1) * size
        raw[start : start + size] = b"\xa5" * size
    path.write_bytes(bytes(raw))
    return len(pages)


def test_damaged_data_pages_show_a_message_not_a_traceback(small_demo, tmp_path, monkeypatch) -> None:
    path = tmp_path / "damaged.db"
    url = copy_sqlite(small_demo[0], path)
    assert _wreck_panel_pages(path) > 4
    monkeypatch.setenv("FANPIN_DB_URL", url)
    monkeypatch.setenv("FANPIN_CACHE_DIR", str(tmp_path / "cache"))  # no columnar copy to hide the damage
    at = new_app()
    at.switch_page("pages/overview.py")
    run_as(at, "leader")
    assert not at.exception, at.exception
    shown = [e.value for e in at.error]
    assert any(translate("error.db_corrupt", "zh", path="—")[:12] in s for s in shown), shown
