"""总览 Overview: the month's headline numbers, trends over the panel, townships ranked by red share.

Every figure comes from the baseline's panel scores (``Data.panel_scores()``: each month with the
income line that holds for it), the same numbers as the brief, the register, the map and the
simulator's baseline for that month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.engine.scoring import RiskPolicy
from fanpin.engine.summary import MonthSummary, household_list, month_summary, township_table, trend_frame
from fanpin.engine.trends import PanelScores
from fanpin.ui.brief import brief_download
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, t
from fanpin.ui.labels import forced_note
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.tables import fit_width
from fanpin.ui.text import md
from fanpin.ui.widgets import TIER_COLOURS
from fanpin.workflow.common import as_of_date
from fanpin.workflow.orders import closed_loop

TABLE_KEY = "ov_township_table"
#: The township table's columns (code names) and their labels.
TOWNSHIP_LABELS = {
    "township": "common.township", "township_code": "overview.code", "households": "common.households", "red_share": "overview.red_share",
    "red_share_change": "overview.red_share_change", "mean_score": "overview.mean_score",
}
#: The household lists' columns (code names) and their labels.
HOUSEHOLD_LABELS = {
    "household_id": "common.household_id", "township": "common.township", "score": "common.score", "score_change": "overview.score_change",
    "tier": "common.tier", "forced": "overview.forced", "income_pc": "overview.income_pc",
}
CHART_MARGIN = dict(l=10, r=10, t=40, b=10)


def picked_township(table: pd.DataFrame) -> str | None:
    """The township picked in the table below (it filters the whole page), or None."""
    rows = st.session_state.get(TABLE_KEY, {}).get("selection", {}).get("rows", [])
    return str(table["township_code"].iloc[rows[0]]) if rows and rows[0] < len(table) else None


def header(ctx: Context, ps: PanelScores, policy_name: str, place: str, township: str | None) -> None:
    """Title, the policy and the month's income line, the filter note and the brief (a township's
    brief when the page is filtered to one)."""
    st.title(t("overview.title", place=md(place), month=format_period(ctx.period, ctx.lang)))
    st.caption(t("overview.caption", line=fmt.yuan(ps.income_line[ps.col(ctx.period)], ctx.lang), policy=md(policy_name)))
    if township is not None:
        st.info(t("overview.filtered", township=md(place)) + " " + t("overview.brief_township", township=md(place)))
    brief_download(ctx, township)


def headline(s: MonthSummary, lang: str) -> None:
    """Households, tier counts with their change, newly red and rising."""
    c = st.columns(6)
    c[0].metric(t("common.households"), fmt.count(s.households, lang))
    for col, tier in zip(c[1:4], ("red", "yellow", "green")):
        col.metric(lbl("tier", tier), fmt.count(s.counts[tier], lang), delta=fmt.signed(s.change[tier]), delta_color="inverse" if tier != "green" else "normal")
    c[4].metric(t("overview.newly_red"), fmt.count(s.newly_red, lang), help=t("overview.newly_red_help"))
    c[5].metric(t("overview.rising"), fmt.count(s.rising, lang), help=t("overview.rising_help"))


def closed_loop_figures(ctx: Context, township: str | None) -> None:
    """The monitoring work's closed loop (verification orders) as the principal may see it (the
    filtered township's orders only)."""
    loop = closed_loop(ctx.engine, as_of_date(ctx.period), principal=ctx.principal, township=township)
    if not loop.orders:
        st.caption(t("overview.no_orders"))
        return
    lang = ctx.lang
    c = st.columns(4)
    c[0].metric(t("overview.orders"), fmt.count(loop.orders, lang))
    c[1].metric(t("overview.decided"), fmt.count(loop.decided, lang))
    c[2].metric(t("overview.median_days"), "—" if loop.median_days is None else f"{loop.median_days:.1f}", help=t("overview.median_days_help"))
    c[3].metric(t("overview.overdue"), f"{fmt.count(loop.overdue, lang)} ({fmt.pct(loop.overdue_share)})")


def _line_chart(where, x: pd.DatetimeIndex, series: dict[str, tuple[pd.Series, str]], title: str, key: str, **layout: object) -> None:  # noqa: ANN001 - a column
    fig = go.Figure()
    for name, (y, colour) in series.items():
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", line=dict(color=colour, width=2)))
    fig.update_layout(title=title, height=300, margin=CHART_MARGIN, xaxis=dict(tickformat="%Y-%m"), **layout)
    where.plotly_chart(fig, width="stretch", key=key)


def trends(ps: PanelScores, township: str | None) -> None:
    """Red and yellow counts, the mean score and the share below the income line, month by month."""
    trend = trend_frame(ps, township)
    x = pd.to_datetime([f"{p // 100}-{p % 100:02d}-01" for p in trend.index])  # a date axis, months as 2024-07 in either language
    c = st.columns(3)
    tiers = {lbl("tier", tier): (trend[tier], TIER_COLOURS[tier]) for tier in ("red", "yellow")}
    _line_chart(c[0], x, tiers, t("overview.trend_tiers"), "ov_trend_tiers", legend=dict(orientation="h", y=-0.2))
    _line_chart(c[1], x, {t("overview.mean_score"): (trend["mean_score"].round(2), "#34495e")}, t("overview.trend_score"), "ov_trend_score")
    below = {t("overview.below_line"): ((100 * trend["below_line_share"]).round(2), "#8e44ad")}
    _line_chart(c[2], x, below, t("overview.trend_below"), "ov_trend_below", yaxis=dict(ticksuffix="%"))


