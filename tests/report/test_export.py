"""Exports: CSV that Excel opens with Chinese intact, .xlsx, and no formula injection."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import pandas as pd
import pytest

from fanpin.report.export import csv_bytes, escape_cell, safe_frame, write_table

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("text", ["=1+1", "+86 138", "-2+3", "@SUM(A1:A9)", "\tcmd", "\r=1", "=HYPERLINK(\"http://x\")", "-"])
def test_formula_starts_are_quoted(text: str) -> None:
    assert escape_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["张三", "abc", "", " =1", "1=1", "a-b", "'=1", "990101001001"])
def test_plain_text_is_left_alone(value: str) -> None:
    assert escape_cell(value) == value


@pytest.mark.parametrize("value", [5, -5, 3.25, -0.5, np.float64(-1.5), np.int64(-3), None, True, float("nan")])
def test_non_text_is_left_alone(value: object) -> None:
    assert escape_cell(value) is value


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": ["99010100100100001", "99010100100100002", "99010100100100003"],
            "姓名": ["张三", "李四", "=1+1"],
            "note": ["因病致贫，需核查", "@cmd", "-5"],
            "score": [12.5, -3.0, 88.25],
            "n": [1, -2, 3],
            "=evil": ["a", "b", "c"],
        }
    )


def test_safe_frame(frame: pd.DataFrame) -> None:
    out = safe_frame(frame)
    assert list(out.columns) == ["household_id", "姓名", "note", "score", "n", "'=evil"]
    assert out["姓名"].tolist() == ["张三", "李四", "'=1+1"]
    assert out["note"].tolist() == ["因病致贫，需核查", "'@cmd", "'-5"]
    assert out["score"].tolist() == [12.5, -3.0, 88.25] and out["score"].dtype == np.float64
    assert out["n"].tolist() == [1, -2, 3]
    assert frame["姓名"].tolist()[2] == "=1+1" and frame.columns[-1] == "=evil"  # the input is not modified


def test_csv_bytes(frame: pd.DataFrame) -> None:
    data = csv_bytes(frame)
    assert data.startswith(BOM)
    assert not data[3:].startswith(BOM)
    text = data[3:].decode("utf-8")
    assert "张三" in text and "因病致贫，需核查" in text
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"household_id": str})
    assert list(back.columns) == ["household_id", "姓名", "note", "score", "n", "'=evil"]
    assert back["household_id"].tolist() == frame["household_id"].tolist()
    assert back["姓名"].tolist() == ["张三", "李四", "'=1+1"]
    assert back["note"].tolist() == ["因病致贫，需核查", "'@cmd", "'-5"]
    assert back["score"].tolist() == [12.5, -3.0, 88.25]
    assert back["n"].tolist() == [1, -2, 3]
    # no line of the file starts a formula
    for line in text.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), cell


def test_xlsx_bytes_opens_and_stores_text(frame: pd.DataFrame, tmp_path) -> None:
    path = tmp_path / "out.xlsx"
    write_table(frame, path)
    wb = openpyxl.load_workbook(path)
    ws = wb["data"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("household_id", "姓名", "note", "score", "n", "'=evil")
    assert rows[1] == ("99010100100100001", "张三", "因病致贫，需核查", 12.5, 1, "a")
    cell = ws.cell(row=4, column=2)
    assert cell.value == "'=1+1"
    assert cell.data_type == "s"
    assert ws.cell(row=3, column=3).value == "'@cmd"
    assert ws.cell(row=3, column=4).value == -3.0 and ws.cell(row=3, column=4).data_type == "n"
    # no formula anywhere
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_xlsx_sheet_name_is_cut_to_excels_limit(frame: pd.DataFrame) -> None:
    from fanpin.report.export import xlsx_bytes

    wb = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(frame, sheet="x" * 40)))
    assert wb.sheetnames == ["x" * 31]


@pytest.mark.parametrize("name", ["out.csv", "OUT.CSV"])
def test_write_table_csv(frame: pd.DataFrame, tmp_path, name: str) -> None:
    path = tmp_path / name
    write_table(frame, str(path))
    assert path.read_bytes() == csv_bytes(frame)


@pytest.mark.parametrize("name", ["out.txt", "out.json", "out.xls", "out", "out.csv.gz"])
def test_write_table_rejects_other_suffixes(frame: pd.DataFrame, tmp_path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(ValueError, match="unsupported output type.*use .csv or .xlsx"):
        write_table(frame, path)
    assert not path.exists()


# --------------------------------------------------------------------------- the one audited export
@pytest.fixture()
def audit_db(tmp_path):
    from fanpin import store

    engine = store.make_engine(f"sqlite:///{tmp_path / 'x.db'}", create=True)
    store.upgrade(engine)
    return engine


def _exports(engine) -> list:
    from sqlalchemy import select

    from fanpin.store.schema import audit_log

    with engine.connect() as conn:
        return conn.execute(select(audit_log).where(audit_log.c.action == "export").order_by(audit_log.c.audit_id)).all()


def test_export_table_masks_escapes_and_writes_one_audit_row(audit_db) -> None:
    from fanpin.access.roles import Principal
    from fanpin.report.export import export_table

    people = pd.DataFrame({"name": ["张三丰", "=cmd"], "id_number": ["990101199001011234", "990101199001015678"], "size": [3, 4]})
    me = Principal("wang", "analyst")
    data = export_table(audit_db, me, people, "members_x", "csv", labels={"name": "姓名", "id_number": "证件号码", "size": "人数"})
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "姓名,证件号码,人数"
    assert "张*" in text and "张三丰" not in text  # masked by code name, then labelled
    assert "990101********1234" in text and "199001011234" not in text
    assert text.splitlines()[2].startswith("'=*,")  # the masked "=cmd" still starts like a formula: quoted
    rows = _exports(audit_db)
    assert len(rows) == 1 and rows[0].actor == "wang" and rows[0].target == "members_x"
    assert rows[0].detail == '{"format": "csv", "rows": 2}'


def test_export_needs_the_export_right_and_unmasking_the_unmask_right(audit_db) -> None:
    from fanpin.access.roles import AccessDenied, Principal
    from fanpin.report.export import export_table

    frame = pd.DataFrame({"name": ["张三"]})
    with pytest.raises(AccessDenied):
        export_table(audit_db, Principal("t", "trainer"), frame, "x", "csv")
    with pytest.raises(AccessDenied):
        export_table(audit_db, Principal("l", "leader"), frame, "x", "csv", unmasked=True)  # leaders export but do not unmask
    assert not _exports(audit_db)  # a refused export leaves no row
    data = export_table(audit_db, Principal("a", "analyst"), frame, "x", "xlsx", unmasked=True)
    assert openpyxl.load_workbook(io.BytesIO(data)).active["A2"].value == "张三"
