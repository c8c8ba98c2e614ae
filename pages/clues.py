"""预警处置 Clues and orders: the clue inbox, verification orders from clue to decision, closed-loop figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

import streamlit as st

from fanpin.access.roles import can
from fanpin.core import fmt
from fanpin.core.indicators import DEPARTMENTS
from fanpin.core.periods import format_period
from fanpin.ui.decision_form import decision_form
from fanpin.ui.downloads import download_table
from fanpin.ui.evidence_widgets import evidence_panel
from fanpin.ui.i18n import lbl, lkey, t
from fanpin.ui.inputs import bounded_number
from fanpin.ui.messages import show_flash
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.tables import fitted
from fanpin.ui.text import md
from fanpin.ui.workflow_widgets import (
    assignee_label,
    day_text,
    decided_note,
    inbox_frame,
    loop_frame,
    orders_frame,
    run_step,
    source_label,
    townships_only,
)
from fanpin.workflow import clues, common
from fanpin.workflow import orders as orders_mod
from fanpin.workflow.orders import ASSIGNEE_KINDS

PAGE = "clues"
MAX_DUE_DAYS = 90  # days an order may be given (the 15-day target is the default)
# the detail before channel and source: in sight at 1366 px
INBOX_COLUMNS = ("clue_id", "household_id", "township", "risk_type", "detail", "source", "channel", "received_at", "age_days", "merged_into")
INBOX_LABELS = {"household_id": "common.household_id", "township": "common.township"}
ORDER_COLUMNS = ("order_id", "household_id", "township", "assignee", "state", "decision", "n_clues", "first_clue", "due", "days", "overdue_col", "updated")


@dataclass(frozen=True)
class Board:
    """What every part of the page reads: the context, township names and the day ages count to."""

    ctx: Context
    names: dict[str, str]  # every township
    mine: dict[str, str]  # the townships this user filters and assigns within
    as_of: date


def _labels(columns: tuple[str, ...], special: dict[str, str]) -> dict[str, str]:
    return {c: t(special.get(c, f"clues.{c}")) for c in columns}


def _town_choice(where, b: Board, key: str) -> str | None:  # noqa: ANN001 - a column
    return where.selectbox(t("common.township"), [None, *b.mine], format_func=lambda c: t("common.all") if c is None else b.mine[c], key=lkey(key))


def _remember(b: Board, order_id: int) -> None:
    """The version this user now works from (a change by someone else after it is caught)."""
    st.session_state.setdefault("_cl_seen", {})[order_id] = orders_mod.get_order(b.ctx.engine, order_id, principal=b.ctx.principal)["version"]


# ---- button callbacks: run before the script, reading the form widgets from the session state
def on_generate(b: Board) -> None:
    ctx = b.ctx
    run_step(PAGE, lambda: clues.generate_scoring_clues(ctx.engine, ctx.period, ctx.data.panel_scores(), principal=ctx.principal), lambda n: t("clues.gen_done", n=n))


def on_create(b: Board, picked: list[int], assignee_key: str) -> None:
    ss, ctx = st.session_state, b.ctx

    def step() -> int:
        return orders_mod.create_order(
            ctx.engine, clue_ids=picked, household_id=(ss.get("cl_hid") or "").strip() or None, assignee_kind=ss.get(lkey("cl_kind"), "township"),
            assignee=ss.get(assignee_key), due_days=int(ss.get("_accepted_cl_due", common.DUE_DAYS)), principal=ctx.principal,
        )

    def done(oid: int) -> str:
        ss.pop("cl_inbox", None)
        ss[lkey("cl_order")] = oid
        return t("clues.created", order=oid)

    run_step(PAGE, step, done)


def on_add_clue(b: Board) -> None:
    ss, ctx = st.session_state, b.ctx
    channel = ss.get(lkey("cl_add_channel"), "cadre_visit")
    run_step(PAGE, lambda: clues.add_clue(
        ctx.engine, (ss.get("cl_add_hid") or "").strip(), ctx.period, channel, "cadre" if channel == "cadre_visit" else "household",
        ss.get(lkey("cl_add_risk"), "other"), ss.get("cl_add_detail") or None, principal=ctx.principal,
    ), lambda cid: t("clues.clue_added", clue=cid))


def _order_step(b: Board, oid: int, version: int, kind: str) -> Callable[[], object]:
    """start / reassign / note / decide, at the version the user read, with the form's values."""
    ss, me, eng = st.session_state, b.ctx.principal, b.ctx.engine
    if kind == "start":
        return partial(orders_mod.start_verification, eng, oid, version, principal=me)
    if kind == "reassign":
        rkind = ss.get(lkey("cl_rkind"), "township")
        return partial(orders_mod.assign_order, eng, oid, version, rkind, ss.get(lkey(f"cl_rassignee_{rkind}")), principal=me)
    if kind == "note":
        return partial(orders_mod.add_note, eng, oid, version, ss.get("cl_note", ""), findings=ss.get(f"cl_findings_{oid}"), principal=me)
    inc = ss.get(lkey("cl_decision"), "included") == "included"
    return partial(
        orders_mod.decide_order, eng, oid, version, included=inc, period=b.ctx.period, principal=me, category=ss.get(lkey("cl_category")) if inc else None,
        risk_types=ss.get(lkey(f"cl_risks_{oid}"), []) if inc else [], reason=None if inc else ss.get("cl_reason"), findings=ss.get(f"cl_dfindings_{oid}_{version}"),
    )


