"""The engine past one machine gives a county exactly the single-machine numbers.

One province of 200k households (4 counties x 50k, 13 months: the size the issue asks for) is built once per
session; the session's LocalCluster (2 single-threaded workers with a memory limit and no
dashboard, ``dask_cluster``) runs the engine, reached by its address.  Equality is checked against ``score_panel`` (the app's
county path) on the same county-months: exact tier counts, means to 1e-6, the same
newly-red and rising households, a scenario's transitions; and again after a worker
is killed in the middle of a run.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fanpin.demo.province import ProvinceSpec, build_province
from fanpin.engine.distributed import ProvinceEngine, engine_client, one_blas_thread, score_task
from fanpin.engine.scenario import compare
from fanpin.engine.scoring import TIERS, RiskPolicy, Scorer
from fanpin.engine.trends import score_panel
from fanpin.store.snapshot import SnapshotStore, person_keys

SPEC = ProvinceSpec(counties=4, households_per_county=50_000, months=13, townships=10, villages=100, duplicates=12, seed=7)
POLICY = RiskPolicy.default()


@pytest.fixture(scope="session")
def province(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    store = SnapshotStore(tmp_path_factory.mktemp("province") / "store")
    build_province(store, SPEC)
    return store


@pytest.fixture(scope="module")
def client(dask_cluster):
    with engine_client(dask_cluster.scheduler_address) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


@pytest.fixture(scope="session")
def local_trends(province: SnapshotStore):
    return ProvinceEngine(province).trends(POLICY)


def _reference(store: SnapshotStore, county: str):
    """The single-machine path: ``score_panel`` over the county's frames (BLAS on one thread, as on
    the workers, so that the float32 scores can be compared bit for bit)."""
    man = store.manifest()
    frames = {p: store.read_month(p, county) for p in man.periods}
    with one_blas_thread():
        return score_panel(frames, POLICY, man.income_lines)


def test_the_province_has_its_shape(province: SnapshotStore) -> None:
    man = province.manifest()
    assert man.counties == ["990101", "990102", "990103", "990104"]
    assert len(man.periods) == 13 and man.rows(man.periods[0]) == 200_000


@pytest.mark.parametrize("county", ["990101", "990104"])
def test_a_county_from_the_engine_equals_score_panel(province: SnapshotStore, local_trends, county: str) -> None:
    ref = _reference(province, county)
    got = local_trends.at("county", county + "000000").set_index("period")
    counts = ref.tier_counts()
    for t in TIERS:
        assert got[t].tolist() == counts[t].tolist()
    means = np.nanmean(ref.score.astype(np.float64), axis=0)
    assert np.abs(got["mean_score"].to_numpy() - means).max() < 1e-6
    # (PanelScores.mean_score averages in float32 and is off by up to ~5e-5 here: the float64 mean is the reference)
    assert got["newly_red"].tolist() == [int(ref.newly_red(p).sum()) for p in ref.periods]
    assert got["rising"].tolist() == [int(ref.rising(p).sum()) for p in ref.periods]


def test_dask_gives_the_local_numbers_and_the_same_households(province: SnapshotStore, client, local_trends) -> None:
    engine = ProvinceEngine(province, client)
    got = engine.trends(POLICY)
    pd.testing.assert_frame_equal(got.frame, local_trends.frame, check_exact=True)
    county, period = "990102", province.manifest().periods[-1]
    ref = _reference(province, county)
    rows = engine.rows(POLICY, period, county)
    j = ref.col(period)
    assert rows["household_id"].astype(str).tolist() == ref.household_ids.tolist()
    assert (rows["tier"].to_numpy(dtype=object) == np.array(TIERS, dtype=object)[ref.tier[:, j]]).all()
    assert set(rows.loc[rows["newly_red"], "household_id"].astype(str)) == set(ref.household_ids[ref.newly_red(period)])
    assert set(rows.loc[rows["rising"], "household_id"].astype(str)) == set(ref.household_ids[ref.rising(period)])
    digest = province.manifest().partitions[(period, county)].digest
    scored = client.submit(score_task, str(province.root), period, county, digest, engine.policy_for(POLICY, period)).result()
    assert np.array_equal(scored.score, ref.score[:, j]) and np.array_equal(scored.tier, ref.tier[:, j])
    town = rows["township_code"].iloc[0]
    assert (engine.rows(POLICY, period, county, town)["township_code"] == town).all()


def test_a_scenario_for_the_province_equals_the_county_comparisons(province: SnapshotStore, client) -> None:
    period = province.manifest().periods[-1]
    scen = replace(POLICY, income_line=9_000.0, line_year=period // 100, cutoffs=(22.0, 38.0), name="scenario")
    engine = ProvinceEngine(province, client)
    got = engine.scenario(period, POLICY, scen)
    by_county = got.at("county").set_index("region_code")
    total = np.zeros((3, 3), dtype=np.int64)
    for county in province.manifest().counties:
        scorer = Scorer.from_frame(province.read_month(period, county))
        base = scorer.run(engine.policy_for(POLICY, period)).copy()
        cmp = compare(base, scorer.run(engine.policy_for(scen, period)))
        total += cmp.transition
        row = by_county.loc[county + "000000"]
        assert [int(row[f"{t}_base"]) for t in TIERS] == [cmp.base_counts[t] for t in TIERS]
        assert [int(row[f"{t}_scen"]) for t in TIERS] == [cmp.scen_counts[t] for t in TIERS]
    assert (got.transition == total).all()
    assert got.scen_counts != got.base_counts


def test_a_worker_killed_mid_run_does_not_change_the_result(province: SnapshotStore, client, local_trends) -> None:
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed: list[int] = []

    def kill_once(done: int, total: int) -> None:
        if not killed and done >= total // 5:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    got = ProvinceEngine(province, client).trends(POLICY, progress=kill_once)
    assert killed == [victim]
    pd.testing.assert_frame_equal(got.frame, local_trends.frame, check_exact=True)


def test_the_same_person_in_two_counties_is_found_by_the_engine(province: SnapshotStore, client) -> None:
    planted = build_planted()
    dup = ProvinceEngine(province, client).duplicates()
    keys = person_keys(planted["id_number"].to_numpy(), province.hash_key())
    assert set(dup["person_key"]) == set(keys.tolist())
    counties = dup.groupby("person_key")["county_code"].apply(lambda s: tuple(sorted(s)))
    for key, a, b in zip(keys, planted["county_a"], planted["county_b"]):
        assert counties[key] == tuple(sorted((SPEC.county_code(a), SPEC.county_code(b))))
    local = ProvinceEngine(province).duplicates()
    pd.testing.assert_frame_equal(local, dup)


def build_planted() -> pd.DataFrame:
    from fanpin.demo.province import planted_people

    return planted_people(SPEC)
