"""Dask as the engine past one machine: a task scheduler over the analytic store's files.

One task per county-month reads its Parquet file and runs fanpin's own numpy code
(``indicator_matrix`` through ``Scorer.from_frame``, ``Scorer.run``, the panel counts of
``fanpin.engine.partials``); tasks return partial aggregates that add up, never a
province's rows.  Dask's dataframe layer is not used for scoring (it cost 2-3x the CPU
and memory for the same work here); the one place it serves is the cross-county join
(the same person in two counties), which is a shuffle by the person's keyed hash.

``ProvinceEngine`` runs the same task functions either on a Dask client
(``engine_client``: ``FANPIN_DASK_SCHEDULER=tcp://host:8786`` for a real cluster, else a
``LocalCluster`` sized to the machine) or in this process one after another (no client:
the single-machine path), so both give the same numbers by construction, and both give a
county the numbers ``score_panel`` gives it (tests/engine/test_distributed.py).

Workers keep the latest scorers they built (``FANPIN_ENGINE_CACHE_MB``, default an eighth of
the machine's memory, at least 512 MB, per process), keyed by the partition's content digest,
with the baseline's tiers beside each, so a scenario change runs one product per county on
resident matrices instead of re-reading the files and scoring the baseline again (``warm``
makes a month resident ahead of the first change); a county is pinned to one worker (with
``allow_other_workers``, so a lost worker's counties move on).
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.engine.income_line import IncomeLine
from fanpin.engine.partials import (
    RISING_MONTHS,
    Aggregates,
    MonthFigures,
    ScenarioAggregates,
    ScenarioFigures,
    Scored,
    month_figures,
    newly_red_mask,
    rising_mask,
)
from fanpin.engine.scoring import TIERS, RiskPolicy, Scorer
from fanpin.store import io as sio
from fanpin.store.snapshot import Manifest, SnapshotStore

SCHEDULER_ENV = "FANPIN_DASK_SCHEDULER"
CACHE_ENV = "FANPIN_ENGINE_CACHE_MB"


# --------------------------------------------------------------------------- the cluster
def local_cluster_size() -> tuple[int, int]:
    """(workers, memory limit per worker in bytes): one single-threaded worker per core, 3/4 of RAM shared."""
    cores = max(1, os.cpu_count() or 1)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return cores, int(total * 0.75 / cores)


@contextlib.contextmanager
def engine_client(address: str | None = None, *, n_workers: int | None = None, memory_limit: int | str | None = None) -> Iterator[object]:
    """A Dask client: the scheduler at ``address`` / ``FANPIN_DASK_SCHEDULER``, else a LocalCluster (no dashboard)."""
    from distributed import Client, LocalCluster

    address = address or os.environ.get(SCHEDULER_ENV)
    if address:
        client = Client(address, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    workers, limit = local_cluster_size()
    cluster = LocalCluster(n_workers=n_workers or workers, threads_per_worker=1, memory_limit=memory_limit or limit,
                           processes=True, dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@dataclass(frozen=True)
class WorkerMemory:
    """A process's resident memory now and its peak (bytes)."""

    name: str
    rss: int
    peak: int


def _status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _memory() -> tuple[int, int]:
    """(resident now, peak resident): the peak since the last ``_reset_peak`` (VmHWM), else since start."""
    import psutil

    rss = int(psutil.Process().memory_info().rss)
    peak = _status_bytes("VmHWM") or int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    return rss, max(peak, rss)


