"""阈值与权重模拟 Simulator: change the income line, cut-offs and weights; see what moves against the baseline.

Hot path on every control move: one ``Scorer.run`` (buffers reused), ``compare``
(bincounts) and a few small figures.  The baseline result is copied once per
session; objective weights and the sensitivity runs are cached per session and
the latter sits behind a toggle.  Downloads build their files only when clicked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fanpin.access.roles import AccessDenied, can
from fanpin.core import fmt
from fanpin.core.indicators import DIMENSIONS, KEYS
from fanpin.core.periods import format_period
from fanpin.engine.policies import adopt_policy, list_policies, load_policy, save_policy
from fanpin.engine.scenario import (
    DIMENSION_KEYS,
    OBJECTIVE_METHODS,
    ahp_dimensions,
    apply_dimension_weights,
    combined_weights,
    compare,
    cost_comparison,
    dimension_weights,
    judgements_from_weights,
    movers_frame,
    objective_weights,
    scale_dimension,
    sensitivity,
)
from fanpin.engine.scoring import TIERS, PolicyError, RiskPolicy, ScoreResult
from fanpin.engine.weights import NoInformationError, WeightError, saaty_scale
from fanpin.report.export import csv_bytes, xlsx_bytes
from fanpin.ui.i18n import lbl, lkey, t
from fanpin.ui.sidebar import page_context

MODES = ("hand", "ahp", "entropy", "cv", "critic", "combined")
DIMS = tuple(DIMENSIONS)
PAIRS = [(i, j) for i in range(len(DIMS)) for j in range(i + 1, len(DIMS))]  # the row-by-row upper triangle
SAATY_DESC = tuple(sorted(saaty_scale, reverse=True))  # left end: the left dimension far more important
DEFAULT_UNIT_COSTS = {"red": 8000.0, "yellow": 3000.0, "green": 0.0}
DELTA = 0.2
MOVERS_SHOWN = 500
SHOWN_TIERS = ("red", "yellow", "green")
NO_BAR = {"displayModeBar": False}
ss = st.session_state


# --------------------------------------------------------------------------- session state helpers
def _wkey(k: str) -> str:
    return f"sim_w_{k}"


def _dkey(d: str) -> str:
    return f"sim_d_{d}"


def _akey(i: int, j: int) -> str:
    return f"sim_ahp_{i}_{j}"


def _hand_weights() -> dict[str, float]:
    return {k: float(ss.get(_wkey(k), 0.0)) for k in KEYS}


def _set_hand(weights: dict[str, float]) -> None:
    for k in KEYS:
        ss[_wkey(k)] = float(weights.get(k, 0.0))
    for d, keys in DIMENSION_KEYS.items():
        ss[_dkey(d)] = float(sum(ss[_wkey(k)] for k in keys))


def _set_judgements(dim_w: dict[str, float]) -> None:
    for (i, j), v in zip(PAIRS, judgements_from_weights(dim_w, DIMS)):
        ss[_akey(i, j)] = v


def _set_controls(policy: RiskPolicy) -> None:
    """Every control to ``policy`` (before the widgets are drawn, or from a callback)."""
    ss["sim_income_line"] = float(policy.income_line)
    ss["sim_cutoffs"] = (float(policy.cutoffs[0]), float(policy.cutoffs[1]))
    p, _ = policy.normalised()
    _set_hand(dict(p.weights))
    _set_judgements(dimension_weights(p))


def _flash(kind: str, text: str) -> None:
    ss["_sim_flash"] = (kind, text)


# --------------------------------------------------------------------------- callbacks
def _on_indicator(d: str) -> None:
    ss[_dkey(d)] = float(sum(ss[_wkey(k)] for k in DIMENSION_KEYS[d]))


def _on_dimension(d: str) -> None:
    w = scale_dimension(_hand_weights(), d, float(ss[_dkey(d)]))
    for k in DIMENSION_KEYS[d]:
        ss[_wkey(k)] = w[k]


def _copy_to_hand(weights: dict[str, float]) -> None:
    _set_hand(weights)
    ss["sim_mode"] = "hand"


def _reset(policy: RiskPolicy) -> None:
    _set_controls(policy)
    ss["sim_mode"] = "hand"


def _save(engine, policy: RiskPolicy, role: str) -> None:  # noqa: ANN001
    name = str(ss.get("sim_save_name") or "").strip()
    if not name:
        _flash("warning", t("simulator.save_empty"))
        return
    try:
        save_policy(engine, policy, name, principal=ctx.principal)
    except AccessDenied:
        _flash("error", t("access.denied", action="policy_save"))
        return
    _flash("success", t("simulator.saved", name=name))


def _load(engine) -> None:  # noqa: ANN001
    name = ss.get("sim_load_name")
    if not name:
        return
    _set_controls(data.for_month(load_policy(engine, name), period))  # the scenario as it scores this month
    ss["sim_mode"] = "hand"
    _flash("success", t("simulator.loaded", name=name))


def _adopt(engine, role: str) -> None:  # noqa: ANN001
    name = ss.get("sim_adopt_name")
    if not name or not ss.get("sim_adopt_confirm"):
        return
    try:
        adopt_policy(engine, name, principal=ctx.principal)
    except AccessDenied:
        _flash("error", t("access.denied", action="policy_adopt"))
        return
    ss["sim_adopt_confirm"] = False
    _flash("success", t("simulator.adopted", name=name, who=lbl("role", role), when=datetime.now().strftime("%Y-%m-%d %H:%M")))


# --------------------------------------------------------------------------- cached per session
def _baseline_result(scorer, baseline: RiskPolicy) -> ScoreResult:  # noqa: ANN001
    """The baseline's result, copied out of the scorer's buffers once per session and baseline."""
    key = baseline.to_json()
    c = ss.get("_sim_base")
    if c is None or c[0] is not scorer or c[1] != key:
        c = (scorer, key, scorer.run(baseline).copy())
        ss["_sim_base"] = c
    return c[2]


def _village_codes(scorer, data, period: int) -> np.ndarray:  # noqa: ANN001
    c = ss.get("_sim_villages")
    if c is None or c[0] is not scorer:
        c = (scorer, data.snapshot(period)["village_code"].to_numpy())
        ss["_sim_villages"] = c
    return c[1]


def _objective(scorer, method: str) -> dict[str, float]:  # noqa: ANN001
    c = ss.get("_sim_objective")
    if c is None or c[0] is not scorer:
        c = (scorer, {})
        ss["_sim_objective"] = c
    if method not in c[1]:
        c[1][method] = objective_weights(scorer, method)
    return c[1][method]


def _run_sensitivity(scorer, policy: RiskPolicy) -> None:  # noqa: ANN001
    """Button callback: two runs per weighted indicator, kept for this policy until the controls move."""
    ss["_sim_sens"] = (scorer, policy.to_json(), sensitivity(scorer, policy, DELTA))


def _sensitivity_result(scorer, policy: RiskPolicy) -> tuple[pd.DataFrame | None, bool]:  # noqa: ANN001
    """(last result, whether it is for ``policy``)."""
    c = ss.get("_sim_sens")
    if c is None or c[0] is not scorer:
        return None, False
    return c[2], c[1] == policy.to_json()


# --------------------------------------------------------------------------- drawing helpers
def _lazy_download(make: Callable[[], pd.DataFrame], name: str, key: str) -> None:
    """CSV and Excel buttons whose files are built only when clicked (nothing on the hot path)."""
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button(t("common.download_csv"), data=lambda: csv_bytes(make()), file_name=f"{name}.csv", mime="text/csv", key=f"{key}_csv", on_click="ignore")
    c2.download_button(
        t("common.download_xlsx"),
        data=lambda: xlsx_bytes(make()),
        file_name=f"{name}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key=f"{key}_xlsx",
        on_click="ignore",
    )


def _transition_figure(matrix: np.ndarray, rows_title: str, cols_title: str) -> go.Figure:
    labels = [lbl("tier", x) for x in TIERS]
    moves = matrix.astype(float).copy()
    np.fill_diagonal(moves, 0.0)  # colour the movers; the diagonal (stayed) stays pale
    text = [[fmt.count(int(v), ss.get("lang", "zh")) for v in row] for row in matrix]
    fig = go.Figure(
        go.Heatmap(
            z=moves,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=15),
            colorscale=[[0, "#f7f7f7"], [1, "#6a51a3"]],
            zmin=0,
            zmax=max(1.0, float(moves.max())),
            showscale=False,
            hovertemplate=f"{rows_title}: %{{y}}<br>{cols_title}: %{{x}}<br>%{{text}}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_layout(
        height=260,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title=cols_title, side="top"),
        yaxis=dict(title=rows_title, autorange="reversed"),
    )
    return fig


def _map_view(gj: dict, width: float = 300, height: float = 270) -> tuple[dict, float]:
    """Centre and zoom that fit the county's townships (from the GeoJSON's bounding box)."""
    xs: list[float] = []
    ys: list[float] = []

    def walk(c) -> None:  # noqa: ANN001
        if c and isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for x in c:
                walk(x)

    for f in gj.get("features", []):
        walk(f["geometry"]["coordinates"])
    if not xs:
        return {"lon": 0.0, "lat": 0.0}, 1.0
    lon_span = max(max(xs) - min(xs), 1e-3)
    lat_span = max(max(ys) - min(ys), 1e-3)
    lat = (min(ys) + max(ys)) / 2
    # MapLibre: 512 px per 360 degrees of longitude at zoom 0; latitude stretched by 1/cos(lat).
    zoom = min(math.log2(width * 360 / (512 * lon_span)), math.log2(height * 360 * math.cos(math.radians(lat)) / (512 * lat_span)))
    return {"lon": (min(xs) + max(xs)) / 2, "lat": lat}, zoom


def _township_map(table: pd.DataFrame, names: dict[str, str], gj: dict) -> go.Figure:
    centre, zoom = _map_view(gj)
    z = table["red_change"].to_numpy(dtype=float)
    lim = max(1.0, float(np.abs(z).max()) if len(z) else 1.0)
    fig = go.Figure(
        go.Choroplethmap(
            geojson=gj,
            featureidkey="properties.region_code",
            locations=table["township_code"],
            z=z,
            zmin=-lim,
            zmax=lim,
            colorscale="RdBu_r",
            marker_opacity=0.85,
            marker_line_width=1,
            marker_line_color="#555",
            text=table["township_code"].map(names),
            customdata=np.stack([table["red_base"], table["red_scen"]], axis=1).astype(float),
            hovertemplate="%{text}<br>"
            + t("simulator.red_base")
            + ": %{customdata[0]}<br>"
            + t("simulator.red_scen")
            + ": %{customdata[1]}<br>"
            + t("simulator.red_change")
            + ": %{z:+.0f}<extra></extra>",
            colorbar=dict(title=t("simulator.red_change"), thickness=12),
        )
    )
    fig.update_layout(map=dict(style="white-bg", center=centre, zoom=zoom), height=300, margin=dict(l=0, r=0, t=0, b=0))
    return fig


def _tornado(frame: pd.DataFrame, tier: str) -> go.Figure:
    pct = int(round(100 * DELTA))
    frame = frame.assign(_swing=frame[[f"{tier}_minus", f"{tier}_plus"]].abs().max(axis=1)).sort_values("_swing", ascending=False, kind="stable")
    y = [lbl("indicator", k) for k in frame["indicator"]]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=y, x=frame[f"{tier}_minus"], orientation="h", name=t("simulator.minus", pct=pct), marker_color="#4c78a8"))
    fig.add_trace(go.Bar(y=y, x=frame[f"{tier}_plus"], orientation="h", name=t("simulator.plus", pct=pct), marker_color="#e45756"))
    fig.update_layout(
        barmode="group",
        bargap=0.25,
        height=120 + 26 * len(frame),
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(title=t("simulator.tier_count_change", tier=lbl("tier", tier)), zeroline=True, zerolinecolor="#333"),
        yaxis=dict(autorange="reversed"),
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),
    )
    return fig


def _weights_figure(base_w: dict[str, float], scen_w: dict[str, float]) -> go.Figure:
    y = [f"{lbl('dimension', DIMENSIONS_OF[k])} · {lbl('indicator', k)}" for k in KEYS]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=y, x=[base_w.get(k, 0.0) for k in KEYS], orientation="h", name=t("simulator.baseline"), marker_color="#bbbbbb"))
    fig.add_trace(go.Bar(y=y, x=[scen_w.get(k, 0.0) for k in KEYS], orientation="h", name=t("simulator.scenario"), marker_color="#4c78a8"))
    fig.update_layout(
        barmode="group",
        height=130 + 26 * len(KEYS),
        margin=dict(l=10, r=10, t=30, b=10),
        yaxis=dict(autorange="reversed"),
        xaxis=dict(title=t("simulator.weight"), tickformat=".2f"),
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),
    )
    return fig


DIMENSIONS_OF = {k: d for d, keys in DIMENSION_KEYS.items() for k in keys}


def _when(v: object) -> str:
    return v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else ("" if v is None else str(v)[:16])


def _saaty_label(v: float) -> str:
    if abs(v - 1.0) < 1e-9:
        return "="
    return f"←{v:g}" if v > 1 else f"{1 / v:g}→"


# =========================================================================== page
ctx = page_context("simulator")
data, period, lang = ctx.data, ctx.period, ctx.lang
scorer = data.scorer(period)
baseline, _ = data.policy_for(period).normalised()
base = _baseline_result(scorer, baseline)

base_json = baseline.to_json()
if ss.get("_sim_baseline") != base_json:
    if "_sim_baseline" in ss and "_sim_flash" not in ss:
        _flash("info", t("simulator.baseline_changed"))
    _set_controls(baseline)
    ss["_sim_baseline"] = base_json
ss.setdefault("sim_mode", "hand")
for _tier, _cost in DEFAULT_UNIT_COSTS.items():
    ss.setdefault(f"sim_cost_{_tier}", _cost)

st.title(t("simulator.title", month=format_period(period, lang)))
st.caption(
    t(
        "simulator.caption",
        policy=baseline.name,
        line=fmt.yuan(baseline.income_line, lang),
        yellow=f"{baseline.cutoffs[0]:g}",
        red=f"{baseline.cutoffs[1]:g}",
        households=fmt.count(scorer.n, lang),
    )
)
flash = ss.pop("_sim_flash", None)
if flash:
    getattr(st, flash[0])(flash[1])

left, right = st.columns([1, 2], gap="large")

# --------------------------------------------------------------------------- controls (left)
with left:
    st.subheader(t("simulator.controls"))
    income_line = st.number_input(
        t("simulator.income_line"),
        min_value=1000.0,
        max_value=50000.0,
        step=100.0,
        format="%.0f",
        key="sim_income_line",
        help=t("simulator.income_line_help"),
        persist_state="session",
    )
    yellow, red = st.slider(
        t("simulator.cutoffs"),
        min_value=0.0,
        max_value=100.0,
        step=0.5,
        key="sim_cutoffs",
        help=t("simulator.cutoffs_help"),
        persist_state="session",
    )
    mode = st.radio(
        t("simulator.mode"),
        MODES,
        format_func=lambda m: t(f"simulator.mode.{m}"),
        key="sim_mode",
        horizontal=True,
        persist_state="session",
    )

    hand = _hand_weights()
    weights: dict[str, float] | None = None
    if mode == "hand":
        weights = hand
    elif mode == "ahp":
        with st.expander(t("simulator.ahp_title"), expanded=True):
            st.caption(t("simulator.ahp_help"))
            cols = st.columns(2)
            for n, (i, j) in enumerate(PAIRS):
                cols[n % 2].select_slider(
                    f"{lbl('dimension', DIMS[i])} ⟷ {lbl('dimension', DIMS[j])}",
                    options=SAATY_DESC,
                    format_func=_saaty_label,
                    key=_akey(i, j),
                    persist_state="session",
                )
        try:
            dim_w, ahp_res = ahp_dimensions([float(ss[_akey(i, j)]) for i, j in PAIRS], DIMS)
            weights = dict(apply_dimension_weights(replace(baseline, weights=hand), dim_w).weights)
        except (WeightError, ValueError, PolicyError):
            st.error(t("simulator.no_weight"))
        else:
            cr = f"{ahp_res.cr:.3f}"
            if ahp_res.acceptable:
                st.success(t("simulator.ahp_cr", cr=cr) + " · " + t("simulator.ahp_ok"))
            else:
                st.warning(t("simulator.ahp_cr_bad", cr=cr))
    else:
        method = mode
        if mode == "combined":
            method = st.selectbox(
                t("simulator.objective_method"),
                OBJECTIVE_METHODS,
                format_func=lambda m: t(f"simulator.mode.{m}"),
                key="sim_obj_method",
                persist_state="session",
            )
            alpha = st.slider(t("simulator.alpha"), 0.0, 1.0, value=0.5, step=0.05, key="sim_alpha", help=t("simulator.alpha_help"), persist_state="session")
        st.caption(t("simulator.objective_caption"))
        try:
            objective = _objective(scorer, method)
            weights = combined_weights(hand, objective, alpha) if mode == "combined" else objective
        except NoInformationError:
            st.error(t("simulator.no_information"))
        except (WeightError, ValueError):
            st.error(t("simulator.no_weight"))
    if weights is not None and mode != "hand":
        st.button(t("simulator.use_as_hand"), on_click=_copy_to_hand, args=(dict(weights),), key="sim_copy_hand")

    with st.expander(t("simulator.hand_title"), expanded=mode in ("hand", "ahp", "combined")):
        if mode == "hand":
            st.caption(t("simulator.hand_caption"))
        else:
            use = {"ahp": "ahp", "combined": "combined"}.get(mode, "objective")
            st.caption(t("simulator.hand_caption_other", use=t(f"simulator.hand_use.{use}")) + " " + t("simulator.hand_caption"))
        for d in DIMS:
            st.slider(
                f"**{lbl('dimension', d)}**",
                min_value=0.0,
                max_value=1.0,
                step=0.001,
                format="%.3f",
                key=_dkey(d),
                on_change=_on_dimension,
                args=(d,),
                persist_state="session",
            )
            with st.popover(t("simulator.indicators_of", dimension=lbl("dimension", d)), width="stretch"):
                for k in DIMENSION_KEYS[d]:
                    st.slider(
                        lbl("indicator", k),
                        min_value=0.0,
                        max_value=1.0,
                        step=0.001,
                        format="%.3f",
                        key=_wkey(k),
                        on_change=_on_indicator,
                        args=(d,),
                        persist_state="session",
                    )

    with st.expander(t("simulator.unit_costs")):
        for tier in SHOWN_TIERS:
            st.number_input(
                t("simulator.unit_cost", tier=lbl("tier", tier)),
                min_value=0.0,
                max_value=1_000_000.0,
                step=500.0,
                format="%.0f",
                key=f"sim_cost_{tier}",
                persist_state="session",
            )
    st.button(t("simulator.reset"), on_click=_reset, args=(baseline,), key="sim_reset")

# --------------------------------------------------------------------------- the scenario
if not yellow < red:
    right.error(t("simulator.cutoffs_bad", yellow=f"{yellow:g}", red=f"{red:g}"))
    st.stop()
if weights is None:
    st.stop()
try:
    policy, rescaled = replace(data.set_line(baseline, period, float(income_line)), name="scenario", cutoffs=(float(yellow), float(red)), weights=weights).normalised()
except PolicyError:
    right.error(t("simulator.no_weight"))
    st.stop()
if rescaled:
    left.caption(t("simulator.normalised", total=f"{sum(weights.values()):.3f}"))

scen = scorer.run(policy).copy()
cmp = compare(base, scen)
unit_costs = {tier: float(ss[f"sim_cost_{tier}"]) for tier in SHOWN_TIERS}
cost = cost_comparison(cmp.base_counts, cmp.scen_counts, unit_costs)
names = data.township_names(lang)

# --------------------------------------------------------------------------- results (right)
with right:
    st.subheader(t("simulator.results"))
    m = st.columns(3)
    for col, tier in zip(m, SHOWN_TIERS):
        ch = cmp.change(tier)
        col.metric(
            lbl("tier", tier),
            fmt.count(cmp.scen_counts[tier], lang),
            delta=fmt.signed(ch),
            delta_color="inverse" if tier != "green" else "normal",
            delta_arrow="auto" if ch else "off",
            border=True,
        )
    m = st.columns(3)
    m[0].metric(t("simulator.moved_up"), fmt.count(len(cmp.up), lang), border=True)
    m[1].metric(t("simulator.moved_down"), fmt.count(len(cmp.down), lang), border=True)
    m[2].metric(
        t("simulator.cost_metric"),
        fmt.yuan(cost.scenario.total, lang),
        delta=("+" if cost.difference > 0 else "") + fmt.yuan(cost.difference, lang),
        delta_color="inverse",
        delta_arrow="auto" if cost.difference else "off",
        border=True,
    )

    # A keyed expander reruns when toggled and says whether it is open: the chart is built only then.
    weights_box = st.expander(t("simulator.weights_in_use"), key="sim_weights_open", on_change="rerun")
    if weights_box.open:
        weights_box.plotly_chart(_weights_figure(dict(baseline.weights), dict(policy.weights)), width="stretch", key="sim_weights_chart", config=NO_BAR)

    c1, c2 = st.columns(2)
    with c1:
        st.markdown(f"**{t('simulator.transition')}**")
        st.plotly_chart(_transition_figure(cmp.transition, t("simulator.axis_base"), t("simulator.axis_scen")), width="stretch", key="sim_transition", config=NO_BAR)
        st.caption(t("simulator.transition_caption"))
    with c2:
        st.markdown(f"**{t('simulator.map_title')}**")
        st.plotly_chart(_township_map(cmp.townships, names, data.townships_geojson()), width="stretch", key="sim_map")

    # per-township change
    st.markdown(f"**{t('simulator.townships')}**")
    town = cmp.townships.assign(township=cmp.townships["township_code"].map(names)).sort_values(["red_change", "yellow_change"], ascending=False, kind="stable")
    town_cols = {
        "township": t("common.township"),
        "households": t("common.households"),
        "red_base": t("simulator.red_base"),
        "red_scen": t("simulator.red_scen"),
        "red_change": t("simulator.red_change"),
        "yellow_base": t("simulator.yellow_base"),
        "yellow_scen": t("simulator.yellow_scen"),
        "yellow_change": t("simulator.yellow_change"),
    }
    town_shown = town[list(town_cols)].rename(columns=town_cols)
    st.dataframe(
        town_shown,
        hide_index=True,
        width="stretch",
        height=min(35 * (len(town_shown) + 1) + 3, 600),  # every township without scrolling, up to ~16
        key="sim_township_table",
        column_config={
            town_cols["red_change"]: st.column_config.NumberColumn(format="%+d"),
            town_cols["yellow_change"]: st.column_config.NumberColumn(format="%+d"),
        },
    )
    _lazy_download(lambda: town_shown, f"scenario_townships_{period}", "sim_townships")

    # households that move
    st.markdown(f"**{t('simulator.movers')}**")
    direction = st.segmented_control(
        t("simulator.movers_filter"),
        ("all", "up", "down"),
        format_func=lambda x: t(f"simulator.movers_{x}"),
        default="all",
        required=True,
        key="sim_movers_dir",
        persist_state="session",
    )
    rows = {"all": cmp.movers(), "up": cmp.up, "down": cmp.down}[direction or "all"]
    if len(rows) == 0:
        st.caption(t("simulator.movers_none"))
    else:
        villages = _village_codes(scorer, data, period)
        vnames = data.village_names(lang)
        change = np.abs(scen.score[rows] - base.score[rows])
        top = rows[np.argsort(-change, kind="stable")[:MOVERS_SHOWN]]

        def _movers(sel: np.ndarray) -> pd.DataFrame:
            f = movers_frame(base, scen, sel, villages)
            tiers = {x: lbl("tier", x) for x in TIERS}
            f = f.assign(
                township_code=f["township_code"].map(names),
                village_code=f["village_code"].map(vnames),
                base_tier=f["base_tier"].map(tiers),
                scen_tier=f["scen_tier"].map(tiers),
            )
            return f.rename(
                columns={
                    "household_id": t("common.household_id"),
                    "township_code": t("common.township"),
                    "village_code": t("common.village"),
                    "base_score": t("simulator.base_score"),
                    "base_tier": t("simulator.base_tier"),
                    "scen_score": t("simulator.scen_score"),
                    "scen_tier": t("simulator.scen_tier"),
                    "score_change": t("simulator.score_change"),
                }
            )

        if len(rows) > MOVERS_SHOWN:
            st.caption(t("simulator.movers_shown", shown=fmt.count(MOVERS_SHOWN, lang), total=fmt.count(len(rows), lang)))
        st.dataframe(_movers(top), hide_index=True, width="stretch", height=280, key="sim_movers_table")
        _lazy_download(lambda: _movers(np.sort(rows)), f"scenario_movers_{period}", "sim_movers")

    # cost
    st.markdown(f"**{t('simulator.cost')}**")
    cost_table = pd.DataFrame(
        {
            t("common.tier"): [lbl("tier", x) for x in SHOWN_TIERS] + [t("simulator.cost_total")],
            t("simulator.baseline"): [fmt.yuan(cost.base.per_tier[x], lang) for x in SHOWN_TIERS] + [fmt.yuan(cost.base.total, lang)],
            t("simulator.scenario"): [fmt.yuan(cost.scenario.per_tier[x], lang) for x in SHOWN_TIERS] + [fmt.yuan(cost.scenario.total, lang)],
            t("simulator.change"): [("+" if v > 0 else "") + fmt.yuan(v, lang) for v in (*(cost.per_tier_difference()[x] for x in SHOWN_TIERS), cost.difference)],
        }
    )
    st.dataframe(cost_table, hide_index=True, width="stretch", key="sim_cost_table")
    st.caption(t("simulator.cost_caption"))

    # sensitivity
    pct = int(round(100 * DELTA))
    st.markdown(f"**{t('simulator.sensitivity', pct=pct)}**")
    st.button(t("simulator.sensitivity_run"), on_click=_run_sensitivity, args=(scorer, policy), key="sim_sens_run")
    sens, fresh = _sensitivity_result(scorer, policy)
    if sens is not None and not fresh:
        st.caption(t("simulator.sensitivity_stale"))
    if sens is not None and fresh:
        st.caption(t("simulator.sensitivity_caption", d=f"{DELTA:g}"))
        sens_tier = st.segmented_control(
            t("simulator.sensitivity_tier"),
            ("red", "yellow"),
            format_func=lambda x: lbl("tier", x),
            default="red",
            required=True,
            key="sim_sens_tier",
            persist_state="session",
        )
        st.plotly_chart(_tornado(sens, sens_tier or "red"), width="stretch", key="sim_tornado", config=NO_BAR)
        sens_shown = sens.assign(
            dimension=sens["indicator"].map(lambda k: lbl("dimension", DIMENSIONS_OF[k])),
            indicator=sens["indicator"].map(lambda k: lbl("indicator", k)),
            weight=sens["weight"].round(3),
        ).rename(
            columns={
                "indicator": t("simulator.indicator"),
                "dimension": t("simulator.dimension"),
                "weight": t("simulator.weight"),
                "red_minus": t("simulator.red_minus"),
                "red_plus": t("simulator.red_plus"),
                "yellow_minus": t("simulator.yellow_minus"),
                "yellow_plus": t("simulator.yellow_plus"),
            }
        )
        with st.expander(t("simulator.sensitivity", pct=pct)):
            st.dataframe(sens_shown, hide_index=True, width="stretch", key="sim_sens_table")

# --------------------------------------------------------------------------- saved scenarios
def _save_tab(saved: list[dict]) -> None:
    names = [r["name"] for r in saved]
    c1, c2 = st.columns(2)
    with c1:
        name = st.text_input(t("simulator.save_name"), key="sim_save_name", max_chars=100)
        if name.strip() in names:
            st.caption(t("simulator.overwrite"))
        st.button(t("simulator.save"), on_click=_save, args=(data.engine, policy, ctx.role), key="sim_save", type="primary")
    with c2:
        if names:
            st.selectbox(t("simulator.load_pick"), names, key="sim_load_name")
            st.button(t("simulator.load"), on_click=_load, args=(data.engine,), key="sim_load")
        else:
            st.caption(t("simulator.none_saved"))
    if not saved:
        return
    rows = []
    for r in saved:
        p = RiskPolicy.from_json(r["policy_json"])
        rows.append(
            {
                t("simulator.col_name"): r["name"],
                t("simulator.col_line"): f"{p.income_line:,.0f}",
                t("simulator.col_cutoffs"): f"{p.cutoffs[0]:g} / {p.cutoffs[1]:g}",
                t("simulator.col_created"): _when(r["created_at"]),
                t("simulator.col_created_by"): lbl("role", r["created_by"]) if r["created_by"] else "",
                t("simulator.col_adopted"): _when(r["adopted_at"]),
                t("simulator.col_adopted_by"): lbl("role", r["adopted_by"]) if r["adopted_by"] else "",
            }
        )
    st.markdown(f"**{t('simulator.saved_list')}**")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="sim_saved_table")


def _compare_tab(saved: list[dict]) -> None:
    options = ["__baseline__", "__scenario__", *(r["name"] for r in saved)]
    special = {"__baseline__": t("simulator.current_baseline"), "__scenario__": t("simulator.current_scenario")}
    c1, c2 = st.columns(2)
    a = c1.selectbox(t("simulator.compare_a"), options, index=None, format_func=lambda x: special.get(x, x), key=lkey("sim_cmp_a"))
    b = c2.selectbox(t("simulator.compare_b"), options, index=None, format_func=lambda x: special.get(x, x), key=lkey("sim_cmp_b"))
    if a is None or b is None:
        st.caption(t("simulator.compare_pick"))
        return
    if a == b:
        st.caption(t("simulator.compare_same"))
        return

    def resolve(x: str) -> tuple[RiskPolicy, ScoreResult]:
        if x == "__baseline__":
            return baseline, base
        if x == "__scenario__":
            return policy, scen
        p, _ = data.for_month(load_policy(data.engine, x), period).normalised()
        return p, scorer.run(p).copy()

    (pa, ra), (pb, rb) = resolve(a), resolve(b)
    ab = compare(ra, rb)
    la, lb_ = special.get(a, a), special.get(b, b)
    dw_a, dw_b = dimension_weights(pa), dimension_weights(pb)

    def column(p: RiskPolicy, counts: dict[str, int], dw: dict[str, float]) -> list[str]:
        return [f"{p.income_line:,.0f}", f"{p.cutoffs[0]:g} / {p.cutoffs[1]:g}", *(fmt.count(counts[x], lang) for x in SHOWN_TIERS), *(f"{dw[d]:.3f}" for d in DIMS)]

    params = pd.DataFrame(
        {
            t("simulator.parameter"): [t("simulator.income_line"), t("simulator.cutoffs"), *(lbl("tier", x) for x in SHOWN_TIERS)]
            + [f"{t('simulator.weight')} · {lbl('dimension', d)}" for d in DIMS],
            la: column(pa, ab.base_counts, dw_a),
            lb_: column(pb, ab.scen_counts, dw_b),
        }
    )
    c1, c2 = st.columns(2)
    c1.dataframe(params, hide_index=True, width="stretch", key="sim_cmp_table")
    with c2:
        st.markdown(f"**{t('simulator.compare_transition')}**")
        st.plotly_chart(_transition_figure(ab.transition, la, lb_), width="stretch", key="sim_cmp_transition", config=NO_BAR)
        st.caption(t("simulator.compare_moved", n=fmt.count(ab.moved, lang), up=fmt.count(len(ab.up), lang), down=fmt.count(len(ab.down), lang)))


def _adopt_tab(saved: list[dict]) -> None:
    st.caption(t("simulator.adopt_caption", role=lbl("role", ctx.role)))
    adopted = [r for r in saved if r["adopted_at"] is not None]
    if adopted:
        last = max(adopted, key=lambda r: r["adopted_at"])
        st.caption(t("simulator.adopt_history", name=last["name"], who=lbl("role", last["adopted_by"]), when=_when(last["adopted_at"])))
    if not saved:
        st.caption(t("simulator.none_saved"))
        return
    st.selectbox(t("simulator.adopt_pick"), [r["name"] for r in saved], key="sim_adopt_name")
    confirmed = st.checkbox(t("simulator.adopt_confirm"), key="sim_adopt_confirm")
    allowed = can(ctx.principal, "policy_adopt")
    st.button(t("simulator.adopt"), on_click=_adopt, args=(data.engine, ctx.role), key="sim_adopt", disabled=not (confirmed and allowed), type="primary")
    if not allowed:
        st.caption(t("access.adopt_role"))


st.divider()
st.subheader(t("simulator.scenarios"))
saved_rows = list_policies(data.engine)
# Only the open tab runs (a comparison scores two more policies): keyed tabs rerun on a switch.
tabs = st.tabs([t("simulator.tab_save"), t("simulator.tab_compare"), t("simulator.tab_adopt")], key="sim_tabs", on_change="rerun")
for tab, draw in zip(tabs, (_save_tab, _compare_tab, _adopt_tab)):
    if tab.open:
        with tab:
            draw(saved_rows)
