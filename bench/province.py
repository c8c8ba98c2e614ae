"""A province on one machine and on a LocalCluster: build, month, scenario, 36-month trends, model.

    .venv/bin/python bench/province.py                          # 1M households (10 counties x 100k) x 36 months
    .venv/bin/python bench/province.py --sizes 1000000,5000000  # and 5M (50 counties)
    .venv/bin/python bench/province.py --sizes 10000000 --repeats 1
    .venv/bin/python bench/province.py --app-views STORE[,STORE] [--app-db sqlite:///county.db]  # the pages only

``--app-views``: over stores already built (``fanpin demo --province``), each step in a fresh process with the
in-process engine: the province overview's first view (what the page computes: the baseline sums stored with
the data), the simulator's first view, the month made resident, six scenario changes; with ``--app-db`` (a demo
county's database, for the accounts) the pages themselves through AppTest as a province leader.

For each size the demo province (``fanpin.demo.province``, 100k households per county) is
built into the analytic store once with the LocalCluster and kept under
``/tmp/fanpin-bench/province_c<counties>_h<households>_m<months>_s<seed>/`` (``--rebuild``
rebuilds; a kept store's recorded build figures are printed again), and once more in a
single process into a scratch directory that is compared partition by partition with the
kept one and deleted.  Then, each step in a fresh subprocess (so that a process's peak is
the step's own), once per engine per round, engines interleaved within a round:

- ``local``: ``ProvinceEngine`` / ``train_province`` with no client: the same task functions
  one after another in that process (the single-machine path);
- ``dask``: the same with a client of one LocalCluster (``--workers`` single-threaded workers,
  ``--worker-memory`` each, no dashboard) made by this script, reached through
  ``FANPIN_DASK_SCHEDULER`` as a real cluster would be; the workers are restarted before
  each step and their peaks reset, so each worker's peak is that step's.

Steps: build; the last month (its three months before are scored too, for newly red and
rising); scenario vs baseline for the last month (cold, then again on the scorers the
workers keep); trends over every month by county; model training (``xgboost`` in process
or ``xgboost.dask``: 3 training months, ``--model-fraction`` of the households, 60 rounds,
horizon 6) and its held-out evaluation (AUC from per-task histograms) and one month's
scoring.  And, single process only, the ways that do not stream: the whole month of every
county in one frame and one ``Scorer`` (up to ``--one-frame-max`` households), and the app's
county path (``panel_stream.score_months``: month by month, the whole province each month, score,
tier and income of every household-month kept) over the whole province (up to ``--app-path-max``).  Results of the two engines
are compared (frame hashes; the model's AUCs side by side).  Never asserts on time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, DEMO_SEED, fmt_bytes, print_environment, print_table

ROOT = Path(__file__).resolve().parents[1]
PER_COUNTY = 100_000
STEPS = ("month", "scenario", "trends", "model")
STEP_TIMEOUT = 3 * 3600  # a step that hangs is reported, not waited for


# =========================================================================== one step, in its own process
def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _frame_hash(frame) -> str:
    import pandas as pd

    h = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _scenario_policies(period: int):
    from dataclasses import replace

    from fanpin.engine.scoring import RiskPolicy

    base = RiskPolicy.default()
    return base, replace(base, income_line=9_000.0, line_year=period // 100, cutoffs=(22.0, 38.0), name="scenario")


def run_step(step: str, store_dir: str, engine_kind: str, spec_args: dict, fraction: float) -> dict:
    """One step on one engine; wall times, this process's peak, each worker's peak, a result hash."""
    from fanpin.engine.distributed import ProvinceEngine, engine_client, reset_peak_memory, worker_memory
    from fanpin.engine.scoring import RiskPolicy
    from fanpin.store.snapshot import SnapshotStore

    out: dict = {"step": step, "engine": engine_kind, "times": {}}
    store = SnapshotStore(store_dir)
    address = os.environ.get("FANPIN_DASK_SCHEDULER") if engine_kind == "dask" else None
    ctx = engine_client(address) if engine_kind == "dask" else _nothing()
    with ctx as client:
        if client is not None:
            reset_peak_memory(client)
        out["rss_before"] = _status("VmRSS")
        t0 = time.perf_counter()
        if step == "build":
            from fanpin.demo.province import ProvinceSpec, build_province

            if store.root.exists():
                shutil.rmtree(store.root)
            res = build_province(store, ProvinceSpec(**spec_args), client=client)
            out["times"]["build"] = time.perf_counter() - t0
            out["result"] = hashlib.sha256(json.dumps(sorted((f"{k[0]}/{k[1]}", v.digest) for k, v in res.manifest.partitions.items())).encode()).hexdigest()[:16]
            out["household_months"] = res.household_months
        else:
            engine = ProvinceEngine(store, client)
            period = engine.periods[-1]
            if step == "month":
                agg = engine.month(RiskPolicy.default(), period)
                out["times"]["month"] = time.perf_counter() - t0
                out["result"] = _frame_hash(agg.frame)
                out["counts"] = agg.at("province")[["green", "yellow", "red"]].iloc[0].astype(int).tolist()
            elif step == "scenario":
                base, scen = _scenario_policies(period)
                first = engine.scenario(period, base, scen)
                out["times"]["scenario cold"] = time.perf_counter() - t0
                t1 = time.perf_counter()
                again = engine.scenario(period, base, scen)
                out["times"]["scenario again"] = time.perf_counter() - t1
                assert (again.transition == first.transition).all()
                out["result"] = _frame_hash(first.frame) + ":" + ",".join(map(str, first.transition.ravel()))
            elif step == "trends":
                agg = engine.trends(RiskPolicy.default())
                out["times"]["trends"] = time.perf_counter() - t0
                out["result"] = _frame_hash(agg.frame)
                out["months"] = len(agg.periods)
            elif step == "model":
                from fanpin.model.province import evaluate_province, score_province, train_province

                model = train_province(store, client, horizon=6, rounds=60, train_months=3, fraction=fraction, evaluate=False)
                out["times"]["model train"] = time.perf_counter() - t0
                t1 = time.perf_counter()
                model.auc = evaluate_province(store, model, client)
                out["times"]["model evaluate"] = time.perf_counter() - t1
                t2 = time.perf_counter()
                sums = score_province(store, model, period, client)
                out["times"]["model score month"] = time.perf_counter() - t2
                out["result"] = f"AUC {model.auc:.4f}, {model.rows:,} rows"
                out["auc"], out["rows"], out["expected"] = model.auc, model.rows, float(sums["expected"].sum())
            elif step == "overview":
                out.update(_overview(engine, period))
                out["times"]["overview first view"] = time.perf_counter() - t0
                out["times"]["overview since process start"] = _since_start()
            elif step == "scenario-change":
                out.update(_scenario_change(engine, period, out["times"]))
            elif step == "apptest":
                out.update(_apptest(store_dir, os.environ["FANPIN_DB_URL"], out["times"]))
            elif step == "one-frame":
                out.update(_one_frame(store, period))
                out["times"]["one frame"] = time.perf_counter() - t0
            elif step == "app-path":
                out.update(_app_path(store))
                out["times"]["app path, all months"] = time.perf_counter() - t0
            else:
                raise SystemExit(f"unknown step {step}")
        out["workers"] = [{"name": m.name, "peak": m.peak} for m in worker_memory(client)] if client is not None else []
    out["peak"] = _status("VmHWM")
    return out


PROVINCE = "990000000000"


def _leader():
    from fanpin.access.roles import Principal

    return Principal("bench", "province_leader", frozenset(), region=PROVINCE)


def _since_start() -> float:
    """Seconds since this process started (imports included)."""
    import psutil

    return time.time() - psutil.Process().create_time()


def _overview(engine, period: int) -> dict:
    """What the province overview's first view computes (``region_views.overview`` without drawing):
    the region's township x month sums (the stored baseline, the engine only where they are missing),
    the headline, the counties side by side, the month-by-month chart's table."""
    from fanpin.engine import regional
    from fanpin.engine.baseline import stored_trends
    from fanpin.engine.scoring import RiskPolicy

    policy = RiskPolicy.default()
    regional.check_region(_leader(), PROVINCE)
    got = stored_trends(engine, policy, counties=regional.counties_in(PROVINCE, engine.counties))
    totals = regional.month_totals(got.aggregates, PROVINCE)
    table = regional.side_by_side(got.aggregates, PROVINCE, period, "county")
    regional.month_by_region(got.aggregates, PROVINCE, "county", "red")
    last = totals[totals["period"] == period].iloc[0]
    return {"result": _frame_hash(got.aggregates.frame), "stored": got.stored, "computed": got.computed, "counties": len(table),
            "counts": [int(last[t]) for t in ("green", "yellow", "red")]}


