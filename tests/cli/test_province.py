"""The province commands, run for real: ``demo --province``, ``snapshot sync``, ``score --engine``, ``trends``.

A province of 3 counties x 2,000 households x 13 months is built once by the command itself.
A LocalCluster of 2 single-threaded workers (memory limit, no dashboard) stands in for a
cluster: the commands reach it through ``FANPIN_DASK_SCHEDULER`` as they would a real one,
and their tables must be byte for byte those of ``--engine local``.  One test starts a real
``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 and runs the console command
against them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fanpin import store as db
from fanpin.access.audit import audit_query
from fanpin.access.roles import SYSTEM
from fanpin.cli.main import main
from fanpin.engine.distributed import SCHEDULER_ENV, ProvinceEngine
from fanpin.engine.scoring import TIERS, RiskPolicy, Scorer, score
from fanpin.engine.snapshot_sync import AUDIT_ACTION
from fanpin.store.engine import PROJECT_ROOT
from fanpin.store.snapshot import SnapshotStore
from tests.conftest import copy_sqlite

PROVINCE = ["--counties", "3", "--households-per-county", "2000", "--months", "13", "--townships", "4", "--villages", "12", "--seed", "3"]
PERIOD = "2024-01"  # 13 months from 2023-01


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    root = tmp_path_factory.mktemp("cli-province") / "store"
    assert main(["demo", "--province", *PROVINCE, "--store", str(root)]) == 0
    return SnapshotStore(root)


@pytest.fixture
def on_cluster(dask_cluster, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's LocalCluster (2 single-threaded workers, memory limit, no dashboard) as the scheduler."""
    from distributed import Client

    with Client(dask_cluster.scheduler_address) as c:
        c.wait_for_workers(2, timeout=60)
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster.scheduler_address)
    return dask_cluster.scheduler_address


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)


def _county_rows(out: str) -> dict[str, list[int]]:
    """county -> [green, yellow, red, households, newly_red, rising] from a score table."""
    rows = {}
    for line in out.splitlines()[2:]:
        cells = line.split()
        rows[cells[0]] = [int(c.replace(",", "")) for c in cells[1:7]]
    return rows


def test_the_demo_province_is_written_by_seed(province: SnapshotStore, tmp_path: Path, capsys) -> None:
    man = province.manifest()
    assert man.counties == ["990101", "990102", "990103"] and len(man.periods) == 13 and man.rows(202401) == 6_000
    assert man.written_by.startswith("cli:") and man.source == "demo-province:3"
    again = tmp_path / "again"
    code, out, _ = run(capsys, "demo", "--province", *PROVINCE, "--store", str(again))
    assert code == 0 and "39 county-months, 78,000 household-months" in out
    digests = lambda s: {k: v.digest for k, v in s.manifest().partitions.items()}
    assert digests(SnapshotStore(again)) == digests(province)
    # rebuilt smaller in place: the counties of the earlier build do not stay behind
    assert main(["demo", "--province", "--counties", "2", "--households-per-county", "300", "--months", "4", "--seed", "4", "--store", str(again)]) == 0
    assert SnapshotStore(again).manifest().counties == ["990101", "990102"]
    assert sorted(p.name for p in (again / "month=202301").iterdir()) == ["county=990101", "county=990102"]


def test_score_counts_by_county_the_same_on_both_engines(province: SnapshotStore, on_cluster: str, capsys) -> None:
    code, local, local_err = run(capsys, "score", "--engine", "local", "--period", PERIOD, "--store", str(province.root))
    assert code == 0, local_err
    code, dask, dask_err = run(capsys, "score", "--engine", "dask", "--period", PERIOD, "--store", str(province.root))
    assert code == 0, dask_err
    assert dask == local
    assert "wall on local (this process)" in local_err
    assert f"wall on dask {on_cluster} (2 workers, 2 threads)" in dask_err and dask_err.count("  worker tcp://") == 2
    # the counts are the Scorer's on each county's file
    rows = _county_rows(local)
    engine = ProvinceEngine(province)
    policy = engine.policy_for(RiskPolicy.default(), 202401)
    for county in province.manifest().counties:
        res = Scorer.from_frame(province.read_month(202401, county)).run(policy)
        counts = np.bincount(res.tier, minlength=3).tolist()
        assert rows[county][:4] == [*counts, 2_000]
    assert rows["total"][:4] == [sum(rows[c][i] for c in ("990101", "990102", "990103")) for i in range(4)]
    assert f"income line {policy.income_line:,.0f} yuan" in local


