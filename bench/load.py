"""Loading one month's snapshot: fanpin's SQL path, its Parquet cache, and pandas.read_sql.

    .venv/bin/python bench/load.py            # 100k households x 13 months (+ the default 20k x 36 build)
    .venv/bin/python bench/load.py --big      # also 1M households x 12 months (the build takes minutes)

For the last month of each database it reports, as the median of repeated runs:

- fanpin cold: ``store.load_snapshot(engine, period, use_cache=False)`` (the SQL path),
- fanpin warm: ``store.load_snapshot(engine, period)`` with the Parquet copy present,
- pandas: ``pandas.read_sql`` of the very same query through the same SQLAlchemy engine,

in seconds, as a ratio to the cold fanpin path, and the peak RSS above the
process's RSS before the call.  "Cold" means fanpin's cache is cold; the
operating system's page cache holds the SQLite file in every case (the first,
untimed warm-up run reads it in).  It also times building the default demo
county (20k households x 36 months) through the CLI, with that subprocess's peak RSS.

Benchmark databases are built once through the CLI and kept under
/tmp/fanpin-bench/ (``FANPIN_BENCH_DIR``), keyed by size; Parquet caches and
the default-demo build go to temporary directories.  Never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    build_demo_db,
    cached_demo_db,
    fmt_bytes,
    interleaved_times,
    peak_rss_delta,
    print_environment,
    print_table,
    ratio,
)

TARGET_100K_S = 1.0  # the target: 100k households load in at most 1 s from SQLite


def snapshot_query(dialect: str, period: int) -> tuple[str, tuple]:
    """The SQL (and parameters) that load_snapshot runs for one month, taken from the store so the comparison stays fair."""
    import inspect

    from fanpin.store.io import shift_period

    try:
        from fanpin.store.io import _snapshot_sql
    except ImportError:
        _snapshot_sql = None
    if _snapshot_sql is not None:
        if "n_periods" in inspect.signature(_snapshot_sql).parameters:  # one query for several months
            return _snapshot_sql(dialect, 1)[0], (period,)
        return _snapshot_sql(dialect)[0], (shift_period(period, -12), period)
    # The private helper moved: the same query from the public column lists.
    from fanpin.store.io import HOUSEHOLD_COLUMNS
    from fanpin.store.schema import PANEL_VALUE_COLUMNS

    ph = "%s" if dialect == "postgresql" else "?"
    hcols = ", ".join(f"h.{c}" for c in HOUSEHOLD_COLUMNS)
    pcols = ", ".join(f"p.{c}" for c in PANEL_VALUE_COLUMNS)
    sql = (
        f"SELECT {hcols}, {pcols}, q.income_pc FROM panel p JOIN households h ON h.household_id = p.household_id "
        f"LEFT JOIN panel q ON q.household_id = p.household_id AND q.period = p.period - 100 WHERE p.period = {ph} ORDER BY p.household_id"
    )
    return sql, (period,)


def bench_database(households: int, months: int, repeats: int, rebuild: bool) -> list[list[object]]:
    import pandas as pd

    from fanpin import store

    path, info = cached_demo_db(households, months, rebuild=rebuild)
    built = f"`fanpin {info.get('command', 'demo')}` {info['build_seconds']:.1f} s, peak RSS {fmt_bytes(info['build_peak_rss'])}"
    if info.get("load_average") is not None:
        built += f", load average {info['load_average']:.1f}"
    if info["reused"]:
        built += " (measured when built by an earlier run" + ("; demo.py changed since" if info["stale"] else "") + ")"
    print(f"\n== {households:,} households x {months} months: {path} ({fmt_bytes(path.stat().st_size)}); build {built}", flush=True)

    engine = store.make_engine(f"sqlite:///{path}")
    period = store.periods(engine)[-1]
    sql, params = snapshot_query(engine.dialect.name, period)

    def cold(_i: int):
        return store.load_snapshot(engine, period, use_cache=False)

    def warm(_i: int):
        return store.load_snapshot(engine, period, use_cache=True)

    def read_sql(_i: int):
        with engine.connect() as conn:
            return pd.read_sql(sql, conn, params=params)

    methods = {"fanpin cold (SQL, use_cache=False)": cold, "fanpin warm (Parquet cache)": warm, "pandas.read_sql via SQLAlchemy": read_sql}
    shapes, memory = {}, {}
    for label, fn in methods.items():
        fn(-1)  # warm-up: reads the file into the page cache; for `warm` it writes the Parquet copy
        with peak_rss_delta() as mem:
            shapes[label] = fn(-2).shape
        memory[label] = mem["bytes"]
    results = interleaved_times(methods, repeats=repeats, warmup=0)  # round-robin: noise hits all three alike
    rows = [[label, t["median"], t["min"], t["max"], memory[label], shapes[label]] for label, t in results.items()]
    base = results["fanpin cold (SQL, use_cache=False)"]["median"]
    table = [[r[0], f"{r[1]:.3f}", f"{r[2]:.3f}", f"{r[3]:.3f}", ratio(r[1], base), fmt_bytes(r[4]), f"{r[5][0]:,} x {r[5][1]}"] for r in rows]
    print_table(
        ["method", "median s", "min s", "max s", "vs cold", "peak RSS +", "frame"],
        table,
        title=f"load month {period}: median of {repeats} rounds after a warm-up, methods interleaved",
    )
    if households == 100_000:
        ok = "meets" if base <= TARGET_100K_S else "MISSES"
        print(f"target: 100k households cold from SQLite <= {TARGET_100K_S:.1f} s -> {base:.3f} s ({ok})")
    engine.dispose()
    return table


def bench_default_build(tmp: Path) -> None:
    """The default demo exactly as a user builds it (including whatever the CLI does after building)."""
    path = tmp / "default_demo.db"
    print("\n== default demo build (20,000 households x 36 months) through the CLI ...", flush=True)
    info = build_demo_db(path, 20_000, 36, log=tmp / "default_demo.log", warm_cache=True)
    split = []
    if info["cli_build_seconds"] is not None:
        split.append(f"database {info['cli_build_seconds']:.1f} s")
    if info["cli_warm_seconds"] is not None:
        split.append(f"snapshot cache warm-up {info['cli_warm_seconds']:.1f} s")
    split.append(f"load average {info['load_average']:.1f}")
    print_table(
        ["build", "wall s", "of which (CLI's own figures); machine load", "peak RSS (child)", "database"],
        [[f"fanpin {info['command']}", f"{info['build_seconds']:.1f}", ", ".join(split) or "n/a", fmt_bytes(info["build_peak_rss"]), fmt_bytes(path.stat().st_size)]],
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--big", action="store_true", help="also build (once) and load the 1M households x 12 months database")
    ap.add_argument("--repeats", type=int, default=15, help="timed repeats per method at 100k (default 15)")
    ap.add_argument("--big-repeats", type=int, default=3, help="timed repeats per method at 1M (default 3)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached benchmark databases")
    ap.add_argument("--no-default-build", action="store_true", help="skip timing the default 20k x 36 demo build")
    args = ap.parse_args(argv)

    print("# bench/load.py")
    print_environment()
    with tempfile.TemporaryDirectory(prefix="fanpin-bench-load-") as tmp:
        os.environ["FANPIN_CACHE_DIR"] = str(Path(tmp) / "cache")  # Parquet copies go to the temporary dir
        bench_database(100_000, 13, args.repeats, args.rebuild)
        if args.big:
            bench_database(1_000_000, 12, args.big_repeats, args.rebuild)
        if not args.no_default_build:
            bench_default_build(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