SCENARIOS = ((7500.0, (40.0, 60.0)), (8000.0, (40.0, 60.0)), (8000.0, (30.0, 45.0)), (7000.0, (42.0, 60.0)), (9000.0, (22.0, 38.0)),
             (7600.0, (35.0, 55.0)))


def _scenario_change(engine, period: int, times: dict) -> dict:
    """The simulator at province level: its first view (the scenario at the baseline: the stored month),
    the month's county files made resident (in the app: in the background after the first view), then
    each scenario change (a line and cut-offs, as the page's widgets make them): one month, never the panel."""
    from dataclasses import replace

    from fanpin.engine import regional
    from fanpin.engine.distributed import resident_bytes
    from fanpin.engine.scoring import RiskPolicy

    base = RiskPolicy.default()
    bpol = engine.policy_for(base, period)
    t0 = time.perf_counter()
    first = regional.region_scenario(engine, _leader(), PROVINCE, period, base, replace(bpol, name="scenario"))
    times["simulator first view"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    if engine.client is None:
        regional.warm_region(engine, _leader(), PROVINCE, period, base).join()  # the app's background thread, waited for here
    else:
        engine.warm(period, base, wait=True)
    times["make the month resident"] = time.perf_counter() - t1
    each = []
    for line, cut in SCENARIOS:
        scen = replace(bpol, name="scenario", income_line=line, line_year=period // 100, cutoffs=cut)
        t2 = time.perf_counter()
        sc = regional.region_scenario(engine, _leader(), PROVINCE, period, base, scen)
        regional.scenario_side_by_side(sc, PROVINCE, "county")
        each.append(time.perf_counter() - t2)
    times["scenario change (median of 6)"] = statistics.median(each)
    times["scenario change (max of 6)"] = max(each)
    return {"result": ",".join(map(str, sc.transition.ravel())), "resident_bytes": resident_bytes(),
            "counts": [int(first.transition[:, k].sum()) for k in range(3)]}


def _apptest(store_dir: str, db_url: str, times: dict) -> dict:
    """The page itself (Streamlit's AppTest, in this fresh process): a province leader logs in and the
    overview of the province is drawn; then the simulator page, and one scenario change on it."""
    from streamlit.testing.v1 import AppTest

    from fanpin import store as db
    from fanpin.access import users
    from fanpin.access.roles import SYSTEM

    os.environ["FANPIN_STORE_DIR"] = store_dir
    os.environ.pop("FANPIN_DASK_SCHEDULER", None)
    eng = db.make_engine(db_url)
    if users.get_user(eng, "bench_gov") is None:
        users.add_user(eng, "bench_gov", "province_leader", "bench-pass-gov", region="99", principal=SYSTEM)
    eng.dispose()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    t0 = time.perf_counter()
    at.run()
    times["login page"] = time.perf_counter() - t0
    at.text_input(key="login_user").input("bench_gov")
    at.text_input(key="login_password").input("bench-pass-gov")
    at.button(key="login_submit").click()
    t1 = time.perf_counter()
    at.run()
    times["AppTest: log in -> province overview drawn"] = time.perf_counter() - t1
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    t2 = time.perf_counter()
    at.switch_page("pages/simulator.py")
    at.run()
    times["AppTest: simulator first view"] = time.perf_counter() - t2
    assert not at.exception, at.exception
    from fanpin.engine import distributed as D

    for th in [t for t in __import__("threading").enumerate() if t.name == "fanpin-warm"]:
        th.join()
    t3 = time.perf_counter()
    at.slider(key="pv_sim_cutoffs").set_value((30.0, 45.0)).run()
    times["AppTest: scenario change (cut-offs 30/45)"] = time.perf_counter() - t3
    assert not at.exception, at.exception
    return {"result": f"households {metrics.get('户数')}, red {metrics.get('红色')}", "resident_bytes": D.resident_bytes()}


def app_views(stores: list[str], args: argparse.Namespace) -> None:
    """The province overview's first view and a scenario change, each in a fresh process, per store:
    what the pages compute, then (``--app-db``) the pages themselves through AppTest."""
    rows = []
    for store_dir in stores:
        from fanpin.store.snapshot import SnapshotStore

        man = SnapshotStore(store_dir).manifest()
        size = f"{man.rows(man.periods[-1]):,} x {len(man.periods)} months"
        steps = ["overview", "scenario-change"] + (["apptest"] if args.app_db else [])
        log = Path(store_dir).with_suffix(".bench.log")
        for step in steps:
            runs = []
            for _ in range(args.repeats if step != "apptest" else 1):
                env_db = {"FANPIN_DB_URL": args.app_db} if step == "apptest" else {}
                os.environ.update(env_db)
                runs.append(_subprocess_step(step, Path(store_dir), "local", {}, args.model_fraction, None, log))
            r = _merge(runs)
            if "error" in r:
                rows.append((size, step, "failed", "", "", r["error"]))
                continue
            extra = {k: r[k] for k in ("stored", "computed", "resident_bytes") if k in r}
            for k, t in r["times"].items():
                rows.append((size, k, _s(t["median"] if isinstance(t, dict) else t), _s(t["min"]) if isinstance(t, dict) and t["n"] > 1 else "",
                             _gb(r["peak"]), f"{r.get('result', '')} {extra} (load {r['load']:.1f}, n={len(runs)})"))
    print_table(["store", "step", "median s", "min s", "process peak", "result"], rows,
                title="the province pages, in-process engine, each step in a fresh process")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _one_frame(store, period: int) -> dict:
    """The whole month of every county in one frame and one Scorer (missing values at the province's
    median, not each county's: the only difference from the engine)."""
    import numpy as np
    import pandas as pd

    from fanpin.engine.distributed import ProvinceEngine, one_blas_thread
    from fanpin.engine.scoring import RiskPolicy, Scorer

    engine = ProvinceEngine(store)
    frame = pd.concat([store.read_month(period, c) for c in engine.counties], ignore_index=True)
    policy = engine.policy_for(RiskPolicy.default(), period)
    with one_blas_thread():
        res = Scorer.from_frame(frame).run(policy, normalise=False)
    return {"counts": np.bincount(res.tier, minlength=3).astype(int).tolist(), "result": f"{len(frame):,} rows in one frame"}


def _app_path(store) -> dict:
    """The app's county path over the whole province in one process: ``panel_stream.score_months``,
    month by month, each month every county's rows with only ``scoring_columns()``, keeping score,
    tier and income for every household and month (as the overview does for a county)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fanpin.engine.distributed import one_blas_thread
    from fanpin.engine.panel_stream import Columns, score_months, scoring_columns
    from fanpin.engine.scoring import RiskPolicy

    man = store.manifest()
    cols = [c for c in scoring_columns() if c not in ("household_id", "township_code")]
    keys = None  # every household any month names, with its township (month by month: one month in memory)
    for p in man.periods:
        month = pd.concat([store.read_month(p, c, ["household_id", "township_code"]) for c in man.counties], ignore_index=True)
        keys = month if keys is None else pd.concat([keys, month], ignore_index=True).drop_duplicates("household_id")
    keys = keys.sort_values("household_id", ignore_index=True)
    ids = keys["household_id"].to_numpy(dtype=str)
    towns = keys["township_code"].to_numpy(dtype=object)
    del keys, month

    def load(period: int):
        t = pa.concat_tables([pq.read_table(store.month_path(period, c), columns=["household_id", *cols]) for c in man.counties])
        rows = np.searchsorted(ids, t["household_id"].to_numpy(zero_copy_only=False).astype(str))
        order = np.argsort(rows, kind="stable")
        return rows[order], Columns({c: t[c].to_numpy()[order] for c in cols})

    with one_blas_thread():
        panel = score_months(man.periods, load, ids, towns, RiskPolicy.default(), man.income_lines)
    last = panel.tier_counts().iloc[-1]
    return {"counts": [int(last[t]) for t in ("green", "yellow", "red")],
            "result": f"{len(panel.periods)} months x {len(ids):,} households"}


# =========================================================================== the orchestra
def _subprocess_step(step: str, store: Path, engine: str, spec: dict, fraction: float, address: str | None, log: Path) -> dict:
    env = dict(os.environ)
    env.pop("FANPIN_DASK_SCHEDULER", None)
    if address:
        env["FANPIN_DASK_SCHEDULER"] = address
    cmd = [sys.executable, __file__, "--step", step, "--store", str(store), "--engine", engine, "--spec", json.dumps(spec),
           "--model-fraction", str(fraction)]
    load = os.getloadavg()[0]
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=fh, text=True, env=env, cwd=ROOT, timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            return {"step": step, "engine": engine, "error": f"no result in {STEP_TIMEOUT} s (see {log})", "times": {}, "load": load}
    if proc.returncode != 0:
        return {"step": step, "engine": engine, "error": f"exit {proc.returncode} (see {log})", "times": {}, "load": load}
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    got["load"] = load
    return got


def _gb(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 2**30:.2f} GB"


def _s(seconds: float) -> str:
    return f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_size(households: int, args: argparse.Namespace, client, address: str) -> list[str]:
    counties = max(1, households // PER_COUNTY)
    spec = {"counties": counties, "households_per_county": PER_COUNTY, "months": args.months, "seed": args.seed}
    where = BENCH_DIR / f"province_c{counties}_h{PER_COUNTY}_m{args.months}_s{args.seed}"
    where.mkdir(parents=True, exist_ok=True)
    store, meta_path, log = where / "store", where / "build.json", where / "bench.log"
    n = counties * PER_COUNTY
    title = f"{n:,} households ({counties} counties x {PER_COUNTY:,}) x {args.months} months"
    print(f"\n== {title}: {store}", flush=True)
    results: list[dict] = []

    # ------------------------------------------------------------------ build: dask (kept), then single process (compared, deleted)
    meta = json.loads(meta_path.read_text()) if meta_path.exists() and not args.rebuild else None
    if meta is None or not (store / "_manifest.json").exists():
        client.restart()
        print("building with the LocalCluster ...", flush=True)
        dask_build = _subprocess_step("build", store, "dask", spec, args.model_fraction, address, log)
        if args.no_single_build:
            local_build, same = {"step": "build", "engine": "local", "skipped": "--no-single-build", "times": {}}, None
        else:
            print("building in one process (scratch copy) ...", flush=True)
            scratch = where / "store-single-process"
            local_build = _subprocess_step("build", scratch, "local", spec, args.model_fraction, None, log)
            same = dask_build.get("result") == local_build.get("result")
            shutil.rmtree(scratch, ignore_errors=True)
        meta = {"dask": dask_build, "local": local_build, "same": same, "store_bytes": _du(store), "at": time.strftime("%Y-%m-%d %H:%M")}
        meta_path.write_text(json.dumps(meta))
    else:
        print(f"(store kept from {meta['at']}; its build figures are those recorded then: --rebuild to measure again)")
    results += [meta["local"], meta["dask"]]
    print(f"store: {_gb(meta['store_bytes'])} of Parquet on disk; the two builds' partitions identical: {meta['same']}", flush=True)

    # ------------------------------------------------------------------ steps, engines interleaved within a round
    steps = list(STEPS) if not args.no_model else [s for s in STEPS if s != "model"]
    if args.steps:
        steps = [s for s in steps if s in args.steps.split(",")]
    for step in steps:
        repeats = 1 if step == "model" else args.repeats
        runs: dict[str, list[dict]] = {"local": [], "dask": []}
        for r in range(repeats):
            for eng in ("local", "dask") if r % 2 == 0 else ("dask", "local"):
                if eng == "dask":
                    client.restart()
                print(f"{step} on {eng} (round {r + 1}/{repeats}) ...", flush=True)
                runs[eng].append(_subprocess_step(step, store, eng, spec, args.model_fraction, address if eng == "dask" else None, log))
        results += [_merge(runs["local"]), _merge(runs["dask"])]
    for step, limit in (("one-frame", args.one_frame_max), ("app-path", args.app_path_max)):
        if n <= limit:
            print(f"{step} in one process ...", flush=True)
            results.append(_subprocess_step(step, store, "local", spec, args.model_fraction, None, log))
        else:
            results.append({"step": step, "engine": "local", "skipped": f"over --{step}-max ({limit:,}) on a 24 GB machine shared with others", "times": {}})
    return _report(title, n, args.months, results, meta)


def _merge(runs: list[dict]) -> dict:
    """Rounds of one step on one engine: median and min of each time, max of the peaks."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    out = dict(ok[0])
    out["times"] = {k: {"median": statistics.median(r["times"][k] for r in ok), "min": min(r["times"][k] for r in ok), "n": len(ok)} for k in ok[0]["times"]}
    out["peak"] = max(r["peak"] for r in ok)
    out["workers"] = [{"name": w["name"], "peak": max(r["workers"][i]["peak"] for r in ok if len(r["workers"]) > i)} for i, w in enumerate(ok[0]["workers"])]
    out["same_result"] = len({r.get("result") for r in ok}) == 1
    out["load"] = statistics.median(r["load"] for r in ok)
    return out


def _report(title: str, n: int, months: int, results: list[dict], meta: dict) -> list[str]:
    rows, by = [], {}
    for r in results:
        if "skipped" in r:
            rows.append((r["step"], r["engine"], "skipped", "", "", "", "", r["skipped"]))
            continue
        if "error" in r:
            rows.append((r["step"], r["engine"], "failed", "", "", "", "", r["error"]))
            continue
        for k, t in r["times"].items():
            med = t["median"] if isinstance(t, dict) else t
            mn = t["min"] if isinstance(t, dict) else t
            reps = t["n"] if isinstance(t, dict) else 1
            by[(k, r["engine"])] = med
            base = by.get((k, "local"))
            vs = f"{med / base:.2f}x" if r["engine"] == "dask" and base else ("1.00x" if r["engine"] == "local" else "")
            workers = ", ".join(_gb(w["peak"]) for w in r.get("workers", []))
            check = r.get("result", "")
            rows.append((k, r["engine"], _s(med), _s(mn) if reps > 1 else "", vs, _gb(r["peak"]), workers or "-", f"{check} (load {r.get('load', 0):.1f}, n={reps})"))
    lines = [print_table(["step", "engine", "median s", "min s", "vs local", "process peak", "worker peaks", "result (load, rounds)"], rows,
                         title=f"{title}: wall seconds, peak resident memory of the process (for dask: the client) and of each worker")]
    # agreement and rates
    res = {(r["step"], r["engine"]): r for r in results if "times" in r and "error" not in r and "skipped" not in r}
    notes = []
    for step in ("month", "scenario", "trends"):
        a, b = res.get((step, "local")), res.get((step, "dask"))
        if a and b:
            notes.append(f"{step}: local and dask results {'identical' if a['result'] == b['result'] else 'DIFFER'}")
    m_l, m_d = res.get(("model", "local")), res.get(("model", "dask"))
    if m_l and m_d:
        notes.append(f"model: AUC local {m_l['auc']:.4f}, dask {m_d['auc']:.4f}; training rows {m_l['rows']:,} / {m_d['rows']:,}")
    mon = res.get(("month", "local"))
    for step in ("one-frame", "app-path"):
        r = res.get((step, "local"))
        if r and mon:
            same = r["counts"] == mon["counts"]
            notes.append(f"{step}: last month's tiers {r['counts']} vs the engine's {mon['counts']}"
                         f"{'' if same else ' (missing values at the province median, not the county median)'}; "
                         f"{fmt_bytes((r['peak'] - r['rss_before']) / n)} per household above the process's start")
    tr = res.get(("trends", "local"))
    if tr:
        t = tr["times"]["trends"]["median"]
        notes.append(f"trends, one process: {t / (n * months) * 1e9:.0f} ns per household-month; peak {_gb(tr['peak'])} "
                     f"(independent of the province's size: a county's months at a time)")
    print("\n".join(notes), flush=True)
    return [*lines, *notes]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000", help="households, comma-separated (multiples of 100,000)")
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=DEMO_SEED)
    ap.add_argument("--repeats", type=int, default=3, help="rounds per step and engine (the model: once)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-memory", default="6GB")
    ap.add_argument("--model-fraction", type=float, default=0.25, help="share of households in the training months")
    ap.add_argument("--one-frame-max", type=int, default=5_000_000)
    ap.add_argument("--app-path-max", type=int, default=10_000_000)
    ap.add_argument("--no-model", action="store_true")
    ap.add_argument("--steps", help=f"only these steps, comma-separated (of {', '.join(STEPS)}; default all)")
    ap.add_argument("--no-single-build", action="store_true",
                    help="build the store with the LocalCluster only (no one-process build to compare with: it took 1,506 s at 5M)")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--app-views", help="only the province pages' first view and scenario change over these stores (comma-separated)")
    ap.add_argument("--app-db", help="with --app-views: a demo county database URL; the pages are also run through AppTest")
    # internal: one step in this process
    ap.add_argument("--step")
    ap.add_argument("--store")
    ap.add_argument("--engine")
    ap.add_argument("--spec")
    args = ap.parse_args()
    if args.step:
        got = json.dumps(run_step(args.step, args.store, args.engine, json.loads(args.spec), args.model_fraction))
        print(f"RESULT {got}", file=sys.stderr)  # into the size's bench.log too, so that an interrupted run keeps what it measured
        print(got)
        return

    print_environment()
    if args.app_views:
        app_views([s for s in args.app_views.split(",") if s], args)
        return
    from fanpin.engine.distributed import engine_client

    with engine_client(None, n_workers=args.workers, memory_limit=args.worker_memory) as client:
        address = client.scheduler.address  # type: ignore[attr-defined]
        print(f"LocalCluster {address}: {args.workers} single-threaded workers, {args.worker_memory} each, no dashboard", flush=True)
        for size in [int(s) for s in args.sizes.split(",") if s]:
            bench_size(size, args, client, address)


if __name__ == "__main__":
    main()
