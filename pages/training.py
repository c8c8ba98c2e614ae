"""培训案例 Training: curated demo-county households walked through step by step, with a workshop mode.

Only the synthetic demo county is used, and no name, ID number or phone is ever
loaded: the walk-through works from the monthly snapshot and the events table.
Workshop mode enlarges the type for a projector and hides the household ID and
village, so that a case is only ever "案例一" / "Case 1".  Cases span the whole panel
under the baseline as saved, each month with the income line that holds for it, so the
sidebar month does not apply.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.demo.cases import TrainingCase, Walkthrough, find_cases, household_series, is_demo, load_household_events
from fanpin.engine.income_line import IncomeLine
from fanpin.engine.scoring import RiskPolicy
from fanpin.ui.data import Data
from fanpin.ui.i18n import kept_selectbox, lbl, t
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.text import md
from fanpin.ui.widgets import TIER_COLOURS

#: Plain CSS only (no web fonts): larger type for a projector.
WORKSHOP_CSS = """<style>
[data-testid="stMainBlockContainer"] p, [data-testid="stMainBlockContainer"] li,
[data-testid="stMainBlockContainer"] label, [data-testid="stMainBlockContainer"] button {font-size: 1.45rem !important; line-height: 1.55 !important;}
[data-testid="stMainBlockContainer"] h1 {font-size: 3.2rem !important;}
[data-testid="stMainBlockContainer"] h2 {font-size: 2.5rem !important;}
[data-testid="stMainBlockContainer"] h3 {font-size: 2.1rem !important;}
[data-testid="stMainBlockContainer"] [data-testid="stMetricValue"],
[data-testid="stMainBlockContainer"] [data-testid="stMetricValue"] * {font-size: 3rem !important; line-height: 1.2 !important;}
[data-testid="stMainBlockContainer"] [data-testid="stMetricLabel"] * {font-size: 1.3rem !important; white-space: normal !important; overflow: visible !important; text-overflow: clip !important;}
[data-testid="stMainBlockContainer"] [data-testid="stMetricDelta"] * {font-size: 1.3rem !important;}
[data-testid="stMainBlockContainer"] [data-testid="stCaptionContainer"] p {font-size: 1.25rem !important;}
[data-testid="stMainBlockContainer"] [data-baseweb="select"] * {font-size: 1.3rem !important;}
</style>"""
PER_ROW = 4
MARKER = "#2c3e50"


@st.cache_data(show_spinner=False, max_entries=4)
def _library(_data: Data, url: str, version: str, policy_json: str, line: IncomeLine, towns: str) -> list[TrainingCase] | None:
    """The case library, or None when the database is not the demo county (``towns``: the viewer's
    township scope, part of the cache key because ``_data`` loads only those households)."""
    if not is_demo(_data.engine):
        return None
    pol = RiskPolicy.from_json(policy_json)
    return find_cases(_data.panel_scores(pol), _data.snapshot, load_household_events(_data.engine), pol, line)


@st.cache_data(show_spinner=False, max_entries=32)
def _walkthrough(_data: Data, _case: TrainingCase, url: str, version: str, policy_json: str, line: IncomeLine, key: str, towns: str) -> Walkthrough:
    return _case.walkthrough(_data.snapshot, RiskPolicy.from_json(policy_json), line)


def _reset_step() -> None:
    st.session_state["training_step"] = 0


def _open(key: str) -> None:
    st.session_state["training_case"] = key
    st.session_state["training_step"] = 0


def _move(delta: int, n: int) -> None:
    st.session_state["training_step"] = min(max(int(st.session_state.get("training_step", 0)) + delta, 0), n - 1)


def library(cases: list[TrainingCase], lang: str) -> TrainingCase:
    """The case cards and the case picker; returns the case shown."""
    by_key = {c.key: c for c in cases}
    if st.session_state.get("training_case") not in by_key:
        st.session_state["training_case"] = cases[0].key
    st.subheader(t("training.library"))
    for start in range(0, len(cases), PER_ROW):
        for col, c in zip(st.columns(PER_ROW), cases[start : start + PER_ROW]):
            with col.container(border=True):
                st.markdown(f"**{md(c.title(lang))}**")
                if c.shock is not None:
                    st.caption(t("training.card_event", event=lbl("event", c.event_type), month=format_period(c.shock, lang)))
                else:
                    st.caption(t("training.card_structural", month=format_period(c.after, lang)))
                primary = c.key == st.session_state["training_case"]
                st.button(t("training.open"), key=f"training_open_{c.key}", on_click=_open, args=(c.key,), type="primary" if primary else "secondary")
    key = kept_selectbox(st, t("training.pick"), [c.key for c in cases], "training_case", lambda k: by_key[k].title(lang), cases[0].key, on_change=_reset_step)
    return by_key[key]


def case_header(data: Data, case: TrainingCase, wt: Walkthrough, lang: str, workshop: bool) -> None:
    """No name, no ID number; no household ID or village in workshop mode; the four figures."""
    b, a = wt.before, wt.after
    st.header(case.title(lang))
    place = t("training.place", township=md(data.township_names(lang).get(a.township_code, a.township_code)))
    if workshop:
        st.caption(place)
    else:
        village = md(data.village_names(lang).get(a.village_code, a.village_code))
        st.caption(f"{t('training.household_id', id=md(case.household_id), village=village)} · {place}")
    st.caption(t("training.privacy_note"))
    m = st.columns(4)
    change = a.income_pc / b.income_pc - 1 if b.income_pc > 0 else float("nan")
    month, since = format_period(a.period, lang), t("training.metric_since", month=format_period(b.period, lang))
    m[0].metric(t("training.metric_income", month=month), fmt.yuan(a.income_pc, lang), delta=fmt.pct(change), delta_description=since)
    m[1].metric(t("training.metric_score", month=month), f"{a.score:.1f}", delta=fmt.signed(a.score - b.score, 1), delta_color="inverse", delta_description=since)
    was = t("training.metric_was", tier=lbl("tier", b.tier), month=format_period(b.period, lang))
    m[2].metric(t("training.metric_tier", month=month), lbl("tier", a.tier), delta=was, delta_color="off", delta_arrow="off")
    m[3].metric(t("training.metric_line", month=month), fmt.yuan(a.income_line, lang))


def steps(wt: Walkthrough, lang: str) -> None:
    """The walk-through, one step at a time, with previous / next."""
    n = len(wt.steps)
    st.session_state["training_step"] = min(max(int(st.session_state.get("training_step", 0)), 0), n - 1)
    title = lambda j: f"{j + 1}. {wt.steps[j].title.render(lang)}"
    i = st.radio(t("training.steps"), list(range(n)), format_func=title, key="training_step", horizontal=True, persist_state="session")
    st.progress((i + 1) / n, text=t("training.step_of", i=i + 1, n=n))
    step = wt.steps[i]
    st.subheader(step.title.render(lang))
    texts = [msg.render(lang) for msg in step.lines]
    if step.bullets:
        st.markdown(texts[0] if step.key == "reasons" else f"- {texts[0]}")
        st.markdown("\n".join(f"- {x}" for x in texts[1:-1]))
        st.markdown(texts[-1] if step.key == "reasons" else f"- {texts[-1]}")
    else:
        for x in texts:
            st.markdown(x)
    row = st.container(horizontal=True, gap="small")  # as wide as their labels: the workshop's large font cut them in columns ("◀ 上…")
    row.button(t("training.prev"), key="training_prev", on_click=_move, args=(-1, n), disabled=i == 0)
    row.button(t("training.next"), key="training_next", on_click=_move, args=(1, n), disabled=i == n - 1, type="primary")


def _layout(font: int, workshop: bool) -> dict:
    axis = dict(tickfont=dict(size=font - 1))
    return dict(
        margin=dict(l=10, r=10, t=60, b=10),
        font=dict(size=font),
        legend=dict(orientation="h", y=-0.18, font=dict(size=font - 1)),
        height=360 if workshop else 300,
        xaxis=dict(tickformat="%Y-%m", **axis),
    )


def _title(text: str, font: int) -> dict:
    return dict(text=text, font=dict(size=font + 3))


def _mark(fig: go.Figure, case: TrainingCase, y_before: float, y_after: float, font: int) -> None:
    """Circle and label the before and after months (the higher label above); the shock as a dashed line."""
    structural = case.shock is None
    label_b = t("training.series_then") if structural else t("training.series_before")
    label_a = t("training.series_now") if structural else t("training.series_after")
    xb, xa = format_period(case.before, "en"), format_period(case.after, "en")
    for xv, yv, text, ax, other in ((xb, y_before, label_b, -45, y_after), (xa, y_after, label_a, 45, y_before)):
        fig.add_trace(go.Scatter(x=[xv], y=[yv], mode="markers", marker=dict(size=15, color="rgba(0,0,0,0)", line=dict(color=MARKER, width=2)), showlegend=False, hoverinfo="skip"))
        fig.add_annotation(x=xv, y=yv, text=text, showarrow=True, arrowhead=2, ax=ax, ay=-38 if yv >= other else 38, font=dict(size=font - 1, color=MARKER), bgcolor="rgba(255,255,255,0.85)")
    if structural:
        return
    xs = format_period(case.shock, "en")
    fig.add_shape(type="line", x0=xs, x1=xs, y0=0, y1=1, yref="paper", line=dict(color="#7f8c8d", width=2, dash="dash"))
    fig.add_annotation(x=xs, y=1, yref="paper", text=t("training.shock", event=lbl("event", case.event_type)), showarrow=False, yanchor="bottom", font=dict(size=font - 1, color="#555"))


def income_chart(series: pd.DataFrame, case: TrainingCase, wt: Walkthrough, font: int, workshop: bool) -> None:
    """Income per person against the income line and its warning line, month by month."""
    x = [format_period(p, "en") for p in series["period"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=series["income_pc"].round(0), name=t("training.series_income"), mode="lines", line=dict(color=MARKER, width=3)))
    fig.add_trace(go.Scatter(x=x, y=series["income_line"], name=t("training.series_line"), mode="lines", line=dict(color=TIER_COLOURS["red"], dash="dash")))
    fig.add_trace(go.Scatter(x=x, y=series["warning_line"], name=t("training.series_warning"), mode="lines", line=dict(color=TIER_COLOURS["yellow"], dash="dot")))
    _mark(fig, case, wt.before.income_pc, wt.after.income_pc, font)
    axis = dict(tickfont=dict(size=font - 1))
    fig.update_layout(title=_title(t("training.chart_income"), font), yaxis=dict(rangemode="tozero", tickformat=",.0f", **axis), **_layout(font, workshop))
    st.plotly_chart(fig, width="stretch", key="training_income_chart")


def score_chart(series: pd.DataFrame, case: TrainingCase, wt: Walkthrough, policy: RiskPolicy, font: int, workshop: bool) -> None:
    """The score month by month over the tier bands, each point in its tier's colour."""
    x = [format_period(p, "en") for p in series["period"]]
    yellow, red = policy.normalised()[0].cutoffs
    top = max(60.0, float(series["score"].max()) + 8)
    fig = go.Figure()
    for lo, hi, tier in ((0, yellow, "green"), (yellow, red, "yellow"), (red, top, "red")):
        fig.add_hrect(y0=lo, y1=hi, fillcolor=TIER_COLOURS[tier], opacity=0.10, line_width=0, layer="below")
    colours = [TIER_COLOURS.get(tier, "#999") for tier in series["tier"].fillna("")]
    line = dict(color="#34495e", width=2)
    fig.add_trace(go.Scatter(x=x, y=series["score"].round(1), name=t("training.series_score"), mode="lines+markers", line=line, marker=dict(color=colours, size=9)))
    _mark(fig, case, wt.before.score, wt.after.score, font)
    axis = dict(tickfont=dict(size=font - 1))
    fig.update_layout(title=_title(t("training.chart_score"), font), yaxis=dict(range=[0, top], **axis), showlegend=False, **_layout(font, workshop))
    st.plotly_chart(fig, width="stretch", key="training_score_chart")


