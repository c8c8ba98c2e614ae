"""A province from the command line: the analytic store and the engine past one machine.

``fanpin demo --province`` writes a synthetic province straight to the analytic store,
``fanpin snapshot sync`` copies the database's months into it (incrementally, audited as
the system principal ``cli:<os user>``), and ``fanpin score --engine`` / ``fanpin trends
--engine`` answer from it, one task per county-month, with ``--engine local`` (this
process, one task after another) or ``--engine dask`` (the scheduler at
``FANPIN_DASK_SCHEDULER=tcp://host:8786``, else a LocalCluster sized to the machine).
Both engines print the same table (standard output); the wall time and each worker's
peak memory go to standard error, so that the tables can be compared byte for byte.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from fanpin.engine.scoring import RiskPolicy
    from fanpin.store.snapshot import Manifest, SnapshotStore

ENGINES = ("local", "dask")


# --------------------------------------------------------------------------- parser
def add_demo_flags(d: argparse.ArgumentParser) -> None:
    """``fanpin demo --province ...`` (the county's ``--months``, ``--seed``, ``--start``, ``--townships``,
    ``--villages`` and ``--force`` hold for every county of the province)."""
    g = d.add_argument_group("province (written to the analytic store, not the database)")
    g.add_argument("--province", action="store_true", help="build a demo province into the analytic store")
    g.add_argument("--counties", type=int, default=10, help="counties of the province (default 10)")
    g.add_argument("--households-per-county", type=int, default=100_000, help="households per county (default 100,000)")
    _store_flag(g)
    _engine_flags(g, default="local", what="build the counties")


def add_score_flags(s: argparse.ArgumentParser) -> None:
    """``fanpin score --engine local|dask``: the province's month from the analytic store."""
    g = s.add_argument_group("province (from the analytic store)")
    _engine_flags(g, default=None, what="score the store's county-months")
    _store_flag(g)


def _store_flag(g: argparse._ActionsContainer) -> None:
    g.add_argument("--store", help="analytic store directory (default FANPIN_STORE_DIR or data/store)")


