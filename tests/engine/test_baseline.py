"""Baseline aggregates written with the data: the overview reads them, and they are the engine's numbers.

A small demo province (3 counties x 2k households x 13 months) is built with its baseline files;
``stored_trends`` must equal ``ProvinceEngine.trends`` exactly (counts, and the score sums, hence
the means) whether it reads the files or falls back to the engine: after an income line is
announced later, a month is rewritten, or another policy is asked for.  A sync writes them under
the database's adopted policy and recomputes them when a policy is adopted later.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from fanpin import store as db
from fanpin.access.roles import Principal
from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.engine import baseline as B
from fanpin.engine.distributed import ProvinceEngine
from fanpin.engine.scoring import TIERS, RiskPolicy
from fanpin.engine.snapshot_sync import sync_snapshots
from fanpin.store import io as sio
from fanpin.store.snapshot import SnapshotStore
from tests.conftest import copy_sqlite

SPEC = ProvinceSpec(counties=3, households_per_county=2_000, months=13, townships=5, villages=30, duplicates=4, seed=11)
POLICY = RiskPolicy.default()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    store = SnapshotStore(tmp_path_factory.mktemp("pv_base") / "store")
    build_province(store, SPEC)
    return store


@pytest.fixture
def province(built: SnapshotStore, tmp_path) -> SnapshotStore:
    """A private copy of the built province (tests that change it)."""
    shutil.copytree(built.root, tmp_path / "store")
    return SnapshotStore(tmp_path / "store")


def _equal(got: B.StoredTrends, want) -> None:
    pd.testing.assert_frame_equal(got.aggregates.frame, want.frame, check_exact=True)
    g, w = got.aggregates.at("county").set_index(["region_code", "period"]), want.at("county").set_index(["region_code", "period"])
    for t in (*TIERS, "newly_red", "rising", "below_line"):
        assert g[t].tolist() == w[t].tolist()
    assert np.abs(g["mean_score"].to_numpy() - w["mean_score"].to_numpy()).max() < 1e-6


def test_the_build_writes_every_county_month_and_the_overview_reads_them(built: SnapshotStore) -> None:
    eng = ProvinceEngine(built)
    got = B.stored_trends(eng, POLICY)
    assert (got.stored, got.computed) == (3 * 13, 0)
    want = eng.trends(POLICY)
    _equal(got, want)
    assert int(want.frame["newly_red"].sum()) > 0 and int(want.frame["rising"].sum()) > 0  # the panel counts are really compared
    one = B.stored_trends(eng, POLICY, [202306], counties=["990102"])
    _equal(one, eng.trends(POLICY, [202306], counties=["990102"]))


def test_the_files_are_small_private_and_hold_counts_only(built: SnapshotStore) -> None:
    path = built.baseline_path(202401, "990101")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and path.stat().st_size < 4_000
    doc = json.loads(path.read_text())
    assert set(doc) == {"format", "policy", "inputs", "data_version", "period", "county", "income_line", "townships", "households",
                        *TIERS, "score_sum", "below_line", "newly_red", "rising"}
    assert doc["data_version"] == SPEC.version and len(doc["townships"]) == SPEC.townships
    assert sum(doc["households"]) == SPEC.households_per_county
    assert not any(str(v).startswith("990101") and len(str(v)) > 12 for v in json.dumps(doc).split('"'))  # no household ID


def test_a_line_announced_later_makes_its_year_fall_back_until_refreshed(province: SnapshotStore) -> None:
    man = province.manifest()
    lines = {**man.income_lines, 2024: man.income_lines[2024] + 500.0}
    province.commit([], data_version="later-line", source=man.source, written_by="test", income_lines=lines)
    eng = ProvinceEngine(province)
    got = B.stored_trends(eng, POLICY)
    months_2024 = sum(1 for p in eng.periods if p // 100 == 2024)
    assert got.computed == 3 * months_2024 and got.stored == 3 * (13 - months_2024)
    _equal(got, eng.trends(POLICY))
    assert B.refresh(province, POLICY) == 3 * months_2024
    again = B.stored_trends(ProvinceEngine(province), POLICY)
    assert again.computed == 0
    _equal(again, eng.trends(POLICY))


def test_a_rewritten_month_makes_it_and_the_three_after_stale(province: SnapshotStore) -> None:
    man = province.manifest()
    p, c = man.periods[5], "990103"
    frame = province.read_month(p, c)
    frame.loc[: frame.index[len(frame) // 2], "income_pc"] *= 0.5  # half the county poorer that month
    info = province.write_month(p, c, frame)
    province.commit([info], data_version="rewritten", source=man.source, written_by="test")
    eng = ProvinceEngine(province)
    got = B.stored_trends(eng, POLICY)
    assert got.computed == 4  # the month, and the three whose rising count reads it
    want = eng.trends(POLICY)
    _equal(got, want)
    assert B.refresh(province, POLICY) == 4 and B.stored_trends(ProvinceEngine(province), POLICY).computed == 0


def test_another_policy_is_scored_by_the_engine(built: SnapshotStore) -> None:
    eng = ProvinceEngine(built)
    other = replace(POLICY, name="tight", cutoffs=(30.0, 45.0))
    got = B.stored_trends(eng, other, eng.periods[-2:])
    assert got.stored == 0 and got.computed == 6
    _equal(got, eng.trends(other, eng.periods[-2:]))


def test_a_scenario_reuses_the_baseline_and_gives_the_same_counts(built: SnapshotStore) -> None:
    from fanpin.engine import distributed as D

    eng = ProvinceEngine(built)
    p = eng.periods[-1]
    base = POLICY
    scen = replace(POLICY, income_line=POLICY.income_line + 800, line_year=p // 100, cutoffs=(35.0, 55.0))
    eng.warm(p, base, wait=True)
    assert all(len(r.base_tiers) == 1 for k, r in D._CACHE.items() if k[0] == str(built.root) and k[1] == p)
    first = eng.scenario(p, base, scen)
    # the baseline side equals the stored month's tier counts
    month = B.stored_trends(eng, base, [p]).aggregates.at("province")
    assert first.base_counts == {t: int(month[t].iloc[0]) for t in TIERS}
    again = eng.scenario(p, base, replace(scen, cutoffs=(36.0, 55.0)))
    assert again.base_counts == first.base_counts and again.scen_counts["yellow"] <= first.scen_counts["yellow"]


def test_a_sync_writes_them_under_the_adopted_policy_and_a_later_adoption_refreshes(small_demo, tmp_path) -> None:
    from fanpin.engine.policies import adopt_policy, save_policy, set_income_line

    engine0, spec = small_demo
    engine = db.make_engine(copy_sqlite(engine0, tmp_path / "county.db"))
    store = SnapshotStore(tmp_path / "store")
    ana = Principal("ana", "analyst")
    res = sync_snapshots(engine, store, principal=ana)
    assert res.baseline == spec.months
    eng = ProvinceEngine(store)
    got = B.stored_trends(eng, RiskPolicy.default())
    assert got.computed == 0
    _equal(got, eng.trends(RiskPolicy.default()))
    admin = Principal("adm", "admin")
    tight = replace(RiskPolicy.default(), name="tight", cutoffs=(30.0, 45.0))
    save_policy(engine, tight, "tight", principal=admin)
    adopt_policy(engine, "tight", principal=admin)
    again = sync_snapshots(engine, store, principal=ana)
    assert again.up_to_date and again.baseline == spec.months  # adopting changes no data version, yet the sums follow
    assert B.stored_trends(ProvinceEngine(store), tight).computed == 0
    # a line announced for 2025 after the data: no month is rewritten, that year's sums are recomputed
    year = spec.periods[-1] // 100
    set_income_line(engine, year, 9_100.0, principal=admin)
    lined = sync_snapshots(engine, store, principal=ana)
    in_year = sum(1 for p in spec.periods if p // 100 == year)
    assert not lined.written and lined.baseline == in_year
    eng = ProvinceEngine(store)
    assert eng.manifest.income_lines[year] == 9_100.0
    got = B.stored_trends(eng, tight)
    assert got.computed == 0
    _equal(got, eng.trends(tight))
    # a month changed in the database: it and the three after it are recomputed
    p = spec.periods[4]
    with engine.begin() as conn:
        conn.execute(text("UPDATE panel SET income_pc = income_pc * 0.5 WHERE period = :p"), {"p": p})
        sio.bump_data_version(conn)
    changed = sync_snapshots(engine, store, principal=ana)
    assert changed.written == [(p, "990101")] and changed.baseline == 4


def test_a_scenario_left_at_the_baseline_is_read_from_the_stored_month(built: SnapshotStore) -> None:
    from fanpin.access.roles import Principal as P
    from fanpin.engine import regional

    eng = ProvinceEngine(built)
    p = eng.periods[-1]
    stored = B.stored_scenario(eng, p, POLICY)
    scored = eng.scenario(p, POLICY, POLICY)
    assert stored is not None and np.array_equal(stored.transition, scored.transition)
    pd.testing.assert_frame_equal(stored.frame, scored.frame, check_exact=True)
    renamed = replace(eng.policy_for(POLICY, p), name="scenario")
    assert B.same_policy(eng, POLICY, renamed, p) and not B.same_policy(eng, POLICY, replace(renamed, cutoffs=(35.0, 60.0)), p)
    leader = P("cl", "city_leader", frozenset(), region="990100000000")
    got = regional.region_scenario(eng, leader, "990100000000", p, POLICY, renamed)
    assert got.transition.sum() == 3 * SPEC.households_per_county and np.count_nonzero(got.transition - np.diag(np.diag(got.transition))) == 0


def test_warm_on_dask_leaves_the_month_on_the_workers_and_the_scenario_unchanged(built: SnapshotStore, dask_cluster) -> None:
    from fanpin.engine.distributed import engine_client, resident_bytes

    p = sio.shift_period(SPEC.start, 12)  # 202401
    scen = replace(POLICY, income_line=POLICY.income_line + 800, line_year=p // 100, cutoffs=(20.0, 35.0))
    local = ProvinceEngine(built).scenario(p, POLICY, scen)
    with engine_client(dask_cluster.scheduler_address) as client:
        eng = ProvinceEngine(built, client)
        assert eng.warm(p, POLICY, wait=True) is None
        held = client.run(resident_bytes)
        assert sum(held.values()) > 0  # the county-months are resident on the workers
        got = eng.scenario(p, POLICY, scen)
    assert np.array_equal(got.transition, local.transition)
    pd.testing.assert_frame_equal(got.frame, local.frame, check_exact=True)
