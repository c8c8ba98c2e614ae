"""风险地图 Risk map: townships coloured by a metric, Gi* hot and cold spots, villages and households.

Offline: pydeck with ``map_provider=None`` (no base map, no request leaves the server).
A township is chosen by clicking it on the map or in the selectbox (AppTest cannot click maps).
"""

import hashlib
import string

import numpy as np
import pandas as pd
import pydeck as pdk
import streamlit as st

from fanpin.core import fmt
from fanpin.core.indicators import KEYS
from fanpin.core.periods import format_period, shift
from fanpin.engine.scoring import Scorer
from fanpin.geo import colours, geojson, hotspots, townships
from fanpin.store import regions as regions_store
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import kept_selectbox, lbl, lkey, t
from fanpin.ui.sidebar import page_context
from fanpin.ui.widgets import TIER_COLOURS

#: Above this many households the map draws household points for the selected township only.
HOUSEHOLD_LAYER_LIMIT = 30_000

ctx = page_context("map")
data, period, lang = ctx.data, ctx.period, ctx.lang
names = data.township_names(lang)
vnames = data.village_names(lang)
regions = data.regions()
township_codes = regions.loc[regions["level"] == "township", "region_code"].tolist()


# ---------------------------------------------------------------- helpers (drawing only)
def metric_text(metric: str, value: float) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    if metric == "red_share":
        return fmt.pct(value)
    if metric == "red":
        return fmt.count(value, lang)
    if metric == "red_share_change":
        return t("map.pp", value=f"{100 * value:+.2f}")
    if metric == "mean_score_change":
        return f"{value:+.2f}"
    return f"{value:.1f}"


def fill_template(template: str, index: pd.Index, **columns: pd.Series | str) -> pd.Series:
    """``template`` ({name} placeholders, any order) filled row by row from columns or constants, vectorised."""
    out = pd.Series("", index=index, dtype=object)
    for literal, field, _, _ in string.Formatter().parse(template):
        out = out + literal
        if field:
            value = columns[field]
            out = out + (value.astype(str) if isinstance(value, pd.Series) else str(value))
    return out


