"""Inputs an attacker or a careless user sent (issue 17): refused with a message, never a traceback."""

from __future__ import annotations

from datetime import datetime

from fanpin.access.roles import Principal
from fanpin.ingest import apply
from tests.ingest.corpus import fixture as fx
from tests.ingest.test_ingest import _engine

STEWARD = Principal("steward", "data_steward")


def test_a_duplicate_row_and_a_bad_month_in_one_panel_file_are_both_reported(db_url) -> None:
    """The duplicate check once raised IndexError when another row's key was missing (a refused
    month): the page and the CLI showed a traceback and the refusal was not recorded."""
    engine = _engine(db_url)
    csv = "年月,户编号,工资性收入,家庭纯收入,家庭人均纯收入\n" + "".join(f"{p},{fx.H1},1,1,1\n" for p in (202403, 202403, 202413))
    result = apply.import_file(engine, "panel", csv.encode(), "p.csv", principal=STEWARD, today=fx.TODAY, now=datetime(2025, 6, 30))
    assert result.status == "refused" and result.batch_id is not None
    msgs = [(r, c, m) for r, c, _v, m, _s in result.report.messages("zh")]
    assert (3, "户编号", "与第 2 行重复") in msgs
    assert any(r == 4 and c == "年月" for r, c, _ in msgs)
