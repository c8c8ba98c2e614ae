"""Regions: the county, its townships and villages, and their geometry."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.store.schema import regions


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
