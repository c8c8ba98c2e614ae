"""用户与审计 Users and the audit log (admin): accounts, adding and disabling users, the audit trail.

The audit log is shown read-only (a plain table, no editor) and the database refuses
UPDATE and DELETE on it; downloads of it are themselves logged.
"""

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from fanpin.access import users
from fanpin.access.audit import audit_actions, audit_actors, audit_query
from fanpin.access.roles import ROLES, AccessDenied, require
from fanpin.report.export import csv_bytes, xlsx_bytes
from fanpin.ui.i18n import lbl, t
from fanpin.ui.login import record_export
from fanpin.ui.sidebar import page_context

ctx = page_context("admin")
engine, me, lang = ctx.data.engine, ctx.principal, ctx.lang
try:
    require(me, "user_manage")
except AccessDenied:
    st.error(t("error.forbidden", role=lbl("role", ctx.role)))
    st.stop()
ss = st.session_state
st.title(t("nav.admin"))
flash, error = ss.pop("_ad_flash", None), ss.pop("_ad_error", None)
if flash:
    st.success(flash)
if error:
    st.error(error)

towns = {k: v for k, v in ctx.data.township_names(lang).items() if not k.endswith("000000")}
# Widgets whose option labels change with the language are keyed per language (see
# fanpin.ui.sidebar.choose): one keyed alone would keep showing the other language's label.
tab_users, tab_audit = st.tabs([t("access.admin_users"), t("access.admin_audit")])


def on_add() -> None:
    name = (ss.get("ad_name") or "").strip()
    pw, pw2 = ss.get("ad_pw") or "", ss.get("ad_pw2") or ""
    ss["ad_pw"], ss["ad_pw2"] = "", ""  # passwords do not stay in the session
    if pw != pw2:
        ss["_ad_error"] = t("access.passwords_differ")
        return
    role = ss.get(f"ad_role_{lang}", "analyst")
    try:
        require(me, "user_manage")
        users.add_user(
            engine, name, role, pw, townships=list(ss.get(f"ad_towns_{lang}") or []) if role == "case_worker" else None,
            display_name=(ss.get("ad_display") or "").strip() or None, created_by=me.actor,
        )
    except (users.UserError, AccessDenied) as exc:
        ss["_ad_error"] = t("access.user_error", error=str(exc))
        return
    ss["_ad_flash"] = t("access.user_added", user=name)
    ss["ad_name"], ss["ad_display"] = "", ""


def on_disable(disabled: bool) -> None:
    name = ss.get("ad_target")
    if not name:
        return
    if disabled and name == me.username:
        ss["_ad_error"] = t("access.not_self")
        return
    try:
        require(me, "user_manage")
        users.set_disabled(engine, name, disabled, actor=me.actor)
    except (users.UserError, AccessDenied) as exc:
        ss["_ad_error"] = t("access.user_error", error=str(exc))
        return
    ss["_ad_flash"] = t("access.user_disabled" if disabled else "access.user_enabled", user=name)


def on_role() -> None:
    name, role = ss.get("ad_target"), ss.get(f"ad_new_role_{lang}", "analyst")
    if not name:
        return
    if name == me.username and role != "admin":
        ss["_ad_error"] = t("access.not_self")
        return
    try:
        require(me, "user_manage")
        users.set_role(engine, name, role, list(ss.get(f"ad_new_towns_{lang}") or []) if role == "case_worker" else None, actor=me.actor)
    except (users.UserError, AccessDenied) as exc:
        ss["_ad_error"] = t("access.user_error", error=str(exc))
        return
    ss["_ad_flash"] = t("access.role_changed", user=name, role=lbl("role", role))