def _reset_peak() -> bool:
    """Reset this process's peak resident memory (VmHWM) to its current one (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def reset_peak_memory(client: object | None) -> None:
    """Start measuring peaks afresh: on every worker (or in this process, without a client)."""
    if client is None:
        _reset_peak()
    else:
        client.run(_reset_peak)  # type: ignore[attr-defined]


def worker_memory(client: object | None) -> list[WorkerMemory]:
    """Per worker (or this process, without a client): resident and peak memory (since ``reset_peak_memory``)."""
    if client is None:
        rss, peak = _memory()
        return [WorkerMemory("local", rss, peak)]
    got = client.run(_memory)  # type: ignore[attr-defined]
    return [WorkerMemory(addr, rss, peak) for addr, (rss, peak) in sorted(got.items())]


def month_policy(policy: RiskPolicy, lines: dict[int, float], period: int) -> RiskPolicy:
    """``policy`` normalised, with the line that holds for ``period`` under the yearly ``lines``."""
    policy, _ = policy.normalised()
    return IncomeLine.of(policy, lines).apply(policy, int(period))


# --------------------------------------------------------------------------- worker-side scorers
@dataclass
class Resident:
    """A county-month kept in a process for repeated scenarios: its scorer, incomes, and the
    baseline's tiers per baseline (a scenario then costs one product and counting, not two)."""

    scorer: Scorer
    income: np.ndarray
    lock: threading.Lock
    base_tiers: OrderedDict[str, np.ndarray]

    @property
    def nbytes(self) -> int:
        s = self.scorer
        return int(s.X.nbytes * 2 + s.n * 16 + self.income.nbytes + sum(t.nbytes for t in self.base_tiers.values()))

    def base_tier(self, policy: RiskPolicy) -> np.ndarray:
        """The baseline's tiers (computed once per baseline; at most two baselines kept); call under ``lock``."""
        key = policy.to_json()
        hit = self.base_tiers.get(key)
        if hit is None:
            hit = self.scorer.run(policy, normalise=False).tier.copy()
            self.base_tiers[key] = hit
            while len(self.base_tiers) > 2:
                self.base_tiers.popitem(last=False)
        return hit


_CACHE: OrderedDict[tuple[str, int, str, str], Resident] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _budget() -> int:
    """Bytes of resident county-months per process: ``FANPIN_ENGINE_CACHE_MB``, else an eighth of the
    machine's memory (at least 512 MB): a month of 5M households takes about 1 GB."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return int(float(env) * 2**20)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(512 * 2**20, total // 8)


_BUILDING: dict[tuple[str, int, str, str], threading.Lock] = {}


def _scorer(root: str, period: int, county: str, digest: str, keep: bool) -> Resident:
    """The county-month's scorer (and incomes), from this process's cache or built from its file
    (one builder per county-month at a time: a scenario asked while ``warm`` runs waits for it)."""
    key = (root, int(period), county, digest)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        building = _BUILDING.setdefault(key, threading.Lock()) if keep else None
    if building is None:
        return _build(root, period, county)
    with building:
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is None:
            hit = _build(root, period, county)
            with _CACHE_LOCK:
                _CACHE[key] = hit
                while len(_CACHE) > 1 and sum(e.nbytes for e in _CACHE.values()) > _budget():
                    _CACHE.popitem(last=False)
    with _CACHE_LOCK:
        _BUILDING.pop(key, None)
    return hit


def _build(root: str, period: int, county: str) -> Resident:
    frame = SnapshotStore(root).read_month(period, county)
    return Resident(Scorer.from_frame(frame), frame["income_pc"].to_numpy(dtype=np.float64), threading.Lock(), OrderedDict())


def resident_bytes() -> int:
    """What this process keeps of county-months (for the bench and the memory figures)."""
    with _CACHE_LOCK:
        return sum(e.nbytes for e in _CACHE.values())


_CONTROLLER: list[object] = []


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread while a task scores: Dask's workers run so (their nanny sets it), and a
    float32 product split over two threads rounds one household in about 50k differently, so the
    in-process path runs so too and both give the same bits (tiers agree either way: the Scorer
    decides scores near a cut-off in float64)."""
    from threadpoolctl import ThreadpoolController

    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    with _CONTROLLER[0].limit(limits=1, user_api="blas"):  # type: ignore[attr-defined]
        yield


def score_task(root: str, period: int, county: str, digest: str, policy: RiskPolicy, keep: bool = False) -> Scored:
    """Score one county-month with the one Scorer (``policy`` already carries the month's line)."""
    r = _scorer(root, period, county, digest, keep)
    with r.lock, one_blas_thread():
        res = r.scorer.run(policy, normalise=False)
        return Scored.of(period, county, res, r.income, policy.income_line)


def panel_task(now: Scored, line: float, *history: Scored | None) -> MonthFigures:
    """The month's township sums with the panel counts (``history``: previous months, nearest first)."""
    return month_figures(now, list(history), line)


