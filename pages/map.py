"""风险地图 Risk map: townships coloured by a metric, Gi* hot and cold spots, villages and households.

Offline: pydeck with ``map_provider=None`` (no base map, no request leaves the server).
A township is chosen by clicking it on the map or in the selectbox (AppTest cannot click maps).
The layers and the legend are in ``fanpin.ui.layers``, the per-session caches in
``fanpin.ui.session``; the figures come from ``fanpin.geo``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from fanpin.core import fmt
from fanpin.core.periods import format_period, shift
from fanpin.engine.scoring import ScoreResult
from fanpin.geo import colours, geojson, hotspots, townships
from fanpin.ui import layers, session
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import kept_selectbox, lkey, t
from fanpin.ui.labels import column_labels, reasons_text, region_names, tier_labels
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.tables import fit_width, fitted
from fanpin.ui.text import md

#: Above this many households the map draws household points for the selected township only.
HOUSEHOLD_LAYER_LIMIT = 30_000
HOTSPOT_COLUMNS = ["township", "township_code", "households", "red", "red_share", "mean_score", "red_share_change", "mean_score_change", "neighbours", "z", "p", "cls"]
SPOT_COLUMNS = ("neighbours", "z", "p", "cls")


@dataclass
class Scene:
    """What the map shows this run: the month's results, the township file in use and the choices."""

    ctx: Context
    snap: pd.DataFrame
    result: ScoreResult
    metrics: pd.DataFrame
    fc: dict
    mapped_codes: list[str]
    metric: str
    township: str | None
    names: dict[str, str]
    vnames: dict[str, str]

    @property
    def tested(self) -> bool:
        """Whether hot spots are worked out: Gi* needs at least three townships on the map."""
        return len(self.mapped_codes) >= hotspots.MIN_UNITS


def _upload_box(township_codes: list[str], names: dict[str, str], lang: str) -> dict | None:
    """The upload expander: a checked township file for this session, or the one in use (None: the database's)."""
    custom = st.session_state.get("map_custom_fc")
    with st.expander(t("map.upload"), expanded=False):
        upload = st.file_uploader(t("map.upload_label"), type=["geojson", "json"], key="map_upload", help=t("map.upload_help"))
        if upload is not None:
            seen = st.session_state.get("_map_upload_seen")
            if seen is None or seen[0] != upload.file_id:
                fc_new, problems = geojson.validate_geojson(upload.getvalue(), township_codes)
                st.session_state["_map_upload_seen"] = (upload.file_id, upload.name, problems)
                if fc_new is not None:
                    custom = {"name": upload.name, "fc": fc_new, "key": hashlib.sha256(upload.getvalue()).hexdigest()}
                    st.session_state["map_custom_fc"] = custom
            _, up_name, problems = st.session_state["_map_upload_seen"]
            if problems:
                current = t("map.using_custom") if custom else t("map.using_db")
                st.error(t("map.upload_refused", name=md(up_name), n=len(problems), current=current))
                st.markdown("\n".join(f"- {md(line)}" for line in geojson.describe_problems(problems, lang, names)))
        if custom:
            st.success(t("map.upload_ok", name=md(custom["name"]), n=len(custom["fc"]["features"])))
            if st.button(t("map.reset_custom"), key="map_reset"):
                st.session_state.pop("map_custom_fc", None)
                st.session_state.pop("_map_upload_seen", None)
                st.rerun()
    return custom


def boundaries(ctx: Context, township_codes: list[str], names: dict[str, str]) -> tuple[dict, str]:
    """The township FeatureCollection in use and its cache key: this session's upload, else the database's."""
    custom = _upload_box(township_codes, names, ctx.lang)
    if custom:
        st.caption(t("map.custom_active", name=md(custom["name"])))
        return custom["fc"], "custom:" + custom["key"]
    fc = ctx.data.townships_geojson()  # a township without a usable stored boundary is left off the map
    return {**fc, "features": [f for f in fc["features"] if f.get("geometry")]}, f"db:{ctx.data.url}:{ctx.data.version}"