with tab_users:
    frame = users.list_users(engine)
    now = pd.Timestamp.now()
    state = [
        "disabled" if d else ("locked" if lu is not None and not pd.isna(lu) and pd.Timestamp(lu) > now else "active")
        for d, lu in zip(frame["disabled"], frame["locked_until"])
    ]
    shown = pd.DataFrame(
        {
            "username": frame["username"],
            "display_name": frame["display_name"].fillna(""),
            "role": [lbl("role", r) for r in frame["role"]],
            "townships": [("、".join(towns.get(c, c) for c in str(v).split(",")) if isinstance(v, str) and v else "") for v in frame["townships"]],
            "state": [t(f"access.state.{s}") for s in state],
            "last_login_at": frame["last_login_at"].map(lambda v: "" if v is None or pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d %H:%M}"),
            "created_at": frame["created_at"],
        }
    )
    st.dataframe(
        shown, hide_index=True, width="stretch", key="ad_users",
        column_config={c: st.column_config.Column(t(f"access.col.{c}")) for c in shown.columns},
    )

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader(t("access.add_user"))
        with st.form("ad_add_form"):
            a1, a2 = st.columns(2)
            a1.text_input(t("access.username"), key="ad_name", max_chars=users.USERNAME_MAX)
            a2.text_input(t("access.display_name"), key="ad_display", max_chars=64)
            st.selectbox(t("access.role"), list(ROLES), format_func=lambda r: lbl("role", r), key=f"ad_role_{lang}")
            st.multiselect(t("access.townships"), list(towns), format_func=lambda c: towns.get(c, c), key=f"ad_towns_{lang}", placeholder=t("access.pick_townships"))
            p1, p2 = st.columns(2)
            p1.text_input(t("access.password"), type="password", key="ad_pw", max_chars=256)
            p2.text_input(t("access.password_repeat"), type="password", key="ad_pw2", max_chars=256)
            st.form_submit_button(t("access.add_button"), type="primary", on_click=on_add, key="ad_add")
    with right:
        st.subheader(t("access.disable_user"))
        names = frame["username"].tolist()
        if names:
            st.selectbox(t("access.username"), names, key="ad_target")
            b1, b2 = st.columns(2)
            b1.button(t("access.disable_button"), key="ad_disable", on_click=on_disable, args=(True,))
            b2.button(t("access.enable_button"), key="ad_enable", on_click=on_disable, args=(False,))
            st.selectbox(t("access.role"), list(ROLES), format_func=lambda r: lbl("role", r), key=f"ad_new_role_{lang}")
            st.multiselect(t("access.townships"), list(towns), format_func=lambda c: towns.get(c, c), key=f"ad_new_towns_{lang}", placeholder=t("access.pick_townships"))
            st.button(t("access.role_button"), key="ad_role_change", on_click=on_role, help=t("access.role_help"))


with tab_audit:
    st.caption(t("access.admin_caption"))
    f1, f2, f3, f4, f5 = st.columns([1, 1, 1, 1, 1])
    actor = f1.selectbox(t("access.filter_actor"), [None, *audit_actors(engine)], format_func=lambda a: t("common.all") if a is None else a, key=f"ad_f_actor_{lang}")
    action = f2.selectbox(
        t("access.filter_action"), [None, *audit_actions(engine)], format_func=lambda a: t("common.all") if a is None else lbl("audit_action", a), key=f"ad_f_action_{lang}"
    )
    target = f3.text_input(t("access.filter_target"), key="ad_f_target", max_chars=64)
    today = date.today()
    since = f4.date_input(t("access.filter_from"), value=today - timedelta(days=30), key="ad_f_from")
    until = f5.date_input(t("access.filter_to"), value=today, key="ad_f_to")
    LIMIT = 2000
    log, total = audit_query(engine, actor=actor, action=action, target_contains=target or None, since=since, until=until, limit=LIMIT)
    st.caption(t("access.audit_count", n=f"{total:,}", limit=f"{LIMIT:,}"))
    table = pd.DataFrame(
        {
            t("access.col.audit_id"): log["audit_id"],
            t("access.col.at"): log["at"],
            t("access.col.actor"): log["actor"],
            t("access.col.action"): [lbl("audit_action", a) for a in log["action"]],
            t("access.col.target"): log["target"],
            t("access.col.detail"): log["detail"],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", height=420, key="ad_audit")
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button(
        t("common.download_csv"), csv_bytes(table), file_name=f"audit_log_{today:%Y%m%d}.csv", mime="text/csv", key="ad_audit_csv",
        on_click=record_export, args=("audit_log", len(table), "csv"),
    )
    c2.download_button(
        t("common.download_xlsx"), xlsx_bytes(table), file_name=f"audit_log_{today:%Y%m%d}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="ad_audit_xlsx", on_click=record_export, args=("audit_log", len(table), "xlsx"),
    )
