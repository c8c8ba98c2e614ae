"""`fanpin lines` / `fanpin lines set YEAR YUAN`: the provincial income lines of a county that brought
none (an import of the national export), stored with the data, audited, the data version bumped."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import AccessDenied, Principal
from fanpin.cli.main import main
from fanpin.engine.policies import set_income_line, stored_lines
from fanpin.store import meta
from fanpin.store.schema import audit_log


@pytest.fixture
def url(tmp_path: Path) -> str:
    u = f"sqlite:///{tmp_path / 'county.db'}"
    assert main(["db", "upgrade", "--db", u]) == 0
    return u


def test_list_set_and_list_again(url: str, capsys) -> None:
    capsys.readouterr()
    assert main(["lines", "--db", url, "--lang", "en"]) == 0
    assert capsys.readouterr().out.startswith("No income lines are stored")
    eng = store.make_engine(url)
    version = store.data_version(eng)
    assert main(["lines", "set", "2025", "8100", "--db", url, "--lang", "en"]) == 0
    assert capsys.readouterr().out.strip() == "the income line of 2025 is now 8,100 yuan (was —)"
    assert main(["lines", "set", "2024", "7800", "--db", url]) == 0
    assert main(["lines", "set", "2025", "8150", "--db", url]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2025年监测收入标准已设为 8,150 元（原为 8,100）"
    assert meta.income_lines(eng) == {2024: 7800.0, 2025: 8150.0}
    assert stored_lines(eng).stored_at(202506) == 8150.0
    assert store.data_version(eng) != version  # the scores follow the new line
    assert main(["lines", "--db", url]) == 0
    assert capsys.readouterr().out.splitlines() == ["年度\t监测收入标准（元/人·年）", "2024\t7,800", "2025\t8,150"]
    with eng.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "income_line_set").order_by(audit_log.c.audit_id)).mappings().all()
    eng.dispose()
    assert [(r["actor"], r["target"]) for r in rows] == [(f"cli:{getpass.getuser()}", y) for y in ("2025", "2024", "2025")]
    assert json.loads(rows[-1]["detail"]) == {"year": 2025, "yuan": 8150.0, "before": 8100.0}


@pytest.mark.parametrize("args", [["20255", "8100"], ["2025", "0"], ["2025", "-7500"], ["2025", "nan"]])
def test_a_bad_year_or_line_is_refused(url: str, capsys, args: list[str]) -> None:
    assert main(["lines", "set", *args, "--db", url, "--lang", "en"]) == 2
    assert capsys.readouterr().err.startswith("fanpin: the year must lie between 2000 and 2100")
    assert meta.income_lines(store.make_engine(url)) == {}


def test_only_a_role_that_adopts_the_baseline_may_set_a_line(url: str) -> None:
    eng = store.make_engine(url)
    with pytest.raises(AccessDenied):
        set_income_line(eng, 2025, 8100, principal=Principal("an", "analyst"))
    set_income_line(eng, 2025, 8100, principal=Principal("boss", "leader"))
    assert meta.income_lines(eng) == {2025: 8100.0}