def choices(township_codes: list[str], names: dict[str, str], scoped: bool, tested: bool) -> tuple[str, str | None, str]:
    """(metric, chosen township or None for every township shown, contiguity).  A user of one
    township has it chosen; the neighbour choice is offered only where hot spots are worked out."""
    c1, c2, c3 = st.columns([2, 2, 2])
    # format functions use labels resolved now, in this run's language (AppTest calls them later)
    metric_labels = {m: t(f"map.metric.{m}") for m in townships.METRICS}
    metric = c1.selectbox(t("map.metric"), townships.METRICS, format_func=metric_labels.__getitem__, key=lkey("map_metric"), persist_state="session")
    # "" is every township shown (a None option would show as an empty box); one township is simply chosen
    options = township_codes if len(township_codes) == 1 else ["", *township_codes]
    shown = {"": t("map.whole_scope" if scoped else "map.whole_county"), **{c: names.get(c, c) for c in township_codes}}
    township = kept_selectbox(c2, t("map.township"), options, "map_township", shown.__getitem__, options[0]) or None
    if not tested:
        return metric, township, "queen"
    contiguity_labels = {c: t(f"map.contiguity.{c}") for c in ("queen", "rook")}
    # kept across a language switch (a radio keyed alone would show no choice in the other language)
    contiguity = kept_selectbox(
        c3, t("map.contiguity"), ["queen", "rook"], "map_contiguity", contiguity_labels.__getitem__, "queen", kind="radio", help=t("map.contiguity_help")  # one under the other: side by side they overlapped
    )
    return metric, township, contiguity


def draw_map(s: Scene, spots: pd.DataFrame, villages: pd.DataFrame, hh: pd.DataFrame | None, coords: pd.DataFrame | None, clicks: int) -> None:
    """The deck (townships, households, villages, names) and its legend."""
    lang, township = s.ctx.lang, s.township
    by_code = s.metrics.set_index("township_code")
    values = by_code[s.metric].reindex(s.mapped_codes)
    min_span, resolution = townships.SCALES[s.metric]
    scale = colours.colour_scale(values.to_numpy(), diverging=s.metric in hotspots.DIVERGING, min_span=min_span, resolution=resolution)
    tips = {c: layers.township_tip(c, by_code.loc[c], spots.loc[c] if s.tested else None, s.metric, s.names, lang) for c in s.mapped_codes}
    drawn = [layers.township_layer(s.fc, scale.rgba(values.to_numpy(), alpha=190), spots, tips, township)]
    if coords is not None:
        points = (hh if hh is not None else townships.household_points(s.snap, s.result, None, coords, top=0)).dropna(subset=["lon", "lat"])
        drawn += layers.household_layers(points, township)
    drawn += [layers.village_layer(villages, s.vnames, lang), layers.label_layer(s.fc, s.names)]
    view = geojson.map_view(s.fc, [township] if township in s.mapped_codes else None, width_px=800, height_px=560)
    left, right = st.columns([4, 1])
    with left:
        st.pydeck_chart(layers.deck(drawn, view), on_select="rerun", selection_mode="single-object", key=f"map_deck_{clicks}", height=560)
        st.caption(t("map.map_hint"))
    with right:
        st.markdown(f"**{t('map.legend')} · {t(f'map.metric.{s.metric}')}**")
        rows = layers.legend_rows(scale, s.metric, lang, no_data=bool(values.isna().any()), households=coords is not None, township=township, spots=s.tested)
        st.html(layers.legend_html(rows))
        counts = spots["cls"].value_counts()
        if s.tested:
            st.caption(t("map.summary", hot=int(counts.get("hot", 0)), cold=int(counts.get("cold", 0)), ns=int(counts.get("not_significant", 0))))
        else:
            st.caption(t("map.no_hotspots", n=len(s.mapped_codes), k=hotspots.MIN_UNITS))
        if len(s.result.score) > HOUSEHOLD_LAYER_LIMIT and township is None:
            st.caption(t("map.households_hidden", n=fmt.count(len(s.result.score), lang)))


