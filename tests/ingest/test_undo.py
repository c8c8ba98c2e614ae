"""Issue 18 items 4 and 10: an update shows its changes field by field before it is applied; an
applied batch can be rolled back (audited) unless its records moved on; the same file imports again
afterwards; household size and members agree after an update and after a rollback; a file chosen
under the wrong kind says so first, errors come before warnings and no row reads "None".

On SQLite and PostgreSQL (``db_url``) wherever the database is touched; every value asserted is
the one expected, written out."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from fanpin import store
from fanpin.access.roles import AccessDenied, Principal
from fanpin.ingest import apply, book, diff, undo, validate
from fanpin.store import schema as S
from tests.ingest.corpus import fixture as fx

STEWARD = Principal("steward", "data_steward")
OTHER = Principal("steward2", "data_steward")
NOW = datetime(2025, 6, 30, 10, 0, 0)
LATER = datetime(2025, 7, 1, 9, 30, 0)
H4 = "99010100100200009"


@pytest.fixture
def fx_db(db_url: str):
    engine = store.make_engine(db_url, create=True)
    fx.build(engine)
    yield engine
    engine.dispose()


def _csv(text: str) -> bytes:
    return text.encode("utf-8")


def _imp(engine, kind: str, text: str, name: str = "f.csv", principal: Principal = STEWARD) -> apply.ImportResult:
    res = apply.import_file(engine, kind, _csv(text), name, principal=principal, today=fx.TODAY, now=NOW)
    assert res.status == "applied", res.report.text("en")
    return res


def _data(engine) -> dict[str, str]:
    """A digest of every data table, row for row (the state a rollback must give back)."""
    out = {}
    with engine.connect() as conn:
        for t in (S.regions, S.households, S.members, S.panel, S.clues, S.assistance, S.dept_records, S.official_relations, S.monitoring_records, S.yearly_incomes):
            cols = [c for c in t.columns if not (c.primary_key and c.autoincrement is True and len(t.primary_key.columns) == 1 and c.name.endswith("_id") and t.name != "households")]
            rows = sorted(repr(tuple(str(v) for v in r)) for r in conn.execute(select(*cols)).fetchall())
            out[t.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def _household(engine, hid: str) -> tuple:
    h = S.households.c
    with engine.connect() as conn:
        return tuple(conn.execute(select(h.household_type, h.size, h.phone, h.farmland_mu, h.in_cooperative, h.n_labour, h.n_children).where(h.household_id == hid)).one())


def _batch(engine, batch_id: int) -> tuple:
    b = S.import_batches.c
    with engine.connect() as conn:
        return tuple(conn.execute(select(b.status, b.undoable, b.rolled_back_by, b.rolled_back_at).where(b.batch_id == batch_id)).one())


def _audits(engine, action: str) -> list[tuple]:
    a = S.audit_log.c
    with engine.connect() as conn:
        return [(r.actor, r.target, json.loads(r.detail)) for r in conn.execute(select(a.actor, a.target, a.detail).where(a.action == action).order_by(a.audit_id))]


ROSTER = (
    "户编号,行政村代码,户类型,家庭人口数,联系电话,耕地面积(亩),是否加入农民专业合作组织\n"
    f"{fx.H1},,脱贫户,2,13900000002,3,\n"  # three changes; size as registered; the blank cells keep what is stored
    f"{H4},{fx.V2},一般农户,3,,1.5,是\n"  # a new household
)


# --------------------------------------------------------------------------- changes before applying


def test_an_update_lists_its_changes_field_by_field(fx_db) -> None:
    rep = validate.validate(fx_db, "households", _csv(ROSTER), "r.csv", principal=STEWARD, today=fx.TODAY)
    assert rep.ok and (rep.added, rep.updated, rep.unchanged) == (1, 1, 0)
    assert diff.changes(rep, "zh").values.tolist() == [
        [2, fx.H1, "户类型", "一般农户", "脱贫户", "一般农户 → 脱贫户"],
        [2, fx.H1, "联系电话", "138****0001", "139****0002", "138****0001 → 139****0002"],
        [2, fx.H1, "耕地面积(亩)", "2.5", "3", "2.5 → 3"],
    ]
    assert diff.changes(rep, "en").values.tolist()[0] == [2, fx.H1, "Household type", "Ordinary", "Former poor", "Ordinary → Former poor"]
    assert diff.changes_text(rep, "zh").splitlines() == [
        "将更新 1 条记录，逐项变更如下：",
        f"  行 2 · {fx.H1} · 户类型: 一般农户 → 脱贫户",
        f"  行 2 · {fx.H1} · 联系电话: 138****0001 → 139****0002",
        f"  行 2 · {fx.H1} · 耕地面积(亩): 2.5 → 3",
    ]
    # a replaced kind (the monitoring record): a blank clears, a default is no change
    _imp(fx_db, "monitoring", f"户编号,监测对象类别,致贫/返贫风险1,识别监测时间\n{fx.H2},边缘易致贫户,因病,202403\n")
    rep = validate.validate(fx_db, "monitoring", _csv(f"户编号,监测对象类别,致贫/返贫风险1,识别监测时间\n{fx.H2},突发严重困难户,,202403\n"), "m.csv", principal=STEWARD, today=fx.TODAY)
    assert [r[2:] for r in diff.changes(rep, "zh").values.tolist()] == [
        ["监测对象类别", "边缘易致贫户", "突发严重困难户", "边缘易致贫户 → 突发严重困难户"],
        ["致贫/返贫风险1", "因病", "（空）", "因病 → （空）"],
    ]


def test_no_changes_no_list(fx_db) -> None:
    rep = validate.validate(fx_db, "households", _csv(f"户编号,户类型\n{fx.H1},一般农户\n"), "r.csv", principal=STEWARD, today=fx.TODAY)
    assert rep.ok and rep.unchanged == 1 and diff.changes(rep).empty and diff.changes_text(rep) == ""


# --------------------------------------------------------------------------- rollback


def test_a_roster_batch_rolls_back_and_the_file_imports_again(fx_db) -> None:
    before, h1 = _data(fx_db), _household(fx_db, fx.H1)
    assert h1 == ("ordinary", 2, "13800000001", 2.5, False, 2, 0)
    res = _imp(fx_db, "households", ROSTER)
    assert _household(fx_db, fx.H1) == ("former_poor", 2, "13900000002", 3.0, False, 2, 0)
    assert _household(fx_db, H4) == ("ordinary", 3, None, 1.5, True, 0, 0)
    assert _batch(fx_db, res.batch_id)[:3] == ("applied", True, None)
    with fx_db.connect() as conn:
        u = S.import_undo.c
        log = conn.execute(select(u.table_name, u.action, u.row_key, u.prior, u.written).where(u.batch_id == res.batch_id).order_by(u.undo_id)).fetchall()
    assert [tuple(r[:3]) for r in log] == [("households", "insert", f'["{H4}"]'), ("households", "update", f'["{fx.H1}"]')]
    assert json.loads(log[1].prior) == {"household_type": "ordinary", "phone": "13800000001", "farmland_mu": 2.5}
    assert json.loads(log[1].written) == {"household_type": "former_poor", "phone": "13900000002", "farmland_mu": 3}

    done = undo.rollback(fx_db, res.batch_id, principal=OTHER, now=LATER)
    assert (done.restored, done.deleted) == (1, 1)
    assert done.message("zh") == f"已回滚批次 {res.batch_id}：恢复 1 条记录的原值，删除 1 条新增记录。同一文件可以重新导入"
    assert _household(fx_db, fx.H1) == h1
    assert _data(fx_db) == before
    assert _batch(fx_db, res.batch_id) == ("rolled_back", True, "steward2", LATER)
    assert _audits(fx_db, "import_rollback") == [
        ("steward2", f"batch:{res.batch_id}", {"kind": "households", "file": "f.csv", "sha256": res.report.file_hash, "restored": 1, "deleted": 1}),
    ]
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, res.batch_id, principal=STEWARD)
    assert err.value.message("zh") == f"批次 {res.batch_id} 已经回滚过了（steward2 2025-07-01 09:30）"
    # the once-only hash is free again: the same file imports as a new batch
    again = _imp(fx_db, "households", ROSTER)
    assert again.batch_id != res.batch_id and (again.report.added, again.report.updated) == (1, 1)
    assert _household(fx_db, fx.H1) == ("former_poor", 2, "13900000002", 3.0, False, 2, 0)
    assert apply.import_file(fx_db, "households", _csv(ROSTER), "f.csv", principal=STEWARD).status == "already"


def test_a_members_batch_rolls_back_with_the_household_counts(fx_db) -> None:
    """Size and members agree after the import and again after its rollback."""
    before = _data(fx_db)
    text = f"户编号,姓名,证件号码,与户主关系,劳动技能\n{fx.H1},张小明,{fx.ID_NEW_CHILD},之子,无劳动力\n"
    res = _imp(fx_db, "members", text)
    assert _household(fx_db, fx.H1) == ("ordinary", 3, "13800000001", 2.5, False, 2, 1)
    with fx_db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.members).where(S.members.c.household_id == fx.H1)).scalar() == 3
    assert undo.rollback(fx_db, res.batch_id, principal=STEWARD).deleted == 1
    assert _household(fx_db, fx.H1) == ("ordinary", 2, "13800000001", 2.5, False, 2, 0)
    assert _data(fx_db) == before


def test_a_later_batch_on_the_same_records_must_be_rolled_back_first(fx_db) -> None:
    before = _data(fx_db)
    first = _imp(fx_db, "households", f"户编号,联系电话\n{fx.H1},13900000002\n", "a.csv")
    second = _imp(fx_db, "households", f"户编号,耕地面积(亩)\n{fx.H1},4\n", "b.csv")
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, first.batch_id, principal=STEWARD)
    assert err.value.code == "later_batch"
    assert err.value.message("zh") == (
        f"不能回滚批次 {first.batch_id}：之后的批次 {second.batch_id} 又修改了同一批记录（如农户 {fx.H1}）。请先回滚批次 {second.batch_id}"
    )
    assert _batch(fx_db, first.batch_id)[0] == "applied"  # refused: nothing written
    assert _household(fx_db, fx.H1)[2:4] == ("13900000002", 4.0)
    undo.rollback(fx_db, second.batch_id, principal=STEWARD)
    undo.rollback(fx_db, first.batch_id, principal=STEWARD)
    assert _data(fx_db) == before


def test_a_record_changed_since_is_not_overwritten(fx_db) -> None:
    res = _imp(fx_db, "households", f"户编号,联系电话\n{fx.H1},13900000002\n")
    with fx_db.begin() as conn:  # someone changes the phone again outside this batch
        conn.execute(update(S.households).where(S.households.c.household_id == fx.H1).values(phone="13700000003"))
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, res.batch_id, principal=STEWARD)
    assert err.value.message("zh") == (
        f"不能回滚批次 {res.batch_id}：农户 {fx.H1} 在导入后又被修改（联系电话：导入为 139****0002，现在是 137****0003），回滚会覆盖这次修改"
    )
    assert err.value.message("en").startswith(f"Batch {res.batch_id} cannot be rolled back: household {fx.H1} was changed after the import (Phone: imported as 139****0002, now 137****0003)")
    assert _batch(fx_db, res.batch_id)[0] == "applied" and _household(fx_db, fx.H1)[2] == "13700000003"
    assert _audits(fx_db, "import_rollback") == []


def test_appended_rows_roll_back_and_clues_in_the_workflow_stay(fx_db) -> None:
    before = _data(fx_db)
    measures = _imp(fx_db, "assistance", f"户编号,年月,帮扶措施,金额\n{fx.H2},202403,健康帮扶,2000\n{fx.H2},202403,综合保障,1800\n")
    records = _imp(fx_db, "dept_records", f"证件号码,户编号,来源部门,比对类型,年月,数值\n{fx.ID_H1_HEAD},,公安,车辆,202403,120000\n")
    feeds = _imp(fx_db, "feeds", f"户编号,年月,来源部门,风险类型,说明,金额\n{fx.H3},202403,医保,因病,住院,30000\n{fx.H2},202403,民政,因病,慢病,5000\n")
    assert (measures.report.added, records.report.added, feeds.report.added) == (2, 1, 2)
    c = S.clues.c
    with fx_db.begin() as conn:  # a case worker takes one clue into an order
        conn.execute(update(S.clues).where(c.household_id == fx.H3, c.period == 202403).values(status="ordered"))
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, feeds.batch_id, principal=STEWARD)
    assert err.value.code == "changed_since_insert"
    assert "预警线索" in err.value.message("zh") and "已进入工作流程" in err.value.message("zh")
    with fx_db.begin() as conn:
        conn.execute(update(S.clues).where(c.household_id == fx.H3, c.period == 202403).values(status="new"))
    for r in (feeds, records, measures):
        undo.rollback(fx_db, r.batch_id, principal=STEWARD)
    assert _data(fx_db) == before


def test_a_workbook_rolls_back_table_by_table(fx_db) -> None:
    """A roster and its members in one workbook: two batches; the members batch (which changed the
    household counts the roster wrote) goes first, and the roster's 家庭人口数 is kept as before."""
    import pandas as pd

    before = _data(fx_db)
    roster = pd.DataFrame({"户编号": [H4], "行政村代码": [fx.V2], "户类型": ["一般农户"], "家庭人口数": [3]})
    people = pd.DataFrame({"户编号": [H4], "姓名": ["钱多"], "证件号码": [fx.idn("19800202", "031")], "与户主关系": ["户主"], "劳动技能": ["普通劳动力"]})
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        roster.to_excel(xw, index=False, sheet_name="户信息")
        people.to_excel(xw, index=False, sheet_name="家庭成员")
    res = book.import_workbook(fx_db, buf.getvalue(), "book.xlsx", principal=STEWARD, today=fx.TODAY, now=NOW)
    assert res.status == "applied", res.report.text("en")
    hh_batch, m_batch = res.batch_ids
    assert _household(fx_db, H4) == ("ordinary", 3, None, None, False, 1, 0)  # the roster's size holds over the one member
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, hh_batch, principal=STEWARD)
    assert err.value.code == "later_batch" and err.value.params["first"] == m_batch
    undo.rollback(fx_db, m_batch, principal=STEWARD)
    assert _household(fx_db, H4) == ("ordinary", 3, None, None, False, 0, 0)
    undo.rollback(fx_db, hh_batch, principal=STEWARD)
    assert _data(fx_db) == before


