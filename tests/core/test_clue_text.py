"""Clue details: codes with parameters stored, labels rendered; older bilingual rows read too."""

from __future__ import annotations

import pytest

from fanpin.core.clue_text import coded, parse, pick_language, render


def test_a_coded_detail_reads_in_each_language() -> None:
    stored = coded("score_red", score=45.3)
    assert stored == '[score_red] {"score": 45.3}'
    assert parse(stored) == ("score_red", {"score": 45.3})
    assert render(stored, "zh") == "风险评分升至红色（45.3 分）"
    assert render(stored, "en") == "Risk score turned red (45.3)"
    assert render(coded("medical_settlement"), "en").startswith("Medical settlement")
    with pytest.raises(KeyError):
        coded("no_such_code")


def test_older_and_foreign_text_is_read_as_written_or_by_its_half() -> None:
    assert render("医保结算：合规自付超过1万元 / medical settlement: out-of-pocket over 10,000", "en") == "medical settlement: out-of-pocket over 10,000"
    assert render("甲 / a; 乙 / b", "zh") == "甲; 乙" and render("甲 / a; 乙 / b", "en") == "a; b"
    assert render("张三 / 李四", "en") == "张三 / 李四"  # not a bilingual pair: kept whole
    assert render("医保结算（第二次报送）", "en") == "医保结算（第二次报送）"  # a department's own words
    assert render("[unknown] 文字", "en") == "[unknown] 文字"
    assert render('[score_red] {"score": ', "en") == '[score_red] {"score": '  # broken parameters: as written
    assert render(None, "zh") == "" and render(float("nan"), "en") == ""
    assert pick_language("重大疾病住院 / serious illness", "en") == "serious illness"


def test_the_models_suggestion_names_its_factors() -> None:
    stored = "模型预测6个月内跌破监测线概率 40%（inc_ratio, income_change_12m） / model: probability 40% of falling below the line within 6 months (inc_ratio, income_change_12m)"
    zh, en = render(stored, "zh"), render(stored, "en")
    assert "inc_ratio" not in zh and "inc_ratio" not in en and "40%" in zh and "6 months" in en
    assert "/ model" not in zh


def test_a_supervision_clue_reads_the_rule_by_name_old_rows_too() -> None:
    from fanpin.quality import rules as R

    r = R.BY_CODE["deceased_benefit"]
    new = R.clue_detail("deceased_benefit", "甲 / a; 乙 / b")
    assert new == "[deceased_benefit] 甲 / a; 乙 / b"
    old = f"[deceased_benefit] 监督规则：{r.name_zh} / supervision rule: {r.name_en} — 甲 / a; 乙 / b"
    for stored in (new, old):
        assert R.detail_text(stored, "zh") == f"监督规则“{r.name_zh}”：甲; 乙"
        assert R.detail_text(stored, "en") == f"Supervision rule “{r.name_en}”: a; b"
    assert R.detail_text("甲 / a; 乙 / b", "en") == "a; b"  # a finding, as on the quality page