def _engine_flags(g: argparse._ActionsContainer, *, default: str | None, what: str) -> None:
    g.add_argument("--engine", choices=ENGINES, default=default,
                   help=f"{what} in this process (local) or on Dask (dask: FANPIN_DASK_SCHEDULER, else a LocalCluster)")
    g.add_argument("--workers", type=int, help="LocalCluster only: worker processes (default one per core)")
    g.add_argument("--worker-memory", help="LocalCluster only: memory limit per worker, e.g. 4GB (default 3/4 of RAM shared)")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``fanpin snapshot sync|status`` and ``fanpin trends`` (``common`` carries ``--db``)."""
    snap = sub.add_parser("snapshot", help="the analytic store (Parquet, month x county) for a province")
    ss = snap.add_subparsers(dest="snapshot_command", required=True)
    sy = ss.add_parser("sync", parents=[common], help="copy the database's months into the analytic store (changed county-months only)")
    sy.add_argument("--force", action="store_true", help="compare every county-month even if the data version is unchanged; replace a store copied from another source")
    _store_flag(sy)
    sy.set_defaults(func=cmd_snapshot_sync)
    bd = ss.add_parser("boundaries", help="keep a GeoJSON of the province's county (or city, township) boundaries for the map")
    bd.add_argument("file", help="GeoJSON FeatureCollection, UTF-8 or GB18030, codes in region_code / code / 区划代码")
    bd.add_argument("--level", choices=("county", "city", "township", "province"), default="county", help="the regions the file draws (default county)")
    bd.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the problems printed (default zh)")
    _store_flag(bd)
    bd.set_defaults(func=cmd_snapshot_boundaries)
    du = ss.add_parser("duplicates", parents=[common], help="people registered in more than one household, matched across counties (keyed hashes)")
    du.add_argument("--region", default=None, help="only people with a household in this province or city (99, 9901; default every county)")
    du.add_argument("--out", help="also write the households (person number, county, household) to .csv or .xlsx")
    _engine_flags(du, default="local", what="match the county files")
    _store_flag(du)
    du.set_defaults(func=cmd_snapshot_duplicates)
    st = ss.add_parser("status", help="what the analytic store holds")
    st.add_argument("--policy", help="policy JSON file whose stored sums to check (default the shipped default)")
    _store_flag(st)
    st.set_defaults(func=cmd_snapshot_status)

    tr = sub.add_parser("trends", help="red/yellow/green counts by region and month over the analytic store")
    _engine_flags(tr, default="local", what="score the store's county-months")
    _store_flag(tr)
    tr.add_argument("--from", dest="first", help="first month, YYYY-MM (default the store's first)")
    tr.add_argument("--to", dest="last", help="last month, YYYY-MM (default the store's last)")
    tr.add_argument("--level", choices=("county", "city", "province"), default="county", help="regions to count by (default county)")
    tr.add_argument("--policy", help="policy JSON file (default the shipped default; the store's yearly income lines hold)")
    tr.add_argument("--out", help="also write the table to .csv or .xlsx")
    tr.add_argument("--stored", action="store_true",
                    help="read the baseline sums stored with the data where they hold for the policy; score only the rest (default: score every county-month)")
    tr.set_defaults(func=cmd_trends)


# --------------------------------------------------------------------------- helpers
def _store(args: argparse.Namespace) -> SnapshotStore:
    from fanpin.store.snapshot import SnapshotStore

    return SnapshotStore(args.store) if getattr(args, "store", None) else SnapshotStore()


def _fail(message: str) -> int:
    print(f"fanpin: {message}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[object | None]:
    """None for ``--engine local``; else a Dask client (the scheduler variable wins over --workers)."""
    if args.engine != "dask":
        yield None
        return
    from fanpin.engine.distributed import SCHEDULER_ENV, engine_client

    address = os.environ.get(SCHEDULER_ENV)
    if address and (args.workers or args.worker_memory):
        print(f"note: {SCHEDULER_ENV} is set; --workers and --worker-memory apply to a LocalCluster only", file=sys.stderr)
    with engine_client(address, n_workers=args.workers, memory_limit=args.worker_memory) as client:
        yield client


def _where(client: object | None) -> str:
    if client is None:
        return "local (this process)"
    info = client.scheduler_info()  # type: ignore[attr-defined]
    workers = info.get("workers", {})
    threads = sum(int(w.get("nthreads", 0)) for w in workers.values())
    return f"dask {info.get('address', '?')} ({len(workers)} workers, {threads} threads)"


def _report(client: object | None, seconds: float, what: str) -> None:
    """Wall time and each worker's peak memory (since the command started), on standard error."""
    from fanpin.engine.distributed import worker_memory

    mem = worker_memory(client)
    gb = lambda n: f"{n / 2**30:.2f} GB"
    print(f"{what}: {seconds:.1f} s wall on {_where(client)}", file=sys.stderr)
    for m in mem:
        print(f"  {'process' if client is None else 'worker'} {m.name}: peak {gb(m.peak)}, now {gb(m.rss)}", file=sys.stderr)


def _policy(path: str | None) -> RiskPolicy:
    from fanpin.engine.scoring import RiskPolicy

    if not path:
        return RiskPolicy.default()
    return RiskPolicy.from_json(Path(path).read_text(encoding="utf-8"))


def _progress() -> Callable[[int, int], None]:
    from fanpin.cli.main import _progress_printer

    show = _progress_printer()
    return lambda done, total: show(f"task {done}/{total}", done / max(total, 1))


def _open_engine(args: argparse.Namespace) -> tuple[SnapshotStore, Manifest] | int:
    """(store, manifest) of a store that holds something, or an exit code."""
    store = _store(args)
    try:
        man = store.manifest()
    except ValueError as exc:
        return _fail(str(exc))
    if not man.partitions:
        return _fail(f"the analytic store {store.root} is empty: run `fanpin snapshot sync` or `fanpin demo --province` first")
    return store, man


