"""用户与审计 Users and the audit log (admin): accounts, adding and disabling users, the audit trail.

The audit log is shown read-only (a plain table, no editor) and the database refuses
UPDATE and DELETE on it; downloads of it go through the one audited download path.
The rules (who may change accounts, that an administrator cannot lock themself out) are
in ``fanpin.access.users``; this page draws the forms and says what happened.
"""

from datetime import date, timedelta

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from fanpin.access import users
from fanpin.access.audit import audit_actions, audit_actors, audit_query
from fanpin.access.roles import REGION_ROLES, ROLES, TOWNSHIP_ROLES, AccessDenied, Principal, require
from fanpin.core.i18n import catalogue
from fanpin.ui.audit_text import detail_text
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lang as current_lang
from fanpin.ui.i18n import lbl, t
from fanpin.ui.messages import flash, show_flash
from fanpin.ui.region import region_label
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.tables import fitted
from fanpin.ui.text import md

PAGE = "admin"
AUDIT_LIMIT = 2000
AUDIT_COLUMNS = ("audit_id", "at", "actor", "action", "target", "detail")


# --------------------------------------------------------------------------- actions (button callbacks)
def _refused(exc: Exception) -> None:
    if isinstance(exc, users.UserError) and exc.code == "not_self":
        flash(PAGE, "error", t("access.not_self"))
    elif isinstance(exc, users.UserError) and f"user_error.{exc.code}" in catalogue():
        flash(PAGE, "error", t("access.user_error", error=t(f"user_error.{exc.code}", n=users.MIN_PASSWORD)))
    else:
        flash(PAGE, "error", t("access.user_error", error=str(exc)))


def _chosen_townships(role: str, key: str) -> list[str] | None:
    return list(st.session_state.get(key) or []) if role in TOWNSHIP_ROLES else None


def _chosen_region(role: str, key: str) -> str | None:
    """A province or city leader's region as typed (checked by ``users.validate``)."""
    return (st.session_state.get(key) or "").strip() or None if role in REGION_ROLES else None


def on_add(engine: Engine, me: Principal, lang: str) -> None:
    ss = st.session_state
    name = (ss.get("ad_name") or "").strip()
    pw, pw2 = ss.get("ad_pw") or "", ss.get("ad_pw2") or ""
    ss["ad_pw"], ss["ad_pw2"] = "", ""  # passwords do not stay in the session
    if pw != pw2:
        flash(PAGE, "error", t("access.passwords_differ"))
        return
    role = ss.get(f"ad_role_{lang}", "analyst")
    try:
        users.add_user(
            engine, name, role, pw, principal=me, townships=_chosen_townships(role, f"ad_towns_{lang}"),
            display_name=(ss.get("ad_display") or "").strip() or None, region=_chosen_region(role, "ad_region"),
        )
    except (users.UserError, AccessDenied) as exc:
        _refused(exc)
        return
    flash(PAGE, "success", t("access.user_added", user=name))
    ss["ad_name"], ss["ad_display"], ss["ad_region"] = "", "", ""


def on_disable(engine: Engine, me: Principal, disabled: bool) -> None:
    name = st.session_state.get("ad_target")
    if not name:
        return
    try:
        users.set_disabled(engine, name, disabled, principal=me)
    except (users.UserError, AccessDenied) as exc:
        _refused(exc)
        return
    flash(PAGE, "success", t("access.user_disabled" if disabled else "access.user_enabled", user=name))


def on_role(engine: Engine, me: Principal, name: str, role_key: str, towns_key: str, region_key: str) -> None:
    """Change the account's role and townships (or region) to what the form shows (confirmed)."""
    role = st.session_state.get(role_key)
    try:
        users.set_role(engine, name, role, _chosen_townships(role, towns_key), principal=me, region=_chosen_region(role, region_key))
    except (users.UserError, AccessDenied) as exc:
        _refused(exc)
        return
    flash(PAGE, "success", t("access.role_changed", user=name, role=lbl("role", role)))