def on_order_step(b: Board, oid: int, version: int, kind: str) -> None:
    if run_step(PAGE, _order_step(b, oid, version, kind), t("clues.saved", order=oid)):
        _remember(b, oid)
        if kind == "note":
            st.session_state["cl_note"] = ""


def on_reload(oid: int, version: int) -> None:
    st.session_state.setdefault("_cl_seen", {})[oid] = version


# ---- the page's parts
def metrics(loop: orders_mod.ClosedLoop, lang: str) -> None:
    m = st.columns(5)
    m[0].metric(t("clues.orders"), fmt.count(loop.orders, lang))
    m[1].metric(t("clues.decided"), fmt.count(loop.decided, lang))
    m[2].metric(t("clues.median_days"), "—" if loop.median_days is None else f"{loop.median_days:.1f}", help=t("clues.median_days_help"))
    m[3].metric(t("clues.overdue"), fmt.count(loop.overdue, lang), help=t("clues.overdue_help"))
    m[4].metric(t("clues.overdue_share"), fmt.pct(loop.overdue_share) if loop.orders else "—")


def inbox_tab(b: Board) -> None:
    ctx = b.ctx
    f1, f2, f3, f4, f5 = st.columns(5)
    town = _town_choice(f1, b, "cl_f_town")
    source = f2.selectbox(t("clues.source"), [None, *clues.clue_sources(ctx.engine)], format_func=lambda c: t("common.all") if c is None else source_label(c), key=lkey("cl_f_source"))
    risk = f3.selectbox(t("clues.risk_type"), [None, *common.RISK_TYPES], format_func=lambda c: t("common.all") if c is None else lbl("risk", c), key=lkey("cl_f_risk"))
    age = f4.selectbox(t("clues.age"), [None, 7, 15, 30, 90], format_func=lambda d: t("common.all") if d is None else t("clues.age_within", days=d), index=3, key=lkey("cl_f_age"))
    status = f5.selectbox(t("clues.status"), list(clues.CLUE_STATUSES), format_func=lambda s: lbl("clue_status", s), key=lkey("cl_f_status"))
    inbox = clues.clue_inbox(ctx.engine, township=town, source=source, risk_type=risk, statuses=(status,), max_age_days=age, until_period=ctx.period, today=b.as_of, principal=ctx.principal)
    c1, c2 = st.columns([3, 2])
    c1.caption(t("clues.inbox_count", n=fmt.count(len(inbox), ctx.lang)))
    if can(ctx.principal, "clue_generate"):
        c2.button(t("clues.gen_scoring", month=format_period(ctx.period, ctx.lang)), key="cl_gen", help=t("clues.gen_scoring_help"), on_click=on_generate, args=(b,))
    shown, labels = inbox_frame(inbox, b.names), _labels(INBOX_COLUMNS, INBOX_LABELS)
    st.dataframe(shown, key="cl_inbox", on_select="rerun", selection_mode="multi-row", hide_index=True, width="stretch", height=320,
                 column_config=fitted(shown, labels), column_order=INBOX_COLUMNS)  # cells read whole
    download_table(ctx, shown, f"clues_{ctx.period}", "cl_inbox_dl", labels=labels)
    rows = [r for r in st.session_state.get("cl_inbox", {}).get("selection", {}).get("rows", []) if r < len(inbox)]
    picked = inbox["clue_id"].iloc[rows].astype(int).tolist()
    default_town = inbox.set_index("clue_id").loc[picked[0], "township_code"] if picked else None
    new_order_form(b, picked, default_town)
    add_clue_form(b)