def scenario_task(root: str, period: int, county: str, digest: str, base: RiskPolicy, scen: RiskPolicy, keep: bool = True) -> ScenarioFigures:
    """Baseline and scenario on one county-month's resident scorer: counts and the transition.
    The baseline's tiers are kept with the scorer, so a scenario change runs the scenario only."""
    r = _scorer(root, period, county, digest, keep)
    with r.lock, one_blas_thread():
        b = r.base_tier(base)
        s = r.scorer.run(scen, normalise=False).tier
        return ScenarioFigures.of(period, county, r.scorer.township_codes, r.scorer.township, b, s)


def warm_task(root: str, period: int, county: str, digest: str, base: RiskPolicy) -> int:
    """Make a county-month resident (and its baseline's tiers), so the first scenario change is fast."""
    r = _scorer(root, period, county, digest, True)
    with r.lock, one_blas_thread():
        r.base_tier(base)
    return r.scorer.n


def rows_task(root: str, period: int, county: str, digest: str, policy: RiskPolicy, township: str | None, *history: Scored | None) -> pd.DataFrame:
    """One county's (or township's) households: score, tier, forced, top reasons, newly red, rising."""
    from fanpin.engine.scoring import score

    frame = SnapshotStore(root).read_month(period, county)
    with one_blas_thread():
        out = score(frame, policy)
    r = _scorer(root, period, county, digest, False)
    with r.lock, one_blas_thread():
        now = Scored.of(period, county, r.scorer.run(policy, normalise=False), r.income, policy.income_line)
    out["newly_red"] = newly_red_mask(now, history[0] if history else None)
    out["rising"] = rising_mask(now, list(history))
    if township is not None:
        out = out[out["township_code"].astype(str) == township].reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- the engine
Progress = Callable[[int, int], None]


