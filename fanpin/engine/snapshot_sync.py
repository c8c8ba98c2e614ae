"""``fanpin snapshot sync``: copy the database's months into the analytic store, incrementally.

The database stays the system of record.  A sync reads each month's snapshot (the same
frame the app scores), splits it by county and rewrites only the county-months whose
content digest differs from the manifest's, then removes partitions the database no
longer has.  When the database's data version is the one the manifest recorded,
nothing is read at all.  Members go in as keyed hashes of their ID numbers (for
cross-county rules), never in clear.

Who may sync: a principal with the export right over every township (the store holds
whole counties); the audit log of the database records who synced which months and
counties, in the same transaction style as every other export.

After writing, the baseline aggregates (township sums under the adopted policy) of the county-months
whose stored ones no longer hold are recomputed (``fanpin.engine.baseline.refresh``): the written
months, the three after each, and every month whose line or policy changed; also when the data
version is unchanged, since adopting a policy or announcing a line does not change it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.audit import record
from fanpin.access.roles import AccessDenied, Principal, require
from fanpin.core.regions import prefix
from fanpin.store import io as sio
from fanpin.store.snapshot import PartitionInfo, SnapshotStore, frame_digest, member_id_numbers

AUDIT_ACTION = "snapshot_sync"


@dataclass
class SyncResult:
    """What a sync did: partitions written and left alone, rows written, seconds taken."""

    written: list[tuple[int, str]] = field(default_factory=list)
    unchanged: int = 0
    removed: list[tuple[int, str]] = field(default_factory=list)
    rows: int = 0
    members: int = 0
    seconds: float = 0.0
    data_version: str = ""
    up_to_date: bool = False
    baseline: int = 0  # county-months whose baseline aggregates were (re)computed


def _check(principal: Principal) -> None:
    require(principal, "export")
    if principal.townships is not None:
        raise AccessDenied("township", f"{principal.username} sees some townships only; a sync copies whole counties")


def _sync_months(engine: Engine, store: SnapshotStore, known: dict, result: SyncResult, previous: Iterable[tuple[int, str]]) -> list[PartitionInfo]:
    """Write the county-months whose digest changed (``known``: the store's digests of this source);
    the store's ``previous`` county-months the database lacks go to ``result.removed``."""
    out: list[PartitionInfo] = []
    present: set[tuple[int, str]] = set()
    for period in sio.periods(engine):
        frame = sio.load_snapshot(engine, period)
        county = prefix(frame["township_code"].to_numpy(dtype=str), "county") if len(frame) else np.array([], dtype=str)
        for c in np.unique(county):
            part = frame[county == c].reset_index(drop=True)
            present.add((period, str(c)))
            info = store.write_month(period, str(c), part) if _changed(store, known, period, str(c), part) else None
            if info is None:
                result.unchanged += 1
                continue
            out.append(info)
            result.written.append((period, str(c)))
            result.rows += info.rows
    result.removed = sorted(set(previous) - present)
    return out


def _changed(store: SnapshotStore, known: dict, period: int, county: str, part: pd.DataFrame) -> bool:
    """Whether the county-month differs from what the store holds (digest of the sorted rows)."""
    info = known.get((period, county))
    if info is None or not store.month_path(period, county).exists():
        return True
    sorted_part = part.sort_values(["township_code", "household_id"], kind="stable", ignore_index=True)
    return frame_digest(sorted_part) != info.digest


def _sync_members(engine: Engine, store: SnapshotStore, result: SyncResult) -> list[PartitionInfo]:
    mem = member_id_numbers(engine)
    if mem.empty:
        return []
    county = prefix(mem["household_id"].to_numpy(dtype=str).astype("<U12"), "county")
    out = []
    for c in np.unique(county):
        sel = county == c
        out.append(store.write_members(str(c), mem["household_id"].to_numpy()[sel], mem["id_number"].to_numpy()[sel]))
        result.members += int(sel.sum())
    return out


def _refresh_baseline(engine: Engine, store: SnapshotStore) -> int:
    """The baseline aggregates of every county-month whose stored ones are missing or stale, under the
    database's adopted policy (else the default): what the province's overview reads (``engine.baseline``)."""
    from fanpin.engine.baseline import refresh
    from fanpin.engine.policies import baseline

    return refresh(store, baseline(engine))


class OtherSource(ValueError):
    """The store holds another database's (or a demo province's) copy: replaced only when forced."""


def sync_snapshots(engine: Engine, store: SnapshotStore, *, principal: Principal, force: bool = False) -> SyncResult:
    """Bring the store up to the database's data version (only changed county-months are written).

    A store copied from another source (another database, a demo province) is refused unless
    ``force``; forced, its county-months and members that this database lacks are removed, so
    the store never mixes two sources."""
    _check(principal)
    t0 = time.perf_counter()
    result = SyncResult(data_version=sio.data_version(engine))
    man = store.manifest()
    source = sio.database_id(engine)
    if man.partitions and man.source != source and not force:
        raise OtherSource(f"the analytic store {store.root} holds a copy of {man.source or 'another source'}, not of this database; "
                          "sync into another store, or force it (--force) to replace that copy")
    if not force and man.data_version == result.data_version and man.source == source and man.partitions:
        result.up_to_date = True
        result.unchanged = len(man.partitions)
        result.baseline = _refresh_baseline(engine, store)  # a policy adopted or a line announced since
        result.seconds = time.perf_counter() - t0
        return result
    known = man.partitions if man.source == source else {}
    infos = _sync_months(engine, store, known, result, man.partitions)
    infos += _sync_members(engine, store, result)
    gone_members = sorted(set(man.members) - {i.county for i in infos if i.period == 0})
    lines = sio.load_json_meta(engine, "income_lines", {}) or {}
    store.commit(infos, data_version=result.data_version, source=source, written_by=principal.actor,
                 income_lines={int(k): float(v) for k, v in dict(lines).items()}, removed=result.removed, removed_members=gone_members)
    result.baseline = _refresh_baseline(engine, store)
    result.seconds = time.perf_counter() - t0
    detail = {
        "store": str(store.root), "data_version": result.data_version, "rows": result.rows, "members": result.members,
        "months": sorted({p for p, _ in result.written}), "counties": sorted({c for _, c in result.written}),
        "unchanged": result.unchanged, "removed": len(result.removed), "baseline": result.baseline,
    }
    record(engine, principal.actor, AUDIT_ACTION, target=str(store.root)[-64:], detail=detail)
    return result
