"""The overview, map and simulator at a region of the analytic store (province, city, or a county
the database does not hold), drawn from the engine's aggregates only.

``draw(ctx, page)`` is called by the shared sidebar (``page_context``) when a region is picked:
the page's own code then does not run, so the county level keeps today's pages unchanged.
The overview offers the region's monthly brief (``fanpin.ui.region_brief``) and the people
registered in more than one household (``fanpin.ui.region_duplicates``).
Children of the region (a province's counties or cities, a city's counties, a county's
townships) are shown side by side: tier counts, newly red, rising, month by month.  The store
holds no county boundaries, so the map draws a schematic tile map (one row per city, a tile per
county, placed by code) and says so.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
import streamlit as st

from fanpin.access.roles import can
from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.engine import regional
from fanpin.engine.scenario import dimension_scaled, dimension_weights
from fanpin.engine.scoring import TIERS, RiskPolicy
from fanpin.geo import colours, geojson, townships
from fanpin.ui import layers
from fanpin.ui import region as R
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import kept_selectbox, lbl, t
from fanpin.ui.labels import column_labels, reasons_text, tier_labels
from fanpin.ui.region_brief import region_brief_download
from fanpin.ui.region_duplicates import duplicates_section
from fanpin.ui.sidebar import Context
from fanpin.ui.tables import fit_width, fitted
from fanpin.ui.text import md

REGION_PAGES = ("overview", "map", "simulator")
#: The township chosen for the drill-down at a store county (a click on the map sets it).
TOWNSHIP_KEY = "pv_township"
MARGIN = dict(l=10, r=10, t=40, b=10)
#: The side-by-side table's columns and their labels.
TABLE_LABELS = {
    "region": "province.region_col", "region_code": "overview.code", "households": "common.households", "red_change": "province.red_change",
    "newly_red": "overview.newly_red", "rising": "overview.rising", "red_share": "overview.red_share",
    "red_share_change": "overview.red_share_change", "mean_score": "overview.mean_score",
}
FIGURES = ("red", "newly_red", "rising", "red_share")


def draw(ctx: Context, page: str) -> None:
    prov = R.configured()
    if prov is None or ctx.region is None:
        return
    {"overview": overview, "map": region_map, "simulator": simulator}[page](ctx, prov)


def _level(ctx: Context, key: str) -> str:
    """The level shown side by side: at province level the user may group by city or by county."""
    if regional.level_of(ctx.region) != "province":
        return regional.children_level(ctx.region)
    names = {lv: t(f"province.by_{lv}") for lv in ("county", "city")}  # labels made when drawn (a format function runs later)
    by = st.radio(t("province.group_by"), tuple(names), format_func=names.get, horizontal=True, key=f"{key}_by_{ctx.lang}")
    return regional.children_level(ctx.region, by)


def _labelled(table: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    return table.assign(region=[R.region_label(c, names) for c in table["region_code"].astype(str)])


def _month(ctx: Context, prov: R.Province) -> int:
    periods = prov.manifest.periods
    return ctx.period if ctx.period in periods else periods[-1]


def _title(ctx: Context, key: str, period: int, names: dict[str, str]) -> None:
    st.title(t(key, place=md(R.region_label(ctx.region, names)), month=format_period(period, ctx.lang)))


# --------------------------------------------------------------------------- overview
def overview(ctx: Context, prov: R.Province) -> None:
    period = _month(ctx, prov)
    policy = R.baseline(prov, ctx.data)
    names = R.store_names(prov, ctx.lang)
    _title(ctx, "overview.title", period, names)
    line = R.engine(prov).policy_for(policy, period).income_line
    st.caption(t("province.caption", policy=md(policy.name), line=fmt.yuan(line, ctx.lang), where=R.where_it_runs()))
    with st.spinner(t("province.computing")):
        agg = R.aggregates(prov, ctx.principal, ctx.region, policy)
    totals = regional.month_totals(agg, ctx.region)
    if totals.empty:
        st.info(t("province.no_counties"))
        return
    headline(totals, period, ctx.lang)
    level = _level(ctx, "pv_ov")
    region_brief_download(ctx, prov, ctx.region, period, policy, by=level, names=names)
    table = _labelled(regional.side_by_side(agg, ctx.region, period, level), names)
    side_by_side(ctx, table, level, period)
    month_by_month(ctx, agg, level, names)
    duplicates_section(ctx, prov, ctx.region, names)
    R.warm(prov, ctx.principal, ctx.region, period, R.engine(prov).policy_for(policy, period))  # for the simulator, in the background


def headline(totals: pd.DataFrame, period: int, lang: str) -> None:
    now = totals[totals["period"] == period].iloc[0]
    before = totals[totals["period"] < period].tail(1)
    c = st.columns(6)
    c[0].metric(t("common.households"), fmt.count(int(now["households"]), lang))
    for col, tier in zip(c[1:4], ("red", "yellow", "green")):
        delta = fmt.signed(int(now[tier] - before[tier].iloc[0])) if len(before) else None
        col.metric(lbl("tier", tier), fmt.count(int(now[tier]), lang), delta=delta, delta_color="inverse" if tier != "green" else "normal")
    c[4].metric(t("overview.newly_red"), fmt.count(int(now["newly_red"]), lang), help=t("overview.newly_red_help"))
    c[5].metric(t("overview.rising"), fmt.count(int(now["rising"]), lang), help=t("overview.rising_help"))


def side_by_side(ctx: Context, table: pd.DataFrame, level: str, period: int) -> None:
    st.subheader(t("province.side_by_side", level=t(f"province.plural_{level}")))
    shown = table.assign(red_share=(100 * table["red_share"]).round(1), red_share_change=(100 * table["red_share_change"]).round(1),
                         mean_score=table["mean_score"].round(1))
    number = st.column_config.NumberColumn
    # the month's change in red share and the mean score go to the download only: with them the trend was out of sight at 1366 px
    cols = ["region", "households", "red", "yellow", "green", "red_change", "newly_red", "rising", "red_share", "trend"]
    st.dataframe(
        shown[cols], hide_index=True, width="stretch", height=min(38 + 35 * max(len(shown), 1), 740),
        column_config={  # sized to their headers, so that the trend stays in sight at 1366 px
            "region": st.column_config.TextColumn(t("province.region_col"), width=fit_width(shown["region"].tolist(), t("province.region_col"))),
            "households": number(t("common.households"), format="localized", width=fit_width([f"{v:,}" for v in shown["households"]], t("common.households"))),
            **{tier: number(lbl("tier", tier), format="localized", width=fit_width([f"{v:,}" for v in shown[tier]], lbl("tier", tier))) for tier in TIERS},
            "red_change": number(t("province.red_change"), format="%+d", width=fit_width([], t("province.red_change"))),
            "newly_red": number(t("overview.newly_red"), format="localized", width=fit_width([], t("overview.newly_red"))),
            "rising": number(t("overview.rising"), format="localized", width=fit_width([], t("overview.rising"))),
            "red_share": number(t("overview.red_share"), format="%.1f%%", width=fit_width([], t("overview.red_share"))),
            "red_share_change": number(t("overview.red_share_change"), format="%+.1f", width=fit_width([], t("overview.red_share_change"))),
            "mean_score": number(t("overview.mean_score"), format="%.1f", width=fit_width([], t("overview.mean_score"))),
            "trend": st.column_config.LineChartColumn(t("overview.red_share_trend"), y_min=0, width=max(120, fit_width([], t("overview.red_share_trend")))),
        },
    )
    labels = {**{k: t(v) for k, v in TABLE_LABELS.items()}, **{x: lbl("tier", x) for x in TIERS}}
    download_table(ctx, shown.drop(columns="trend"), f"regions_{regional.short(ctx.region)}_{period}", "pv_regions", labels=labels)


def month_by_month(ctx: Context, agg, level: str, names: dict[str, str]) -> None:  # noqa: ANN001 - Aggregates
    st.subheader(t("province.month_by_month"))
    figures = {f: t(f"province.figure_{f}") for f in FIGURES}
    what = st.radio(t("province.figure"), FIGURES, format_func=figures.get, horizontal=True, key=f"pv_fig_{ctx.lang}")
    wide = regional.month_by_region(agg, ctx.region, level, what)
    if wide.empty:
        return
    x = pd.to_datetime([f"{p // 100}-{p % 100:02d}-01" for p in wide.index])
    fig = go.Figure()
    for code in wide.columns:
        y = wide[code] * (100 if what == "red_share" else 1)
        fig.add_trace(go.Scatter(x=x, y=y.round(2), name=R.region_label(str(code), names), mode="lines"))
    fig.update_layout(height=360, margin=MARGIN, xaxis=dict(tickformat="%Y-%m"), legend=dict(orientation="h", y=-0.15),
                      yaxis=dict(ticksuffix="%" if what == "red_share" else ""), title=t(f"province.figure_{what}"))
    st.plotly_chart(fig, width="stretch", key="pv_month_chart")


# --------------------------------------------------------------------------- map
def region_map(ctx: Context, prov: R.Province) -> None:
    """Counties (at province or city level) or a county's townships, as polygons where the store keeps
    their boundaries, else as a schematic tile map."""
    period = _month(ctx, prov)
    policy = R.baseline(prov, ctx.data)
    names = R.store_names(prov, ctx.lang)
    _title(ctx, "province.map_title", period, names)
    with st.spinner(t("province.computing")):
        agg = R.aggregates(prov, ctx.principal, ctx.region, policy)
    level = "county" if regional.level_of(ctx.region) in ("province", "city") else "township"
    table = _labelled(regional.side_by_side(agg, ctx.region, period, level), names)
    if table.empty:
        st.info(t("province.no_counties"))
        return
    fc = R.boundaries(prov, level)
    cities = R.boundaries(prov, "city") if regional.level_of(ctx.region) == "province" else None
    if fc is None or not polygon_map(ctx, table, fc, level, names, cities):
        tile_map(ctx, table, level, names)
    if level == "township" and can(ctx.principal, "household_view"):
        households(ctx, prov, period, R.engine(prov).policy_for(policy, period), table["region_code"].astype(str).tolist(), names)


def households(ctx: Context, prov: R.Province, period: int, policy: RiskPolicy, towns: list[str], names: dict[str, str]) -> None:
    """Drill-down for a role that may view households (an administrator): one township's households
    of a county the database does not hold, from the store through the engine (one county's file,
    never a province's); the store holds no names or ID numbers, and the download is the audited one."""
    towns = sorted(towns)
    label = {c: R.region_label(c, names) for c in towns}
    township = kept_selectbox(st, t("province.drill_township"), towns, TOWNSHIP_KEY, label.get, towns[0], prefix="pv")
    with st.spinner(t("province.computing")):
        hh = R.township_rows(prov, ctx.principal, period, township, policy)
    hh = hh.sort_values(["score", "household_id"], ascending=[False, True], ignore_index=True)
    st.subheader(t("map.households", township=md(label[township]), n=fmt.count(len(hh), ctx.lang)))
    st.caption(t("map.households_note"))
    hcols = column_labels("map_households")
    ht = hh.assign(village=hh["village_code"].astype(str), tier=hh["tier"].map(tier_labels()), reasons=reasons_text(hh))[list(hcols)]
    shown, reasons = ht.rename(columns=hcols), hcols["reasons"]
    config = fitted(shown, formats={hcols["score"]: "%.1f"}, **{reasons: st.column_config.TextColumn(reasons, width=fit_width(shown[reasons].tolist(), reasons, cap=1000))})
    st.dataframe(shown, hide_index=True, width="stretch", height=400, key="pv_households", column_config=config)
    download_table(ctx, ht, f"households_{township}_{period}", "pv_households_dl", labels=hcols)


def polygon_map(ctx: Context, table: pd.DataFrame, fc: dict, level: str, names: dict[str, str], cities: dict | None = None) -> bool:
    """The regions of ``table`` drawn from ``fc`` and coloured by red share (False: none of them has a
    boundary), with the cities' borders over them at province level; a click on a county opens it
    (the region picker follows)."""
    rows = table.set_index("region_code")
    feats = [f for f in fc["features"] if f["properties"]["region_code"] in rows.index]
    if not feats:
        return False
    codes = [f["properties"]["region_code"] for f in feats]
    share = rows.loc[codes, "red_share"].to_numpy(dtype=float)
    min_span, resolution = townships.SCALES["red_share"]
    scale = colours.colour_scale(share, min_span=min_span, resolution=resolution)
    fill = scale.rgba(share, alpha=200)
    drawn = []
    for f, rgba, code in zip(feats, fill, codes):
        r = rows.loc[code]
        tip = t("province.map_tip", name=R.region_label(code, names), households=fmt.count(int(r["households"]), ctx.lang),
                red=fmt.count(int(r["red"]), ctx.lang), share=fmt.pct(float(r["red_share"])), newly_red=fmt.count(int(r["newly_red"]), ctx.lang))
        drawn.append({"type": "Feature", "geometry": f["geometry"],
                      "properties": {"region_code": code, "fill": rgba, "line": [90, 90, 90, 255], "lw": 1, "tip": tip}})
    sub = {"type": "FeatureCollection", "features": drawn}
    polygons = pdk.Layer("GeoJsonLayer", id="regions", data=sub, pickable=True, stroked=True, filled=True, get_fill_color="properties.fill",
                         get_line_color="properties.line", get_line_width="properties.lw", line_width_units="'pixels'",  # quoted: an expression otherwise
                         auto_highlight=True, highlight_color=[255, 255, 255, 80])
    drawn_layers = [polygons]
    w = len(regional.short(ctx.region))
    borders = [f for f in (cities or {}).get("features", []) if f["properties"]["region_code"][:w] == ctx.region[:w]]
    if borders:
        drawn_layers.append(pdk.Layer("GeoJsonLayer", id="cities", data={"type": "FeatureCollection", "features": borders}, stroked=True, filled=False,
                                      get_line_color=[40, 40, 40, 255], get_line_width=3, line_width_units="'pixels'", pickable=False))
    drawn_layers.append(layers.label_layer(sub, {c: R.region_label(c, names) for c in codes}, size=14 if len(codes) <= 20 else 11))
    view = geojson.map_view(sub, width_px=800, height_px=560)
    left, right = st.columns([4, 1])
    with left:
        got = st.pydeck_chart(layers.deck(drawn_layers, view),
                              on_select="rerun", selection_mode="single-object", key=f"pv_map_{ctx.region}", height=560)
        notes = [t("province.map_polygons")] + [t("province.map_borders")] * bool(borders) + [t("province.map_click")] * (level == "county")
        st.caption(("" if ctx.lang == "zh" else " ").join(notes))
    with right:
        st.markdown(f"**{t('province.map_legend')}**")
        st.html(layers.legend_html(layers.class_rows(scale, "red_share", ctx.lang)))
    missing = [c for c in rows.index if c not in set(codes)]
    if missing:
        st.caption(t("province.map_missing", n=len(missing), names=md(("、" if ctx.lang == "zh" else ", ").join(R.region_label(c, names) for c in missing[:10]))))
    picked = _picked(got)
    if picked == st.session_state.get("_pv_map_picked"):  # a selection already acted on: the user may have picked otherwise since
        return True
    st.session_state["_pv_map_picked"] = picked
    if level == "county" and picked in codes:
        st.session_state[R.REGION_KEY] = picked  # the sidebar's picker opens the county (it offers only covered regions)
        st.rerun()
    if level == "township" and picked in codes:
        st.session_state[TOWNSHIP_KEY] = picked  # the drill-down below follows
    return True


def _picked(event: object) -> str | None:
    """The region code of the polygon clicked, if any."""
    try:
        objs = event.selection["objects"].get("regions") or []  # type: ignore[attr-defined]
    except (AttributeError, KeyError, TypeError):
        return None
    return str(objs[0]["properties"]["region_code"]) if objs else None


def tile_map(ctx: Context, table: pd.DataFrame, level: str, names: dict[str, str]) -> None:
    """A schematic tile map (no boundaries in the store): one row per city, a tile per county."""
    st.caption(t("province.map_schematic"))
    grid = regional.tile_grid(table) if level == "county" else table.assign(row=np.arange(len(table)) // 5, col=np.arange(len(table)) % 5, city_code="")
    share = 100 * grid["red_share"].to_numpy(dtype=float)
    text = [f"{r}<br>{s:.1f}%" for r, s in zip(grid["region"], share)]
    fig = go.Figure(go.Scatter(
        x=grid["col"], y=-grid["row"], mode="markers+text", text=text,
        textfont=dict(size=12, color=["#fff" if v > share.min() + 0.6 * (np.ptp(share) or 1) else "#222" for v in share]),  # readable on dark tiles
        marker=dict(symbol="square", size=78, color=share, colorscale="YlOrRd", cmin=0, showscale=True,
                    colorbar=dict(title=t("overview.red_share"), ticksuffix="%"), line=dict(color="#666", width=1)),
        hovertext=[f"{r}: {s:.1f}% · {fmt.count(int(h), ctx.lang)}" for r, s, h in zip(grid["region"], share, grid["households"])], hoverinfo="text",
    ))
    if level == "county":
        for code, row in grid.groupby("city_code")["row"].first().items():
            fig.add_annotation(x=-0.9, y=-row, text=md(R.region_label(str(code), names)), showarrow=False, xanchor="right")
    rows = int(grid["row"].max()) + 1
    fig.update_layout(height=max(260, 110 * rows + 60), margin=dict(l=90, r=10, t=10, b=10), showlegend=False, plot_bgcolor="white",
                      xaxis=dict(visible=False, range=[-1.6, max(4.5, float(grid["col"].max()) + 0.6)]),
                      yaxis=dict(visible=False, range=[-rows + 0.4, 0.6]))
    st.plotly_chart(fig, width="stretch", key="pv_tiles")


# --------------------------------------------------------------------------- simulator
def simulator(ctx: Context, prov: R.Province) -> None:
    period = _month(ctx, prov)
    eng = R.engine(prov)
    base = eng.policy_for(R.baseline(prov, ctx.data), period)
    names = R.store_names(prov, ctx.lang)
    _title(ctx, "province.sim_title", period, names)
    st.caption(t("province.sim_caption", policy=md(base.name), where=R.where_it_runs()))
    left, right = st.columns([1, 2], gap="large")
    with left:
        line = st.number_input(t("province.sim_line"), min_value=1000.0, max_value=50000.0, value=float(base.income_line), step=100.0, format="%.0f", key="pv_sim_line")
        cut = st.slider(t("province.sim_cutoffs"), 0.0, 100.0, (float(base.cutoffs[0]), float(base.cutoffs[1])), step=0.5, key="pv_sim_cutoffs")
        weights = _dimension_sliders(base)
    if cut[0] >= cut[1]:
        right.warning(t("province.sim_bad_cutoffs"))
        return
    if weights is None:
        right.warning(t("province.sim_no_weight"))
        return
    scen = replace(base, name=t("province.sim_scenario"), income_line=float(line), cutoffs=(float(cut[0]), float(cut[1])), weights=weights)
    level = "county" if regional.level_of(ctx.region) in ("province", "city") else "township"
    with right, st.spinner(t("province.computing")):
        trans, table = R.scenario(prov, ctx.principal, ctx.region, level, period, base, _as_saved(scen, base, period, prov.manifest.income_lines))
    m = np.array(trans)
    with right:
        c = st.columns(3)
        for col, tier in zip(c, TIERS[::-1]):
            k = TIERS.index(tier)
            col.metric(lbl("tier", tier), fmt.count(int(m[:, k].sum()), ctx.lang), delta=fmt.signed(int(m[:, k].sum() - m[k, :].sum())),
                       delta_color="inverse" if tier != "green" else "normal", help=t("province.sim_vs_base", n=fmt.count(int(m[k, :].sum()), ctx.lang)))
        st.subheader(t("province.sim_transition"))
        cells = [[fmt.count(int(v), "en") for v in row] for row in m]  # thousands separated, whole
        st.dataframe(pd.DataFrame(cells, index=[lbl("tier", x) for x in TIERS], columns=[lbl("tier", x) for x in TIERS]), width="content")
        st.caption(t("province.sim_transition_help"))
        st.subheader(t("province.sim_side_by_side", level=t(f"province.plural_{level}")))
        table = table.sort_values(["red_change", "red_scen"], ascending=False, ignore_index=True)
        cols = ["red_base", "red_scen", "red_change", "yellow_change", "green_change"]  # what fits the column at 1366 px
        shown = _labelled(table, names)[["region", *cols]]
        heads = {"red_base": t("province.sim_base_col", tier=lbl("tier", "red")), "red_scen": t("province.sim_scen_col", tier=lbl("tier", "red")),
                 **{f"{x}_change": t("province.sim_change_col", tier=lbl("tier", x)) for x in TIERS}}
        number = st.column_config.NumberColumn
        config = {"region": st.column_config.TextColumn(t("province.region_col"), width=fit_width(shown["region"].tolist(), t("province.region_col")))}
        config |= {c: number(heads[c], format="%+d" if c.endswith("change") else "localized", width=fit_width(["100,000"], heads[c])) for c in cols}
        st.dataframe(shown, hide_index=True, width="stretch", column_config=config, height=min(38 + 35 * max(len(shown), 1), 740))


def _dimension_sliders(base: RiskPolicy) -> dict[str, float] | None:
    """The weight of each dimension (its indicators keep their shares within it: ``dimension_scaled``),
    starting at the baseline's; the baseline's own weights while untouched, None when all are 0."""
    shares = dimension_weights(base)
    with st.expander(t("province.sim_weights"), expanded=False):
        st.caption(t("province.sim_weights_help"))
        chosen = {d: st.slider(lbl("dimension", d), 0.0, 1.0, round(shares[d], 3), step=0.005, format="%.3f", key=f"pv_sim_w_{d}") for d in shares}
    if all(abs(chosen[d] - round(shares[d], 3)) < 1e-9 for d in shares):
        return dict(base.weights)
    if sum(chosen.values()) <= 0:
        return None
    total = sum(chosen.values())
    return dimension_scaled(base.weights, {d: v / total for d, v in chosen.items()})


def _as_saved(scen: RiskPolicy, base: RiskPolicy, period: int, lines: dict[int, float]) -> RiskPolicy:
    """The scenario as the engine applies it: a line the user changed holds for the month's year
    (``line_year``); a line left alone follows the store's yearly lines, like the baseline."""
    from fanpin.engine.income_line import IncomeLine

    if scen.income_line == base.income_line:
        return replace(scen, income_line=base.income_line, line_year=base.line_year)
    return IncomeLine.stored(lines).set_line(scen, period, scen.income_line)
