"""Checking a province's boundary file against the store's codes (``fanpin.geo.boundaries``)."""

from __future__ import annotations

import json

from fanpin.geo.boundaries import check_boundaries, region_names

SQUARE = {"type": "Polygon", "coordinates": [[[106.0, 27.0], [106.1, 27.0], [106.1, 27.1], [106.0, 27.1], [106.0, 27.0]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[106.0, 27.0], [106.1, 27.1], [106.1, 27.0], [106.0, 27.1], [106.0, 27.0]]]}
KNOWN = ["990101000000", "990102000000", "990201000000"]


def _fc(*rows: tuple[dict, dict]) -> dict:
    return {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in rows]}


def test_six_digit_county_codes_are_taken_and_a_missing_county_is_a_warning() -> None:
    raw = json.dumps(_fc(({"区划代码": "990101", "name": "甲县"}, SQUARE), ({"code": 990102, "name": "乙县", "name_en": "Yi County"}, SQUARE)),
                     ensure_ascii=False).encode("gb18030")
    got = check_boundaries(raw, "county", KNOWN)
    assert got.problems == [] and got.missing == ["990201000000"]
    assert [f["properties"]["region_code"] for f in got.fc["features"]] == ["990101000000", "990102000000"]
    assert region_names([got.fc], "zh") == {"990101000000": "甲县", "990102000000": "乙县"}
    assert region_names([got.fc], "en") == {"990101000000": "甲县", "990102000000": "Yi County"}  # no English name: the Chinese one


def test_a_code_the_store_does_not_hold_or_a_broken_polygon_refuses_the_file() -> None:
    other = check_boundaries(_fc(({"code": "990101"}, SQUARE), ({"code": "430101"}, SQUARE)), "county", KNOWN)
    assert other.fc is None and [(p.kind, p.code) for p in other.problems] == [("unknown_code", "430101000000")]
    bad = check_boundaries(_fc(({"code": "990101"}, BOWTIE)), "county", KNOWN)
    assert bad.fc is None and bad.problems[0].kind == "invalid_geometry"
    twice = check_boundaries(_fc(({"code": "990101"}, SQUARE), ({"code": "990101000000"}, SQUARE)), "county", KNOWN)
    assert twice.fc is None and twice.problems[0].kind == "duplicate_code"


def test_a_city_file_and_files_that_are_not_collections() -> None:
    got = check_boundaries(_fc(({"code": "9901"}, SQUARE), ({"code": "9902"}, SQUARE)), "city", ["990100000000", "990200000000"])
    assert got.problems == [] and got.missing == []
    assert check_boundaries(b"{not json", "county", KNOWN).problems[0].kind == "not_json"
    assert check_boundaries(json.dumps({"type": "Feature"}), "county", KNOWN).problems[0].kind == "not_collection"
    assert check_boundaries(_fc(), "county", KNOWN).problems[0].kind == "no_features"
