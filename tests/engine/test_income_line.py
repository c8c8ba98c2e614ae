"""The income line that holds for a month under a policy: the year rule, the analyst's year, the key."""

from __future__ import annotations

from dataclasses import replace

from fanpin.engine.income_line import IncomeLine
from fanpin.engine.scoring import RiskPolicy

LINES = {2021: 6000.0, 2023: 7500.0, 2025: 8100.0}


def test_the_year_rule_over_the_stored_lines() -> None:
    line = IncomeLine.stored(LINES)
    assert line.stored_at(202301) == 7500.0 and line.stored_at(202312) == 7500.0
    assert line.stored_at(202406) == 7500.0  # nearest earlier year
    assert line.stored_at(202501) == 8100.0 and line.stored_at(203001) == 8100.0
    assert line.stored_at(202001) == 6000.0  # before every stored year: the earliest
    assert IncomeLine.stored(None).stored_at(202501) is None
    assert IncomeLine.stored({}).at(202501) is None


def test_a_policy_that_follows_the_stored_lines() -> None:
    policy = RiskPolicy.default(income_line=9999.0)
    line = IncomeLine.of(policy, LINES)
    assert [line.at(p) for p in (202312, 202406, 202512)] == [7500.0, 7500.0, 8100.0]
    assert line.apply(policy, 202406) == replace(policy, income_line=7500.0)
    # no stored line at all: the policy's own line, every month
    assert IncomeLine.of(policy, None).at(202001) == 9999.0


def test_the_analysts_line_holds_in_its_year_only() -> None:
    policy = replace(RiskPolicy.default(), income_line=8000.0, line_year=2025)
    line = IncomeLine.of(policy, LINES)
    assert line.at(202501) == line.at(202512) == 8000.0
    assert line.at(202412) == 7500.0 and line.at(202601) == 8100.0
    inside = line.apply(policy, 202503)
    assert inside is policy
    outside = line.apply(policy, 202412)
    assert outside.income_line == 7500.0 and outside.line_year is None
    # applying twice changes nothing (a page may pass an applied policy on)
    assert IncomeLine.of(outside, LINES).apply(outside, 202412) == outside
    assert IncomeLine.of(inside, LINES).apply(inside, 202503) == inside


def test_setting_a_line() -> None:
    stored = IncomeLine.stored(LINES)
    base = RiskPolicy.default(income_line=8100.0)
    set_ = stored.set_line(base, 202503, 8000.0)
    assert set_.income_line == 8000.0 and set_.line_year == 2025
    back = stored.set_line(set_, 202503, 8100.0)  # the stored line again: follows the stored lines
    assert back.line_year is None and back.income_line == 8100.0


def test_a_hashable_cache_key() -> None:
    a = IncomeLine.of(replace(RiskPolicy.default(), income_line=8000.0, line_year=2025), LINES)
    b = IncomeLine.of(replace(RiskPolicy.default(), income_line=8000.0, line_year=2025), dict(reversed(LINES.items())))
    assert a == b and hash(a) == hash(b) and a.key == b.key
    assert a != IncomeLine.of(RiskPolicy.default(income_line=8000.0), LINES)
    assert len({a, b}) == 1


def test_line_year_round_trips_through_json() -> None:
    p = replace(RiskPolicy.default(), income_line=8000.0, line_year=2025)
    assert RiskPolicy.from_json(p.to_json()) == p
    assert "line_year" not in RiskPolicy.default().to_json()
