"""The income-lines sheet of a workbook (年度, 监测收入标准（元）): recognised by its headers under a
title row, its lines stored once (audited), bad rows and a year given twice refused with nothing
written, an unchanged re-import reported as already imported."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import Principal
from fanpin.ingest import book
from fanpin.ingest import lines as lines_sheet
from fanpin.store.meta import income_lines
from fanpin.store.schema import audit_log

STEWARD = Principal("steward", "data_steward")
TODAY, NOW = date(2025, 7, 1), datetime(2025, 7, 1, 9)


def _book(rows: list[list], header: tuple = ("年度", "监测收入标准（元）"), title: str = "某县防止返贫监测 监测收入标准") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "监测收入标准"
    ws.append([title])
    ws.append(list(header))
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def engine(tmp_path: Path):
    e = store.make_engine(f"sqlite:///{tmp_path / 'c.db'}", create=True)
    store.upgrade(e)
    yield e
    e.dispose()


def _import(engine, data: bytes) -> book.WorkbookResult:
    return book.import_workbook(engine, data, "lines.xlsx", principal=STEWARD, today=TODAY, now=NOW)


def test_lines_are_stored_once_and_audited(engine) -> None:
    version = store.data_version(engine)
    res = _import(engine, _book([[2024, 7800], [2025, "8,100"], ["", ""]]))
    assert res.status == "applied", res.report.text("en")
    assert income_lines(engine) == {2024: 7800.0, 2025: 8100.0}
    assert store.data_version(engine) != version
    table = res.report.tables("en")
    assert table.iloc[0].tolist() == ["监测收入标准", "Income lines", 2, "stores the lines of 2 year(s): 2024、2025 (the rest as stored)"]
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "income_line_set")).mappings().all()
    assert len(rows) == 1 and rows[0]["actor"] == "steward"
    assert json.loads(rows[0]["detail"])["lines"] == {"2024": 7800.0, "2025": 8100.0}
    # the same lines again: nothing to do; one line changed: only that year is written
    assert _import(engine, _book([[2024, 7800], [2025, 8100]])).status == "already"
    res = _import(engine, _book([[2024, 7800], [2025, 8150]], header=("年份", "监测收入标准")))
    assert res.status == "applied" and res.report.lines_new == {2025: 8150.0}
    assert income_lines(engine) == {2024: 7800.0, 2025: 8150.0}


@pytest.mark.parametrize(("rows", "code"), [
    ([[2024, 7800], [20245, 8100]], "bad_income_line"),
    ([[2024, 7800], [2025, 0]], "bad_income_line"),
    ([[2024, 7800], [2025, "八千"]], "bad_income_line"),
    ([[2024.5, 7800]], "bad_income_line"),
    ([[2025, 8100], [2025, 8200]], "income_line_twice"),
])
def test_bad_rows_refuse_the_file(engine, rows: list[list], code: str) -> None:
    res = _import(engine, _book(rows))
    assert res.status == "refused"
    assert [p.code for r in res.report.reports for p in r.problems] == [code]
    assert income_lines(engine) == {}


def test_only_the_two_headers_make_a_lines_sheet() -> None:
    assert lines_sheet.columns(["年度", "监测收入标准（元）"]) == (0, 1)
    assert lines_sheet.columns(["", "监测收入标准（元/人·年）", "年度"]) == (2, 1)
    assert lines_sheet.columns(["年度", "户编号", "监测收入标准（元）"]) is None  # a table with a household: not the lines
    assert lines_sheet.columns(["年度", "工资性收入（元）"]) is None
