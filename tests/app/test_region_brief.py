"""The region brief's buttons (``fanpin.ui.region_brief``) on a province's overview (AppTest, SQLite):
built once in the background, offered as .docx and .xlsx, audited, named as the overview names the
province (from the demo province's boundaries)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fanpin.access import users
from fanpin.access.roles import SYSTEM
from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.demo.province_geography import province_boundaries
from fanpin.store.schema import audit_log
from fanpin.store.snapshot import SnapshotStore

from .conftest import finish_jobs, login, new_app, password_of

SPEC = ProvinceSpec(counties=3, households_per_county=600, months=5, townships=4, villages=12, counties_per_city=2, duplicates=0, seed=3)
_PROVINCE = province_boundaries(SPEC, townships=False)["province"]["features"][0]["properties"]
PROVINCE_NAME = {"zh": _PROVINCE["name"], "en": _PROVINCE["name_en"]}


@pytest.fixture(scope="module")
def province_store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    s = SnapshotStore(tmp_path_factory.mktemp("region_brief_app") / "store")
    build_province(s, SPEC)
    return s


@pytest.fixture
def app(app_db, province_store: SnapshotStore, monkeypatch: pytest.MonkeyPatch):
    """The app with the store and a province leader."""
    monkeypatch.setenv("FANPIN_STORE_DIR", str(province_store.root))
    monkeypatch.delenv("FANPIN_DASK_SCHEDULER", raising=False)
    engine = app_db[0]
    if users.get_user(engine, "gov_rb") is None:
        users.add_user(engine, "gov_rb", "province_leader", password_of("gov_rb"), region="99", principal=SYSTEM)
    return engine


def _briefs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(audit_log).where(audit_log.c.action == "brief", audit_log.c.actor == "gov_rb")).scalar()


@pytest.mark.parametrize(("lang", "labels"), [("zh", ("下载报告（Word）", "下载数据表（Excel）")), ("en", ("Download the brief (Word)", "Download the tables (Excel)"))])
def test_a_province_leader_builds_and_downloads_the_brief(app, lang: str, labels: tuple[str, str]) -> None:
    at = new_app()
    at.run()
    login(at, "gov_rb")
    if lang != "zh":
        at.radio(key="lang").set_value(lang).run()
    assert not at.exception, at.exception
    button = at.button(key="pv_brief")
    assert PROVINCE_NAME[lang] in button.label  # the overview's names
    before = _briefs(app)
    button.click()
    at.run()
    finish_jobs(at)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    shown = [d.proto.label for d in at.get("download_button")]
    assert all(x in shown for x in labels), shown
    assert _briefs(app) == before + 1
    at.run()  # a rerun keeps the built files: no second build
    assert _briefs(app) == before + 1
