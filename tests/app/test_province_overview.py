"""The overview, map and simulator at province and city level (AppTest, SQLite): a tiny demo
province (3 counties x 2,000 households x 13 months: 990101 and 990102 in city 9901, 990201 in
city 9902) built into the analytic store, the small demo county as the database that holds the
accounts.  The page's numbers are the engine's; the picker offers exactly the regions covered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fanpin import store
from fanpin.access import users
from fanpin.access.roles import SYSTEM
from fanpin.core import fmt
from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.demo.province_geography import province_boundaries
from fanpin.engine.distributed import ProvinceEngine
from fanpin.engine.scoring import RiskPolicy
from fanpin.store.snapshot import SnapshotStore

from .conftest import login, new_app, password_of

SPEC = ProvinceSpec(counties=3, households_per_county=2000, months=13, townships=5, villages=20, counties_per_city=2, duplicates=0, seed=11)
#: The regions' names as the demo province's boundaries give them, by 12-digit code.
_BOUNDS = province_boundaries(SPEC, townships=False)
ZH = {f["properties"]["region_code"]: f["properties"]["name"] for fc in _BOUNDS.values() for f in fc["features"]}
EN = {f["properties"]["region_code"]: f["properties"]["name_en"] for fc in _BOUNDS.values() for f in fc["features"]}
PROVINCE, CITY1, CITY2 = "990000000000", "990100000000", "990200000000"
COUNTIES = ["990101000000", "990102000000", "990201000000"]


@pytest.fixture(scope="module")
def province_store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    s = SnapshotStore(tmp_path_factory.mktemp("province") / "store")
    build_province(s, SPEC)
    return s


@pytest.fixture
def province_app(app_db, province_store: SnapshotStore, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FANPIN_STORE_DIR", str(province_store.root))
    monkeypatch.delenv("FANPIN_DASK_SCHEDULER", raising=False)
    engine = app_db[0]
    for name, role, region in (("gov", "province_leader", "99"), ("mayor2", "city_leader", "9902")):
        if users.get_user(engine, name) is None:
            users.add_user(engine, name, role, password_of(name), region=region, principal=SYSTEM)
    return province_store


def _open(username: str, page: str = "overview", lang: str = "zh"):
    at = new_app()
    at.run()
    login(at, username)
    if page != "overview":
        at.switch_page(f"pages/{page}.py")
        at.run()
    if lang != "zh":
        at.radio(key="lang").set_value(lang).run()
    assert not at.exception, at.exception
    return at


def _picker(at):
    return next(s for s in at.sidebar.selectbox if s.label in ("区域", "Region"))


def test_a_province_leader_sees_the_province_and_exactly_its_counties(province_app: SnapshotStore) -> None:
    at = _open("gov")
    picker = _picker(at)
    assert picker.value == "990000000000"  # the leader's own province first
    assert picker.options == ["清溪县（本库县）", ZH[PROVINCE], "\u3000" + ZH[CITY1], "\u3000\u3000" + ZH["990102000000"], "\u3000" + ZH[CITY2],
                              "\u3000\u3000" + ZH["990201000000"]]
    # the figures are the engine's (the default policy: the store is a demo province, not this database)
    agg = ProvinceEngine(province_app).trends(RiskPolicy.default())
    last = max(agg.periods)
    tot = agg.totals().set_index("period").loc[last]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["户数"] == fmt.count(int(tot["households"]), "zh") == "6,000"
    assert metrics["红色"] == fmt.count(int(tot["red"]), "zh")
    assert metrics["本月新增红色"] == fmt.count(int(tot["newly_red"]), "zh")
    assert metrics["风险连升3个月"] == fmt.count(int(tot["rising"]), "zh")
    assert ZH[PROVINCE] in at.title[0].value
    table = at.dataframe[0].value
    assert sorted(table["region"]) == sorted(ZH[c] for c in COUNTIES)
    by_county = agg.at("county").set_index(["region_code", "period"])
    for code, red, newly in zip(["990101000000", "990102000000", "990201000000"], *[[by_county.loc[(c, last), f] for c in
                                ["990101000000", "990102000000", "990201000000"]] for f in ("red", "newly_red")]):
        row = table[table["region"] == ZH[code]].iloc[0]
        assert (row["households"], row["red"], row["newly_red"]) == (2000, red, newly)
    # grouped by city: two rows that add up
    at.radio(key="pv_ov_by_zh").set_value("city").run()
    cities = at.dataframe[0].value
    assert sorted(cities["region"]) == sorted([ZH[CITY1], ZH[CITY2]]) and cities["households"].sum() == 6000


def test_a_city_leader_gets_their_city_only(province_app: SnapshotStore) -> None:
    at = _open("mayor2", lang="en")
    picker = _picker(at)
    assert picker.options == [EN[CITY2], "\u3000" + EN["990201000000"]]
    assert EN[CITY2] in at.title[0].value
    assert at.metric[0].value == "2,000"
    assert at.dataframe[0].value["region"].tolist() == [EN["990201000000"]]
    # another city asked for by the session state: not offered, so the page stays on their city
    at.session_state["region"] = "990100000000"
    at.run()
    assert not at.exception and EN[CITY2] in at.title[0].value and at.metric[0].value == "2,000"


def test_the_map_and_the_simulator_at_province_level(province_app: SnapshotStore) -> None:
    at = _open("gov", page="map")
    assert ZH[PROVINCE] in at.title[0].value
    assert any("粗线为市界" in c.value and "点击一个县" in c.value for c in at.caption) and not any("示意图" in c.value for c in at.caption)
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    drawn = next(layer for layer in deck["layers"] if layer["id"] == "regions")["data"]["features"]
    assert sorted(f["properties"]["region_code"] for f in drawn) == COUNTIES  # the counties' polygons, coloured by red share
    borders = next(layer for layer in deck["layers"] if layer["id"] == "cities")["data"]["features"]
    assert sorted(f["properties"]["region_code"] for f in borders) == [CITY1, CITY2]
    at.switch_page("pages/simulator.py")
    at.run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["红色"] and all(m.delta == "+0" for m in at.metric)  # the scenario starts at the baseline
    at.number_input(key="pv_sim_line").set_value(20000.0).run()
    assert not at.exception, at.exception
    red = next(m for m in at.metric if m.label == "红色")
    assert red.delta.startswith("+") and red.delta != "+0"  # a far higher line makes more red
    assert sorted(at.dataframe[1].value["region"]) == sorted(ZH[c] for c in COUNTIES)


def test_the_database_county_keeps_todays_overview(province_app: SnapshotStore) -> None:
    at = _open("gov")
    _picker(at).set_value(_picker(at).options and "990101000000").run()
    assert not at.exception, at.exception
    assert "清溪县" in at.title[0].value  # the county's own page, scoped to the leader's region (all of it)
    engine = store.make_engine(store.default_url())
    try:
        assert users.principal_for(engine, "gov").townships == frozenset(users.township_codes(engine))
    finally:
        engine.dispose()


def test_the_first_views_read_the_stored_sums_and_score_nothing(province_app: SnapshotStore) -> None:
    """The overview's and the simulator's first views at province level read the baseline aggregates
    written with the province (``fanpin.engine.baseline``): the engine is not asked to score anything."""
    import streamlit as st

    want = ProvinceEngine(province_app).trends(RiskPolicy.default())
    st.cache_data.clear()

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the first view scored county-months")

    tot = want.totals().set_index("period").loc[max(want.periods)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ProvinceEngine, "figures", refuse)
        mp.setattr(ProvinceEngine, "scenario", refuse)
        at = _open("gov")
        metrics = {m.label: m.value for m in at.metric}
        assert (metrics["户数"], metrics["红色"], metrics["风险连升3个月"]) == ("6,000", fmt.count(int(tot["red"]), "zh"), fmt.count(int(tot["rising"]), "zh"))
        at.switch_page("pages/simulator.py")
        at.run()
        assert not at.exception, at.exception
        assert next(m for m in at.metric if m.label == "红色").value == fmt.count(int(tot["red"]), "zh")
    # a scenario change is scored (one month, on the county files made resident after the first view)
    at.slider(key="pv_sim_cutoffs").set_value((20.0, 35.0)).run()  # lower than the default 25/40: more red
    assert not at.exception, at.exception
    red = next(m for m in at.metric if m.label == "红色")
    assert red.delta.startswith("+") and red.delta != "+0"


@pytest.mark.parametrize("page", ["overview", "map", "simulator"])
def test_the_province_pages_read_in_english(province_app: SnapshotStore, page: str) -> None:
    import re

    at = _open("gov", page=page, lang="en")
    texts = [at.title[0].value, *(c.value for c in at.caption), *(m.label for m in at.metric), *(s.value for s in at.sidebar.selectbox)]
    assert EN[PROVINCE] in at.title[0].value
    assert not [x for x in texts if re.search(r"[\u4e00-\u9fff]", str(x))]


def test_without_boundaries_the_map_is_schematic_and_regions_go_by_code(app_db, province_store: SnapshotStore, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    bare = SnapshotStore(tmp_path / "store")
    shutil.copytree(province_store.root, bare.root)
    shutil.rmtree(bare.boundaries_path("county").parent)  # a store synced from a database: no boundaries kept
    monkeypatch.setenv("FANPIN_STORE_DIR", str(bare.root))
    engine = app_db[0]
    if users.get_user(engine, "gov") is None:
        users.add_user(engine, "gov", "province_leader", password_of("gov"), region="99", principal=SYSTEM)
    at = _open("gov", page="map")
    assert "省 99" in at.title[0].value and any("示意图" in c.value for c in at.caption)
    assert not at.get("deck_gl_json_chart")
    assert _picker(at).options[1:3] == ["省 99", "\u3000市 9901"]


def test_the_province_simulator_weighs_dimensions_as_the_engine_does(province_app: SnapshotStore) -> None:
    """Income given half the weight (the other dimensions keep their proportions): the page's red count
    and changes are the engine's own scenario for that policy, and a page of zeros asks for a weight."""
    from dataclasses import replace

    from fanpin.engine.scenario import dimension_scaled, dimension_weights

    at = _open("gov", page="simulator")
    base = RiskPolicy.default()
    shares = {d: round(v, 3) for d, v in dimension_weights(base).items()}
    at.slider(key="pv_sim_w_income").set_value(0.6).run()
    assert not at.exception, at.exception
    chosen = {**shares, "income": 0.6}
    total = sum(chosen.values())
    engine = ProvinceEngine(province_app)
    last = max(province_app.manifest().periods)
    month_base = engine.policy_for(base, last)
    scen = replace(month_base, weights=dimension_scaled(base.weights, {d: v / total for d, v in chosen.items()}))
    want = engine.scenario(last, month_base, scen)
    m = want.transition
    red = next(x for x in at.metric if x.label == "红色")
    assert red.value == fmt.count(int(m[:, 2].sum()), "zh")
    assert red.delta == fmt.signed(int(m[:, 2].sum() - m[2, :].sum())) and red.delta != "+0"
    for d in shares:
        at.slider(key=f"pv_sim_w_{d}").set_value(0.0)
    at.run()
    assert any("至少要有一个维度" in w.value for w in at.warning)


