"""Saved policies, the adopted baseline and the income line of a period, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from fanpin import store
from fanpin.access.roles import Principal
from fanpin.engine.policies import (
    adopt_policy,
    adopted_policy,
    baseline_policy,
    income_line_for,
    list_policies,
    load_policy,
    save_policy,
)
from fanpin.engine.scoring import ForceRule, PolicyError, RiskPolicy
from fanpin.store.engine import make_engine
from fanpin.store.io import set_meta
from fanpin.store.schema import meta, policies
from tests.conftest import BACKENDS, backend_url


@pytest.fixture(scope="module", params=BACKENDS)
def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One migrated database per backend (the same parametrisation as ``db_url``; migrating
    PostgreSQL costs about a second, so it is done once per module)."""
    eng = make_engine(backend_url(request.param, tmp_path_factory.mktemp("policies")), create=True)
    store.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture()
def engine(migrated):
    """The module's database with no saved policy and no stored income line."""
    with migrated.begin() as conn:
        conn.execute(policies.delete())
        conn.execute(meta.delete().where(meta.c.key == "income_lines"))
    return migrated


def _lines(engine, lines: dict[int, float]) -> None:
    with engine.begin() as conn:
        set_meta(conn, "income_lines", json.dumps({str(k): v for k, v in lines.items()}))


ANALYST = Principal("analyst", "analyst")
ANALYST2 = Principal("analyst2", "analyst")
LEADER = Principal("局领导 王", "leader")
DEPUTY = Principal("deputy", "leader")

SCENARIO = RiskPolicy(
    weights={"income_ratio": 0.5, "medical_burden": 0.3, "housing_grade": 0.2},
    income_line=8050.0,
    cutoffs=(20.0, 45.0),
    bounds={"medical_burden": (0.0, 0.8)},
    warning_lines={"medical_burden": 0.35},
    forces=(ForceRule("income_ratio", 1.0, "red"), ForceRule("housing_grade", 4.0, "red")),
    name="ignored",
    line_year=2025,  # the analyst set 8,050 for 2025
)


def test_save_list_load_overwrite(engine) -> None:
    assert list_policies(engine) == []
    before = datetime.now() - timedelta(seconds=1)
    pid = save_policy(engine, SCENARIO, "方案一 收入优先", principal=ANALYST)
    other = save_policy(engine, RiskPolicy.default(), "default copy", principal=ANALYST)
    assert isinstance(pid, int) and other != pid
    rows = {r["name"]: r for r in list_policies(engine)}
    assert set(rows) == {"方案一 收入优先", "default copy"}
    row = rows["方案一 收入优先"]
    assert row["policy_id"] == pid and row["created_by"] == "analyst"
    assert before <= row["created_at"] <= datetime.now() + timedelta(seconds=1)
    assert row["adopted_at"] is None and row["adopted_by"] is None
    assert load_policy(engine, "方案一 收入优先") == replace(SCENARIO, name="方案一 收入优先")
    assert load_policy(engine, "default copy") == replace(RiskPolicy.default(), name="default copy")
    # overwrite: same id, new content, still one row of that name
    changed = replace(SCENARIO, cutoffs=(30.0, 50.0), income_line=8700.0)
    assert save_policy(engine, changed, "方案一 收入优先", principal=ANALYST2) == pid
    assert load_policy(engine, "方案一 收入优先") == replace(changed, name="方案一 收入优先")
    rows = list_policies(engine)
    assert len(rows) == 2
    assert next(r for r in rows if r["policy_id"] == pid)["created_by"] == "analyst2"
    # newest first
    assert [r["name"] for r in rows] == ["方案一 收入优先", "default copy"]


def test_unknown_names_raise_key_error(engine) -> None:
    with pytest.raises(KeyError):
        load_policy(engine, "nope")
    with pytest.raises(KeyError):
        adopt_policy(engine, "nope", principal=LEADER)


def test_an_invalid_policy_is_not_saved(engine) -> None:
    with pytest.raises(PolicyError, match="tier cut-offs"):
        save_policy(engine, replace(SCENARIO, cutoffs=(50.0, 10.0)), "bad", principal=ANALYST)
    assert list_policies(engine) == []


