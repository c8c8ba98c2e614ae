"""Roles x pages x actions, masking (张*), case-worker scoping, and the domain functions' refusals,
on SQLite and PostgreSQL (a hand-made county of two townships and four households)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy import func, insert, select

from fanpin import store
from fanpin.access import audit, masking, roles
from fanpin.access.roles import SYSTEM, AccessDenied, Principal
from fanpin.engine.policies import adopt_policy, save_policy
from fanpin.engine.scoring import RiskPolicy
from fanpin.model import suggest
from fanpin.store import schema as S
from fanpin.workflow import clues, elimination, monitoring, orders, procedure
from fanpin.workflow import profile as P
from tests.conftest import insert_tiny_regions
from tests.workflow.chain import version_of, walk

T1, T2 = "990101001000", "990101002000"
V1, V2 = "990101001001", "990101002001"
HH = ["99010100100100001", "99010100100100002", "99010100200100003", "99010100200100004"]

ADMIN = Principal("root", "admin")
ANALYST = Principal("ana", "analyst")
LEADER = Principal("boss", "leader")
CW1 = Principal("cw1", "case_worker", frozenset({T1}))
CW2 = Principal("cw2", "case_worker", frozenset({T2}))
TRAINER = Principal("tr", "trainer")
STEWARD = Principal("ds", "data_steward")

# ---------------------------------------------------------------- the matrices, written out by hand
EXPECTED_PAGES = {
    "leader": {"todo", "overview", "map", "simulator", "register", "model", "training", "quality"},
    "analyst": {"overview", "map", "simulator", "profile", "clues", "register", "model", "training", "quality"},
    "case_worker": {"todo", "overview", "map", "profile", "clues", "register", "training", "quality"},
    "township_leader": {"todo", "overview", "map", "profile", "clues", "register", "quality"},
    "trainer": {"overview", "map", "training"},
    "data_steward": {"overview", "map", "profile", "clues", "import", "quality"},
    "admin": set(roles.PAGES),
    "province_leader": {"overview", "map", "simulator"},
    "city_leader": {"overview", "map", "simulator"},
}
EXPECTED_ACTIONS = {
    "leader": {"export", "policy_save", "policy_adopt", "case_county"},
    "analyst": {"household_view", "unmask", "export", "policy_save", "model_train", "model_to_clues", "clue_generate"},
    "case_worker": {
        "household_view", "unmask", "export", "clue_add", "clue_generate", "order_create", "order_work", "order_decide",
        "elimination_propose", "case_local",
    },
    "township_leader": {"household_view", "export", "case_local"},
    "trainer": set(),
    "data_steward": {"household_view", "export", "import", "clue_add"},
    "admin": set(roles.PERMISSIONS),
    "province_leader": {"export"},
    "city_leader": {"export"},
}


@pytest.mark.parametrize("role", roles.ROLES)
def test_role_page_matrix(role: str) -> None:
    assert {p for p in roles.PAGES if roles.can_open(role, p)} == EXPECTED_PAGES[role]
    assert {p for p in roles.PAGES if roles.can(Principal("u", role), f"page:{p}")} == EXPECTED_PAGES[role]


@pytest.mark.parametrize("role", roles.ROLES)
def test_role_action_matrix(role: str) -> None:
    principal = Principal("u", role, frozenset({T1}) if role == "case_worker" else None)
    assert {a for a in roles.PERMISSIONS if roles.can(principal, a)} == EXPECTED_ACTIONS[role]
    for action in roles.PERMISSIONS:
        if action in EXPECTED_ACTIONS[role]:
            roles.require(principal, action)
        else:
            with pytest.raises(AccessDenied) as exc:
                roles.require(principal, action)
            assert exc.value.code == action


def test_only_the_admin_manages_users_and_reads_the_audit_log() -> None:
    assert [r for r in roles.ROLES if roles.can(r, "user_manage")] == ["admin"]
    assert [r for r in roles.ROLES if roles.can(r, "audit_view")] == ["admin"]
    assert [r for r in roles.ROLES if roles.can_open(r, "admin")] == ["admin"]


def test_unknown_action_and_unknown_role() -> None:
    with pytest.raises(ValueError):
        roles.can(ADMIN, "drop_tables")
    assert not roles.can(Principal("x", "superuser"), "export")
    assert not roles.can_open("superuser", "overview")
    assert not roles.can(None, "export")
    with pytest.raises(AccessDenied):
        roles.require(None, "export")


# ---------------------------------------------------------------- masking
@pytest.mark.parametrize(
    "name,masked", [("张三", "张*"), ("张三丰", "张*"), ("欧阳娜娜", "欧*"), ("李", "李*"), ("", ""), (None, "")]
)
def test_mask_name_keeps_the_surname_and_one_star(name, masked) -> None:
    assert masking.mask_name(name) == masked


def test_mask_id_number_and_phone() -> None:
    assert masking.mask_id_number("99010119900307123X") == "990101********123X"
    assert masking.mask_id_number("1234567890") == "**********"
    assert masking.mask_phone("13912345678") == "139****5678"
    assert masking.mask_phone("1234567") == "*******"
    assert masking.mask_id_number(None) == "" and masking.mask_phone("") == ""


def test_mask_frame_masks_every_personal_column_and_nothing_else() -> None:
    f = pd.DataFrame({"name": ["王小明", None], "id_number": ["99010119900307123X", "990101200001011234"], "phone": ["13912345678", None], "size": [3, 4]})
    m = masking.mask_frame(f)
    assert m["name"].tolist()[0] == "王*" and pd.isna(m["name"].iloc[1])
    assert m["id_number"].tolist() == ["990101********123X", "990101********1234"]
    assert m["phone"].tolist()[0] == "139****5678"
    assert m["size"].tolist() == [3, 4]
    assert f["name"].iloc[0] == "王小明"  # a copy: the original is untouched
    assert masking.is_masked(m["id_number"]) and not masking.is_masked(f["id_number"])


# ---------------------------------------------------------------- scoping
def test_scope_frame_keeps_a_case_workers_townships_only() -> None:
    f = pd.DataFrame({"household_id": HH, "township_code": [T1, T1, T2, T2]})
    assert roles.scope_frame(f, CW1)["household_id"].tolist() == HH[:2]
    assert roles.scope_frame(f, CW2)["household_id"].tolist() == HH[2:]
    assert roles.scope_frame(f, ANALYST) is f
    with pytest.raises(AccessDenied):  # no principal is refused, never read as "all"
        roles.scope_frame(f, None)
    assert roles.scope_frame(f.drop(columns="township_code"), CW1).empty  # fails closed
    nobody = Principal("n", "case_worker", frozenset())
    assert roles.scope_frame(f, nobody).empty
    assert roles.scope_ids(HH, f.set_index("household_id")["township_code"], CW2) == HH[2:]


def _db(url: str):
    engine = store.make_engine(url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
        conn.execute(insert(S.households), [
            {"household_id": h, "village_code": V1 if i < 2 else V2, "township_code": T1 if i < 2 else T2, "household_type": "ordinary", "size": 3,
             "relocated": False, "no_labour_guarantee": False, "in_cooperative": False, "phone": f"1391234567{i}"}
            for i, h in enumerate(HH)
        ])
        conn.execute(insert(S.members), [
            {"household_id": h, "name": "张三丰", "id_number": f"99010119900307{i:03d}X", "sex": "M", "birth_date": date(1990, 3, 7),
             "relation": "head", "labour_capacity": "normal"}
            for i, h in enumerate(HH)
        ])
    return engine


@pytest.fixture
def eng(db_url: str):
    engine = _db(db_url)
    yield engine
    engine.dispose()


def _audit(engine, action: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(S.audit_log.c.actor, S.audit_log.c.target).where(S.audit_log.c.action == action).order_by(S.audit_log.c.audit_id))]


def test_require_household_refuses_outside_and_unknown_alike(eng) -> None:
    roles.require_household(CW1, eng, HH[0], "household_view")
    roles.require_household(ANALYST, eng, HH[3], "household_view")
    for hid in (HH[2], "no-such-household"):
        with pytest.raises(AccessDenied) as exc:
            roles.require_household(CW1, eng, hid, "household_view")
        assert exc.value.code == "township"
    with pytest.raises(AccessDenied) as exc:
        roles.require_household(LEADER, eng, HH[0], "household_view")
    assert exc.value.code == "household_view"


def test_profile_search_and_detail_are_scoped(eng) -> None:
    assert P.find_households(eng, "990101", principal=CW1)["household_id"].tolist() == HH[:2]
    assert P.find_households(eng, "990101", principal=CW2)["household_id"].tolist() == HH[2:]
    assert P.find_households(eng, "990101", principal=ANALYST)["household_id"].tolist() == HH
    assert P.find_households(eng, None, township=T2, principal=CW1).empty
    assert P.household_detail(eng, HH[0], principal=CW1).household["household_id"] == HH[0]
    with pytest.raises(AccessDenied):
        P.household_detail(eng, HH[2], principal=CW1)
    with pytest.raises(AccessDenied):
        P.household_detail(eng, HH[0], principal=TRAINER)


def test_unmask_is_refused_and_logged_by_the_domain(eng) -> None:
    P.unmask(eng, CW1, HH[0], {"page": "test"})
    for who, hid in ((CW1, HH[2]), (STEWARD, HH[0]), (LEADER, HH[0])):
        with pytest.raises(AccessDenied):
            P.unmask(eng, who, hid)
    assert _audit(eng, "unmask") == [("cw1", HH[0])]
    # what the page shows by default: 张*, the ID masked
    d = P.household_detail(eng, HH[0], principal=CW1)
    shown = P.members_masked(d.members, unmask=False)
    assert shown["name"].tolist() == ["张*"] and shown["id_number"].tolist() == ["990101********000X"]
    assert P.phone_shown(d.household) == "139****5670"


def test_workflow_refuses_roles_and_townships(eng) -> None:
    cid = clues.add_clue(eng, HH[0], 202412, "cadre_visit", "cadre", "illness", principal=CW1)
    with pytest.raises(AccessDenied):
        clues.add_clue(eng, HH[2], 202412, "cadre_visit", "cadre", "illness", principal=CW1)
    with pytest.raises(AccessDenied):
        clues.add_clue(eng, HH[0], 202412, "cadre_visit", "cadre", "illness", principal=LEADER)
    # an order about another township's household, by clue or by ID, is refused (and nothing is written)
    cid2 = clues.add_clue(eng, HH[2], 202412, "cadre_visit", "cadre", "water", principal=SYSTEM)
    with pytest.raises(AccessDenied):
        orders.create_order(eng, clue_ids=[cid2], assignee_kind="township", assignee=T2, principal=CW1)
    with pytest.raises(AccessDenied):
        orders.create_order(eng, household_id=HH[3], assignee_kind="township", assignee=T2, principal=CW1)
    with pytest.raises(AccessDenied) as exc:  # an unknown ID gets the same answer as one elsewhere
        orders.create_order(eng, household_id="nope", assignee_kind="township", assignee=T1, principal=CW1)
    assert exc.value.code == "township"
    assert orders.list_orders(eng, principal=SYSTEM).empty
    oid = orders.create_order(eng, clue_ids=[cid], assignee_kind="township", assignee=T1, principal=CW1)
    # lists: each case worker sees their own township's clues and orders
    assert clues.clue_inbox(eng, principal=CW1, statuses=("new", "ordered"))["household_id"].tolist() == [HH[0]]
    assert clues.clue_inbox(eng, principal=CW2)["household_id"].tolist() == [HH[2]]
    assert len(clues.clue_inbox(eng, statuses=("new", "ordered"), principal=SYSTEM)) == 2
    assert orders.list_orders(eng, principal=CW2).empty and orders.list_orders(eng, principal=CW1)["order_id"].tolist() == [oid]
    assert orders.closed_loop(eng, principal=CW2).orders == 0 and orders.closed_loop(eng, principal=CW1).orders == 1
    with pytest.raises(AccessDenied):
        orders.get_order(eng, oid, principal=CW2)
    # working and deciding: the other township's case worker and the leader are refused
    with pytest.raises(AccessDenied):
        orders.start_verification(eng, oid, 1, principal=CW2)
    with pytest.raises(AccessDenied):
        orders.decide_order(eng, oid, 1, included=True, period=202412, category="marginal", risk_types=["illness"], principal=LEADER)
    assert orders.get_order(eng, oid, principal=SYSTEM)["version"] == 1
    orders.start_verification(eng, oid, 1, principal=CW1)
    case_id = orders.decide_order(eng, oid, 2, included=True, period=202412, category="marginal", risk_types=["illness"], findings="核实", principal=CW1, now=datetime(2024, 12, 19))
    assert _audit(eng, "order_decided") == [("cw1", f"order:{oid}")]
    assert _audit(eng, "order_created") == [("cw1", f"order:{oid}")]
    # the township's steps by the township, the county's by the county; the other township is refused
    now = datetime(2024, 12, 20, 9)
    with pytest.raises(AccessDenied):
        procedure.village_review(eng, case_id, 1, passed=True, meeting_date=now.date(), principal=CW2, now=now)
    with pytest.raises(AccessDenied):
        procedure.village_review(eng, case_id, 1, passed=True, meeting_date=now.date(), principal=LEADER, now=now)
    assert procedure.cases(eng, principal=CW2).empty and len(procedure.cases(eng, principal=CW1)) == 1
    walk(eng, case_id, local=CW1, checker=Principal("tl1", "township_leader", frozenset({T1})), county=LEADER, start=now)
    assert monitoring.register(eng, principal=CW1)["household_id"].tolist() == [HH[0]]
    assert monitoring.register(eng, principal=CW2).empty
    assert monitoring.monitoring_history(eng, principal=CW2).empty and len(monitoring.monitoring_history(eng, principal=CW1)) == 1


def test_the_county_step_is_the_countys_and_the_township_step_the_townships(eng) -> None:
    with eng.begin() as conn:
        conn.execute(insert(S.monitoring).values(household_id=HH[2], period=202412, status="monitored", category="marginal", recorded_at=datetime(2024, 12, 1), recorded_by="cw2"))
    _six_months_above(eng, HH[2])
    cw2 = Principal("cw2", "case_worker", frozenset({T2}))
    pid = elimination.propose_elimination(eng, HH[2], 202412, "natural", principal=cw2, now=datetime(2024, 12, 20, 9))
    case_id = int(procedure.cases(eng, principal=SYSTEM).iloc[0]["case_id"])
    walk(eng, case_id, local=cw2, checker=Principal("tl2", "township_leader", frozenset({T2})), county=LEADER, start=datetime(2024, 12, 21, 9), until="township_check")
    for who in (CW1, ANALYST, STEWARD, cw2, TRAINER):
        with pytest.raises(AccessDenied):
            procedure.county_approval(eng, case_id, version_of(eng, case_id), passed=True, principal=who, now=datetime(2025, 1, 5))
    procedure.county_approval(eng, case_id, version_of(eng, case_id), passed=True, principal=LEADER, now=datetime(2025, 1, 5))
    assert _audit(eng, "elimination_approved") == [("boss", HH[2])]
    assert monitoring.monitoring_history(eng, HH[2], principal=SYSTEM)["status"].tolist()[-1] == "eliminated" and pid
    with pytest.raises(AccessDenied):
        elimination.propose_elimination(eng, HH[2], 202412, "natural", principal=CW1)


def _six_months_above(eng, hid: str) -> None:
    with eng.begin() as conn:
        store.set_meta(conn, "income_lines", '{"2024": 7800.0}')
        conn.execute(insert(S.panel), [
            {"period": p, "household_id": hid, "income_net": 30000.0, "income_pc": 9999.0, "medical_oop": 0.0, "schooling_cost": 0.0, "disaster_loss": 0.0}
            for p in (202407, 202408, 202409, 202410, 202411, 202412)
        ])


def test_policy_adoption_and_model_clues_need_the_role(eng) -> None:
    pol = RiskPolicy.default(income_line=8000.0)
    with pytest.raises(AccessDenied):
        save_policy(eng, pol, "s1", principal=CW1)
    save_policy(eng, pol, "s1", principal=ANALYST)
    for who in (ANALYST, CW1, TRAINER):
        with pytest.raises(AccessDenied):
            adopt_policy(eng, "s1", principal=who)
    adopt_policy(eng, "s1", principal=LEADER)
    assert _audit(eng, "policy_adopted") == [("boss", "s1")]

    picked = pd.DataFrame({"probability": [0.8], "risk_type": ["illness"], "factor_1": ["inc_ratio"]}, index=pd.Index([HH[0]], name="household_id"))
    for who in (LEADER, CW1, STEWARD):
        with pytest.raises(AccessDenied):
            suggest.send_to_clues(eng, picked, 202412, 6, principal=who)
    with pytest.raises(AccessDenied):  # no principal is refused, never "check nothing"
        suggest.send_to_clues(eng, picked, 202412, 6, principal=None)
    assert suggest.send_to_clues(eng, picked, 202412, 6, principal=ANALYST) == 1
    assert _audit(eng, "model_to_clues") == [("ana", "1 households")]
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.clues).where(S.clues.c.source == "model")).scalar() == 1


def test_audit_query_filters_and_treats_text_as_data(eng) -> None:
    from fanpin.access.audit import record

    record(eng, "cw1", "household_view", HH[0], {"page": "profile"}, at=datetime(2024, 12, 1, 9))
    record(eng, "cw1", "unmask", HH[0], at=datetime(2024, 12, 2, 9))
    record(eng, "ana", "household_view", HH[2], at=datetime(2024, 12, 3, 9))
    log, n = audit.audit_query(eng, principal=SYSTEM)
    assert n == 3 and log["actor"].tolist() == ["ana", "cw1", "cw1"]  # newest first
    assert audit.audit_query(eng, principal=SYSTEM, actor="cw1")[1] == 2
    assert audit.audit_query(eng, principal=SYSTEM, action="household_view")[0]["target"].tolist() == [HH[2], HH[0]]
    assert audit.audit_query(eng, principal=SYSTEM, target_contains="0200")[0]["target"].tolist() == [HH[2]]
    assert audit.audit_query(eng, principal=SYSTEM, target=HH[0])[0]["action"].tolist() == ["unmask", "household_view"]
    assert audit.audit_query(eng, principal=SYSTEM, target=HH[0][:-1])[1] == 0  # exact, not a prefix
    assert audit.audit_query(eng, principal=SYSTEM, target="%")[1] == 0
    assert audit.audit_query(eng, principal=SYSTEM, since=date(2024, 12, 2), until=date(2024, 12, 2))[0]["action"].tolist() == ["unmask"]
    for text in ("' OR 1=1 --", "%", "_", "<script>alert(1)</script>"):
        assert audit.audit_query(eng, principal=SYSTEM, target_contains=text)[1] == 0
    assert audit.audit_actors(eng, principal=SYSTEM) == ["ana", "cw1"]
    assert audit.audit_actions(eng, principal=SYSTEM) == ["household_view", "unmask"]
    for who in (ANALYST, LEADER, CW1, TRAINER, STEWARD):  # reading the log is the administrator's
        with pytest.raises(AccessDenied):
            audit.audit_query(eng, principal=who)
        with pytest.raises(AccessDenied):
            audit.audit_actors(eng, principal=who)
    assert audit.audit_query(eng, principal=SYSTEM, limit=1)[0].shape[0] == 1 and audit.audit_query(eng, principal=SYSTEM, limit=1)[1] == 3
