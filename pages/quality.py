"""数据质量与监督 Data quality and supervision findings: by rule, by township, drill-down, findings to clues."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy import select

from fanpin.access.masking import mask_frame
from fanpin.access.roles import Principal, can
from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.quality import rules as R
from fanpin.store import schema as S
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, t
from fanpin.ui.sidebar import page_context

ctx = page_context("quality")
data, period, lang = ctx.data, ctx.period, ctx.lang
engine = data.engine
ss = st.session_state

st.title(t("nav.quality"))
st.caption(t("quality.caption", n=len(R.RULES), month=format_period(period, lang)))

flash = ss.pop("_qa_flash", None)
if flash:
    st.success(flash)

@st.cache_data(show_spinner=False, max_entries=32)
def _findings(_engine, url: str, token: str, period: int, townships: tuple[str, ...] | None) -> pd.DataFrame:  # noqa: ANN001
    """Findings for a month, cached until the data (or a clue, monitoring record ...) change."""
    return R.find(_engine, period, None if townships is None else Principal("", "", frozenset(townships)))


scope = None if ctx.principal is None or ctx.principal.townships is None else tuple(sorted(ctx.principal.townships))
findings = _findings(engine, data.url, R.state_token(engine), period, scope)
names = data.township_names(lang)
villages = data.village_names(lang)
rule_name = {r.code: r.name(lang) for r in R.RULES}
sev = lambda c: lbl("quality.severity", c)

m = st.columns(4)
m[0].metric(t("quality.findings"), fmt.count(len(findings), lang))
m[1].metric(t("quality.households"), fmt.count(findings["household_id"].nunique(), lang))
m[2].metric(t("quality.high"), fmt.count(int((findings["severity"] == "high").sum()), lang))
m[3].metric(t("quality.rules_hit"), f"{findings['rule'].nunique()} / {len(R.RULES)}")

tab_rules, tab_towns, tab_details = st.tabs([t("quality.tab_rules"), t("quality.tab_townships"), t("quality.tab_details")])

with tab_rules:
    br = R.by_rule(findings)
    table = pd.DataFrame({
        t("quality.rule"): br["rule"].map(rule_name),
        t("quality.severity"): br["severity"].map(sev),
        t("quality.findings"): br["findings"],
        t("quality.households"): br["households"],
        t("quality.townships"): br["townships"],
        t("quality.description"): [R.BY_CODE[c].description(lang) for c in br["rule"]],
    })
    st.dataframe(table, hide_index=True, width="stretch", key="qa_by_rule", height=36 * (len(table) + 1) + 3)
    st.caption(t("quality.chart_rules"))
    ordered = table.sort_values(t("quality.findings"))  # largest at the top of a horizontal bar chart
    fig = go.Figure(go.Bar(x=ordered[t("quality.findings")], y=ordered[t("quality.rule")], orientation="h", marker_color="#c0392b", text=ordered[t("quality.findings")], textposition="outside", cliponaxis=False))
    fig.update_layout(height=34 * len(ordered) + 60, margin=dict(l=10, r=40, t=10, b=30), yaxis=dict(automargin=True))
    st.plotly_chart(fig, width="stretch", key="qa_chart_rules")
    with st.expander(t("quality.rules_help")):
        st.dataframe(pd.DataFrame({
            t("quality.code"): [r.code for r in R.RULES],
            t("quality.rule"): [r.name(lang) for r in R.RULES],
            t("quality.fields"): [", ".join(r.fields) for r in R.RULES],
        }), hide_index=True, width="stretch")

with tab_towns:
    bt = R.by_township(findings)
    town_table = pd.DataFrame({
        t("common.township"): bt["township_code"].map(lambda c: names.get(c, c)),
        t("quality.findings"): bt["findings"],
        t("quality.households"): bt["households"],
        t("quality.high"): bt["high"],
        **{rule_name[r.code]: bt[r.code] for r in R.RULES},
    })
    st.dataframe(town_table, hide_index=True, width="stretch", key="qa_by_town")
    if len(town_table):
        st.caption(t("quality.chart_townships"))
        st.bar_chart(town_table.set_index(t("common.township"))[[rule_name[r.code] for r in R.RULES]], stack=True, height=360)

with tab_details:
    options = ["*", *[r.code for r in R.RULES]]
    # keyed per language (option labels change with it); the choice itself survives a switch
    rule_key = f"qa_rule_{lang}"
    if ss.get(rule_key) not in options:
        ss[rule_key] = ss.get("qa_rule_value", "*") if ss.get("qa_rule_value") in options else "*"
    chosen = st.selectbox(t("quality.pick_rule"), options, key=rule_key,
                          format_func=lambda c: t("quality.all_rules") if c == "*" else f"{rule_name[c]} ({int((findings['rule'] == c).sum())})")
    ss["qa_rule_value"] = chosen
    view = (findings if chosen == "*" else findings[findings["rule"] == chosen]).reset_index(drop=True)
    hids = sorted(view["household_id"].unique().tolist())
    heads = pd.DataFrame(columns=["household_id", "name", "id_number"])
    if hids:
        mc = S.members.c
        with engine.connect() as conn:
            heads = pd.DataFrame(conn.execute(select(mc.household_id, mc.name, mc.id_number).where(mc.relation == "head", mc.household_id.in_(hids))).fetchall(),
                                 columns=["household_id", "name", "id_number"]).drop_duplicates("household_id")
    heads = mask_frame(heads).set_index("household_id")
    shown = pd.DataFrame({
        t("common.household_id"): view["household_id"],
        t("common.township"): view["township_code"].map(lambda c: names.get(c, c)),
        t("quality.village"): view["village_code"].map(lambda c: villages.get(c, c)),
        t("quality.rule"): view["rule"].map(rule_name),
        t("quality.severity"): view["severity"].map(sev),
        t("quality.detail"): view["detail"].map(lambda d: R.detail_text(d, lang)),
        t("quality.head"): view["household_id"].map(heads["name"]).fillna(""),
        t("quality.id_number"): view["household_id"].map(heads["id_number"]).fillna(""),
    })
    st.subheader(t("quality.table", n=fmt.count(len(shown), lang)))
    if shown.empty:
        st.info(t("quality.none"))
    st.dataframe(shown, key="qa_table", on_select="rerun", selection_mode="multi-row", hide_index=True, width="stretch", height=360)
    download_table(ctx, shown, f"quality_{period}", "qa_dl")

    picked = [r for r in ss.get("qa_table", {}).get("selection", {}).get("rows", []) if r < len(view)]

    def to_clues(rows: list[int] | None) -> None:
        part = view if rows is None else view.iloc[rows]
        n = R.findings_to_clues(engine, part, ctx.actor, period, principal=ctx.principal)
        ss["_qa_flash"] = t("quality.created", n=n)
        ss.pop("qa_table", None)

    if can(ctx.principal, "clue_add") or can(ctx.principal, "clue_generate"):
        st.caption(t("quality.select_hint"))
        b1, b2 = st.columns(2)
        b1.button(t("quality.to_clues_selected", n=len(picked)), key="qa_to_clues_selected", disabled=not picked, on_click=to_clues, args=(picked,))
        b2.button(t("quality.to_clues_all", n=len(view)), key="qa_to_clues_all", type="primary", disabled=view.empty, on_click=to_clues, args=(None,))
    else:
        st.caption(t("quality.no_permission"))
