"""预警处置 Clues and orders: the clue inbox, verification orders from clue to decision, closed-loop figures."""

import pandas as pd
import streamlit as st

from fanpin.access.roles import AccessDenied, can
from fanpin.core import fmt
from fanpin.core.indicators import DEPARTMENTS
from fanpin.core.periods import format_period
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, lkey, t
from fanpin.ui.sidebar import page_context
from fanpin.workflow import clues, common
from fanpin.workflow import orders as orders_mod

ctx = page_context("clues")
data, period, lang, actor, me = ctx.data, ctx.period, ctx.lang, ctx.actor, ctx.principal
engine = data.engine
all_names = {k: v for k, v in data.township_names(lang).items() if not k.endswith("000000")}
# a case worker filters and assigns within their own townships only
names = {k: v for k, v in all_names.items() if me.sees(k)}
as_of = common.as_of_date(period)

st.title(t("clues.title"))
st.caption(t("clues.caption", day=as_of.isoformat(), month=format_period(period, lang)))

flash, error = st.session_state.pop("_cl_flash", None), st.session_state.pop("_cl_error", None)
if flash:
    st.success(flash)
if error:
    st.error(error)


def fmt_assignee(kind: str, code: str) -> str:
    return all_names.get(code, code) if kind == "township" else lbl("department", code)


def source_label(code: str) -> str:
    return lbl("department", code) if code in DEPARTMENTS else lbl("source", code)


def error_text(exc: Exception) -> str:
    if isinstance(exc, AccessDenied):
        return t("access.denied_township") if exc.code == "township" else t("access.denied", action=exc.code)
    if isinstance(exc, common.StaleOrder):
        return t("clues.stale", order=exc.order_id, who=lbl("role", exc.changed_by), at=f"{exc.changed_at:%Y-%m-%d %H:%M:%S}" if exc.changed_at else "?")
    return t(f"wf.err.{exc.code}") if exc.code in common.ERROR_CODES else str(exc)


# Actions run as button callbacks: before the script, so a click is never lost to a rerun,
# and they read the form widgets' values from the session state at click time.
ss = st.session_state


def run_action(fn, *args: object, ok: str, order: int | None = None, **kwargs: object) -> bool:  # noqa: ANN001
    try:
        fn(*args, principal=me, **kwargs)
    except (common.WorkflowError, AccessDenied) as exc:
        ss["_cl_error"] = error_text(exc)
        return False
    ss["_cl_flash"] = ok
    if order is not None:
        ss.setdefault("_cl_seen", {})[order] = orders_mod.get_order(engine, order, principal=me)["version"]
    return True


def on_generate() -> None:
    try:
        n = clues.generate_scoring_clues(engine, period, data.panel_scores(), principal=me)
    except AccessDenied as exc:
        ss["_cl_error"] = error_text(exc)
        return
    ss["_cl_flash"] = t("clues.gen_done", n=n)


def on_create(picked: list[int], assignee_key: str) -> None:
    kind = ss.get(lkey("cl_kind"), "township")
    try:
        oid = orders_mod.create_order(
            engine, clue_ids=picked, household_id=(ss.get("cl_hid") or "").strip() or None, assignee_kind=kind,
            assignee=ss.get(assignee_key), due_days=int(ss.get("cl_due", common.DUE_DAYS)), principal=me,
        )
    except (common.WorkflowError, AccessDenied) as exc:
        ss["_cl_error"] = error_text(exc)
    else:
        ss.pop("cl_inbox", None)
        ss[lkey("cl_order")] = oid
        ss["_cl_flash"] = t("clues.created", order=oid)


def on_add_clue() -> None:
    channel = ss.get(lkey("cl_add_channel"), "cadre_visit")
    try:
        cid = clues.add_clue(
            engine, (ss.get("cl_add_hid") or "").strip(), period, channel, "cadre" if channel == "cadre_visit" else "household",
            ss.get(lkey("cl_add_risk"), "other"), ss.get("cl_add_detail") or None, principal=me,
        )
    except AccessDenied as exc:
        ss["_cl_error"] = error_text(exc)
    except Exception as exc:  # noqa: BLE001 - unknown household: the foreign key says so
        ss["_cl_error"] = t("clues.add_failed", error=str(exc).splitlines()[0])
    else:
        ss["_cl_flash"] = t("clues.clue_added", clue=cid)