def new_order_form(b: Board, picked: list[int], default_town: str | None) -> None:
    st.subheader(t("clues.new_order"))
    st.caption(t("clues.new_order_hint"))
    o1, o2, o3, o4 = st.columns([2, 1, 2, 1])
    o1.text_input(t("clues.from_household"), key="cl_hid", help=t("clues.from_household_help"))
    kind = o2.radio(t("clues.assignee_kind"), list(ASSIGNEE_KINDS), format_func=lambda k: lbl("assignee_kind", k), key=lkey("cl_kind"), horizontal=True)
    choices = list(b.mine) if kind == "township" else list(DEPARTMENTS)
    # keyed by the picked household's township, so that picking a clue pre-selects its township
    assignee_key = lkey(f"cl_assignee_{kind}_{default_town if kind == 'township' else ''}")
    o3.selectbox(t("clues.assignee"), choices, index=choices.index(default_town) if default_town in choices else 0,
                 format_func=lambda c: assignee_label(kind, c, b.names), key=assignee_key)
    bounded_number(o4, t("clues.due_days"), "cl_due", 1, MAX_DUE_DAYS, common.DUE_DAYS, show="{:g}".format, value=common.DUE_DAYS, step=1)  # refused days said under the box
    st.write(t("clues.picked", ids=", ".join(map(str, picked)) if picked else "—"))
    st.button(t("clues.create_order"), key="cl_create", type="primary", on_click=on_create, args=(b, picked, assignee_key))


def add_clue_form(b: Board) -> None:
    with st.expander(t("clues.add_clue")), st.form("cl_add_form"):
        a1, a2, a3 = st.columns(3)
        a1.text_input(t("common.household_id"), key="cl_add_hid")
        a2.selectbox(t("clues.channel"), ["cadre_visit", "self_report"], format_func=lambda c: lbl("channel", c), key=lkey("cl_add_channel"))
        a3.selectbox(t("clues.risk_type"), common.RISK_TYPES, format_func=lambda c: lbl("risk", c), key=lkey("cl_add_risk"))
        st.text_input(t("clues.detail"), key="cl_add_detail")
        st.form_submit_button(t("clues.add_clue_button"), on_click=on_add_clue, args=(b,))


def orders_tab(b: Board) -> None:
    ctx = b.ctx
    g1, g2 = st.columns(2)
    states = g1.multiselect(t("clues.state"), list(orders_mod.ORDER_STATES), default=["open", "verifying"], format_func=lambda s: lbl("order_state", s), key=lkey("cl_states"))
    town = _town_choice(g2, b, "cl_o_town")
    orders = orders_mod.list_orders(ctx.engine, states=states or orders_mod.ORDER_STATES, township=town, today=b.as_of, principal=ctx.principal)
    table, labels = orders_frame(orders, b.names), _labels(ORDER_COLUMNS, INBOX_LABELS)
    if table.empty:  # said in the user's language, not an empty grid marked "empty" in English
        st.caption(t("clues.orders_none_match"))
    else:
        st.dataframe(table.style.apply(lambda r: ["background-color: #fde2e1" if r["overdue_col"] else "" for _ in r], axis=1),
                     hide_index=True, width="stretch", height=280, key="cl_orders_table", column_config=fitted(table, labels))  # cells read whole
        download_table(ctx, table, f"orders_{ctx.period}", "cl_orders_dl", labels=labels)
    shown = orders["order_id"].astype(int).tolist()  # the table's orders first: the choice starts at its first row
    rest = orders_mod.list_orders(ctx.engine, today=b.as_of, principal=ctx.principal)["order_id"].astype(int)
    ids = shown + rest[~rest.isin(shown)].tolist()
    if not ids:
        st.info(t("clues.no_orders"))
        return
    if st.session_state.get(lkey("cl_order")) not in ids:
        st.session_state[lkey("cl_order")] = ids[0]
    oid = st.selectbox(t("clues.work_on"), ids, key=lkey("cl_order"), format_func=lambda i: t("clues.order_label", order=i))
    order_card(b, orders_mod.get_order(ctx.engine, oid, principal=ctx.principal))


