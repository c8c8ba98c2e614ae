"""Generate the bad-input corpus for tests/ingest/test_ingest.py (run: python tests/ingest/corpus/make_corpus.py).

Every file is refused by ``fanpin.ingest.validate``; the exact messages are asserted in
tests/test_ingest.py.  The files reference the hand-made county in ``fixture.py``.

Encodings: ``latin1.csv`` holds Latin-1 bytes that are neither UTF-8 nor GB18030 (0xE9 followed
by a comma is not a GB18030 sequence); ``shift_jis.csv`` holds Japanese text in Shift-JIS, whose
bytes *do* decode as GB18030 but into rare characters outside GB2312, so detection refuses it
instead of importing mojibake (see fanpin/ingest/read.py).  ``gbk_bad_bool.csv`` is valid GBK,
detected, and refused for a cell value, to show that GBK files get past the encoding step.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    sys.path.insert(0, str(HERE.parents[2]))

from tests.ingest.corpus.fixture import H1, H2, H3, ID_H1_HEAD, ID_H3_HEAD, V1, idn  # noqa: E402 - after the sys.path line that lets the script run on its own

HH = "户编号,行政村代码,户类型,家庭人口数\n"
MEM = "户编号,姓名,证件号码,与户主关系,劳动技能\n"
PANEL = "年月,户编号,工资性收入,家庭纯收入,家庭人均纯收入\n"


def _xlsx(build) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    build(wb)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _several_sheets(wb) -> None:
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["户编号", "行政村代码", "户类型", "家庭人口数"])
    ws.append(["99010100100100009", V1, "一般农户", 3])
    ws2 = wb.create_sheet("Sheet2")
    ws2.append(["说明"])
    ws2.append(["这是第二个工作表"])


def _merged_header(wb) -> None:
    ws = wb.active
    ws.title = "households"
    ws.append(["户编号", None, "户类型", "家庭人口数"])
    ws.merge_cells("A1:B1")
    ws.append(["99010100100100009", V1, "一般农户", 3])


def _number_id(wb) -> None:
    ws = wb.active
    ws.append(["户编号", "姓名", "证件号码", "与户主关系", "劳动技能"])
    ws.append([H1, "张小明", float(idn("20150601", "011")[:17] + "0"), "子女", "无劳动力"])


def files() -> dict[str, bytes]:
    f: dict[str, bytes] = {}
    f["latin1.csv"] = b"household_id,village_code,household_type,size\n99010100100100009,990101001001,ordinary,3\nCaf\xe9,S\xe3o Paulo,\xe9t\xe9,2\n"
    f["shift_jis.csv"] = "世帯番号,村コード,世帯区分\nあいう,かきく,さしす\n".encode("shift_jis")
    f["empty.csv"] = b""
    f["header_only.csv"] = HH.encode("utf-8-sig")
    f["missing_column.csv"] = ("户编号,姓名,与户主关系,劳动技能\n" + f"{H1},张小明,子女,无劳动力\n").encode()
    f["renamed_column.csv"] = ("户编号,姓名,身份证,与户主关系,劳动技能\n" + f"{H1},张小明,{idn('20150601', '011')},子女,无劳动力\n").encode()
    f["text_in_numeric.csv"] = (HH + f"99010100100100009,{V1},一般农户,三\n").encode()
    good = idn("20150601", "011")
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    f["bad_check_char.csv"] = (MEM + f"{H1},张小明,{wrong},子女,无劳动力\n").encode()
    f["impossible_birth.csv"] = (MEM + f"{H1},张小明,{idn('19990230', '011')},子女,无劳动力\n").encode()
    f["future_birth.csv"] = (MEM + f"{H1},张小明,{idn('20990101', '011')},子女,无劳动力\n").encode()
    f["unknown_region.csv"] = (HH + "99010100100100009,990101009009,一般农户,3\n").encode()
    f["duplicate_rows.csv"] = (HH + f"99010100100100009,{V1},一般农户,3\n99010100100100009,{V1},一般农户,3\n").encode()
    f["huge_cell.csv"] = (MEM + f"{H1},{'张' * 1_048_576},{good},子女,无劳动力\n").encode()
    f["thousands_columns.csv"] = (",".join(["户编号"] + [f"col{i}" for i in range(1, 5000)]) + "\n" + ",".join(["x"] * 5000) + "\n").encode()
    f["several_sheets.xlsx"] = _xlsx(_several_sheets)
    f["merged_header.xlsx"] = _xlsx(_merged_header)
    f["member_two_households_file.csv"] = (MEM + f"{H1},张小明,{good},子女,无劳动力\n{H3},张小明,{good},子女,无劳动力\n").encode()
    f["member_two_households_db.csv"] = (MEM + f"{H3},张伟,{ID_H1_HEAD},户主,普通劳动力\n").encode()
    f["negative_income.csv"] = (PANEL + f"202403,{H1},-500,29500,14750\n").encode()
    f["period_202413.csv"] = (PANEL + f"202413,{H1},30000,30000,15000\n").encode()
    f["gbk_bad_bool.csv"] = ("户编号,居住在易地扶贫搬迁集中安置区\n" + f"{H2},也许\n").encode("gbk")
    f["unknown_household.csv"] = (PANEL + "202403,99010109909900001,30000,30000,15000\n").encode()
    f["old_format.xls"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    f["not_really.xlsx"] = b"PK\x03\x04 this is not a workbook"
    f["ragged.csv"] = (HH + f"99010100100100009,{V1},一般农户,3,多余,单元格\n").encode()
    f["bad_measure.csv"] = ("户编号,年月,帮扶措施,金额\n" + f"{H1},202403,发钱,100\n").encode()
    f["excel_number_id.xlsx"] = _xlsx(_number_id)
    f["future_period.csv"] = ("户编号,年月,来源部门,风险类型\n" + f"{H1},209912,医保,因病\n").encode()
    f["sex_mismatch.csv"] = ("户编号,姓名,证件号码,性别,与户主关系,劳动技能\n" + f"{H1},张小明,{good},女,子女,无劳动力\n").encode()
    f["new_household_no_type.csv"] = ("户编号,行政村代码,家庭人口数\n" + f"99010100100100009,{V1},3\n").encode()
    f["duplicate_column.csv"] = ("户编号,household_id,家庭人口数\n" + f"{H1},{H1},3\n").encode()
    f["not_a_village.csv"] = (HH + "99010100100100009,990101001000,一般农户,3\n").encode()
    f["bad_relation.csv"] = ("干部证件号码,职务,亲属证件号码,亲属关系\n" + f"{ID_H3_HEAD},村支书,{ID_H1_HEAD},表亲\n").encode()
    f["feed_unknown_person.csv"] = ("证件号码,年月,来源部门,风险类型\n" + f"{idn('19800101', '031')},202403,民政,其他\n").encode()
    return f


def main() -> None:
    for name, data in files().items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(files())} files to {HERE}")


if __name__ == "__main__":
    main()