# --------------------------------------------------------------------------- demo --province
def cmd_demo_province(args: argparse.Namespace) -> int:
    """Build a demo province straight into the analytic store (the database is not touched)."""
    from fanpin.access.roles import system_principal
    from fanpin.cli.main import _progress_printer
    from fanpin.demo.province import ProvinceSpec, build_province

    if args.counties < 1 or args.households_per_county < 1:
        return _fail("--counties and --households-per-county must be at least 1")
    store = _store(args)
    try:
        spec = ProvinceSpec(counties=args.counties, households_per_county=args.households_per_county, months=args.months,
                            start=args.start, seed=args.seed, townships=args.townships, villages=args.villages)
        spec.county_code(args.counties - 1)
    except ValueError as exc:
        return _fail(str(exc))
    refused = _replaceable(store, args.force)
    if refused:
        return _fail(refused)
    if store.root.exists():
        shutil.rmtree(store.root)  # start clean, so that no county of an earlier build stays behind
    t0 = time.perf_counter()
    with _client(args) as client:
        from fanpin.engine.distributed import reset_peak_memory

        reset_peak_memory(client)
        res = build_province(store, spec, client=client, written_by=system_principal().actor, progress=_progress_printer())
        seconds = time.perf_counter() - t0
        print(f"demo province built in {seconds:.1f}s into {store.root}: {spec.counties} counties, "
              f"{res.partitions:,} county-months, {res.household_months:,} household-months, {res.members:,} members "
              f"({len(res.planted)} people planted in two counties)")
        _report(client, seconds, "build")
    return 0


def _replaceable(store: SnapshotStore, force: bool) -> str | None:
    """Why ``store.root`` may not be replaced by a demo province (None: it may): only an empty
    directory or an analytic store whose source is a demo province, or any store with ``--force``;
    a directory without a manifest is never deleted."""
    root = store.root
    if not root.exists() or not any(root.iterdir()):
        return None
    if not store.manifest_path.exists():
        return f"{root} is not empty and is not an analytic store; choose a new or empty --store"
    try:
        source = store.manifest().source
    except ValueError:
        source = "a store of another schema version"
    if source.startswith("demo-province:") or force:
        return None
    return (f"{root} holds a store synced from {source or 'a database'}, not a demo province; refusing to replace it. "
            "Use another --store, or --force to replace it anyway.")


# --------------------------------------------------------------------------- snapshot
def cmd_snapshot_sync(args: argparse.Namespace) -> int:
    """Database -> analytic store, changed county-months only, audited as ``cli:<os user>``."""
    from fanpin import store as db
    from fanpin.access.roles import system_principal
    from fanpin.engine.snapshot_sync import sync_snapshots

    engine = db.make_engine(args.db)
    db.check_schema(engine)
    store = _store(args)
    try:
        res = sync_snapshots(engine, store, principal=system_principal(), force=args.force)
    except ValueError as exc:
        return _fail(str(exc))
    from fanpin.geo.boundaries import sync_database_boundaries

    sync_database_boundaries(engine, store)  # the map's township polygons and county outline go with the months
    if res.up_to_date:
        print(f"{store.root} is up to date (data version {res.data_version}, {res.unchanged} county-months); --force compares them anyway"
              + (f"; baseline aggregates of {res.baseline} county-months recomputed (policy or line changed)" if res.baseline else ""))
        return 0
    months = sorted({p for p, _ in res.written})
    span = f" ({months[0]}..{months[-1]})" if months else ""
    print(f"synced {store.root} in {res.seconds:.1f}s: {len(res.written)} county-months written{span}, {res.rows:,} rows; "
          f"{res.unchanged} unchanged; {len(res.removed)} removed; {res.members:,} members as keyed hashes; "
          f"baseline aggregates of {res.baseline} county-months computed; data version {res.data_version}")
    return 0


def cmd_snapshot_boundaries(args: argparse.Namespace) -> int:
    """Check a boundary file against the store's codes and keep it (refused files change nothing)."""
    from fanpin.core.i18n import translate
    from fanpin.geo.boundaries import LEVELS, check_boundaries, store_codes
    from fanpin.geo.geojson import describe_problems

    got = _open_engine(args)
    if isinstance(got, int):
        return got
    store, _ = got
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        return _fail(str(exc))
    checked = check_boundaries(raw, args.level, store_codes(store, args.level))
    if checked.fc is None:
        print(translate("boundaries.refused", args.lang, file=args.file), file=sys.stderr)
        for line in describe_problems(checked.problems, args.lang):
            print(f"  {line}", file=sys.stderr)
        return 2
    store.write_boundaries(args.level, checked.fc)
    print(translate("boundaries.kept", args.lang, n=len(checked.fc["features"]), level=translate(f"boundaries.level_{args.level}", args.lang),
                    path=store.boundaries_path(args.level)))
    if checked.missing:
        shown = ", ".join(c[: LEVELS[args.level]] for c in checked.missing[:20])
        print(translate("boundaries.missing", args.lang, n=len(checked.missing), codes=shown + (" …" if len(checked.missing) > 20 else "")))
    return 0