def short_name(name: str) -> str:
    """Map labels: 'Fengyan Township' -> 'Fengyan' (Chinese names are short already)."""
    for suffix in (" Township", " Town"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def legend_html(rows: list[tuple[str, str, str]]) -> str:
    """rows of (kind, colour, label); kind is 'fill', 'outline' or 'dot'."""
    items = []
    for kind, colour, label in rows:
        if kind == "fill":
            swatch = f"background:{colour};border:1px solid #999;"
        elif kind == "outline":
            swatch = f"background:transparent;border:3px solid {colour};"
        else:
            swatch = f"background:{colour};border:1px solid #555;border-radius:50%;"
        items.append(
            f'<div style="display:flex;align-items:center;gap:6px;margin:2px 0;font-size:0.85rem">'
            f'<span style="display:inline-block;width:16px;height:12px;{swatch}"></span><span>{label}</span></div>'
        )
    return "".join(items)


def weights_for(fc: dict, key: str, contiguity: str):  # noqa: ANN201
    cache = st.session_state.setdefault("_map_weights", {})
    k = (key, contiguity)
    if k not in cache:
        if len(cache) > 4:
            cache.clear()
        cache[k] = hotspots.weights_from_geojson(fc, contiguity)
    return cache[k]


@st.cache_data(show_spinner=False, max_entries=2)
def household_coords(_engine, url: str, version: str) -> pd.DataFrame:  # noqa: ANN001
    return regions_store.household_coords(_engine)


def previous_result(prev: int):  # noqa: ANN201
    """Last month's result from a scorer of our own (the shared one holds this month's buffers)."""
    cache = st.session_state.setdefault("_map_prev_scorer", {})
    key = (data.url, data.version, prev, data.towns_key)
    if key not in cache:
        cache.clear()
        cache[key] = Scorer.from_frame(data.snapshot(prev))
    return cache[key].run(data.policy_for(prev)).copy()


def picked_township(event: object) -> str | None:
    """The township a map click selected (a township polygon, or the township of a clicked village)."""
    if not isinstance(event, dict):
        return None
    objects = (event.get("selection") or {}).get("objects") or {}
    for obj in objects.get("townships") or []:
        code = (obj.get("properties") or {}).get("region_code") or obj.get("region_code")
        if code:
            return str(code)
    for obj in objects.get("villages") or []:
        if obj.get("township_code"):
            return str(obj["township_code"])
    return None


# ---------------------------------------------------------------- a click on the map selects the township
# Each consumed click gives the chart a fresh key: the new chart has no selection, so Streamlit
# does not dim every other object, and the view re-fits the township just chosen.
clicks = st.session_state.setdefault("_map_clicks", 0)
event = st.session_state.get(f"map_deck_{clicks}")
if isinstance(event, dict) and any((event.get("selection") or {}).get("objects", {}).values()):
    clicked = picked_township(event)
    if clicked in township_codes:
        st.session_state["map_township"] = clicked
    st.session_state["_map_clicks"] = clicks = clicks + 1

# ---------------------------------------------------------------- scores
policy = data.policy_for(period)
months = data.periods()
prev = shift(period, -1)
snap = data.snapshot(period)
with st.spinner(t("map.computing")):
    result = data.scorer(period).run(policy).copy()
    prev_result = previous_result(prev) if prev in months else None
metrics = townships.township_metrics(result, prev_result, township_codes)

st.title(t("map.title", place=ctx.county, month=format_period(period, lang)))
st.caption(t("map.caption", policy=policy.name, line=fmt.yuan(policy.income_line, lang)))

# ---------------------------------------------------------------- boundaries: database or this session's upload
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
            st.error(t("map.upload_refused", name=up_name, n=len(problems), current=current))
            st.markdown("\n".join(f"- {line}" for line in geojson.describe_problems(problems, lang, names)))
    if custom:
        st.success(t("map.upload_ok", name=custom["name"], n=len(custom["fc"]["features"])))
        if st.button(t("map.reset_custom"), key="map_reset"):
            st.session_state.pop("map_custom_fc", None)
            st.session_state.pop("_map_upload_seen", None)
            custom = None
            st.rerun()
if custom:
    fc, fc_key = custom["fc"], "custom:" + custom["key"]
    st.caption(t("map.custom_active", name=custom["name"]))
else:
    fc, fc_key = data.townships_geojson(), f"db:{data.url}:{data.version}"
mapped_codes = [f["properties"]["region_code"] for f in fc["features"]]

# ---------------------------------------------------------------- controls
c1, c2, c3 = st.columns([2, 2, 2])
# format functions use labels resolved now, in this run's language (AppTest calls them later)
metric_labels = {m: t(f"map.metric.{m}") for m in townships.METRICS}
metric = c1.selectbox(t("map.metric"), townships.METRICS, format_func=metric_labels.__getitem__, key=lkey("map_metric"), persist_state="session")
options = ["", *township_codes]  # "" is the whole county (a None option would show as an empty box)
township = kept_selectbox(
    c2, t("map.township"), options, "map_township", {"": t("map.whole_county"), **{c: names.get(c, c) for c in township_codes}}.__getitem__, ""
) or None
contiguity = c3.radio(
    t("map.contiguity"), ("queen", "rook"), format_func={c: t(f"map.contiguity.{c}") for c in ("queen", "rook")}.__getitem__, key="map_contiguity", horizontal=True, help=t("map.contiguity_help")
)
if prev_result is None:
    st.info(t("map.no_prev", month=format_period(period, lang)))

# ---------------------------------------------------------------- hot spots
w = weights_for(fc, fc_key, contiguity)
by_code = metrics.set_index("township_code")
values = by_code[metric].reindex(mapped_codes)
spots = hotspots.hotspots(values, w)
scale = colours.colour_scale(values.to_numpy(), diverging=metric in hotspots.DIVERGING)

# ---------------------------------------------------------------- map layers
fill = scale.rgba(values.to_numpy(), alpha=190)
OUTLINE = {"hot": [139, 0, 0, 255], "cold": [8, 48, 107, 255]}
features = []
for f, rgba in zip(fc["features"], fill):
    code = f["properties"]["region_code"]
    row, spot = by_code.loc[code], spots.loc[code]
    line = OUTLINE.get(spot["cls"], [90, 90, 90, 255])
    width = 4 if spot["cls"] in OUTLINE else 1
    if code == township:
        line, width = [20, 20, 20, 255], 5
    tip = t(
        "map.tip.township",
        name=names.get(code, code),
        households=fmt.count(row["households"], lang),
        red=fmt.count(row["red"], lang),
        share=fmt.pct(row["red_share"]),
        mean=metric_text("mean_score", row["mean_score"]),
        metric=t(f"map.metric.{metric}"),
        value=metric_text(metric, row[metric]),
        cls=t(f"map.cls.{spot['cls']}"),
        z="—" if not np.isfinite(spot["z"]) else f"{spot['z']:.2f}",
        p="—" if not np.isfinite(spot["p"]) else f"{spot['p']:.3f}",
    )
    features.append({**f, "properties": {"region_code": code, "fill": rgba, "line": line, "lw": width, "tip": tip}})

layers = [
    pdk.Layer(
        "GeoJsonLayer",
        id="townships",
        data={"type": "FeatureCollection", "features": features},
        pickable=True,
        stroked=True,
        filled=True,
        get_fill_color="properties.fill",
        get_line_color="properties.line",
        get_line_width="properties.lw",
        line_width_units="'pixels'",  # quoted: pydeck turns a bare string into an expression
        auto_highlight=True,
        highlight_color=[255, 255, 255, 80],
    )
]

villages = townships.village_points(snap, result, regions)
vlayer = villages.assign(
    radius=(400 * np.sqrt(villages["red"].clip(lower=0.25))).round(1),  # area proportional to red households
    tip=fill_template(
        t("map.tip.village"),
        villages.index,
        name=villages["village_code"].map(vnames).fillna(villages["village_code"]),
        households=villages["households"].map(lambda n: fmt.count(n, lang)),
        red=villages["red"].map(lambda n: fmt.count(n, lang)),
        share=(100 * villages["red_share"]).map("{:.1f}%".format),
    ),
)[["village_code", "township_code", "lon", "lat", "radius", "tip"]].dropna(subset=["lon", "lat"])
layers.append(
    pdk.Layer(
        "ScatterplotLayer",
        id="villages",
        data=vlayer,
        get_position=["lon", "lat"],
        get_fill_color=[255, 255, 255, 210],
        get_line_color=[60, 60, 60, 230],
        get_radius="radius",
        radius_min_pixels=2,
        radius_max_pixels=16,
        line_width_min_pixels=1,
        stroked=True,
        pickable=True,
    )
)
centres = geojson.label_points(fc)
labels = pd.DataFrame(
    {
        "lon": [c[1] for c in centres],
        "lat": [c[2] for c in centres],
        "name": [short_name(names.get(c[0], c[0])) for c in centres],
    }
)
layers.append(
    pdk.Layer(
        "TextLayer",
        id="labels",
        data=labels,
        get_position=["lon", "lat"],
        get_text="name",
        get_size=14,
        font_weight=600,
        get_color=[20, 20, 20, 255],
        outline_width=3,
        outline_color=[255, 255, 255, 230],
        font_settings={"sdf": True},
        font_family="'\"Noto Sans CJK SC\", \"Microsoft YaHei\", \"PingFang SC\", sans-serif'",
        character_set="'auto'",  # CJK glyphs; quoted because pydeck turns bare strings into expressions
        pickable=False,
    )
)

n_households = len(result.score)
show_all = township is None and n_households <= HOUSEHOLD_LAYER_LIMIT
coords = household_coords(data.engine, data.url, data.version) if (township or show_all) else None
hh = townships.household_points(snap, result, township, coords) if township else None  # also the table below
if coords is not None:
    points = (hh if hh is not None else townships.household_points(snap, result, None, coords, top=0)).dropna(subset=["lon", "lat"])
    # one layer per tier with a constant colour keeps the chart's JSON small; at county level only
    # red and yellow households are drawn (green ones are most of the county and tell little there)
    for tier in ("green", "yellow", "red") if township else ("yellow", "red"):
        sel = points[points["tier"] == tier]
        part = pd.DataFrame({"lon": sel["lon"].round(5), "lat": sel["lat"].round(5)})
        if township:  # hover figures only where points can be picked
            part["tip"] = fill_template(t("map.tip.household"), sel.index, id=sel["household_id"], score=sel["score"].map("{:.1f}".format), tier=lbl("tier", tier))
        layers.insert(
            1,
            pdk.Layer(
                "ScatterplotLayer",
                id=f"households_{tier}",
                data=part,
                get_position=["lon", "lat"],
                get_fill_color=colours.rgba(TIER_COLOURS[tier], 230),
                get_radius=25,  # metres: sub-pixel at county zoom, visible as the user zooms in
                radius_min_pixels=0 if township is None else 2,
                radius_max_pixels=6,
                # at county level the (sub-pixel) points would catch the clicks meant for townships
                pickable=township is not None,
            ),
        )

view = geojson.map_view(fc, [township] if township in mapped_codes else None, width_px=800, height_px=560)
deck = pdk.Deck(
    layers=layers,
    initial_view_state=pdk.ViewState(**view, pitch=0, bearing=0),
    # no base map and no request: keep pydeck's default map_style placeholder, which Streamlit
    # drops when map_provider is None; map_style=None would make Streamlit fetch a CARTO style
    map_provider=None,
    tooltip={"text": "{tip}", "style": {"fontSize": "12px", "whiteSpace": "pre"}},
)

left, right = st.columns([4, 1])
with left:
    st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key=f"map_deck_{clicks}", height=560)
    st.caption(t("map.map_hint"))
