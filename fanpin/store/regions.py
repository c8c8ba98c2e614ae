"""Regions: the county, its townships and villages, their geometry, and where households live."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.store.schema import households, regions

log = logging.getLogger(__name__)


def load_regions(engine: Engine) -> pd.DataFrame:
    """All regions without geometry: code, level, parent, names, centroid."""
    cols = [regions.c.region_code, regions.c.level, regions.c.parent_code, regions.c.name, regions.c.name_en, regions.c.lon, regions.c.lat]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).order_by(regions.c.region_code)).all()
    return pd.DataFrame(rows, columns=[c.name for c in cols])


def township_geojson(engine: Engine) -> dict:
    """A FeatureCollection of township polygons keyed by ``region_code``."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(regions.c.region_code, regions.c.name, regions.c.name_en, regions.c.geometry)
            .where(regions.c.level == "township")
            .order_by(regions.c.region_code)
        ).all()
    feats = [
        {
            "type": "Feature",
            "id": code,
            "properties": {"region_code": code, "name": name, "name_en": name_en},
            "geometry": _geometry(code, geom),
        }
        for code, name, name_en, geom in rows
    ]
    return {"type": "FeatureCollection", "features": feats}


def _geometry(code: str, text: str | None) -> dict | None:
    """A stored boundary as a GeoJSON geometry, or None (drawn as a township without a boundary)
    when none is stored or the stored text cannot be one: not JSON, nested past reason, not a
    Polygon/MultiPolygon shapely can build.  Imports check boundaries (``fanpin.ingest``); a row
    written before that, or behind the import's back, is skipped with a warning, never raised."""
    if not text:
        return None
    try:
        geom = json.loads(text)
        if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"not a Polygon or MultiPolygon: {type(geom).__name__}")
        if shape(geom).is_empty:
            raise ValueError("empty geometry")
    except Exception as exc:  # noqa: BLE001 - JSON, recursion and shapely's several errors alike: the map must still draw
        log.warning("region %s: stored geometry skipped (%s: %s)", code, type(exc).__name__, str(exc)[:200])
        return None
    return geom


def household_coords(engine: Engine) -> pd.DataFrame:
    """Every household's location (``households.lon/lat``, float64): the monthly snapshot does not
    carry it, and only the map's household layer needs it."""
    cols = [households.c.household_id, households.c.lon, households.c.lat]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols)).all()
    ids, lon, lat = zip(*rows) if rows else ((), (), ())  # tuples: pandas probing Row objects one by one cost 1 s at 20k
    return pd.DataFrame({"household_id": list(ids), "lon": np.array(lon, dtype=np.float64), "lat": np.array(lat, dtype=np.float64)})