def test_a_household_that_others_now_name_stays(fx_db) -> None:
    """A batch's new household that a later month's row names (another table, so no shared record)
    cannot be removed: the rollback is refused as referenced and nothing changes."""
    added = _imp(fx_db, "households", f"户编号,行政村代码,户类型,家庭人口数\n{H4},{fx.V2},一般农户,1\n", "h.csv")
    _imp(fx_db, "panel", f"年月,户编号,家庭纯收入,家庭人均纯收入\n202403,{H4},9000,9000\n", "p.csv")
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, added.batch_id, principal=STEWARD)
    assert err.value.message("zh") == f"不能回滚批次 {added.batch_id}：它新增的记录已被其他记录引用（如月度指标、预警线索、工单或家庭成员），回滚会破坏这些记录。请先回滚引用它们的批次"
    assert _batch(fx_db, added.batch_id)[0] == "applied" and _household(fx_db, H4)[1] == 1
    undo.rollback(fx_db, added.batch_id + 1, principal=STEWARD)  # the month first, then the household
    assert undo.rollback(fx_db, added.batch_id, principal=STEWARD).deleted == 1


def test_refusals_and_rights(fx_db) -> None:
    with pytest.raises(AccessDenied):
        undo.rollback(fx_db, 1, principal=Principal("an", "analyst"))
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, 999, principal=STEWARD)
    assert err.value.message("en") == "There is no batch 999"
    refused = apply.import_file(fx_db, "households", _csv(f"户编号,家庭人口数\n{fx.H1},abc\n"), "bad.csv", principal=STEWARD, today=fx.TODAY)
    assert refused.status == "refused"
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, refused.batch_id, principal=STEWARD)
    assert err.value.message("zh") == f"批次 {refused.batch_id} 没有导入任何数据（被拒绝的文件），无需回滚"
    old = _imp(fx_db, "households", f"户编号,联系电话\n{fx.H1},13900000002\n")
    with fx_db.begin() as conn:  # as a batch applied before migration 0011 looks
        conn.execute(update(S.import_batches).where(S.import_batches.c.batch_id == old.batch_id).values(undoable=None))
    with pytest.raises(undo.RollbackRefused) as err:
        undo.rollback(fx_db, old.batch_id, principal=STEWARD)
    assert err.value.message("zh") == f"批次 {old.batch_id} 导入于回滚功能启用之前，没有记录原值，无法回滚"
    assert undo.undoable_batches(fx_db, principal=STEWARD).empty


