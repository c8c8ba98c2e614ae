"""The simulator's controls: income line, tier cut-offs, weight mode and its inputs, unit costs.

The controls live in session state under fixed keys (``sim_income_line``, ``sim_cutoffs``,
``sim_mode``, ``sim_w_<indicator>``, ``sim_d_<dimension>``, ``sim_ahp_<i>_<j>``,
``sim_cost_<tier>``), persisted across pages.  Callbacks set them before the widgets are
drawn; the weights a mode gives come from ``fanpin.engine.weighting.choose_weights`` and
this module only draws the inputs and says what came back.  The actions on saved scenarios
(save, load, adopt) are callbacks here too; what they have to say is flashed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import streamlit as st
from sqlalchemy.engine import Engine

from fanpin.access.roles import AccessDenied, Principal
from fanpin.core import fmt
from fanpin.core.indicators import KEYS
from fanpin.engine.policies import adopt_policy, load_policy, save_policy
from fanpin.engine.scenario import DIMENSION_KEYS, OBJECTIVE_METHODS, dimension_weights, judgements_from_weights, scale_dimension
from fanpin.engine.scoring import RiskPolicy, Scorer
from fanpin.engine.weighting import DIMS, MODES, PAIRS, WeightChoice, choose_weights
from fanpin.engine.weights import saaty_scale
from fanpin.ui import session
from fanpin.ui.data import Data
from fanpin.ui.i18n import kept_selectbox, lang, lbl, t
from fanpin.ui.inputs import bounded_number
from fanpin.ui.messages import flash

PAGE = "simulator"
SAATY_DESC = tuple(sorted(saaty_scale, reverse=True))  # left end: the left dimension far more important
DEFAULT_UNIT_COSTS = {"red": 8000.0, "yellow": 3000.0, "green": 0.0}
#: The income lines the simulator accepts (yuan per person per year) and the largest unit cost.
LINE_RANGE = (1000.0, 50000.0)
COST_MAX = 1_000_000.0
SHOWN_TIERS = ("red", "yellow", "green")
ss = st.session_state


def wkey(k: str) -> str:
    return f"sim_w_{k}"


def dkey(d: str) -> str:
    return f"sim_d_{d}"


def akey(i: int, j: int) -> str:
    return f"sim_ahp_{i}_{j}"


# --------------------------------------------------------------------------- state
def hand_weights() -> dict[str, float]:
    return {k: float(ss.get(wkey(k), 0.0)) for k in KEYS}


def set_hand(weights: dict[str, float]) -> None:
    for k in KEYS:
        ss[wkey(k)] = float(weights.get(k, 0.0))
    for d, keys in DIMENSION_KEYS.items():
        ss[dkey(d)] = float(sum(ss[wkey(k)] for k in keys))


def set_controls(policy: RiskPolicy) -> None:
    """Every control to ``policy`` (before the widgets are drawn, or from a callback)."""
    ss["sim_income_line"] = float(policy.income_line)
    ss["sim_cutoffs"] = (float(policy.cutoffs[0]), float(policy.cutoffs[1]))
    p, _ = policy.normalised()
    set_hand(dict(p.weights))
    for (i, j), v in zip(PAIRS, judgements_from_weights(dimension_weights(p), DIMS)):
        ss[akey(i, j)] = v


def follow_baseline(baseline: RiskPolicy) -> None:
    """Start the controls at the baseline, and again (saying so) when the baseline in force changes."""
    base_json = baseline.to_json()
    if ss.get("_sim_baseline") != base_json:
        if "_sim_baseline" in ss:
            flash(PAGE, "info", t("simulator.baseline_changed"))
        set_controls(baseline)
        ss["_sim_baseline"] = base_json
    ss.setdefault("sim_mode", "hand")
    for tier, cost in DEFAULT_UNIT_COSTS.items():
        ss.setdefault(f"sim_cost_{tier}", cost)


# --------------------------------------------------------------------------- callbacks
def on_indicator(d: str) -> None:
    ss[dkey(d)] = float(sum(ss[wkey(k)] for k in DIMENSION_KEYS[d]))


def on_dimension(d: str) -> None:
    w = scale_dimension(hand_weights(), d, float(ss[dkey(d)]))
    for k in DIMENSION_KEYS[d]:
        ss[wkey(k)] = w[k]


def copy_to_hand(weights: dict[str, float]) -> None:
    set_hand(weights)
    ss["sim_mode"] = "hand"


def reset(policy: RiskPolicy) -> None:
    set_controls(policy)
    ss["sim_mode"] = "hand"


def save(engine: Engine, policy: RiskPolicy, principal: Principal) -> None:
    name = str(ss.get("sim_save_name") or "").strip()
    if not name:
        flash(PAGE, "warning", t("simulator.save_empty"))
        return
    try:
        save_policy(engine, policy, name, principal=principal)
    except AccessDenied:
        flash(PAGE, "error", t("access.denied", action="policy_save"))
        return
    flash(PAGE, "success", t("simulator.saved", name=name))


def load(data: Data, period: int) -> None:
    name = ss.get("sim_load_name")
    if not name:
        return
    set_controls(data.for_month(load_policy(data.engine, name), period))  # the scenario as it scores this month
    ss["sim_mode"] = "hand"
    flash(PAGE, "success", t("simulator.loaded", name=name))


def adopt(engine: Engine, principal: Principal) -> None:
    name = ss.get("sim_adopt_name")
    if not name or not ss.get("sim_adopt_confirm"):
        return
    try:
        adopt_policy(engine, name, principal=principal)
    except AccessDenied:
        flash(PAGE, "error", t("access.denied", action="policy_adopt"))
        return
    ss["sim_adopt_confirm"] = False
    ss.pop("_sim_baseline", None)  # the next run starts at the new baseline; this message says why
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    flash(PAGE, "success", t("simulator.adopted", name=name, who=lbl("role", principal.role), when=when))


# --------------------------------------------------------------------------- drawing
@dataclass(frozen=True)
class Controls:
    """What the controls say: the scenario's parameters (weights None when the mode gave none)."""

    income_line: float
    cutoffs: tuple[float, float]
    mode: str
    choice: WeightChoice
    unit_costs: dict[str, float]


