"""First view of each page after start-up, and a rerun, driven through AppTest.

    .venv/bin/python bench/pages.py                 # the default demo county (20k x 36)
    .venv/bin/python bench/pages.py --households 100000 --months 13

"First view" is the page's first run in a fresh process (empty Streamlit caches;
the Parquet snapshot cache warm, as `fanpin demo` leaves it), measured in a
subprocess per page so that no page profits from another's caches.  "Rerun" is a
second run in the same session.  Never asserts on time; the issue's budget for
the first view is 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, cached_demo_db, print_environment, print_table

PAGES = ["overview", "map", "simulator", "profile", "training"]

CHILD = r"""
import json, logging, os, sys, time
for name in ("streamlit",):
    logging.getLogger(name).setLevel(logging.ERROR)
from streamlit.testing.v1 import AppTest
from fanpin import store
store.warm_cache(store.make_engine(os.environ["FANPIN_DB_URL"]))  # as `fanpin demo` leaves it
at = AppTest.from_file(sys.argv[1], default_timeout=600)
at.session_state["role"] = "analyst"
at.switch_page(f"pages/{sys.argv[2]}.py")
t0 = time.perf_counter(); at.run(); first = time.perf_counter() - t0
t0 = time.perf_counter(); at.run(); rerun = time.perf_counter() - t0
print(json.dumps({"first": first, "rerun": rerun, "errors": [str(e.value)[:200] for e in at.exception]}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=36)
    args = ap.parse_args(argv)
    print_environment()
    db, _ = cached_demo_db(args.households, args.months)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, FANPIN_DB_URL=f"sqlite:///{db}", FANPIN_CACHE_DIR=cache)
        for page in PAGES:
            out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "app.py"), page], env=env, cwd=ROOT, capture_output=True, text=True)
            try:
                res = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                print(out.stderr[-2000:])
                return 1
            rows.append([page, f"{res['first']:.2f}", f"{res['rerun']:.3f}", "yes" if res["first"] <= 5 else "NO", "; ".join(res["errors"]) or "-"])
    print(f"\n== pages on {args.households:,} households x {args.months} months (seconds, AppTest run() wall time)")
    print_table(["page", "first view s", "rerun s", "first <= 5 s", "errors"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
