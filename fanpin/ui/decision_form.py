"""The order's decision form (研判): only once the verification has started, with the findings
the decision rests on and a confirmation before it is submitted (a double click on 提交研判
must not decide a household nobody visited).  The domain refuses the same (``decide_order``:
``not_verifying``, ``need_findings``); the form says it where the user looks."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from fanpin.access.roles import Principal
from fanpin.ui.i18n import lbl, lkey, t
from fanpin.workflow import common
from fanpin.workflow import orders as orders_mod


def decision_form(engine, principal: Principal, order: dict, on_click: Callable[..., None], args: tuple) -> None:  # noqa: ANN001 - an Engine
    """The decision's fields and its button (disabled until the findings are typed and confirmed)."""
    oid = int(order["order_id"])
    st.subheader(t("clues.decide"))
    if order["state"] != "verifying":
        st.info(t("clues.decide_after_start"))
        return
    inc = st.radio(t("clues.decision"), ["included", "not_included"], format_func=lambda d: lbl("decision", d), key=lkey("cl_decision"), horizontal=True)
    if inc == "included":
        c1, c2 = st.columns(2)
        c1.selectbox(t("clues.category"), list(common.CATEGORIES), format_func=lambda c: lbl("category", c), key=lkey("cl_category"))
        clue_risks = orders_mod.order_risk_types(engine, oid, principal=principal)
        c2.multiselect(t("clues.risk_types"), list(common.RISK_TYPES), default=clue_risks, format_func=lambda c: lbl("risk", c), key=lkey(f"cl_risks_{oid}"),
                       max_selections=orders_mod.MAX_RISKS)
        st.caption(t("clues.inclusion_chain"))
    else:
        st.text_input(t("clues.reason"), key="cl_reason")
    findings = st.text_area(t("clues.decision_findings"), value=order["findings"] or "", key=f"cl_dfindings_{oid}_{order['version']}", help=t("clues.decision_findings_help"))
    sure = st.checkbox(t("clues.decide_confirm"), key=f"cl_confirm_{oid}_{order['version']}")
    ready = bool((findings or "").strip()) and sure
    if not (findings or "").strip():
        st.caption(t("clues.decide_need_findings"))
    st.button(t("clues.decide_button"), key="cl_decide", type="primary", disabled=not ready, on_click=on_click, args=args)
