"""The monthly brief (月度防返贫监测研判报告): every figure, computed once.

A leader forwards the brief upwards, so it must say exactly what the dashboard
says: the headline numbers come from ``fanpin.engine.summary`` (``month_summary``,
``township_table``, ``trend_frame``) on the same panel scores (the baseline, each month
with the line that holds for it: ``fanpin.engine.income_line``), the closed-loop figures
from ``fanpin.workflow.orders.closed_loop`` with the overview's ``as_of_date``, the hot
spots from ``fanpin.geo.hotspots``, the model's list from ``fanpin.model.suggest`` and the
findings from ``fanpin.quality.rules``.  The suggested actions are rules in
``fanpin.report.actions``, the tables ``fanpin.report.tables``; ``fanpin.report.document``
renders the document and ``fanpin.report.charts`` the charts; the queries are in
``fanpin.store.report`` and ``fanpin.store.events``.  No streamlit, no python-docx.

A *township brief* (``township=``, or by default for a principal of one township) is the same
brief for one township: every figure is that township's (the panel restricted to its households,
its clues, orders, monitoring movements, findings and cases), and the ranking is of its villages,
by the same code path as the county's ranking of townships (``township_table`` over a panel whose
"townships" are the villages: :func:`village_panel`).  The cases of the official procedure (how many
stand at each step, which waited too long) are in every brief (``fanpin.workflow.case_figures``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.masking import mask_frame
from fanpin.access.roles import AccessDenied, Principal, require
from fanpin.core.periods import shift
from fanpin.engine.summary import (
    MonthSummary,
    household_list,
    month_summary,
    township_table,
    trend_frame,
)
from fanpin.engine.trends import PanelScores
from fanpin.report.actions import AREA_EVENTS, LIST_ROWS, MODEL_THRESHOLD, RED_SHARE_WINDOW, Action, suggest_actions
from fanpin.store import events as events_store
from fanpin.store import report as store
from fanpin.workflow.case_figures import CaseFigures, case_figures
from fanpin.workflow.common import as_of_date
from fanpin.workflow.orders import ClosedLoop, closed_loop


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Monitoring:
    """Monitoring register movements in the month (from the append-only ``monitoring`` history)."""

    entered: int  # households identified (a "monitored" row that is not a rejected proposal) this month
    eliminated: int  # risk eliminated this month (approved)
    by_method: dict[str, int]  # by_assistance / natural
    monitored_end: int  # under monitoring (monitored or proposed) at the end of the month
    by_category: dict[str, int]  # entered this month, by category


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
    cases: CaseFigures | None = None  # the official procedure's cases (by state, overdue)
    township: str | None = None  # a township brief: its code (``townships`` then ranks its villages)
    model_backtest: pd.DataFrame | None = None  # the model's backtest table (fanpin.model.backtest), None without a model

    @property
    def level(self) -> str:
        """What the ranking ranks: "village" in a township brief, else "township"."""
        return "village" if self.township else "township"

    def name(self, code: str | None, lang: str) -> str:
        if code is None:
            return "—"
        return self.names.get(lang, {}).get(code) or self.names.get("zh", {}).get(code) or str(code)

    def county(self, lang: str) -> str:
        return self.name(self.county_code, lang) if self.county_code else ""

    def place(self, lang: str) -> str:
        """Whose brief it is: the county, or "county township" for a township brief."""
        if not self.township:
            return self.county(lang)
        sep = "" if lang == "zh" else ", "
        return sep.join(x for x in ((self.county(lang), self.name(self.township, lang)) if lang == "zh" else (self.name(self.township, lang), self.county(lang))) if x)


# --------------------------------------------------------------------------- computing
_LOAD = object()


def panel_for(engine: Engine) -> PanelScores:
    """The overview's panel: every month scored under the baseline, each with the line that holds for it."""
    from fanpin import store as data_store
    from fanpin.engine.policies import baseline, stored_lines
    from fanpin.engine.trends import score_panel

    periods = data_store.periods(engine)
    return score_panel(data_store.load_snapshots(engine, periods), baseline(engine), stored_lines(engine))


