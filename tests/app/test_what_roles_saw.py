"""Issue 18, what each role ran into (items 6, 11, 13, 15), reproduced in AppTest.

6: a case worker of one township saw the county's title, a legend of five "4.6%-4.6%" classes and a
table of every township with the others empty; 11: a negative income line stayed in the box with the
results unchanged and the reason only on hover, in English; 13: households with scores in the 20s
listed as red with nothing saying the income rule made them red; 15: the neighbour radio showed no
choice after a switch to English, the elimination note stayed after submitting, and 转为线索 jumped
back to the first tab.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from fanpin import store
from fanpin.store.regions import load_regions

from .conftest import ensure_user, login, new_app, open_page


def _open_as(page: str, username: str, role: str, townships: list[str] | None = None, lang: str = "zh"):
    ensure_user(role, username, townships=townships)
    at = new_app()
    at.run()
    login(at, username)
    at.switch_page(f"pages/{page}.py")
    at.run()
    if lang != "zh":
        at.radio(key="lang").set_value(lang).run()
    return at


def _legend_labels(at) -> list[str]:
    html = " ".join(h.proto.body for h in at.get("html"))
    return re.findall(r"<span>([^<]*)</span>", html)


# --------------------------------------------------------------------------- item 6
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_case_workers_map_shows_their_township_only(app_db, lang: str) -> None:
    engine, spec = app_db
    regions = load_regions(engine)
    towns = regions[regions["level"] == "township"].sort_values("region_code")
    code, name = towns["region_code"].iloc[1], towns["name" if lang == "zh" else "name_en"].iloc[1]
    county = regions.loc[regions["level"] == "county", "name" if lang == "zh" else "name_en"].iloc[0]
    at = _open_as("map", "cw_one_town", "case_worker", [code], lang)
    assert not at.exception, at.exception
    title = at.title[0].value
    assert name in title and county not in title
    # the deck draws the one township, zoomed to it
    import json

    deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    assert [f["properties"]["region_code"] for f in deck["layers"][0]["data"]["features"]] == [code]
    # the table: their township only, every cell filled (no "None")
    table = at.dataframe[0].value
    assert table["township_code"].tolist() == [code]
    assert not table.isna().any().any(), table
    assert not {"z", "p", "cls"} & set(table.columns)  # no hot spots over one township, and it says so
    assert any(("至少 3" in c.value) if lang == "zh" else ("at least 3" in c.value) for c in at.caption)
    # the legend's five classes are distinct ranges, the township's value inside one of them
    labels = _legend_labels(at)[:5]
    assert len(set(labels)) == 5, labels
    # their township is chosen: its villages and households follow
    assert len(at.dataframe) == 3
    assert set(at.dataframe[2].value.iloc[:, 0].astype(str)) <= set(store.load_snapshot(engine, spec.periods[-1]).query("township_code == @code")["household_id"])


def test_near_equal_townships_share_a_class_and_the_legend_reads_distinct_ranges() -> None:
    from fanpin.geo import colours, townships
    from fanpin.ui import layers

    span, res = townships.SCALES["red_share"]
    scale = colours.colour_scale(np.array([0.0461, 0.0463]), min_span=span, resolution=res)
    assert len(set(scale.classify(np.array([0.0461, 0.0463])))) == 1  # not drawn at the two ends of the scale
    rows = layers.legend_rows(scale, "red_share", "zh", no_data=False, households=False, township=None)
    fills = [r[2] for r in rows if r[0] == "fill"]
    assert len(set(fills)) == 5 and "4.6%" not in fills[0]


# --------------------------------------------------------------------------- item 15: the neighbour radio
def test_the_neighbour_choice_survives_a_switch_to_english(app_db) -> None:
    at = open_page("map", period=app_db[1].periods[-1])
    at.radio(key="w_map_contiguity_zh").set_value("rook").run()
    at.radio(key="lang").set_value("en").run()
    assert not at.exception, at.exception
    radio = at.radio(key="w_map_contiguity_en")
    assert radio.value == "rook" and radio.index == 1
    assert radio.options == ["Share a point (queen)", "Share an edge (rook)"]
