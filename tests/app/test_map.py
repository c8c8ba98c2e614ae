"""The risk map shows what fanpin.geo computes, in both languages; uploads are checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fanpin import store
from fanpin.core.i18n import label
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scoring import Scorer
from fanpin.geo import hotspots, townships
from fanpin.store.regions import household_coords, load_regions, township_geojson
from fanpin.ui.text import md

from .conftest import open_page


def _expected(engine, period: int, metric: str = "red_share", contiguity: str = "queen"):
    periods = store.periods(engine)
    snap = store.load_snapshot(engine, period)
    res = Scorer.from_frame(snap).run(baseline_policy(engine, period)).copy()
    prev_period = periods[periods.index(period) - 1] if periods.index(period) > 0 else None
    prev = Scorer.from_frame(store.load_snapshot(engine, prev_period)).run(baseline_policy(engine, prev_period)) if prev_period else None
    regions = load_regions(engine)
    codes = regions.loc[regions["level"] == "township", "region_code"].tolist()
    metrics = townships.township_metrics(res, prev, codes).set_index("township_code")
    fc = township_geojson(engine)
    spots = hotspots.hotspots(metrics[metric], hotspots.weights_from_geojson(fc, contiguity))
    return snap, res, regions, metrics, spots


def _township_table(at):
    return at.dataframe[0].value.set_index("township_code")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_map_renders_the_township_figures(app_db, lang: str) -> None:
    engine, spec = app_db
    period = spec.periods[-1]
    at = open_page("map", lang=lang, period=period)
    assert not at.exception, at.exception
    assert "风险地图" in at.title[0].value if lang == "zh" else "risk map" in at.title[0].value
    assert len(at.get("deck_gl_json_chart")) == 1
    _, _, _, metrics, spots = _expected(engine, period)
    table = _township_table(at)
    assert sorted(table.index) == sorted(metrics.index)
    for code in metrics.index:
        assert table.loc[code, "households"] == metrics.loc[code, "households"]
        assert table.loc[code, "red"] == metrics.loc[code, "red"]
        assert table.loc[code, "red_share"] == pytest.approx(round(100 * metrics.loc[code, "red_share"], 2))
        assert table.loc[code, "red_share_change"] == pytest.approx(round(100 * metrics.loc[code, "red_share_change"], 2))
        assert table.loc[code, "z"] == pytest.approx(round(spots.loc[code, "z"], 3))
    hot = "热点" if lang == "zh" else "Hot spot"
    assert sorted(table.index[table["cls"] == hot]) == sorted(spots.index[spots["cls"] == "hot"])
    # the deck has townships coloured, villages and (small county) households, and no base map
    spec_json = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert "mapStyle" not in spec_json or spec_json["mapStyle"] == "__MAP_STYLE__"
    ids = [layer["id"] for layer in spec_json["layers"]]
    assert ids[0] == "townships" and "villages" in ids
    # county level: the red and yellow households, one layer per tier
    assert {"households_red", "households_yellow"} <= set(ids) and "households_green" not in ids


def test_choosing_a_metric_changes_the_hotspots(app_db) -> None:
    engine, spec = app_db
    period = spec.periods[-1]
    at = open_page("map", period=period)
    at.selectbox(key="map_metric_zh").set_value("mean_score_change")
    at.radio(key="w_map_contiguity_zh").set_value("rook")
    at.run()
    assert not at.exception, at.exception
    _, _, _, metrics, spots = _expected(engine, period, "mean_score_change", "rook")
    table = _township_table(at)
    for code in metrics.index:
        assert table.loc[code, "mean_score_change"] == pytest.approx(round(metrics.loc[code, "mean_score_change"], 2))
        assert table.loc[code, "z"] == pytest.approx(round(spots.loc[code, "z"], 3), nan_ok=True)
        assert table.loc[code, "p"] == pytest.approx(round(spots.loc[code, "p"], 3), nan_ok=True)
        assert table.loc[code, "neighbours"] == spots.loc[code, "neighbours"]


def test_first_month_has_no_change_metrics(app_db) -> None:
    engine, spec = app_db
    at = open_page("map", period=spec.periods[0])
    at.selectbox(key="map_metric_zh").set_value("red_share_change")
    at.run()
    assert not at.exception, at.exception
    assert any("第一个月" in i.value for i in at.info)
    assert (_township_table(at)["cls"] == "无数据").all()


def test_choosing_a_township_shows_its_villages_and_households(app_db) -> None:
    engine, spec = app_db
    period = spec.periods[-1]
    snap, res, regions, _, _ = _expected(engine, period)
    town = sorted(set(snap["township_code"]))[2]
    # Chinese: after switching to English, AppTest cannot re-run the sidebar's role selectbox
    # (its format_func reads the language at call time)
    at = open_page("map", period=period)
    at.selectbox(key="w_map_township_zh").set_value(town)
    at.run()
    assert not at.exception, at.exception
    villages = townships.village_points(snap, res, regions)
    villages = villages[villages["township_code"] == town]
    vt = at.dataframe[1].value
    assert sorted(vt["村代码"]) == sorted(villages["village_code"])
    assert vt["户数"].sum() == villages["households"].sum()
    assert dict(zip(vt["村代码"], vt["红色"])) == dict(zip(villages["village_code"], villages["red"]))
    hh = townships.household_points(snap, res, town, household_coords(engine))
    ht = at.dataframe[2].value
    assert ht["户编号"].tolist() == hh["household_id"].tolist()
    assert ht["风险分"].tolist() == hh["score"].tolist()
    for i in range(5):
        keys = [k for k in hh.loc[i, ["reason_1", "reason_2", "reason_3"]] if k]
        assert ht["主要风险因素"].iloc[i] == "、".join(label("indicator", k, "zh") for k in keys)
    assert not any(c in ht.columns for c in ("name", "id_number", "phone"))
    # the map zooms to the township and draws its households only
    spec_json = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    drawn = {layer["id"]: len(layer["data"]) for layer in spec_json["layers"] if layer["id"].startswith("households_")}
    assert drawn == {f"households_{k}": int((hh["tier"] == k).sum()) for k in ("green", "yellow", "red")}


def test_a_click_on_the_map_selects_the_township(app_db) -> None:
    engine, spec = app_db
    period = spec.periods[-1]
    fc = township_geojson(engine)
    code = fc["features"][3]["properties"]["region_code"]
    at = open_page("map", period=period)
    # what st.pydeck_chart(on_select="rerun") stores when a township polygon is clicked
    at.session_state["map_deck_0"] = {"selection": {"indices": {"townships": [3]}, "objects": {"townships": [{"type": "Feature", "properties": {"region_code": code}}]}}}
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="w_map_township_zh").value == code
    assert at.session_state["_map_clicks"] == 1
    assert len(at.dataframe) == 3


def _upload(at, payload: dict, name: str = "towns.geojson"):
    at.file_uploader(key="map_upload").set_value((name, json.dumps(payload, ensure_ascii=False).encode(), "application/geo+json"))
    at.run()
    return at


def test_a_mismatching_upload_is_refused_with_the_codes(app_db) -> None:
    engine, spec = app_db
    fc = township_geojson(engine)
    dropped = fc["features"][0]["properties"]["region_code"]
    bad = {"type": "FeatureCollection", "features": fc["features"][1:] + [{**fc["features"][0], "properties": {"region_code": "990101099000"}}]}
    at = _upload(open_page("map", period=spec.periods[-1]), bad)
    assert not at.exception, at.exception
    assert at.error and md("towns.geojson") in at.error[0].value  # the file name is data: escaped for markdown
    listed = " ".join(m.value for m in at.markdown)
    assert "990101099000" in listed and dropped in listed
    assert "map_custom_fc" not in at.session_state


def test_a_matching_upload_is_used_for_the_map(app_db) -> None:
    engine, spec = app_db
    fc = township_geojson(engine)
    # the same townships with 区划代码 instead of region_code, as a bureau's own file might have
    renamed = {"type": "FeatureCollection", "features": [{**f, "properties": {"区划代码": f["properties"]["region_code"]}} for f in fc["features"]]}
    at = _upload(open_page("map", period=spec.periods[-1]), renamed, "我的乡镇.geojson")
    assert not at.exception, at.exception
    assert not at.error
    assert any(md("我的乡镇.geojson") in s.value for s in at.success)  # the file name is data: escaped for markdown
    assert at.session_state["map_custom_fc"]["name"] == "我的乡镇.geojson"
    spec_json = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert len(spec_json["layers"][0]["data"]["features"]) == len(fc["features"])
    assert np.isfinite(_township_table(at)["z"]).any()
