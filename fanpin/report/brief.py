"""The monthly brief (月度防返贫监测研判报告): every figure and table, computed once.

A leader forwards the brief upwards, so it must say exactly what the dashboard
says: the headline numbers come from ``fanpin.engine.summary`` (``month_summary``,
``township_table``, ``trend_frame``) on the same panel scores, the closed-loop
figures from ``fanpin.workflow.closed_loop`` with the overview's ``as_of_date``,
the hot spots from ``fanpin.geo.hotspots``, the model's list from
``fanpin.predict.candidates`` and the findings from ``fanpin.quality.rules`` (when that
module is present).  Nothing here formats text for a language except the
tables in :func:`tables` and the action sentences in :func:`action_text`;
``fanpin.report.document`` renders the document and ``fanpin.report.charts`` the
charts.  No streamlit, no python-docx.

Suggested actions come from explicit rules (the ``rule_*`` functions below),
each with its threshold as a named constant, so a reader can ask "why does the
brief say this?" and get a one-line answer.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from fanpin.access.masking import mask_frame
from fanpin.access.roles import Principal
from fanpin.core import fmt
from fanpin.core.i18n import label, translate
from fanpin.core.periods import format_period, shift
from fanpin.engine.summary import (
    MonthSummary,
    household_list,
    month_summary,
    township_table,
    trend_frame,
)
from fanpin.engine.trends import PanelScores
from fanpin.store import schema as S
from fanpin.workflow.common import DUE_DAYS, as_of_date
from fanpin.workflow.orders import ClosedLoop, closed_loop

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


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Monitoring:
    """Monitoring register movements in the month (from the append-only ``monitoring`` history)."""

    entered: int  # households identified (a "monitored" row that is not a rejected proposal) this month
    eliminated: int  # risk eliminated this month (approved)
    by_method: dict[str, int]  # by_assistance / natural
    monitored_end: int  # under monitoring (monitored or proposed) at the end of the month
    by_category: dict[str, int]  # entered this month, by category


@dataclass(frozen=True)
class Action:
    """One suggested action: the rule that fired, its figures and a priority (lower first)."""

    code: str
    priority: int
    params: dict
    township_code: str | None = None


@dataclass
class Brief:
    """Everything the monthly brief shows, with codes (not names) so it renders in either language."""

    period: int
    prev_period: int | None
    generated_at: datetime
    county_code: str | None
    names: dict[str, dict[str, str]]  # lang -> region code -> name (county, townships, villages)
    policy_name: str
    income_line: float
    households_total: int
    summary: MonthSummary
    prev_summary: MonthSummary | None
    trend: pd.DataFrame  # trend_frame(ps): per month red, yellow, green, mean_score, below_line_share
    townships: pd.DataFrame  # township_table + hotspot, hotspot_prev
    hotspots_note: str | None  # why hot spots are missing (no geometry ...), else None
    clues: pd.DataFrame  # this month's clues: channel, source, risk_type, clues
    loop: ClosedLoop
    as_of: date
    monitoring: Monitoring
    newly_red: pd.DataFrame  # top LIST_ROWS newly red households (masked head name)
    model_status: str  # ok / none / refused / no_month
    model_note: str | None
    model_candidates: pd.DataFrame | None  # top LIST_ROWS (masked), None without a model
    model_candidates_total: int
    model_horizon: int | None
    findings_status: str  # ok / unavailable / error
    findings: pd.DataFrame | None  # by rule: rule, severity, findings, households
    findings_total: int
    area_events: pd.DataFrame  # area events in the window: period, event_type, township_code
    actions: list[Action] = field(default_factory=list)
    scope: frozenset[str] | None = None  # townships of the household lists (None: the county)

    def name(self, code: str | None, lang: str) -> str:
        if code is None:
            return "—"
        return self.names.get(lang, {}).get(code) or self.names.get("zh", {}).get(code) or str(code)

    def county(self, lang: str) -> str:
        return self.name(self.county_code, lang) if self.county_code else ""


# --------------------------------------------------------------------------- computing
_LOAD = object()


def panel_for(engine: Engine, period: int) -> PanelScores:
    """The overview's panel: every month scored under the baseline policy with each year's income line."""
    from fanpin import store
    from fanpin.engine.policies import baseline_policy
    from fanpin.engine.trends import score_panel

    periods = store.periods(engine)
    raw = store.load_json_meta(engine, "income_lines", {}) or {}
    lines = {int(k): float(v) for k, v in raw.items()}
    return score_panel(store.load_snapshots(engine, periods), baseline_policy(engine, period), lines or None)


def compute_brief(
    engine: Engine,
    period: int,
    *,
    ps: PanelScores | None = None,
    policy_name: str | None = None,
    principal: Principal | None = None,
    model: object = _LOAD,
    model_scores: pd.DataFrame | None = None,
    today: date | None = None,
) -> Brief:
    """All figures of the month's brief.

    ``ps``: the panel scores the dashboard already holds (scored here under the baseline otherwise).
    ``model``: a loaded ``RiskModel``, a refusal message, ``None`` for no model, or (default) load
    the saved one from ``fanpin.predict.model_dir()``.  ``principal``: household lists keep only its
    townships (a case worker); county figures stay county-wide, as on the overview.
    """
    from fanpin.engine.policies import baseline_policy

    period = int(period)
    if ps is None:
        ps = panel_for(engine, period)
    if policy_name is None:
        policy_name = baseline_policy(engine, period).name
    j = ps.col(period)  # KeyError for a month outside the panel
    prev = ps.periods[j - 1] if j > 0 else None
    scope = principal.townships if principal is not None and principal.townships is not None else None

    names = _names(engine)
    county_code = next((c for c in names["zh"] if c.endswith("000000")), None)
    summary = month_summary(ps, period)
    prev_summary = month_summary(ps, prev) if prev is not None else None
    trend = trend_frame(ps)
    table = township_table(ps, period)
    table, hot_note = _with_hotspots(engine, ps, table, period, prev)
    as_of = as_of_date(period, today)
    loop = closed_loop(engine, as_of)
    in_scope = np.ones(len(ps.household_ids), dtype=bool) if scope is None else np.isin(ps.township, list(scope))
    newly = household_list(ps, period, ps.newly_red(period) & in_scope).head(LIST_ROWS)
    newly = _with_people(engine, newly)
    model_status, model_note, cand, cand_total, horizon = _model_part(engine, period, model, model_scores, ps, scope)
    f_status, findings, f_total = _findings(engine, period, principal)
    events = _area_events(engine, period)
    brief = Brief(
        period=period,
        prev_period=prev,
        generated_at=datetime.now().replace(microsecond=0),
        county_code=county_code,
        names=names,
        policy_name=policy_name,
        income_line=float(ps.income_line[j]),
        households_total=int(summary.households),
        summary=summary,
        prev_summary=prev_summary,
        trend=trend,
        townships=table,
        hotspots_note=hot_note,
        clues=clue_counts(engine, period, scope),
        loop=loop,
        as_of=as_of,
        monitoring=monitoring_movements(engine, period),
        newly_red=newly,
        model_status=model_status,
        model_note=model_note,
        model_candidates=cand,
        model_candidates_total=cand_total,
        model_horizon=horizon,
        findings_status=f_status,
        findings=findings,
        findings_total=f_total,
        area_events=events,
        scope=scope,
    )
    brief.actions = suggest_actions(brief)
    return brief


def _names(engine: Engine) -> dict[str, dict[str, str]]:
    from fanpin.store.regions import load_regions

    r = load_regions(engine)
    return {
        "zh": dict(zip(r["region_code"], r["name"])),
        "en": dict(zip(r["region_code"], r["name_en"].fillna(r["name"]))),
    }


def _with_hotspots(engine: Engine, ps: PanelScores, table: pd.DataFrame, period: int, prev: int | None) -> tuple[pd.DataFrame, str | None]:
    """Gi* class of each township's red share this month and last month (geo.hotspots, the map's statistic)."""
    from fanpin.geo import hotspots
    from fanpin.store.regions import township_geojson

    out = table.copy()
    out["hotspot"] = "no_data"
    out["hotspot_prev"] = "no_data"
    fc = township_geojson(engine)
    feats = [f for f in fc["features"] if f.get("geometry")]
    if len(feats) < 3:
        return out, "no_geometry"
    w = hotspots.weights_from_geojson({"type": "FeatureCollection", "features": feats}, "queen")
    share = ps.township_tier_share("red")
    for col, p in (("hotspot", period), ("hotspot_prev", prev)):
        if p is None:
            continue
        spots = hotspots.hotspots(share[p], w)
        out[col] = out["township_code"].map(spots["cls"]).fillna("no_data")
    return out, None


def _with_people(engine: Engine, frame: pd.DataFrame) -> pd.DataFrame:
    """Add the village and the household head's name and ID number, masked (access.mask_frame)."""
    out = frame.copy()
    ids = out["household_id"].astype(str).tolist()
    m, h = S.members.c, S.households.c
    heads = pd.DataFrame(columns=["household_id", "name", "id_number"])
    villages = pd.DataFrame(columns=["household_id", "village_code"])
    if ids:
        with engine.connect() as conn:
            heads = pd.DataFrame(conn.execute(select(m.household_id, m.name, m.id_number).where(m.household_id.in_(ids), m.relation == "head")).fetchall(), columns=["household_id", "name", "id_number"])
            villages = pd.DataFrame(conn.execute(select(h.household_id, h.village_code).where(h.household_id.in_(ids))).fetchall(), columns=["household_id", "village_code"])
    heads = mask_frame(heads.drop_duplicates("household_id"))
    out = out.merge(villages, on="household_id", how="left").merge(heads, on="household_id", how="left")
    return out


