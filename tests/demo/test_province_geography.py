"""The demo province's boundaries: they tile the province, nest (township in county in city), carry the
codes the store holds, and come back the same from the same seed."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import shape

from fanpin.demo.province import ProvinceSpec
from fanpin.demo.province_geography import province_boundaries
from fanpin.geo.geojson import geometry_problem

SPEC = ProvinceSpec(counties=11, households_per_county=100, months=2, townships=4, villages=8, counties_per_city=4, seed=7)


@pytest.fixture(scope="module")
def bounds() -> dict[str, dict]:
    return province_boundaries(SPEC)


def _shapes(fc: dict) -> dict[str, object]:
    return {f["properties"]["region_code"]: shape(f["geometry"]) for f in fc["features"]}


def test_the_codes_are_the_provinces(bounds: dict[str, dict]) -> None:
    counties = [SPEC.county_code(i).ljust(12, "0") for i in range(SPEC.counties)]
    assert list(_shapes(bounds["county"])) == counties
    assert list(_shapes(bounds["city"])) == ["990100000000", "990200000000", "990300000000"]
    assert list(_shapes(bounds["province"])) == ["990000000000"]
    towns = list(_shapes(bounds["township"]))
    assert towns == [f"{c[:6]}{k:03d}000" for c in counties for k in range(1, SPEC.townships + 1)]  # as build_county codes them


def test_every_polygon_is_valid_and_named_in_both_languages(bounds: dict[str, dict]) -> None:
    for fc in bounds.values():
        for f in fc["features"]:
            assert geometry_problem(f["geometry"]) is None
            assert f["properties"]["name"] and f["properties"]["name_en"]
    names = [f["properties"]["name"] for level in ("city", "county") for f in bounds[level]["features"]]
    assert len(set(names)) == len(names)
    assert all(n.endswith("县") for n in (f["properties"]["name"] for f in bounds["county"]["features"]))


def test_they_tile_and_nest(bounds: dict[str, dict]) -> None:
    province = next(iter(_shapes(bounds["province"]).values()))
    cities, counties, towns = (_shapes(bounds[lv]) for lv in ("city", "county", "township"))
    for level in (cities, counties, towns):
        parts = list(level.values())
        assert sum(p.area for p in parts) == pytest.approx(province.area, rel=1e-3)  # no gap
        assert shapely.union_all(parts).area == pytest.approx(province.area, rel=1e-3)  # no overlap
    for code, county in counties.items():
        city = cities[code[:4].ljust(12, "0")]
        assert county.difference(city).area < 1e-6 * county.area
        mine = [t for c, t in towns.items() if c[:6] == code[:6]]
        assert sum(t.area for t in mine) == pytest.approx(county.area, rel=1e-3)
    assert all(c.geom_type == "Polygon" for c in cities.values())  # a city's counties touch: one piece


def test_the_same_seed_gives_the_same_boundaries_and_another_does_not(bounds: dict[str, dict]) -> None:
    assert province_boundaries(SPEC) == bounds
    other = province_boundaries(ProvinceSpec(counties=11, townships=4, villages=8, counties_per_city=4, seed=8))
    assert other["county"] != bounds["county"]
