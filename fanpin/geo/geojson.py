"""Township GeoJSON: checking an uploaded file, the map's view and label points."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import shapely
from shapely.geometry import shape

from fanpin.core.i18n import translate

#: Property names read as the township code, in order of preference.  ``region_code``
#: is fanpin's own; ``code`` and ``township_code`` are what GIS exports and other
#: systems commonly use; 区划代码 / 行政区划代码 are the column names in bureaus' own
#: spreadsheets and in the national division-code tables.
CODE_PROPERTIES: tuple[str, ...] = ("region_code", "code", "township_code", "区划代码", "行政区划代码")


# --------------------------------------------------------------------------- contiguity and Gi*
def _geometries(fc: Mapping) -> tuple[list[str], list]:
    ids, geoms = [], []
    for f in fc["features"]:
        ids.append(str(f["properties"]["region_code"]))
        geoms.append(shape(f["geometry"]))
    return ids, geoms


def map_view(fc: Mapping, codes: Iterable[str] | None = None, width_px: int = 900, height_px: int = 560) -> dict[str, float]:
    """Centre and zoom that fit the chosen features (all when None) in a ``width_px`` x ``height_px`` map.

    deck.gl's (and MapLibre's, under plotly's ``choropleth_map``) web-mercator world is 512 pixels
    wide at zoom 0 (not 256 as for raster tiles); latitude spans are stretched by 1/cos(lat).
    Features without a geometry are left out.  The one view rule for the risk map and the
    simulator's township map.
    """
    wanted = set(codes) if codes is not None else None
    geoms = [
        shape(f["geometry"])
        for f in fc["features"]
        if f.get("geometry") and (wanted is None or f["properties"]["region_code"] in wanted)
    ]
    if not geoms:
        return {"longitude": 0.0, "latitude": 0.0, "zoom": 1.0}
    minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms, dtype=object))
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    span_x = max(maxx - minx, 1e-4)
    span_y = max(maxy - miny, 1e-4) / max(math.cos(math.radians(lat)), 0.1)
    zoom = min(math.log2(width_px * 360 / (512 * span_x)), math.log2(height_px * 360 / (512 * span_y)))
    return {"longitude": float(lon), "latitude": float(lat), "zoom": float(max(1.0, zoom - 0.15))}


def label_points(fc: Mapping) -> list[tuple[str, float, float]]:
    """(code, lon, lat) inside each feature, for name labels (a point on the surface, not the centroid)."""
    out = []
    for f in fc["features"]:
        p = shapely.point_on_surface(shape(f["geometry"]))
        out.append((f["properties"]["region_code"], float(p.x), float(p.y)))
    return out


# --------------------------------------------------------------------------- user GeoJSON
@dataclass(frozen=True)
class GeoProblem:
    """One reason a township file cannot be used.

    ``kind``: not_json, not_collection, no_features, no_code, bad_geometry,
    invalid_geometry, not_lonlat, duplicate_code, unknown_code (in the file, not in the
    database) or missing_code (a database township the file lacks).
    """

    kind: str
    code: str | None = None
    feature: int | None = None  # 0-based feature index
    detail: str = ""


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):  # Chinese GIS exports are often GBK
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("utf-8", raw, 0, 1, "neither UTF-8 nor GB18030")


def code_of(props: Mapping) -> str | None:
    for name in CODE_PROPERTIES:
        value = props.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        code = str(value).strip()
        if len(code) == 9 and code.isdigit():  # 乡级 9-digit code: county (6) + township (3)
            code += "000"
        return code
    return None


def _check_feature(i: int, feat: object, seen: dict[str, int]) -> dict | GeoProblem:
    """Feature ``i`` with ``properties.region_code`` set, or the first reason it cannot be used
    (its code is noted in ``seen``, so a second feature with the same code is refused)."""
    if not isinstance(feat, Mapping):
        return GeoProblem("bad_geometry", feature=i, detail="not a Feature")
    props = feat.get("properties") or {}
    code = code_of(props) if isinstance(props, Mapping) else None
    if code is None:
        return GeoProblem("no_code", feature=i)
    if code in seen:
        return GeoProblem("duplicate_code", code=code, feature=i)
    seen[code] = i
    geom = feat.get("geometry")
    problem = geometry_problem(geom)
    if problem is not None:
        return replace(problem, code=code, feature=i)
    return {"type": "Feature", "id": code, "properties": {**dict(props), "region_code": code}, "geometry": dict(geom)}


def geometry_problem(geom: object) -> GeoProblem | None:
    """Why one township or county boundary cannot be drawn (None: it can): it must be a valid
    Polygon or MultiPolygon in longitude/latitude degrees.  ``geom`` is the geometry object or its
    JSON text (the ``regions.geometry`` column, a cell of an imported regions table); a text that
    is not JSON, or nests its brackets past any real geometry, is refused, never raised."""
    if isinstance(geom, str):
        try:
            geom = json.loads(geom)
        except json.JSONDecodeError as exc:
            return GeoProblem("not_json", detail=f"line {exc.lineno}, column {exc.colno}: {exc.msg}")
        except RecursionError:
            return GeoProblem("too_deep")
    if not isinstance(geom, Mapping) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geom.get("type") if isinstance(geom, Mapping) else None
        return GeoProblem("bad_geometry", detail=str(kind))
    try:
        g = shape(geom)
    except RecursionError:
        return GeoProblem("too_deep")
    except Exception as exc:  # noqa: BLE001 -- shapely raises several types for malformed rings
        return GeoProblem("invalid_geometry", detail=str(exc))
    if g.is_empty or not g.is_valid:
        return GeoProblem("invalid_geometry", detail="empty" if g.is_empty else shapely.is_valid_reason(g))
    minx, miny, maxx, maxy = g.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        return GeoProblem("not_lonlat", detail=f"{minx:.0f}, {miny:.0f}")
    return None


def parse_collection(fc_or_bytes: Mapping | bytes | str) -> tuple[Mapping | None, list[GeoProblem]]:
    """The file as a FeatureCollection with at least one feature, or why it is not one (UTF-8 or
    GB18030 text; a JSON error says where; brackets nested past any real geometry are refused)."""
    fc: object = fc_or_bytes
    if isinstance(fc, (bytes, bytearray)):
        try:
            fc = _decode(bytes(fc))
        except UnicodeDecodeError as exc:
            return None, [GeoProblem("not_json", detail=str(exc))]
    if isinstance(fc, str):
        try:
            fc = json.loads(fc)
        except json.JSONDecodeError as exc:
            return None, [GeoProblem("not_json", detail=f"line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        except RecursionError:  # brackets nested beyond any real geometry (a hostile or broken file)
            return None, [GeoProblem("too_deep")]
    if not isinstance(fc, Mapping) or fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        return None, [GeoProblem("not_collection")]
    if not fc["features"]:
        return None, [GeoProblem("no_features")]
    return fc, []


def validate_geojson(fc_or_bytes: Mapping | bytes | str, known_codes: Iterable[str]) -> tuple[dict | None, list[GeoProblem]]:
    """Check a township FeatureCollection against the database's township codes.

    The code is read from the first present of :data:`CODE_PROPERTIES` (a 9-digit
    township code is padded with ``000`` to the 12-digit form).  Each geometry must be a
    valid Polygon or MultiPolygon in longitude/latitude degrees (RFC 7946).  The codes
    must match the database exactly: every file code known, every township present,
    none twice.  Returns ``(fc, [])`` with ``properties.region_code`` set on every
    feature when the file is accepted, ``(None, problems)`` when refused.
    """
    known = {str(c) for c in known_codes}
    fc, refused = parse_collection(fc_or_bytes)
    if fc is None:
        return None, refused

    problems: list[GeoProblem] = []
    features: list[dict] = []
    seen: dict[str, int] = {}
    for i, feat in enumerate(fc["features"]):
        try:
            checked = _check_feature(i, feat, seen)
        except RecursionError:
            return None, [GeoProblem("too_deep", feature=i)]
        if isinstance(checked, GeoProblem):
            problems.append(checked)
        else:
            features.append(checked)
    problems += [GeoProblem("unknown_code", code=c, feature=seen[c]) for c in sorted(set(seen) - known)]
    problems += [GeoProblem("missing_code", code=c) for c in sorted(known - set(seen))]
    if problems:
        return None, problems
    return {"type": "FeatureCollection", "features": features}, []


def describe_problems(problems: Sequence[GeoProblem], lang: str = "zh", names: Mapping[str, str] | None = None, limit: int = 20) -> list[str]:
    """One readable line per problem (at most ``limit``, then a count of the rest) for the page."""
    names = names or {}
    lines = []
    for p in problems[:limit]:
        place = p.code or ""
        if p.code in names:
            place += f"（{names[p.code]}）" if lang == "zh" else f" ({names[p.code]})"
        lines.append(translate(f"map.problem.{p.kind}", lang, code=place, feature=(p.feature + 1) if p.feature is not None else "", detail=p.detail))
    if len(problems) > limit:
        lines.append(translate("map.problem.more", lang, n=len(problems) - limit))
    return lines
