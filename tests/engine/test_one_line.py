"""One month, one policy, one line: every page's path gives the same line and the same red count.

Issue 18 item 1: with a scenario at another income line adopted, the overview and the brief
(panel scores) said 8,100 and 802 red while the simulator and the map (one month's scoring)
said 8,000 and 748.  Here each page's domain path is followed for the same month.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from fanpin import store
from fanpin.access.roles import Principal
from fanpin.engine.policies import adopt_policy, baseline, baseline_policy, save_policy, stored_lines
from fanpin.engine.scoring import TIERS, RiskPolicy, Scorer
from fanpin.engine.summary import month_summary, township_table
from fanpin.engine.trends import score_panel
from fanpin.geo.townships import township_metrics
from tests.conftest import copy_sqlite

ANALYST = Principal("ana", "analyst")
LEADER = Principal("boss", "leader")


@pytest.fixture(scope="module")
def adopted(small_demo, tmp_path_factory: pytest.TempPathFactory):
    """The small demo county with a scenario adopted whose line is 500 below the latest year's."""
    engine, _ = small_demo
    copy = store.make_engine(copy_sqlite(engine, tmp_path_factory.mktemp("one_line") / "county.db"))
    periods = store.periods(copy)
    last = periods[-1]
    stored = stored_lines(copy).stored_at(last)
    scenario = replace(RiskPolicy.default(), name="x", income_line=stored - 500.0, line_year=last // 100)
    save_policy(copy, scenario, "收入线下调", principal=ANALYST)
    adopt_policy(copy, "收入线下调", principal=LEADER)
    yield copy, periods, stored - 500.0
    copy.dispose()


def _month_result(engine, period: int):
    """The map's and the simulator's path: one month's snapshot scored under the policy in force."""
    policy, _ = baseline_policy(engine, period).normalised()
    return policy, Scorer.from_frame(store.load_snapshot(engine, period)).run(policy).copy()


def test_every_path_gives_the_same_line_and_red_count(adopted) -> None:
    from fanpin.report.brief import compute_brief, panel_for
    from fanpin.workflow.monitoring import register

    engine, periods, line = adopted
    period = periods[-1]
    policy, result = _month_result(engine, period)
    assert policy.income_line == line  # the adopted scenario's own line, not the stored 2025 line
    red = result.tier_counts()["red"]

    # overview (the cached panel's path): the adopted policy as saved, each month with its line
    ps = score_panel(store.load_snapshots(engine, periods), baseline(engine), stored_lines(engine))
    j = ps.col(period)
    assert ps.income_line[j] == line
    assert month_summary(ps, period).counts["red"] == red
    assert np.array_equal(ps.tier[np.searchsorted(ps.household_ids, result.scorer.household_ids), j], result.tier)

    # brief
    brief = compute_brief(engine, period, ps=panel_for(engine), principal=LEADER, model=None)
    assert brief.income_line == line and brief.summary.counts["red"] == red

    # map: township figures from the month's scoring agree with the overview's township table
    codes = sorted(set(result.scorer.township_codes))
    metrics = township_metrics(result, None, codes).set_index("township_code")
    table = township_table(ps, period).set_index("township_code")
    assert metrics["red"].astype(int).to_dict() == table.loc[codes, "red"].astype(int).to_dict()

    # register: each monitored household's tier is the month's tier
    reg = register(engine, ps, period, principal=LEADER)
    tier_of = dict(zip(result.scorer.household_ids, np.array(TIERS, dtype=object)[result.tier]))
    scored = reg.dropna(subset=["tier"])
    assert all(tier_of[h] == t for h, t in zip(scored["household_id"], scored["tier"]))


def test_another_year_keeps_its_stored_line(adopted) -> None:
    engine, periods, line = adopted
    earlier = next(p for p in periods if p // 100 < periods[-1] // 100)
    stored = stored_lines(engine).stored_at(earlier)
    policy, result = _month_result(engine, earlier)
    assert policy.income_line == stored != line
    ps = score_panel(store.load_snapshots(engine, periods), baseline(engine), stored_lines(engine))
    assert ps.income_line[ps.col(earlier)] == stored
    assert month_summary(ps, earlier).counts["red"] == result.tier_counts()["red"]