def cmd_snapshot_duplicates(args: argparse.Namespace) -> int:
    """People in more than one household (the engine's join across counties), counted by county."""
    from fanpin.access.roles import system_principal
    from fanpin.access.users import region_code
    from fanpin.engine.distributed import ProvinceEngine, reset_peak_memory
    from fanpin.engine.regional import duplicates_by_county, region_duplicates

    got = _open_engine(args)
    if isinstance(got, int):
        return got
    store, man = got
    region = region_code(args.region) if args.region else man.counties[0][:2].ljust(12, "0")
    if region is None:
        return _fail(f"--region {args.region!r} is not a region code (99, 9901 or 12 digits)")
    with _client(args) as client:
        reset_peak_memory(client)
        t0 = time.perf_counter()
        found = region_duplicates(ProvinceEngine(store, client), system_principal(), region)
        seconds = time.perf_counter() - t0
        by = duplicates_by_county(found, region)
        across = int((found.groupby("person_key")["county_code"].nunique() > 1).sum()) if len(found) else 0
        print(f"{found['person_key'].nunique():,} people in more than one household ({across:,} across counties), "
              f"{found['household_id'].nunique():,} households")
        print(f"{'county':<8}{'people':>10}{'across':>10}{'households':>12}")
        for r in by.itertuples(index=False):
            print(f"{r.region_code[:6]:<8}{r.people:>10,}{r.across_counties:>10,}{r.households:>12,}")
        if args.out:
            import pandas as pd

            from fanpin.report.export import write_table

            rows = found.assign(person=pd.factorize(found["person_key"], sort=True)[0] + 1)[["person", "county_code", "household_id"]]
            write_table(rows, args.out)  # the person's number, never the hash
            print(f"wrote {len(rows):,} rows to {args.out}", file=sys.stderr)
            from fanpin.access.audit import record
            from fanpin.cli.region_brief import optional_database

            db = optional_database(args)  # the app's database, where there is one: the export is audited there
            if db is not None:
                record(db, system_principal().actor, "export", Path(args.out).name[:64],
                       {"format": Path(args.out).suffix.lstrip("."), "rows": len(rows), "what": "duplicates", "region": region})
        _report(client, seconds, f"matched {sum(i.rows for i in man.members.values()):,} members")
    return 0


def cmd_snapshot_status(args: argparse.Namespace) -> int:
    got = _open_engine(args)
    if isinstance(got, int):
        return got
    store, man = got
    ps = man.periods
    print(f"store: {store.root}")
    print(f"source: {man.source}  data version {man.data_version}  written by {man.written_by} at {man.updated_at}")
    print(f"months: {ps[0]}..{ps[-1]} ({len(ps)}); counties: {len(man.counties)}; households in {ps[-1]}: {man.rows(ps[-1]):,}; "
          f"county-months: {len(man.partitions):,}")
    from fanpin.engine.baseline import Checker
    from fanpin.engine.scoring import PolicyError
    from fanpin.geo.boundaries import LEVELS

    try:
        policy = _policy(args.policy)
    except (ValueError, OSError, PolicyError) as exc:
        return _fail(str(exc))
    check = Checker(store, man, policy)
    months = [(p, c) for p, c in man.partitions if p]
    held = sum(check.read(p, c) is not None for p, c in months)
    written = sum(store.baseline_path(p, c).exists() for p, c in months)
    print(f"stored sums for policy {policy.name!r}: {held:,} of {len(months):,} county-months hold; {written - held:,} stale "
          f"(another policy or line, or rewritten data); {len(months) - written:,} missing"
          + ("" if held == len(months) else " (`fanpin snapshot sync` writes them for the database's adopted policy)"))
    kept = {lv: store.read_boundaries(lv) for lv in LEVELS}
    shown = ", ".join(f"{lv} {len(fc['features'])}" for lv, fc in kept.items() if fc)
    print(f"boundaries: {shown}" if shown else "boundaries: none (the map draws tiles; `fanpin snapshot boundaries FILE` keeps a GeoJSON)")
    return 0


# --------------------------------------------------------------------------- score / trends
COLUMNS = ("green", "yellow", "red", "households", "newly_red", "rising")


def _table(frame: pd.DataFrame, first: str) -> list[str]:
    """Fixed-width lines: ``first`` column, then COLUMNS and the mean score."""
    head = f"{first:<14}" + "".join(f"{c:>11}" for c in COLUMNS) + f"{'mean_score':>11}"
    out = [head]
    for row in frame.itertuples(index=False):
        cells = "".join(f"{int(getattr(row, c)):>11,}" for c in COLUMNS)
        out.append(f"{row.label:<14}{cells}{row.mean_score:>11.3f}")
    return out


