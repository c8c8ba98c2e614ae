"""The risk model: training on the default demo, scoring 100k households.

    .venv/bin/python bench/predict.py                       # data/fanpin.db (20k x 36) and the 100k x 13 bench county
    .venv/bin/python bench/predict.py --db sqlite:///x.db   # train on another database

Targets: training on the default demo (the backtest on its held-out windows and the final
fit, as `fanpin train` runs it) in at most 3 minutes (issue 16; was 2 minutes without the
backtest, issue 4); scoring 100k households in at most 2 s.  Training is timed once, step by
step (the model's own progress callback); ``bench/model_backtest.py`` times the CLI itself.  Scoring is timed on the 100k x 13 county under
/tmp/fanpin-bench/ (read only: it is never rebuilt here), with a model trained on
the default demo, as medians of repeated runs of:

- load: the 7 months the features read (``fanpin.model.features.load_panel``), Parquet cache warm,
- score: features + gradient-boosting probability + logistic main factors
  (``fanpin.model.suggest.score_month``) for every household,

The model and the snapshot caches go to temporary directories.  Never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, interleaved_times, print_environment, print_table

ROOT = Path(__file__).resolve().parents[1]
BENCH_100K = BENCH_DIR / "demo_h100000_m13_s20231_r0002.db"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=f"sqlite:///{ROOT / 'data' / 'fanpin.db'}")
    ap.add_argument("--score-db", default=f"sqlite:///{BENCH_100K}")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--horizon", type=int, default=6)
    args = ap.parse_args()
    os.environ["FANPIN_CACHE_DIR"] = tempfile.mkdtemp(prefix="fanpin-bench-cache-")
    os.environ["FANPIN_MODEL_DIR"] = tempfile.mkdtemp(prefix="fanpin-bench-model-")
    print_environment()

    from fanpin import store
    from fanpin.access.roles import SYSTEM
    from fanpin.model import backtest, features, suggest, train

    engine = store.make_engine(args.db)
    steps: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    model = train.train(engine, args.horizon, principal=SYSTEM, progress=lambda m, f: steps.append((m, time.perf_counter() - t0)))
    total = time.perf_counter() - t0
    rows = [(m, f"{t:.1f}", f"{(steps[i + 1][1] if i + 1 < len(steps) else total) - t:.1f}") for i, (m, t) in enumerate(steps)]
    print_table(["step", "started at (s)", "took (s)"], rows, title=f"training on {args.db}: {total:.1f} s (target <= 180 s)")
    meta = model.meta
    print(backtest.text_report(model.backtest, meta["windows"], meta["horizon"], meta["draws"], "en"))
    rows = []
    for m in backtest.METHODS:
        r = meta["metrics"][m]
        rows.append([m, f"{r['roc_auc']:.3f}", f"{r['pr_auc']:.3f}", f"{r['brier']:.4f}" if "brier" in r else "-"])
    print_table(["method", "ROC AUC", "PR AUC", "Brier"], rows, title=f"held-out household-months ({meta['rows_eval']:,})")

    score_engine = store.make_engine(args.score_db)
    period = store.periods(score_engine)[-1]
    months = [p for p in suggest.months_needed(period) if p in set(store.periods(score_engine))]
    features.load_panel(score_engine, months)  # warm the Parquet cache (untimed)
    holder: dict = {}

    def load(_: int) -> None:
        holder["data"] = features.load_panel(score_engine, months)

    load(0)

    def score(_: int) -> None:
        holder["scores"] = suggest.score_month(model, holder["data"], period)

    times = interleaved_times({"load (7 months, warm)": load, "score (features + model + factors)": score}, repeats=args.repeats)
    n = len(holder["scores"])
    rows = [[name, f"{t['median']:.3f}", f"{t['min']:.3f}"] for name, t in times.items()]
    print_table(["step", "median (s)", "min (s)"], rows, title=f"scoring {n:,} households for {period} (target <= 2 s)")


if __name__ == "__main__":
    main()
