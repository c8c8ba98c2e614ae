"""`fanpin import`: exit 0 when applied (or already applied), 1 with the report on stderr when refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from fanpin import store
from fanpin.cli.main import main
from fanpin.store import schema as S
from tests.ingest.corpus import fixture as fx

CORPUS = Path(__file__).resolve().parents[1] / "ingest" / "corpus"


@pytest.fixture
def fx_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fx.db'}"
    engine = store.make_engine(url, create=True)
    fx.build(engine)
    engine.dispose()  # closed now, not whenever it is collected (its close checkpoints the WAL into the file)
    return url


def _file_bytes(path: Path) -> bytes:
    """The database file with everything committed in it (the WAL checkpointed first)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.read_bytes()


def _count(url: str, table) -> int:
    with store.make_engine(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_refused_file_exits_1_with_the_report_on_stderr(fx_url: str, capsys: pytest.CaptureFixture) -> None:
    rc = main(["import", "--db", fx_url, "--kind", "members", str(CORPUS / "bad_check_char.csv")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "证件号码校验位为 1，应为 0" in err and "行 2 · 证件号码 [990101********0111]" in err
    assert "文件未导入：有 1 处错误（已记录为批次 1）。数据库未做任何更改" in err
    assert _count(fx_url, S.members) == 4
    rc = main(["import", "--db", fx_url, "--kind", "members", "--lang", "en", str(CORPUS / "missing_column.csv")])
    err = capsys.readouterr().err
    assert rc == 1 and 'Required column "ID number" is missing' in err


def test_applied_then_already_imported(fx_url: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = tmp_path / "hh.csv"
    f.write_text(f"户编号,行政村代码,户类型,家庭人口数\n99010100100200001,{fx.V2},一般农户,3\n", encoding="utf-8-sig")
    assert main(["import", "--db", fx_url, "--kind", "households", "--actor", "tester", str(f)]) == 0
    assert capsys.readouterr().out.strip() == "已导入为批次 1：新增 1，更新 0，无变化 0，跳过 0"
    assert _count(fx_url, S.households) == 4
    assert main(["import", "--db", fx_url, "--kind", "households", "--lang", "en", str(f)]) == 0
    assert capsys.readouterr().out.strip() == "This file was already imported in batch 1; nothing was changed"
    with store.make_engine(fx_url).connect() as conn:
        assert conn.execute(select(S.import_batches.c.imported_by, S.import_batches.c.status)).all() == [("tester", "applied")]


def test_the_importer_is_the_operating_system_user(fx_url: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Without --actor the batch and the audit row name the command's system principal (cli:<user>)."""
    from fanpin.access.roles import system_principal

    f = tmp_path / "hh.csv"
    f.write_text(f"户编号,行政村代码,户类型,家庭人口数\n99010100100200001,{fx.V2},一般农户,3\n", encoding="utf-8")
    assert main(["import", "--db", fx_url, "--kind", "households", str(f)]) == 0
    with store.make_engine(fx_url).connect() as conn:
        assert conn.execute(select(S.import_batches.c.imported_by)).scalar() == system_principal().actor
        assert conn.execute(select(S.audit_log.c.actor).where(S.audit_log.c.action == "import")).scalar() == system_principal().actor


def test_dry_run_writes_nothing_and_report_file(fx_url: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = Path(fx_url.removeprefix("sqlite:///"))
    before = _file_bytes(path)
    out = tmp_path / "report.csv"
    rc = main(["import", "--db", fx_url, "--kind", "panel", "--dry-run", "--report", str(out), str(CORPUS / "negative_income.csv")])
    assert rc == 1
    assert "不能为负数" in capsys.readouterr().err
    assert _file_bytes(path) == before
    report = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert report.iloc[0].tolist() == ["2", "工资性收入", "'-500", "不能为负数", "错误"]  # "-500" escaped like any cell starting with -


def test_missing_file_exits_2(fx_url: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["import", "--db", fx_url, "--kind", "panel", "/nonexistent/file.csv"]) == 2
    assert "file.csv" in capsys.readouterr().err


def test_a_whole_workbook_without_kind_and_ignore_columns(fx_url: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """No --kind: the national-layout workbook's tables are recognised and applied together; a
    column no table reads stops a CSV of one sheet until --ignore-columns accepts dropping it."""
    from tests.ingest import test_workbook as tw

    book = tmp_path / "national.xlsx"
    book.write_bytes(tw.national_workbook())
    assert main(["import", "--db", fx_url, "--lang", "en", str(book)]) == 0
    out = capsys.readouterr().out
    assert "Imported 5 tables (batches 1、2、3、4、5)" in out
    assert _count(fx_url, S.monitoring_records) == 2 and _count(fx_url, S.yearly_incomes) == 2
    assert main(["import", "--db", fx_url, "--lang", "en", str(book)]) == 0
    assert "Every table of the workbook was already imported (batches 1、2、3、4、5)" in capsys.readouterr().out
    extra = tmp_path / "members.csv"
    extra.write_bytes(tw.csv_of([*tw.MEMBER_HEADER, "备注"], [[*m[:8], "长期慢性病", *m[9:], "x"] for m in tw.MEMBERS], "成员"))
    assert main(["import", "--db", fx_url, "--lang", "en", "--dry-run", str(extra)]) == 1
    assert 'Unrecognised column "备注": importing would drop it' in capsys.readouterr().err
    assert main(["import", "--db", fx_url, "--lang", "en", "--ignore-columns", str(extra)]) == 0
    assert 'Unrecognised column "备注": ignored' in capsys.readouterr().out
    with store.make_engine(fx_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.members).where(S.members.c.health == "chronic")).scalar() == 3


def test_dry_run_lists_the_changes_then_import_and_rollback(fx_url: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Issue 18 item 4 on the command line: the fields an update changes before anything is
    written, then the import, then `fanpin import --rollback N` (audited), refused the second time."""
    f = tmp_path / "hh.csv"
    f.write_text(f"户编号,户类型,耕地面积(亩)\n{fx.H1},脱贫户,3\n", encoding="utf-8")
    assert main(["import", "--db", fx_url, "--kind", "households", "--dry-run", str(f)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == ["将更新 1 条记录，逐项变更如下：", f"  行 2 · {fx.H1} · 户类型: 一般农户 → 脱贫户", f"  行 2 · {fx.H1} · 耕地面积(亩): 2.5 → 3"]
    assert main(["import", "--db", fx_url, "--kind", "households", "--actor", "tester", str(f)]) == 0
    assert capsys.readouterr().out.strip() == "已导入为批次 1：新增 0，更新 1，无变化 0，跳过 0"
    assert main(["import", "--db", fx_url, "--rollback", "1", "--actor", "tester", "--lang", "en"]) == 0
    assert capsys.readouterr().out.strip() == "Batch 1 rolled back: 1 records restored to their prior values, 0 added records removed. The same file can be imported again"
    with store.make_engine(fx_url).connect() as conn:
        h = S.households.c
        assert conn.execute(select(h.household_type, h.farmland_mu).where(h.household_id == fx.H1)).one() == ("ordinary", 2.5)
        a = S.audit_log.c
        assert conn.execute(select(a.actor, a.target).where(a.action == "import_rollback")).all() == [("tester", "batch:1")]
    assert main(["import", "--db", fx_url, "--rollback", "1"]) == 1
    assert capsys.readouterr().err.strip().startswith("批次 1 已经回滚过了（tester ")
    assert main(["import", "--db", fx_url]) == 2
