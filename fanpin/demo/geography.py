"""Geography of the synthetic demo county: outline, townships, villages.

Everything is generated from a ``numpy.random.Generator`` so a seed reproduces the same county
bit for bit; trainers can then refer to "石桥镇" in a workshop and find it on every machine. The
county code begins with 99 (no real province), so nothing here can be mistaken for a real place.

Geometry is in lon/lat degrees (WGS 84) and snapped to a 1e-5 degree grid (about 1 m), the same
precision the GeoJSON output is rounded to, so writing and re-reading GeoJSON keeps polygons
valid and neighbouring townships sharing exactly the same edges.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.polygon import orient

from fanpin.core.regions import EXAMPLE_COUNTY

__all__ = [
    "Township",
    "Village",
    "Geography",
    "make_geography",
    "township_adjacency",
    "random_points_in",
    "make_outline",
    "partition_outline",
    "new_name",
    "feature_collection",
    "GRID",
]

GRID = 1e-5  # degrees; geometry precision and GeoJSON rounding (5 decimals)
_DECIMALS = 5

COUNTY_NAME = "清溪县"
COUNTY_NAME_EN = "Qingxi County"

# Place names are <descriptive chars><landform char>: 石桥, 龙坪, 大石桥. Two disjoint pools make
# every name distinct by construction and read like real south-western place names.
_FIRST_PINYIN: dict[str, str] = {
    "石": "shi", "青": "qing", "龙": "long", "安": "an", "和": "he", "平": "ping", "新": "xin",
    "兴": "xing", "云": "yun", "松": "song", "柏": "bai", "桃": "tao", "花": "hua", "金": "jin",
    "银": "yin", "东": "dong", "西": "xi", "南": "nan", "北": "bei", "黄": "huang", "白": "bai",
    "马": "ma", "凤": "feng", "竹": "zhu", "茶": "cha", "梅": "mei", "沙": "sha", "杨": "yang",
    "柳": "liu", "红": "hong", "光": "guang", "明": "ming", "德": "de", "福": "fu", "丰": "feng",
    "乐": "le", "大": "da", "小": "xiao", "上": "shang", "下": "xia", "中": "zhong", "鹿": "lu",
    "鹤": "he", "莲": "lian", "朝": "chao", "长": "chang", "乌": "wu", "木": "mu", "枫": "feng",
    "永": "yong", "顺": "shun", "元": "yuan", "太": "tai", "宁": "ning", "盘": "pan", "高": "gao",
}
_LAST_PINYIN: dict[str, str] = {
    "河": "he", "桥": "qiao", "坪": "ping", "溪": "xi", "岭": "ling", "田": "tian", "水": "shui",
    "山": "shan", "林": "lin", "岩": "yan", "湾": "wan", "塘": "tang", "坝": "ba", "江": "jiang",
    "口": "kou", "营": "ying", "寨": "zhai", "堡": "bao", "坡": "po", "冲": "chong", "关": "guan",
    "泉": "quan", "峰": "feng", "洞": "dong", "坳": "ao", "场": "chang", "铺": "pu", "湖": "hu",
    "岗": "gang", "沟": "gou", "庄": "zhuang", "坎": "kan", "垭": "ya", "屯": "tun", "阳": "yang",
}
_PINYIN = {**_FIRST_PINYIN, **_LAST_PINYIN}
_FIRST_CHARS = tuple(_FIRST_PINYIN)
_LAST_CHARS = tuple(_LAST_PINYIN)
_SUFFIX_EN = {"镇": "Town", "乡": "Township", "村": "Village", "县": "County", "市": "City", "省": "Province"}


@dataclass(frozen=True)
class Township:
    """A township (乡镇): 12-digit region code, names and polygon; lon/lat is a point inside it."""

    code: str
    name: str
    name_en: str
    polygon: Polygon
    lon: float
    lat: float


@dataclass(frozen=True)
class Village:
    """An administrative village (行政村), located by a single point inside its township."""

    code: str
    township_code: str
    name: str
    name_en: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Geography:
    """The demo county: outline, townships (a partition of the outline) and their villages."""

    county_code: str
    county_name: str
    county_name_en: str
    outline: Polygon
    townships: list[Township] = field(default_factory=list)
    villages: list[Village] = field(default_factory=list)

    @property
    def region_code(self) -> str:
        """The county's 12-digit region code (county code + six zeros)."""
        return self.county_code + "000000"

    def villages_of(self, township_code: str) -> list[Village]:
        """Villages of one township, in code order."""
        return [v for v in self.villages if v.township_code == township_code]

    def township_geojson(self) -> dict[str, Any]:
        """Townships as a GeoJSON FeatureCollection keyed by ``properties.region_code``."""
        return feature_collection(
            (t.code, t.name, t.name_en, t.polygon) for t in self.townships
        )

    def county_geojson(self) -> dict[str, Any]:
        """The county outline as a one-feature GeoJSON FeatureCollection."""
        return feature_collection(
            [(self.region_code, self.county_name, self.county_name_en, self.outline)]
        )


