"""`fanpin brief`: exit codes, messages, files written, the audit actor."""

from __future__ import annotations

import getpass
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from fanpin import store
from fanpin.cli.main import main
from fanpin.report.document import document_text
from fanpin.store.schema import audit_log
from tests.conftest import copy_sqlite


@pytest.fixture(scope="module")
def db(small_demo, tmp_path_factory):
    """A copy of the small demo (the brief writes audit rows; the shared fixture stays untouched)."""
    engine, spec = small_demo
    path = tmp_path_factory.mktemp("cli_brief") / "demo.db"
    return copy_sqlite(engine, path), spec


def test_bad_period_is_refused_with_a_clear_message(db, tmp_path: Path, capsys) -> None:
    url, _ = db
    assert main(["brief", "--db", url, "--period", "2025-13", "--out", str(tmp_path / "b.docx")]) == 2
    assert "not a month: '2025-13'" in capsys.readouterr().err
    assert not (tmp_path / "b.docx").exists()


def test_month_outside_the_panel_is_refused(db, tmp_path: Path, capsys) -> None:
    url, _ = db
    assert main(["brief", "--db", url, "--period", "2019-01", "--out", str(tmp_path / "b.docx")]) == 2
    err = capsys.readouterr().err
    assert "no panel data for 2019-01" in err and "2024-01..2025-03" in err


@pytest.mark.parametrize("out", ["b.pdf", "missing/b.docx"])
def test_bad_output_paths(db, tmp_path: Path, capsys, out: str) -> None:
    url, spec = db
    assert main(["brief", "--db", url, "--period", str(spec.periods[-1]), "--out", str(tmp_path / out)]) == 2
    assert capsys.readouterr().err.startswith("fanpin: ")


def test_missing_database_exits_non_zero(tmp_path: Path, capsys) -> None:
    assert main(["brief", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--period", "2025-01", "--out", str(tmp_path / "b.docx")]) == 2
    assert capsys.readouterr().err.startswith("fanpin: ")


def test_writes_docx_and_xlsx_and_audits_the_os_user(db, tmp_path: Path, capsys) -> None:
    url, spec = db
    out = tmp_path / "brief.docx"
    assert main(["brief", "--db", url, "--period", "2025-02", "--out", str(out)]) == 0
    assert out.stat().st_size > 20_000
    xlsx = out.with_suffix(".xlsx")
    assert "乡镇排名" in load_workbook(xlsx).sheetnames
    assert "2025年2月防返贫监测研判报告" in document_text(out.read_bytes())
    assert "compute" in capsys.readouterr().err
    with store.make_engine(url).connect() as conn:
        row = conn.execute(select(audit_log.c.actor, audit_log.c.target).where(audit_log.c.action == "brief").order_by(audit_log.c.audit_id.desc())).first()
    assert row == (f"cli:{getpass.getuser()}", "202502")


def test_english_and_a_named_workbook(db, tmp_path: Path) -> None:
    url, spec = db
    out, xlsx = tmp_path / "en.docx", tmp_path / "tables" / "t.xlsx"
    xlsx.parent.mkdir()
    assert main(["brief", "--db", url, "--period", str(spec.periods[-1]), "--out", str(out), "--lang", "en", "--xlsx", str(xlsx)]) == 0
    assert "1. The month at a glance" in document_text(out.read_bytes())
    assert "Townships" in load_workbook(io.BytesIO(xlsx.read_bytes())).sheetnames
    assert not out.with_suffix(".xlsx").exists()


def test_missing_cjk_font_exits_non_zero(db, tmp_path: Path, capsys, monkeypatch) -> None:
    from fanpin.report import charts as brief_charts

    url, spec = db
    monkeypatch.setattr(brief_charts, "CJK_FAMILY", "No Such CJK Family")
    brief_charts.cjk_font_path.cache_clear()
    try:
        assert main(["brief", "--db", url, "--period", str(spec.periods[-1]), "--out", str(tmp_path / "b.docx")]) == 2
        assert "No Such CJK Family" in capsys.readouterr().err
    finally:
        monkeypatch.undo()
        brief_charts.cjk_font_path.cache_clear()
