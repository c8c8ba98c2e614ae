"""The administrator creates a province leader and moves them to a city leader on 用户与审计 (AppTest,
SQLite copy of the small demo county, no analytic store: the database's regions only)."""

from __future__ import annotations

import pytest

from fanpin.access import users

from .conftest import open_page


@pytest.fixture
def db(demo_copy, tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FANPIN_STORE_DIR", str(tmp_path / "no-store"))
    return demo_copy


def test_admin_creates_a_province_leader_with_a_region_and_moves_them(db) -> None:
    at = open_page("admin", role="admin")
    at.text_input(key="ad_name").input("gov")
    at.selectbox(key="ad_role_zh").set_value("province_leader")
    at.text_input(key="ad_region").input("99")
    at.text_input(key="ad_pw").input("gov-pass-word")
    at.text_input(key="ad_pw2").input("gov-pass-word")
    at.button(key="ad_add").click().run()
    assert not at.exception, at.exception
    u = users.get_user(db, "gov")
    assert (u.role, u.region) == ("province_leader", "990000000000")
    shown = at.dataframe[0].value
    row = shown[shown["username"] == "gov"].iloc[0]
    assert (row["role"], row["townships"]) == ("省级领导", "省 99")
    # a city code for a province leader: refused with the reason, nothing stored
    at.text_input(key="ad_name").input("gov2")
    at.selectbox(key="ad_role_zh").set_value("province_leader")
    at.text_input(key="ad_region").input("9901")
    at.text_input(key="ad_pw").input("gov-pass-word")
    at.text_input(key="ad_pw2").input("gov-pass-word")
    at.button(key="ad_add").click().run()
    assert users.get_user(db, "gov2") is None
    assert any("省级区划代码" in e.value for e in at.error)
    # moved to city leader of 9901
    at.selectbox(key="ad_target").set_value("gov").run()
    at.selectbox(key="ad_new_role_zh_gov").set_value("city_leader").run()
    at.text_input(key="ad_new_region_gov").input("9901").run()
    [c for c in at.checkbox if c.key.startswith("ad_role_sure_gov_city_leader")][0].check().run()
    at.button(key="ad_role_change").click().run()
    assert not at.exception, at.exception
    assert (users.get_user(db, "gov").role, users.get_user(db, "gov").region) == ("city_leader", "990100000000")