with right:
    st.markdown(f"**{t('map.legend')} · {t(f'map.metric.{metric}')}**")
    rows = []
    edges = scale.edges
    for i, colour in enumerate(scale.colours):
        rows.append(("fill", colour, f"{metric_text(metric, edges[i])} – {metric_text(metric, edges[i + 1])}"))
    if values.isna().any():
        rows.append(("fill", colours.NO_DATA, t("map.legend.no_data")))
    rows += [
        ("outline", "#8b0000", t("map.legend.hot")),
        ("outline", "#08306b", t("map.legend.cold")),
        ("dot", "#ffffff", t("map.legend.village")),
    ]
    if coords is not None:
        rows.append(("dot", TIER_COLOURS["red"], t("map.legend.households") if township else t("map.legend.households_risk")))
    if township:
        rows.append(("outline", "#141414", t("map.legend.selected")))
    st.html(legend_html(rows))
    counts = spots["cls"].value_counts()
    st.caption(t("map.summary", hot=int(counts.get("hot", 0)), cold=int(counts.get("cold", 0)), ns=int(counts.get("not_significant", 0))))
    if n_households > HOUSEHOLD_LAYER_LIMIT and township is None:
        st.caption(t("map.households_hidden", n=fmt.count(n_households, lang)))

# ---------------------------------------------------------------- township table with Gi*
st.subheader(t("map.hotspots"))
in_sentence = metric_labels[metric] if lang == "zh" else metric_labels[metric][0].lower() + metric_labels[metric][1:]
st.caption(t("map.hotspots_help", metric=in_sentence, permutations=999))
if getattr(w, "attached_islands", None):
    st.caption(t("map.islands", names="、".join(names.get(c, c) for c in w.attached_islands)))
