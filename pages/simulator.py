"""阈值与权重模拟 Simulator: change the income line, cut-offs and weights; see what moves against the baseline.

Hot path on every control move: one ``Scorer.run`` (buffers reused), ``compare``
(bincounts) and a few small figures.  The baseline result is copied once per
session; objective weights and the sensitivity runs are cached per session
(``fanpin.ui.session``) and the latter sits behind a button.  Downloads build their files
only when clicked.  The controls and their callbacks are in ``fanpin.ui.scenario_controls``;
which weights a mode gives is ``fanpin.engine.weighting``'s rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from fanpin.access.roles import can
from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.engine.policies import list_policies, load_policy
from fanpin.engine.scenario import CostComparison, ScenarioComparison, compare, cost_comparison, dimension_weights, movers_frame, weight_free
from fanpin.engine.scoring import PolicyError, RiskPolicy, Scorer, ScoreResult
from fanpin.engine.weighting import DIMS
from fanpin.ui import charts, session, tables
from fanpin.ui import scenario_controls as controls
from fanpin.ui.charts import NO_BAR
from fanpin.ui.data import Data
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import kept_selectbox, lang, lbl, lkey, t
from fanpin.ui.labels import DIMENSION_OF, column_labels, cost_table_frame, saved_policies_table, tier_labels, when_text
from fanpin.ui.messages import show_flash
from fanpin.ui.scenario_controls import SHOWN_TIERS
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.text import md

DELTA = 0.2
MOVERS_SHOWN = 500


@dataclass
class Run:
    """One run of the page: the month's scorer, the baseline and the scenario with their results."""

    ctx: Context
    scorer: Scorer
    baseline: RiskPolicy
    base: ScoreResult
    policy: RiskPolicy
    scen: ScoreResult
    cmp: ScenarioComparison
    names: dict[str, str]

    @property
    def data(self) -> Data:
        return self.ctx.data


def header(ctx: Context, baseline: RiskPolicy, households: int) -> None:
    lang = ctx.lang
    st.title(t("simulator.title", month=format_period(ctx.period, lang)))
    line, (yellow, red) = fmt.yuan(baseline.income_line, lang), baseline.cutoffs
    st.caption(t("simulator.caption", policy=md(baseline.name), line=line, yellow=f"{yellow:g}", red=f"{red:g}", households=fmt.count(households, lang)))
    show_flash(controls.PAGE)


def scenario_policy(data: Data, period: int, baseline: RiskPolicy, c: controls.Controls) -> RiskPolicy | None:
    """The scenario the controls describe (the analyst's line recorded with its year), or None with a message."""
    if not c.cutoffs[0] < c.cutoffs[1]:
        st.error(t("simulator.cutoffs_bad", yellow=f"{c.cutoffs[0]:g}", red=f"{c.cutoffs[1]:g}"))
        return None
    if not c.choice.ok:
        return None
    try:
        policy, _ = replace(data.set_line(baseline, period, c.income_line), name="scenario", cutoffs=c.cutoffs, weights=c.choice.weights).normalised()
    except PolicyError:
        st.error(t("simulator.no_weight"))
        return None
    return policy


def metrics(cmp: ScenarioComparison, cost: CostComparison, lang: str) -> None:
    for col, tier in zip(st.columns(3), SHOWN_TIERS):
        ch = cmp.change(tier)
        delta = {"delta_color": "inverse" if tier != "green" else "normal", "delta_arrow": "auto" if ch else "off"}
        col.metric(lbl("tier", tier), fmt.count(cmp.scen_counts[tier], lang), delta=fmt.signed(ch), border=True, **delta)
    m = st.columns([1, 1, 1.6])  # the cost needs the room ("¥4,039,…" at 1366 px)
    m[0].metric(t("simulator.moved_up"), fmt.count(len(cmp.up), lang), border=True)
    m[1].metric(t("simulator.moved_down"), fmt.count(len(cmp.down), lang), border=True)
    diff = ("+" if cost.difference > 0 else "") + fmt.yuan(cost.difference, lang)
    m[2].metric(t("simulator.cost_metric"), fmt.yuan(cost.scenario.total, lang), delta=diff, delta_color="inverse", delta_arrow="auto" if cost.difference else "off", border=True)


