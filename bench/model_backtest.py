"""The risk model's backtest on demo counties built from other seeds, and the time `fanpin train` takes.

    .venv/bin/python bench/model_backtest.py                      # reported seeds (707, 808, 909 first), then `fanpin train` timed on the default county
    .venv/bin/python bench/model_backtest.py --seeds 20231,5,6 --learners blend,auto,hgb,logistic --no-timing
                                                                  # the comparison on the tuning seeds

Which seeds: the model (``fanpin.model.train.LEARNER``, the blend of the trees' and the
logistic's log-odds), the boosting's settings, the share of non-fallers kept and the features
were set on the held-out windows of the counties built from seeds 20231 (the CLI's default), 5
and 6; the blend was also compared on 101-606, whose figures had been reported before, so those
are seen.  707, 808 and 909 were first run after the blend was frozen.  (The earlier choice
between the learners per window, ``--learners auto``, was set on 20231, 5 and 6 and first run
on 404, 505 and 606.)
Every county is the default size (20,000 households x 36 months, built once through
`fanpin demo --seed N --no-cache` under the bench directory).

For each county and learner the script runs ``fanpin.model.train.train`` exactly as `fanpin
train` does (windows, one fit per window on the months whose label was complete at its start,
the table of ``fanpin.model.backtest`` with its bootstrap over households) and prints, per
budget, each method's distinct finds with 95% intervals and the share of the gap from the
income-line rule to the ceiling that the model closes; then one line per county at 2%.

Timing: `fanpin train` on the default county in a subprocess (wall time, and the child's CPU
time from ``os.wait4``, which other processes on the machine do not inflate), with the load
average before and after, and the steps as the model records them.  Never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEMO_SEED, ROOT, cached_demo_db, fanpin_cli, print_environment, print_table

REPORTED_SEEDS = (707, 808, 909, 404, 505, 606, 101, 202, 303)
TUNING_SEEDS = (20231, 5, 6)


def backtest_county(seed: int, learners: list[str], horizon: int, draws: int) -> list[list[object]]:
    """Train every learner on the county of ``seed``; print its table; the 2% rows for the summary."""
    from fanpin import store
    from fanpin.access.roles import SYSTEM
    from fanpin.model import backtest, features, train

    path, _ = cached_demo_db(20_000, 36, seed=seed)
    engine = store.make_engine(f"sqlite:///{path}")
    if store.current_revision(engine) != store.head_revision():
        store.upgrade(engine)  # a county built before a newer migration
    data = features.load_panel(engine)
    summary = []
    for name in learners:
        t0 = time.perf_counter()
        model = train.train(engine, horizon, principal=SYSTEM, data=data, learner=name, draws=draws)
        seconds = time.perf_counter() - t0
        table = model.backtest
        rows = []
        for k in sorted(set(table["budget"])):
            s = backtest.summary(table, k)
            for m in (*backtest.METHODS, backtest.CEILING):
                r = s.loc[m]
                gap = "" if m in (backtest.BASE, backtest.CEILING) else f"{r.gap_closed:.0%} ({r.gap_lo:.0%}-{r.gap_hi:.0%})"
                rows.append([f"{k:.0%}", m, f"{r.found:.0f}", "" if m == backtest.CEILING else f"{r.lo:.0f}-{r.hi:.0f}", f"{r.ratio:.2f}", gap])
        windows = "; ".join(f"{backtest.window_label(w, 'en')} [{_chosen(w.get('learner'))}]" for w in model.meta["windows"])
        windows += f"; saved model [{_chosen(model.meta['learner'].get('choice'))}]"
        print_table(["budget", "method", "found", "95% interval", "x income line", "gap closed (95%)"], rows,
                    title=f"\nseed {seed}, learner {name} ({seconds:.0f} s in-process): {windows}")
        s = backtest.summary(table, 0.02)
        v = backtest.verdict(table, 0.02)
        m = s.loc["model"]
        summary.append([
            seed, name, f"{m.found:.0f} ({m.lo:.0f}-{m.hi:.0f})", f"{s.loc['income_line', 'found']:.0f}", f"{s.loc['trend_rule', 'found']:.0f}",
            f"{s.loc['logistic', 'found']:.0f}", f"{s.loc['ceiling', 'found']:.0f}", f"{m.ratio:.2f}", f"{s.loc['ceiling', 'ratio']:.2f}",
            f"{m.gap_closed:.0%} ({m.gap_lo:.0%}-{m.gap_hi:.0%})", "yes" if v["beats_rules"] else "no", _paired(table, "logistic"), _paired(table, "trend_rule"),
            "/".join((w.get("learner") or {}).get("learner", name)[:3] for w in model.meta["windows"]),
        ])
    engine.dispose()
    return summary


def _chosen(c: dict | None) -> str:
    """"hgb (finds hgb 420, logistic 411 on 202311-202404)": the learner a window used and why."""
    if not c:
        return "fixed"
    if len(c["finds"]) == 1:
        return f"{c['learner']} (fixed)"
    if not c["blocks"]:
        return f"{c['learner']} (no block to choose on)"
    finds = ", ".join(f"{k} {v}" for k, v in c["finds"].items())
    return f"{c['learner']} (finds {finds} on {min(b[0] for b in c['blocks'])}-{max(b[-1] for b in c['blocks'])})"


def _paired(table, other: str) -> str:
    """Model minus ``other`` at 2%, all windows: the point and the 95% interval of the paired bootstrap."""
    from fanpin.model import backtest

    s = backtest.summary(table, 0.02)
    r = s.loc[other]
    return f"{s.loc['model', 'found'] - r.found:+.0f} ({r.diff_lo:+.0f} to {r.diff_hi:+.0f})"


def time_cli_train(horizon: int) -> None:
    """`fanpin train` on the default county, in a subprocess: wall and CPU seconds, load, the steps."""
    path, _ = cached_demo_db(20_000, 36, seed=DEMO_SEED)
    out = Path(tempfile.mkdtemp(prefix="fanpin-bench-model-"))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([*fanpin_cli(), "--db", f"sqlite:///{path}", "db", "upgrade"], env=env, capture_output=True, check=True)
    cmd = [*fanpin_cli(), "--db", f"sqlite:///{path}", "train", "--horizon", str(horizon), "--out", str(out), "--lang", "en"]
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"fanpin train failed: {' '.join(cmd)}")
    load_after = os.getloadavg()
    meta = json.loads((out / "risk_model.json").read_text(encoding="utf-8"))
    cpu = usage.ru_utime + usage.ru_stime
    rows = [[step, f"{s:.1f}"] for step, s in meta["seconds"].items()]
    print_table(["step (as the model records it)", "wall s"], rows, title=(
        f"\n`fanpin train` on the default county (20,000 x 36, seed {DEMO_SEED}), OpenMP/BLAS threads {meta['threads']}: "
        f"{wall:.0f} s wall, {cpu:.0f} s CPU, peak RSS {usage.ru_maxrss / 1024:.0f} MB (target <= 180 s); "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (2 cores)"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default=",".join(map(str, REPORTED_SEEDS)))
    ap.add_argument("--learners", default="blend", help="comma-separated: blend (as `fanpin train`), auto (chosen per window) or names from fanpin.model.train.LEARNERS")
    ap.add_argument("--horizon", type=int, default=6)
    ap.add_argument("--draws", type=int, default=200, help="bootstrap draws")
    ap.add_argument("--no-timing", action="store_true", help="skip timing `fanpin train` on the default county")
    args = ap.parse_args()
    os.environ.setdefault("FANPIN_CACHE_DIR", tempfile.mkdtemp(prefix="fanpin-bench-cache-"))
    print_environment()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    tuned = sorted(set(seeds) & set(TUNING_SEEDS))
    print(f"seeds {seeds}: " + (f"{tuned} were tuned on (the learner was chosen there)" if tuned else "none of them was tuned on"), flush=True)
    summary = []
    for seed in seeds:
        summary += backtest_county(seed, args.learners.split(","), args.horizon, args.draws)
    print_table(
        ["seed", "learner", "model (95%)", "income line", "trend rule", "logistic", "ceiling", "model x line", "ceiling x line", "gap closed (95%)", "beats trend+logistic", "model - logistic (95%)", "model - trend (95%)", "learner per window"],
        summary, title="\nat a monthly budget of 2%, all windows together (distinct households found)",
    )
    if not args.no_timing:
        time_cli_train(args.horizon)


if __name__ == "__main__":
    main()
