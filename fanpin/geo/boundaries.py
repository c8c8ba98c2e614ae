"""Region boundaries above the county's own map: cities, counties and townships of the analytic store.

A province bureau gets its county boundaries from its GIS office as a GeoJSON export; the store keeps
one file per level (``SnapshotStore.boundaries_path``), checked here the way the county's township
file is checked (``fanpin.geo.geojson``: valid polygons in lon/lat, one feature per code), with two
differences a province needs: a county file's codes may be the 6-digit county codes GIS exports
carry (a city's the 4-digit ones), and a region the store holds but the file lacks is a warning, not
a refusal (the map draws it as missing; counties are synced in over time).  A code the store does
not hold is refused: a file of another province, or of the wrong level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fanpin.geo.geojson import GeoProblem, code_of, parse_collection, validate_geojson

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from fanpin.store.snapshot import SnapshotStore

#: The levels a store keeps boundaries of, and the digits of a code's own part at each.
LEVELS: dict[str, int] = {"province": 2, "city": 4, "county": 6, "township": 9}


@dataclass(frozen=True)
class Checked:
    """A boundary file as the store keeps it (None when refused), why it was refused, and the store's
    regions it lacks (the map shows them as missing)."""

    fc: dict | None
    problems: list[GeoProblem]
    missing: list[str]


def _padded(fc: object, level: str) -> object:
    """The collection with short codes of ``level`` (6-digit counties, 4-digit cities) padded to 12 digits."""
    if not isinstance(fc, Mapping) or not isinstance(fc.get("features"), list):
        return fc
    width = LEVELS[level]
    feats = []
    for f in fc["features"]:
        props = f.get("properties") if isinstance(f, Mapping) else None
        code = code_of(props) if isinstance(props, Mapping) else None
        if code is not None and code.isdigit() and len(code) == width:
            f = {**f, "properties": {**props, "region_code": code.ljust(12, "0")}}
        feats.append(f)
    return {**fc, "features": feats}


def check_boundaries(raw: Mapping | bytes | str, level: str, known: Iterable[str]) -> Checked:
    """Check a boundary file of ``level`` against the store's 12-digit codes of that level (``known``)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    known = {str(c) for c in known}
    fc, refused = parse_collection(raw)
    if fc is None:
        return Checked(None, refused, [])
    fc = _padded(fc, level)
    got, problems = validate_geojson(fc, known)
    missing = sorted(p.code for p in problems if p.kind == "missing_code" and p.code)
    problems = [p for p in problems if p.kind != "missing_code"]
    if problems:
        return Checked(None, problems, missing)
    if got is None:  # only missing codes: accept the rest
        got, _ = validate_geojson(fc, known - set(missing))
    return Checked(got, [], missing)


def region_names(fcs: Iterable[Mapping | None], lang: str) -> dict[str, str]:
    """Code -> name from the boundary files' ``name`` (zh) or ``name_en`` properties, where present
    (a GIS export's names in English are often absent: the Chinese name is kept then)."""
    out: dict[str, str] = {}
    for fc in fcs:
        for f in (fc or {}).get("features", []):
            p = f.get("properties") or {}
            name = (p.get("name_en") if lang == "en" else None) or p.get("name")
            if name:
                out[str(p["region_code"])] = str(name)
    return out


def store_codes(store: SnapshotStore, level: str) -> list[str]:
    """The 12-digit codes of ``level`` the store holds: its counties and their cities from the manifest;
    townships from the latest month's file of each county (one column read)."""
    man = store.manifest()
    counties = man.counties
    if level == "county":
        return [c.ljust(12, "0") for c in counties]
    if level in ("province", "city"):
        w = LEVELS[level]
        return sorted({c[:w].ljust(12, "0") for c in counties})
    last = max(man.periods)
    codes: set[str] = set()
    for c in counties:
        if (last, c) in man.partitions:
            codes |= set(store.read_month(last, c, columns=["township_code"])["township_code"].astype(str))
    return sorted(codes)


def merged(kept: Mapping | None, features: list[dict], counties: Iterable[str]) -> dict:
    """``kept``'s features outside ``counties`` (6-digit codes) and ``features`` in their place: a
    database's townships (or its county's outline) replace that county's, other counties' stay."""
    mine = {str(c)[:6] for c in counties}
    others = [f for f in (kept or {}).get("features", []) if str(f["properties"]["region_code"])[:6] not in mine]
    return {"type": "FeatureCollection", "features": sorted(others + features, key=lambda f: str(f["properties"]["region_code"]))}


def database_boundaries(townships: Mapping, counties: Mapping[str, tuple[str, str | None]]) -> dict[str, list[dict]]:
    """From a county database's township collection (``fanpin.store.regions.township_geojson``): its
    townships with a boundary, and each county's outline as the union of its townships (named from
    ``counties``: 12-digit code -> (name, English name)), for the store's files."""
    import shapely
    from shapely.geometry import mapping, shape

    towns = [f for f in townships.get("features", []) if f.get("geometry")]
    outlines = []
    for code, (name, name_en) in counties.items():
        parts = [shape(f["geometry"]) for f in towns if str(f["properties"]["region_code"])[:6] == code[:6]]
        if not parts:
            continue
        outline = shapely.union_all(parts, grid_size=1e-5)
        if outline.is_empty or outline.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        outlines.append({"type": "Feature", "id": code, "properties": {"region_code": code, "name": name, "name_en": name_en},
                         "geometry": mapping(outline)})
    return {"township": towns, "county": outlines}


def sync_database_boundaries(engine: Engine, store: SnapshotStore) -> int:
    """The database's township boundaries (and its county's outline, their union) into the store's
    boundary files, replacing that county's and keeping other counties' (``fanpin snapshot sync``
    calls it after the months); the number of features written."""
    from fanpin.store.regions import load_regions, township_geojson

    regions = load_regions(engine)
    counties = regions[regions["level"] == "county"]
    got = database_boundaries(township_geojson(engine), {str(r.region_code): (r.name, r.name_en) for r in counties.itertuples()})
    codes = [str(c)[:6] for c in counties["region_code"]]
    for level, feats in got.items():
        if feats:
            store.write_boundaries(level, merged(store.read_boundaries(level), feats, codes))
    return sum(len(f) for f in got.values())