def figures(run: Run) -> None:
    # A keyed expander reruns when toggled and says whether it is open: the chart is built only then.
    weights_box = st.expander(t("simulator.weights_in_use"), key="sim_weights_open", on_change="rerun")
    if weights_box.open:
        weights_box.plotly_chart(charts.weights_figure(dict(run.baseline.weights), dict(run.policy.weights)), width="stretch", key="sim_weights_chart", config=NO_BAR)
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(f"**{t('simulator.transition')}**")
        fig = charts.transition_figure(run.cmp.transition, t("simulator.axis_base"), t("simulator.axis_scen"), run.ctx.lang)
        st.plotly_chart(fig, width="stretch", key="sim_transition", config=NO_BAR)
        st.caption(t("simulator.transition_caption"))
    with c2:
        st.markdown(f"**{t('simulator.map_title')}**")
        st.plotly_chart(charts.township_change_map(run.cmp.townships, run.names, run.data.townships_geojson()), width="stretch", key="sim_map")


def townships_table(run: Run) -> None:
    st.markdown(f"**{t('simulator.townships')}**")
    town = run.cmp.townships.assign(township=run.cmp.townships["township_code"].map(run.names))
    cols = column_labels("sim_townships")
    town = town.sort_values(["red_change", "yellow_change"], ascending=False, kind="stable")[list(cols)]
    height = min(35 * (len(town) + 1) + 3, 600)  # every township without scrolling, up to ~16
    config = {k: st.column_config.NumberColumn(format="%+d" if k.endswith("_change") else None, width=tables.fit_width([], cols[k])) for k in list(cols)[1:]}
    shown = [cols[c] for c in ("township", "red_scen", "red_change", "yellow_scen", "yellow_change")]  # in sight at 1366 px; the download has households and the baseline
    st.dataframe(town.rename(columns=cols), hide_index=True, width="stretch", height=height, key="sim_township_table", column_config={cols[k]: v for k, v in config.items()}, column_order=shown)
    download_table(run.ctx, town, f"scenario_townships_{run.ctx.period}", "sim_townships", labels=cols)


def movers(run: Run) -> None:
    ctx, lang = run.ctx, run.ctx.lang
    st.markdown(f"**{t('simulator.movers')}**")
    dir_labels = {x: t(f"simulator.movers_{x}") for x in ("all", "up", "down")}
    direction = kept_selectbox(st, t("simulator.movers_filter"), ["all", "up", "down"], "sim_movers_dir", dir_labels.__getitem__, "all", kind="segmented_control", required=True)
    rows = {"all": run.cmp.movers(), "up": run.cmp.up, "down": run.cmp.down}[direction or "all"]
    if len(rows) == 0:
        st.caption(t("simulator.movers_none"))
        return
    villages, vnames, tiers = session.village_codes(run.scorer, run.data, ctx.period), run.data.village_names(lang), tier_labels()

    def frame(sel: np.ndarray) -> pd.DataFrame:
        f = movers_frame(run.base, run.scen, sel, villages)
        named = {"township_code": run.names, "village_code": vnames, "base_tier": tiers, "scen_tier": tiers}
        return f.assign(**{c: f[c].map(m) for c, m in named.items()})

    change = np.abs(run.scen.score[rows] - run.base.score[rows])
    top = rows[np.argsort(-change, kind="stable")[:MOVERS_SHOWN]]
    if len(rows) > MOVERS_SHOWN:
        st.caption(t("simulator.movers_shown", shown=fmt.count(MOVERS_SHOWN, lang), total=fmt.count(len(rows), lang)))
    cols, f = column_labels("sim_movers"), frame(top).rename(columns=column_labels("sim_movers"))  # scores with their decimal (41.0 beside 42.6), cells read whole
    st.dataframe(f, hide_index=True, width="stretch", height=280, key="sim_movers_table", column_config=tables.fitted(f, formats={cols["base_score"]: "%.1f", cols["scen_score"]: "%.1f", cols["score_change"]: "%+.1f"}))
    download_table(ctx, lambda: frame(np.sort(rows)), f"scenario_movers_{ctx.period}", "sim_movers", labels=cols)


def cost_table(cost: CostComparison, lang: str) -> None:
    st.markdown(f"**{t('simulator.cost')}**")
    st.dataframe(cost_table_frame(cost, SHOWN_TIERS, lang), hide_index=True, width="stretch", key="sim_cost_table")
    st.caption(t("simulator.cost_caption"))


