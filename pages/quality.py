"""数据质量与监督 Data quality and supervision findings: by rule, by township, drill-down, findings to clues."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.engine import Engine

from fanpin.access.roles import AccessDenied, Principal, can
from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.quality import rules as R
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import kept_selectbox, lbl, lkey, t
from fanpin.ui.messages import flash, show_flash
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.text import md

PAGE = "quality"
#: The drill-down's columns (code names: ``name`` and ``id_number`` are masked in downloads) and their labels.
DETAIL_LABELS = {
    "household_id": "common.household_id", "township": "common.township", "village": "quality.village", "rule": "quality.rule",
    "severity": "quality.severity", "detail": "quality.detail", "name": "quality.head", "id_number": "quality.id_number",
}


@st.cache_data(show_spinner=False, max_entries=32)
def _findings(_engine: Engine, url: str, token: str, period: int, role: str, towns: tuple[str, ...] | None, _principal: Principal) -> pd.DataFrame:
    """Findings for a month, cached per role and townships until the data (or a clue, monitoring record ...) change."""
    return R.find(_engine, period, principal=_principal)


def load_findings(ctx: Context) -> pd.DataFrame:
    p = ctx.principal
    towns = None if p.townships is None else tuple(sorted(p.townships))
    with st.spinner(t("quality.computing")):  # seconds at 100k households the first time (then cached)
        return _findings(ctx.engine, ctx.data.url, R.state_token(ctx.engine), ctx.period, p.role, towns, p)


def severity_label(code: str) -> str:
    return lbl("quality.severity", code)


def metrics(findings: pd.DataFrame, lang: str) -> None:
    m = st.columns(4)
    m[0].metric(t("quality.findings"), fmt.count(len(findings), lang))
    m[1].metric(t("quality.households"), fmt.count(findings["household_id"].nunique(), lang))
    m[2].metric(t("quality.high"), fmt.count(int((findings["severity"] == "high").sum()), lang))
    m[3].metric(t("quality.rules_hit"), f"{findings['rule'].nunique()} / {len(R.RULES)}")


def rules_tab(findings: pd.DataFrame, rule_name: dict[str, str], lang: str) -> None:
    """Findings per rule: a table, a bar chart, and what each rule reads."""
    br = R.by_rule(findings)
    table = pd.DataFrame({
        t("quality.rule"): br["rule"].map(rule_name),
        t("quality.severity"): br["severity"].map(severity_label),
        t("quality.findings"): br["findings"],
        t("quality.households"): br["households"],
        t("quality.townships"): br["townships"],
    })  # the descriptions are read in full below (a table cell cut them off)
    st.dataframe(table, hide_index=True, width="stretch", key="qa_by_rule", height=36 * (len(table) + 1) + 3,
                 column_config={t("quality.rule"): st.column_config.TextColumn(width="large")})
    st.caption(t("quality.chart_rules"))
    ordered = table.sort_values(t("quality.findings"))  # largest at the top of a horizontal bar chart
    n = ordered[t("quality.findings")]
    fig = go.Figure(go.Bar(x=n, y=ordered[t("quality.rule")], orientation="h", marker_color="#c0392b", text=n, textposition="outside", cliponaxis=False))
    fig.update_layout(height=34 * len(ordered) + 60, margin=dict(l=10, r=40, t=10, b=30), yaxis=dict(automargin=True),
                      xaxis=dict(tickformat="d", dtick=1 if n.max() < 8 else None))  # counts: no 0.5 tick for a township's few findings
    st.plotly_chart(fig, width="stretch", key="qa_chart_rules")
    with st.expander(t("quality.rules_help"), expanded=True):
        left, right, colon = ("（", "）", "：") if lang == "zh" else (" (", ")", ": ")
        st.markdown("\n".join(f"- **{md(r.name(lang))}**{left}{severity_label(r.severity)}{right}{colon}{md(r.description(lang))}" for r in R.RULES))


def townships_tab(findings: pd.DataFrame, rule_name: dict[str, str], names: dict[str, str]) -> None:
    """Findings per township, one column per rule, and a stacked bar chart."""
    bt = R.by_township(findings)
    table = pd.DataFrame({
        t("common.township"): bt["township_code"].map(lambda c: names.get(c, c)),
        t("quality.findings"): bt["findings"],
        t("quality.households"): bt["households"],
        t("quality.high"): bt["high"],
        **{rule_name[r.code]: bt[r.code] for r in R.RULES},
    })
    st.dataframe(table, hide_index=True, width="stretch", key="qa_by_town")
    if len(table):
        st.caption(t("quality.chart_townships"))
        st.bar_chart(table.set_index(t("common.township"))[[rule_name[r.code] for r in R.RULES]], stack=True, height=360)


def pick_rule(findings: pd.DataFrame, rule_name: dict[str, str]) -> str:
    """The rule the drill-down lists ("*" for all); the choice survives a language switch."""
    counts = findings["rule"].value_counts()

    def label(c: str) -> str:
        return t("quality.all_rules") if c == "*" else f"{rule_name[c]} ({int(counts.get(c, 0))})"

    return kept_selectbox(st, t("quality.pick_rule"), ["*", *[r.code for r in R.RULES]], "qa_rule", label, "*")


def detail_frame(ctx: Context, view: pd.DataFrame, rule_name: dict[str, str], names: dict[str, str], villages: dict[str, str]) -> pd.DataFrame:
    """The drill-down with code-name columns; the heads' names and ID numbers come masked from the domain."""
    heads = R.household_heads(ctx.engine, view["household_id"], principal=ctx.principal).set_index("household_id")
    return pd.DataFrame({
        "household_id": view["household_id"],
        "township": view["township_code"].map(lambda c: names.get(c, c)),
        "village": view["village_code"].map(lambda c: villages.get(c, c)),
        "rule": view["rule"].map(rule_name),
        "severity": view["severity"].map(severity_label),
        "detail": view["detail"].map(lambda d: R.detail_text(d, ctx.lang)),
        "name": view["household_id"].map(heads["name"]).fillna(""),
        "id_number": view["household_id"].map(heads["id_number"]).fillna(""),
    })


