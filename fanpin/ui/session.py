"""Per-session caches the map and the simulator keep between reruns.

A ``Scorer`` reuses its output buffers, so a result that must outlive the next run (the
simulator's baseline, the map's last month) is copied once and kept in this session's state,
tied to the scorer it came from: a new scorer (another month, new data) starts afresh.  The
objective weights and the sensitivity runs are kept the same way.  Household coordinates are
one process-wide cache (they do not depend on who looks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd
import streamlit as st

from fanpin.engine.scenario import objective_weights, sensitivity
from fanpin.engine.scoring import RiskPolicy, Scorer, ScoreResult
from fanpin.geo import hotspots
from fanpin.store import regions as regions_store
from fanpin.ui.data import Data

T = TypeVar("T")


def kept(key: str, owner: object, tag: object, make: Callable[[], T]) -> T:
    """``make()``, kept under ``key`` while the ``owner`` object (by identity) and ``tag`` (by value) stay the same."""
    c = st.session_state.get(key)
    if c is None or c[0] is not owner or c[1] != tag:
        c = (owner, tag, make())
        st.session_state[key] = c
    return c[2]


# --------------------------------------------------------------------------- simulator
def baseline_result(scorer: Scorer, baseline: RiskPolicy) -> ScoreResult:
    """The baseline's result, copied out of the scorer's buffers once per session and baseline."""
    return kept("_sim_base", scorer, baseline.to_json(), lambda: scorer.run(baseline).copy())


def village_codes(scorer: Scorer, data: Data, period: int) -> np.ndarray:
    """The village code of each of the scorer's households (the scorer keeps townships only)."""
    return kept("_sim_villages", scorer, None, lambda: data.snapshot(period)["village_code"].to_numpy())


def objective(scorer: Scorer, method: str) -> dict[str, float]:
    """The month's objective weights for ``method``, computed once per session and scorer."""
    cache = kept("_sim_objective", scorer, None, dict)
    if method not in cache:
        cache[method] = objective_weights(scorer, method)
    return cache[method]


def run_sensitivity(scorer: Scorer, policy: RiskPolicy, delta: float) -> None:
    """Button callback: two runs per weighted indicator, kept for this policy until the controls move."""
    st.session_state["_sim_sens"] = (scorer, policy.to_json(), sensitivity(scorer, policy, delta))


def sensitivity_result(scorer: Scorer, policy: RiskPolicy) -> tuple[pd.DataFrame | None, bool]:
    """(the last sensitivity result, whether it is for ``policy``)."""
    c = st.session_state.get("_sim_sens")
    if c is None or c[0] is not scorer:
        return None, False
    return c[2], c[1] == policy.to_json()


# --------------------------------------------------------------------------- map
def hotspot_weights(fc: dict, key: str, contiguity: str):  # noqa: ANN201 - a libpysal W
    """Contiguity weights of a township file (``key`` names it), a few kept per session."""
    cache = st.session_state.setdefault("_map_weights", {})
    k = (key, contiguity)
    if k not in cache:
        if len(cache) > 4:
            cache.clear()
        cache[k] = hotspots.weights_from_geojson(fc, contiguity)
    return cache[k]


def previous_result(data: Data, prev: int, policy: RiskPolicy) -> ScoreResult:
    """Last month's result from a scorer of the map's own (the shared one holds this month's buffers)."""
    cache = st.session_state.setdefault("_map_prev_scorer", {})
    key = (data.url, data.version, prev, data.towns_key)
    if key not in cache:
        cache.clear()
        cache[key] = Scorer.from_frame(data.snapshot(prev))
    return cache[key].run(policy).copy()


@st.cache_data(show_spinner=False, max_entries=2)
def _household_coords(_engine, url: str, version: str) -> pd.DataFrame:  # noqa: ANN001 - an Engine, not hashed
    return regions_store.household_coords(_engine)


def household_coords(data: Data) -> pd.DataFrame:
    """Every household's location (process-wide cache per database and data version)."""
    return _household_coords(data.engine, data.url, data.version)


def consume_map_click(township_codes: list[str]) -> int:
    """The map chart's key number after taking its last click: a clicked township (or a clicked
    village's township) becomes the chosen ``map_township``.  Each consumed click gives the chart a
    fresh key, so the new chart has no selection (Streamlit would dim every other object) and the
    view re-fits the township just chosen."""
    clicks = st.session_state.setdefault("_map_clicks", 0)
    event = st.session_state.get(f"map_deck_{clicks}")
    if isinstance(event, dict) and any((event.get("selection") or {}).get("objects", {}).values()):
        clicked = picked_township(event)
        if clicked in township_codes:
            st.session_state["map_township"] = clicked
        st.session_state["_map_clicks"] = clicks = clicks + 1
    return clicks


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
