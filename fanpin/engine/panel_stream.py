"""Score the panel one month at a time: only the month in hand is in memory.

``trends.score_panel`` takes every month's whole snapshot at once; at 100k households x 36
months that is gigabytes of frames to keep three small arrays per household and month (score,
tier, income).  ``score_months`` asks a loader for one month's rows and the columns the
indicators read (``scoring_columns``), scores it, keeps the small results and lets the month
go.  The result is the ``PanelScores`` that ``score_panel`` gives for the same months.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal, township_filter
from fanpin.core.indicators import CATALOGUE, indicator_matrix
from fanpin.engine.income_line import IncomeLine
from fanpin.engine.scoring import RiskPolicy, Scorer
from fanpin.engine.trends import PanelScores
from fanpin.store import columnar
from fanpin.store import io as store_io

#: A month for ``score_months``: positions of its households in ``household_ids`` (ascending)
#: and a frame (or ``Columns``), in the same order, with at least ``scoring_columns()``.
MonthRows = tuple[np.ndarray, "pd.DataFrame | Columns"]


class _Recorder:
    """A one-row stand-in frame that notes which columns an indicator reads."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __getitem__(self, name: str) -> pd.Series:
        self.seen.add(name)
        return pd.Series([1.0])

    def __len__(self) -> int:
        return 1


class Columns(dict):
    """Named numpy columns read like a frame by the indicators (``frame[name].to_numpy(...)``),
    without pandas gathering them into one block (a copy of the month)."""

    def __getitem__(self, name: str) -> pd.Series:
        return pd.Series(dict.__getitem__(self, name), copy=False)

    def __len__(self) -> int:
        return len(next(iter(self.values()))) if dict.__len__(self) else 0


@cache
def scoring_columns() -> tuple[str, ...]:
    """The snapshot columns the indicator catalogue reads, plus ``income_pc`` (kept per month).
    Found by running each indicator on a recording frame, so a new indicator needs no list here."""
    rec = _Recorder()
    for ind in CATALOGUE:
        ind.compute(rec)
    return tuple(sorted(rec.seen | {"income_pc"}))


def score_months(
    periods: Sequence[int],
    load: Callable[[int], MonthRows],
    household_ids: np.ndarray,
    township: np.ndarray,
    policy: RiskPolicy,
    income_lines: Mapping[int, float] | IncomeLine | None = None,
) -> PanelScores:
    """Every month of ``periods`` scored under ``policy`` as saved, each with the line that holds
    for it (``IncomeLine.of(policy, income_lines).apply``), as ``score_panel`` does.

    ``household_ids`` (sorted) and ``township`` describe every household a month may name; those
    that no month names are left out of the result."""
    line_rule = IncomeLine.of(policy, income_lines)
    periods = sorted(int(p) for p in periods)
    n, P = len(household_ids), len(periods)
    towns = np.array(sorted(set(township.tolist())), dtype=object)
    town_idx = np.searchsorted(towns, township) if n else np.zeros(0, dtype=np.intp)
    score = np.full((n, P), np.nan, dtype=np.float32)
    tier = np.full((n, P), -1, dtype=np.int8)
    income = np.full((n, P), np.nan, dtype=np.float32)
    line = np.zeros(P)
    present = np.zeros(n, dtype=bool)
    for j, p in enumerate(periods):
        rows, frame = load(p)
        pol = line_rule.apply(policy, p)
        line[j] = pol.income_line
        if len(rows):
            res = Scorer(indicator_matrix(frame), town_idx[rows], len(towns), owned=True).run(pol)
            score[rows, j] = res.score
            tier[rows, j] = res.tier
            income[rows, j] = frame["income_pc"].to_numpy(dtype=np.float32)
            present[rows] = True
        del frame
    if not present.all():
        keep = np.flatnonzero(present)
        household_ids, township = household_ids[keep], township[keep]
        score, tier, income = score[keep], tier[keep], income[keep]
    township = np.asarray(township, dtype=object)
    kept_towns = np.array(sorted(set(township.tolist())), dtype=object)
    return PanelScores(periods, np.asarray(household_ids).astype(str), township, kept_towns, score, tier, income, line)


def score_stored_panel(
    engine: Engine, policy: RiskPolicy, income_lines: Mapping[int, float] | IncomeLine | None = None, *,
    principal: Principal, version: str | None = None,
) -> PanelScores:
    """Every stored month scored under ``policy`` (each with its line), read month by month from
    the columnar copy with only ``scoring_columns()``; a scoped principal gets their townships only
    (scoped before scoring, as ``Data.snapshot`` is)."""
    version = store_io.data_version(engine) if version is None else version
    table = columnar.household_table(engine, version=version)
    towns = township_filter(principal)
    keep = np.ones(len(table["household_id"]), dtype=bool) if towns is None else np.isin(table["township_code"].astype(str), sorted(towns))
    sub = np.flatnonzero(keep)
    remap = np.full(len(keep), -1, dtype=np.int64)
    remap[sub] = np.arange(len(sub))
    wanted = scoring_columns()
    from_table = [c for c in wanted if c in table and c not in ("household_id", "township_code")]
    from_month = [c for c in wanted if c not in table]

    def load(period: int) -> MonthRows:
        month = columnar.month_values(engine, period, from_month, version=version, table_ids=table["household_id"])
        pos = remap[month.rows]
        inside = pos >= 0
        rows = month.rows[inside]
        cols = {c: table[c][rows] for c in from_table}
        cols.update({c: v[inside] for c, v in month.values.items()})
        return pos[inside], Columns(cols)

    ids, township = table["household_id"][sub], table["township_code"][sub]
    return score_months(store_io.periods(engine), load, ids, township, policy, income_lines)


