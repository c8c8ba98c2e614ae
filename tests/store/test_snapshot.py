"""The analytic store: layout, protection, incremental sync from the database, the same numbers."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from fanpin import store as db
from fanpin.access.audit import audit_query
from fanpin.access.roles import SYSTEM, AccessDenied, Principal
from fanpin.engine.distributed import ProvinceEngine
from fanpin.engine.scoring import TIERS, RiskPolicy
from fanpin.engine.snapshot_sync import AUDIT_ACTION, sync_snapshots
from fanpin.engine.trends import score_panel
from fanpin.store import io as sio
from fanpin.store import snapshot as snap
from fanpin.store.snapshot import SnapshotStore
from tests.conftest import copy_sqlite

ANALYST = Principal("ana", "analyst")


@pytest.fixture
def county(small_demo, tmp_path):
    """A private copy of the small demo county and an empty store beside it."""
    engine, spec = small_demo
    copy = db.make_engine(copy_sqlite(engine, tmp_path / "county.db"))
    return copy, spec, SnapshotStore(tmp_path / "store")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_sync_lays_out_months_and_counties_privately(county) -> None:
    engine, spec, store = county
    res = sync_snapshots(engine, store, principal=ANALYST)
    man = store.manifest()
    assert man.periods == spec.periods and man.counties == ["990101"]
    assert len(res.written) == spec.months and res.rows == spec.households * spec.months
    assert man.data_version == sio.data_version(engine) and man.schema_version == snap.SCHEMA_VERSION
    path = store.month_path(spec.periods[0], "990101")
    assert path.relative_to(store.root).as_posix() == f"month={spec.periods[0]}/county=990101/part-0.parquet"
    assert _mode(path) == 0o600 and _mode(store.manifest_path) == 0o600 and _mode(store.members_path("990101")) == 0o600
    for d in (store.root, path.parent, path.parent.parent, store.members_path("990101").parent.parent):
        assert _mode(d) == 0o700
    assert man.income_lines == {int(k): v for k, v in spec.lines().items()}


def test_no_personal_data_in_clear(county) -> None:
    engine, _spec, store = county
    sync_snapshots(engine, store, principal=ANALYST)
    month = store.read_month(store.manifest().periods[0], "990101")
    assert not set(month.columns) & {"name", "id_number", "phone"}
    members = store.read_members("990101")
    assert list(members.columns) == ["person_key", "household_id"]
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id_number FROM members"))]
    assert len(members) == len(ids) and members["person_key"].dtype == np.int64
    raw = b"".join(p.read_bytes() for p in store.root.rglob("*.parquet"))
    assert not any(i.encode() in raw for i in ids[:200])
    assert not store.key_path.is_relative_to(store.root) and _mode(store.key_path) == 0o600
    with pytest.raises(ValueError, match="personal"):
        store.write_month(202401, "990101", month.assign(name="张三"))


def test_a_month_in_the_store_is_the_database_snapshot(county) -> None:
    engine, spec, store = county
    sync_snapshots(engine, store, principal=ANALYST)
    p = spec.periods[-1]
    want = sio.load_snapshot(engine, p).sort_values(["township_code", "household_id"], ignore_index=True)
    got = store.read_month(p, "990101")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    towns = got["township_code"].astype(str).to_numpy()
    assert (towns[:-1] <= towns[1:]).all()


def test_sync_is_incremental_and_audited(county) -> None:
    engine, spec, store = county
    first = sync_snapshots(engine, store, principal=ANALYST)
    again = sync_snapshots(engine, store, principal=ANALYST)
    assert again.up_to_date and not again.written
    p = spec.periods[4]
    with engine.begin() as conn:
        hid = conn.execute(text("SELECT household_id FROM panel WHERE period = :p LIMIT 1"), {"p": p}).scalar()
        conn.execute(text("UPDATE panel SET income_pc = income_pc + 1 WHERE period = :p AND household_id = :h"), {"p": p, "h": hid})
        sio.bump_data_version(conn)
    changed = sync_snapshots(engine, store, principal=ANALYST)
    assert changed.written == [(p, "990101")] and changed.unchanged == spec.months - 1
    assert store.manifest().data_version == sio.data_version(engine) != first.data_version
    log, n = audit_query(engine, principal=SYSTEM, action=AUDIT_ACTION)
    assert n == 2 and set(log["actor"]) == {"ana"}
    assert f'"months": [{p}]' in log.iloc[0]["detail"]


def test_sync_needs_the_export_right_over_whole_counties(county) -> None:
    engine, _spec, store = county
    with pytest.raises(AccessDenied):
        sync_snapshots(engine, store, principal=Principal("tr", "trainer"))
    with pytest.raises(AccessDenied):
        sync_snapshots(engine, store, principal=Principal("cw", "case_worker", frozenset({"990101001000"})))
    assert not store.manifest_path.exists()


def test_row_groups_are_bounded(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(snap, "ROW_GROUP", 500)
    n = 1_234
    frame = pd.DataFrame({"household_id": [f"990101001001{i:05d}" for i in range(n)][::-1], "township_code": "990101001000", "x": np.arange(n, dtype=float)})
    info = SnapshotStore(tmp_path / "s").write_month(202401, "990101", frame)
    meta = pq.ParquetFile(tmp_path / "s" / info.path).metadata
    assert meta.num_row_groups == 3 and max(meta.row_group(i).num_rows for i in range(3)) <= 500
    back = SnapshotStore(tmp_path / "s").read_month(202401, "990101")
    assert back["household_id"].is_monotonic_increasing


def test_the_engine_over_a_synced_county_equals_the_app_path(county) -> None:
    engine, spec, store = county
    sync_snapshots(engine, store, principal=ANALYST)
    policy = RiskPolicy.default()
    got = ProvinceEngine(store).trends(policy).at("county").set_index("period")
    lines = {int(k): float(v) for k, v in sio.load_json_meta(engine, "income_lines", {}).items()}
    ref = score_panel(sio.load_snapshots(engine, spec.periods), policy, lines)
    for t in TIERS:
        assert got[t].tolist() == ref.tier_counts()[t].tolist()
    assert got["newly_red"].tolist() == [int(ref.newly_red(p).sum()) for p in ref.periods]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def test_sync_from_either_backend(backend, tmp_path) -> None:
    from fanpin.demo.build import build_demo
    from fanpin.demo.spec import DemoSpec
    from tests.conftest import backend_url

    engine = db.make_engine(backend_url(backend, tmp_path), create=True)
    db.upgrade(engine)
    spec = DemoSpec(households=300, months=3, start=202501, townships=3, villages=9, seed=3, workflow=False)
    build_demo(engine, spec)
    store = SnapshotStore(tmp_path / "store")
    res = sync_snapshots(engine, store, principal=ANALYST)
    assert res.rows == 900 and res.members > 300
    want = sio.load_snapshot(engine, 202503).sort_values(["township_code", "household_id"], ignore_index=True)
    pd.testing.assert_frame_equal(store.read_month(202503, "990101"), want, check_exact=True)
    assert audit_query(engine, principal=SYSTEM, action=AUDIT_ACTION)[1] == 1