# --------------------------------------------------------------------------------------------
# public functions


def make_geography(
    rng: np.random.Generator,
    n_townships: int = 14,
    n_villages: int = 200,
    county_code: str = "990101",
) -> Geography:
    """Generate the demo county's geography from ``rng`` (same generator state, same county)."""
    _validate(n_townships, n_villages, county_code)
    outline = make_outline(rng)
    cells = partition_outline(outline, n_townships, rng)

    used_en = {_stem_en(COUNTY_NAME_EN)}
    used_zh = {COUNTY_NAME[:-1]}
    townships: list[Township] = []
    for i, cell in enumerate(cells, start=1):
        suffix = "镇" if rng.random() < 0.6 else "乡"
        name, name_en = new_name(rng, suffix, used_zh, used_en)
        lon, lat = _inside_point(cell)
        code = f"{county_code}{i:03d}000"
        townships.append(Township(code, name, name_en, cell, lon, lat))

    counts = _allocate(np.array([t.polygon.area for t in townships]), n_villages, cap=999)
    villages: list[Village] = []
    for t, k in zip(townships, counts):
        points = _village_points(t.polygon, int(k), rng)
        for j, (lon, lat) in enumerate(points, start=1):
            name, name_en = new_name(rng, "村", used_zh, used_en)
            villages.append(
                Village(t.code[:9] + f"{j:03d}", t.code, name, name_en, float(lon), float(lat))
            )
    return Geography(county_code, COUNTY_NAME, COUNTY_NAME_EN, outline, townships, villages)


def township_adjacency(
    townships: Sequence[Township], min_shared: float = 1e-4
) -> dict[str, list[str]]:
    """Rook contiguity: townships whose boundaries share more than ``min_shared`` degrees.

    Touching at a single corner does not count (queen contiguity would), because a shared
    corner is no road between two townships; the threshold (about 10 m) also absorbs
    rounding noise. Returns every township code, each with its sorted neighbour codes.
    """
    codes = [t.code for t in townships]
    result: dict[str, list[str]] = {c: [] for c in codes}
    if len(townships) < 2:
        return result
    polys = np.array([t.polygon for t in townships], dtype=object)
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="dwithin", distance=GRID)
    keep = left < right
    left, right = left[keep], right[keep]
    # length of i's boundary lying within a hair of j: robust even if the edges are not
    # bit-identical (e.g. polygons read back from rounded GeoJSON).
    shared = shapely.length(
        shapely.intersection(
            shapely.boundary(polys[left]), shapely.buffer(polys[right], GRID / 10)
        )
    )
    for i, j in zip(left[shared > min_shared], right[shared > min_shared]):
        result[codes[i]].append(codes[j])
        result[codes[j]].append(codes[i])
    return {c: sorted(v) for c, v in result.items()}