table = metrics.set_index("township_code").reindex(mapped_codes).join(spots[["z", "p", "neighbours", "cls"]]).reset_index()
table = table.assign(
    township=table["township_code"].map(lambda c: names.get(c, c)),
    red_share=(100 * table["red_share"]).round(2),
    red_share_change=(100 * table["red_share_change"]).round(2),
    mean_score=table["mean_score"].round(2),
    mean_score_change=table["mean_score_change"].round(2),
    z=table["z"].round(3),
    p=table["p"].round(3),
    cls=table["cls"].map(lambda c: t(f"map.cls.{c}")),
).sort_values(["z", "township_code"], ascending=[False, True], na_position="last")
shown = table[["township", "township_code", "households", "red", "red_share", "mean_score", "red_share_change", "mean_score_change", "neighbours", "z", "p", "cls"]]
st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    height=38 + 35 * len(shown),  # every township, no inner scrolling
    key="map_table",
    column_config={
        "township": st.column_config.TextColumn(t("common.township"), width=140),
        "township_code": st.column_config.TextColumn(t("map.col.code"), width=110),
        "households": st.column_config.NumberColumn(t("common.households"), format="localized", width=80),
        "red": st.column_config.NumberColumn(lbl("tier", "red"), width=50),
        "red_share": st.column_config.NumberColumn(t("map.col.red_share"), format="%.2f%%", width=75),
        "mean_score": st.column_config.NumberColumn(t("map.col.mean_score"), format="%.2f", width=80),
        "red_share_change": st.column_config.NumberColumn(t("map.col.red_share_change"), format="%+.2f", width=95, help=t("map.col.red_share_change_help")),
        "mean_score_change": st.column_config.NumberColumn(t("map.col.mean_score_change"), format="%+.2f", width=90, help=t("map.col.mean_score_change_help")),
        "neighbours": st.column_config.NumberColumn(t("map.col.neighbours"), width=80),
        "z": st.column_config.NumberColumn(t("map.col.z"), format="%.3f", width=65),
        "p": st.column_config.NumberColumn(t("map.col.p"), format="%.3f", width=55),
        "cls": st.column_config.TextColumn(t("map.col.cls"), width=105),
    },
)
download_table(
    ctx,
    shown.rename(columns={
        "township": t("common.township"), "township_code": t("map.col.code"), "households": t("common.households"),
        "red": lbl("tier", "red"), "red_share": t("map.col.red_share"), "mean_score": t("map.col.mean_score"),
        "red_share_change": t("map.col.red_share_change"), "mean_score_change": t("map.col.mean_score_change"),
        "neighbours": t("map.col.neighbours"), "z": t("map.col.z"), "p": t("map.col.p"), "cls": t("map.col.cls"),
    }),
    f"hotspots_{metric}_{period}",
    "map_hotspots",
)

