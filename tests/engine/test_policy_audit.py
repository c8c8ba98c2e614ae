"""Issue 18 item 14: saving a scenario is audited, as the person who saved it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest

from fanpin import store
from fanpin.access.audit import AUDIT_ACTIONS, audit_query
from fanpin.access.roles import SYSTEM, Principal
from fanpin.engine.policies import save_policy
from fanpin.engine.scoring import RiskPolicy
from fanpin.store.engine import make_engine
from tests.conftest import BACKENDS, backend_url


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    eng = make_engine(backend_url(request.param, tmp_path_factory.mktemp("policy_audit")), create=True)
    store.upgrade(eng)
    yield eng
    eng.dispose()


def test_saving_a_scenario_writes_an_audit_row(engine) -> None:
    analyst = Principal("wang.analyst", "analyst")
    policy = RiskPolicy(weights={"income_ratio": 0.6, "medical_burden": 0.4}, income_line=8050.0, cutoffs=(20.0, 35.0))
    pid = save_policy(engine, policy, "收入线8050", principal=analyst)
    save_policy(engine, policy, "收入线8050", principal=analyst)  # overwritten: audited again
    assert "policy_saved" in AUDIT_ACTIONS
    log, _ = audit_query(engine, action="policy_saved", principal=SYSTEM)
    assert len(log) == 2
    row = log.iloc[0]
    assert (row["actor"], row["target"]) == (analyst.actor, "收入线8050")
    assert json.loads(row["detail"]) == {"policy_id": pid, "income_line": 8050.0, "cutoffs": "20 / 35"}
