"""Issue 18 item 13: a tier above the score's says which rule set it (engine.summary.forced_by/forced_of)."""

from __future__ import annotations

import numpy as np

from fanpin.engine.scoring import RiskPolicy
from fanpin.engine.summary import forced_of, household_list
from fanpin.engine.trends import PanelScores


def _panel() -> PanelScores:
    # four households, one month: red by score, red by income (score 22), yellow by income, green
    return PanelScores(
        periods=[202412], household_ids=np.array(["a", "b", "c", "d"]), township=np.array(["t"] * 4), townships=np.array(["t"]),
        score=np.array([[45.0], [22.0], [10.0], [5.0]], dtype=np.float32), tier=np.array([[2], [2], [1], [0]], dtype=np.int8),
        income_pc=np.array([[9000.0], [6000.0], [9500.0], [20000.0]], dtype=np.float32), income_line=np.array([7800.0]),
    )


def test_forced_by_names_the_income_rule_and_its_amount() -> None:
    policy = RiskPolicy.default(7800)
    why, line = forced_of(_panel(), 202412, ["d", "b", "c", "a", "zz"], policy)
    assert why.tolist() == ["", "income", "income", "", ""]
    assert line[1] == 7800.0 and line[2] == 1.5 * 7800.0 and np.isnan(line[0])
    hl = household_list(_panel(), 202412, np.ones(4, dtype=bool), policy).set_index("household_id")
    assert hl.loc["b", "forced_by"] == "income" and hl.loc["a", "forced_by"] == ""
    assert forced_of(_panel(), 202501, ["a"], policy)[0].tolist() == [""]  # a month the panel lacks