def village_panel(engine: Engine, ps: PanelScores, township: str) -> PanelScores:
    """The households of ``township`` in ``ps``, with their *villages* where the townships were:
    ``month_summary``, ``trend_frame`` and ``township_table`` then give the township's figures and
    its villages ranked (the county's township ranking, one level down)."""
    rows = np.flatnonzero(ps.township == township)
    village = store.township_villages(engine, township).set_index("household_id")["village_code"]
    codes = village.reindex(ps.household_ids[rows].astype(str)).fillna(township).to_numpy(dtype=object)
    return PanelScores(
        periods=list(ps.periods), household_ids=ps.household_ids[rows], township=codes, townships=np.unique(codes.astype(str)).astype(object),
        score=ps.score[rows], tier=ps.tier[rows], income_pc=ps.income_pc[rows], income_line=ps.income_line,
    )


def township_of_brief(principal: Principal, township: str | None) -> str | None:
    """The township a brief is for: ``township`` if given (refused unless the principal sees it),
    else the principal's own when they have exactly one (a township leader), else None (the county)."""
    if township is None:
        towns = principal.townships
        return next(iter(towns)) if towns is not None and len(towns) == 1 else None
    if not principal.sees(township):
        raise AccessDenied("township", f"{principal.username} may not see township {township}")
    return str(township)


def _within(principal: Principal, township: str) -> Principal:
    """The principal reading one township only (never more than it may see: checked by the caller)."""
    return Principal(principal.username, principal.role, frozenset({township}), principal.display_name)


def compute_brief(
    engine: Engine,
    period: int,
    *,
    principal: Principal,
    ps: PanelScores | None = None,
    policy_name: str | None = None,
    model: object = _LOAD,
    model_scores: pd.DataFrame | None = None,
    today: date | None = None,
    township: str | None = None,
) -> Brief:
    """All figures of the month's brief; whoever may open the overview may make it.

    ``principal``: required; household lists keep only its townships (a case worker), county
    figures stay county-wide, as on the overview.  ``ps``: the panel scores the dashboard already
    holds (scored here under the baseline otherwise).  ``model``: a loaded ``RiskModel``, a refusal
    message, ``None`` for no model, or (default) the saved one from ``fanpin.model.persist``.
    ``township``: a township brief (see the module docstring) by anyone who sees the township;
    a principal of exactly one township gets that township's by default.
    """
    from fanpin.engine.policies import baseline

    require(principal, "page:overview")
    period = int(period)
    township = township_of_brief(principal, township)
    reader = principal if township is None else _within(principal, township)
    county_ps = panel_for(engine) if ps is None else ps
    ps = county_ps if township is None else village_panel(engine, county_ps, township)
    j = ps.col(period)  # KeyError for a month outside the panel
    prev = ps.periods[j - 1] if j > 0 else None
    scope = reader.townships
    summary = month_summary(ps, period)
    names = _names(engine)
    if township is None:
        table, hot_note = _with_hotspots(engine, ps, township_table(ps, period), period, prev)
    else:  # hot spots are found between townships (their boundaries): not within one
        table, hot_note = township_table(ps, period).assign(hotspot="no_data", hotspot_prev="no_data"), "village_level"
    as_of = as_of_date(period, today)
    model_status, model_note, cand, cand_total, horizon = _model_part(engine, period, model, model_scores, county_ps, scope, reader)
    model_backtest = getattr(model, "backtest", None) if model is not _LOAD else _saved_backtest(engine, model_status)
    f_status, findings, f_total = _findings(engine, period, reader)
    events = _area_events(engine, period)
    brief = Brief(
        period=period,
        prev_period=prev,
        generated_at=datetime.now().replace(microsecond=0),
        county_code=next((c for c in names["zh"] if c.endswith("000000")), None),
        names=names,
        policy_name=baseline(engine).name if policy_name is None else policy_name,
        income_line=float(ps.income_line[j]),
        households_total=int(summary.households),
        summary=summary,
        prev_summary=month_summary(ps, prev) if prev is not None else None,
        trend=trend_frame(ps),
        townships=table,
        hotspots_note=hot_note,
        clues=clue_counts(engine, period, scope),
        loop=closed_loop(engine, as_of, principal=principal, township=township),  # as the overview shows it to this principal
        as_of=as_of,
        monitoring=monitoring_movements(engine, period, reader),
        newly_red=_newly_red(engine, county_ps, period, scope),
        model_status=model_status,
        model_note=model_note,
        model_candidates=cand,
        model_candidates_total=cand_total,
        model_horizon=horizon,
        model_backtest=model_backtest,
        findings_status=f_status,
        findings=findings,
        findings_total=f_total,
        area_events=events if township is None else events[events["township_code"] == township].reset_index(drop=True),
        scope=scope,
        cases=case_figures(engine, as_of, principal=principal, township=township),
        township=township,
    )
    brief.actions = suggest_actions(brief)
    return brief


