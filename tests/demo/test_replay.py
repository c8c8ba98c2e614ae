"""The demo county opens with monitoring work under way, written by the real workflow functions."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import SYSTEM
from fanpin.demo.build import build_demo
from fanpin.demo.plant import planted_counts
from fanpin.demo.spec import DemoSpec
from fanpin.quality import rules as R
from fanpin.store import schema as S
from fanpin.store.io import shift_period
from fanpin.workflow import common, elimination, monitoring, procedure
from fanpin.workflow import orders as orders_mod
from tests.conftest import backend_url

SPEC = DemoSpec(households=600, months=18, start=202401, townships=4, villages=12, seed=3)
KEYS = ("orders", "decided", "overdue", "monitored", "eliminated")


def _build(url: str, spec: DemoSpec):
    engine = store.make_engine(url, create=True)
    store.upgrade(engine)
    return engine, build_demo(engine, spec)


def _table(engine, table, order_by: str) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c[order_by])).all()
    return pd.DataFrame(rows, columns=[c.name for c in table.columns])


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory):
    engine, counts = _build(f"sqlite:///{tmp_path_factory.mktemp('wf') / 'w.db'}", SPEC)
    yield engine, counts
    engine.dispose()


def test_counts_are_reported(county) -> None:
    engine, counts = county
    got = {k: counts[f"workflow_{k}"] for k in KEYS}
    assert all(v > 0 for v in got.values()), got
    assert got["decided"] <= got["orders"]
    assert got["orders"] == len(_table(engine, S.orders, "order_id"))


def test_orders_come_from_clues(county) -> None:
    engine, _ = county
    orders = _table(engine, S.orders, "order_id")
    oc = _table(engine, S.order_clues, "clue_id")
    clues = _table(engine, S.clues, "clue_id").set_index("clue_id")
    assert len(orders) > 0 and set(oc["order_id"]) == set(orders["order_id"])  # every order has its clues
    assert orders["household_id"].is_unique  # one order per household
    j = oc.join(clues, on="clue_id").merge(orders, on="order_id", suffixes=("_clue", ""))
    assert (j["household_id_clue"] == j["household_id"]).all()
    decided = j["state"] == "decided"
    assert (j.loc[decided, "status"] == "closed").all() and (j.loc[~decided, "status"] == "ordered").all()
    first = j.groupby("order_id")["received_at"].min()
    o = orders.set_index("order_id")
    assert (o["first_clue_at"] == first.reindex(o.index)).all()
    assert (pd.to_datetime(o["due_date"]) == pd.to_datetime(o["first_clue_at"]).dt.normalize() + timedelta(days=common.DUE_DAYS)).all()
    # within the demo's months: created after the first clue, nothing after the last month's end
    end = pd.Timestamp(common.as_of_date(SPEC.periods[-1])) + timedelta(days=1)
    assert (o["created_at"] > o["first_clue_at"]).all()
    assert (o[["created_at", "updated_at"]] < end).all().all() and (o["decided_at"].dropna() < end).all()
    assert (o["created_at"] >= pd.Timestamp(f"{SPEC.start // 100}-{SPEC.start % 100:02d}-01")).all()


def test_decisions_were_made_by_workflow_calls(county) -> None:
    engine, counts = county
    o = _table(engine, S.orders, "order_id")
    d = o[o["state"] == "decided"]
    assert len(d) == counts["workflow_decided"] > 0
    assert (d["decided_at"] >= d["created_at"]).all() and d["decided_by"].notna().all()
    assert (d["updated_by"] == d["decided_by"]).all() and (d["updated_at"] == d["decided_at"]).all()
    assert (d["version"] == 3).all()  # created (1), verification started (2), decided (3)
    assert set(o.loc[o["state"] == "verifying", "version"]) <= {2} and set(o.loc[o["state"] == "open", "version"]) <= {1}
    inc = d[d["decision"] == "included"]
    assert inc["category"].isin(common.CATEGORIES).all()
    assert inc["risk_types"].map(lambda s: bool(s) and all(r in common.RISK_TYPES for r in s.split(","))).all()
    assert d.loc[d["decision"] == "not_included", "reason"].str.len().gt(0).all()
    # an included order identified its household that month: one "monitored" row pointing at it
    mon = _table(engine, S.monitoring, "record_id")
    first = mon[mon["order_id"].notna() & (mon["status"] == "monitored") & mon["proposal_id"].isna()]
    assert sorted(first["order_id"].astype(int)) == sorted(inc["order_id"])
    m = first.set_index(first["order_id"].astype(int)).loc[inc["order_id"]]
    assert (m["period"].to_numpy() == inc["decided_at"].dt.strftime("%Y%m").astype(int).to_numpy()).all()
    assert (m["recorded_by"].to_numpy() == inc["decided_by"].to_numpy()).all()
    # audit rows in the same transactions, at the same times
    audit = _table(engine, S.audit_log, "audit_id")
    created = audit[audit["action"] == "order_created"]
    assert len(created) == len(o) and sorted(created["at"]) == sorted(o["created_at"])
    assert sorted(audit.loc[audit["action"] == "order_decided", "at"]) == sorted(d["decided_at"])
    assert set(created["actor"]) <= {"leader_demo"} | {a for a in audit["actor"] if a.startswith("cw_")}


def test_closed_loop_shows_work_under_way(county) -> None:
    engine, counts = county
    loop = orders_mod.closed_loop(engine, common.as_of_date(SPEC.periods[-1]), principal=SYSTEM)
    assert loop.orders > 0 and loop.decided > 0 and loop.overdue > 0
    assert (loop.orders, loop.decided, loop.overdue) == (counts["workflow_orders"], counts["workflow_decided"], counts["workflow_overdue"])
    assert loop.decided < loop.orders  # some still open or verifying in the last months
    assert loop.median_days is not None and loop.median_days <= common.DUE_DAYS
    assert loop.overdue < loop.orders / 2


def test_register_lists_the_monitored(county) -> None:
    engine, counts = county
    reg = monitoring.register(engine, principal=SYSTEM)
    planted = store.load_json_meta(engine, "planted_households")["eliminated_too_fast"]
    ours = reg[~reg["household_id"].isin(_planted_monitoring(engine))]
    assert len(ours) == counts["workflow_monitored"] > 0
    assert not set(planted) & set(ours["household_id"])
    assert ours["category"].isin(common.CATEGORIES).all() and ours["since"].notna().all()


def _planted_monitoring(engine) -> set[str]:
    mon = _table(engine, S.monitoring, "record_id")
    return set(mon.loc[mon["recorded_by"] == "demo_cadre", "household_id"])


def test_eliminations_were_approved_by_a_second_person_and_not_too_fast(county) -> None:
    engine, counts = county
    mon = _table(engine, S.monitoring, "record_id")
    ours = mon[~mon["household_id"].isin(_planted_monitoring(engine))]
    elim = ours[ours["status"] == "eliminated"]
    assert len(elim) == counts["workflow_eliminated"] > 0
    props = mon.set_index("record_id").loc[elim["proposal_id"].astype(int)]
    assert (props["status"] == "proposed").all()
    assert (props["recorded_by"].to_numpy() == elim["recorded_by"].to_numpy()).all()  # the proposer
    assert (elim["approved_by"].notna() & (elim["approved_by"] != elim["recorded_by"])).all()
    assert elim["method"].isin(common.METHODS).all()
    for hid, period in zip(elim["household_id"], elim["period"]):  # a handful
        h = ours[ours["household_id"] == hid]
        identified = int(h.loc[h["status"] == "monitored", "period"].min())
        assert not monitoring.early_elimination(identified, int(period))
        assert int(period) >= shift_period(identified, 3)
        if int(period) < SPEC.periods[-1]:  # planting may touch the last month's panel cells
            assert elimination.elimination_eligibility(engine, [hid], int(period), principal=SYSTEM).row(hid)["eligible"]
    # the only too-fast eliminations are the planted ones
    early = monitoring.early_eliminations(engine, principal=SYSTEM)
    assert set(early["household_id"]) <= set(store.load_json_meta(engine, "planted_households")["eliminated_too_fast"])
    audit = _table(engine, S.audit_log, "audit_id")
    assert (audit["action"] == "elimination_approved").sum() == len(elim)


def test_planting_still_accounts_for_every_finding(county) -> None:
    engine, counts = county
    f = R.find(engine, principal=SYSTEM)
    assert f["rule"].value_counts().reindex([r.code for r in R.RULES], fill_value=0).to_dict() == planted_counts(engine)
    assert {k[len("planted_"):]: v for k, v in counts.items() if k.startswith("planted_")} == planted_counts(engine)


def test_same_seed_same_work(county, tmp_path) -> None:
    engine, counts = county
    other, counts2 = _build(f"sqlite:///{tmp_path / 'again.db'}", SPEC)
    try:
        assert counts2 == counts
        for table, key in ((S.orders, "order_id"), (S.order_clues, "clue_id"), (S.monitoring, "record_id"), (S.audit_log, "audit_id")):
            pd.testing.assert_frame_equal(_table(engine, table, key), _table(other, table, key))
    finally:
        other.dispose()


def test_small_demo_fixture_has_no_work(small_demo) -> None:
    """The shared fixture builds without the seeding (workflow=False): tests there count their own orders."""
    engine, spec = small_demo
    assert spec.workflow is False
    assert _table(engine, S.orders, "order_id").empty


@pytest.mark.pg
def test_postgresql_holds_the_same_work(tmp_path) -> None:
    spec = DemoSpec(households=300, months=15, start=202401, townships=3, villages=9, seed=5)
    pg, counts = _build(backend_url("postgresql", tmp_path), spec)
    lite, counts2 = _build(f"sqlite:///{tmp_path / 'lite.db'}", spec)
    try:
        assert counts == counts2 and counts["workflow_orders"] > 0 and counts["workflow_decided"] > 0
        for table, key in ((S.orders, "order_id"), (S.monitoring, "record_id")):
            pd.testing.assert_frame_equal(_table(pg, table, key), _table(lite, table, key), check_dtype=False)
        assert orders_mod.closed_loop(pg, common.as_of_date(spec.periods[-1]), principal=SYSTEM).overdue == counts["workflow_overdue"]
    finally:
        pg.dispose()
        lite.dispose()


def test_cases_passed_the_official_procedure_by_different_people(county) -> None:
    engine, _counts = county
    cases = procedure.cases(engine, principal=SYSTEM)
    steps = procedure.steps(engine, cases["case_id"].tolist(), principal=SYSTEM)
    # the replay's own (the planted supervision cases, opened by demo_cadre, skip or shorten steps on purpose)
    cases = cases[cases["opened_by"] != "demo_cadre"]
    steps = steps[steps["case_id"].isin(cases["case_id"])]
    approved = cases[cases["state"] == "approved"]
    assert len(approved) > 0 and set(approved["kind"]) == {"inclusion", "elimination"}
    by_case = steps.groupby("case_id")
    order = by_case["step"].agg(list)
    assert all(order[c] == ["opened", "village_review", "notice", "township_check", "county_approval"] for c in approved["case_id"])
    who = steps.pivot_table(index="case_id", columns="step", values="done_by", aggfunc="last").loc[approved["case_id"]]
    assert (who["township_check"] != who["opened"]).all() and (who["county_approval"] != who["township_check"]).all()
    notice = steps[steps["step"] == "notice"].set_index("case_id")
    check = steps[steps["step"] == "township_check"].set_index("case_id")
    ended = pd.to_datetime(notice.loc[check.index, "notice_end"]).dt.date
    assert (pd.to_datetime(check["done_at"]).dt.date >= ended).all()  # no township check before the notice ended
    # an approved inclusion is on the register since its month; the register's households all passed the chain or were planted
    reg = monitoring.register(engine, include_eliminated=True, principal=SYSTEM)
    inc = approved[approved["kind"] == "inclusion"]
    assert set(inc["household_id"]) <= set(reg["household_id"])