def sensitivity(scorer: Scorer, policy: RiskPolicy, scen: ScoreResult) -> None:
    pct = int(round(100 * DELTA))
    st.markdown(f"**{t('simulator.sensitivity', pct=pct)}**")
    st.button(t("simulator.sensitivity_run"), on_click=session.run_sensitivity, args=(scorer, policy, DELTA), key="sim_sens_run")
    sens, fresh = session.sensitivity_result(scorer, policy)  # (an all-zero result is said in words, not drawn)
    if sens is not None and not fresh:
        st.caption(t("simulator.sensitivity_stale"))
    if sens is None or not fresh:
        return
    if not sens[["red_minus", "red_plus", "yellow_minus", "yellow_plus"]].any().any():  # an all-zero chart says nothing: say why
        st.info(flat_reason(scen, policy, pct))
        return
    st.caption(t("simulator.sensitivity_caption", d=f"{DELTA:g}"))
    tier_names = {x: lbl("tier", x) for x in ("red", "yellow")}
    tier = kept_selectbox(st, t("simulator.sensitivity_tier"), ["red", "yellow"], "sim_sens_tier", tier_names.__getitem__, "red", kind="segmented_control", required=True)
    st.plotly_chart(charts.tornado(sens, tier or "red", DELTA), width="stretch", key="sim_tornado", config=NO_BAR)
    shown = sens.assign(
        dimension=sens["indicator"].map(lambda k: lbl("dimension", DIMENSION_OF[k])), indicator=sens["indicator"].map(lambda k: lbl("indicator", k)), weight=sens["weight"].round(3)
    )
    with st.expander(t("simulator.sensitivity", pct=pct)):
        st.dataframe(shown.rename(columns=column_labels("sim_sensitivity")), hide_index=True, width="stretch", key="sim_sens_table")


def flat_reason(scen: ScoreResult, policy: RiskPolicy, pct: int) -> str:
    """Why no weight moves anyone (``scenario.weight_free``): households tiered by a rule, the others' distance to a cut-off."""
    forced, gap = weight_free(scen, policy.cutoffs)
    return t("simulator.sensitivity_flat", pct=pct, forced=fmt.count(forced, lang()), gap=f"{gap:.1f}", cutoffs=f"{policy.cutoffs[0]:g} / {policy.cutoffs[1]:g}")


# --------------------------------------------------------------------------- saved scenarios
def save_tab(run: Run, saved: list[dict]) -> None:
    names = [r["name"] for r in saved]
    c1, c2 = st.columns(2)
    with c1:
        name = st.text_input(t("simulator.save_name"), key="sim_save_name", max_chars=100)
        if name.strip() in names:
            st.caption(t("simulator.overwrite"))
        st.button(t("simulator.save"), on_click=controls.save, args=(run.data.engine, run.policy, run.ctx.principal), key="sim_save", type="primary")
    with c2:
        if names:
            st.selectbox(t("simulator.load_pick"), names, key="sim_load_name")
            st.button(t("simulator.load"), on_click=controls.load, args=(run.data, run.ctx.period), key="sim_load")
        else:
            st.caption(t("simulator.none_saved"))
    if not saved:
        return
    st.markdown(f"**{t('simulator.saved_list')}**")
    st.dataframe(saved_policies_table(saved), hide_index=True, width="stretch", key="sim_saved_table")


