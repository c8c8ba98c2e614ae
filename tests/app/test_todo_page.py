"""我的待办 as a case worker sees it (issue 19: "a case worker's first page lists exactly their waiting
items; the count in the sidebar matches"): after login a one-township case worker lands on the page;
its table lists the items ``workflow.todo.my_work`` gives for them (another township's never), the
sidebar's link carries the same count, and the count follows when an item is added."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from fanpin.access.roles import SYSTEM, Principal
from fanpin.core.i18n import translate
from fanpin.store import schema as S
from fanpin.workflow import orders, todo

from .conftest import ensure_user, login, new_app


def _towns_and_households(db) -> tuple[list[str], dict[str, list[str]]]:
    with db.connect() as conn:
        rows = conn.execute(select(S.households.c.household_id, S.households.c.township_code).order_by(S.households.c.household_id)).all()
    by_town: dict[str, list[str]] = {}
    for hid, town in rows:
        by_town.setdefault(town, []).append(hid)
    return sorted(by_town), by_town


def _order(db, hid: str, town: str, at: datetime) -> int:
    return orders.create_order(db, assignee_kind="township", assignee=town, household_id=hid, principal=SYSTEM, now=at)


def _todo_link(at) -> str:
    links = [p.proto for p in at.get("page_link") if p.proto.page == "todo"]
    assert len(links) == 1, [p.proto.page for p in at.get("page_link")]
    return links[0].label


def _table_households(at) -> list[str]:
    frames = [d.value for d in at.dataframe]
    assert frames, "the list of items is drawn"
    data = frames[0].data if hasattr(frames[0], "data") else frames[0]
    return list(data["household_id"])


def test_a_case_workers_first_page_lists_exactly_their_items_and_the_sidebar_counts_them(demo_copy) -> None:
    db = demo_copy
    towns, by_town = _towns_and_households(db)
    mine, other = towns[0], towns[1]
    now = datetime.now()
    _order(db, by_town[mine][0], mine, now - timedelta(days=30))  # overdue
    _order(db, by_town[mine][1], mine, now - timedelta(days=1))
    _order(db, by_town[other][0], other, now - timedelta(days=30))  # another township's
    name = ensure_user("case_worker", "cw_todo", townships=[mine])
    me = Principal(name, "case_worker", frozenset({mine}))
    expected = todo.my_work(db, principal=me, today=date.today())
    assert expected.count == 2 and expected.overdue == 1

    at = new_app()
    at.run()
    login(at, name)
    assert not at.exception, at.exception
    assert at.title[0].value == translate("todo.title", "zh"), "a case worker's first page is 我的待办"
    assert _table_households(at) == list(expected.items["household_id"]), "exactly their items, overdue first"
    assert by_town[other][0] not in _table_households(at)
    assert _todo_link(at) == translate("nav.todo_count", "zh", n=expected.count)
    assert [m.value for m in at.metric][:2] == ["2", "1"]

    _order(db, by_town[mine][2], mine, now)  # one more arrives
    at.run()
    assert _todo_link(at) == translate("nav.todo_count", "zh", n=3)
    assert len(_table_households(at)) == 3