# ---- closed-loop figures
loop = orders_mod.closed_loop(engine, today=as_of, principal=me)
m = st.columns(5)
m[0].metric(t("clues.orders"), fmt.count(loop.orders, lang))
m[1].metric(t("clues.decided"), fmt.count(loop.decided, lang))
m[2].metric(t("clues.median_days"), "—" if loop.median_days is None else f"{loop.median_days:.1f}", help=t("clues.median_days_help"))
m[3].metric(t("clues.overdue"), fmt.count(loop.overdue, lang), help=t("clues.overdue_help"))
m[4].metric(t("clues.overdue_share"), fmt.pct(loop.overdue_share) if loop.orders else "—")

tab_in, tab_orders, tab_loop = st.tabs([t("clues.tab_inbox"), t("clues.tab_orders"), t("clues.tab_loop")], key="cl_tabs", on_change="rerun")

# ---- clue inbox
with tab_in:
    f1, f2, f3, f4, f5 = st.columns(5)
    town = f1.selectbox(t("common.township"), [None, *names], format_func=lambda c: t("common.all") if c is None else names[c], key=lkey("cl_f_town"))
    source = f2.selectbox(t("clues.source"), [None, *clues.clue_sources(engine)], format_func=lambda c: t("common.all") if c is None else source_label(c), key=lkey("cl_f_source"))
    risk = f3.selectbox(t("clues.risk_type"), [None, *common.RISK_TYPES], format_func=lambda c: t("common.all") if c is None else lbl("risk", c), key=lkey("cl_f_risk"))
    age = f4.selectbox(t("clues.age"), [None, 7, 15, 30, 90], format_func=lambda d: t("common.all") if d is None else t("clues.age_within", days=d), index=3, key=lkey("cl_f_age"))
    status = f5.selectbox(t("clues.status"), ["new", "merged", "ordered", "closed"], format_func=lambda s: t(f"wf.clue_status.{s}"), key=lkey("cl_f_status"))
    inbox = clues.clue_inbox(engine, township=town, source=source, risk_type=risk, statuses=(status,), max_age_days=age, until_period=period, today=as_of, principal=me)
    b1, b2 = st.columns([3, 2])
    b1.caption(t("clues.inbox_count", n=fmt.count(len(inbox), lang)))
    if can(me, "clue_generate"):
        b2.button(t("clues.gen_scoring", month=format_period(period, lang)), key="cl_gen", help=t("clues.gen_scoring_help"), on_click=on_generate)
    shown = pd.DataFrame(
        {
            "clue_id": inbox["clue_id"],
            "household_id": inbox["household_id"],
            "township": inbox["township_code"].map(all_names),
            "channel": inbox["channel"].map(lambda c: lbl("channel", c)),
            "source": inbox["source"].map(source_label),
            "risk_type": inbox["risk_type"].map(lambda c: lbl("risk", c)),
            "detail": inbox["detail"],
            "received_at": inbox["received_at"],
            "age_days": inbox["age_days"],
            "merged_into": inbox["merged_into"],
        }
    )
    labels = {
        "clue_id": t("clues.clue_id"), "household_id": t("common.household_id"), "township": t("common.township"), "channel": t("clues.channel"),
        "source": t("clues.source"), "risk_type": t("clues.risk_type"), "detail": t("clues.detail"), "received_at": t("clues.received_at"),
        "age_days": t("clues.age_days"), "merged_into": t("clues.merged_into"),
    }
    st.dataframe(
        shown, key="cl_inbox", on_select="rerun", selection_mode="multi-row", hide_index=True, width="stretch", height=320,
        column_config={k: st.column_config.Column(v) for k, v in labels.items()},
    )
    download_table(ctx, shown.rename(columns=labels), f"clues_{period}", "cl_inbox_dl")
    rows = [r for r in st.session_state.get("cl_inbox", {}).get("selection", {}).get("rows", []) if r < len(inbox)]
    picked = inbox["clue_id"].iloc[rows].astype(int).tolist()

    st.subheader(t("clues.new_order"))
    st.caption(t("clues.new_order_hint"))
    o1, o2, o3, o4 = st.columns([2, 1, 2, 1])
    hid_in = o1.text_input(t("clues.from_household"), key="cl_hid", help=t("clues.from_household_help")).strip()
    kind = o2.radio(t("clues.assignee_kind"), ["township", "department"], format_func=lambda k: t(f"wf.kind.{k}"), key=lkey("cl_kind"), horizontal=True)
    choices = list(names) if kind == "township" else list(DEPARTMENTS)
    default_town = inbox.set_index("clue_id").loc[picked[0], "township_code"] if picked else None
    # keyed by the picked household's township, so that picking a clue pre-selects its township
    assignee_key = lkey(f"cl_assignee_{kind}_{default_town if kind == 'township' else ''}")
    assignee = o3.selectbox(t("clues.assignee"), choices, index=choices.index(default_town) if default_town in choices else 0, format_func=lambda c: fmt_assignee(kind, c), key=assignee_key)
    due_days = o4.number_input(t("clues.due_days"), min_value=1, max_value=90, value=common.DUE_DAYS, step=1, key="cl_due")
    st.write(t("clues.picked", ids=", ".join(map(str, picked)) if picked else "—"))
    st.button(t("clues.create_order"), key="cl_create", type="primary", on_click=on_create, args=(picked, assignee_key))

    with st.expander(t("clues.add_clue")):
        with st.form("cl_add_form"):
            a1, a2, a3 = st.columns(3)
            a_hid = a1.text_input(t("common.household_id"), key="cl_add_hid")
            a_channel = a2.selectbox(t("clues.channel"), ["cadre_visit", "self_report"], format_func=lambda c: lbl("channel", c), key=lkey("cl_add_channel"))
            a_risk = a3.selectbox(t("clues.risk_type"), common.RISK_TYPES, format_func=lambda c: lbl("risk", c), key=lkey("cl_add_risk"))
            a_detail = st.text_input(t("clues.detail"), key="cl_add_detail")
            st.form_submit_button(t("clues.add_clue_button"), on_click=on_add_clue)

