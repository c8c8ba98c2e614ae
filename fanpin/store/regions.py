"""Regions: the county, its townships and villages, their geometry, and where households live."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.store.schema import households, regions


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
            "geometry": json.loads(geom) if geom else None,
        }
        for code, name, name_en, geom in rows
    ]
    return {"type": "FeatureCollection", "features": feats}


def household_coords(engine: Engine) -> pd.DataFrame:
    """Every household's location (``households.lon/lat``, float64): the monthly snapshot does not
    carry it, and only the map's household layer needs it."""
    cols = [households.c.household_id, households.c.lon, households.c.lat]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols)).all()
    frame = pd.DataFrame(rows, columns=["household_id", "lon", "lat"])
    frame["lon"] = frame["lon"].astype(np.float64)
    frame["lat"] = frame["lat"].astype(np.float64)
    return frame
