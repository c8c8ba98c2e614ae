"""The backtest's counting, by hand on toy counties: distinct finds, the ceiling, the budget, the windows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from fanpin.model import backtest as B

# Three households (A, B, C) over two months.  Month 0: all above the line; A and C fall within
# the horizon.  Month 1: C is below the line (it fell), A and B are fallers.
Y = np.array([[1, 0, 1], [1, 1, 0]], dtype=bool)
NOT_BELOW = np.array([[1, 1, 1], [1, 1, 0]], dtype=bool)
K = 0.34  # one visit a month: round(0.34 x 3) = round(0.34 x 2) = 1


def test_budget_is_a_share_of_households_not_yet_below_the_line() -> None:
    assert B.budget_size(0.02, 20_000) == 400
    assert B.budget_size(0.02, 10) == 1  # at least one visit
    assert B.budget_size(K, NOT_BELOW[0].sum()) == 1 and B.budget_size(K, NOT_BELOW[1].sum()) == 1


def test_a_find_counts_once_and_leaves_the_list() -> None:
    # A is at the top both months: found in month 0, then known, so month 1's visit goes to B (a faller too)
    score = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, np.nan]])
    assert B.found_by(score, NOT_BELOW, Y, NOT_BELOW, K).tolist() == [True, True, False]


def test_a_visit_that_found_nothing_does_not_stop_a_later_one() -> None:
    # B is visited in month 0 (not a faller then) and again in month 1, when it is
    score = np.array([[0.1, 0.9, 0.5], [0.1, 0.9, np.nan]])
    assert B.found_by(score, NOT_BELOW, Y, NOT_BELOW, K).tolist() == [False, True, False]


def test_households_under_monitoring_take_no_visit_and_are_never_found() -> None:
    score = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, np.nan]])
    eligible = NOT_BELOW.copy()
    eligible[:, 0] = False  # A is already monitored
    # month 0 visits B (nothing), month 1 visits B again (found); C never reached
    assert B.found_by(score, eligible, Y, NOT_BELOW, K).tolist() == [False, True, False]
    # the ceiling cannot count A either: C in month 0, B in month 1
    assert B.ceiling_count(eligible, Y, NOT_BELOW, K)[0] == 2
    eligible[:, 1] = False  # B monitored too: only C is left, only in month 0
    assert B.ceiling_count(eligible, Y, NOT_BELOW, K)[0] == 1


def test_ceiling_by_hand() -> None:
    # fallers A (months 0, 1), B (month 1), C (month 0); one visit a month: two of them at most
    assert B.ceiling_count(NOT_BELOW, Y, NOT_BELOW, K)[0] == 2
    # two visits a month: all three
    assert B.ceiling_count(NOT_BELOW, Y, NOT_BELOW, 0.75)[0] == 3
    # a greedy perfect predictor that takes A in month 0 loses C: the exact count does not
    only_a_first = np.array([[1, 0, 0], [0, 0, 0]], dtype=bool)
    assert B.ceiling_count(NOT_BELOW, Y | only_a_first, NOT_BELOW, K)[0] == 2


def _max_matching(ok: np.ndarray, caps: list[int]) -> int:
    """Brute force by another route: each month copied ``cap`` times, a bipartite matching."""
    rows = []
    for i, c in enumerate(caps):
        rows += [ok[i]] * c
    if not rows:
        return 0
    m = maximum_bipartite_matching(csr_matrix(np.array(rows, dtype=np.int8)), perm_type="column")
    return int((m >= 0).sum())


@pytest.mark.parametrize("seed", range(12))
def test_ceiling_is_the_maximum_matching_and_no_method_beats_it(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 5)), int(rng.integers(5, 40))
    not_below = rng.random((m, n)) < 0.9
    eligible = not_below & (rng.random((m, n)) < 0.9)
    y = not_below & (rng.random((m, n)) < 0.35)
    k = float(rng.choice([0.05, 0.1, 0.2]))
    caps = [int(B.budget_size(k, not_below[i].sum())) for i in range(m)]
    ceiling = B.ceiling_count(eligible, y, not_below, k)[0]
    assert ceiling == _max_matching(eligible & y, caps)
    for _ in range(5):
        score = rng.random((m, n))
        found = B.found_by(score, eligible, y, not_below, k)
        assert found.sum() <= ceiling
        assert not (found & ~(eligible & y).any(axis=0)).any()  # only visitable fallers are finds
    perfect = (eligible & y).astype(float)
    assert B.found_by(perfect, eligible, y, not_below, k).sum() <= ceiling


@pytest.mark.parametrize("seed", range(6))
def test_weighted_finds_with_unit_weights_are_the_plain_finds(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    m, n = 3, 200
    not_below = rng.random((m, n)) < 0.95
    eligible = not_below & (rng.random((m, n)) < 0.97)
    y = not_below & (rng.random((m, n)) < 0.05)
    score = rng.random((m, n))
    score[0, :5] = np.nan  # NaN scores come last
    for k in (0.01, 0.05, 0.1):
        plain = B.found_by(score, eligible, y, not_below, k).sum()
        assert B.found_weighted(score, eligible, y, not_below, k, np.ones((2, n)))[0] == plain
        assert B.ceiling_count(eligible, y, not_below, k, np.ones((2, n))).tolist() == [B.ceiling_count(eligible, y, not_below, k)[0]] * 2


def test_a_household_of_weight_two_takes_two_visits_and_counts_twice() -> None:
    score = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, np.nan]])
    # weights A=2, B=1, C=1: month 0 base 4 -> round(0.34 x 4) = 1 visit: A does not fit (2 visits)
    # ... but it is first in line and the budget is not used up before it: it is taken whole
    w = np.array([[2.0, 1.0, 1.0]])
    assert B.found_weighted(score, NOT_BELOW, Y, NOT_BELOW, K, w)[0] == 2 + 1  # A (x2) in month 0, B in month 1
    w0 = np.array([[0.0, 1.0, 1.0]])  # A absent: month 0 visits B (nothing), month 1 B (found)
    assert B.found_weighted(score, NOT_BELOW, Y, NOT_BELOW, K, w0)[0] == 1
    assert B.ceiling_count(NOT_BELOW, Y, NOT_BELOW, K, w0)[0] == 2  # C in month 0, B in month 1


def _toy_window(name_months: tuple[int, ...], scores: dict[str, np.ndarray], ids: list[str]) -> B.WindowData:
    return B.WindowData(B.Window(name_months, ("latest",)), np.array(ids), Y.copy(), NOT_BELOW.copy(), NOT_BELOW.copy(), scores)


def test_table_counts_gap_and_sums_windows() -> None:
    good = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, 0.0]])  # finds A and B: 2
    line = np.array([[0.1, 0.9, 0.5], [0.1, 0.9, 0.0]])  # B twice: 1
    scores = {"model": good, "income_line": line, "trend_rule": line.copy()}
    w1 = _toy_window((202401, 202402), scores, ["a", "b", "c"])
    w2 = _toy_window((202404, 202405), scores, ["a", "b", "c"])
    t = B.table([w1, w2], budgets=(K,), draws=50, seed=1)
    one = B.summary(t, K, "202401-202402")
    assert one.loc["model", "found"] == 2 and one.loc["income_line", "found"] == 1 and one.loc["ceiling", "found"] == 2
    assert one.loc["model", "gap_closed"] == 1.0 and one.loc["income_line", "gap_closed"] == 0.0
    assert one.loc["model", "ratio"] == 2.0 and one.loc["model", "visits"] == 2 and one.loc["model", "fallers"] == 3
    assert one.loc["model", "tags"] == "latest"
    both = B.summary(t, K)
    assert both.loc["model", "found"] == 4 and both.loc["ceiling", "found"] == 4 and both.loc["model", "visits"] == 4
    assert both.loc["model", "lo"] <= 4 <= both.loc["model", "hi"]
    v = B.verdict(t, K)
    assert v == {"gap_closed": 1.0, "best_rule": "trend_rule", "closes_target": True, "beats_rules": True}


def test_the_verdict_says_when_there_is_no_gap_to_close() -> None:
    """The income-line rule already at the ceiling: the sentence says so (it read "— (95% 区间 –––)")."""
    good = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, 0.0]])
    scores = {"model": good, "income_line": good.copy(), "trend_rule": good.copy()}
    t = B.table([_toy_window((202401, 202402), scores, ["a", "b", "c"])], budgets=(K,), draws=20, seed=1)
    assert not np.isfinite(B.summary(t, K).loc["model", "gap_closed"])
    zh, en = B.verdict_text(t, K, "zh"), B.verdict_text(t, K, "en")
    assert "没有差距可弥合" in zh and "–" not in zh.split("上限")[1].split("；")[0]
    assert "no gap to close" in en
    both = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, 0.0]])
    line = np.array([[0.1, 0.9, 0.5], [0.1, 0.9, 0.0]])
    t2 = B.table([_toy_window((202401, 202402), {"model": both, "income_line": line, "trend_rule": line.copy()}, ["a", "b", "c"])], budgets=(K,), draws=20, seed=1)
    assert "100%" in B.verdict_text(t2, K, "zh") and "弥合了差距的" in B.verdict_text(t2, K, "zh")


def test_bootstrap_interval_covers_the_point_and_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    m, n = 3, 2000
    not_below = rng.random((m, n)) < 0.97
    y = not_below & (rng.random((m, n)) < 0.03)
    signal = y + rng.normal(0, 0.7, (m, n))
    scores = {"model": signal, "income_line": rng.random((m, n))}
    d = B.WindowData(B.Window((202501, 202502, 202503)), np.arange(n).astype(str), y, not_below, not_below, scores)
    t1 = B.table([d], budgets=(0.02,), draws=80, seed=5)
    t2 = B.table([d], budgets=(0.02,), draws=80, seed=5)
    assert t1.equals(t2)
    for r in t1.itertuples():
        assert r.lo <= r.found <= r.hi
    s = B.summary(t1, 0.02)
    assert s.loc["model", "found"] > s.loc["income_line", "found"]
    assert s.loc["model", "gap_lo"] <= s.loc["model", "gap_closed"] <= s.loc["model", "gap_hi"] <= 1.0


def test_windows_tile_back_from_the_latest_and_take_a_line_change_and_a_disaster() -> None:
    from fanpin.store.io import shift_period

    periods = [shift_period(202301, k) for k in range(36)]
    labelled = periods[3:30]  # 202304..202506
    lines = {p: 7500.0 + 300 * (p // 100 - 2023) for p in periods}
    changes = B.line_change_months(lines)
    assert changes == {202401, 202501}
    ws = B.choose_windows(labelled, 6, line_changes=changes, disasters={202407, 202408})
    assert [w.months for w in ws] == [(202407, 202408, 202409), (202410, 202411, 202412), (202501, 202502, 202503), (202504, 202505, 202506)]
    assert [w.tags for w in ws] == [("disaster",), (), ("line_change",), ("latest",)]
    for w in ws:  # every window has at least 3 months of complete labels before it
        assert len(B.training_months(labelled, w.start, 6)) >= 3
        assert all(shift_period(t, 6) <= w.start for t in B.training_months(labelled, w.start, 6))
    # two windows only: the July floods are added further back, without overlapping
    ws = B.choose_windows(labelled, 6, line_changes=changes, disasters={202307, 202407}, count=2)
    assert [w.months for w in ws] == [(202407, 202408, 202409), (202501, 202502, 202503), (202504, 202505, 202506)]
    assert ws[0].tags == ("disaster",) and ws[1].tags == ("line_change",)
    # too little history before: no window
    assert B.choose_windows(labelled[:6], 6) == []
