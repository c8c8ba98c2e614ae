"""The brief's suggested actions: explicit rules, each with its threshold as a named constant.

A leader who asks "why does the brief say this?" gets a one-line answer: the rule's docstring
and its constant.  ``suggest_actions`` runs every rule on a computed ``Brief``
(``fanpin.report.brief``); ``action_text`` renders an action's sentence in a language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fanpin.core import fmt
from fanpin.core.i18n import label, translate
from fanpin.core.periods import format_period
from fanpin.engine.summary import MonthSummary
from fanpin.workflow.common import DUE_DAYS
from fanpin.workflow.orders import ClosedLoop

if TYPE_CHECKING:
    from fanpin.report.brief import Brief


# --------------------------------------------------------------------------- thresholds of the action rules
#: A township's red share counts as "rising" when it is at least this much higher (relative) than
#: RED_SHARE_WINDOW months earlier ...
RED_SHARE_RISE = 0.40
#: ... and at least this many percentage points higher (so 1% -> 1.5% on a tiny base does not fire).
RED_SHARE_RISE_MIN_PP = 0.02
#: Months back the red-share rule compares with; area events (flood, drought ...) in the township in
#: this window are named as the likely cause.
RED_SHARE_WINDOW = 3
#: A township with at least this many overdue verification orders gets an action.
OVERDUE_MIN = 5
#: The county's median days from clue to decision above the 15-day target (workflow.DUE_DAYS) gets an action.
MEDIAN_DAYS_TARGET = DUE_DAYS
#: Newly red households this month at or above this count: verify them within the 15-day target.
NEWLY_RED_MIN = 10
#: Households whose score rose three months running at or above this count: follow them up.
RISING_MIN = 20
#: The model list: households at or above this probability (the model page's default slider) ...
MODEL_THRESHOLD = 0.3
#: ... and an action once at least this many of them are not yet monitored.
MODEL_CANDIDATES_MIN = 1
#: Data-quality / supervision findings of this severity get an action (any count).
FINDINGS_SEVERITY = "high"
#: At most this many actions, highest priority first.
MAX_ACTIONS = 8
#: Households listed by name (masked) in the brief's tables.
LIST_ROWS = 20

AREA_EVENTS = ("flood", "drought", "factory_closure", "price_crash")


@dataclass(frozen=True)
class Action:
    """One suggested action: the rule that fired, its figures and a priority (lower first)."""

    code: str
    priority: int
    params: dict
    township_code: str | None = None



# --------------------------------------------------------------------------- suggested actions
def rule_red_share_rising(townships: pd.DataFrame, events: pd.DataFrame) -> list[Action]:
    """Township red share up at least RED_SHARE_RISE (relative) and RED_SHARE_RISE_MIN_PP over
    RED_SHARE_WINDOW months; names the latest area event in the township in that window."""
    out = []
    for row in townships.itertuples(index=False):  # one row per township: a dozen
        trend = list(row.trend)
        if len(trend) <= RED_SHARE_WINDOW:
            continue
        now, before = trend[-1], trend[-1 - RED_SHARE_WINDOW]
        if now is None or before is None or not np.isfinite(now) or not np.isfinite(before) or before <= 0:
            continue
        rise = now / before - 1.0
        if rise >= RED_SHARE_RISE and now - before >= RED_SHARE_RISE_MIN_PP:
            ev = events[events["township_code"] == row.township_code] if len(events) else events
            params = {"township": row.township_code, "rise": rise, "share": now, "before": before, "months": RED_SHARE_WINDOW}
            code = "red_share_rising"
            if len(ev):
                last = ev.iloc[-1]
                params.update(event=str(last["event_type"]), month=int(last["period"]))
                code = "red_share_rising_event"
            out.append(Action(code, 1, params, row.township_code))
    return out


def rule_overdue(by_township: pd.DataFrame) -> list[Action]:
    """A township with at least OVERDUE_MIN overdue verification orders."""
    if by_township is None or by_township.empty:
        return []
    hit = by_township[by_township["overdue"] >= OVERDUE_MIN].sort_values(["overdue", "township_code"], ascending=[False, True])
    return [Action("overdue", 2, {"township": r.township_code, "overdue": int(r.overdue), "orders": int(r.orders), "days": DUE_DAYS}, r.township_code) for r in hit.itertuples(index=False)]


def rule_slow_decisions(loop: ClosedLoop) -> list[Action]:
    """The county's median days from first clue to decision above MEDIAN_DAYS_TARGET."""
    if loop.median_days is None or loop.median_days <= MEDIAN_DAYS_TARGET:
        return []
    return [Action("slow_decisions", 3, {"median": loop.median_days, "days": MEDIAN_DAYS_TARGET})]