# ---- orders
with tab_orders:
    g1, g2 = st.columns(2)
    states = g1.multiselect(t("clues.state"), list(orders_mod.ORDER_STATES), default=["open", "verifying"], format_func=lambda s: t(f"wf.state.{s}"), key=lkey("cl_states"))
    otown = g2.selectbox(t("common.township"), [None, *names], format_func=lambda c: t("common.all") if c is None else names[c], key=lkey("cl_o_town"))
    orders = orders_mod.list_orders(engine, states=states or orders_mod.ORDER_STATES, township=otown, today=as_of, principal=me)
    table = pd.DataFrame(
        {
            t("clues.order_id"): orders["order_id"],
            t("common.household_id"): orders["household_id"],
            t("common.township"): orders["township_code"].map(all_names),
            t("clues.assignee"): [fmt_assignee(k, a) for k, a in zip(orders["assignee_kind"], orders["assignee"])],
            t("clues.state"): orders["state"].map(lambda s: t(f"wf.state.{s}")),
            t("clues.decision"): orders["decision"].map(lambda d: t(f"wf.decision.{d}") if isinstance(d, str) else ""),
            t("clues.n_clues"): orders["n_clues"],
            t("clues.first_clue"): pd.to_datetime(orders["first_clue_at"]).dt.date,
            t("clues.due"): orders["due_date"],
            t("clues.days"): orders["days_to_decision"].map(lambda v: "" if pd.isna(v) else str(int(v))),
            t("clues.overdue_col"): orders["overdue"].map(lambda v: t("clues.yes") if v else ""),
            t("clues.updated"): [f"{lbl('role', b)} {a:%Y-%m-%d %H:%M}" if a is not None and not pd.isna(a) else "" for a, b in zip(orders["updated_at"], orders["updated_by"])],
        }
    )
    od_col = t("clues.overdue_col")
    st.dataframe(
        table.style.apply(lambda r: ["background-color: #fde2e1" if r[od_col] else "" for _ in r], axis=1),
        hide_index=True, width="stretch", height=280, key="cl_orders_table",
    )
    download_table(ctx, table, f"orders_{period}", "cl_orders_dl")

    all_orders = orders_mod.list_orders(engine, today=as_of, principal=me)
    ids = all_orders["order_id"].astype(int).tolist()
    if not ids:
        st.info(t("clues.no_orders"))
    else:
        if st.session_state.get(lkey("cl_order")) not in ids:
            st.session_state[lkey("cl_order")] = ids[0]
        oid = st.selectbox(t("clues.work_on"), ids, key=lkey("cl_order"), format_func=lambda i: t("clues.order_label", order=i))
        order = orders_mod.get_order(engine, oid, principal=me)
        # The version this user is working from: kept until they act or reload, so that a
        # change by someone else in between is caught rather than overwritten.
        seen = st.session_state.setdefault("_cl_seen", {})
        seen.setdefault(oid, order["version"])
        if seen[oid] != order["version"]:
            st.warning(t("clues.changed_since", who=lbl("role", order["updated_by"]), at=f"{order['updated_at']:%Y-%m-%d %H:%M:%S}"))

        def on_reload(oid: int, version: int) -> None:
            ss.setdefault("_cl_seen", {})[oid] = version

        st.button(t("clues.reload"), key="cl_reload", on_click=on_reload, args=(oid, order["version"]))
        version = seen[oid]
        d1, d2, d3, d4 = st.columns([2, 1, 1, 1])
        d1.markdown(f"{t('common.household_id')}  \n**{order['household_id']}**")
        state_label = t(f"wf.state.{order['state']}")
        d2.markdown(f"{t('clues.state')}  \n**{state_label}**")
        d3.markdown(f"{t('clues.due')}  \n**{order['due_date']}**")
        d4.markdown(f"{t('clues.assignee')}  \n**{fmt_assignee(order['assignee_kind'], order['assignee'])}**")
        st.caption(t("clues.order_meta", clues=", ".join(map(str, order["clue_ids"])) or "—", who=lbl("role", order["created_by"]), at=f"{order['created_at']:%Y-%m-%d %H:%M}", version=order["version"]))
        if order["findings"]:
            st.markdown(f"**{t('clues.findings')}**: {order['findings']}")
        if order["notes"]:
            st.text(order["notes"])

        saved = t("clues.saved", order=oid)

        def on_reassign(oid: int, version: int) -> None:
            kind = ss.get(lkey("cl_rkind"), "township")
            run_action(orders_mod.assign_order, engine, oid, version, kind, ss.get(lkey(f"cl_rassignee_{kind}")), ok=saved, order=oid)

        def on_note(oid: int, version: int) -> None:
            if run_action(orders_mod.add_note, engine, oid, version, ss.get("cl_note", ""), findings=ss.get(f"cl_findings_{oid}"), ok=saved, order=oid):
                ss["cl_note"] = ""

        def on_decide(oid: int, version: int) -> None:
            inc = ss.get(lkey("cl_decision"), "included") == "included"
            run_action(
                orders_mod.decide_order, engine, oid, version, included=inc, period=period,
                category=ss.get(lkey("cl_category")) if inc else None, risk_types=ss.get(lkey(f"cl_risks_{oid}"), []) if inc else [],
                reason=None if inc else ss.get("cl_reason"), ok=saved, order=oid,
            )

        if order["state"] == "decided":
            st.success(t("clues.decided_as", decision=t(f"wf.decision.{order['decision']}"), who=lbl("role", order["decided_by"]), at=f"{order['decided_at']:%Y-%m-%d %H:%M}"))
            if order["decision"] == "included":
                st.write(t("clues.decided_included", category=lbl("category", order["category"]), risks="、".join(lbl("risk", r) for r in (order["risk_types"] or "").split(",") if r)))
            else:
                st.write(t("clues.decided_reason", reason=order["reason"] or ""))
        else:
            if order["state"] == "open":
                st.button(t("clues.start"), key="cl_start", on_click=lambda o=oid, v=version: run_action(orders_mod.start_verification, engine, o, v, ok=saved, order=o))
            with st.expander(t("clues.reassign")):
                r1, r2 = st.columns(2)
                rkind = r1.radio(t("clues.assignee_kind"), ["township", "department"], format_func=lambda k: t(f"wf.kind.{k}"), key=lkey("cl_rkind"), horizontal=True)
                rchoices = list(names) if rkind == "township" else list(DEPARTMENTS)
                rassignee = r2.selectbox(t("clues.assignee"), rchoices, format_func=lambda c: fmt_assignee(rkind, c), key=lkey(f"cl_rassignee_{rkind}"))
                st.button(t("clues.reassign_button"), key="cl_reassign", on_click=on_reassign, args=(oid, version))
            with st.expander(t("clues.note")):
                note = st.text_area(t("clues.note_text"), key="cl_note")
                findings = st.text_area(t("clues.findings"), value=order["findings"] or "", key=f"cl_findings_{oid}")
                st.button(t("clues.note_button"), key="cl_note_save", on_click=on_note, args=(oid, version))
            st.subheader(t("clues.decide"))
            inc = st.radio(t("clues.decision"), ["included", "not_included"], format_func=lambda d: t(f"wf.decision.{d}"), key=lkey("cl_decision"), horizontal=True)
            if inc == "included":
                c1, c2 = st.columns(2)
                cat = c1.selectbox(t("clues.category"), list(common.CATEGORIES), format_func=lambda c: lbl("category", c), key=lkey("cl_category"))
                clue_risks = orders_mod.order_risk_types(engine, oid, principal=me)
                risks = c2.multiselect(t("clues.risk_types"), list(common.RISK_TYPES), default=[r for r in clue_risks if r in common.RISK_TYPES], format_func=lambda c: lbl("risk", c), key=lkey(f"cl_risks_{oid}"))
                reason = None
            else:
                cat, risks = None, []
                reason = st.text_input(t("clues.reason"), key="cl_reason")
            st.button(t("clues.decide_button"), key="cl_decide", type="primary", on_click=on_decide, args=(oid, version))