def reasons_chart(wt: Walkthrough, lang: str, font: int, workshop: bool) -> None:
    """What makes up the score before and after (a warning line hit in red)."""
    b, a = wt.before, wt.after
    contrib = wt.contributions(top=8)
    names = [lbl("indicator", k) for k in contrib["indicator"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=names, x=contrib["before"].round(2), orientation="h", name=format_period(b.period, lang), marker_color="#bdc3c7"))
    hit = [TIER_COLOURS["red"] if h else "#34495e" for h in contrib["warning_hit"]]
    fig.add_trace(go.Bar(y=names, x=contrib["after"].round(2), orientation="h", name=format_period(a.period, lang), marker_color=hit))
    axis = dict(tickfont=dict(size=font - 1))
    fig.update_layout(
        title=_title(t("training.chart_reasons", before=format_period(b.period, lang), after=format_period(a.period, lang)), font),
        barmode="group",
        yaxis=dict(autorange="reversed", automargin=True, **axis),
        **{**_layout(font, workshop), "height": 440 if workshop else 360, "xaxis": dict(title=t("training.points"), **axis)},
    )
    st.plotly_chart(fig, width="stretch", key="training_reasons_chart")


def main() -> None:
    ctx: Context = page_context("training")
    data, lang = ctx.data, ctx.lang
    policy, line = data.baseline_saved(), data.stored_lines()
    st.title(t("training.title"))
    st.caption(t("training.caption"))
    with st.spinner(t("training.computing")):
        cases = _library(data, data.url, data.version, policy.to_json(), line, data.towns_key)
    if cases is None:
        st.info(t("training.not_demo"))
        return
    if not cases:
        st.warning(t("training.no_cases"))
        return
    workshop = st.toggle(t("training.workshop"), key="training_workshop", persist_state="session", help=t("training.workshop_help"))
    if workshop:
        st.markdown(WORKSHOP_CSS, unsafe_allow_html=True)
    font = 18 if workshop else 13
    case = library(cases, lang)
    wt = _walkthrough(data, case, data.url, data.version, policy.to_json(), line, case.key, data.towns_key)
    case_header(data, case, wt, lang, workshop)
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        steps(wt, lang)
    series = household_series(data.panel_scores(policy), case.household_id, policy)
    with right:
        income_chart(series, case, wt, font, workshop)
        score_chart(series, case, wt, policy, font, workshop)
    reasons_chart(wt, lang, font, workshop)
    with st.expander(t("training.rules")):
        st.markdown(t("training.rules_body"))


main()