def test_trends_by_county_and_month_the_same_on_both_engines(province: SnapshotStore, on_cluster: str, tmp_path: Path, capsys) -> None:
    args = ["--store", str(province.root), "--from", "2023-06"]
    code, local, err = run(capsys, "trends", "--engine", "local", *args, "--out", str(tmp_path / "local.csv"))
    assert code == 0 and "24 county-months scored" in err
    code, dask, err = run(capsys, "trends", "--engine", "dask", *args, "--out", str(tmp_path / "dask.csv"))
    assert code == 0, err
    assert dask == local and "2 workers" in err
    # with --stored the sums written with the demo province are read: the same table, nothing scored
    code, stored, err = run(capsys, "trends", "--engine", "local", *args, "--stored")
    assert code == 0 and stored == local and "24 county-months read from the stored sums, 0 scored" in err
    table = pd.read_csv(tmp_path / "local.csv", dtype={"county_code": str})
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "dask.csv", dtype={"county_code": str}), table)
    assert len(table) == 3 * 8 and set(table["county_code"]) == {"990101", "990102", "990103"}
    assert (table[list(TIERS)].sum(axis=1) == 2_000).all()
    last = table[table["period"] == 202401].set_index("county_code")
    score_rows = _county_rows(run(capsys, "score", "--engine", "local", "--period", PERIOD, "--store", str(province.root))[1])
    for county in last.index:
        assert last.loc[county, ["green", "yellow", "red", "households", "newly_red", "rising"]].tolist() == score_rows[county]
    code, out, _ = run(capsys, "trends", "--level", "province", *args)
    assert code == 0 and len(out.splitlines()) == 2 + 8 and out.splitlines()[-1].startswith("99 2024-01")


def test_without_the_variable_the_command_makes_its_own_local_cluster(province: SnapshotStore, no_cluster: None, capsys) -> None:
    code, local, _ = run(capsys, "score", "--engine", "local", "--period", PERIOD, "--store", str(province.root))
    assert code == 0
    code, dask, err = run(capsys, "score", "--engine", "dask", "--workers", "2", "--worker-memory", "1GB", "--period", PERIOD, "--store", str(province.root))
    assert code == 0 and dask == local
    assert "(2 workers, 2 threads)" in err and "tcp://127.0.0.1:" in err


def test_refusals(province: SnapshotStore, tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "score", "--engine", "local", "--period", "2030-01", "--store", str(province.root))
    assert code == 2 and "no month 203001" in err
    code, _, err = run(capsys, "score", "--engine", "local", "--period", PERIOD, "--store", str(tmp_path / "none"))
    assert code == 2 and "is empty" in err and "snapshot sync" in err
    code, _, err = run(capsys, "score", "--engine", "local", "--period", PERIOD, "--store", str(province.root), "--out", "x.csv")
    assert code == 2
    other = tmp_path / "papers"
    other.mkdir()
    (other / "keep.txt").write_text("not a store")
    code, _, err = run(capsys, "demo", "--province", "--counties", "2", "--households-per-county", "10", "--months", "2", "--store", str(other), "--force")
    assert code == 2 and "not an analytic store" in err and (other / "keep.txt").exists()


