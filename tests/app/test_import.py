"""AppTest: the import page renders for a data steward in both languages, refuses a leader, and
takes an uploaded file (``FileUploader.upload``) through the report to the import.

Validation and writing in depth are tested in tests/ingest/ through the same
``fanpin.ingest`` functions the page calls.
"""

from __future__ import annotations

import pytest

from fanpin.ingest import specs

from .conftest import open_page


def _texts(at) -> str:
    return " ".join(str(x.value) for x in (*at.title, *at.subheader, *at.markdown, *at.caption, *at.success, *at.error, *at.warning, *at.info))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_renders_for_a_data_steward(app_db, lang: str) -> None:
    at = open_page("import", lang=lang, role="data_steward")
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert ("数据导入" if lang == "zh" else "Data import") in text
    assert ("最近的导入批次" if lang == "zh" else "Recent import batches") in text
    # the uploader's own English ("Upload", "100MB per file") explained in the user's language (issue 18 item 12)
    assert {"zh": "将文件拖入上面的框内，或点击框内的“Upload”（上传）按钮选择文件。格式：CSV、XLSX、TXT；单个文件不超过 100 MB",
            "en": "Drag the file onto the box above, or click its “Upload” button to choose it. Formats: CSV, XLSX, TXT; at most 100 MB per file"}[lang] in text
    box = at.selectbox(key=f"import_kind_{lang}")
    # a whole workbook first (issue 14), then each single-file kind
    assert box.options[:2] == [("整个工作簿（自动识别各表）" if lang == "zh" else "A whole workbook (tables recognised)"), ("农户信息" if lang == "zh" else "Household roster")]
    assert len(box.options) == len(specs.KINDS) + 1
    # Another kind shows its own column help; the page still runs cleanly.
    box.select_index(1 + specs.KINDS.index("members")).run()
    assert not at.exception
    headers = at.dataframe[0].value.iloc[:, 0].tolist()
    assert headers[:3] == (["户编号", "姓名", "证件号码"] if lang == "zh" else ["Household ID", "Name", "ID number"])
    assert not at.error


def test_page_refuses_a_leader(app_db) -> None:
    at = open_page("import", role="leader")
    assert not at.exception
    assert at.error and "数据导入" not in " ".join(x.value for x in at.title)
    assert not [s for s in at.selectbox if s.key.startswith("import_kind")]


