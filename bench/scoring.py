"""Re-scoring every household under a changed policy: fanpin's Scorer against the memory-bandwidth floor,
DuckDB SQL and a plain pandas implementation.

    .venv/bin/python bench/scoring.py                  # 100k and 1M households
    .venv/bin/python bench/scoring.py --sizes 100000   # 100k only

Data.  The 100k matrix is the last month of the 100k-household x 13-month demo
database (built once through the CLI and kept under /tmp/fanpin-bench/, as
bench/load.py does), turned into the 23-indicator float32 matrix by
``fanpin.indicators.indicator_matrix``.  The 1M matrix is that 100k matrix
tiled 10 times; copies 2-10 get multiplicative noise exp(N(0, 0.05)) on the
continuous indicators (yuan, ratios, months, income), while counts, flags and
grades are copied unchanged, so the marginal shapes (heavy tails, ties at the
bounds, 0/1 flags) stay those of the demo county.  Townships are tiled with
the rows.

Measured, each as the median of 15 runs after a warm-up, in ms and as a ratio to ``X64 @ w``:

- ``X64 @ w``: float64 matrix-vector product on a column-major float64 copy (the memory-bandwidth floor),
- full recompute: ``scorer.run(policy)`` with a new policy object each repeat that changes the income
  line, both cut-offs and the weights (re-clips the income column, recomputes the forced tiers),
- cold full recompute: as above and every indicator's bounds change too (every column re-clipped),
- weight-only: ``scorer.run(policy)`` where only the weights change,
- DuckDB: the same computation in SQL (LEAST/GREATEST clip, weighted sum, CASE tiers with the forced
  rules, GROUP BY township counts and mean score) on a native DuckDB table made from the same matrix;
  once returning the township aggregates only, once also returning every household's score and tier,
- pandas: per-column clip/normalise, weighted sum, np.select tiers, groupby, on float64 columns.

Extra memory is the tracemalloc peak of one call (numpy and pandas allocations; DuckDB's own memory is
invisible to tracemalloc, so its peak RSS increase is given instead) as a fraction of the float32
indicator matrix.  Tiers from the Scorer, DuckDB and pandas are compared household by household;
mismatches are counted and explained (distance of the exact float64 score from the cut-off).
Never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from _common import (
    cached_demo_db,
    fmt_bytes,
    interleaved_times,
    print_environment,
    print_table,
    traced_peak,
)

TARGET_FULL = 3.0  # full recompute <= 3x X@w, and faster than DuckDB
TARGET_WEIGHTS = 2.0  # weight-only <= 2x X@w
TARGET_MEMORY = 0.2  # extra memory per recompute <= 0.2x the matrix
CONTINUOUS_UNITS = {"yuan", "ratio", "x_line", "months"}


# --------------------------------------------------------------------------- data
def base_snapshot(rebuild: bool) -> pd.DataFrame:
    """The last month of the 100k x 13 demo database (Parquet cache in a temporary directory)."""
    from fanpin import store

    path, _ = cached_demo_db(100_000, 13, rebuild=rebuild)
    engine = store.make_engine(f"sqlite:///{path}")
    period = store.periods(engine)[-1]
    with tempfile.TemporaryDirectory(prefix="fanpin-bench-scoring-") as tmp:
        before = os.environ.get("FANPIN_CACHE_DIR")
        os.environ["FANPIN_CACHE_DIR"] = tmp  # use_cache=False writes nothing, but never touch data/cache
        try:
            frame = store.load_snapshot(engine, period, use_cache=False)
        finally:
            if before is None:
                os.environ.pop("FANPIN_CACHE_DIR", None)
            else:
                os.environ["FANPIN_CACHE_DIR"] = before
    engine.dispose()
    print(f"snapshot: {path.name}, month {period}, {len(frame):,} households", flush=True)
    return frame


def raw_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """(float32 column-major indicator matrix with NaN for gaps, township index, number of townships)."""
    from fanpin.core.indicators import indicator_matrix

    codes = frame["township_code"].to_numpy()
    names = np.array(sorted(set(codes)), dtype=object)
    return indicator_matrix(frame), np.searchsorted(names, codes), len(names)


def tiled(X: np.ndarray, township: np.ndarray, factor: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """``factor`` copies of the rows; continuous indicators of copies 2.. get exp(N(0, 0.05)) noise."""
    from fanpin.core.indicators import BY_KEY, KEYS

    rng = np.random.default_rng(seed)
    n, m = X.shape
    out = np.empty((n * factor, m), dtype=np.float32, order="F")
    for j, k in enumerate(KEYS):
        col = out[:, j]
        col.reshape(factor, n)[:] = X[:, j]
        if BY_KEY[k].unit in CONTINUOUS_UNITS:
            tail = col[n:]
            tail *= np.exp(rng.normal(0.0, 0.05, tail.shape)).astype(np.float32)
    return out, np.tile(township, factor)


# --------------------------------------------------------------------------- policies
def _normalised(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items()}


def policy_maker(kind: str):
    """i -> a new RiskPolicy for repeat i (negative i: warm-up); ``kind``: full, cold or weights."""
    from fanpin.core.indicators import BY_KEY
    from fanpin.engine.scoring import RiskPolicy

    base = RiskPolicy.default(income_line=7500.0).normalised()[0]
    keys = list(base.weights)

    def make(i: int):
        s = i + 10  # distinct for warm-up (negative i) and timed repeats
        weights = _normalised({k: base.weights[k] * (1.0 + 0.03 * ((s + j) % 7)) for j, k in enumerate(keys)})
        if kind == "weights":
            return replace(base, weights=weights)
        p = replace(base, weights=weights, income_line=7500.0 + 20.0 * s, cutoffs=(25.0 + 0.25 * (s % 8), 40.0 + 0.25 * (s % 8)))
        if kind == "cold":
            bounds = {}
            for k, ind in BY_KEY.items():
                lo, hi = base.bounds.get(k, ind.bounds)
                eps = (hi - lo) * 0.001 * s
                bounds[k] = (lo - eps, hi + eps)
            p = replace(p, bounds=bounds)
        return p

    return make


# --------------------------------------------------------------------------- DuckDB and pandas
def _lit(x: float) -> str:
    """A DOUBLE literal (a bare 0.16 would be a DECIMAL in DuckDB)."""
    return f"{float(x)!r}::DOUBLE"


def _force_conditions(policy, keys, missing: set[str]) -> dict[int, list[str]]:
    """Per forced tier code: SQL conditions (same side of the line as ``Indicator.hits``)."""
    from fanpin.core.indicators import BY_KEY, INCOME_KEY
    from fanpin.engine.scoring import TIER_CODE

    out: dict[int, list[str]] = {1: [], 2: []}
    for r in policy.forces:
        thr = r.threshold * policy.income_line if r.indicator == INCOME_KEY else r.threshold
        cond = f'"{r.indicator}" >= {_lit(thr)}' if BY_KEY[r.indicator].direction > 0 else f'"{r.indicator}" < {_lit(thr)}'
        if r.indicator in missing:
            cond = f'({cond} AND NOT "miss_{r.indicator}")'
        out[TIER_CODE[r.tier]].append(cond)
    return out


def duckdb_sql(policy, keys, missing: set[str], per_row: bool) -> str:
    from fanpin.core.indicators import BY_KEY

    w = policy.weight_vector(keys)
    terms = []
    for j, k in enumerate(keys):
        lo, hi = policy.bounds_of(k)
        c = f'LEAST(GREATEST("{k}", {_lit(lo)}), {_lit(hi)})'
        norm = f"({c} - {_lit(lo)})" if BY_KEY[k].direction > 0 else f"({_lit(hi)} - {c})"
        terms.append(f"{_lit(w[j])} * {norm} / {_lit(hi - lo)}")
    y, r = policy.cutoffs
    forced = _force_conditions(policy, keys, missing)
    force_sql = "CASE " + "".join(f"WHEN {' OR '.join(forced[t])} THEN {t} " for t in (2, 1) if forced[t]) + "ELSE 0 END"
    scored = (
        f"WITH s AS (SELECT rid, township, 100.0 * ({' + '.join(terms)}) AS score, {force_sql} AS forced FROM ind), "
        f"t AS (SELECT rid, township, score, GREATEST(CASE WHEN score >= {_lit(r)} THEN 2 WHEN score >= {_lit(y)} THEN 1 ELSE 0 END, forced) AS tier FROM s) "
    )
    if per_row:
        return scored + "SELECT rid, score, tier FROM t"
    return scored + (
        "SELECT township, count(*) FILTER (WHERE tier = 0) AS green, count(*) FILTER (WHERE tier = 1) AS yellow, "
        "count(*) FILTER (WHERE tier = 2) AS red, avg(score) AS mean_score FROM t GROUP BY township ORDER BY township"
    )


def pandas_run(df: pd.DataFrame, policy, keys, missing: set[str]):
    """The straightforward implementation: per-column clip and normalise, weighted sum, np.select, groupby."""
    from fanpin.core.indicators import BY_KEY, INCOME_KEY

    w = policy.weight_vector(keys)
    total = pd.Series(0.0, index=df.index)
    for j, k in enumerate(keys):
        lo, hi = policy.bounds_of(k)
        c = df[k].clip(lo, hi)
        norm = (c - lo) / (hi - lo) if BY_KEY[k].direction > 0 else (hi - c) / (hi - lo)
        total += w[j] * norm
    score = 100.0 * total
    y, r = policy.cutoffs
    tier = np.select([score >= r, score >= y], [2, 1], 0)
    red = np.zeros(len(df), dtype=bool)
    yellow = np.zeros(len(df), dtype=bool)
    for rule in policy.forces:
        thr = rule.threshold * policy.income_line if rule.indicator == INCOME_KEY else rule.threshold
        hit = df[rule.indicator] >= thr if BY_KEY[rule.indicator].direction > 0 else df[rule.indicator] < thr
        if rule.indicator in missing:
            hit &= ~df[f"miss_{rule.indicator}"]
        if rule.tier == "red":
            red |= hit.to_numpy()
        else:
            yellow |= hit.to_numpy()
    tier = np.maximum(tier, np.select([red, yellow], [2, 1], 0))
    out = pd.DataFrame({"township": df["township"], "tier": tier, "score": score})
    g = out.groupby("township")
    counts = g["tier"].value_counts().unstack(fill_value=0).reindex(columns=[0, 1, 2], fill_value=0)
    mean = g["score"].mean()
    return score.to_numpy(), tier, counts, mean


# --------------------------------------------------------------------------- one size
def bench_size(label: str, X_raw: np.ndarray, township: np.ndarray, n_townships: int, repeats: int) -> dict:
    import duckdb

    from fanpin.engine.scoring import Scorer

    print(f"\n== {label}: {X_raw.shape[0]:,} households x {X_raw.shape[1]} indicators", flush=True)
    # One Scorer per kind of change, so that the round-robin timing below keeps each one's caches
    # in the state its kind implies (a weight-only change after a cold one would re-clip everything).
    scorers = {kind: Scorer(X_raw.copy(order="F"), township, n_townships) for kind in ("full", "cold", "weights")}
    scorer = scorers["full"]
    X = scorer.X  # median-filled, float32, column-major
    keys = scorer.keys
    mat_bytes = X.nbytes
    missing = {keys[j] for j in scorer.missing}
    policies = {kind: {i: policy_maker(kind)(i) for i in range(-1, repeats + 2)} for kind in ("full", "cold", "weights")}
    full_policies = policies["full"]

    # ---- the floor: float64 X @ w on a column-major float64 copy; and the float32 product alone
    X64 = np.asfortranarray(X, dtype=np.float64)
    w64 = default_weights(keys)
    a32 = np.ascontiguousarray(w64, dtype=np.float32)
    out32 = np.empty(X.shape[0], dtype=np.float32)

    # ---- DuckDB: a native table made from the same matrix
    cols = {k: X[:, j] for j, k in enumerate(keys)}
    for k in missing:
        cols[f"miss_{k}"] = scorer.missing[keys.index(k)]
    cols["township"] = scorer.township.astype(np.int32)
    cols["rid"] = np.arange(X.shape[0], dtype=np.int32)
    frame32 = pd.DataFrame(cols, copy=False)
    con = duckdb.connect()
    con.register("frame32", frame32)
    con.execute("CREATE TABLE ind AS SELECT * FROM frame32")
    con.unregister("frame32")
    del frame32
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]

    # ---- pandas: float64 columns (what a snapshot frame holds)
    df64 = pd.DataFrame({k: X[:, j].astype(np.float64) for j, k in enumerate(keys)})
    for k in missing:
        df64[f"miss_{k}"] = scorer.missing[keys.index(k)]
    df64["township"] = scorer.township

    FLOOR = "X64 @ w (float64, column-major)"
    methods = {
        FLOOR: lambda i: X64 @ w64,
        "X32 @ a (float32 product only, into a buffer)": lambda i: np.dot(X, a32, out=out32),
        "scorer.run: full recompute": lambda i: scorers["full"].run(policies["full"][i]),
        "scorer.run: cold (all bounds change)": lambda i: scorers["cold"].run(policies["cold"][i]),
        "scorer.run: weight-only change": lambda i: scorers["weights"].run(policies["weights"][i]),
        "DuckDB SQL: township aggregates": lambda i: con.execute(duckdb_sql(full_policies[i], keys, missing, False)).fetchall(),
        "DuckDB SQL: + every household's score, tier": lambda i: con.execute(duckdb_sql(full_policies[i], keys, missing, True)).fetchnumpy(),
        "pandas: clip/normalise, sum, np.select, groupby": lambda i: pandas_run(df64, full_policies[i], keys, missing),
    }
    results = interleaved_times(methods, repeats)
    floor = results[FLOOR]["median"]
    X64 = None  # frees the float64 copy (the lambdas above are not called again)

    # ---- extra memory of one call (tracemalloc; not timed)
    memory: dict[str, tuple[int | None, int | None]] = {}
    for kind, name in (("full", "scorer.run: full recompute"), ("cold", "scorer.run: cold (all bounds change)"), ("weights", "scorer.run: weight-only change")):
        with traced_peak() as tm:
            scorers[kind].run(policies[kind][repeats])
        memory[name] = (tm["bytes"], None)
    # DuckDB's memory is native (tracemalloc cannot see it) and its buffer pool stays allocated after
    # the warm-up, so a per-query figure would be meaningless here: reported as n/a.
    with traced_peak() as tm:
        pandas_run(df64, full_policies[repeats], keys, missing)
    memory["pandas: clip/normalise, sum, np.select, groupby"] = (tm["bytes"], None)

    # ---- agreement of tiers, counts and means
    checks = []
    from fanpin.engine.scoring import RiskPolicy

    default = RiskPolicy.default(income_line=7500.0).normalised()[0]
    for pname, p in (("default policy", default), ("a full-recompute policy", full_policies[repeats]), ("a cold policy", policy_maker("cold")(repeats))):
        res = scorer.run(p)
        tier_s = res.tier.astype(np.int64)
        counts_s = res.township_counts
        mean_s = res.township_mean
        got = con.execute(duckdb_sql(p, keys, missing, True)).fetchnumpy()
        tier_d = np.empty(X.shape[0], dtype=np.int64)
        tier_d[got["rid"]] = got["tier"]
        agg = con.execute(duckdb_sql(p, keys, missing, False)).fetchnumpy()
        counts_d = np.zeros_like(counts_s)
        counts_d[agg["township"]] = np.column_stack([agg["green"], agg["yellow"], agg["red"]])
        mean_d = np.full(n_townships, np.nan)
        mean_d[agg["township"]] = agg["mean_score"]
        _, tier_p, counts_p, mean_p = pandas_run(df64, p, keys, missing)
        for other, tier_o, counts_o, mean_o in (("DuckDB", tier_d, counts_d, mean_d), ("pandas", tier_p, counts_p.reindex(range(n_townships), fill_value=0).to_numpy(), mean_p.reindex(range(n_townships)).to_numpy())):
            bad = np.flatnonzero(tier_s != tier_o)
            note = ""
            if len(bad):
                exact = scorer.score64(p, bad)
                dist = np.min(np.abs(exact[:, None] - np.array(p.cutoffs)[None, :]), axis=1)
                note = f"max |exact score - cut-off| among them {dist.max():.1e}"
            checks.append([pname, f"Scorer vs {other}", len(bad), int(np.abs(counts_s - counts_o).sum()), f"{np.nanmax(np.abs(mean_s - mean_o)):.1e}", note])
    con.close()

    # ---- tables
    rows = []
    full = results["scorer.run: full recompute"]["median"]
    duck = results["DuckDB SQL: township aggregates"]["median"]
    targets = {
        "scorer.run: full recompute": f"<= {TARGET_FULL:g}x: " + ("met" if full <= TARGET_FULL * floor else "MISSED") + "; < DuckDB: " + ("met" if full < duck else "MISSED"),
        "scorer.run: cold (all bounds change)": f"(no target; < DuckDB: {'yes' if results['scorer.run: cold (all bounds change)']['median'] < duck else 'no'})",
        "scorer.run: weight-only change": f"<= {TARGET_WEIGHTS:g}x: " + ("met" if results["scorer.run: weight-only change"]["median"] <= TARGET_WEIGHTS * floor else "MISSED"),
    }
    for name, t in results.items():
        tm_b, rss_b = memory.get(name, (None, None))
        mem = []
        if tm_b is not None:
            mem.append(f"{tm_b / mat_bytes:.3f}x ({fmt_bytes(tm_b)})")
        if rss_b is not None:
            mem.append(f"{rss_b / mat_bytes:.3f}x ({fmt_bytes(rss_b)}) RSS")
        if name.startswith("DuckDB"):
            mem.append("n/a (native)")
        target = targets.get(name, "")
        if name.startswith("scorer.run") and tm_b is not None:
            target += f"; mem <= {TARGET_MEMORY:g}x: " + ("met" if tm_b <= TARGET_MEMORY * mat_bytes else "MISSED")
        rows.append([name, f"{t['median'] * 1e3:.2f}", f"{t['min'] * 1e3:.2f}", f"{t['median'] / floor:.2f}x", f"{t['min'] / results[FLOOR]['min']:.2f}x", "; ".join(mem), target])
    print_table(
        ["method", "median ms", "min ms", "vs X64@w", "(mins)", "extra mem / matrix", "target (on the median ratio)"],
        rows,
        title=f"{label}: median of {repeats} rounds after a warm-up round, methods interleaved; matrix {fmt_bytes(mat_bytes)} float32; DuckDB threads={threads}",
    )
    persistent = sum(v.nbytes for v in vars(scorer).values() if isinstance(v, np.ndarray) and v is not X) + sum(m.nbytes for m in scorer.missing.values())
    print(f"(the Scorer also keeps {fmt_bytes(persistent)} of buffers between runs = {persistent / mat_bytes:.2f}x the matrix; not counted above)")
    print_table(["policy", "comparison", "tier mismatches", "|count diff|", "max |mean diff|", "note"], checks, title=f"{label}: agreement")
    return results


def default_weights(keys) -> np.ndarray:
    from fanpin.engine.scoring import RiskPolicy

    return RiskPolicy.default().normalised()[0].weight_vector(keys).astype(np.float64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated household counts: 100000 (the demo snapshot) and/or multiples of it (tiled)")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached 100k benchmark database")
    args = ap.parse_args(argv)

    print("# bench/scoring.py")
    print_environment()
    frame = base_snapshot(args.rebuild)
    X0, town0, n_t = raw_matrix(frame)
    del frame
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        factor, rest = divmod(size, len(X0))
        if size == len(X0):
            label = f"{size // 1000}k (demo snapshot)"
            Xs, ts = X0.copy(order="F"), town0
        elif rest == 0 and factor > 1:
            label = f"{size // 1000}k (demo snapshot tiled {factor}x with noise)"
            Xs, ts = tiled(X0, town0, factor)
        else:
            print(f"skipping {size}: not a multiple of the snapshot's {len(X0):,} households")
            continue
        bench_size(label, Xs, ts, n_t, args.repeats)
        del Xs
    return 0


if __name__ == "__main__":
    sys.exit(main())