def saaty_label(v: float) -> str:
    if abs(v - 1.0) < 1e-9:
        return "="
    return f"←{v:g}" if v > 1 else f"{1 / v:g}→"


def _slider(label: str, key: str, **kw: object) -> None:
    st.slider(label, min_value=0.0, max_value=1.0, step=0.001, format="%.3f", key=key, persist_state="session", **kw)


def _ahp_inputs(hand: dict[str, float]) -> WeightChoice:
    with st.expander(t("simulator.ahp_title"), expanded=True):
        st.caption(t("simulator.ahp_help"))
        cols = st.columns(2)
        for n, (i, j) in enumerate(PAIRS):
            label = f"{lbl('dimension', DIMS[i])} ⟷ {lbl('dimension', DIMS[j])}"
            cols[n % 2].select_slider(label, options=SAATY_DESC, format_func=saaty_label, key=akey(i, j), persist_state="session")
    choice = choose_weights("ahp", hand, judgements=[float(ss[akey(i, j)]) for i, j in PAIRS])
    if choice.ahp is not None and choice.ok:
        cr = f"{choice.ahp.cr:.3f}"
        if choice.ahp.acceptable:
            st.success(t("simulator.ahp_cr", cr=cr) + " · " + t("simulator.ahp_ok"))
        else:
            st.warning(t("simulator.ahp_cr_bad", cr=cr))
    return choice


def _objective_inputs(mode: str, hand: dict[str, float], scorer: Scorer) -> WeightChoice:
    method, alpha = mode, 0.5
    if mode == "combined":
        labels = {m: t(f"simulator.mode.{m}") for m in OBJECTIVE_METHODS}
        method = kept_selectbox(st, t("simulator.objective_method"), list(OBJECTIVE_METHODS), "sim_obj_method", labels.__getitem__, OBJECTIVE_METHODS[0])
        alpha = st.slider(t("simulator.alpha"), 0.0, 1.0, value=0.5, step=0.05, key="sim_alpha", help=t("simulator.alpha_help"), persist_state="session")
    st.caption(t("simulator.objective_caption"))
    return choose_weights(mode, hand, objective=lambda m: session.objective(scorer, m), method=method, alpha=alpha)


def _hand_sliders(mode: str) -> None:
    with st.expander(t("simulator.hand_title"), expanded=mode in ("hand", "ahp", "combined")):
        if mode == "hand":
            st.caption(t("simulator.hand_caption"))
        else:
            use = {"ahp": "ahp", "combined": "combined"}.get(mode, "objective")
            st.caption(t("simulator.hand_caption_other", use=t(f"simulator.hand_use.{use}")) + " " + t("simulator.hand_caption"))
        for d in DIMS:
            _slider(f"**{lbl('dimension', d)}**", dkey(d), on_change=on_dimension, args=(d,))
            with st.popover(t("simulator.indicators_of", dimension=lbl("dimension", d)), width="stretch"):
                for k in DIMENSION_KEYS[d]:
                    _slider(lbl("indicator", k), wkey(k), on_change=on_indicator, args=(d,))


def draw_controls(scorer: Scorer, baseline: RiskPolicy) -> Controls:
    """The left column's controls, in order; returns what they say."""
    st.subheader(t("simulator.controls"))
    yuan = functools.partial(fmt.yuan, lang=lang())
    income_line = bounded_number(
        st, t("simulator.income_line"), "sim_income_line", LINE_RANGE[0], LINE_RANGE[1], baseline.income_line,
        show=yuan, step=100.0, format="%.0f", help=t("simulator.income_line_help"), persist_state="session",
    )
    yellow, red = st.slider(t("simulator.cutoffs"), min_value=0.0, max_value=100.0, step=0.5, key="sim_cutoffs", help=t("simulator.cutoffs_help"), persist_state="session")
    # kept across a language switch (a radio keyed alone shows no choice in the other language); callbacks set ss["sim_mode"]
    mode_labels = {m: t(f"simulator.mode.{m}") for m in MODES}
    mode = kept_selectbox(st, t("simulator.mode"), list(MODES), "sim_mode", mode_labels.__getitem__, "hand", kind="radio", horizontal=True)
    hand = hand_weights()
    choice = choose_weights("hand", hand) if mode == "hand" else _ahp_inputs(hand) if mode == "ahp" else _objective_inputs(mode, hand, scorer)
    if not choice.ok:
        st.error(t(f"simulator.{choice.problem}"))
    elif mode != "hand":
        st.button(t("simulator.use_as_hand"), on_click=copy_to_hand, args=(dict(choice.weights),), key="sim_copy_hand")
    _hand_sliders(mode)
    with st.expander(t("simulator.unit_costs")):
        costs = {
            tier: bounded_number(
                st, t("simulator.unit_cost", tier=lbl("tier", tier)), f"sim_cost_{tier}", 0.0, COST_MAX, DEFAULT_UNIT_COSTS[tier],
                show=yuan, step=500.0, format="%.0f", persist_state="session",
            )
            for tier in SHOWN_TIERS
        }
    st.button(t("simulator.reset"), on_click=reset, args=(baseline,), key="sim_reset")
    return Controls(float(income_line), (float(yellow), float(red)), mode, choice, costs)