def cmd_score_province(args: argparse.Namespace) -> int:
    """One month's tier counts by county (and the province) from the analytic store."""
    from fanpin.core.periods import parse_period
    from fanpin.engine.distributed import ProvinceEngine, reset_peak_memory
    from fanpin.engine.scoring import PolicyError

    if args.out:
        return _fail("--out is for a county's households from the database; with --engine the store gives counts by county")
    try:
        period = parse_period(args.period)
        policy = _policy(args.policy)
    except (ValueError, OSError, PolicyError) as exc:
        return _fail(str(exc))
    got = _open_engine(args)
    if isinstance(got, int):
        return got
    store, man = got
    if period not in man.periods:
        return _fail(f"no month {period} in the analytic store (months {man.periods[0]}..{man.periods[-1]})")
    with _client(args) as client:
        reset_peak_memory(client)
        engine = ProvinceEngine(store, client)
        t0 = time.perf_counter()
        agg = engine.month(policy, period, progress=_progress() if client is not None else None)
        seconds = time.perf_counter() - t0
        month_policy = engine.policy_for(policy, period)
        by_county = agg.at("county").assign(label=lambda f: f["region_code"].str[:6])
        total = agg.at("province").assign(label="total")
        print(f"{period // 100}-{period % 100:02d}  policy {month_policy.name!r}  income line {month_policy.income_line:,.0f} yuan  "
              f"cut-offs {month_policy.cutoffs[0]:g}/{month_policy.cutoffs[1]:g}  {len(by_county)} counties")
        print("\n".join(_table(by_county, "county") + _table(total, "")[1:]))
        _report(client, seconds, f"scored {int(total['households'].sum()):,} households")
    return 0


def cmd_trends(args: argparse.Namespace) -> int:
    """Red/yellow/green counts by region and month over the analytic store."""
    from fanpin.core.periods import parse_period
    from fanpin.engine.distributed import ProvinceEngine, reset_peak_memory
    from fanpin.engine.scoring import PolicyError

    try:
        policy = _policy(args.policy)
        first = parse_period(args.first) if args.first else None
        last = parse_period(args.last) if args.last else None
    except (ValueError, OSError, PolicyError) as exc:
        return _fail(str(exc))
    got = _open_engine(args)
    if isinstance(got, int):
        return got
    store, man = got
    periods = [p for p in man.periods if (first is None or p >= first) and (last is None or p <= last)]
    if not periods:
        return _fail(f"no months of the analytic store in that range (months {man.periods[0]}..{man.periods[-1]})")
    with _client(args) as client:
        reset_peak_memory(client)
        t0 = time.perf_counter()
        engine = ProvinceEngine(store, client)
        if not args.stored:
            agg = engine.trends(policy, periods, progress=_progress() if client is not None else None)
            source = f"{sum(p in set(periods) for p, _ in man.partitions):,} county-months scored"
        else:
            from fanpin.engine.baseline import stored_trends

            got = stored_trends(engine, policy, periods)
            agg, source = got.aggregates, f"{got.stored:,} county-months read from the stored sums, {got.computed:,} scored"
        seconds = time.perf_counter() - t0
        width = {"county": 6, "city": 4, "province": 2}[args.level]
        table = agg.at(args.level).assign(region=lambda f: f["region_code"].str[:width])
        table = table.sort_values(["region", "period"], ignore_index=True)
        table["label"] = table["region"] + " " + (table["period"] // 100).astype(str) + "-" + (table["period"] % 100).map("{:02d}".format)
        print(f"{args.level} x month, {periods[0]}..{periods[-1]}, policy {policy.name!r} (the store's yearly income lines)")
        print("\n".join(_table(table, f"{args.level} month")))
        if args.out:
            from fanpin.report.export import write_table

            cols = ["region", "period", *COLUMNS, "mean_score", "below_line"]
            write_table(table[cols].rename(columns={"region": f"{args.level}_code"}), args.out)
            print(f"wrote {len(table):,} rows to {args.out}", file=sys.stderr)
        _report(client, seconds, f"trends over {len(periods)} months ({source}), {man.rows(periods[-1]):,} households in the last")
    return 0
