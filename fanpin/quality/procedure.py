"""Rules on the official procedure (``fanpin.workflow.procedure``): an inclusion or elimination
that took effect without every step, a notice shorter than the province's days.  Records imported
from the national system passed their chain elsewhere and are never flagged."""

from __future__ import annotations

import pandas as pd

from fanpin.core.i18n import label
from fanpin.quality.month import MonthData, hits, join_details, ym

_KIND_TEXT = {"inclusion": ("纳入监测", "inclusion"), "elimination": ("风险消除", "risk elimination")}


def procedure_skipped(d: MonthData) -> pd.DataFrame:
    """Inclusions (a history row ``monitored`` with an order) and eliminations (``eliminated`` with
    a proposal) that took effect by this month without an approved case of the household carrying
    that order or proposal whose last round passed every step of ``CHAIN_STEPS``."""
    e = d.effects
    if e.empty:
        return hits([], [])
    ok = d.chains[d.chains["state"] == "approved"]
    e = e.merge(ok[["household_id", "kind", "ref", "missing"]], on=["household_id", "kind", "ref"], how="left")
    # several approved cases for one effect cannot happen in the app; the most complete one counts
    e = e.assign(_n=e["missing"].fillna("?").str.len()).sort_values(["record_id", "_n"]).drop_duplicates("record_id")
    bad = e[e["missing"].isna() | (e["missing"] != "")]
    details = []
    for kind, period, missing in zip(bad["kind"], bad["period"], bad["missing"]):
        zh_k, en_k = _KIND_TEXT[kind]
        if not isinstance(missing, str):
            details.append(f"{ym(period)}{zh_k}已生效，无审定通过的程序记录 / {en_k} of {ym(period)} took effect with no approved case")
            continue
        steps = missing.split(",")
        zh = "、".join(label("case_step", x, "zh") for x in steps)
        en = ", ".join(label("case_step", x, "en").lower() for x in steps)
        details.append(f"{ym(period)}{zh_k}已生效，程序缺少{zh} / {en_k} of {ym(period)} took effect without {en}")
    return join_details(hits(bad["household_id"], details))


def notice_too_short(d: MonthData) -> pd.DataFrame:
    """Approved cases (of months up to this one) whose township check passed fewer than
    ``notice_days`` days after the notice's first day."""
    c = d.chains
    c = c[(c["state"] == "approved") & (c["period"] <= d.period) & c["notice_day"].notna() & c["check_day"].notna()]
    days = (c["check_day"] - c["notice_day"]).dt.days
    c, days = c[days < d.notice_days], days[days < d.notice_days]
    need = d.notice_days
    return join_details(hits(c["household_id"], [
        f"{_KIND_TEXT[k][0]}公示自{n:%Y-%m-%d}起仅{g}天即乡镇审核（规定不少于{need}天） / {_KIND_TEXT[k][1]}: township check {g} day(s) after the notice "
        f"went up on {n:%Y-%m-%d} ({need} required)" for k, n, g in zip(c["kind"], c["notice_day"], days)]))