def hotspot_table(s: Scene, spots: pd.DataFrame, w: object) -> None:
    """Every township's figures with its Gi* z, p and class, hottest first (the figures alone, by red
    share, where hot spots are not worked out; changes left out in the first month)."""
    st.subheader(t("map.hotspots" if s.tested else "map.figures"))
    label = t(f"map.metric.{s.metric}")
    if s.tested:
        st.caption(t("map.hotspots_help", metric=label if s.ctx.lang == "zh" else label[0].lower() + label[1:], permutations=999))
    if s.tested and getattr(w, "attached_islands", None):
        st.caption(t("map.islands", names=md("、".join(s.names.get(c, c) for c in w.attached_islands))))
    table = s.metrics.set_index("township_code").reindex(s.mapped_codes).join(spots[["z", "p", "neighbours", "cls"]]).reset_index()
    table = table.assign(
        township=region_names(table["township_code"], s.names),
        **{c: (100 * table[c]).round(2) for c in ("red_share", "red_share_change")},
        **{c: table[c].round(2) for c in ("mean_score", "mean_score_change")},
        z=table["z"].round(3),
        p=table["p"].round(3),
        cls=table["cls"].map(lambda c: t(f"map.cls.{c}")),
    ).sort_values(["z" if s.tested else "red_share", "township_code"], ascending=[False, True], na_position="last")
    shown = [c for c in HOTSPOT_COLUMNS if (s.tested or c not in SPOT_COLUMNS) and not (c.endswith("_change") and table[c].isna().all())]
    table = table[shown]
    cols, cc = column_labels("map_hotspots"), st.column_config
    formats = {"households": "localized", "red_share": "%.2f%%", "mean_score": "%.2f", "red_share_change": "%+.2f", "mean_score_change": "%+.2f", "z": "%.3f", "p": "%.3f"}
    widths = {"township": 130, "township_code": 110, "households": 75, "red": 45, "red_share": 70, "mean_score": 75, "red_share_change": 90, "mean_score_change": 85}
    widths |= {"neighbours": 70, "z": 60, "p": 50, "cls": 95}  # every column in sight at 1366 px (the code is in the download)
    helps = {c: t(f"map.col.{c}_help") for c in ("red_share_change", "mean_score_change")}
    config = {
        c: (cc.TextColumn(cols[c], width=widths[c]) if c in ("township", "township_code", "cls") else cc.NumberColumn(cols[c], format=formats.get(c), width=widths[c], help=helps.get(c)))
        for c in shown
    }
    order = [c for c in shown if c != "township_code"]
    st.dataframe(table, hide_index=True, width="stretch", height=38 + 35 * len(table), key="map_table", column_config=config, column_order=order)  # every township, no inner scrolling
    download_table(s.ctx, table, f"hotspots_{s.metric}_{s.ctx.period}", "map_hotspots", labels=cols)