def clue_counts(engine: Engine, period: int, scope: frozenset[str] | None = None) -> pd.DataFrame:
    """The month's clues (duplicates merged into another clue left out) by channel, source and risk type."""
    c, h = S.clues.c, S.households.c
    q = (
        select(c.channel, c.source, c.risk_type, func.count().label("clues"))
        .join_from(S.clues, S.households, c.household_id == h.household_id)
        .where(c.period == int(period), c.status != "merged")
        .group_by(c.channel, c.source, c.risk_type)
    )
    if scope is not None:
        q = q.where(h.township_code.in_(sorted(scope)))
    with engine.connect() as conn:
        f = pd.DataFrame(conn.execute(q).fetchall(), columns=["channel", "source", "risk_type", "clues"])
    f["clues"] = f["clues"].astype(int)
    return f.sort_values(["clues", "source", "risk_type"], ascending=[False, True, True], ignore_index=True)


def monitoring_movements(engine: Engine, period: int) -> Monitoring:
    """Entered and eliminated in ``period`` and under monitoring at its end, from the monitoring history."""
    from fanpin.workflow.monitoring import monitoring_history

    h = monitoring_history(engine)
    if h.empty:
        return Monitoring(0, 0, {"by_assistance": 0, "natural": 0}, 0, {})
    h["period"] = h["period"].astype(int)
    month = h[h["period"] == int(period)]
    entered = month[(month["status"] == "monitored") & month["proposal_id"].isna()]
    elim = month[month["status"] == "eliminated"]
    upto = h[h["period"] <= int(period)].sort_values("record_id").groupby("household_id").tail(1)
    return Monitoring(
        entered=int(entered["household_id"].nunique()),
        eliminated=int(elim["household_id"].nunique()),
        by_method={m: int((elim["method"] == m).sum()) for m in ("by_assistance", "natural")},
        monitored_end=int(upto["status"].isin(["monitored", "proposed"]).sum()),
        by_category={k: int(v) for k, v in entered.groupby("category")["household_id"].nunique().items()},
    )