def order_card(b: Board, order: dict) -> None:
    """One order: its facts, and the steps this user may take at the version they read."""
    oid = int(order["order_id"])
    # The version this user works from: kept until they act or reload, so a change by someone else is caught.
    seen = st.session_state.setdefault("_cl_seen", {})
    seen.setdefault(oid, order["version"])
    if seen[oid] != order["version"]:
        st.warning(t("clues.changed_since", who=md(lbl("role", order["updated_by"])), at=day_text(order["updated_at"], True)))
    st.button(t("clues.reload"), key="cl_reload", on_click=on_reload, args=(oid, order["version"]))
    d = st.columns([2, 1, 1, 1])
    facts = ((t("common.household_id"), order["household_id"]), (t("clues.state"), lbl("order_state", order["state"])), (t("clues.due"), order["due_date"]),
             (t("clues.assignee"), assignee_label(order["assignee_kind"], order["assignee"], b.names)))
    for col, (name, value) in zip(d, facts):
        col.markdown(f"{name}  \n**{md(value)}**")
    st.caption(t("clues.order_meta", clues=", ".join(map(str, order["clue_ids"])) or "—", who=md(lbl("role", order["created_by"])),
                 at=day_text(order["created_at"], True), version=order["version"]))
    if order["findings"]:
        st.markdown(f"**{t('clues.findings')}**{'：' if b.ctx.lang == 'zh' else ': '}{md(order['findings'])}")  # the colon of the language
    if order["notes"]:
        st.text(order["notes"])
    evidence_panel(b.ctx, "order", oid, household_id=order["household_id"])
    if order["state"] == "decided":
        decided_note(order)
    else:
        order_steps(b, order, seen[oid])


def order_steps(b: Board, order: dict, version: int) -> None:
    oid, args = int(order["order_id"]), lambda kind: (b, int(order["order_id"]), version, kind)
    if order["state"] == "open":
        st.button(t("clues.start"), key="cl_start", on_click=on_order_step, args=args("start"))
    with st.expander(t("clues.reassign")):
        r1, r2 = st.columns(2)
        rkind = r1.radio(t("clues.assignee_kind"), list(ASSIGNEE_KINDS), format_func=lambda k: lbl("assignee_kind", k), key=lkey("cl_rkind"), horizontal=True)
        rchoices = list(b.mine) if rkind == "township" else list(DEPARTMENTS)
        r2.selectbox(t("clues.assignee"), rchoices, format_func=lambda c: assignee_label(rkind, c, b.names), key=lkey(f"cl_rassignee_{rkind}"))
        st.button(t("clues.reassign_button"), key="cl_reassign", on_click=on_order_step, args=args("reassign"))
    with st.expander(t("clues.note")):
        st.text_area(t("clues.note_text"), key="cl_note")
        st.text_area(t("clues.findings"), value=order["findings"] or "", key=f"cl_findings_{oid}")
        st.button(t("clues.note_button"), key="cl_note_save", on_click=on_order_step, args=args("note"))
    decision_form(b.ctx.engine, b.ctx.principal, order, on_order_step, args("decide"))


def loop_tab(b: Board, loop: orders_mod.ClosedLoop) -> None:
    """The closed loop by township and by department (downloads full width: buttons clip in half columns)."""
    st.caption(t("clues.loop_caption", day=b.as_of.isoformat()))
    labels = {"unit": t("clues.unit"), "orders": t("clues.orders"), "overdue": t("clues.overdue"), "overdue_share": t("clues.overdue_share"), "median_days": t("clues.median_days")}
    parts = ((loop.by_township, "township_code", t("clues.by_township"), lambda c: b.names.get(c, c)),
             (loop.by_department, "assignee", t("clues.by_department"), lambda c: lbl("department", c)))
    tables = []
    for col, (frame, key, title, name_of) in zip(st.columns(2), parts):
        shown = loop_frame(frame, key, name_of)
        col.subheader(title)
        config = {k: st.column_config.Column(v) for k, v in labels.items()} | {"overdue_share": st.column_config.NumberColumn(labels["overdue_share"], format="%.1f%%")}
        col.dataframe(shown, hide_index=True, width="stretch", column_config=config)
        tables.append((title, shown, key))
    for title, shown, key in tables:
        st.caption(title)
        download_table(b.ctx, shown, f"closed_loop_{key}", f"cl_loop_{key}", labels=labels)


def main() -> None:
    ctx = page_context(PAGE)
    names = townships_only(ctx.data.township_names(ctx.lang))
    b = Board(ctx, names, {k: v for k, v in names.items() if ctx.principal.sees(k)}, common.as_of_date(ctx.period))
    st.title(t("clues.title"))
    st.caption(t("clues.caption", day=b.as_of.isoformat(), month=format_period(ctx.period, ctx.lang)))
    show_flash(PAGE)
    loop = orders_mod.closed_loop(ctx.engine, today=b.as_of, principal=ctx.principal)
    metrics(loop, ctx.lang)
    tab_in, tab_orders, tab_loop = st.tabs([t("clues.tab_inbox"), t("clues.tab_orders"), t("clues.tab_loop")], key="cl_tabs", on_change="rerun")
    with tab_in:
        inbox_tab(b)
    with tab_orders:
        orders_tab(b)
    with tab_loop:
        loop_tab(b, loop)


main()
