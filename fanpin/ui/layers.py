"""pydeck layers of the risk map, its deck and its legend.

Offline: the deck has ``map_provider=None`` (no base map, no request leaves the server).
Layers carry an ``id`` (Streamlit's selections name them) and their tooltips in a ``tip``
field; frames are cut to the columns a layer draws, so the chart's JSON stays small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pydeck as pdk

from fanpin.core import fmt
from fanpin.geo import colours, geojson
from fanpin.ui.i18n import lbl, t
from fanpin.ui.labels import fill_template, metric_text, region_names, short_name
from fanpin.ui.widgets import TIER_COLOURS

#: Outline colours of hot and cold spots (and their legend), and of the chosen township.
OUTLINE = {"hot": [139, 0, 0, 255], "cold": [8, 48, 107, 255]}
OUTLINE_HEX = {"hot": "#8b0000", "cold": "#08306b"}
SELECTED = [20, 20, 20, 255]
SELECTED_HEX = "#141414"
CJK_FONTS = "'\"Noto Sans CJK SC\", \"Microsoft YaHei\", \"PingFang SC\", sans-serif'"


def township_tip(code: str, row: pd.Series, spot: pd.Series | None, metric: str, names: Mapping[str, str], lang: str) -> str:
    """One township's tooltip: counts, red share, mean score, the chosen metric and its Gi* class
    (no class line where hot spots are not worked out: ``spot`` None)."""
    if spot is None:
        spot = pd.Series({"cls": "no_data", "z": np.nan, "p": np.nan})
    return t(
        "map.tip.township" if spot["cls"] != "no_data" else "map.tip.township_plain",
        name=names.get(code, code),
        households=fmt.count(row["households"], lang),
        red=fmt.count(row["red"], lang),
        share=fmt.pct(row["red_share"]),
        mean=metric_text("mean_score", row["mean_score"], lang),
        metric=t(f"map.metric.{metric}"),
        value=metric_text(metric, row[metric], lang),
        cls=t(f"map.cls.{spot['cls']}"),
        z="—" if not np.isfinite(spot["z"]) else f"{spot['z']:.2f}",
        p="—" if not np.isfinite(spot["p"]) else f"{spot['p']:.3f}",
    )


def township_layer(fc: dict, fill: Sequence[list[int]], spots: pd.DataFrame, tips: Mapping[str, str], selected: str | None) -> pdk.Layer:
    """The township polygons: filled by class colour, hot/cold spots outlined, the chosen one in black."""
    features = []
    for f, rgba in zip(fc["features"], fill):
        code = f["properties"]["region_code"]
        cls = spots.loc[code, "cls"]
        line, width = (OUTLINE[cls], 4) if cls in OUTLINE else ([90, 90, 90, 255], 1)
        if code == selected:
            line, width = SELECTED, 5
        features.append({**f, "properties": {"region_code": code, "fill": rgba, "line": line, "lw": width, "tip": tips[code]}})
    return pdk.Layer(
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


def village_layer(villages: pd.DataFrame, vnames: Mapping[str, str], lang: str) -> pdk.Layer:
    """Villages as white dots whose area is proportional to their red households (``townships.village_points``)."""
    frame = villages.assign(
        radius=(400 * np.sqrt(villages["red"].clip(lower=0.25))).round(1),
        tip=fill_template(
            t("map.tip.village"),
            villages.index,
            name=region_names(villages["village_code"], vnames),
            households=villages["households"].map(lambda n: fmt.count(n, lang)),
            red=villages["red"].map(lambda n: fmt.count(n, lang)),
            share=(100 * villages["red_share"]).map("{:.1f}%".format),
        ),
    )[["village_code", "township_code", "lon", "lat", "radius", "tip"]].dropna(subset=["lon", "lat"])
    return pdk.Layer(
        "ScatterplotLayer",
        id="villages",
        data=frame,
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


def label_layer(fc: dict, names: Mapping[str, str], size: int = 14) -> pdk.Layer:
    """Region names at a point inside each polygon."""
    centres = geojson.label_points(fc)
    frame = pd.DataFrame({"lon": [c[1] for c in centres], "lat": [c[2] for c in centres], "name": [short_name(names.get(c[0], c[0])) for c in centres]})
    return pdk.Layer(
        "TextLayer",
        id="labels",
        data=frame,
        get_position=["lon", "lat"],
        get_text="name",
        get_size=size,
        font_weight=600,
        get_color=[20, 20, 20, 255],
        outline_width=3,
        outline_color=[255, 255, 255, 230],
        font_settings={"sdf": True},
        font_family=CJK_FONTS,
        character_set="'auto'",  # CJK glyphs; quoted because pydeck turns bare strings into expressions
        pickable=False,
    )


def household_layers(points: pd.DataFrame, township: str | None) -> list[pdk.Layer]:
    """One layer per tier with a constant colour (keeps the JSON small), drawn under the villages.

    For a chosen township every tier, with tooltips; county-wide only red and yellow (green is
    most of the county and tells little there), sub-pixel and not pickable (they would catch the
    clicks meant for townships).  Returned in drawing order: red first, so the last drawn (on top) is
    the most common tier, as the map has always drawn them."""
    layers = []
    for tier in ("green", "yellow", "red") if township else ("yellow", "red"):
        sel = points[points["tier"] == tier]
        part = pd.DataFrame({"lon": sel["lon"].round(5), "lat": sel["lat"].round(5)})
        if township:
            part["tip"] = fill_template(t("map.tip.household"), sel.index, id=sel["household_id"], score=sel["score"].map("{:.1f}".format), tier=lbl("tier", tier))
        layers.append(
            pdk.Layer(
                "ScatterplotLayer",
                id=f"households_{tier}",
                data=part,
                get_position=["lon", "lat"],
                get_fill_color=colours.rgba(TIER_COLOURS[tier], 230),
                get_radius=25,  # metres: sub-pixel at county zoom, visible as the user zooms in
                radius_min_pixels=0 if township is None else 2,
                radius_max_pixels=6,
                pickable=township is not None,
            )
        )
    return layers[::-1]


def deck(layers: list[pdk.Layer], view: Mapping[str, float]) -> pdk.Deck:
    """The deck with no base map and no request: pydeck's default map_style placeholder stays, which
    Streamlit drops when map_provider is None (map_style=None would make Streamlit fetch a CARTO style)."""
    return pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(**view, pitch=0, bearing=0),
        map_provider=None,
        tooltip={"text": "{tip}", "style": {"fontSize": "12px", "whiteSpace": "pre"}},
    )


def legend_html(rows: Sequence[tuple[str, str, str]]) -> str:
    """rows of (kind, colour, label); kind is 'fill', 'outline' or 'dot'.  Labels are ours (messages, numbers)."""
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


def class_rows(scale: colours.ColourScale, metric: str, lang: str) -> list[tuple[str, str, str]]:
    """The legend's rows of the metric's classes (the end classes open: "< a", "≥ b")."""
    edges, last = scale.edges, len(scale.colours) - 1
    rows = []
    for i, c in enumerate(scale.colours):
        lo, hi = metric_text(metric, edges[i], lang), metric_text(metric, edges[i + 1], lang)
        rows.append(("fill", c, f"< {hi}" if i == 0 and edges[i] < 0 else f"≥ {lo}" if i == last else f"{lo} – {hi}"))
    return rows


def legend_rows(
    scale: colours.ColourScale, metric: str, lang: str, *, no_data: bool, households: bool, township: str | None, spots: bool = True
) -> list[tuple[str, str, str]]:
    """The legend's rows: the metric's classes (the end classes open: "< a", "≥ b"), hot and cold
    outlines (where hot spots are worked out), villages, households, the chosen township."""
    rows = class_rows(scale, metric, lang)
    if no_data:
        rows.append(("fill", colours.NO_DATA, t("map.legend.no_data")))
    if spots:
        rows += [("outline", OUTLINE_HEX["hot"], t("map.legend.hot")), ("outline", OUTLINE_HEX["cold"], t("map.legend.cold"))]
    rows.append(("dot", "#ffffff", t("map.legend.village")))
    if households:
        rows.append(("dot", TIER_COLOURS["red"], t("map.legend.households") if township else t("map.legend.households_risk")))
    if township:
        rows.append(("outline", SELECTED_HEX, t("map.legend.selected")))
    return rows
