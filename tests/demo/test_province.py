"""The demo province: written straight to the analytic store, the same for a seed, county by county."""

from __future__ import annotations

import numpy as np
import pytest

from fanpin.demo.province import ProvinceSpec, build_province, planted_people
from fanpin.store.snapshot import SnapshotStore

SMALL = ProvinceSpec(counties=3, households_per_county=2_000, months=4, townships=4, villages=12, duplicates=6, seed=11)


def _digests(store: SnapshotStore) -> dict:
    return {k: v.digest for k, v in store.manifest().partitions.items()}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    store = SnapshotStore(tmp_path_factory.mktemp("prov") / "store")
    return store, build_province(store, SMALL)


def test_the_province_is_written_to_the_store(built) -> None:
    store, res = built
    man = store.manifest()
    assert man.counties == ["990101", "990102", "990103"] and len(man.periods) == 4
    assert res.partitions == 12 and res.household_months == 3 * 2_000 * 4
    frame = store.read_month(man.periods[-1], "990102")
    assert len(frame) == 2_000 and frame["household_id"].str.startswith("990102").all()
    assert frame["income_pc_12m_ago"].isna().all()  # four months: no month a year before
    assert man.income_lines and man.written_by == "system"


def test_the_same_seed_gives_the_same_province(built, tmp_path) -> None:
    store, _ = built
    again = SnapshotStore(tmp_path / "again")
    build_province(again, SMALL)
    assert _digests(again) == _digests(store)
    other = SnapshotStore(tmp_path / "other")
    build_province(other, ProvinceSpec(**{**SMALL.__dict__, "seed": 12}))
    assert _digests(other) != _digests(store)


def test_a_county_does_not_depend_on_the_province_around_it(built, tmp_path) -> None:
    store, _ = built
    two = SnapshotStore(tmp_path / "two")
    build_province(two, ProvinceSpec(**{**SMALL.__dict__, "counties": 2}))
    mine = _digests(two)
    assert mine == {k: v for k, v in _digests(store).items() if k in mine}


def test_planted_people_are_in_two_counties(built) -> None:
    store, res = built
    planted = planted_people(SMALL)
    assert len(planted) == 6 and (planted["county_a"] != planted["county_b"]).all()
    keys = np.concatenate([store.read_members(c)["person_key"].to_numpy() for c in store.manifest().counties])
    values, counts = np.unique(keys, return_counts=True)
    assert (counts > 1).sum() == 6
    assert res.members == len(keys)


def test_built_as_dask_tasks_it_is_the_same(built, tmp_path, dask_cluster) -> None:
    from fanpin.engine.distributed import engine_client

    store, _ = built
    other = SnapshotStore(tmp_path / "dask")
    with engine_client(dask_cluster.scheduler_address) as client:
        client.wait_for_workers(2, timeout=60)
        build_province(other, SMALL, client=client)
    assert _digests(other) == _digests(store)
    # the baseline aggregates written with each county-month too (the numbers the overview reads)
    for p, c in store.manifest().partitions:
        assert other.baseline_path(p, c).read_text() == store.baseline_path(p, c).read_text()
