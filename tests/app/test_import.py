"""AppTest: the import page renders for a data steward in both languages and refuses a leader.

AppTest cannot hand a file to ``st.file_uploader``, so validation and writing are tested in
tests/test_ingest.py through the same ``fanpin.ingest`` functions the page calls.
"""

from __future__ import annotations

import pytest

from fanpin import ingest

from .conftest import open_page


def _texts(at) -> str:  # noqa: ANN001
    return " ".join(str(x.value) for x in (*at.title, *at.subheader, *at.markdown, *at.caption, *at.success, *at.error, *at.warning, *at.info))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_renders_for_a_data_steward(app_db, lang: str) -> None:  # noqa: ANN001
    at = open_page("import", lang=lang, role="data_steward")
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert ("数据导入" if lang == "zh" else "Data import") in text
    assert ("最近的导入批次" if lang == "zh" else "Recent import batches") in text
    box = at.selectbox(key="import_kind")
    assert box.options == [("农户信息" if lang == "zh" else "Household roster"), *box.options[1:]]
    assert len(box.options) == len(ingest.KINDS)
    # Another kind shows its own column help; the page still runs cleanly.
    box.select_index(ingest.KINDS.index("members")).run()
    assert not at.exception
    headers = at.dataframe[0].value.iloc[:, 0].tolist()
    assert headers[:3] == (["户编号", "姓名", "证件号码"] if lang == "zh" else ["Household ID", "Name", "ID number"])
    assert not at.error


def test_page_refuses_a_leader(app_db) -> None:  # noqa: ANN001
    at = open_page("import", role="leader")
    assert not at.exception
    assert at.error and "数据导入" not in " ".join(x.value for x in at.title)
    assert not [s for s in at.selectbox if s.key == "import_kind"]