def test_adopt_makes_the_baseline(engine) -> None:
    _lines(engine, {2025: 8100.0})
    assert adopted_policy(engine) is None
    save_policy(engine, SCENARIO, "a", principal=ANALYST)
    save_policy(engine, replace(SCENARIO, cutoffs=(10.0, 30.0)), "b", principal=ANALYST)
    before = datetime.now() - timedelta(seconds=1)
    adopt_policy(engine, "a", principal=LEADER)
    after = datetime.now() + timedelta(seconds=1)
    base = baseline_policy(engine, 202503)
    assert base == replace(SCENARIO, name="a")
    assert base.income_line == 8050.0  # the adopted policy's own line, not the stored year's line
    row = next(r for r in list_policies(engine) if r["name"] == "a")
    assert row["adopted_by"] == "局领导 王"
    assert before <= row["adopted_at"] <= after
    assert next(r for r in list_policies(engine) if r["name"] == "b")["adopted_at"] is None
    # a later adoption wins
    adopt_policy(engine, "b", principal=DEPUTY)
    assert baseline_policy(engine, 202503).name == "b"
    assert baseline_policy(engine, 202503).cutoffs == (10.0, 30.0)
    assert adopted_policy(engine).name == "b"


def test_baseline_without_adoption_is_the_default_with_the_years_line(engine) -> None:
    # no stored line at all: the shipped default as it is
    assert baseline_policy(engine, 202503) == RiskPolicy.default()
    _lines(engine, {2023: 7500.0, 2024: 7800.0, 2025: 8100.0})
    base = baseline_policy(engine, 202503)
    assert base.income_line == 8100.0
    assert base == RiskPolicy.default(income_line=8100.0)
    assert baseline_policy(engine, 202312).income_line == 7500.0
    # saving without adopting changes nothing
    save_policy(engine, SCENARIO, "draft", principal=ANALYST)
    assert baseline_policy(engine, 202406) == RiskPolicy.default(income_line=7800.0)


def test_income_line_for(engine) -> None:
    assert income_line_for(engine, 202501) is None
    _lines(engine, {2021: 6000.0, 2023: 7500.0, 2025: 8100.0})
    assert income_line_for(engine, 202301) == 7500.0
    assert income_line_for(engine, 202312) == 7500.0
    assert income_line_for(engine, 202406) == 7500.0  # nearest earlier year
    assert income_line_for(engine, 202212) == 6000.0
    assert income_line_for(engine, 202501) == 8100.0
    assert income_line_for(engine, 203001) == 8100.0
    assert income_line_for(engine, 202001) == 6000.0  # before every stored year: the earliest
    # meta is overwritten, not duplicated
    _lines(engine, {2025: 8300.0})
    assert income_line_for(engine, 202406) == 8300.0
    assert income_line_for(engine, 202501) == 8300.0


def test_an_adopted_line_holds_in_its_year_only(engine) -> None:
    _lines(engine, {2024: 7800.0, 2025: 8100.0})
    save_policy(engine, SCENARIO, "a", principal=ANALYST)
    adopt_policy(engine, "a", principal=LEADER)
    assert baseline_policy(engine, 202501).income_line == 8050.0  # the year it was set for
    before = baseline_policy(engine, 202412)  # another year keeps its stored line, so a trend does not jump
    assert before.income_line == 7800.0 and before.line_year is None
    assert before == replace(SCENARIO, name="a", income_line=7800.0, line_year=None)


def test_a_policy_saved_without_line_year_follows_the_stored_lines(engine) -> None:
    """Policies saved before ``line_year`` existed (no key in their JSON) follow the stored lines."""
    _lines(engine, {2025: 8100.0})
    legacy = json.loads(replace(SCENARIO, line_year=None).to_json())
    assert "line_year" not in legacy
    with engine.begin() as conn:
        conn.execute(policies.insert().values(name="old", policy_json=json.dumps(legacy), created_at=datetime.now(), created_by="x"))
    adopt_policy(engine, "old", principal=LEADER)
    assert adopted_policy(engine).line_year is None and adopted_policy(engine).income_line == 8050.0
    assert baseline_policy(engine, 202503).income_line == 8100.0


def test_save_and_adopt_need_a_principal_that_may(engine) -> None:
    from fanpin.access.roles import AccessDenied

    for who in (None, Principal("tr", "trainer")):
        with pytest.raises(AccessDenied):
            save_policy(engine, SCENARIO, "x", principal=who)
    save_policy(engine, SCENARIO, "x", principal=ANALYST)
    for who in (None, ANALYST):
        with pytest.raises(AccessDenied):
            adopt_policy(engine, "x", principal=who)
    adopt_policy(engine, "x", principal=LEADER)
    row = next(r for r in list_policies(engine) if r["name"] == "x")
    assert row["created_by"] == "analyst" and row["adopted_by"] == "局领导 王"
    with engine.connect() as conn:
        audit = conn.exec_driver_sql("SELECT actor, target FROM audit_log WHERE action = 'policy_adopted' ORDER BY audit_id DESC").first()
    assert tuple(audit) == ("局领导 王", "x")
