"""Tests for fanpin.demo.geography: the demo county's geography."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, shape

from fanpin.demo.geography import (
    Geography,
    make_geography,
    random_points_in,
    township_adjacency,
)


@pytest.fixture(scope="module")
def geo() -> Geography:
    return make_geography(np.random.default_rng(42))


def _overlap_area(polys: list[Polygon]) -> float:
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="intersects")
    keep = left < right
    return float(shapely.area(shapely.intersection(
        np.array(polys)[left[keep]], np.array(polys)[right[keep]])).sum())


# ---- codes ---------------------------------------------------------------------------------

def test_region_codes_structure(geo: Geography) -> None:
    assert geo.county_code == "990101"
    assert geo.region_code == "990101000000"
    assert len(geo.townships) == 14 and len(geo.villages) == 200
    for i, t in enumerate(geo.townships, start=1):
        assert re.fullmatch(r"\d{12}", t.code)
        assert t.code == f"990101{i:03d}000"
    township_codes = {t.code for t in geo.townships}
    for v in geo.villages:
        assert re.fullmatch(r"99\d{10}", v.code)
        assert v.township_code in township_codes
        assert v.code[:9] == v.township_code[:9]
        assert v.code[9:] != "000"
    assert len({v.code for v in geo.villages}) == len(geo.villages)


def test_village_codes_numbered_from_one_per_township(geo: Geography) -> None:
    for t in geo.townships:
        vs = geo.villages_of(t.code)
        assert vs, f"{t.code} has no village"
        assert [v.code[9:] for v in vs] == [f"{j:03d}" for j in range(1, len(vs) + 1)]


def test_custom_county_code() -> None:
    g = make_geography(np.random.default_rng(1), 3, 7, county_code="995522")
    assert all(t.code.startswith("995522") for t in g.townships)
    assert all(v.code.startswith("995522") for v in g.villages)
    assert g.county_geojson()["features"][0]["properties"]["region_code"] == "995522000000"


# ---- determinism ---------------------------------------------------------------------------

def test_deterministic() -> None:
    a = make_geography(np.random.default_rng(7))
    b = make_geography(np.random.default_rng(7))
    assert a.township_geojson() == b.township_geojson()
    assert a.county_geojson() == b.county_geojson()
    assert a.villages == b.villages
    assert [(t.code, t.name, t.name_en, t.lon, t.lat) for t in a.townships] == [
        (t.code, t.name, t.name_en, t.lon, t.lat) for t in b.townships
    ]
    c = make_geography(np.random.default_rng(8))
    assert c.township_geojson() != a.township_geojson()


# ---- geometry ------------------------------------------------------------------------------

def test_outline_plausible(geo: Geography) -> None:
    o = geo.outline
    assert isinstance(o, Polygon) and o.is_valid and o.exterior.is_simple
    assert len(o.exterior.coords) - 1 >= 180
    c = o.centroid
    assert abs(c.x - 106.5) < 0.3 and abs(c.y - 27.5) < 0.3
    assert o.convex_hull.area > o.area * 1.01  # irregular, not a disc


@pytest.mark.parametrize("seed,n_t,n_v", [(42, 14, 200), (3, 1, 1), (4, 2, 9), (177, 30, 300), (5, 60, 600)])
def test_townships_partition_outline(seed: int, n_t: int, n_v: int) -> None:
    g = make_geography(np.random.default_rng(seed), n_t, n_v)
    polys = [t.polygon for t in g.townships]
    assert len(polys) == n_t
    for p in polys:
        assert isinstance(p, Polygon) and p.is_valid and not p.is_empty and p.area > 0
    union = shapely.union_all(polys)
    assert union.area / g.outline.area > 0.999
    assert g.outline.difference(union).area / g.outline.area < 1e-3
    # snapping to the 1e-5 grid may push a vertex a hair outside, never more
    assert union.difference(g.outline.buffer(1e-5)).area < 1e-12
    assert _overlap_area(polys) < 1e-9


def test_township_sizes_similar(geo: Geography) -> None:
    areas = np.array([t.polygon.area for t in geo.townships])
    assert areas.max() / areas.min() < 4  # Lloyd relaxation evens out the cells


def test_township_point_inside(geo: Geography) -> None:
    for t in geo.townships:
        assert t.polygon.contains(shapely.Point(t.lon, t.lat))


def test_villages_inside_their_township(geo: Geography) -> None:
    polys = {t.code: t.polygon for t in geo.townships}
    for v in geo.villages:
        p = polys[v.township_code]
        assert p.contains(shapely.Point(v.lon, v.lat)), v
        assert p.exterior.distance(shapely.Point(v.lon, v.lat)) > 1e-4  # off the border


def test_villages_roughly_proportional_to_area(geo: Geography) -> None:
    total_area = sum(t.polygon.area for t in geo.townships)
    for t in geo.townships:
        n = len(geo.villages_of(t.code))
        expected = len(geo.villages) * t.polygon.area / total_area
        assert n >= 1 and abs(n - expected) <= 1.5


# ---- random_points_in ----------------------------------------------------------------------

def test_random_points_in_polygon(geo: Geography) -> None:
    poly = geo.outline
    pts = random_points_in(poly, 100_000, np.random.default_rng(0))
    assert pts.shape == (100_000, 2)
    assert shapely.contains_xy(poly, pts[:, 0], pts[:, 1]).all()
    # uniform: share of points in a township ~ its share of the area
    t = geo.townships[0].polygon
    share = shapely.contains_xy(t, pts[:, 0], pts[:, 1]).mean()
    assert share == pytest.approx(t.area / poly.area, abs=0.01)


def test_random_points_in_edge_cases(geo: Geography) -> None:
    rng = np.random.default_rng(0)
    assert random_points_in(geo.outline, 0, rng).shape == (0, 2)
    with pytest.raises(ValueError, match="n must be >= 0"):
        random_points_in(geo.outline, -1, rng)
    with pytest.raises(ValueError, match="positive area"):
        random_points_in(Polygon(), 5, rng)
    a = random_points_in(geo.outline, 1000, np.random.default_rng(3))
    b = random_points_in(geo.outline, 1000, np.random.default_rng(3))
    assert np.array_equal(a, b)


def test_random_points_in_sliver() -> None:
    sliver = Polygon([(0, 0), (1, 1), (1, 1.001)])  # acceptance ~0.05 %
    pts = random_points_in(sliver, 500, np.random.default_rng(0))
    assert shapely.contains_xy(sliver, pts[:, 0], pts[:, 1]).all()


def test_random_points_in_million(geo: Geography) -> None:
    """A million points (the 1M-household demo) in one call; speed belongs in bench/, not here."""
    poly = geo.townships[0].polygon
    pts = random_points_in(poly, 1_000_000, np.random.default_rng(0))
    assert pts.shape == (1_000_000, 2)
    assert shapely.contains_xy(poly, pts[:1000, 0], pts[:1000, 1]).all()


# ---- adjacency -----------------------------------------------------------------------------

def test_adjacency_symmetric_and_connected(geo: Geography) -> None:
    adj = township_adjacency(geo.townships)
    assert set(adj) == {t.code for t in geo.townships}
    for a, ns in adj.items():
        assert ns, f"{a} has no neighbour"
        assert a not in ns and ns == sorted(set(ns))
        for b in ns:
            assert a in adj[b]
    # one connected region
    seen, todo = set(), [geo.townships[0].code]
    while todo:
        c = todo.pop()
        if c not in seen:
            seen.add(c)
            todo.extend(adj[c])
    assert seen == set(adj)


def test_adjacency_means_shared_edge(geo: Geography) -> None:
    polys = {t.code: t.polygon for t in geo.townships}
    adj = township_adjacency(geo.townships)
    for a, ns in adj.items():
        for b in polys:
            if b == a:
                continue
            shared = polys[a].boundary.intersection(polys[b].boundary).length
            assert (b in ns) == (shared > 1e-4)


def test_adjacency_ignores_corner_touch() -> None:
    from fanpin.demo.geography import Township

    def sq(x: float, y: float) -> Polygon:
        return Polygon([(x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1)])

    ts = [Township(f"99010100{i}000", f"t{i}", f"t{i}", sq(x, y), x + 0.5, y + 0.5)
          for i, (x, y) in enumerate([(0, 0), (1, 0), (1, 1)], start=1)]
    assert township_adjacency(ts) == {
        "990101001000": ["990101002000"],
        "990101002000": ["990101001000", "990101003000"],
        "990101003000": ["990101002000"],
    }
    assert township_adjacency(ts[:1]) == {"990101001000": []}


def test_two_townships_are_neighbours() -> None:
    g = make_geography(np.random.default_rng(11), 2, 4)
    adj = township_adjacency(g.townships)
    assert adj == {g.townships[0].code: [g.townships[1].code],
                   g.townships[1].code: [g.townships[0].code]}


# ---- GeoJSON -------------------------------------------------------------------------------

def test_township_geojson_round_trip(geo: Geography) -> None:
    fc = json.loads(json.dumps(geo.township_geojson(), ensure_ascii=False))
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == len(geo.townships)
    for f, t in zip(fc["features"], geo.townships):
        assert f["properties"] == {"region_code": t.code, "name": t.name, "name_en": t.name_en}
        g = shape(f["geometry"])
        assert g.is_valid and g.geom_type == "Polygon"
        assert g.symmetric_difference(t.polygon).area < 1e-8
        assert g.exterior.is_ccw  # RFC 7946 winding
        for x, y in g.exterior.coords:
            assert round(x, 5) == x and round(y, 5) == y
    # read-back polygons still give the same neighbours
    from fanpin.demo.geography import Township
    back = [Township(t.code, t.name, t.name_en, shape(f["geometry"]), t.lon, t.lat)
            for f, t in zip(fc["features"], geo.townships)]
    assert township_adjacency(back) == township_adjacency(geo.townships)


def test_county_geojson(geo: Geography) -> None:
    fc = json.loads(json.dumps(geo.county_geojson()))
    (f,) = fc["features"]
    assert f["properties"] == {"region_code": "990101000000", "name": "清溪县",
                               "name_en": "Qingxi County"}
    assert shape(f["geometry"]).symmetric_difference(geo.outline).area < 1e-8


# ---- names ---------------------------------------------------------------------------------

def test_names_unique_and_plausible(geo: Geography) -> None:
    names = [t.name for t in geo.townships] + [v.name for v in geo.villages]
    names_en = [t.name_en for t in geo.townships] + [v.name_en for v in geo.villages]
    assert len(set(names)) == len(names)
    assert len(set(names_en)) == len(names_en)
    stems = [n[:-1] for n in names]
    assert len(set(stems)) == len(stems)  # no 石桥镇 next to 石桥村
    assert geo.county_name[:-1] not in stems
    for t in geo.townships:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2}[镇乡]", t.name)
        assert re.fullmatch(r"[A-Z][a-z']+ (Town|Township)", t.name_en)
        assert t.name_en.endswith("Town") == t.name.endswith("镇")
    for v in geo.villages:
        assert re.fullmatch(r"[\u4e00-\u9fff]{2}村", v.name)
        assert re.fullmatch(r"[A-Z][a-z']+ Village", v.name_en)


def test_names_unique_when_pool_of_two_chars_runs_out() -> None:
    g = make_geography(np.random.default_rng(0), 10, 2500)
    names = [v.name for v in g.villages]
    assert len(set(names)) == len(names) == 2500
    assert max(len(n) for n in names) >= 4  # three-character stems such as 大石桥村


# ---- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["110101", "99010", "9901011", "99a101", 990101, "９９０１０１"])
def test_bad_county_code(code) -> None:
    with pytest.raises(ValueError, match="county_code must be 6 digits starting with '99'"):
        make_geography(np.random.default_rng(0), county_code=code)


@pytest.mark.parametrize("n", [0, -1, 1000])
def test_bad_township_count(n: int) -> None:
    with pytest.raises(ValueError, match="n_townships must be between 1 and 999"):
        make_geography(np.random.default_rng(0), n_townships=n, n_villages=5000)


def test_too_few_villages() -> None:
    with pytest.raises(ValueError, match=r"n_villages \(5\) must be >= n_townships \(6\)"):
        make_geography(np.random.default_rng(0), n_townships=6, n_villages=5)


def test_too_many_villages() -> None:
    with pytest.raises(ValueError, match="exceeds 999 per township"):
        make_geography(np.random.default_rng(0), n_townships=1, n_villages=1000)