def township_rows(table: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The township ranking as shown: names, percentages, the red-share series."""
    return table.assign(
        township=table["township_code"].map(names),
        red_share=(100 * table["red_share"]).round(1),
        red_share_change=(100 * table["red_share_change"]).round(1),
        mean_score=table["mean_score"].round(1),
        trend=[[round(100 * v, 1) for v in row] for row in table["trend"]],
    )[["township", "township_code", "households", "red", "yellow", "green", "red_share", "red_share_change", "mean_score", "trend"]]


def townships(ctx: Context, shown: pd.DataFrame) -> None:
    """The ranking (a click on a row filters the page) and its download."""
    st.subheader(t("overview.townships"))
    st.caption(t("overview.townships_hint"))
    number = st.column_config.NumberColumn
    st.dataframe(
        shown,
        key=TABLE_KEY,
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        column_order=[c for c in shown.columns if c != "township_code"],  # names in full at 1366 px; the code is in the download
        column_config={
            "township": st.column_config.TextColumn(t("common.township"), width=fit_width(shown["township"].tolist(), t("common.township"))),
            "township_code": st.column_config.TextColumn(t("overview.code")),
            "households": number(t("common.households"), format="localized", width=fit_width([], t("common.households"))),
            "red": number(lbl("tier", "red")),
            "yellow": number(lbl("tier", "yellow")),
            "green": number(lbl("tier", "green")),
            "red_share": number(t("overview.red_share"), format="%.1f%%"),
            "red_share_change": number(t("overview.red_share_change"), format="%+.1f"),
            "mean_score": number(t("overview.mean_score"), format="%.1f"),
            "trend": st.column_config.LineChartColumn(t("overview.red_share_trend"), y_min=0),
        },
    )
    labels = {**{k: t(v) for k, v in TOWNSHIP_LABELS.items()}, **{x: lbl("tier", x) for x in ("red", "yellow", "green")}}
    download_table(ctx, shown.drop(columns="trend"), f"townships_{ctx.period}", "ov_townships", labels=labels)


def household_rows(ps: PanelScores, period: int, mask: np.ndarray, names: dict[str, str], policy: RiskPolicy, lang: str) -> pd.DataFrame:
    """Households in ``mask`` for the month (code-name columns), highest score first; a tier set by a
    rule rather than the score says so ("forced red: income below the line")."""
    hl = household_list(ps, period, mask, policy)
    forced = [forced_note(w, x, a, lang) for w, x, a in zip(hl["forced_by"], hl["tier"], hl["forced_line"])]
    hl = hl.assign(township=hl["township_code"].map(names), tier=hl["tier"].map(lambda x: lbl("tier", x)), forced=forced)
    return hl[["household_id", "township", "score", "score_change", "tier", "income_pc", "forced"]]  # the long note last: the numbers stay in sight at 1366 px


def household_lists(ctx: Context, ps: PanelScores, township: str | None, names: dict[str, str]) -> None:
    """Newly red this month and rising three months, each with a link to the profile and a download."""
    sel = (ps.township == township) if township else np.ones(len(ps.household_ids), dtype=bool)
    labels = {k: t(v) for k, v in HOUSEHOLD_LABELS.items()}
    policy = ctx.data.baseline_saved()  # the panel's policy: its cut-offs and tier rules explain a tier
    number = st.column_config.NumberColumn
    lists = ((t("overview.newly_red_list"), ps.newly_red(ctx.period), "ov_newly_red"), (t("overview.rising_list"), ps.rising(ctx.period), "ov_rising"))
    for title, mask, key in lists:  # one under the other: side by side, a 1366 px screen cut the income column
        st.subheader(title)
        rows = household_rows(ps, ctx.period, mask & sel, names, policy, ctx.lang)
        linked = rows.assign(household_id="profile?household=" + rows["household_id"].astype(str)).rename(columns=labels)
        config = {
            labels["household_id"]: st.column_config.LinkColumn(  # sized by the ID shown, not its link (the income column was out of sight at 1366 px)
                labels["household_id"], display_text=r"household=(\d+)$", help=t("overview.open_profile"), width=fit_width(rows["household_id"].astype(str).tolist(), labels["household_id"])
            ),
            labels["score"]: number(format="%.1f"), labels["score_change"]: number(format="%+.1f"),
            labels["income_pc"]: number(format="localized", width=fit_width([], labels["income_pc"])), labels["forced"]: st.column_config.TextColumn(help=t("overview.forced_help"), width=fit_width(rows["forced"].tolist(), labels["forced"])),
        }
        st.dataframe(linked, hide_index=True, width="stretch", height=min(300, 38 + 35 * max(len(rows), 1)), column_config=config)
        download_table(ctx, rows, f"{key}_{ctx.period}", key, labels=labels)


def main() -> None:
    ctx = page_context("overview")
    with st.spinner(t("overview.computing")):
        ps = ctx.data.panel_scores()  # the baseline, each month with the line that holds for it
    names = ctx.data.township_names(ctx.lang)
    table = township_table(ps, ctx.period)
    township = picked_township(table)
    mine = ctx.principal.townships if ctx.principal is not None and ctx.principal.region is None else None  # a case worker's overview is of their townships, and says so (a leader above the county sees whole counties)
    scope = "、".join(names.get(c, c) for c in sorted(mine)) if mine is not None else ctx.county
    header(ctx, ps, ctx.data.baseline_saved().name, names.get(township, township) if township else scope, township)
    headline(month_summary(ps, ctx.period, township), ctx.lang)
    closed_loop_figures(ctx, township)
    trends(ps, township)
    townships(ctx, township_rows(table, names))
    household_lists(ctx, ps, township, names)


main()
