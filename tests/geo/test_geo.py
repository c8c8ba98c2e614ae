"""fanpin.geo: township figures by hand, Gi* against the textbook formula, GeoJSON checks."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box, mapping

from fanpin import store
from fanpin.demo.geography import make_geography, township_adjacency
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scoring import TIERS, Scorer, ScoreResult
from fanpin.geo import colours, geojson, hotspots, townships
from fanpin.store.regions import household_coords, load_regions


# --------------------------------------------------------------------------- helpers
def _result(codes: list[str], counts: list[list[int]], mean: list[float]) -> ScoreResult:
    """A ScoreResult carrying only what township_metrics reads (per-township counts and means)."""
    scorer = SimpleNamespace(township_codes=np.array(codes, dtype=object))
    return ScoreResult(scorer, None, np.zeros(0), np.zeros(0), np.zeros(0), np.array(counts), np.array(mean, dtype=float))  # type: ignore[arg-type]


def _grid_fc(values: dict[str, float] | None = None, extra: list[tuple[str, object]] | None = None) -> dict:
    """A 3 x 3 grid of unit squares c0..c8, row by row from the south-west corner."""
    feats = []
    for k in range(9):
        i, j = k % 3, k // 3
        feats.append({"type": "Feature", "properties": {"region_code": f"c{k}"}, "geometry": mapping(box(i, j, i + 1, j + 1))})
    for code, geom in extra or []:
        feats.append({"type": "Feature", "properties": {"region_code": code}, "geometry": mapping(geom)})
    return {"type": "FeatureCollection", "features": feats}


def gi_star_z(x: np.ndarray, members: list[int]) -> float:
    """Ord & Getis (1995) Gi* z-score with binary weights (self included), written out in full."""
    n = len(x)
    w_i = len(members)  # sum of weights; with binary weights also the sum of squared weights
    xbar = x.mean()
    s = math.sqrt((x**2).sum() / n - xbar**2)
    return (x[members].sum() - xbar * w_i) / (s * math.sqrt((n * w_i - w_i**2) / (n - 1)))


# --------------------------------------------------------------------------- township figures
def test_township_metrics_by_hand() -> None:
    # (green, yellow, red) per township
    cur = _result(["T1", "T2"], [[6, 2, 2], [3, 0, 1]], [30.0, 12.5])
    prev = _result(["T1", "T2"], [[7, 2, 1], [4, 0, 0]], [28.0, 10.0])
    m = townships.township_metrics(cur, prev, ["T1", "T2", "T3"]).set_index("township_code")
    assert m.loc["T1", ["households", "red", "yellow", "green"]].tolist() == [10, 2, 2, 6]
    assert m.loc["T1", "red_share"] == pytest.approx(0.2)
    assert m.loc["T2", "red_share"] == pytest.approx(0.25)
    assert m.loc["T1", "mean_score"] == pytest.approx(30.0)
    assert m.loc["T1", "red_share_change"] == pytest.approx(0.2 - 0.1)
    assert m.loc["T2", "red_share_change"] == pytest.approx(0.25 - 0.0)
    assert m.loc["T1", "mean_score_change"] == pytest.approx(2.0)
    assert m.loc["T2", "mean_score_change"] == pytest.approx(2.5)
    assert m.loc["T2", "red_change"] == 1
    # a township with no households this month: zero counts, no share, no mean, no change
    assert m.loc["T3", "households"] == 0
    assert np.isnan(m.loc["T3", "red_share"]) and np.isnan(m.loc["T3", "mean_score"])
    assert np.isnan(m.loc["T3", "red_share_change"])


def test_township_metrics_match_townships_by_code_and_without_a_previous_month() -> None:
    cur = _result(["T1", "T2"], [[1, 0, 1], [0, 0, 4]], [50.0, 80.0])
    prev = _result(["T2"], [[2, 0, 2]], [60.0])  # last month knew only T2
    m = townships.township_metrics(cur, prev, ["T2", "T1"])
    assert m["township_code"].tolist() == ["T2", "T1"]
    assert m["red_share_change"].iloc[0] == pytest.approx(1.0 - 0.5)
    assert np.isnan(m["red_share_change"].iloc[1])
    alone = townships.township_metrics(cur, None, ["T1", "T2"])
    assert alone["red_share_change"].isna().all() and alone["mean_score_change"].isna().all()


def test_township_metrics_agree_with_a_loop_over_households(small_demo) -> None:
    engine, spec = small_demo
    period = spec.periods[-1]
    snap = store.load_snapshot(engine, period)
    res = Scorer.from_frame(snap).run(baseline_policy(engine, period))
    codes = sorted(set(snap["township_code"]))
    m = townships.township_metrics(res, None, codes).set_index("township_code")
    tiers = np.array(TIERS, dtype=object)[res.tier]
    for code in codes[:3]:
        rows = [i for i, c in enumerate(snap["township_code"]) if c == code]
        red = sum(1 for i in rows if tiers[i] == "red")
        assert m.loc[code, "households"] == len(rows)
        assert m.loc[code, "red"] == red
        assert m.loc[code, "red_share"] == pytest.approx(red / len(rows))
        assert m.loc[code, "mean_score"] == pytest.approx(sum(float(res.score[i]) for i in rows) / len(rows), rel=1e-5)


# --------------------------------------------------------------------------- contiguity and Gi*
def test_queen_and_rook_contiguity_on_a_grid() -> None:
    q = hotspots.weights_from_geojson(_grid_fc(), "queen")
    r = hotspots.weights_from_geojson(_grid_fc(), "rook")
    assert sorted(q.neighbors["c0"]) == ["c1", "c3", "c4"]
    assert sorted(r.neighbors["c0"]) == ["c1", "c3"]
    assert len(q.neighbors["c4"]) == 8 and len(r.neighbors["c4"]) == 4
    assert q.attached_islands == []


def test_an_island_is_joined_to_its_nearest_township() -> None:
    fc = _grid_fc(extra=[("far", box(5, 0, 6, 1))])  # nearest is c2 (x from 2 to 3, bottom row)
    w = hotspots.weights_from_geojson(fc)
    assert w.attached_islands == ["far"]
    assert w.neighbors["far"] == ["c2"]
    assert "far" in w.neighbors["c2"]
    assert not w.islands


def test_libpysal_rook_agrees_with_the_demo_geography_adjacency() -> None:
    g = make_geography(np.random.default_rng(3), n_townships=8, n_villages=40)
    w = hotspots.weights_from_geojson(g.township_geojson(), "rook")
    expected = township_adjacency(g.townships)
    assert {k: sorted(v) for k, v in w.neighbors.items()} == expected


GRID_VALUES = np.array([10, 10, 1, 10, 10, 1, 1, 1, 1], dtype=float)  # c0, c1, c3, c4 high: south-west corner


def test_gi_star_marks_the_high_corner_as_hot() -> None:
    w = hotspots.weights_from_geojson(_grid_fc())
    h = hotspots.hotspots(pd.Series(GRID_VALUES, index=[f"c{k}" for k in range(9)]), w, permutations=999, seed=1)
    assert h.loc["c0", "cls"] == "hot"
    # c0's neighbours are drawn from the other 8 (three of them high): P(all three high) = 1 / C(8, 3)
    assert h.loc["c0", "p"] == pytest.approx(1 / math.comb(8, 3), abs=0.012)
    assert h.loc["c8", "cls"] == "not_significant"
    assert h.loc["c0", "z"] > 0 > h.loc["c8", "z"]
    assert h.loc["c0", "neighbours"] == 3


def test_gi_star_z_is_the_textbook_formula() -> None:
    w = hotspots.weights_from_geojson(_grid_fc())
    h = hotspots.hotspots(GRID_VALUES, w, permutations=0)
    # c0 with self: c0, c1, c3, c4 -> sum 40, xbar 5, S = sqrt(405/9 - 25) = sqrt(20), W = 4:
    # z = (40 - 20) / (sqrt(20) * sqrt((36 - 16) / 8)) = 20 / sqrt(50) = 2 sqrt(2)
    assert h.loc["c0", "z"] == pytest.approx(gi_star_z(GRID_VALUES, [0, 1, 3, 4]), rel=1e-9)
    assert h.loc["c0", "z"] == pytest.approx(2 * math.sqrt(2), rel=1e-12)
    for k in (0, 1, 2, 3, 5, 6, 7, 8):
        members = sorted({k, *(int(c[1:]) for c in w.neighbors[f"c{k}"])})
        assert h.loc[f"c{k}", "z"] == pytest.approx(gi_star_z(GRID_VALUES, members), rel=1e-9)
    # the centre neighbours every square: its neighbourhood sum is the total, z is undefined
    assert np.isnan(h.loc["c4", "z"]) and np.isnan(h.loc["c4", "p"]) and h.loc["c4", "cls"] == "not_significant"


def test_hotspots_are_deterministic_shift_invariant_and_leave_numpy_alone() -> None:
    w = hotspots.weights_from_geojson(_grid_fc())
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = hotspots.hotspots(GRID_VALUES, w, seed=42)
    assert (np.random.get_state()[1] == before).all()
    b = hotspots.hotspots(GRID_VALUES, w, seed=42)
    pd.testing.assert_frame_equal(a, b)
    # negative values (month-on-month changes) give the same z and p: Gi* z ignores a shift
    c = hotspots.hotspots(GRID_VALUES - 100, w, seed=42)
    np.testing.assert_allclose(c["z"], a["z"], rtol=1e-9)
    np.testing.assert_allclose(c["p"], a["p"])


def test_hotspots_without_values_or_variation() -> None:
    w = hotspots.weights_from_geojson(_grid_fc())
    v = GRID_VALUES.copy()
    v[8] = np.nan
    h = hotspots.hotspots(v, w)
    assert h.loc["c8", "cls"] == "no_data" and np.isnan(h.loc["c8", "z"])
    assert h.loc["c0", "cls"] == "hot"
    flat = hotspots.hotspots(np.ones(9), w)
    assert (flat["cls"] == "not_significant").all() and (flat["z"] == 0).all()
    empty = hotspots.hotspots(np.full(9, np.nan), w)
    assert (empty["cls"] == "no_data").all()


# --------------------------------------------------------------------------- colours, view
def test_colour_scale_classes() -> None:
    s = colours.colour_scale(np.array([0.0, 0.5, 1.0, np.nan]))
    assert s.edges[0] == 0.0 and s.edges[-1] == 1.0
    assert s.classify(np.array([0.0, 0.5, 1.0, np.nan])).tolist() == [0, 2, 4, -1]
    d = colours.colour_scale(np.array([-0.2, 0.1]), diverging=True)
    # symmetric round steps (1, 2 or 5 x 10^k): a neutral middle class (-s, s) and 3s covering the largest change
    assert d.edges == pytest.approx((-0.3, -0.2, -0.1, 0.1, 0.2, 0.3))
    assert d.classify(np.array([0.0])).tolist() == [2]  # zero sits in the neutral middle class
    assert colours.rgba("#d62728", 100) == [214, 39, 40, 100]


def test_colour_scale_has_round_distinct_edges_and_a_minimum_span() -> None:
    # near-equal values share a class (not the two ends of the scale); one value sits mid-scale
    s = colours.colour_scale(np.array([0.0461, 0.0463]), min_span=0.05, resolution=0.001)
    assert s.edges == pytest.approx((0.02, 0.03, 0.04, 0.05, 0.06, 0.07))
    assert s.classify(np.array([0.0461, 0.0463])).tolist() == [2, 2]
    assert colours.colour_scale(np.array([0.046]), min_span=0.05, resolution=0.001).classify(np.array([0.046])).tolist() == [2]
    # shares never go below 0; a wide spread gets a wider round step covering it
    w = colours.colour_scale(np.array([0.01, 0.33]), min_span=0.05, resolution=0.001)
    assert w.edges[0] == 0.0 and w.edges[-1] >= 0.33 and len(set(w.edges)) == 6
    assert colours.nice_step(0.0031) == 0.005 and colours.nice_step(0.003, 0.01) == 0.01 and colours.nice_step(7) == 10
    # a tiny change still gets a scale of at least min_span, in steps the legend can print
    d = colours.colour_scale(np.array([0.0004, -0.0002]), diverging=True, min_span=0.006, resolution=0.0001)
    assert d.edges == pytest.approx((-0.003, -0.002, -0.001, 0.001, 0.002, 0.003))


def test_map_view_fits_the_features() -> None:
    v = geojson.map_view(_grid_fc(), width_px=800, height_px=560)
    assert v["longitude"] == pytest.approx(1.5) and v["latitude"] == pytest.approx(1.5)
    # 3 degrees at zoom z cover 3 * 512 * 2^z / 360 pixels: must fit in 560
    assert 3 * 512 * 2 ** v["zoom"] / 360 <= 560
    one = geojson.map_view(_grid_fc(), ["c0"], width_px=800, height_px=560)
    assert one["zoom"] > v["zoom"]


# --------------------------------------------------------------------------- village and household layers
def test_village_and_household_points(small_demo) -> None:
    engine, spec = small_demo
    period = spec.periods[-1]
    snap = store.load_snapshot(engine, period)
    res = Scorer.from_frame(snap).run(baseline_policy(engine, period))
    regions = load_regions(engine)
    v = townships.village_points(snap, res, regions).set_index("village_code")
    frame = snap[["village_code", "township_code"]].assign(red=np.asarray(res.tier) == 2, score=np.asarray(res.score, dtype=float))
    by = frame.groupby("village_code").agg(n=("red", "size"), red=("red", "sum"), score=("score", "mean"), town=("township_code", "first"))
    assert v["households"].to_dict() == by["n"].to_dict()
    assert v["red"].to_dict() == by["red"].astype(int).to_dict()
    np.testing.assert_allclose(v["mean_score"].reindex(by.index), by["score"], rtol=1e-6)
    assert (v["township_code"].reindex(by.index) == by["town"]).all()
    assert v[["lon", "lat"]].notna().all().all()

    coords = household_coords(engine)
    assert len(coords) == len(snap) and coords[["lon", "lat"]].notna().all().all()
    town = sorted(set(snap["township_code"]))[1]
    h = townships.household_points(snap, res, town, coords)
    assert len(h) == int((snap["township_code"] == town).sum())
    assert (h["township_code"] == town).all()
    assert h["score"].is_monotonic_decreasing
    one = h.iloc[0]
    assert (one["lon"], one["lat"]) == tuple(coords.set_index("household_id").loc[one["household_id"], ["lon", "lat"]])
    # top reasons are the first three of ScoreResult.reasons
    for hid in h["household_id"].head(5):
        row = int(np.flatnonzero(snap["household_id"].to_numpy() == hid)[0])
        want = [r.key for r in res.reasons(row, top=3)]
        got = [k for k in h.set_index("household_id").loc[hid, ["reason_1", "reason_2", "reason_3"]] if k]
        assert got == want


# --------------------------------------------------------------------------- user GeoJSON
KNOWN = ["990101001000", "990101002000"]


def _fc(codes: list[object], key: str = "region_code") -> dict:
    feats = [
        {"type": "Feature", "properties": {key: c, "name": f"t{i}"}, "geometry": mapping(box(106 + i, 27, 106.5 + i, 27.5))}
        for i, c in enumerate(codes)
    ]
    return {"type": "FeatureCollection", "features": feats}


def test_validate_accepts_a_matching_file_and_sets_region_code() -> None:
    fc, problems = geojson.validate_geojson(json.dumps(_fc(KNOWN)).encode(), KNOWN)
    assert problems == []
    assert [f["properties"]["region_code"] for f in fc["features"]] == KNOWN
    assert fc["features"][0]["properties"]["name"] == "t0"


@pytest.mark.parametrize(
    ("key", "codes"),
    [
        ("code", KNOWN),
        ("township_code", KNOWN),
        ("区划代码", KNOWN),
        ("行政区划代码", KNOWN),
        ("code", [990101001000, 990101002000]),  # numbers
        ("区划代码", ["990101001", "990101002"]),  # 9-digit township codes
    ],
)
def test_validate_accepts_other_code_properties(key: str, codes: list) -> None:
    fc, problems = geojson.validate_geojson(_fc(codes, key), KNOWN)
    assert problems == [], problems
    assert [f["properties"]["region_code"] for f in fc["features"]] == KNOWN


def test_validate_reads_gbk_files() -> None:
    raw = json.dumps(_fc(KNOWN, "区划代码"), ensure_ascii=False).encode("gbk")
    fc, problems = geojson.validate_geojson(raw, KNOWN)
    assert problems == [] and len(fc["features"]) == 2


def test_validate_refuses_mismatching_codes_and_lists_them() -> None:
    fc, problems = geojson.validate_geojson(_fc(["990101001000", "990101099000"]), KNOWN)
    assert fc is None
    assert [(p.kind, p.code) for p in problems] == [("unknown_code", "990101099000"), ("missing_code", "990101002000")]
    zh = geojson.describe_problems(problems, "zh", {"990101002000": "长坝镇"})
    assert "990101099000" in zh[0] and "数据库" in zh[0]
    assert "990101002000（长坝镇）" in zh[1]
    en = geojson.describe_problems(problems, "en")
    assert en == [
        "The file has a township code the database does not know: 990101099000",
        "A database township is missing from the file: 990101002000",
    ]


def test_validate_refuses_bad_files() -> None:
    assert geojson.validate_geojson(b"{not json", KNOWN)[1][0].kind == "not_json"
    assert geojson.validate_geojson({"type": "Feature"}, KNOWN)[1][0].kind == "not_collection"
    assert geojson.validate_geojson({"type": "FeatureCollection", "features": []}, KNOWN)[1][0].kind == "no_features"

    fc = _fc(KNOWN)
    del fc["features"][0]["properties"]["region_code"]
    assert [p.kind for p in geojson.validate_geojson(fc, KNOWN)[1]][:1] == ["no_code"]

    fc = _fc([KNOWN[0], KNOWN[0], KNOWN[1]])
    assert [p.kind for p in geojson.validate_geojson(fc, KNOWN)[1]] == ["duplicate_code"]

    fc = _fc(KNOWN)
    fc["features"][1]["geometry"] = {"type": "Point", "coordinates": [106, 27]}
    assert [(p.kind, p.detail) for p in geojson.validate_geojson(fc, KNOWN)[1]] == [("bad_geometry", "Point")]

    fc = _fc(KNOWN)  # a bow-tie ring crosses itself
    fc["features"][1]["geometry"] = {"type": "Polygon", "coordinates": [[[106, 27], [107, 28], [107, 27], [106, 28], [106, 27]]]}
    (p,) = geojson.validate_geojson(fc, KNOWN)[1]
    assert p.kind == "invalid_geometry" and "Self-intersection" in p.detail

    fc = _fc(KNOWN)  # projected metres, not degrees
    fc["features"][0]["geometry"] = mapping(box(500000, 3000000, 510000, 3010000))
    assert [p.kind for p in geojson.validate_geojson(fc, KNOWN)[1]] == ["not_lonlat"]


def test_every_problem_kind_has_a_message_in_both_languages() -> None:
    kinds = ["not_json", "not_collection", "no_features", "no_code", "duplicate_code", "bad_geometry", "invalid_geometry", "not_lonlat", "unknown_code", "missing_code"]
    problems = [geojson.GeoProblem(k, code="990101001000", feature=0, detail="x") for k in kinds] * 3
    for lang in ("zh", "en"):
        lines = geojson.describe_problems(problems, lang, limit=len(kinds))
        assert len(lines) == len(kinds) + 1  # the rest are counted on one line
        assert all(line and "{" not in line for line in lines)


def test_a_geojson_nested_a_hundred_thousand_levels_deep_is_refused_not_a_traceback() -> None:
    """Issue 17, item 6: json.loads raised RecursionError (with server paths on the page)."""
    from fanpin.geo.geojson import describe_problems, validate_geojson

    deep = '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"region_code":"990101001000"},"geometry":{"type":"Polygon","coordinates":' + "[" * 100_000 + "]" * 100_000 + "}}]}"
    fc, problems = validate_geojson(deep.encode(), ["990101001000"])
    assert fc is None and [p.kind for p in problems] == ["too_deep"]
    assert "嵌套" in describe_problems(problems, "zh")[0]
    shallow_but_odd = '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"region_code":"990101001000"},"geometry":{"type":"Polygon","coordinates":' + "[" * 400 + "]" * 400 + "}}]}"
    fc, problems = validate_geojson(shallow_but_odd.encode(), ["990101001000"])
    assert fc is None and problems  # refused as a bad geometry or too deep, never raised