def _newly_red(engine: Engine, ps: PanelScores, period: int, scope: frozenset[str] | None) -> pd.DataFrame:
    """The top LIST_ROWS newly red households in scope, with village and (masked) head."""
    in_scope = np.ones(len(ps.household_ids), dtype=bool) if scope is None else np.isin(ps.township, list(scope))
    return _with_people(engine, household_list(ps, period, ps.newly_red(period) & in_scope).head(LIST_ROWS))


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
    heads, villages = store.heads_and_villages(engine, frame["household_id"].astype(str).tolist())
    heads = mask_frame(heads.drop_duplicates("household_id"))
    return frame.copy().merge(villages, on="household_id", how="left").merge(heads, on="household_id", how="left")


def clue_counts(engine: Engine, period: int, scope: frozenset[str] | None = None) -> pd.DataFrame:
    """The month's clues (duplicates merged into another clue left out) by channel, source and risk type."""
    f = store.clue_counts(engine, period, None if scope is None else sorted(scope))
    f["clues"] = f["clues"].astype(int)
    return f.sort_values(["clues", "source", "risk_type"], ascending=[False, True, True], ignore_index=True)


def monitoring_movements(engine: Engine, period: int, principal: Principal) -> Monitoring:
    """Entered and eliminated in ``period`` and under monitoring at its end, from the monitoring history."""
    from fanpin.workflow.monitoring import monitoring_history

    h = monitoring_history(engine, principal=principal)
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


def _saved_backtest(engine: Engine, status: str) -> pd.DataFrame | None:
    """The saved model's backtest table (the brief states how the model did), None without one."""
    from fanpin.model import features, persist

    if status not in ("ok", "no_month"):
        return None
    try:
        return persist.load_model(engine).backtest
    except features.ModelError:
        return None


def _model_part(engine: Engine, period: int, model: object, scores: pd.DataFrame | None, ps: PanelScores, scope: frozenset[str] | None, principal: Principal):  # noqa: ANN202 - (status, note, top list, total, horizon)
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
            scores = suggest.score_period(model, engine, period, principal=principal)
    except (KeyError, features.ModelError) as exc:
        return "no_month", str(exc), None, 0, horizon
    cand = suggest.candidates(scores, suggest.followed_households(engine), MODEL_THRESHOLD, limit=len(scores))
    town = pd.Series(ps.township, index=ps.household_ids.astype(str))
    cand = cand.assign(township_code=town.reindex(cand.index.astype(str)).to_numpy())
    if scope is not None:
        cand = cand[cand["township_code"].isin(list(scope))]
    total = len(cand)
    top = cand.head(LIST_ROWS).reset_index().rename(columns={"index": "household_id"})
    top = top.rename(columns={top.columns[0]: "household_id"})
    top = _with_people(engine, top[["household_id", "township_code", "probability", "risk_type", "factor_1", "factor_2", "factor_3"]])
    return "ok", None, top, total, horizon


def _findings(engine: Engine, period: int, principal: Principal) -> tuple[str, pd.DataFrame | None, int]:
    """Data-quality and supervision findings summarised by rule, if ``fanpin.quality.rules`` exists
    and the principal may read them (a case worker's: their townships)."""
    try:
        from fanpin.quality import rules
    except ImportError:
        return "unavailable", None, 0
    if not hasattr(rules, "find"):
        return "unavailable", None, 0
    try:
        found = rules.find(engine, period=int(period), principal=principal)
    except AccessDenied:  # a role that may not read the findings (a trainer) gets a brief without them
        return "unavailable", None, 0
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
    f = events_store.area_events(engine, shift(int(period), -RED_SHARE_WINDOW), int(period), AREA_EVENTS)
    f["township_code"] = f["region_code"].astype(str).str[:9] + "000"
    return f.drop_duplicates(["period", "event_type", "township_code"]).sort_values(["period", "township_code"], ignore_index=True)[["period", "event_type", "township_code"]]