def _model_part(engine: Engine, period: int, model: object, scores: pd.DataFrame | None, ps: PanelScores, scope: frozenset[str] | None):  # noqa: ANN202
    """(status, note, masked top list, total, horizon): the model's high-risk households not yet monitored."""
    from fanpin.model import features, persist, suggest

    if model is _LOAD:
        try:
            model = persist.load_model(engine)
        except features.ModelError as exc:
            path = persist.model_dir() / persist.MODEL_FILE
            return ("none", None, None, 0, None) if not path.exists() else ("refused", str(exc), None, 0, None)
    if model is None:
        return "none", None, None, 0, None
    if isinstance(model, str):
        return "refused", model, None, 0, None
    horizon = int(getattr(model, "meta", {}).get("horizon") or features.DEFAULT_HORIZON)
    try:
        if scores is None:
            scores = suggest.score_period(model, engine, period)
    except (KeyError, features.ModelError) as exc:
        return "no_month", str(exc), None, 0, horizon
    cand = suggest.candidates(scores, suggest.monitored_households(engine) | suggest.sent_households(engine), MODEL_THRESHOLD, limit=len(scores))
    town = pd.Series(ps.township, index=ps.household_ids.astype(str))
    cand = cand.assign(township_code=town.reindex(cand.index.astype(str)).to_numpy())
    if scope is not None:
        cand = cand[cand["township_code"].isin(list(scope))]
    total = len(cand)
    top = cand.head(LIST_ROWS).reset_index().rename(columns={"index": "household_id"})
    top = top.rename(columns={top.columns[0]: "household_id"})
    top = _with_people(engine, top[["household_id", "township_code", "probability", "risk_type", "factor_1", "factor_2", "factor_3"]])
    return "ok", None, top, total, horizon


