"""The same person registered in two households (often in two counties): a join across partitions.

Members are in the analytic store as (keyed hash of the ID number, household), one file
per county.  Finding a key held by more than one household needs every county's keys
side by side, which is a shuffle: Dask's dataframe layer partitions the members by key
(``dd.from_map`` over the county files, ``shuffle(on="person_key")``), after which each
partition holds every copy of its keys and the duplicates are found partition by
partition.  No process ever holds a province's members; without a client the same graph
runs on Dask's synchronous scheduler in this process.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanpin.store.snapshot import SnapshotStore

_META = pd.DataFrame({"person_key": pd.Series([], dtype=np.int64), "household_id": pd.Series([], dtype=object),
                      "county_code": pd.Series([], dtype=object)})


def county_members(root: str, county: str) -> pd.DataFrame:
    """One county's (person_key, household_id, county_code)."""
    f = SnapshotStore(root).read_members(county)
    return pd.DataFrame({"person_key": f["person_key"].to_numpy(dtype=np.int64),
                         "household_id": f["household_id"].to_numpy(dtype=object),
                         "county_code": np.full(len(f), county, dtype=object)})


def duplicates_in(part: pd.DataFrame) -> pd.DataFrame:
    """Rows whose key is held by two or more households (all copies of a key are in this partition)."""
    if part.empty:
        return part.iloc[0:0]
    distinct = part.drop_duplicates(["person_key", "household_id"])
    n = distinct.groupby("person_key")["household_id"].transform("size")
    return distinct[n.to_numpy() > 1].sort_values(["person_key", "household_id"], ignore_index=True)


def duplicate_people(store: SnapshotStore, client: object | None = None) -> pd.DataFrame:
    """Every (person_key, household_id, county_code) of a person in more than one household."""
    import dask.dataframe as dd

    counties = sorted(store.manifest().members)
    if not counties:
        return _META.copy()
    root = str(store.root)
    ddf = dd.from_map(county_members, [root] * len(counties), counties, meta=_META)
    method = "p2p" if client is not None else "tasks"  # p2p needs workers; the in-process graph shuffles in tasks
    found = ddf.shuffle(on="person_key", npartitions=max(1, len(counties) // 4), shuffle_method=method).map_partitions(duplicates_in, meta=_META)
    out = client.compute(found).result() if client is not None else found.compute(scheduler="sync")  # type: ignore[attr-defined]
    return out.sort_values(["person_key", "household_id"], ignore_index=True)
