"""The map's and simulator's UI helpers outside a page: label tables, templates, layers, clicks, caches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import streamlit as st

from fanpin.core.indicators import KEYS
from fanpin.geo import colours
from fanpin.ui import charts, layers, session
from fanpin.ui.labels import COLUMNS, column_labels, fill_template, metric_text, reasons_text, short_name


@pytest.fixture(autouse=True)
def _clean_state():
    for k in list(st.session_state):
        del st.session_state[k]
    yield
    for k in list(st.session_state):
        del st.session_state[k]


def test_every_table_header_has_both_languages() -> None:
    for table in COLUMNS:
        zh = column_labels(table)
        st.session_state["lang"] = "en"
        en = column_labels(table)
        del st.session_state["lang"]
        assert list(zh) == list(en) == list(COLUMNS[table])
        assert all(zh.values()) and all(en.values()) and zh != en, table


def test_templates_reasons_and_names() -> None:
    idx = pd.RangeIndex(2)
    out = fill_template("{b} / {a}!", idx, a=pd.Series([1, 2]), b="x")
    assert out.tolist() == ["x / 1!", "x / 2!"]
    frame = pd.DataFrame({"reason_1": [KEYS[0], None], "reason_2": [KEYS[1], None], "reason_3": [None, None]})
    text = reasons_text(frame)
    assert text.iloc[0].count("、") == 1 and text.iloc[1] == ""
    assert short_name("Fengyan Township") == "Fengyan" and short_name("丰岩乡") == "丰岩乡"
    assert metric_text("red_share", float("nan"), "zh") == "—" and metric_text("mean_score_change", 0.5, "zh") == "+0.50"


def test_household_layers_keep_the_maps_drawing_order() -> None:
    points = pd.DataFrame({"lon": [1.0, 2.0, 3.0], "lat": [1.0, 2.0, 3.0], "tier": ["green", "yellow", "red"], "household_id": ["a", "b", "c"], "score": [1.0, 2.0, 3.0]})
    assert [x.id for x in layers.household_layers(points, "t1")] == ["households_red", "households_yellow", "households_green"]
    county = layers.household_layers(points, None)
    assert [x.id for x in county] == ["households_red", "households_yellow"] and not any(x.pickable for x in county)


def test_legend_rows_follow_what_is_drawn() -> None:
    scale = colours.colour_scale(np.array([0.0, 0.5, 1.0]))
    rows = layers.legend_rows(scale, "red_share", "zh", no_data=True, households=False, township=None)
    assert [r[0] for r in rows].count("fill") == len(scale.colours) + 1
    assert not any(r[1] == layers.SELECTED_HEX for r in rows)
    more = layers.legend_rows(scale, "red_share", "zh", no_data=False, households=True, township="t1")
    assert more[-1][1] == layers.SELECTED_HEX and len(more) == len(scale.colours) + 5


def test_a_click_picks_the_township_of_a_polygon_or_a_village() -> None:
    assert session.picked_township({"selection": {"objects": {"townships": [{"properties": {"region_code": "t1"}}]}}}) == "t1"
    assert session.picked_township({"selection": {"objects": {"villages": [{"township_code": "t2"}]}}}) == "t2"
    assert session.picked_township(None) is None
    st.session_state["map_deck_0"] = {"selection": {"objects": {"villages": [{"township_code": "t2"}]}}}
    assert session.consume_map_click(["t1", "t2"]) == 1
    assert st.session_state["map_township"] == "t2"
    assert session.consume_map_click(["t1", "t2"]) == 1  # the new chart key has no selection yet


def test_kept_is_tied_to_its_owner_and_tag() -> None:
    owner, calls = object(), []

    def make() -> int:
        calls.append(1)
        return len(calls)

    assert session.kept("_k", owner, "a", make) == 1
    assert session.kept("_k", owner, "a", make) == 1
    assert session.kept("_k", owner, "b", make) == 2
    assert session.kept("_k", object(), "b", make) == 3


def test_township_change_map_uses_the_shared_view() -> None:
    from fanpin.geo.geojson import map_view

    square = {"type": "Polygon", "coordinates": [[[100.0, 30.0], [101.0, 30.0], [101.0, 31.0], [100.0, 31.0], [100.0, 30.0]]]}
    gj = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"region_code": "t1"}, "geometry": square}]}
    table = pd.DataFrame({"township_code": ["t1"], "red_change": [3], "red_base": [1], "red_scen": [4]})
    fig = charts.township_change_map(table, {"t1": "一乡"}, gj)
    view = map_view(gj, width_px=300, height_px=270)
    assert fig.layout.map.center.lon == pytest.approx(view["longitude"]) and fig.layout.map.zoom == pytest.approx(view["zoom"])
    assert fig.layout.map.style == "white-bg"