def _findings(engine: Engine, period: int, principal: Principal | None) -> tuple[str, pd.DataFrame | None, int]:
    """Data-quality and supervision findings summarised by rule, if ``fanpin.quality.rules`` exists."""
    try:
        from fanpin.quality import rules
    except ImportError:
        return "unavailable", None, 0
    if not hasattr(rules, "find"):
        return "unavailable", None, 0
    try:
        from fanpin.access.roles import SYSTEM  # until compute_brief takes a required principal: None is the whole county here, as for the brief's other lists

        found = rules.find(engine, period=int(period), principal=principal if principal is not None else SYSTEM)
    except Exception as exc:  # noqa: BLE001 - a failing rule module must not stop the brief; it says so
        return "error", pd.DataFrame({"error": [str(exc)]}), 0
    return "ok", summarise_findings(found, getattr(rules, "RULES", ())), int(len(found))


def summarise_findings(found: pd.DataFrame, rules_catalogue: object = ()) -> pd.DataFrame:
    """rule, severity, findings, households per rule (most findings first); severity from RULES if known."""
    cols = ["rule", "severity", "findings", "households"]
    if found is None or len(found) == 0:
        return pd.DataFrame(columns=cols)
    sev = {}
    for r in (rules_catalogue.values() if isinstance(rules_catalogue, Mapping) else rules_catalogue) or ():
        code = getattr(r, "code", None)
        if code:
            sev[code] = getattr(r, "severity", None)
    g = found.groupby("rule")
    out = pd.DataFrame({"findings": g.size(), "households": g["household_id"].nunique() if "household_id" in found else g.size()})
    if "severity" in found:
        out["severity"] = g["severity"].first()
    else:
        out["severity"] = None
    out = out.reset_index()
    out["severity"] = out["severity"].fillna(out["rule"].map(sev))
    return out[cols].sort_values(["findings", "rule"], ascending=[False, True], ignore_index=True)