def test_an_administrator_drills_down_to_a_store_countys_township(province_app: SnapshotStore) -> None:
    """At a county the database does not hold, the map draws its townships; an administrator (who may
    view households) gets a township's households from the engine's drill-down, highest score first; a
    province leader at the same county gets the map only."""
    from tests.app.conftest import ensure_user

    at = new_app()
    at.run()
    login(at, ensure_user("admin"))
    at.switch_page("pages/map.py")
    at.session_state["region"] = "990201000000"
    at.run()
    assert not at.exception, at.exception
    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    towns = sorted(f["properties"]["region_code"] for f in next(x for x in deck["layers"] if x["id"] == "regions")["data"]["features"])
    assert towns == [f"990201{k:03d}000" for k in range(1, SPEC.townships + 1)]
    pick = at.selectbox(key="pv_pv_township_zh")
    pick.set_value(towns[1]).run()
    assert not at.exception, at.exception
    engine = ProvinceEngine(province_app)
    last = max(province_app.manifest().periods)
    want = engine.rows(RiskPolicy.default(), last, "990201", towns[1]).sort_values(["score", "household_id"], ascending=[False, True])
    shown = at.dataframe[-1].value
    assert shown.iloc[:, 0].tolist() == want["household_id"].astype(str).tolist()  # the household IDs, in the engine's order
    assert len(shown) == len(want) > 0
    assert not [c for c in shown.columns if c in ("姓名", "证件号码")]

    at = _open("gov", page="map")
    at.session_state["region"] = "990201000000"
    at.run()
    assert not at.exception, at.exception
    assert at.get("deck_gl_json_chart") and not [s for s in at.selectbox if s.key == "pv_pv_township_zh"]


