"""ui.tables: text columns as wide as their longest value (pandas 3's "str" columns too)."""

from __future__ import annotations

import pandas as pd

from fanpin.ui.tables import MAX_WIDTH, fit_width, fitted


def test_text_columns_fit_their_longest_value() -> None:
    frame = pd.DataFrame({"status": ["Monitored", "Proposed"], "note": ["x" * 500, ""], "n": [1, 2], "obj": pd.Series(["甲乙丙丁"], dtype=object).repeat(2).tolist()})
    cfg = fitted(frame, {"status": "Status"})
    assert cfg["status"]["width"] == fit_width(["Monitored", "Proposed"], "Status") > fit_width([], "Status")
    assert cfg["note"]["width"] == MAX_WIDTH  # capped
    assert cfg["obj"]["width"] == fit_width(["甲乙丙丁"], "obj")
    assert cfg["n"]["width"] == fit_width([], "n")  # numbers: the header whole
    assert fit_width(["中文四字"], "") > fit_width(["abcd"], "")  # CJK counts double


def test_formats_print_numbers_with_their_decimals() -> None:
    frame = pd.DataFrame({"score": [41.0, 42.6], "change": [-24.0, 1.5]})
    cfg = fitted(frame, {"score": "Risk score"}, {"score": "%.1f", "change": "%+.1f"})
    assert cfg["score"]["type_config"]["format"] == "%.1f" and cfg["change"]["type_config"]["format"] == "%+.1f"
    assert cfg["score"]["label"] == "Risk score" and cfg["change"]["width"] == fit_width(["-24.0", "+1.5"], "change")


def test_the_inbox_shows_no_merged_clue_as_a_blank_not_none() -> None:
    from fanpin.ui.workflow_widgets import inbox_frame

    inbox = pd.DataFrame({
        "clue_id": [1, 2], "household_id": ["h1", "h2"], "township_code": ["t", "t"], "channel": ["cadre_visit"] * 2, "source": ["cadre"] * 2,
        "risk_type": ["other"] * 2, "detail": ["", ""], "received_at": ["2024-12-01", "2024-12-02"], "age_days": [3, 4], "merged_into": [None, 7.0],
    })
    assert inbox_frame(inbox, {"t": "T"})["merged_into"].tolist() == ["", "7"]
