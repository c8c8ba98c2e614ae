"""The fast .xlsx reader gives the cells openpyxl's read-only mode gives (strings shared and
inline, numbers, long numbers, booleans, dates and times, formulas' values, gaps, rich text)."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from fanpin.ingest import read, xlsx
from fanpin.ingest.names import norm
from fanpin.ingest.workbook import known_headers
from tests.ingest import test_workbook as tw


def _book(write_only: bool) -> bytes:
    wb = Workbook(write_only=write_only)
    if not write_only:
        wb.remove(wb.active)
    ws = wb.create_sheet("表一 & <测试>")
    ws.append(["标题：测试县"])
    ws.append(["户编号", "数", "是否", "日期", "时间", "长号", "公式"])
    ws.append(["A&B <1>", 3, True, date(2024, 3, 15), datetime(2024, 3, 15, 9, 30), 990101198001010014, "=1+2"])
    ws.append([None, 2.5, False, None, None, "_x000D_文本", None])
    ws.append([])
    ws.append(["尾行", -1e-7, None, None, None, 1.5e16, None])
    if not write_only:
        ws["H3"] = CellRichText(["粗", TextBlock(InlineFont(b=True), "体")])
        ws.cell(row=3, column=4).number_format = "yyyy年m月d日"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _openpyxl_cells(data: bytes) -> list[tuple[str, list[tuple[int, list]]]]:
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    out = []
    for ws in wb.worksheets:
        rows = [(i, [v for v in r]) for i, r in enumerate(ws.iter_rows(values_only=True), start=1)]
        out.append((ws.title, [(i, _trim(r)) for i, r in rows if any(v is not None for v in r)]))
    wb.close()
    return out


def _trim(r: list) -> list:
    r = list(r)
    while r and r[-1] is None:
        r.pop()
    return r


def _fast_cells(data: bytes) -> list[tuple[str, list[tuple[int, list]]]]:
    import zipfile

    zf = zipfile.ZipFile(io.BytesIO(data))
    strings, dates, base = xlsx.shared_strings(zf), xlsx.date_styles(zf), xlsx.epoch(zf)
    return [(s.title, [(i, _trim(r)) for i, r in xlsx.rows(xlsx.sheet_text(zf, s), strings, dates, base) if any(v is not None for v in r)]) for s in xlsx.sheets(zf)]


@pytest.mark.parametrize("write_only", [False, True], ids=["shared strings", "inline strings"])
def test_the_same_cells_as_openpyxl(write_only: bool) -> None:
    data = _book(write_only)
    assert _fast_cells(data) == _openpyxl_cells(data)


def test_the_same_grids_on_a_national_workbook() -> None:
    data = tw.national_workbook()
    fast = read._fast_sheets(data, lambda h: norm(h) in known_headers())
    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    slow = [(ws.title, read._read_sheet(ws, lambda h: norm(h) in known_headers())) for ws in wb.worksheets]
    assert [(t, g.header, g.rows, g.row_numbers, g.lossy) for t, g in fast] == [(t, g.header, g.rows, g.row_numbers, g.lossy) for t, g in slow]
