"""总览 Overview: the month's headline numbers, trends over the panel, townships ranked by red share."""

import plotly.graph_objects as go
import streamlit as st

from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.engine.summary import (
    household_list,
    month_summary,
    township_table,
    trend_frame,
)
from fanpin.ui.brief import brief_download
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, t
from fanpin.ui.sidebar import page_context
from fanpin.ui.widgets import TIER_COLOURS
from fanpin.workflow.common import as_of_date
from fanpin.workflow.orders import closed_loop

ctx = page_context("overview")
data, period, lang = ctx.data, ctx.period, ctx.lang
policy = data.baseline(period)
with st.spinner(t("overview.computing")):
    ps = data.panel_scores(policy)
names = data.township_names(lang)

# A township picked in the table below filters everything on the page.
picked = st.session_state.get("ov_township_table", {}).get("selection", {}).get("rows", [])
table = township_table(ps, period)
township = table["township_code"].iloc[picked[0]] if picked else None

where = names.get(township, township) if township else ctx.county
st.title(t("overview.title", place=where, month=format_period(period, lang)))
st.caption(t("overview.caption", line=fmt.yuan(ps.income_line[ps.col(period)], lang), policy=policy.name))
if township:
    st.info(t("overview.filtered", township=where))
brief_download(ctx)

s = month_summary(ps, period, township)
c = st.columns(6)
c[0].metric(t("common.households"), fmt.count(s.households, lang))
for col, tier in zip(c[1:4], ("red", "yellow", "green")):
    col.metric(lbl("tier", tier), fmt.count(s.counts[tier], lang), delta=fmt.signed(s.change[tier]), delta_color="inverse" if tier != "green" else "normal")
c[4].metric(t("overview.newly_red"), fmt.count(s.newly_red, lang), help=t("overview.newly_red_help"))
c[5].metric(t("overview.rising"), fmt.count(s.rising, lang), help=t("overview.rising_help"))

# ---- closed loop of the monitoring work (verification orders)
loop = closed_loop(data.engine, as_of_date(period), principal=ctx.principal)
if loop.orders:
    l1, l2, l3, l4 = st.columns(4)
    l1.metric(t("overview.orders"), fmt.count(loop.orders, lang))
    l2.metric(t("overview.decided"), fmt.count(loop.decided, lang))
    l3.metric(t("overview.median_days"), "—" if loop.median_days is None else f"{loop.median_days:.1f}", help=t("overview.median_days_help"))
    l4.metric(t("overview.overdue"), f"{fmt.count(loop.overdue, lang)} ({fmt.pct(loop.overdue_share)})")
else:
    st.caption(t("overview.no_orders"))

# ---- trends
trend = trend_frame(ps, township)
x = [format_period(p, "en") for p in trend.index]
t1, t2, t3 = st.columns(3)
fig = go.Figure()
for tier in ("red", "yellow"):
    fig.add_trace(go.Scatter(x=x, y=trend[tier], name=lbl("tier", tier), mode="lines", line=dict(color=TIER_COLOURS[tier], width=2)))
fig.update_layout(title=t("overview.trend_tiers"), height=300, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))
t1.plotly_chart(fig, width="stretch", key="ov_trend_tiers")
fig = go.Figure(go.Scatter(x=x, y=trend["mean_score"].round(2), mode="lines", line=dict(color="#34495e", width=2), name=t("overview.mean_score")))
fig.update_layout(title=t("overview.trend_score"), height=300, margin=dict(l=10, r=10, t=40, b=10))
t2.plotly_chart(fig, width="stretch", key="ov_trend_score")
fig = go.Figure(go.Scatter(x=x, y=(100 * trend["below_line_share"]).round(2), mode="lines", line=dict(color="#8e44ad", width=2), name=t("overview.below_line")))
fig.update_layout(title=t("overview.trend_below"), height=300, margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(ticksuffix="%"))
t3.plotly_chart(fig, width="stretch", key="ov_trend_below")

# ---- townships ranked by red share (click a row to filter the page)
st.subheader(t("overview.townships"))
st.caption(t("overview.townships_hint"))
shown = table.assign(
    township=table["township_code"].map(names),
    red_share=(100 * table["red_share"]).round(1),
    red_share_change=(100 * table["red_share_change"]).round(1),
    mean_score=table["mean_score"].round(1),
    trend=[[round(100 * v, 1) for v in row] for row in table["trend"]],
)[["township", "township_code", "households", "red", "yellow", "green", "red_share", "red_share_change", "mean_score", "trend"]]
st.dataframe(
    shown,
    key="ov_township_table",
    on_select="rerun",
    selection_mode="single-row",
    hide_index=True,
    width="stretch",
    column_config={
        "township": st.column_config.TextColumn(t("common.township")),
        "township_code": st.column_config.TextColumn(t("overview.code")),
        "households": st.column_config.NumberColumn(t("common.households"), format="localized"),
        "red": st.column_config.NumberColumn(lbl("tier", "red")),
        "yellow": st.column_config.NumberColumn(lbl("tier", "yellow")),
        "green": st.column_config.NumberColumn(lbl("tier", "green")),
        "red_share": st.column_config.NumberColumn(t("overview.red_share"), format="%.1f%%"),
        "red_share_change": st.column_config.NumberColumn(t("overview.red_share_change"), format="%+.1f"),
        "mean_score": st.column_config.NumberColumn(t("overview.mean_score"), format="%.1f"),
        "trend": st.column_config.LineChartColumn(t("overview.red_share_trend"), y_min=0),
    },
)
download_table(ctx, shown.drop(columns="trend"), f"townships_{period}", "ov_townships")

# ---- households to look at: newly red, rising three months
sel = (ps.township == township) if township else True
left, right = st.columns(2)
for col, title, mask, key in (
    (left, t("overview.newly_red_list"), ps.newly_red(period) & sel, "ov_newly_red"),
    (right, t("overview.rising_list"), ps.rising(period) & sel, "ov_rising"),
):
    with col:
        st.subheader(title)
        hl = household_list(ps, period, mask)
        hl = hl.assign(township=hl["township_code"].map(names), tier=hl["tier"].map(lambda x: lbl("tier", x)))
        hl = hl[["household_id", "township", "score", "score_change", "tier", "income_pc"]].rename(
            columns={
                "household_id": t("common.household_id"),
                "township": t("common.township"),
                "score": t("common.score"),
                "score_change": t("overview.score_change"),
                "tier": t("common.tier"),
                "income_pc": t("overview.income_pc"),
            }
        )
        shown_hl = hl.assign(**{t("common.household_id"): "profile?household=" + hl[t("common.household_id")].astype(str)})
        st.dataframe(
            shown_hl,
            hide_index=True,
            width="stretch",
            height=300,
            column_config={t("common.household_id"): st.column_config.LinkColumn(t("common.household_id"), display_text=r"household=(\d+)$", help=t("overview.open_profile"))},
        )
        download_table(ctx, hl, f"{key}_{period}", key)