@pytest.fixture
def empty_app_db(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A county's first days: its regions and one household with one month (the app opens only on
    a database with monitoring data), pointed to by FANPIN_DB_URL."""
    from fanpin import store
    from fanpin.access.roles import SYSTEM
    from fanpin.demo.national_sample import sample_bytes
    from fanpin.ingest import apply

    url = f"sqlite:///{tmp_path / 'first.db'}"
    eng = store.make_engine(url, create=True)
    store.upgrade(eng)
    assert apply.import_file(eng, "regions", sample_bytes(), "sample.xlsx", principal=SYSTEM).status == "applied"  # its 行政区划 sheet
    village = eng.connect().exec_driver_sql("SELECT region_code FROM regions WHERE level = 'village' ORDER BY region_code LIMIT 1").scalar()
    hh = f"户编号,行政村代码,户类型,家庭人口数\n{village}99999,{village},一般农户,1\n".encode()
    assert apply.import_file(eng, "households", hh, "hh.csv", principal=SYSTEM).status == "applied"
    panel = f"年月,户编号,家庭纯收入,家庭人均纯收入\n202401,{village}99999,20000,20000\n".encode()
    assert apply.import_file(eng, "panel", panel, "p.csv", principal=SYSTEM).status == "applied"
    monkeypatch.setenv("FANPIN_DB_URL", url)
    yield eng
    eng.dispose()


@pytest.fixture
def import_db(demo_copy):
    """A copy of the small demo county (the shared one stays untouched)."""
    return demo_copy

def test_upload_refused_then_accepted_and_applied(import_db) -> None:
    """Through the page: a bad file shows its report and no apply button; a good one is imported."""
    from sqlalchemy import select

    from fanpin.store import schema as S

    with import_db.connect() as conn:
        village = conn.exec_driver_sql("SELECT region_code FROM regions WHERE level = 'village' ORDER BY region_code LIMIT 1").scalar()
        n_before = conn.exec_driver_sql("SELECT COUNT(*) FROM households").scalar()
    at = open_page("import", role="data_steward")
    at.selectbox(key="import_kind_zh").select_index(1).run()  # one file of households
    bad = f"户编号,行政村代码,户类型,家庭人口数\n99990000000000001,{village},贫困户,3\n".encode("gb18030")
    at.get("file_uploader")[0].upload("bad.csv", bad, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[1].value
    assert table.iloc[0].tolist()[:4] == ["2", "户类型", "贫困户", "不是有效取值，可选：脱贫户、一般农户"]
    assert "未通过校验：不是有效取值，可选：脱贫户、一般农户" in _texts(at)  # the first error, said where it shows
    assert not [b for b in at.button if b.key == "import_apply"]
    with import_db.connect() as conn:
        assert conn.execute(select(S.import_batches.c.status, S.import_batches.c.imported_by)).all() == [("refused", "data_steward")]
    good = f"户编号,行政村代码,户类型,家庭人口数\n99990000000000001,{village},脱贫户,3\n".encode("utf-8-sig")
    up = at.get("file_uploader")[0]
    up.set_value(("good.csv", good, "text/csv"))
    at.run()
    assert "校验通过，可以导入" in _texts(at)
    at.button(key="import_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "已导入为批次 2：新增 1，更新 0，无变化 0，跳过 0" in _texts(at)
    with import_db.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM households").scalar() == n_before + 1
        assert conn.execute(select(S.import_batches.c.status).order_by(S.import_batches.c.batch_id)).scalars().all() == ["refused", "applied"]


def test_the_sample_workbook_through_the_page_into_an_empty_county(empty_app_db) -> None:
    """A trainer's workshop: the whole-workbook choice takes the committed sample, shows the tables
    it found and imports them all in one go."""
    at = open_page("import", role="data_steward")
    assert at.selectbox(key="import_kind_zh").value == "workbook"
    at.toggle(key="import_use_sample").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    tables = next(d.value for d in at.dataframe if "表" in d.value.columns)
    assert tables["表"].tolist() == ["行政区划", "农户信息", "监测信息", "月度指标", "家庭成员", "年度收支", "帮扶措施"]
    assert "校验通过，可以导入" in _texts(at)
    at.button(key="import_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "已导入 7 张表" in _texts(at)
    with empty_app_db.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM monitoring_records").scalar() > 10


def test_unrecognised_columns_wait_for_the_confirmation(import_db) -> None:
    from tests.ingest import test_workbook as tw

    with import_db.connect() as conn:
        hid = conn.exec_driver_sql("SELECT household_id FROM households ORDER BY household_id LIMIT 1").scalar()
    at = open_page("import", role="data_steward")
    data = tw.csv_of(["户编号", "监测对象类别", "致贫/返贫风险1", "识别监测时间", "备注"], [[hid, "边缘易致贫户", "因病", "202402", "x"]], "监测")
    at.get("file_uploader")[0].upload("监测.csv", data, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.key == "import_apply"]
    at.checkbox(key="import_accept_columns").check().run()
    assert "校验通过，可以导入" in _texts(at)
    at.button(key="import_apply").click().run()
    assert "已导入 1 张表" in _texts(at)
    with import_db.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT monitoring_category, risk_1 FROM monitoring_records WHERE household_id = '{hid}'").all() == [("marginal", "illness")]


def test_the_national_export_button_is_there_for_roles_that_export(app_db) -> None:
    at = open_page("import", role="data_steward")
    assert [b for b in at.get("download_button") if b.proto.id and "national_export" in str(b.proto)]
    assert not [c for c in at.checkbox if c.key == "national_unmasked"]  # a data steward may not unmask
    at = open_page("import", role="admin")
    assert [c for c in at.checkbox if c.key == "national_unmasked"]


def test_an_update_shows_its_changes_then_rolls_back(import_db) -> None:
    """Issue 18 item 4 through the page: the fields an update changes, "A → B", before the import
    button; the batch then rolled back from the page (confirmation first), the household as before."""
    with import_db.connect() as conn:
        hid, htype, farmland = conn.exec_driver_sql("SELECT household_id, household_type, farmland_mu FROM households ORDER BY household_id LIMIT 1").one()
    new_type = "ordinary" if htype == "former_poor" else "former_poor"
    label = {"ordinary": "一般农户", "former_poor": "脱贫户"}
    at = open_page("import", role="data_steward")
    at.selectbox(key="import_kind_zh").select_index(1).run()
    text = f"户编号,户类型,耕地面积(亩)\n{hid},{label[new_type]},{farmland + 1:g}\n"
    at.get("file_uploader")[0].upload("roster.csv", text.encode("utf-8"), "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "导入前核对：将更新的字段" in _texts(at)
    changes = next(d.value for d in at.table if "变更" in d.value.columns).map(lambda v: str(v).replace("\\", ""))  # cells are markdown-escaped
    assert changes.values.tolist() == [
        ["2", hid, "户类型", f"{label[htype]} → {label[new_type]}"],
        ["2", hid, "耕地面积(亩)", f"{farmland:g} → {farmland + 1:g}"],
    ]
    at.button(key="import_apply").click().run()
    assert "已导入为批次 1：新增 0，更新 1，无变化 0，跳过 0" in _texts(at)
    with import_db.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT household_type FROM households WHERE household_id = '{hid}'").scalar() == new_type
    assert at.selectbox(key="import_rollback_pick_1").value == 1
    assert at.button(key="import_rollback_go").disabled  # not before the confirmation
    at.checkbox(key="import_rollback_sure_1").check().run()
    at.button(key="import_rollback_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "已回滚批次 1：恢复 1 条记录的原值，删除 0 条新增记录。同一文件可以重新导入" in _texts(at)
    with import_db.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT household_type, farmland_mu FROM households WHERE household_id = '{hid}'").one() == (htype, farmland)
        assert conn.exec_driver_sql("SELECT status, rolled_back_by FROM import_batches").all() == [("rolled_back", "data_steward")]
    assert not [s for s in at.selectbox if s.key.startswith("import_rollback_pick")]  # nothing left to roll back


def test_a_wrong_kind_says_so_first(import_db) -> None:
    """Issue 18 item 10: a members file chosen as rosters: the error says what the file looks like,
    first; errors before warnings; the row of a file-level problem is blank, never "None" (the
    English messages are asserted in tests/ingest/test_undo.py)."""
    at = open_page("import", role="data_steward")
    at.selectbox(key="import_kind_zh").select_index(1).run()
    text = "序号,户编号,姓名,证件号码,性别,与户主关系,民族,文化程度,健康状况,劳动技能\n1,99010100100100001,张三,990101198001010014,男,户主,汉族,小学,健康,普通劳动力\n"
    at.get("file_uploader")[0].upload("members.csv", text.encode("utf-8"), "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    first = "这个文件看起来是“家庭成员”文件：9 列中有 9 列是它的表头，而所选的“农户信息”只认得 1 列。请在上方的“导入类型”中改选“家庭成员”"
    assert at.error[0].value.replace("\\", "") == "未通过校验：" + first
    table = at.dataframe[1].value
    assert table.iloc[0, 0] == "" and table.iloc[0, 3] == first
    assert "None" not in table.iloc[:, 0].tolist()
    sev = table.iloc[:, 4].tolist()
    assert sev == ["错误"] * (len(sev) - 1) + ["提示"]  # every error first, the one note (序号) last