def rule_newly_red(summary: MonthSummary) -> list[Action]:
    """At least NEWLY_RED_MIN households turned red this month: verify them within the target."""
    if summary.newly_red < NEWLY_RED_MIN:
        return []
    return [Action("newly_red", 2, {"n": summary.newly_red, "days": DUE_DAYS})]


def rule_new_hotspots(townships: pd.DataFrame) -> list[Action]:
    """A township that is a hot spot of red share this month and was not last month."""
    if "hotspot" not in townships:
        return []
    new = townships[(townships["hotspot"] == "hot") & (townships["hotspot_prev"] != "hot")]
    return [Action("new_hotspot", 1, {"township": r.township_code, "share": r.red_share}, r.township_code) for r in new.itertuples(index=False)]


def rule_rising(summary: MonthSummary) -> list[Action]:
    """At least RISING_MIN households whose score rose three months running."""
    if summary.rising < RISING_MIN:
        return []
    return [Action("rising", 4, {"n": summary.rising})]


def rule_model_candidates(status: str, total: int) -> list[Action]:
    """At least MODEL_CANDIDATES_MIN high-risk households (model) not yet monitored: visit them."""
    if status != "ok" or total < MODEL_CANDIDATES_MIN:
        return []
    return [Action("model_candidates", 3, {"n": total, "threshold": MODEL_THRESHOLD})]


def rule_findings(findings: pd.DataFrame | None) -> list[Action]:
    """Findings of severity FINDINGS_SEVERITY: resolve them, naming the rule with the most."""
    if findings is None or findings.empty or "severity" not in findings:
        return []
    high = findings[findings["severity"] == FINDINGS_SEVERITY]
    if high.empty:
        return []
    top = high.sort_values(["findings", "rule"], ascending=[False, True]).iloc[0]
    return [Action("findings", 2, {"n": int(high["findings"].sum()), "rule": str(top["rule"]), "top": int(top["findings"])})]


RULES: tuple[Callable[[Brief], list[Action]], ...] = (
    lambda b: rule_red_share_rising(b.townships, b.area_events),
    lambda b: rule_new_hotspots(b.townships),
    lambda b: rule_newly_red(b.summary),
    lambda b: rule_overdue(b.loop.by_township),
    lambda b: rule_findings(b.findings if b.findings_status == "ok" else None),
    lambda b: rule_slow_decisions(b.loop),
    lambda b: rule_model_candidates(b.model_status, b.model_candidates_total),
    lambda b: rule_rising(b.summary),
)


def suggest_actions(brief: Brief) -> list[Action]:
    """Every rule's actions, by priority then rule order, at most MAX_ACTIONS."""
    found = [(a.priority, i, k, a) for i, rule in enumerate(RULES) for k, a in enumerate(rule(brief))]
    return [a for *_, a in sorted(found, key=lambda x: x[:3])][:MAX_ACTIONS]


def rule_label(code: str, lang: str) -> str:
    """A findings rule's name from fanpin.rules.RULES (the code when unknown)."""
    try:
        from fanpin.quality import rules
    except ImportError:
        return code
    cat = getattr(rules, "RULES", ())
    items = cat.values() if isinstance(cat, Mapping) else cat
    for r in items or ():
        if getattr(r, "code", None) == code:  # the short name if the rule has one, else its description
            return getattr(r, f"name_{lang}", None) or getattr(r, "name_zh", None) or getattr(r, lang, None) or getattr(r, "zh", None) or code
    return code


def action_text(action: Action, brief: Brief, lang: str) -> str:
    """The action's sentence: ``brief.action.<code>`` with its figures formatted for ``lang``."""
    p = dict(action.params)
    out: dict[str, str] = {}
    for k, v in p.items():
        if k == "township":
            out[k] = brief.name(v, lang)
        elif k == "event":
            out[k] = label("event", v, lang)
        elif k == "month":
            out[k] = format_period(v, lang)
        elif k == "rule":
            out[k] = rule_label(v, lang)
        elif k in ("rise", "share", "before", "threshold"):
            out[k] = fmt.pct(v, 0 if k in ("rise", "threshold") else 1)
        elif k == "median":
            out[k] = f"{v:.1f}"
        else:
            out[k] = fmt.count(v, lang)
    return translate(f"brief.action.{action.code}", lang, **out)
