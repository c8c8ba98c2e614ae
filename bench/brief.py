"""The monthly brief on the default demo county (20k households x 36 months).

    .venv/bin/python bench/brief.py                 # /tmp/brief/demo.db, built once if missing
    .venv/bin/python bench/brief.py --with-model    # also train a model first (not timed), so the model section runs

Target (issue 9): a brief for the default demo county in at most 20 s.  Times, as medians of
``--repeats`` runs after one untimed warm-up, the steps of ``fanpin.report.document.produce``:
compute (panel scores, summaries, hot spots, closed loop, clues, findings, model list), charts
(matplotlib Agg), docx (python-docx) and xlsx; then the whole ``fanpin brief`` command once,
cold, as a subprocess (interpreter start and imports included).  Snapshot caches and the model
go to temporary directories.  Never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, print_environment, print_table

DB = Path("/tmp/brief/demo.db")


def _current(url: str) -> bool:
    """Whether the cached benchmark database has this fanpin's schema (else it is rebuilt, so that
    it also holds what newer demo generators add)."""
    from fanpin import store
    from fanpin.store.engine import StoreError

    try:
        store.check_schema(store.make_engine(url))
        return True
    except StoreError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=str(DB), help="SQLite file of the default demo (built with `fanpin demo` if missing)")
    ap.add_argument("--period", default=None, help="YYYY-MM (default: the last month)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--with-model", action="store_true", help="train and save a model first (not timed)")
    args = ap.parse_args()
    os.environ["FANPIN_MODEL_DIR"] = tempfile.mkdtemp(prefix="fanpin-bench-model-")
    print_environment()
    db = Path(args.db)
    url = f"sqlite:///{db}"
    fanpin = [str(ROOT / ".venv" / "bin" / "fanpin")] if (ROOT / ".venv" / "bin" / "fanpin").exists() else [sys.executable, "-m", "fanpin.cli"]
    if db.exists() and not _current(url):
        print(f"{db} was built by an older fanpin: rebuilding it")
        db.unlink()
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        subprocess.run([*fanpin, "demo", "--db", url], check=True)
        print(f"built the default demo in {time.perf_counter() - t0:.1f} s -> {db}")

    from fanpin import store
    from fanpin.access.roles import SYSTEM, Principal
    from fanpin.core.periods import parse_period
    from fanpin.model import persist, train
    from fanpin.report.document import produce

    engine = store.make_engine(url)
    period = parse_period(args.period) if args.period else store.periods(engine)[-1]
    if args.with_model:
        t0 = time.perf_counter()
        persist.save_model(train.train(engine, principal=SYSTEM))
        print(f"trained a model in {time.perf_counter() - t0:.1f} s (not part of the brief's time)")

    out = Path(tempfile.mkdtemp(prefix="fanpin-bench-brief-"))
    runs: list[dict[str, float]] = []
    for i in range(args.repeats + 1):
        t0 = time.perf_counter()
        made = produce(engine, period, "zh", principal=Principal("bench:brief", "admin"))
        total = time.perf_counter() - t0
        if i:  # the first run warms caches and imports
            runs.append({**made.seconds, "total": total})
    (out / "brief.docx").write_bytes(made.docx)
    steps = ["compute", "charts", "docx", "xlsx", "total"]
    rows = [(s, f"{statistics.median(r[s] for r in runs):.2f}", f"{min(r[s] for r in runs):.2f}", f"{max(r[s] for r in runs):.2f}") for s in steps]
    b = made.brief
    print_table(
        ["step", "median (s)", "min", "max"],
        rows,
        title=f"brief {period} in process, {b.households_total:,} households x {len(b.trend)} months, model: {b.model_status}, findings: {b.findings_status} ({args.repeats} runs)",
    )
    t0 = time.perf_counter()
    r = subprocess.run([*fanpin, "brief", "--db", url, "--period", str(period), "--out", str(out / "cli.docx")], capture_output=True, text=True)
    cli = time.perf_counter() - t0
    print(f"`fanpin brief` end to end (new process, cold imports): {cli:.1f} s (target <= 20 s), exit {r.returncode}")
    print("  " + r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "")
    print(f"files: {out} (docx {len(made.docx) / 1024:.0f} KB, xlsx {len(made.xlsx) / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
