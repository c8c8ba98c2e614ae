"""Run every benchmark, one after the other, each in its own process (what `make bench` calls).

    .venv/bin/python bench/run_all.py            # load (100k) and scoring (100k, 1M)
    .venv/bin/python bench/run_all.py --big      # also build/load the 1M-household database (minutes)

Each benchmark prints its own tables; nothing asserts on time.  The exit code is
non-zero only if a benchmark crashed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--big", action="store_true", help="bench/load.py --big: also the 1M households x 12 months database")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached benchmark databases")
    args = ap.parse_args(argv)

    common = ["--repeats", str(args.repeats)] + (["--rebuild"] if args.rebuild else [])
    runs = [
        ["load.py", *common, *(["--big"] if args.big else [])],
        ["scoring.py", "--repeats", str(args.repeats)],  # reuses the database load.py built
        ["pages.py"],  # first view of each page on the default demo county
        ["simulator.py"],  # the simulator's rerun times at 20k and 100k households
        ["ingest.py"],  # validating and importing a 100k-row household roster
        ["brief.py"],  # the monthly brief for the default demo county
    ]
    failed = []
    for script, *rest in runs:
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / script), *rest])
        print(f"\n[{script} finished in {time.perf_counter() - t0:.0f}s, exit {rc}]\n", flush=True)
        if rc != 0:
            failed.append(script)
    if failed:
        print("crashed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
