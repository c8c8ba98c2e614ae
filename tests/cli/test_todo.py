"""`fanpin todo --user NAME`: the user's daily digest, exactly ``my_work``'s items, to stdout or a
file, in the chosen language, audited; unknown and disabled accounts refused with exit code 2."""

from __future__ import annotations

import getpass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access import users
from fanpin.access.roles import SYSTEM, Principal
from fanpin.cli.main import main
from fanpin.core.i18n import translate
from fanpin.store import schema as S
from fanpin.workflow import orders, todo
from tests.conftest import copy_sqlite
from tests.workflow.chain import decide, walk

DAY = date(2025, 3, 20)


@pytest.fixture(scope="module")
def db(small_demo, tmp_path_factory):
    """A copy of the small demo with two case workers' accounts, orders in both their townships
    (one overdue), a case waiting for its village review and one past its notice, and a disabled account."""
    engine, _spec = small_demo
    url = copy_sqlite(engine, tmp_path_factory.mktemp("cli_todo") / "demo.db")
    eng = store.make_engine(url)
    h = S.households.c
    with eng.connect() as conn:
        t1, t2 = [r[0] for r in conn.execute(select(h.township_code).distinct().order_by(h.township_code).limit(2))]
        hids = {t: [r[0] for r in conn.execute(select(h.household_id).where(h.township_code == t).order_by(h.household_id).limit(5))] for t in (t1, t2)}
    for name, role, town in (("cw_a", "case_worker", t1), ("cw_b", "case_worker", t2), ("tl_a", "township_leader", t1), ("gone", "case_worker", t1)):
        users.add_user(eng, name, role, None, principal=SYSTEM, townships=[town], display_name=f"{name} 干部")
    users.set_disabled(eng, "gone", True, principal=SYSTEM)
    cw = Principal("cw_a", "case_worker", frozenset({t1}))
    for i, t in enumerate((t1, t2)):
        orders.create_order(eng, assignee_kind="township", assignee=t, household_id=hids[t][0], principal=SYSTEM, now=datetime(2025, 2, 20, 9))  # overdue
        orders.create_order(eng, assignee_kind="township", assignee=t, household_id=hids[t][1], principal=SYSTEM, now=datetime(2025, 3, 15 + i, 9))
    oid = orders.create_order(eng, assignee_kind="township", assignee=t1, household_id=hids[t1][2], principal=SYSTEM, now=datetime(2025, 3, 10, 9))
    decide(eng, oid, cw, at=datetime(2025, 3, 12, 10), included=True, period=202503, category="marginal", risk_types=["illness"])
    oid = orders.create_order(eng, assignee_kind="township", assignee=t1, household_id=hids[t1][3], principal=SYSTEM, now=datetime(2025, 3, 1, 9))
    case = decide(eng, oid, cw, at=datetime(2025, 3, 2, 10), included=True, period=202503, category="marginal", risk_types=["illness"])
    walk(eng, case, local=cw, checker=Principal("tl_a", "township_leader", frozenset({t1})), county=Principal("leader", "leader"),
         start=datetime(2025, 3, 3, 10), until="notice")
    eng.dispose()
    return url, cw


def test_the_digest_lists_exactly_my_work(db, capsys) -> None:
    url, cw = db
    assert main(["todo", "--db", url, "--user", "cw_a", "--date", DAY.isoformat()]) == 0
    out = capsys.readouterr().out
    eng = store.make_engine(url)
    try:
        d = todo.my_work(eng, principal=users.principal_for(eng, "cw_a"), today=DAY)
    finally:
        eng.dispose()
    assert d.count == 3 and d.overdue == 1  # two orders and a case waiting for the village review (the noticed one is checked by someone else)
    assert set(d.items["township_code"]) == set(cw.townships)
    lines = out.splitlines()
    assert lines[0] == f"cw_a 干部 的待办（{DAY.isoformat()}）：共 3 项，逾期 1 项"
    assert len(lines) == 1 + d.count
    assert [ln.split(" · ")[1] for ln in lines[1:]] == d.items["household_id"].tolist()
    for ln, kind, ref in zip(lines[1:], d.items["kind"], d.items["ref"]):
        assert ln.startswith("- " + translate(f"todo.kind.{kind}", "zh", ref=ref))
    assert lines[1].endswith("· 逾期")


def test_a_file_in_english_is_written_and_audited(db, tmp_path: Path, capsys) -> None:
    url, _ = db
    out = tmp_path / "tl.txt"
    assert main(["todo", "--db", url, "--user", "tl_a", "--date", DAY.isoformat(), "--lang", "en", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith(f"Work for tl_a 干部 ({DAY.isoformat()}): 2 item(s), 0 overdue\n")
    assert "Notice ended, township check: case" in text and "Step waiting: case" in text
    assert capsys.readouterr().err.strip() == f"wrote {out}: 2 item(s), 0 overdue"
    eng = store.make_engine(url)
    try:
        with eng.connect() as conn:
            row = conn.execute(select(S.audit_log).where(S.audit_log.c.action == "export").order_by(S.audit_log.c.audit_id.desc())).mappings().first()
    finally:
        eng.dispose()
    assert row["actor"] == f"cli:{getpass.getuser()}" and row["target"] == f"todo_tl_a_{DAY:%Y%m%d}"
    assert '"items": 2' in row["detail"]
    # a day later the notice of the other case is still over: the same list (nothing new became due)
    assert main(["todo", "--db", url, "--user", "tl_a", "--date", (DAY + timedelta(days=1)).isoformat(), "--lang", "en"]) == 0
    assert "2 item(s)" in capsys.readouterr().out


@pytest.mark.parametrize(("user", "lang", "message"), [
    ("nobody", "zh", "fanpin: 没有名为 nobody 的有效账号（不存在或已停用）"),
    ("gone", "en", "fanpin: no active account named gone (unknown or disabled)"),
])
def test_unknown_or_disabled_user_is_refused(db, capsys, user: str, lang: str, message: str) -> None:
    url, _ = db
    assert main(["todo", "--db", url, "--user", user, "--lang", lang]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == message and captured.out == ""


def test_a_bad_date_is_refused(db, capsys) -> None:
    url, _ = db
    assert main(["todo", "--db", url, "--user", "cw_a", "--date", "2025-02-30", "--lang", "en"]) == 2
    assert capsys.readouterr().err.strip() == "fanpin: the date must be YYYY-MM-DD, got 2025-02-30"