# ---------------------------------------------------------------- the selected township: villages and households
if not township:
    st.info(t("map.pick_township"))
    st.stop()

tname = names.get(township, township)
st.subheader(t("map.villages", township=tname))
vt = villages[villages["township_code"] == township].sort_values(["red_share", "village_code"], ascending=[False, True])
vt = pd.DataFrame(
    {
        t("common.village"): vt["village_code"].map(vnames).fillna(vt["village_code"]),
        t("map.col.village_code"): vt["village_code"],
        t("common.households"): vt["households"],
        lbl("tier", "red"): vt["red"],
        lbl("tier", "yellow"): vt["yellow"],
        lbl("tier", "green"): vt["green"],
        t("map.col.red_share"): (100 * vt["red_share"]).round(2),
        t("map.col.mean_score"): vt["mean_score"].round(2),
    }
)
st.dataframe(
    vt,
    hide_index=True,
    width="stretch",
    key="map_villages",
    column_config={t("map.col.red_share"): st.column_config.NumberColumn(format="%.2f%%"), t("map.col.mean_score"): st.column_config.NumberColumn(format="%.2f")},
)
download_table(ctx, vt, f"villages_{township}_{period}", "map_villages_dl")

st.subheader(t("map.households", township=tname, n=fmt.count(len(hh), lang)))
st.caption(t("map.households_note"))
indicator_labels = {k: lbl("indicator", k) for k in KEYS}
reasons = hh["reason_1"].map(indicator_labels).fillna("")
for col in ("reason_2", "reason_3"):
    more = hh[col].map(indicator_labels)
    reasons = reasons.where(more.isna(), reasons + "、" + more.fillna(""))
ht = pd.DataFrame(
    {
        t("common.household_id"): hh["household_id"],
        t("common.village"): hh["village_code"].map(vnames).fillna(hh["village_code"]),
        t("common.score"): hh["score"],
        t("common.tier"): hh["tier"].map({k: lbl("tier", k) for k in TIER_COLOURS}),
        t("map.col.reasons"): reasons,
    }
)
st.dataframe(ht, hide_index=True, width="stretch", height=400, key="map_households")
download_table(ctx, ht, f"households_{township}_{period}", "map_households_dl")