class ProvinceEngine:
    """Scores, trends, scenarios and drill-down rows over an analytic store, on Dask or in-process."""

    def __init__(self, store: SnapshotStore, client: object | None = None) -> None:
        self.store = store
        self.client = client
        self.manifest: Manifest = store.manifest()
        self._workers: list[str] = []

    # ------------------------------------------------------------------ helpers
    @property
    def counties(self) -> list[str]:
        return self.manifest.counties

    @property
    def periods(self) -> list[int]:
        return self.manifest.periods

    def policy_for(self, policy: RiskPolicy, period: int) -> RiskPolicy:
        """``policy`` normalised, with the line that holds for ``period`` (the store's yearly lines)."""
        return month_policy(policy, self.manifest.income_lines, period)

    def _digest(self, period: int, county: str) -> str:
        info = self.manifest.partitions.get((int(period), county))
        if info is None:
            raise KeyError(f"no partition for {county} in {period}")
        return info.digest

    def _submit(self, fn: Callable, *args: object, county: str) -> object:
        """Run now (in-process) or submit pinned to the county's worker (others allowed)."""
        if self.client is None:
            return fn(*args)
        if not self._workers:
            self._workers = sorted(self.client.scheduler_info()["workers"])  # type: ignore[attr-defined]
        w = self._workers[self.counties.index(county) % len(self._workers)] if self._workers else None
        return self.client.submit(fn, *args, pure=False, workers=[w] if w else None, allow_other_workers=True)  # type: ignore[attr-defined]

    def _gather(self, handles: list, progress: Progress | None) -> list:
        if self.client is None:
            return handles
        from distributed import as_completed

        out = []
        for k, fut in enumerate(as_completed(handles), start=1):
            out.append(fut.result())
            if progress:
                progress(k, len(handles))
        return out

    # ------------------------------------------------------------------ questions
    def figures(self, policy: RiskPolicy, periods: Sequence[int] | None = None, *, counties: Sequence[str] | None = None,
                progress: Progress | None = None) -> list[MonthFigures]:
        """Each county-month's township sums (tiers, score sums, below line, newly red, rising) for ``periods``."""
        wanted = sorted(int(p) for p in (periods if periods is not None else self.periods))
        have = set(self.periods)
        handles = []
        for county in counties or self.counties:
            scored: dict[int, object] = {}
            for p in wanted:
                need = [sio.shift_period(p, -k) for k in range(RISING_MONTHS, -1, -1)]
                for q in need:
                    if q in have and q not in scored:
                        scored[q] = self._submit(score_task, str(self.store.root), q, county, self._digest(q, county), self.policy_for(policy, q), county=county)
                hist = [scored.get(q) for q in reversed(need[:-1])]
                handles.append(self._submit(panel_task, scored[p], self.policy_for(policy, p).income_line, *hist, county=county))
                # keep only what later months still need: in-process the scored months themselves, on Dask
                # the futures (a dropped future's result stays on its worker until its panel tasks are done,
                # and is recomputed if a worker is lost), so no worker holds a county's whole panel
                for q in [q for q in scored if q < sio.shift_period(p, -RISING_MONTHS + 1)]:
                    del scored[q]
        return self._gather(handles, progress)

    def trends(self, policy: RiskPolicy, periods: Sequence[int] | None = None, *, counties: Sequence[str] | None = None,
               progress: Progress | None = None) -> Aggregates:
        """Township x month sums (tiers, score sums, below line, newly red, rising) for ``periods``."""
        return Aggregates.of(self.figures(policy, periods, counties=counties, progress=progress))

    def month(self, policy: RiskPolicy, period: int, progress: Progress | None = None) -> Aggregates:
        """One month's sums (with its newly red and rising: the three months before are scored too)."""
        return self.trends(policy, [period], progress=progress)

    def scenario(self, period: int, base: RiskPolicy, scen: RiskPolicy, progress: Progress | None = None, *,
                 counties: Sequence[str] | None = None) -> ScenarioAggregates:
        """A policy against the baseline for every county of the month (or ``counties``): counts and transitions."""
        b, s = self.policy_for(base, period), self.policy_for(scen, period)
        root = str(self.store.root)
        wanted = self.counties if counties is None else [c for c in self.counties if c in set(counties)]
        handles = [self._submit(scenario_task, root, period, c, self._digest(period, c), b, s, county=c) for c in wanted if (period, c) in self.manifest.partitions]
        return ScenarioAggregates.of(self._gather(handles, progress))

    def warm(self, period: int, base: RiskPolicy, *, counties: Sequence[str] | None = None, wait: bool = False) -> threading.Thread | None:
        """Make the month's county-months resident (with the baseline's tiers) ahead of the first scenario:
        in-process on a background thread (joined when ``wait``), on Dask as tasks left to run on the
        counties' workers.  Returns the thread, if any."""
        b = self.policy_for(base, period)
        root = str(self.store.root)
        wanted = [c for c in (self.counties if counties is None else counties) if (period, c) in self.manifest.partitions]
        if self.client is not None:
            from distributed import fire_and_forget
            from distributed import wait as dwait

            futs = [self._submit(warm_task, root, period, c, self._digest(period, c), b, county=c) for c in wanted]
            if wait:
                dwait(futs)
            else:
                fire_and_forget(futs)
            return None

        def run() -> None:
            for c in wanted:
                warm_task(root, period, c, self._digest(period, c), b)

        th = threading.Thread(target=run, name="fanpin-warm", daemon=True)
        th.start()
        if wait:
            th.join()
        return th

    def rows(self, policy: RiskPolicy, period: int, county: str, township: str | None = None) -> pd.DataFrame:
        """Drill-down: one county's or township's households for the month (never a province's)."""
        root = str(self.store.root)
        hist = []
        for k in range(1, RISING_MONTHS + 1):
            q = sio.shift_period(period, -k)
            hist.append(self._submit(score_task, root, q, county, self._digest(q, county), self.policy_for(policy, q), county=county)
                        if (q, county) in self.manifest.partitions else None)
        h = self._submit(rows_task, root, period, county, self._digest(period, county), self.policy_for(policy, period), township, *hist, county=county)
        return h if self.client is None else h.result()  # type: ignore[attr-defined]

    def duplicates(self) -> pd.DataFrame:
        """People (keyed hashes) registered in more than one household, across counties: an engine join."""
        from fanpin.engine.crossmatch import duplicate_people

        return duplicate_people(self.store, self.client)


def tier_totals(agg: Aggregates) -> pd.DataFrame:
    """Month x (green, yellow, red, newly_red, rising, mean_score) over everything: the printed table."""
    t = agg.totals()
    return t[["period", *TIERS, "households", "newly_red", "rising", "mean_score"]]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """(result, wall seconds)."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
