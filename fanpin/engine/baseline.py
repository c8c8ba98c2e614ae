"""Baseline aggregates written with the data, so a province's first view reads sums instead of scoring.

The overview of a province asks for township x month sums under the baseline policy over every
month: scoring them takes minutes at millions of households.  They do not change between views,
so they are computed when the data are written (``fanpin snapshot sync``, ``fanpin demo
--province``) and kept beside each county-month's file (``baseline.json``: the township sums of
``partials.MonthFigures``, counts and sums only, no household).  A file holds for a county-month
when both of its keys match:

- ``policy``: a hash of the baseline as it scores that month (``month_policy``: normalised, with the
  line that holds for the month); an income line announced after the data were written, or another
  adopted policy, changes it;
- ``inputs``: a hash of the content digests of the month and of the ``RISING_MONTHS`` months before
  (newly red and rising read them), so a rewritten month makes its successors stale too.

``stored_trends`` reads the files that hold and asks the engine for the rest only (so its numbers are
the engine's by construction: the files are the engine's own ``MonthFigures``); ``refresh`` rewrites
the stale ones and is what a sync runs after writing.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from fanpin.engine.distributed import ProvinceEngine, month_policy
from fanpin.engine.partials import RISING_MONTHS, Aggregates, MonthFigures, ScenarioAggregates, ScenarioFigures
from fanpin.engine.scoring import TIERS, RiskPolicy
from fanpin.store import io as sio
from fanpin.store.snapshot import Manifest, SnapshotStore

FORMAT = 1


def policy_key(policy: RiskPolicy) -> str:
    """A hash of a policy as it scores one month (its line included)."""
    text = json.dumps(policy.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def inputs_key(digests: Mapping[tuple[int, str], object], period: int, county: str) -> str:
    """A hash of the digests the month's figures read: the month and the ``RISING_MONTHS`` before it."""
    parts = []
    for k in range(RISING_MONTHS + 1):
        info = digests.get((sio.shift_period(int(period), -k), county))
        parts.append("-" if info is None else str(getattr(info, "digest", info)))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def to_doc(fig: MonthFigures, policy: str, inputs: str, data_version: str) -> dict:
    """A county-month's figures as the JSON kept beside its file (floats written exactly: repr round-trips)."""
    return {
        "format": FORMAT, "policy": policy, "inputs": inputs, "data_version": data_version,
        "period": int(fig.period), "county": fig.county, "income_line": float(fig.income_line),
        "townships": [str(t) for t in fig.townships], "households": fig.households.tolist(),
        **{t: fig.counts[:, i].tolist() for i, t in enumerate(TIERS)},
        "score_sum": [float(v) for v in fig.score_sum], "below_line": fig.below_line.tolist(),
        "newly_red": fig.newly_red.tolist(), "rising": fig.rising.tolist(),
    }


def from_doc(doc: Mapping) -> MonthFigures:
    """The ``MonthFigures`` a doc was made from (the same dtypes as the engine's)."""
    i64 = lambda k: np.asarray(doc[k], dtype=np.int64)
    counts = np.column_stack([i64(t) for t in TIERS]) if doc["townships"] else np.zeros((0, 3), dtype=np.int64)
    return MonthFigures(int(doc["period"]), str(doc["county"]), np.asarray(doc["townships"]).astype(str), i64("households"), counts,
                        np.asarray(doc["score_sum"], dtype=np.float64), i64("below_line"), i64("newly_red"), i64("rising"),
                        float(doc["income_line"]))


@dataclass(frozen=True)
class Keys:
    """What a county-month's stored figures must carry to hold."""

    policy: str
    inputs: str


def keys_for(manifest: Manifest, policy: RiskPolicy, period: int, county: str,
             digests: Mapping[tuple[int, str], object] | None = None) -> Keys:
    return Keys(policy_key(month_policy(policy, manifest.income_lines, period)),
                inputs_key(manifest.partitions if digests is None else digests, period, county))


class Checker:
    """Which stored figures hold for a policy over one manifest (the policy's key computed once a month)."""

    def __init__(self, store: SnapshotStore, manifest: Manifest, policy: RiskPolicy) -> None:
        self.store, self.manifest, self.policy = store, manifest, policy
        self._policy_keys: dict[int, str] = {}

    def keys(self, period: int, county: str) -> Keys:
        pk = self._policy_keys.get(period)
        if pk is None:
            pk = self._policy_keys[period] = policy_key(month_policy(self.policy, self.manifest.income_lines, period))
        return Keys(pk, inputs_key(self.manifest.partitions, period, county))

    def read(self, period: int, county: str) -> MonthFigures | None:
        """The county-month's stored figures if they hold for the policy and the store's data, else None."""
        doc = self.store.read_baseline(period, county)
        if doc is None or doc.get("format") != FORMAT:
            return None
        k = self.keys(period, county)
        if doc.get("policy") != k.policy or doc.get("inputs") != k.inputs:
            return None
        return from_doc(doc)


