"""A case worker's monthly brief shows the closed loop of their own townships only (issue 17): the
order counts, the by-township table, its spreadsheet sheet and the overdue rule never name
another township's orders."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.report import brief as B
from fanpin.report import tables as T
from fanpin.store import schema as S
from fanpin.workflow.orders import create_order
from tests.conftest import copy_sqlite

TODAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def three_towns(small_demo, tmp_path_factory):
    """A copy of the small demo with overdue orders in three townships: 6, 5 and 2 of them."""
    engine, spec = small_demo
    eng = store.make_engine(copy_sqlite(engine, tmp_path_factory.mktemp("scope") / "scope.db"))
    y, m = divmod(spec.periods[-1], 100)
    start = datetime(y, m, 1, 9, 0)
    with eng.connect() as conn:
        h = S.households.c
        towns = [r[0] for r in conn.execute(select(h.township_code).distinct().order_by(h.township_code).limit(3))]
        picked = {t: [r[0] for r in conn.execute(select(h.household_id).where(h.township_code == t).order_by(h.household_id).limit(n))] for t, n in zip(towns, (6, 5, 2))}
    for t, hids in picked.items():
        for hid in hids:
            create_order(eng, assignee_kind="township", assignee=t, principal=SYSTEM, household_id=hid, now=start)
    yield eng, spec, towns
    eng.dispose()


def test_a_case_workers_brief_counts_only_their_townships_orders(three_towns) -> None:
    engine, spec, (a, b, c) = three_towns
    period = spec.periods[-1]
    full = B.compute_brief(engine, period, principal=Principal("ld", "leader"), today=TODAY, model=None)
    assert full.loop.orders == 13 and set(full.loop.by_township["township_code"]) == {a, b, c}
    mine = B.compute_brief(engine, period, principal=Principal("cw", "case_worker", frozenset({b})), today=TODAY, model=None)
    assert (mine.loop.orders, mine.loop.overdue) == (5, 5)
    assert list(mine.loop.by_township["township_code"]) == [b]
    assert mine.loop.by_township["orders"].tolist() == [5]
    # the spreadsheet's closed-loop sheet and the overdue action name only the worker's township
    sheet = next(f for f in T.tables(mine, "zh").values() if "超期工单" in f.columns or "工单数" in f.columns)
    assert sheet.iloc[:, 0].tolist() == [mine.name(b, "zh")]
    assert {act.township_code for act in full.actions if act.code == "overdue"} == {a, b}
    assert {act.township_code for act in mine.actions if act.code == "overdue"} == {b}


def test_a_case_worker_of_a_township_without_orders_sees_none(three_towns) -> None:
    engine, spec, towns = three_towns
    with engine.connect() as conn:
        other = conn.execute(select(S.regions.c.region_code).where(S.regions.c.level == "township", S.regions.c.region_code.not_in(towns)).limit(1)).scalar_one()
    mine = B.compute_brief(engine, spec.periods[-1], principal=Principal("cw", "case_worker", frozenset({other})), today=TODAY, model=None)
    assert mine.loop.orders == 0 and mine.loop.by_township.empty and mine.loop.by_department.empty