def test_a_template_imported_back_touches_nothing(fx_db) -> None:
    from fanpin.ingest import specs
    from fanpin.report.export import csv_bytes

    before = _data(fx_db)
    res = apply.import_file(fx_db, "households", csv_bytes(specs.template_frame("households", "zh")), "template_households_zh.csv", principal=STEWARD, today=fx.TODAY, now=NOW)
    assert res.status == "applied" and (res.report.added, res.report.updated, res.report.skipped) == (0, 0, 1)
    assert res.message("zh") == f"已导入为批次 {res.batch_id}：新增 0，更新 0，无变化 0，跳过 1"
    assert _data(fx_db) == before


# --------------------------------------------------------------------------- the wrong kind, errors first


def test_a_members_file_chosen_as_rosters_says_so_first(fx_db) -> None:
    text = (
        "序号,户编号,姓名,证件号码,性别,与户主关系,民族,文化程度,健康状况,劳动技能\n"
        f"1,{fx.H1},张小明,{fx.ID_NEW_CHILD},男,之子,汉族,小学,健康,无劳动力\n"
    )
    rep = validate.validate(fx_db, "households", _csv(text), "m.csv", principal=STEWARD, today=fx.TODAY)
    msgs = rep.messages("zh")
    assert msgs[0] == (None, "", "", "这个文件看起来是“家庭成员”文件：9 列中有 9 列是它的表头，而所选的“农户信息”只认得 1 列。请在上方的“导入类型”中改选“家庭成员”", "error")
    assert rep.messages("en")[0][3] == "This file looks like a “Household members” file: 9 of its 9 columns are its headers, while the chosen “Household roster” reads only 1. Choose “Household members” under “What to import” above"
    sev = [m[4] for m in msgs]
    assert sev == sorted(sev, key=lambda s: s != "error")  # every error before every warning
    assert sev[-1] == "warning" and msgs[-1][3] == "列“序号”是其他列已有的信息（序号或地名），不单独保存"  # the info column last
    assert rep.frame("zh").iloc[0, 0] is __import__("pandas").NA  # no row for a file-level problem (shown blank, never "None")
    # the right kind: no such message
    ok = validate.validate(fx_db, "members", _csv(text), "m.csv", principal=STEWARD, today=fx.TODAY)
    assert ok.ok and not [m for m in ok.messages("zh") if "看起来是" in m[3]]
