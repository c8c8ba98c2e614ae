"""The overview's "生成月报" button builds the brief once and offers the two downloads."""

from __future__ import annotations

from sqlalchemy import func, select

from fanpin.store.schema import audit_log

from .conftest import finish_jobs, open_page


def _briefs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log).where(audit_log.c.action == "brief")).scalar()


def test_brief_button_offers_docx_and_xlsx(app_db) -> None:
    engine, spec = app_db
    at = open_page("overview", role="leader")
    assert not at.exception, at.exception
    assert not at.get("download_button") or all(d.proto.label not in ("下载月报 (Word)", "下载数据表 (Excel)") for d in at.get("download_button"))
    before = _briefs(engine)
    at.button(key="ov_brief").click()
    at.run()
    finish_jobs(at)  # the brief is made in the background
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    labels = [d.proto.label for d in at.get("download_button")]
    assert "下载月报 (Word)" in labels and "下载数据表 (Excel)" in labels
    assert _briefs(engine) == before + 1
    at.run()  # a rerun keeps the built files: no second build, no second audit row
    assert "下载月报 (Word)" in [d.proto.label for d in at.get("download_button")]
    assert _briefs(engine) == before + 1


def test_brief_button_in_english(app_db) -> None:
    at = open_page("overview", lang="en", role="leader")
    assert not at.exception, at.exception
    at.button(key="ov_brief").click()
    at.run()
    finish_jobs(at)
    assert not at.exception, at.exception
    labels = [d.proto.label for d in at.get("download_button")]
    assert "Download the brief (Word)" in labels and "Download the tables (Excel)" in labels
