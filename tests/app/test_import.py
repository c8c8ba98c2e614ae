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
    box = at.selectbox(key=f"import_kind_{lang}")
    assert box.options == [("农户信息" if lang == "zh" else "Household roster"), *box.options[1:]]
    assert len(box.options) == len(specs.KINDS)
    # Another kind shows its own column help; the page still runs cleanly.
    box.select_index(specs.KINDS.index("members")).run()
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
    bad = f"户编号,行政村代码,户类型,家庭人口数\n99990000000000001,{village},贫困户,3\n".encode("gb18030")
    at.get("file_uploader")[0].upload("bad.csv", bad, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[1].value
    assert table.iloc[0].tolist()[:4] == [2, "户类型", "贫困户", "不是有效取值，可选：脱贫户、一般农户"]
    assert "校验未通过，请按报告修改后重新上传" in _texts(at)
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
