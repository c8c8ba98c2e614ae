"""Boundaries of the demo province: its cities, counties and townships as polygons that tile it.

The province map draws counties (and a county's townships) as polygons, so the demo province needs
boundaries the way a bureau's province has them from its GIS office.  They are made like the demo
county's (``fanpin.demo.geography``): a star-shaped outline partitioned into Voronoi cells of similar
size, once for the counties (a city is grown from a corner cell through its neighbours, so that its
counties touch) and once inside each county for its townships, so that every county lies inside its city and every
township inside its county, and neighbours share their edges.

Reproducible by the province's seed, from a stream of its own (``default_rng([seed, 0x6E0])``): the
households' streams are not touched, so adding boundaries changed no figure of the data.  Township
names are the ones each county's own geography draws (``make_geography`` on the county's stream, as
``build_county`` draws them); city and county names are drawn here, unique across the province.
The outline is 106.5°E 27.5°N like the demo county, code 99: no real place.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from fanpin.demo.geography import GRID, feature_collection, make_geography, make_outline, new_name, partition_outline
from fanpin.demo.province import ProvinceSpec

#: The demo county's outline radius in degrees; the province's grows with the square root of its counties.
COUNTY_RADIUS = 0.3


def province_boundaries(spec: ProvinceSpec, *, townships: bool = True) -> dict[str, dict]:
    """``{"province": fc, "city": fc, "county": fc, "township": fc}``: FeatureCollections keyed by 12-digit
    ``properties.region_code`` with ``name`` and ``name_en`` (townships left out with ``townships=False``)."""
    rng = np.random.default_rng([spec.seed, 0x6E0])
    n = spec.counties
    outline = make_outline(rng, radius=COUNTY_RADIUS * math.sqrt(n))
    codes = [spec.county_code(i) for i in range(n)]
    used_zh: set[str] = set()
    used_en: set[str] = set()
    name, name_en = new_name(rng, "省", used_zh, used_en)
    province = [(codes[0][:2].ljust(12, "0"), name, name_en, outline)]
    cells = partition_outline(outline, n, rng)  # counties of similar size
    sizes = [sum(c[:4] == city for c in codes) for city in sorted({c[:4] for c in codes})]
    county_cells = dict(zip(codes, [cells[i] for i in _grown(cells, sizes)]))
    city_rows, county_rows, township_rows = [], [], []
    for city in sorted({c[:4] for c in codes}):
        mine = [c for c in codes if c[:4] == city]
        name, name_en = new_name(rng, "市", used_zh, used_en)
        city_rows.append((city.ljust(12, "0"), name, name_en, shapely.union_all([county_cells[c] for c in mine], grid_size=GRID)))
        for code in mine:
            name, name_en = new_name(rng, "县", used_zh, used_en)
            county_rows.append((code.ljust(12, "0"), name, name_en, county_cells[code]))
    if townships:
        for i, code in enumerate(codes):
            cspec = spec.county_spec(i)
            geo = make_geography(np.random.default_rng([spec.seed, i]), cspec.townships, cspec.villages, code)
            cells = partition_outline(county_cells[code], len(geo.townships), rng)
            township_rows += [(t.code, t.name, t.name_en, c) for t, c in zip(geo.townships, cells)]
    out = {"province": feature_collection(province), "city": feature_collection(city_rows), "county": feature_collection(county_rows)}
    if townships:
        out["township"] = feature_collection(township_rows)
    return out


def _grown(cells: list, sizes: list[int]) -> list[int]:
    """Cell indices in city order: each city of ``sizes[k]`` cells grown from the unassigned cell with
    the fewest unassigned neighbours (a corner: what is left stays in one piece), adding the unassigned
    neighbour nearest the city's first cell; a city boxed in takes the nearest cell left."""
    n = len(cells)
    tree = shapely.STRtree(cells)
    left_i, right_i = tree.query(cells, predicate="touches")
    near: list[set[int]] = [set() for _ in range(n)]
    for a, b in zip(left_i, right_i):
        if a != b and cells[a].boundary.intersection(cells[b].boundary).length > 0:
            near[a].add(int(b))
    xy = shapely.get_coordinates(shapely.centroid(cells))
    free = set(range(n))
    order: list[int] = []
    for size in sizes:
        start = min(free, key=lambda i: (len(near[i] & free), -xy[i, 1], xy[i, 0]))
        group = [start]
        free.discard(start)
        while len(group) < size and free:
            ring = set().union(*(near[g] for g in group)) & free or free
            nxt = min(ring, key=lambda i: (float(np.hypot(*(xy[i] - xy[start]))), i))
            group.append(nxt)
            free.discard(nxt)
        order += group
    return order