# --------------------------------------------------------------------------- the users tab
def users_table(frame: pd.DataFrame, towns: dict[str, str]) -> pd.DataFrame:
    """The account list as shown: labels for roles, townships and states, no hashes."""
    def town_names(v: object) -> str:
        return ("、" if current_lang() == "zh" else ", ").join(towns.get(c, c) for c in str(v).split(",")) if isinstance(v, str) and v else ""

    return pd.DataFrame(
        {
            "username": frame["username"],
            "display_name": frame["display_name"].fillna(""),
            "role": [lbl("role", r) for r in frame["role"]],
            "townships": [region_label(v) if r in REGION_ROLES and isinstance(v, str) and v else town_names(v) for r, v in zip(frame["role"], frame["townships"])],
            "state": [t(f"access.state.{s}") for s in users.account_states(frame)],
            "last_login_at": frame["last_login_at"].map(lambda v: "" if v is None or pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d %H:%M}"),
            "created_at": frame["created_at"],
        }
    )


def add_form(engine: Engine, me: Principal, lang: str, towns: dict[str, str]) -> None:
    st.subheader(t("access.add_user"))
    with st.form("ad_add_form"):
        a1, a2 = st.columns(2)
        a1.text_input(t("access.username"), key="ad_name", max_chars=users.USERNAME_MAX)
        a2.text_input(t("access.display_name"), key="ad_display", max_chars=64)
        # option labels change with the language: keyed per language (see fanpin.ui.sidebar.choose)
        st.selectbox(t("access.role"), list(ROLES), format_func=lambda r: lbl("role", r), key=f"ad_role_{lang}")
        st.multiselect(t("access.townships"), list(towns), format_func=lambda c: towns.get(c, c), key=f"ad_towns_{lang}", placeholder=t("access.pick_townships"))
        st.text_input(t("province.region_input"), key="ad_region", max_chars=12, help=t("province.region_input_help"))
        p1, p2 = st.columns(2)
        p1.text_input(t("access.password"), type="password", key="ad_pw", max_chars=256)
        p2.text_input(t("access.password_repeat"), type="password", key="ad_pw2", max_chars=256)
        st.form_submit_button(t("access.add_button"), type="primary", on_click=on_add, args=(engine, me, lang), key="ad_add")


def change_form(engine: Engine, me: Principal, lang: str, towns: dict[str, str], accounts: pd.DataFrame) -> None:
    """Disable, enable, or change the role of one account.  The role and townships start at the
    account's current values (keyed per account: one click without touching them changes
    nothing), and a change asks for a confirmation that names it."""
    st.subheader(t("access.disable_user"))
    if accounts.empty:
        return
    name = st.selectbox(t("access.username"), accounts["username"].tolist(), key="ad_target")
    b1, b2 = st.columns(2)
    b1.button(t("access.disable_button"), key="ad_disable", on_click=on_disable, args=(engine, me, True))
    b2.button(t("access.enable_button"), key="ad_enable", on_click=on_disable, args=(engine, me, False))
    row = accounts.set_index("username").loc[name]
    current_towns = sorted(c for c in str(row["townships"] or "").split(",") if c and c in towns) if isinstance(row["townships"], str) else []
    role_key, towns_key, region_key = f"ad_new_role_{lang}_{name}", f"ad_new_towns_{lang}_{name}", f"ad_new_region_{name}"
    current_region = str(row["townships"]) if row["role"] in REGION_ROLES and isinstance(row["townships"], str) else ""
    role = st.selectbox(t("access.role"), list(ROLES), index=list(ROLES).index(row["role"]) if row["role"] in ROLES else 0,
                        format_func=lambda r: lbl("role", r), key=role_key)
    chosen = st.multiselect(t("access.townships"), list(towns), default=current_towns, format_func=lambda c: towns.get(c, c), key=towns_key,
                            placeholder=t("access.pick_townships"), disabled=role not in TOWNSHIP_ROLES)
    region = st.text_input(t("province.region_input"), value=current_region, key=region_key, max_chars=12, disabled=role not in REGION_ROLES,
                           help=t("province.region_input_help")).strip()
    changed = role != row["role"] or (role in TOWNSHIP_ROLES and sorted(chosen) != current_towns) or (role in REGION_ROLES and region != current_region)
    sure = False
    if changed:
        after = lbl("role", role) + (f"（{'、'.join(towns.get(c, c) for c in sorted(chosen))}）" if role in TOWNSHIP_ROLES else f"（{region}）" if role in REGION_ROLES else "")
        sure = st.checkbox(t("access.role_confirm", user=md(name), before=lbl("role", row["role"]), after=md(after)), key=f"ad_role_sure_{name}_{role}_{','.join(sorted(chosen))}")
    st.button(t("access.role_button"), key="ad_role_change", on_click=on_role, args=(engine, me, name, role_key, towns_key, region_key), help=t("access.role_help"),
              disabled=not (changed and sure))