def test_boundaries_are_checked_against_the_store_and_kept(province: SnapshotStore, tmp_path: Path, capsys) -> None:
    """A GIS export of the counties (6-digit codes, GB18030) is kept; one with a county of another
    province is refused and changes nothing; the demo province's own were written with it."""
    import shutil

    store = SnapshotStore(tmp_path / "store")
    shutil.copytree(province.root, store.root)
    demo = store.read_boundaries("county")
    assert [f["properties"]["region_code"] for f in demo["features"]] == ["990101000000", "990102000000", "990103000000"]
    feats = [{"type": "Feature", "properties": {"区划代码": f["properties"]["region_code"][:6], "名称": "x"}, "geometry": f["geometry"]}
             for f in demo["features"][:2]]
    src = tmp_path / "counties.geojson"
    src.write_bytes(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False).encode("gb18030"))
    code, out, err = run(capsys, "snapshot", "boundaries", str(src), "--store", str(store.root))
    assert code == 0, err
    assert "已保存 2 个县的边界" in out and "990103" in out  # the county the file lacks is named
    kept = store.read_boundaries("county")
    assert [f["properties"]["region_code"] for f in kept["features"]] == ["990101000000", "990102000000"]
    code, out, _ = run(capsys, "snapshot", "status", "--store", str(store.root))
    assert code == 0 and "39 of 39 county-months hold; 0 stale" in out and "county 2" in out and "township 12" in out
    pol = tmp_path / "strict.json"
    pol.write_text(json.dumps({**RiskPolicy.default().to_dict(), "name": "strict", "cutoffs": [20.0, 35.0]}))
    code, out, _ = run(capsys, "snapshot", "status", "--store", str(store.root), "--policy", str(pol))
    assert code == 0 and "0 of 39 county-months hold; 39 stale" in out
    bad = tmp_path / "other.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [{**feats[0], "properties": {"code": "430101"}}]}))
    code, out, err = run(capsys, "snapshot", "boundaries", str(bad), "--store", str(store.root), "--lang", "en")
    assert code == 2 and "was not kept" in err and "430101" in err
    assert store.read_boundaries("county") == kept


def test_people_in_two_counties_are_found_by_the_engines_join(province: SnapshotStore, tmp_path: Path, capsys) -> None:
    """The demo province plants 40 people in two counties each: found, counted by county, written with a
    person number (never the keyed hash); a city's answer keeps the people with a household in it."""
    from fanpin.demo.province import ProvinceSpec, planted_people

    spec = ProvinceSpec(counties=3, households_per_county=2000, months=13, townships=4, villages=12, seed=3)
    planted = planted_people(spec)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    eng = db.make_engine(url, create=True)
    db.upgrade(eng)
    code, out, err = run(capsys, "--db", url, "snapshot", "duplicates", "--store", str(province.root), "--out", str(tmp_path / "d.csv"))
    assert code == 0, err
    log, n = audit_query(eng, principal=SYSTEM, action="export")
    assert n == 1 and log["target"].tolist() == ["d.csv"] and log["actor"].str.startswith("cli:").all()  # the export is audited
    eng.dispose()
    assert out.splitlines()[0].startswith(f"{len(planted)} people in more than one household ({len(planted)} across counties), ")
    per = pd.concat([planted["county_a"], planted["county_b"]]).map(lambda i: spec.county_code(int(i))).value_counts()
    rows = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[2:]}
    assert rows == per.to_dict()
    table = pd.read_csv(tmp_path / "d.csv", dtype=str)
    assert list(table.columns) == ["person", "county_code", "household_id"] and len(table) == 2 * len(planted)
    assert table.groupby("person")["county_code"].nunique().eq(2).all()
    assert out.splitlines()[0].endswith(f", {table['household_id'].nunique()} households")  # two planted people may share one
    code, out, err = run(capsys, "snapshot", "duplicates", "--store", str(province.root), "--region", "abc")
    assert code == 2 and "not a region code" in err