def _area_events(engine: Engine, period: int) -> pd.DataFrame:
    """Area events (flood, drought, factory closure, price crash) in the RED_SHARE_WINDOW months up to ``period``,
    with the township they hit (a village event counts for its township)."""
    e = S.events.c
    lo = shift(int(period), -RED_SHARE_WINDOW)
    with engine.connect() as conn:
        rows = conn.execute(
            select(e.period, e.event_type, e.region_code).where(e.household_id.is_(None), e.period > lo, e.period <= int(period), e.event_type.in_(AREA_EVENTS))
        ).fetchall()
    f = pd.DataFrame(rows, columns=["period", "event_type", "region_code"])
    f["township_code"] = f["region_code"].astype(str).str[:9] + "000"
    return f.drop_duplicates(["period", "event_type", "township_code"]).sort_values(["period", "township_code"], ignore_index=True)[["period", "event_type", "township_code"]]


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


# --------------------------------------------------------------------------- tables (for the document and the workbook)
def _num(x: float | None, digits: int = 1) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def headline_rows(brief: Brief) -> list[tuple[str, int | float | None, int | float | None]]:
    """(key, this month, last month) for the headline table: the overview's metrics."""
    s, p = brief.summary, brief.prev_summary
    rows: list[tuple[str, object, object]] = [("households", s.households, p.households if p else None)]
    for tier in ("red", "yellow", "green"):
        rows.append((tier, s.counts[tier], p.counts[tier] if p else None))
    rows += [
        ("newly_red", s.newly_red, p.newly_red if p else None),
        ("rising", s.rising, p.rising if p else None),
        ("below_line", s.below_line, p.below_line if p else None),
        ("mean_score", _num(s.mean_score, 2), _num(p.mean_score, 2) if p else None),
    ]
    return rows


def tables(brief: Brief, lang: str) -> dict[str, pd.DataFrame]:
    """The brief's tables with headers in ``lang`` (sheet key -> frame); the .docx and .xlsx show these."""
    T = lambda key, **kw: translate(f"brief.{key}", lang, **kw)
    out: dict[str, pd.DataFrame] = {}
    rows = headline_rows(brief)
    out["headline"] = pd.DataFrame(
        {
            T("col.metric"): [T(f"metric.{k}") for k, _, _ in rows],
            T("col.this_month"): pd.Series([v for _, v, _ in rows], dtype=object),
            T("col.last_month"): pd.Series([v for _, _, v in rows], dtype=object),
            T("col.change"): pd.Series([None if b is None or a is None else (a - b if isinstance(a, int) else _num(a - b, 2)) for _, a, b in rows], dtype=object),
        }
    )
    tr = brief.trend.reset_index()
    out["trend"] = pd.DataFrame(
        {
            T("col.month"): [format_period(p, lang) for p in tr["period"]],
            label("tier", "red", lang): tr["red"].astype(int),
            label("tier", "yellow", lang): tr["yellow"].astype(int),
            label("tier", "green", lang): tr["green"].astype(int),
            T("metric.mean_score"): tr["mean_score"].round(2),
            T("col.below_line_pct"): (100 * tr["below_line_share"]).round(2),
        }
    )
    tw = brief.townships
    out["townships"] = pd.DataFrame(
        {
            T("col.rank"): np.arange(1, len(tw) + 1),
            T("col.township"): [brief.name(c, lang) for c in tw["township_code"]],
            T("col.code"): tw["township_code"].astype(str),
            T("metric.households"): tw["households"].astype(int),
            label("tier", "red", lang): tw["red"].astype(int),
            label("tier", "yellow", lang): tw["yellow"].astype(int),
            label("tier", "green", lang): tw["green"].astype(int),
            T("col.red_share_pct"): (100 * tw["red_share"]).round(1),
            T("col.red_share_change_pp"): (100 * tw["red_share_change"]).round(1),
            T("col.mean_score"): tw["mean_score"].round(1),
            T("col.hotspot"): [T(f"hotspot.{c}") for c in tw["hotspot"]],
            T("col.hotspot_prev"): [T(f"hotspot.{c}") for c in tw["hotspot_prev"]],
        }
    )
    cl = brief.clues
    out["clues"] = pd.DataFrame(
        {
            T("col.channel"): [label("channel", c, lang) for c in cl["channel"]],
            T("col.source"): [source_label(c, lang) for c in cl["source"]],
            T("col.risk_type"): [label("risk", c, lang) for c in cl["risk_type"]],
            T("col.clues"): cl["clues"].astype(int),
        }
    )
    bt = brief.loop.by_township
    out["orders"] = pd.DataFrame(
        {
            T("col.township"): [brief.name(c, lang) for c in bt["township_code"]],
            T("col.orders"): bt["orders"].astype(int),
            T("col.overdue"): bt["overdue"].astype(int),
            T("col.overdue_pct"): (100 * bt["overdue_share"].astype(float)).round(1),
            T("col.median_days"): bt["median_days"].astype(float).round(1),
        }
    )
    out["newly_red"] = _household_table(brief, brief.newly_red, lang, kind="newly_red")
    if brief.model_candidates is not None:
        out["model"] = _household_table(brief, brief.model_candidates, lang, kind="model")
    if brief.findings is not None and brief.findings_status == "ok":
        f = brief.findings
        out["findings"] = pd.DataFrame(
            {
                T("col.rule"): [rule_label(r, lang) for r in f["rule"]],
                T("col.severity"): [T(f"severity.{s}") if s in ("high", "medium", "low") else (s or "—") for s in f["severity"]],
                T("col.findings"): f["findings"].astype(int),
                T("col.households"): f["households"].astype(int),
            }
        )
    out["actions"] = pd.DataFrame({T("col.no"): np.arange(1, len(brief.actions) + 1), T("col.action"): [action_text(a, brief, lang) for a in brief.actions]})
    return out


