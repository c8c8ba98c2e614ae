"""The database: tables, engine, migrations and bulk reads/writes. The one place that writes SQL."""

from fanpin.store.engine import StoreError, default_url, make_engine
from fanpin.store.io import (
    bulk_insert,
    bump_data_version,
    data_version,
    database_id,
    get_meta,
    load_json_meta,
    load_snapshot,
    load_snapshots,
    periods,
    set_meta,
    shift_period,
    warm_cache,
)
from fanpin.store.migrate import check_schema, current_revision, head_revision, upgrade

__all__ = [
    "StoreError",
    "bulk_insert",
    "bump_data_version",
    "check_schema",
    "current_revision",
    "data_version",
    "database_id",
    "default_url",
    "get_meta",
    "head_revision",
    "load_json_meta",
    "load_snapshot",
    "load_snapshots",
    "warm_cache",
    "make_engine",
    "periods",
    "set_meta",
    "shift_period",
    "upgrade",
]
