"""The member counts kept on each household row (size, labour, elderly, children, illness, ...),
recomputed from the members table after a members import, as the demo writes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from fanpin.store import imports as store
from fanpin.store.imports import AGGREGATE_COLUMNS

__all__ = ["AGGREGATE_COLUMNS", "aggregate_reference_date", "household_aggregates", "refresh_aggregates"]

_STUDENT = ("primary", "junior", "senior", "college")


def household_aggregates(members: pd.DataFrame, ref_date: date) -> pd.DataFrame:
    """Per-household member counts, as the demo writes them (``fanpin.demo.build``).

    ``members`` has household_id, birth_date, health, disability, labour_capacity, schooling,
    medical_insurance and optionally deceased_period; members who died are not counted.  Ages
    are whole years at ``ref_date`` (days / 365.25, floored, as the demo draws them).
    """
    m = members
    if "deceased_period" in m:
        m = m[m["deceased_period"].isna()]
    birth = pd.to_datetime(m["birth_date"]).to_numpy(dtype="datetime64[D]")
    age = np.floor((np.datetime64(ref_date, "D") - birth).astype(np.int64) / 365.25)
    flags = pd.DataFrame(
        {
            "household_id": m["household_id"].astype(str).to_numpy(),
            "size": 1,
            "n_labour": (m["labour_capacity"] == "normal").to_numpy(),
            "n_weak_labour": (m["labour_capacity"] == "weak").to_numpy(),
            "n_elderly": age >= 65,
            "n_children": age < 16,
            "n_chronic": (m["health"] == "chronic").to_numpy(),
            "n_serious": (m["health"] == "serious").to_numpy(),
            "n_disabled": (pd.to_numeric(m["disability"]).fillna(0) > 0).to_numpy(),
            "n_students": m["schooling"].isin(_STUDENT).to_numpy(),
            "n_uninsured": ~m["medical_insurance"].astype(bool).to_numpy(),
        }
    )
    return flags.groupby("household_id", sort=True)[list(AGGREGATE_COLUMNS)].sum().astype(np.int64)


def aggregate_reference_date(conn: Connection) -> date:
    """The 15th of the newest panel month (the demo's age reference), today without a panel."""
    p = store.newest_panel_period(conn)
    return date.today() if p is None else date(p // 100, p % 100, 15)


def refresh_aggregates(conn: Connection, household_ids: Sequence[str], *, written: pd.DataFrame | None = None, stored: Sequence[str] | None = None) -> pd.DataFrame:
    """Recompute the member aggregates of these households inside the caller's transaction; the
    counts written (indexed by household ID, every one of ``household_ids``).

    The members are read, unless the caller knows them: ``written``, the members it just inserted
    (``AGGREGATE_INPUTS`` as a read gives them), and ``stored``, the households that may hold any
    other member (only those are read; a household outside it has the written members only)."""
    hids = sorted(set(household_ids))
    if not hids:
        return pd.DataFrame(columns=list(AGGREGATE_COLUMNS), dtype=np.int64)
    if written is None or stored is None:
        frames = [store.aggregate_inputs(conn, hids)]
    else:  # (each part counted on its own: a read's dates and the written ISO texts are not mixed)
        read = sorted(set(stored) & set(hids))
        hid = written["household_id"].astype(str)
        mine = written[hid.isin(set(hids)) & ~hid.isin(set(read))]
        mine = pd.DataFrame({c: mine[c].to_numpy() if c in mine else np.full(len(mine), None, dtype=object) for c in store.AGGREGATE_INPUTS})
        frames = [store.aggregate_inputs(conn, read) if read else mine.iloc[:0], mine]
    ref = aggregate_reference_date(conn)
    parts = [household_aggregates(f, ref) for f in frames if len(f)]
    agg = pd.concat(parts) if parts else pd.DataFrame(columns=list(AGGREGATE_COLUMNS))
    agg = agg.reindex(hids).fillna(0).astype(np.int64)
    store.set_household_aggregates(conn, agg)
    return agg
