"""Shared helpers for the benchmarks: timing, tables, environment report, cached demo databases.

Nothing here asserts on time: the benchmarks report medians and ratios measured
in one run, because these 2-core machines are noisy.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` from anywhere finds the package
    sys.path.insert(0, str(ROOT))

#: Where built benchmark databases are kept between runs (keyed by size and seed).
BENCH_DIR = Path(os.environ.get("FANPIN_BENCH_DIR") or "/tmp/fanpin-bench")
DEMO_SEED = 20231  # the CLI's default seed

ENV_PREFIXES = ("OPENBLAS", "OMP_", "MKL_", "BLIS_", "GOTO", "NUMEXPR", "VECLIB", "DUCKDB", "FANPIN", "PYTHONHASHSEED")


# --------------------------------------------------------------------------- timing
def median_time(fn: Callable[[int], object], repeats: int = 15, warmup: int = 1) -> dict[str, float]:
    """Run ``fn(i)`` ``warmup`` times untimed, then ``repeats`` times; seconds (median, min, max)."""
    for i in range(warmup):
        fn(-1 - i)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": repeats}


def interleaved_times(fns: dict[str, Callable[[int], object]], repeats: int = 15, warmup: int = 1) -> dict[str, dict[str, float]]:
    """Time several methods round-robin: round i runs every ``fn(i)`` once, in order.

    On a shared, noisy machine a burst of load then hits every method of the
    same round instead of all repeats of one method, so ratios between methods
    measured in one run stay meaningful.  Returns per method the median, min and
    max seconds and the per-round times (``times``).
    """
    for w in range(warmup):
        for fn in fns.values():
            fn(-1 - w)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn(i)
            times[k].append(time.perf_counter() - t0)
    return {
        k: {"median": statistics.median(t), "min": min(t), "max": max(t), "n": repeats, "times": t}
        for k, t in times.items()
    }


# --------------------------------------------------------------------------- memory
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@contextmanager
def peak_rss_delta():
    """Yields a dict; afterwards ``d['bytes']`` is the peak RSS above the RSS at entry (None if unknown)."""
    out: dict[str, int | None] = {"bytes": None}
    ok = reset_peak_rss()
    start = _status_kb("VmRSS")
    try:
        yield out
    finally:
        peak = _status_kb("VmHWM")
        if ok and start is not None and peak is not None:
            out["bytes"] = max(peak - start, 0) * 1024


@contextmanager
def traced_peak():
    """Yields a dict; afterwards ``d['bytes']`` is the tracemalloc peak (Python + numpy allocations)."""
    import tracemalloc

    out: dict[str, int | None] = {"bytes": None}
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield out
    finally:
        out["bytes"] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


# --------------------------------------------------------------------------- tables
def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None) -> str:
    """Print a plain-text table (first column left-aligned, the rest right-aligned); returns the text."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip()

    out = []
    if title:
        out.append(title)
    out.append(line(cells[0]))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in cells[1:])
    text = "\n".join(out)
    print(text, flush=True)
    return text


