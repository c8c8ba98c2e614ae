"""AppTest: evidence uploaded on the order card (预警处置) and on a case's chain step (监测台账), shown
as thumbnails with a download each; a file that is not a photo or PDF is refused in the panel with
the message; a role that may not attach sees the files only.  (Deferred downloads run only in a
browser: tests/browser/test_evidence.py clicks them.)"""

from __future__ import annotations

import pytest

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.core.i18n import translate
from fanpin.workflow import clues, evidence, procedure
from fanpin.workflow import orders as orders_mod
from tests.app.conftest import open_page, switch_user
from tests.workflow.chain import decide
from tests.workflow.test_evidence import jpeg, pdf


def _no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _keys(at, kind: str) -> set[str]:
    return {w.key for w in at.get(kind) if getattr(w, "key", None)}


@pytest.fixture
def order(demo_copy):
    eng = demo_copy
    box = clues.clue_inbox(eng, principal=SYSTEM, until_period=store.periods(eng)[-1])
    oid = orders_mod.create_order(eng, clue_ids=[int(box["clue_id"].iloc[0])], assignee_kind="township", assignee=box["township_code"].iloc[0],
                                  principal=Principal("someone", "admin"))
    return eng, oid


def test_upload_on_the_order_card(order) -> None:
    eng, oid = order
    at = open_page("clues", role="case_worker")
    _no_exception(at)
    at.selectbox(key="cl_order_zh").set_value(oid).run()
    key = f"ev_order{oid}"
    assert f"{key}_up_0" in _keys(at, "file_uploader") and f"{key}_visit" in _keys(at, "download_button")
    photo, scan = jpeg(seed=21), pdf()
    at.file_uploader(key=f"{key}_up_0").set_value([("入户照片.jpg", photo, "image/jpeg"), ("签字表.pdf", scan, "application/pdf")]).run()
    at.button(key=f"{key}_attach").click().run()
    _no_exception(at)
    files = evidence.list_for(eng, "order", oid, principal=SYSTEM)
    assert files["file_name"].tolist() == ["入户照片.jpg", "签字表.pdf"] and set(files["uploaded_by"]) == {"case_worker"}
    assert evidence.get(eng, int(files["attachment_id"].iloc[0]), principal=SYSTEM)["content"] == photo
    assert any(translate("evidence.added", "zh", n=2) in str(s.value) for s in at.success)
    assert len(at.get("image")) == 1  # the photo's thumbnail; the PDF shows its mark
    assert {f"{key}_dl_{int(a)}" for a in files["attachment_id"]} <= _keys(at, "download_button")
    assert f"{key}_up_1" in _keys(at, "file_uploader")  # a fresh, empty uploader
    # a ZIP renamed to .jpg: refused in the panel, with what it is and what is accepted
    at.file_uploader(key=f"{key}_up_1").set_value(("photo.jpg", b"PK\x03\x04" + b"\x00" * 300, "image/jpeg")).run()
    at.button(key=f"{key}_attach").click().run()
    _no_exception(at)
    refused = " ".join(str(e.value) for e in at.error)
    assert "压缩包" in refused and "JPEG、PNG" in refused
    # the same photo again: said, not stored twice
    at.file_uploader(key=f"{key}_up_2").set_value(("again.jpg", photo, "image/jpeg")).run()
    at.button(key=f"{key}_attach").click().run()
    assert any("未重复保存" in str(i.value) for i in at.info)
    assert len(evidence.list_for(eng, "order", oid, principal=SYSTEM)) == 2
    # nothing chosen: a warning, nothing stored
    at.button(key=f"{key}_attach").click().run()
    assert any(translate("evidence.pick_first", "zh") in str(w.value) for w in at.warning)


def test_a_case_step_gets_its_signed_record_and_a_leader_only_views_orders(order) -> None:
    eng, oid = order
    last = store.periods(eng)[-1]
    cid = decide(eng, oid, Principal("someone", "admin"), included=True, period=last, category="marginal", risk_types=["illness"])
    evidence.attach(eng, "order", oid, "visit.jpg", jpeg(seed=22), principal=SYSTEM)
    at = open_page("register", role="case_worker")
    _no_exception(at)
    at.selectbox(key="w_rg_case_zh").set_value(cid).run()
    key = f"ev_case{cid}"
    assert f"{key}_file" in _keys(at, "download_button")
    assert len(at.get("image")) == 1  # the order's photo shows on the case
    at.selectbox(key=f"{key}_step_zh").set_value("village_review").run()
    at.file_uploader(key=f"{key}_up_0").set_value(("村民代表会议记录.pdf", pdf(), "application/pdf")).run()
    at.button(key=f"{key}_attach").click().run()
    _no_exception(at)
    files = evidence.list_for(eng, "case", cid, principal=SYSTEM)
    assert files[["file_name", "step", "uploaded_by"]].values.tolist() == [["村民代表会议记录.pdf", "village_review", "case_worker"]]
    assert procedure.cases(eng, household_id=files["household_id"].iloc[0], principal=SYSTEM).iloc[0]["state"] == "village_review"
    # a data steward sees an order's evidence but gets no uploader
    at = open_page("clues", role="data_steward")
    at.selectbox(key="cl_order_zh").set_value(oid).run()
    _no_exception(at)
    assert f"ev_order{oid}_up_0" not in _keys(at, "file_uploader")
    assert any(translate("evidence.view_only", "zh") in str(c.value) for c in at.caption)
    switch_user(at, "case_worker")
    _no_exception(at)


def test_the_visit_form_button_on_the_profile_and_the_todo_page(order) -> None:
    eng, oid = order
    hid = orders_mod.get_order(eng, oid, principal=SYSTEM)["household_id"]
    at = open_page("profile", role="case_worker")
    at.text_input(key="pf_search").input(hid).run()
    _no_exception(at)
    assert "pf_visit_form" in _keys(at, "download_button")
    at = open_page("profile", role="township_leader")
    at.text_input(key="pf_search").input(hid).run()
    assert "pf_visit_form" in _keys(at, "download_button")  # masked names for this role (tests/workflow/test_evidence.py)
    last = store.periods(eng)[-1]
    cid = decide(eng, oid, Principal("someone", "admin"), included=True, period=last, category="marginal", risk_types=["illness"])
    at = open_page("todo", role="case_worker")  # the case panel (with its evidence) is drawn here as well
    _no_exception(at)
    keys = _keys(at, "download_button")
    assert f"ev_case{cid}_file" in keys or not any(k.startswith("ev_case") for k in keys)