def test_sync_copies_the_database_incrementally_and_is_audited(small_demo, tmp_path: Path, capsys) -> None:
    engine, spec = small_demo
    url = copy_sqlite(engine, tmp_path / "county.db")
    root = str(tmp_path / "store")
    code, out, err = run(capsys, "--db", url, "snapshot", "sync", "--store", root)
    assert code == 0, err
    assert f"{spec.months} county-months written" in out and f"{spec.households * spec.months:,} rows" in out
    code, out, _ = run(capsys, "--db", url, "snapshot", "sync", "--store", root)
    assert code == 0 and "is up to date" in out
    code, out, _ = run(capsys, "--db", url, "snapshot", "sync", "--store", root, "--force")
    assert code == 0 and "0 county-months written" in out and f"{spec.months} unchanged" in out
    copy = db.make_engine(url)
    log, n = audit_query(copy, principal=SYSTEM, action=AUDIT_ACTION)
    assert n == 2 and log["actor"].str.startswith("cli:").all()
    # the store's month gives the database's tiers
    period = spec.periods[-1]
    code, out, err = run(capsys, "score", "--engine", "local", "--period", f"{period // 100}-{period % 100:02d}", "--store", root)
    assert code == 0, err
    policy = ProvinceEngine(SnapshotStore(root)).policy_for(RiskPolicy.default(), period)
    ref = score(db.load_snapshot(copy, period), policy)["tier"].value_counts()
    assert _county_rows(out)["990101"][:3] == [int(ref.get(t, 0)) for t in TIERS]
    # the database's township boundaries, and its county's outline (their union), go with it for the map
    from fanpin.store.regions import township_geojson

    towns = SnapshotStore(root).read_boundaries("township")
    assert towns["features"] == [f for f in township_geojson(copy)["features"] if f["geometry"]] and len(towns["features"]) == spec.townships
    county = SnapshotStore(root).read_boundaries("county")["features"]
    assert [f["properties"]["region_code"] for f in county] == ["990101000000"] and county[0]["properties"]["name"] == "清溪县"
    import shapely
    from shapely.geometry import shape

    union = shapely.union_all([shape(f["geometry"]) for f in towns["features"]])
    assert shape(county[0]["geometry"]).symmetric_difference(union).area < 1e-6 * union.area
    # a synced store is not replaced by a demo province unless forced
    code, _, err = run(capsys, "demo", "--province", "--counties", "1", "--households-per-county", "10", "--months", "2", "--store", root)
    assert code == 2 and "refusing to replace it" in err


def test_sync_does_not_mix_two_sources(small_demo, tmp_path: Path, capsys) -> None:
    engine, spec = small_demo
    url = copy_sqlite(engine, tmp_path / "county.db")
    root = tmp_path / "store"
    assert main(["demo", "--province", "--counties", "2", "--households-per-county", "50", "--months", "3", "--seed", "1", "--store", str(root)]) == 0
    code, _, err = run(capsys, "--db", url, "snapshot", "sync", "--store", str(root))
    assert code == 2 and "demo-province:1" in err and "--force" in err
    assert SnapshotStore(root).manifest().source == "demo-province:1"
    code, out, err = run(capsys, "--db", url, "snapshot", "sync", "--store", str(root), "--force")
    assert code == 0, err
    man = SnapshotStore(root).manifest()
    assert man.periods == spec.periods and man.counties == ["990101"] and sorted(man.members) == ["990101"]
    assert "6 removed" in out  # the demo's 2 counties x 3 months (202301..202303), none of them the database's
    assert not (root / "members" / "county=990102" / "part-0.parquet").exists()
    assert not SnapshotStore(root).month_path(202301, "990101").exists()


# --------------------------------------------------------------------------- a real cluster
def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:  # each in a session of its own: the worker's nanny and its child go together
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.mark.slow
def test_score_against_a_real_scheduler_and_two_workers(province: SnapshotStore, tmp_path: Path, capsys) -> None:
    """``dask scheduler`` + 2 x ``dask worker`` on 127.0.0.1 (random ports), then the console command."""
    from distributed import Client

    dask = str(Path(sys.executable).with_name("dask"))
    info = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []
    try:
        procs.append(_start([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info),
                             "--idle-timeout", "120"], tmp_path / "scheduler.log"))
        deadline = time.monotonic() + 30
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert info.exists(), (tmp_path / "scheduler.log").read_text()
        address = json.loads(info.read_text())["address"]
        for i in range(2):
            procs.append(_start([dask, "worker", "--scheduler-file", str(info), "--host", "127.0.0.1", "--nthreads", "1",
                                 "--memory-limit", "1GB", "--no-dashboard", "--death-timeout", "30", "--name", f"w{i}"],
                                tmp_path / f"worker{i}.log"))
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=45)
        env = {**os.environ, SCHEDULER_ENV: address}
        cmd = [sys.executable, "-m", "fanpin.cli", "score", "--period", PERIOD, "--store", str(province.root)]
        dask_run = subprocess.run([*cmd, "--engine", "dask"], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=60)
        assert dask_run.returncode == 0, dask_run.stderr
        assert f"wall on dask {address} (2 workers, 2 threads)" in dask_run.stderr
        assert dask_run.stderr.count("  worker tcp://127.0.0.1:") == 2
    finally:
        _stop(procs)
    assert all(p.returncode is not None for p in procs)
    code, local, _ = run(capsys, "score", "--engine", "local", "--period", PERIOD, "--store", str(province.root))
    assert code == 0 and dask_run.stdout == local