def read_valid(store: SnapshotStore, manifest: Manifest, policy: RiskPolicy, period: int, county: str) -> MonthFigures | None:
    """The county-month's stored figures if they hold for ``policy`` and the store's data, else None."""
    return Checker(store, manifest, policy).read(period, county)


@dataclass
class StoredTrends:
    """Township x month sums and where they came from."""

    aggregates: Aggregates
    stored: int  # county-months read from the files
    computed: int  # county-months the engine scored (no file, or a stale one)


def stored_trends(engine: ProvinceEngine, policy: RiskPolicy, periods: Sequence[int] | None = None, *,
                  counties: Sequence[str] | None = None) -> StoredTrends:
    """``engine.trends(policy, periods, counties=...)``, from the stored baseline where it holds."""
    wanted = sorted(int(p) for p in (periods if periods is not None else engine.periods))
    parts: list[MonthFigures] = []
    missing: dict[str, list[int]] = defaultdict(list)
    check = Checker(engine.store, engine.manifest, policy)
    for c in counties or engine.counties:
        for p in wanted:
            if (p, c) not in engine.manifest.partitions:
                continue
            fig = check.read(p, c)
            if fig is None:
                missing[c].append(p)
            else:
                parts.append(fig)
    stored = len(parts)
    by_periods: dict[tuple[int, ...], list[str]] = defaultdict(list)  # counties missing the same months: one engine call
    for c, ps in missing.items():
        by_periods[tuple(ps)].append(c)
    for ps, cs in by_periods.items():
        parts += engine.figures(policy, list(ps), counties=cs)
    return StoredTrends(Aggregates.of(parts), stored, len(parts) - stored)


def same_policy(engine: ProvinceEngine, a: RiskPolicy, b: RiskPolicy, period: int) -> bool:
    """Whether two policies score the month alike (names aside): a scenario left at its baseline."""
    ka, kb = (replace(engine.policy_for(x, period), name="") for x in (a, b))
    return policy_key(ka) == policy_key(kb)


def stored_scenario(engine: ProvinceEngine, period: int, base: RiskPolicy, *, counties: Sequence[str] | None = None) -> ScenarioAggregates | None:
    """The scenario "no change" from the stored month (baseline = scenario, the transition diagonal),
    as ``engine.scenario(period, base, base)`` gives it; None when a county-month has no valid file."""
    check = Checker(engine.store, engine.manifest, base)
    parts = []
    for c in counties or engine.counties:
        if (period, c) not in engine.manifest.partitions:
            continue
        fig = check.read(period, c)
        if fig is None:
            return None
        parts.append(ScenarioFigures(fig.period, fig.county, fig.townships, fig.counts, fig.counts.copy(), np.diag(fig.counts.sum(axis=0))))
    return ScenarioAggregates.of(parts)


def write_figures(store: SnapshotStore, figures: Iterable[MonthFigures], keys: Mapping[tuple[int, str], Keys], data_version: str) -> int:
    """Write figures whose keys are given; returns how many."""
    n = 0
    for fig in figures:
        k = keys[(fig.period, fig.county)]
        store.write_baseline(fig.period, fig.county, to_doc(fig, k.policy, k.inputs, data_version))
        n += 1
    return n


def refresh(store: SnapshotStore, policy: RiskPolicy, *, client: object | None = None) -> int:
    """Compute and write the baseline figures of every county-month whose file is missing or stale
    (another policy or line, a rewritten month or one of the months before it); returns how many."""
    engine = ProvinceEngine(store, client)
    man = engine.manifest
    check = Checker(store, man, policy)
    stale: dict[str, list[int]] = defaultdict(list)
    for (p, c) in sorted(man.partitions):
        if check.read(p, c) is None:
            stale[c].append(p)
    by_periods: dict[tuple[int, ...], list[str]] = defaultdict(list)
    for c, ps in stale.items():
        by_periods[tuple(ps)].append(c)
    n = 0
    for ps, cs in by_periods.items():
        figs = engine.figures(policy, list(ps), counties=cs)
        keys = {(f.period, f.county): check.keys(f.period, f.county) for f in figs}
        n += write_figures(store, figs, keys, man.data_version)
    return n