# ---- closed loop by township and by department
with tab_loop:
    st.caption(t("clues.loop_caption", day=as_of.isoformat()))
    l1, l2 = st.columns(2)
    loop_tables = []
    for col, frame, key, title, fmt_key in (
        (l1, loop.by_township, "township_code", t("clues.by_township"), lambda c: all_names.get(c, c)),
        (l2, loop.by_department, "assignee", t("clues.by_department"), lambda c: lbl("department", c)),
    ):
        with col:
            st.subheader(title)
            shown_loop = pd.DataFrame(
                {
                    t("clues.unit"): frame[key].map(fmt_key),
                    t("clues.orders"): frame["orders"],
                    t("clues.overdue"): frame["overdue"],
                    t("clues.overdue_share"): (100 * frame["overdue_share"].astype(float)).round(1),
                    t("clues.median_days"): frame["median_days"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
                }
            )
            st.dataframe(shown_loop, hide_index=True, width="stretch", column_config={t("clues.overdue_share"): st.column_config.NumberColumn(format="%.1f%%")})
            loop_tables.append((title, shown_loop, key))
    # downloads full width (the buttons clip inside half-width columns)
    for title, shown_loop, key in loop_tables:
        st.caption(title)
        download_table(ctx, shown_loop, f"closed_loop_{key}", f"cl_loop_{key}")
