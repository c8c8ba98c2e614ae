"""Plotly figures the pages share: tier transitions, the township change map, tornado, weights.

Each takes plain arrays or frames with code columns and labels them in the session's
language.  Maps use ``Choroplethmap`` with the ``white-bg`` style (no tiles, nothing fetched)
and ``fanpin.geo.geojson.map_view`` for their centre and zoom, as the risk map does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fanpin.core import fmt
from fanpin.core.indicators import KEYS
from fanpin.engine.scoring import TIERS
from fanpin.geo.geojson import map_view
from fanpin.ui.i18n import lbl, t
from fanpin.ui.labels import indicator_with_dimension

#: Plotly's mode bar off: small figures read better without it.
NO_BAR = {"displayModeBar": False}


def transition_figure(matrix: np.ndarray, rows_title: str, cols_title: str, lang: str) -> go.Figure:
    """A 3 x 3 heat map of households by tier in two results (rows: the first, columns: the second)."""
    labels = [lbl("tier", x) for x in TIERS]
    moves = matrix.astype(float).copy()
    np.fill_diagonal(moves, 0.0)  # colour the movers; the diagonal (stayed) stays pale
    text = [[fmt.count(int(v), lang) for v in row] for row in matrix]
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


def township_change_map(table: pd.DataFrame, names: Mapping[str, str], gj: dict, width_px: int = 300, height_px: int = 270) -> go.Figure:
    """Townships coloured by the change in red households (``compare(...).townships``), centred on the county."""
    view = map_view(gj, width_px=width_px, height_px=height_px)
    z = table["red_change"].to_numpy(dtype=float)
    lim = max(1.0, float(np.abs(z).max()) if len(z) else 1.0)
    base, scen, change = t("simulator.red_base"), t("simulator.red_scen"), t("simulator.red_change")
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
            hovertemplate=f"%{{text}}<br>{base}: %{{customdata[0]}}<br>{scen}: %{{customdata[1]}}<br>{change}: %{{z:+.0f}}<extra></extra>",
            colorbar=dict(title=change, thickness=12),
        )
    )
    centre = {"lon": view["longitude"], "lat": view["latitude"]}
    fig.update_layout(map=dict(style="white-bg", center=centre, zoom=view["zoom"]), height=300, margin=dict(l=0, r=0, t=0, b=0))
    return fig


def tornado(frame: pd.DataFrame, tier: str, delta: float) -> go.Figure:
    """The change in ``tier``'s count when each weight moves by -/+ ``delta`` (``scenario.sensitivity``), largest first."""
    pct = int(round(100 * delta))
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


def weights_figure(base_w: Mapping[str, float], scen_w: Mapping[str, float]) -> go.Figure:
    """Every indicator's weight in the baseline and the scenario, side by side."""
    y = [indicator_with_dimension(k) for k in KEYS]
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