def township_detail(s: Scene, villages: pd.DataFrame, hh: pd.DataFrame) -> None:
    """The chosen township's villages and households, each with its download."""
    ctx, township = s.ctx, s.township
    tname = s.names.get(township, township)
    st.subheader(t("map.villages", township=md(tname)))
    vt = villages[villages["township_code"] == township].sort_values(["red_share", "village_code"], ascending=[False, True])
    vt = vt.assign(village=region_names(vt["village_code"], s.vnames), red_share=(100 * vt["red_share"]).round(2), mean_score=vt["mean_score"].round(2))
    vcols = column_labels("map_villages")
    vt = vt[list(vcols)]
    config = {vcols["red_share"]: st.column_config.NumberColumn(format="%.2f%%"), vcols["mean_score"]: st.column_config.NumberColumn(format="%.2f")}
    st.dataframe(vt.rename(columns=vcols), hide_index=True, width="stretch", key="map_villages", column_config=config)
    download_table(ctx, vt, f"villages_{township}_{ctx.period}", "map_villages_dl", labels=vcols)

    st.subheader(t("map.households", township=md(tname), n=fmt.count(len(hh), ctx.lang)))
    st.caption(t("map.households_note"))
    hcols = column_labels("map_households")
    ht = hh.assign(village=region_names(hh["village_code"], s.vnames), tier=hh["tier"].map(tier_labels()), reasons=reasons_text(hh))[list(hcols)]
    # the other columns as narrow as their content, so that a 1920 px screen shows the three reasons whole (a 1366 px one scrolls)
    shown, reasons = ht.rename(columns=hcols), hcols["reasons"]
    config = fitted(shown, formats={hcols["score"]: "%.1f"}, **{reasons: st.column_config.TextColumn(reasons, width=fit_width(shown[reasons].tolist(), reasons, cap=1000))})
    st.dataframe(shown, hide_index=True, width="stretch", height=400, key="map_households", column_config=config)
    download_table(ctx, ht, f"households_{township}_{ctx.period}", "map_households_dl", labels=hcols)


def main() -> None:
    ctx = page_context("map")
    data, period, lang = ctx.data, ctx.period, ctx.lang
    names, vnames, regions = data.township_names(lang), data.village_names(lang), data.regions()
    county_codes = regions.loc[regions["level"] == "township", "region_code"].tolist()
    scoped = ctx.principal is not None and ctx.principal.townships is not None
    township_codes = [c for c in county_codes if not scoped or ctx.principal.sees(c)]  # a case worker's map is their townships
    clicks = session.consume_map_click(township_codes)

    policy, prev = data.policy_for(period), shift(period, -1)
    snap = data.snapshot(period)
    with st.spinner(t("map.computing")):
        result = data.scorer(period).run(policy).copy()
        prev_result = session.previous_result(data, prev, data.policy_for(prev)) if prev in data.periods() else None
    metrics = townships.township_metrics(result, prev_result, township_codes)

    place = "、".join(names.get(c, c) for c in township_codes) if scoped else ctx.county
    st.title(t("map.title", place=md(place), month=format_period(period, lang)))
    st.caption(t("map.caption", policy=md(policy.name), line=fmt.yuan(policy.income_line, lang)))
    fc, fc_key = boundaries(ctx, county_codes, names)
    if scoped:
        fc = {**fc, "features": [f for f in fc["features"] if f["properties"]["region_code"] in township_codes]}
        fc_key += ":" + ",".join(township_codes)
    if not fc["features"]:
        st.info(t("map.no_boundaries"))
        return
    metric, township, contiguity = choices(township_codes, names, scoped, len(fc["features"]) >= hotspots.MIN_UNITS)
    if prev_result is None:
        st.info(t("map.no_prev", month=format_period(period, lang)))

    mapped_codes = [f["properties"]["region_code"] for f in fc["features"]]
    s = Scene(ctx, snap, result, metrics, fc, mapped_codes, metric, township, names, vnames)
    w = session.hotspot_weights(fc, fc_key, contiguity)
    spots = hotspots.hotspots(metrics.set_index("township_code")[metric].reindex(mapped_codes), w)
    villages = townships.village_points(snap, result, regions)
    show_all = township is None and len(result.score) <= HOUSEHOLD_LAYER_LIMIT
    coords = session.household_coords(data) if (township or show_all) else None
    hh = townships.household_points(snap, result, township, coords) if township else None  # also the table below
    draw_map(s, spots, villages, hh, coords, clicks)
    hotspot_table(s, spots, w)
    if not township:
        st.info(t("map.pick_township"))
        return
    township_detail(s, villages, hh)


main()