def random_points_in(
    polygon: Polygon | MultiPolygon,
    n: int,
    rng: np.random.Generator,
    *,
    max_batch: int = 2_000_000,
) -> np.ndarray:
    """``n`` points uniformly inside ``polygon`` as an (n, 2) lon/lat array.

    Rejection sampling from the bounding box in vectorised batches sized from the expected
    acceptance rate; ``shapely.contains_xy`` on the prepared polygon keeps a million points at
    well under a second. The polygon is prepared in place (shapely >= 2.1 does so itself inside
    ``contains_xy``), which only caches an index and speeds up later calls.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    out = np.empty((n, 2), dtype=float)
    if n == 0:
        return out
    if polygon.is_empty or polygon.area <= 0:
        raise ValueError("polygon must have a positive area")
    geom = polygon
    shapely.prepare(geom)
    minx, miny, maxx, maxy = geom.bounds
    lo = np.array([minx, miny])
    span = np.array([maxx - minx, maxy - miny])
    accept = geom.area / (span[0] * span[1])
    filled = 0
    while filled < n:
        need = n - filled
        m = min(max_batch, int(need / accept * 1.1) + 64)
        xy = lo + rng.random((m, 2)) * span
        inside = np.flatnonzero(shapely.contains_xy(geom, xy[:, 0], xy[:, 1]))[:need]
        out[filled : filled + len(inside)] = xy[inside]
        filled += len(inside)
    return out


# --------------------------------------------------------------------------------------------
# outline and townships


def _validate(n_townships: int, n_villages: int, county_code: str) -> None:
    if not (isinstance(county_code, str) and len(county_code) == 6 and county_code.isdigit()
            and county_code.isascii() and county_code.startswith("99")):
        raise ValueError(
            f"county_code must be 6 digits starting with '99' (no real province), got {county_code!r}"
        )
    if county_code == EXAMPLE_COUNTY:
        raise ValueError(f"county_code {county_code} is reserved for the import templates' example rows")
    if not 1 <= n_townships <= 999:
        raise ValueError(f"n_townships must be between 1 and 999, got {n_townships}")
    if n_villages < n_townships:
        raise ValueError(
            f"n_villages ({n_villages}) must be >= n_townships ({n_townships}) "
            "so every township has at least one village"
        )
    if n_villages > 999 * n_townships:
        raise ValueError(
            f"n_villages ({n_villages}) exceeds 999 per township (3-digit village codes)"
        )


def make_outline(rng: np.random.Generator, n_vertices: int = 240, radius: float = 0.3) -> Polygon:
    """A star-shaped outline: radius perturbed by smooth harmonics, hence always simple.

    r(theta) > 0 everywhere and each ray from the centre crosses the boundary once, so the ring
    cannot self-intersect. Longitude is stretched by 1/cos(lat) so the county looks round on a map.
    ``radius`` (degrees) is a county's by default; the demo province draws a wider one.
    """
    cx = 106.5 + rng.uniform(-0.1, 0.1)
    cy = 27.5 + rng.uniform(-0.1, 0.1)
    theta = np.linspace(0.0, 2.0 * np.pi, n_vertices, endpoint=False)
    ks = np.arange(2, 13)
    amps = rng.uniform(0.3, 1.0, ks.size) / ks**1.3
    phases = rng.uniform(0.0, 2.0 * np.pi, ks.size)
    wobble = (amps[:, None] * np.cos(ks[:, None] * theta + phases[:, None])).sum(axis=0)
    wobble *= 0.35 / np.abs(wobble).max()
    r = radius * (1.0 + wobble)
    x = cx + r * np.cos(theta) / math.cos(math.radians(cy))
    y = cy + r * np.sin(theta)
    ring = np.round(np.column_stack([x, y]), _DECIMALS)
    outline = orient(Polygon(ring), 1.0)
    if not outline.is_valid:  # cannot happen for a star-shaped ring; guard against regressions
        raise RuntimeError("generated county outline is invalid")
    return outline


def _voronoi_cells(seeds: np.ndarray, outline: Polygon, grid: float | None = None) -> list:
    """Voronoi cells of ``seeds`` clipped to ``outline``, in seed order."""
    if len(seeds) == 1:
        return [outline]
    points = shapely.points(seeds)
    diagram = shapely.voronoi_polygons(
        shapely.multipoints(points), extend_to=outline.buffer(1.0)
    )
    raw = shapely.get_parts(diagram)
    # match cells to seeds by containment (``ordered=`` needs shapely 2.1 / GEOS 3.12)
    seed_idx, cell_idx = shapely.STRtree(raw).query(points, predicate="within")
    cells = np.empty(len(seeds), dtype=object)
    cells[seed_idx] = raw[cell_idx]
    return list(shapely.intersection(cells, outline, grid_size=grid))


def partition_outline(outline: Polygon, n: int, rng: np.random.Generator) -> list[Polygon]:
    """Partition ``outline`` into ``n`` Voronoi cells of similar size, ordered north to south (a county's
    townships; a demo province's counties).

    Five Lloyd iterations (seed -> centroid of its clipped cell) even out cell sizes. Clipping a
    convex cell to the non-convex outline can leave a cell in several pieces: the largest piece
    stays, each other piece is merged into the neighbour it shares the longest edge with, so the
    townships still partition the outline exactly. A piece that touches no other cell along an
    edge (never seen in practice) would be dropped; tests check the union still covers 99.9 %.
    """
    seeds = random_points_in(outline, n, rng)
    for _ in range(5):
        cells = _voronoi_cells(seeds, outline)
        cent = shapely.centroid(cells)
        ok = shapely.contains(outline, cent)
        cent = np.where(ok, cent, shapely.point_on_surface(cells))
        seeds = shapely.get_coordinates(cent)
    cells = _voronoi_cells(seeds, outline, grid=GRID)
    cells = _merge_fragments(cells)
    order = sorted(range(n), key=lambda i: (-round(seeds[i, 1], 3), seeds[i, 0]))
    cells = [orient(cells[i], 1.0) for i in order]
    for c in cells:
        if not (isinstance(c, Polygon) and c.is_valid and not c.is_empty):
            raise RuntimeError("township cell is not a valid polygon")
    return cells


def _merge_fragments(cells: list) -> list[Polygon]:
    """Keep each cell's largest part; give the other parts to the neighbour sharing most edge."""
    cells = list(cells)
    fragments: list[Polygon] = []
    for i, c in enumerate(cells):
        parts = sorted(shapely.get_parts(c), key=lambda p: p.area, reverse=True)
        cells[i] = parts[0]
        fragments.extend(parts[1:])
    for frag in fragments:
        shared = [frag.boundary.intersection(c.boundary).length for c in cells]
        for j in np.argsort(shared)[::-1]:
            if shared[j] <= 0:
                break
            merged = shapely.union(cells[j], frag, grid_size=GRID)
            if isinstance(merged, Polygon):
                cells[j] = merged
                break
    return cells


def _inside_point(poly: Polygon) -> tuple[float, float]:
    """The centroid if it lies inside (after rounding), else shapely's representative point."""
    for p in (poly.centroid, poly.representative_point()):
        lon, lat = round(p.x, _DECIMALS), round(p.y, _DECIMALS)
        if shapely.contains_xy(poly, lon, lat):
            return lon, lat
    p = poly.representative_point()
    return p.x, p.y


# --------------------------------------------------------------------------------------------
# villages


def _allocate(weights: np.ndarray, total: int, cap: int) -> np.ndarray:
    """Split ``total`` into integers >= 1 and <= cap, proportional to ``weights`` (largest remainder)."""
    counts = np.ones(len(weights), dtype=int)
    remaining = total - len(weights)
    while remaining > 0:
        open_ = counts < cap
        w = np.where(open_, weights, 0.0)
        share = remaining * w / w.sum()
        add = np.minimum(np.floor(share).astype(int), cap - counts)
        left = remaining - add.sum()
        if left > 0:
            frac = np.where(open_ & (counts + add < cap), share - np.floor(share), -1.0)
            top = np.argsort(-frac, kind="stable")[:left]
            add[top[frac[top] >= 0]] += 1
        counts += add
        remaining -= int(add.sum())
    return counts


def _village_points(poly: Polygon, k: int, rng: np.random.Generator, tries: int = 12) -> np.ndarray:
    """``k`` well-spread points inside ``poly``, kept off its edge.

    Points come from an inward buffer (a quarter of the typical village spacing, so no village
    sits on a township border) using Mitchell's best-candidate sampling: each new village is the
    candidate farthest from those already placed, which avoids unrealistic clumps.
    """
    spacing = math.sqrt(poly.area / k)
    margin = min(0.25 * spacing, 0.01)
    inner = poly
    while margin > 2 * GRID:
        trial = poly.buffer(-margin)
        if not trial.is_empty and trial.area > 0.2 * poly.area:
            inner = trial
            break
        margin /= 2
    cand = random_points_in(inner, k * tries, rng).reshape(k, tries, 2)
    cand = np.round(cand, _DECIMALS)
    chosen = np.empty((k, 2))
    chosen[0] = cand[0, 0]
    for i in range(1, k):
        d = ((cand[i][:, None, :] - chosen[None, :i, :]) ** 2).sum(axis=2).min(axis=1)
        chosen[i] = cand[i, int(np.argmax(d))]
    inside = shapely.contains_xy(poly, chosen[:, 0], chosen[:, 1])
    if not inside.all():  # rounding pushed a point out: only possible with no inner buffer
        chosen[~inside] = random_points_in(poly, int((~inside).sum()), rng)
    order = np.lexsort((chosen[:, 0], -chosen[:, 1]))  # north to south, then west to east
    return chosen[order]


# --------------------------------------------------------------------------------------------
# names and GeoJSON


def _pinyin(chars: str) -> str:
    """Capitalised pinyin with the apostrophe rule (Xi'an): a/o/e syllables after the first."""
    out = ""
    for i, ch in enumerate(chars):
        syl = _PINYIN[ch]
        if i and syl[0] in "aoe":
            out += "'"
        out += syl
    return out.capitalize()


def _stem_en(name_en: str) -> str:
    return name_en.rsplit(" ", 1)[0]


def new_name(
    rng: np.random.Generator, suffix: str, used_zh: set[str], used_en: set[str]
) -> tuple[str, str]:
    """A fresh place name unique in Chinese and in pinyin across the county.

    Two characters by default; after repeated collisions (hundreds of names already taken) a
    longer descriptive prefix (大石桥) is used, so the pool never runs out.
    """
    length, misses = 2, 0
    while True:
        firsts = rng.choice(len(_FIRST_CHARS), size=length - 1, replace=False)
        stem = "".join(_FIRST_CHARS[i] for i in firsts) + _LAST_CHARS[rng.integers(len(_LAST_CHARS))]
        stem_en = _pinyin(stem)
        if stem not in used_zh and stem_en not in used_en:
            used_zh.add(stem)
            used_en.add(stem_en)
            return stem + suffix, f"{stem_en} {_SUFFIX_EN[suffix]}"
        misses += 1
        if misses >= 30:
            length, misses = length + 1, 0


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, _DECIMALS)
    if isinstance(obj, (list, tuple)):
        return [_rounded(o) for o in obj]
    return obj


def feature_collection(rows: Iterable[tuple[str, str, str, Any]]) -> dict[str, Any]:
    """FeatureCollection with exterior rings counter-clockwise (RFC 7946) and 5-decimal coordinates."""
    features = []
    for code, name, name_en, geom in rows:
        g = mapping(orient(geom, 1.0) if isinstance(geom, Polygon) else MultiPolygon([orient(p, 1.0) for p in geom.geoms]))
        features.append({
            "type": "Feature",
            "id": code,
            "properties": {"region_code": code, "name": name, "name_en": name_en},
            "geometry": {"type": g["type"], "coordinates": _rounded(g["coordinates"])},
        })
    return {"type": "FeatureCollection", "features": features}