def users_tab(engine: Engine, me: Principal, lang: str, towns: dict[str, str]) -> None:
    frame = users.list_users(engine, principal=me)
    shown = users_table(frame, towns)
    st.dataframe(
        shown, hide_index=True, width="stretch", key="ad_users",
        column_config=fitted(shown, {c: t(f"access.col.{c}") for c in shown.columns}),  # "Fengyan Townshi…" at 1366 px otherwise
    )
    left, right = st.columns(2, gap="large")
    with left:
        add_form(engine, me, lang, towns)
    with right:
        change_form(engine, me, lang, towns, frame)


# --------------------------------------------------------------------------- the audit tab
def audit_filters(engine: Engine, me: Principal, lang: str, today: date) -> dict[str, object]:
    """The filter row; returns ``audit_query``'s keyword arguments."""
    f1, f2, f3, f4, f5 = st.columns(5)
    actor = f1.selectbox(t("access.filter_actor"), [None, *audit_actors(engine, principal=me)], format_func=lambda a: t("common.all") if a is None else a, key=f"ad_f_actor_{lang}")
    action = f2.selectbox(
        t("access.filter_action"), [None, *audit_actions(engine, principal=me)], format_func=lambda a: t("common.all") if a is None else lbl("audit_action", a), key=f"ad_f_action_{lang}"
    )
    target = f3.text_input(t("access.filter_target"), key="ad_f_target", max_chars=64)
    since = f4.date_input(t("access.filter_from"), value=today - timedelta(days=30), key="ad_f_from")
    until = f5.date_input(t("access.filter_to"), value=today, key="ad_f_to")
    return {"actor": actor, "action": action, "target_contains": target or None, "since": since, "until": until}


def audit_tab(ctx: Context, today: date) -> None:
    engine = ctx.data.engine
    st.caption(t("access.admin_caption"))
    log, total = audit_query(engine, principal=ctx.principal, **audit_filters(engine, ctx.principal, ctx.lang, today), limit=AUDIT_LIMIT)
    st.caption(t("access.audit_count", n=f"{total:,}", limit=f"{AUDIT_LIMIT:,}"))
    table = log[list(AUDIT_COLUMNS)].assign(action=[lbl("audit_action", a) for a in log["action"]], detail=[detail_text(d) for d in log["detail"]])
    labels = {c: t(f"access.col.{c}") for c in AUDIT_COLUMNS}
    st.dataframe(table.rename(columns=labels), hide_index=True, width="stretch", height=420, key="ad_audit")
    download_table(ctx, table, f"audit_log_{today:%Y%m%d}", "ad_audit", labels=labels)


# --------------------------------------------------------------------------- the page
def main() -> None:
    ctx = page_context(PAGE)
    try:
        require(ctx.principal, "user_manage")
    except AccessDenied:
        st.error(t("error.forbidden", role=lbl("role", ctx.role)))
        st.stop()
    st.title(t("nav.admin"))
    show_flash(PAGE)
    towns = {k: v for k, v in ctx.data.township_names(ctx.lang).items() if not k.endswith("000000")}
    tab_users, tab_audit = st.tabs([t("access.admin_users"), t("access.admin_audit")])
    with tab_users:
        users_tab(ctx.data.engine, ctx.principal, ctx.lang, towns)
    with tab_audit:
        audit_tab(ctx, date.today())


main()
