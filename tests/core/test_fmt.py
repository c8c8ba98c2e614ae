"""core.fmt: amounts as people read them."""

from __future__ import annotations

from fanpin.core import fmt


def test_a_negative_amount_in_english_has_its_sign_before_the_yuan_sign() -> None:
    # "¥-159,000" read as a rise: a metric's delta takes its direction from the leading "-"
    assert fmt.yuan(-159_000, "en") == "-¥159,000"
    assert fmt.yuan(159_000, "en") == "¥159,000"
    assert fmt.yuan(-24_000, "zh") == "-24,000元" and fmt.yuan(-159_000, "zh") == "-15.9万元"