# --------------------------------------------------------------------------- environment
def environment_report() -> list[str]:
    """What this run measured on: machine, versions, BLAS and threading, relevant env vars (unchanged)."""
    import numpy as np

    lines = [
        f"python {platform.python_version()}  numpy {np.__version__}  machine {platform.machine()}  cpus {os.cpu_count()}",
    ]
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), None)
        if model:
            lines.append(f"cpu: {model}")
    except OSError:
        pass
    try:
        load = os.getloadavg()
        lines.append(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (other processes on the machine add noise)")
    except OSError:
        pass
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
    lines.append("env: " + (", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "(no BLAS/threading variables set)"))
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            lines.append(
                "threadpool: {user_api}/{internal_api} {version} threads={num_threads} arch={arch} ({lib})".format(
                    user_api=info.get("user_api"),
                    internal_api=info.get("internal_api"),
                    version=info.get("version"),
                    num_threads=info.get("num_threads"),
                    arch=info.get("architecture", "?"),
                    lib=Path(info.get("filepath", "")).name,
                )
            )
    except ImportError:
        try:
            cfg = np.show_config(mode="dicts")  # numpy >= 1.25
            blas = cfg.get("Build Dependencies", {}).get("blas", {})
            simd = cfg.get("SIMD Extensions", {})
            lines.append(f"blas (numpy.show_config): {blas.get('name')} {blas.get('version')}; simd baseline {simd.get('baseline')}")
        except Exception as exc:  # noqa: BLE001 - informational only
            lines.append(f"blas: unknown ({exc})")
    return lines


def print_environment() -> None:
    print("\n".join(environment_report()), flush=True)


# --------------------------------------------------------------------------- building databases
def run_measured(cmd: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None) -> dict[str, float | int]:
    """Run a subprocess; its wall time, exit code and peak RSS (``os.wait4`` rusage of that child only)."""
    out = open(log, "w") if log else subprocess.DEVNULL
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log:
            out.close()
    # Linux reports ru_maxrss in kilobytes.
    return {"seconds": seconds, "returncode": proc.returncode, "peak_rss": usage.ru_maxrss * 1024}


def fanpin_cli() -> list[str]:
    return [sys.executable, "-m", "fanpin.cli"]


def _cli_supports(flag: str, env: dict[str, str]) -> bool:
    r = subprocess.run([*fanpin_cli(), "demo", "--help"], env=env, capture_output=True, text=True)
    return flag in r.stdout


def build_demo_db(path: Path, households: int, months: int, seed: int = DEMO_SEED, log: Path | None = None, *, warm_cache: bool = False) -> dict:
    """Build a demo county into SQLite at ``path`` through the CLI subprocess; build time and peak RSS.

    With ``warm_cache=False`` the CLI is asked (``--no-cache``, where it has the
    flag) not to pre-load the Parquet snapshot cache after building, so the
    figures are the database build alone and the load benchmark starts cold.
    ``cli_build_seconds`` / ``cli_warm_seconds`` are the CLI's own figures
    parsed from its output (None where it printed none).
    """
    import re

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [*fanpin_cli(), "--db", f"sqlite:///{path}", "demo", "--households", str(households), "--months", str(months), "--seed", str(seed)]
    if not warm_cache and _cli_supports("--no-cache", env):
        cmd.append("--no-cache")
    log = log or path.with_name(path.name + ".log")
    load_before = os.getloadavg()[0]
    r = run_measured(cmd, env=env, log=log)
    text = log.read_text(errors="replace") if log.exists() else ""
    if r["returncode"] != 0:
        raise RuntimeError(f"demo build failed ({r['returncode']}): {' '.join(cmd)}\n{text[-2000:]}")
    built = re.search(r"demo county built in ([0-9.]+)s", text)
    warmed = re.search(r"cache warmed for \d+ months in ([0-9.]+)s", text)
    return {
        "households": households,
        "months": months,
        "seed": seed,
        "command": " ".join(cmd[cmd.index("demo"):]),
        "build_seconds": r["seconds"],
        "build_peak_rss": r["peak_rss"],
        "cli_build_seconds": float(built.group(1)) if built else None,
        "cli_warm_seconds": float(warmed.group(1)) if warmed else None,
        "load_average": max(load_before, os.getloadavg()[0]),  # 1-minute load before/after: other work on the machine
    }


def _demo_fingerprint() -> tuple[str, str]:
    """(schema head revision, short hash of the demo generator) of the package being benchmarked."""
    import hashlib

    from fanpin.store import head_revision

    h = hashlib.sha1()
    for f in sorted((ROOT / "fanpin" / "demo").glob("*.py")):
        h.update(f.read_bytes())
    return str(head_revision()), h.hexdigest()[:10]


def cached_demo_db(households: int, months: int, *, seed: int = DEMO_SEED, rebuild: bool = False, say: Callable[[str], None] = print) -> tuple[Path, dict]:
    """The benchmark database of that size under BENCH_DIR, built once; (path, build info).

    Keyed by size, seed and the schema's head revision (a new migration means a
    new database).  A finished build writes ``<db>.json`` (build time, peak RSS,
    the demo generator's hash); a database without it (an interrupted build) is
    rebuilt.  ``info['reused']`` says whether it came from an earlier run and
    ``info['stale']`` whether the demo generator changed since (``--rebuild`` refreshes it).
    """
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    revision, demo_hash = _demo_fingerprint()
    path = BENCH_DIR / f"demo_h{households}_m{months}_s{seed}_r{revision}.db"
    meta = path.with_name(path.name + ".json")
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two benchmarks started together build once
        if not rebuild and path.exists() and meta.exists():
            info = json.loads(meta.read_text())
            info["reused"] = True
            info["stale"] = info.get("demo_hash") != demo_hash
            if info["stale"]:
                say(f"note: {path.name} was built by an older fanpin/demo/; pass --rebuild to refresh it")
            return path, info
        meta.unlink(missing_ok=True)
        say(f"building demo database {households:,} households x {months} months -> {path} ...")
        info = build_demo_db(path, households, months, seed, log=path.with_name(path.name + ".log"))
        info["demo_hash"] = demo_hash
        meta.write_text(json.dumps(info))
        info["reused"] = False
        info["stale"] = False
        say(f"  built in {info['build_seconds']:.1f}s, peak RSS {fmt_bytes(info['build_peak_rss'])}")
        return path, info


def ratio(x: float, base: float) -> str:
    return f"{x / base:.2f}x" if base > 0 else "n/a"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def rusage_self_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