def to_clues(engine: Engine, principal: Principal, part: pd.DataFrame, period: int) -> None:
    """Button callback: the findings become clues; what happened is flashed on the next run."""
    try:
        n = R.findings_to_clues(engine, part, period, principal=principal)
    except AccessDenied:
        flash(PAGE, "error", t("quality.no_permission"))
    else:
        flash(PAGE, "success", t("quality.created", n=n))
    st.session_state.pop("qa_table", None)


def clue_buttons(ctx: Context, view: pd.DataFrame) -> None:
    """Turn the ticked rows, or every listed finding, into clues (roles that record clues only)."""
    if not (can(ctx.principal, "clue_add") or can(ctx.principal, "clue_generate")):
        st.caption(t("quality.no_permission"))
        return
    picked = [r for r in st.session_state.get("qa_table", {}).get("selection", {}).get("rows", []) if r < len(view)]
    st.caption(t("quality.select_hint"))
    b1, b2 = st.columns(2)
    b1.button(t("quality.to_clues_selected", n=len(picked)), key="qa_to_clues_selected", disabled=not picked,
              on_click=to_clues, args=(ctx.engine, ctx.principal, view.iloc[picked], ctx.period))
    b2.button(t("quality.to_clues_all", n=len(view)), key="qa_to_clues_all", type="primary", disabled=view.empty,
              on_click=to_clues, args=(ctx.engine, ctx.principal, view, ctx.period))


def details_tab(ctx: Context, findings: pd.DataFrame, rule_name: dict[str, str], names: dict[str, str], villages: dict[str, str]) -> None:
    """One rule's (or every rule's) findings with the heads, a download, and the clue buttons."""
    chosen = pick_rule(findings, rule_name)
    view = (findings if chosen == "*" else findings[findings["rule"] == chosen]).reset_index(drop=True)
    frame = detail_frame(ctx, view, rule_name, names, villages)
    labels = {c: t(k) for c, k in DETAIL_LABELS.items()}
    st.subheader(t("quality.table", n=fmt.count(len(frame), ctx.lang)))
    if frame.empty:
        st.info(t("quality.none"))
    st.dataframe(frame.rename(columns=labels), key="qa_table", on_select="rerun", selection_mode="multi-row", hide_index=True, width="stretch", height=360)
    download_table(ctx, frame, f"quality_{ctx.period}", "qa_dl", labels=labels)
    clue_buttons(ctx, view)


def main() -> None:
    ctx = page_context(PAGE)
    st.title(t("nav.quality"))
    st.caption(t("quality.caption", n=len(R.RULES), month=format_period(ctx.period, ctx.lang)))
    show_flash(PAGE)
    findings = load_findings(ctx)
    names, villages = ctx.data.township_names(ctx.lang), ctx.data.village_names(ctx.lang)
    rule_name = {r.code: r.name(ctx.lang) for r in R.RULES}
    metrics(findings, ctx.lang)
    # keyed: the open tab is kept when a flashed message above moves the tabs (转为线索 stayed on the details tab)
    tab_rules, tab_towns, tab_details = st.tabs([t("quality.tab_rules"), t("quality.tab_townships"), t("quality.tab_details")], key=lkey("qa_tabs"), on_change="rerun")
    with tab_rules:
        rules_tab(findings, rule_name, ctx.lang)
    with tab_towns:
        townships_tab(findings, rule_name, names)
    with tab_details:
        details_tab(ctx, findings, rule_name, names, villages)


main()