def test_people_in_two_households_are_found_on_a_click_and_counted_by_county(app_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A province with people planted in two counties: the overview's matching (a background job over
    the engine's join) counts them by county for a leader; only an administrator gets the households."""
    from dataclasses import replace

    import pandas as pd

    from fanpin.demo.province import planted_people
    from tests.app.conftest import ensure_user, finish_jobs

    spec = replace(SPEC, duplicates=6)
    zh = {f["properties"]["region_code"]: f["properties"]["name"] for f in province_boundaries(spec, townships=False)["county"]["features"]}
    s = SnapshotStore(tmp_path / "store")
    build_province(s, spec)
    monkeypatch.setenv("FANPIN_STORE_DIR", str(s.root))
    monkeypatch.delenv("FANPIN_DASK_SCHEDULER", raising=False)
    engine = app_db[0]
    if users.get_user(engine, "gov") is None:
        users.add_user(engine, "gov", "province_leader", password_of("gov"), region="99", principal=SYSTEM)
    planted = planted_people(spec)
    at = _open("gov")
    assert len(at.dataframe) == 1 and not any("登记在多户" in m.value for m in at.markdown)  # nothing is matched until asked
    at.button(key="pv_dup").click().run()
    finish_jobs(at)
    assert not at.exception, at.exception
    assert any("**6** 人登记在多户，其中 **6** 人" in m.value for m in at.markdown)
    table = at.dataframe[-1].value  # after the side-by-side table
    want = pd.concat([planted["county_a"], planted["county_b"]]).map(lambda i: zh[spec.county_code(int(i)).ljust(12, "0")]).value_counts()
    got = table.set_index(table.columns[0])[table.columns[1]]
    assert got.sort_index().to_dict() == want.sort_index().to_dict()  # each planted person counted in both their counties
    assert table[table.columns[2]].sum() == table[table.columns[1]].sum()  # all of them across counties
    leader_downloads = len(at.get("download_button"))
    at = new_app()
    at.run()
    login(at, ensure_user("admin"))
    at.session_state["region"] = "990000000000"
    at.run()
    at.button(key="pv_dup").click().run()
    finish_jobs(at)
    assert not at.exception, at.exception
    assert len(at.get("download_button")) == leader_downloads + 2  # the households (CSV, Excel): an administrator only