def _household_table(brief: Brief, f: pd.DataFrame, lang: str, kind: str) -> pd.DataFrame:
    T = lambda key: translate(f"brief.{key}", lang)
    cols = {
        T("col.household_id"): f["household_id"].astype(str),
        T("col.township"): [brief.name(c, lang) for c in f["township_code"]],
        T("col.village"): [brief.name(c, lang) if isinstance(c, str) else "—" for c in f["village_code"]],
        T("col.head"): f["name"].fillna(""),
        T("col.id_number"): f["id_number"].fillna(""),
    }
    if kind == "newly_red":
        cols[T("col.score")] = f["score"].round(1)
        cols[T("col.score_change")] = f["score_change"].round(1)
        cols[T("col.income_pc")] = f["income_pc"].round(0)
    else:
        cols[T("col.probability_pct")] = (100 * f["probability"].astype(float)).round(1)
        cols[T("col.risk_type")] = [label("risk", r, lang) for r in f["risk_type"]]
        sep = "、" if lang == "zh" else "; "
        cols[T("col.factors")] = [sep.join(feature_label(x, lang) for x in r if isinstance(x, str) and x) for r in f[["factor_1", "factor_2", "factor_3"]].itertuples(index=False)]
    return pd.DataFrame(cols)


def feature_label(code: str, lang: str) -> str:
    """A model feature's label (the model page's ``model.feature.<code>`` message when it exists)."""
    from fanpin.core.i18n import catalogue

    key = f"model.feature.{code}"
    return translate(key, lang) if key in catalogue() else code


def source_label(code: str, lang: str) -> str:
    from fanpin.core.indicators import DEPARTMENTS

    return label("department", code, lang) if code in DEPARTMENTS else label("source", code, lang)


def xlsx_bytes(brief: Brief, lang: str) -> bytes:
    """The workbook behind the brief: one sheet per table, every cell through export.safe_frame."""
    from fanpin.report.export import safe_frame

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for key, frame in tables(brief, lang).items():
            safe_frame(frame).to_excel(xw, index=False, sheet_name=translate(f"brief.sheet.{key}", lang)[:31])
    return buf.getvalue()
