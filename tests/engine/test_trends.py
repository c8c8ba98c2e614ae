"""Panel scores, trends and the overview's figures, checked against direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from fanpin import store
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scoring import Scorer
from fanpin.engine.summary import (
    household_list,
    month_summary,
    township_table,
    trend_frame,
)
from fanpin.engine.trends import PanelScores, score_panel


def _ps(score: list[list[float]], tier: list[list[int]], township: list[str], income: list[list[float]] | None = None) -> PanelScores:
    s = np.array(score, dtype=np.float32)
    n, p = s.shape
    return PanelScores(
        periods=[202401 + k for k in range(p)],
        household_ids=np.array([f"h{i}" for i in range(n)]),
        township=np.array(township, dtype=object),
        townships=np.array(sorted(set(township)), dtype=object),
        score=s,
        tier=np.array(tier, dtype=np.int8),
        income_pc=np.array(income if income else [[10000.0] * p] * n, dtype=np.float32),
        income_line=np.full(p, 7500.0),
    )


def test_newly_red_and_rising_by_hand() -> None:
    ps = _ps(
        score=[[10, 12, 14, 16], [50, 40, 45, 50], [10, 10.5, 11, 11.5], [np.nan, 30, 50, 60]],
        tier=[[0, 0, 0, 0], [2, 1, 2, 2], [0, 0, 0, 0], [-1, 1, 2, 2]],
        township=["a", "a", "b", "b"],
    )
    assert ps.newly_red(202403).tolist() == [False, True, False, True]
    assert ps.newly_red(202404).tolist() == [False, False, False, False]
    # h0 rose 2 points three months running; h2 only 0.5 a month (noise); h3 lacks a fourth month
    assert ps.rising(202404).tolist() == [True, False, False, False]
    assert ps.rising(202403).tolist() == [False] * 4
    counts = ps.tier_counts()
    assert counts.loc[202401].tolist() == [2, 0, 1]
    assert ps.change_vs_previous(202402) == {"green": 0, "yellow": 2, "red": -1}


def test_month_summary_and_township_table_by_hand() -> None:
    ps = _ps(
        score=[[10, 20], [50, 60], [40, 45], [5, 5]],
        tier=[[0, 0], [2, 2], [1, 2], [0, 0]],
        township=["a", "a", "b", "b"],
        income=[[9000, 9000], [7000, 7000], [8000, 7400], [20000, 20000]],
    )
    s = month_summary(ps, 202402)
    assert s.counts == {"green": 2, "yellow": 0, "red": 2}
    assert s.change == {"green": 0, "yellow": -1, "red": 1}
    assert s.newly_red == 1 and s.below_line == 2 and s.households == 4
    assert s.mean_score == pytest.approx(32.5)
    sb = month_summary(ps, 202402, township="b")
    assert sb.counts == {"green": 1, "yellow": 0, "red": 1} and sb.below_line == 1
    table = township_table(ps, 202402)
    assert table["township_code"].tolist() == ["a", "b"]  # tie on red share 0.5, then by code
    assert table["red_share"].tolist() == [0.5, 0.5]
    assert table["red_share_change"].tolist() == [0.0, 0.5]
    assert table["mean_score"].tolist() == [40.0, 25.0]
    assert table["trend"].tolist() == [[0.5, 0.5], [0.0, 0.5]]
    tf = trend_frame(ps)
    assert tf["red"].tolist() == [1, 2]
    assert tf["below_line_share"].tolist() == [0.25, 0.5]
    hl = household_list(ps, 202402, ps.newly_red(202402))
    assert hl["household_id"].tolist() == ["h2"] and hl["score_change"].tolist() == [5.0]


def test_panel_scores_equal_month_by_month_scoring(small_demo) -> None:
    engine, spec = small_demo
    periods = store.periods(engine)
    frames = store.load_snapshots(engine, periods)
    lines = {2024: 7800.0, 2025: 8100.0}
    policy = baseline_policy(engine, periods[-1])
    ps = score_panel(frames, policy, lines)
    for p in (periods[0], periods[-1]):
        from dataclasses import replace

        res = Scorer.from_frame(frames[p]).run(replace(policy, income_line=lines[p // 100]))
        j = ps.col(p)
        assert np.array_equal(ps.tier[:, j], res.tier)
        assert np.allclose(ps.score[:, j], res.score)
        assert ps.income_line[j] == lines[p // 100]
    share = ps.below_line_share()
    f = frames[periods[-1]]
    assert share.iloc[-1] == pytest.approx((f["income_pc"] < lines[periods[-1] // 100]).mean())
    red = ps.township_tier_share("red")
    j = len(periods) - 1
    t0 = ps.townships[0]
    sel = ps.township == t0
    assert red.loc[t0].iloc[j] == pytest.approx((ps.tier[sel, j] == 2).mean())
    with pytest.raises(KeyError):
        ps.col(209901)