# --------------------------------------------------------------------------- kept on disk
#: Part of the kept scores' file names: files of another layout are never read.
SCORES_FORMAT = "s1"
#: The tables the panel's scores are made from (a write of none of them keeps the scores).
SCORED_TABLES = ("households", "members", "panel")


def panel_policy(policy: RiskPolicy, stored: IncomeLine) -> tuple[RiskPolicy, IncomeLine]:
    """The policy as the panel is keyed and scored, and its lines: where lines are stored and the
    policy set none of its own year, its own line is never used, so every such policy is keyed with
    the last stored line (one entry per policy, whatever line it was saved with)."""
    if stored.yearly and policy.line_year is None:
        policy = replace(policy, income_line=stored.yearly[-1][1])
    return policy, IncomeLine.of(policy, stored)


def _scores_key(policy: RiskPolicy, line: IncomeLine, towns: frozenset[str] | None) -> str:
    text = json.dumps([SCORES_FORMAT, policy.to_json(), list(line.yearly), line.own, line.own_year, None if towns is None else sorted(towns)])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _save(path: Path, ps: PanelScores) -> None:
    towns = np.asarray(ps.townships).astype(str)
    arrays = {
        "periods": np.asarray(ps.periods, dtype=np.int64),
        "household_ids": np.asarray(ps.household_ids).astype(str),
        "township": np.searchsorted(towns, np.asarray(ps.township).astype(str)).astype(np.int32),
        "townships": towns,
        "score": ps.score,
        "tier": ps.tier,
        "income_pc": ps.income_pc,
        "income_line": np.asarray(ps.income_line),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)


def _load(path: Path) -> PanelScores:
    with np.load(path, allow_pickle=False) as z:
        towns = z["townships"].astype(object)
        return PanelScores(
            [int(p) for p in z["periods"]], z["household_ids"], towns[z["township"]], towns, z["score"], z["tier"], z["income_pc"], z["income_line"]
        )


def kept_panel_scores(
    engine: Engine, policy: RiskPolicy, stored: IncomeLine, *, principal: Principal, version: str | None = None
) -> PanelScores:
    """``score_stored_panel`` of ``panel_policy(policy, stored)``, kept on disk beside the columnar
    copy, per data version, policy, lines and townships: a new process (a restarted server, the
    first view after an import) reads a few MB instead of scoring every month.  Computed once
    for all who ask at the same time (a lock per file); a file that cannot be read is computed
    again."""
    version = store_io.data_version(engine) if version is None else version
    policy, line = panel_policy(policy, stored)
    towns = township_filter(principal)
    stem = f"scores_{_scores_key(policy, line, towns)}"
    path = columnar.side_path(engine, stem, version, ".npz")
    with columnar.file_lock(path):
        if not path.exists() and columnar.carry_side_file(engine, stem, version, ".npz", SCORED_TABLES):
            columnar.drop_other_versions(path, prefix="scores_")  # the previous version's, when the write touched nothing the score reads (clues ...)
        if path.exists():
            try:
                return _load(path)
            except (OSError, ValueError, KeyError, IndexError):
                path.unlink(missing_ok=True)
        ps = score_stored_panel(engine, policy, line, principal=principal, version=version)
        _save(path, ps)
        columnar.drop_other_versions(path, prefix="scores_")
    return ps


#: The county-wide principal the prepared baseline is scored for.
COUNTY = Principal("county", "leader")


def prepare_views(engine: Engine, *, progress: Callable[[int, int], None] | None = None) -> int:
    """What the first page views after a write read, written now: the columnar copy of every
    month (carried over from the previous version where the write left it alone), the
    baseline's panel scores for the county and the supervision rules' household and member rows.  Called after an import commits, in its own process,
    and by the app when it meets a data version without them; returns the months written."""
    from fanpin.engine.policies import baseline, stored_lines
    from fanpin.store import quality as quality_store

    written = columnar.write_copies(engine, progress=progress)
    if store_io.periods(engine):
        kept_panel_scores(engine, baseline(engine), stored_lines(engine), principal=COUNTY)
    with engine.connect() as conn:  # the rules' roster reads, kept per data version (the quality page's first view)
        quality_store.household_rows(conn)
        quality_store.member_rows(conn)
    return written