def compare_tab(run: Run, saved: list[dict]) -> None:
    options = ["__baseline__", "__scenario__", *(r["name"] for r in saved)]
    special = {"__baseline__": t("simulator.current_baseline"), "__scenario__": t("simulator.current_scenario")}
    c1, c2 = st.columns(2)
    a = c1.selectbox(t("simulator.compare_a"), options, index=None, format_func=lambda x: special.get(x, x), key=lkey("sim_cmp_a"))
    b = c2.selectbox(t("simulator.compare_b"), options, index=None, format_func=lambda x: special.get(x, x), key=lkey("sim_cmp_b"))
    if a is None or b is None or a == b:
        st.caption(t("simulator.compare_pick" if a is None or b is None else "simulator.compare_same"))
        return

    def resolve(x: str) -> tuple[RiskPolicy, ScoreResult]:
        if x in ("__baseline__", "__scenario__"):
            return (run.baseline, run.base) if x == "__baseline__" else (run.policy, run.scen)
        p, _ = run.data.for_month(load_policy(run.data.engine, x), run.ctx.period).normalised()
        return p, run.scorer.run(p).copy()

    (pa, ra), (pb, rb) = resolve(a), resolve(b)
    ab, lang = compare(ra, rb), run.ctx.lang
    la, lb_ = special.get(a, a), special.get(b, b)

    def column(p: RiskPolicy, counts: dict[str, int]) -> list[str]:
        dw = dimension_weights(p)
        return [f"{p.income_line:,.0f}", f"{p.cutoffs[0]:g} / {p.cutoffs[1]:g}", *(fmt.count(counts[x], lang) for x in SHOWN_TIERS), *(f"{dw[d]:.3f}" for d in DIMS)]

    rows = [t("simulator.income_line"), t("simulator.cutoffs"), *(lbl("tier", x) for x in SHOWN_TIERS), *(f"{t('simulator.weight')} · {lbl('dimension', d)}" for d in DIMS)]
    params = pd.DataFrame({t("simulator.parameter"): rows, la: column(pa, ab.base_counts), lb_: column(pb, ab.scen_counts)})
    c1, c2 = st.columns(2)
    c1.dataframe(params, hide_index=True, width="stretch", key="sim_cmp_table")
    with c2:
        st.markdown(f"**{t('simulator.compare_transition')}**")
        st.plotly_chart(charts.transition_figure(ab.transition, la, lb_, lang), width="stretch", key="sim_cmp_transition", config=NO_BAR)
        st.caption(t("simulator.compare_moved", n=fmt.count(ab.moved, lang), up=fmt.count(len(ab.up), lang), down=fmt.count(len(ab.down), lang)))


def adopt_tab(run: Run, saved: list[dict]) -> None:
    principal = run.ctx.principal
    st.caption(t("simulator.adopt_caption", who=md(principal.display_name or principal.username), role=lbl("role", run.ctx.role)))
    adopted = [r for r in saved if r["adopted_at"] is not None]
    if adopted:
        last = max(adopted, key=lambda r: r["adopted_at"])
        st.caption(t("simulator.adopt_history", name=md(last["name"]), who=md(lbl("role", last["adopted_by"])), when=when_text(last["adopted_at"])))
    if not saved:
        st.caption(t("simulator.none_saved"))
        return
    st.selectbox(t("simulator.adopt_pick"), [r["name"] for r in saved], key="sim_adopt_name")
    confirmed = st.checkbox(t("simulator.adopt_confirm"), key="sim_adopt_confirm")
    allowed = can(principal, "policy_adopt")
    st.button(t("simulator.adopt"), on_click=controls.adopt, args=(run.data.engine, principal), key="sim_adopt", disabled=not (confirmed and allowed), type="primary")
    if not allowed:
        st.caption(t("access.adopt_role"))


def scenarios(run: Run) -> None:
    st.divider()
    st.subheader(t("simulator.scenarios"))
    saved = list_policies(run.data.engine)
    # Only the open tab runs (a comparison scores two more policies): keyed tabs rerun on a switch.
    tabs = st.tabs([t("simulator.tab_save"), t("simulator.tab_compare"), t("simulator.tab_adopt")], key="sim_tabs", on_change="rerun")
    for tab, draw in zip(tabs, (save_tab, compare_tab, adopt_tab)):
        if tab.open:
            with tab:
                draw(run, saved)


def main() -> None:
    ctx = page_context("simulator")
    data, period = ctx.data, ctx.period
    scorer = data.scorer(period)
    baseline, _ = data.policy_for(period).normalised()
    base = session.baseline_result(scorer, baseline)
    controls.follow_baseline(baseline)
    header(ctx, baseline, scorer.n)
    left, right = st.columns([1, 2], gap="large")
    with left:
        c = controls.draw_controls(scorer, baseline)
    with right:
        policy = scenario_policy(data, period, baseline, c)
    if policy is None:
        st.stop()
    if c.choice.rescaled:
        left.caption(t("simulator.normalised", total=f"{c.choice.total:.3f}"))
    scen = scorer.run(policy).copy()
    cmp = compare(base, scen)
    cost = cost_comparison(cmp.base_counts, cmp.scen_counts, c.unit_costs)
    run = Run(ctx, scorer, baseline, base, policy, scen, cmp, data.township_names(ctx.lang))
    with right:
        st.subheader(t("simulator.results"))
        metrics(cmp, cost, ctx.lang)
        figures(run)
        townships_table(run)
        movers(run)
        cost_table(cost, ctx.lang)
        sensitivity(scorer, policy, scen)
    scenarios(run)


main()
