"""Scoring the panel month by month gives exactly what scoring every month at once gives."""

from __future__ import annotations

import numpy as np

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal, scope_frame
from fanpin.engine.panel_stream import score_stored_panel, scoring_columns
from fanpin.engine.policies import baseline, stored_lines
from fanpin.engine.trends import score_panel

FIELDS = ("household_ids", "township", "townships", "score", "tier", "income_pc", "income_line")


def _same(a, b) -> None:
    assert a.periods == b.periods
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_the_stream_equals_score_panel(small_demo) -> None:
    engine, _ = small_demo
    frames = store.load_snapshots(engine, store.periods(engine))
    policy, lines = baseline(engine), stored_lines(engine)
    _same(score_stored_panel(engine, policy, lines, principal=SYSTEM), score_panel(frames, policy, lines))


def test_a_case_worker_gets_their_townships_scored_as_before(small_demo) -> None:
    engine, _ = small_demo
    frames = store.load_snapshots(engine, store.periods(engine))
    town = sorted(frames[max(frames)]["township_code"].unique())[1]
    worker = Principal("cw", "case_worker", frozenset({town}))
    policy, lines = baseline(engine), stored_lines(engine)
    scoped = {p: scope_frame(f, worker).reset_index(drop=True) for p, f in frames.items()}
    ps = score_stored_panel(engine, policy, lines, principal=worker)
    _same(ps, score_panel(scoped, policy, lines))
    assert set(ps.township) == {town}


def test_scoring_reads_fewer_columns_than_the_snapshot_has(small_demo) -> None:
    engine, _ = small_demo
    snapshot = store.load_snapshot(engine, store.periods(engine)[-1])
    cols = scoring_columns()
    assert set(cols) < set(snapshot.columns)
    assert "income_pc" in cols and "household_id" not in cols
