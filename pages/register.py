"""监测台账 Monitoring register: who is monitored, since when, why, what assistance; risk elimination
proposed by one person when the rules hold and approved by a second."""

import pandas as pd
import streamlit as st

from fanpin.access.roles import AccessDenied, can
from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, lkey, t
from fanpin.ui.sidebar import page_context
from fanpin.workflow import common, elimination, monitoring

ctx = page_context("register")
data, period, lang, actor, me = ctx.data, ctx.period, ctx.lang, ctx.actor, ctx.principal
engine = data.engine
names = {k: v for k, v in data.township_names(lang).items() if not k.endswith("000000")}

st.title(t("register.title"))
st.caption(t("register.caption", month=format_period(period, lang), months=elimination.STABLE_MONTHS, share=fmt.pct(elimination.SPENDING_SHARE, 0)))
flash, error = st.session_state.pop("_rg_flash", None), st.session_state.pop("_rg_error", None)
if flash:
    st.success(flash)
if error:
    st.error(error)
ss = st.session_state


# Actions run as button callbacks (before the script), reading the widgets from the session state.
def on_propose(hid: str) -> None:
    try:
        pid = elimination.propose_elimination(engine, hid, period, ss.get("rg_method", "by_assistance"), ss.get("rg_note") or None, principal=me)
    except AccessDenied as exc:
        ss["_rg_error"] = t("access.denied_township") if exc.code == "township" else t("access.denied", action=exc.code)
    except common.WorkflowError as exc:
        ss["_rg_error"] = t(f"wf.err.{exc.code}") if exc.code in common.ERROR_CODES else str(exc)
    else:
        ss["_rg_flash"] = t("register.proposed", proposal=pid, hid=hid)


def on_resolve(pid: int, approve: bool) -> None:
    try:
        (elimination.approve_elimination if approve else elimination.reject_elimination)(engine, pid, ss.get("rg_a_note") or None, principal=me)
    except AccessDenied as exc:
        ss["_rg_error"] = t("access.denied_township") if exc.code == "township" else t("access.denied", action=exc.code)
    except common.WorkflowError as exc:
        ss["_rg_error"] = t(f"wf.err.{exc.code}") if exc.code in common.ERROR_CODES else str(exc)
    else:
        ss["_rg_flash"] = t("register.approved" if approve else "register.rejected", proposal=pid)

with st.spinner(t("register.computing")):
    panel = data.panel_scores()  # the baseline, each month with its line
reg = monitoring.register(engine, panel, period if period in panel.periods else None, principal=me)
elig = elimination.elimination_eligibility(engine, reg["household_id"].tolist(), period, principal=me).frame
reg = reg.merge(elig[["household_id", "months_above", "spending_ok", "eligible"]], on="household_id", how="left")
early = monitoring.early_eliminations(engine, principal=me)
hist_all = monitoring.monitoring_history(engine, principal=me)

m = st.columns(4)
m[0].metric(t("register.monitored"), fmt.count(int((reg["status"] == "monitored").sum()), lang))
m[1].metric(t("register.pending"), fmt.count(int((reg["status"] == "proposed").sum()), lang))
m[2].metric(t("register.eliminated"), fmt.count(int((hist_all["status"] == "eliminated").sum()) if len(hist_all) else 0, lang))
m[3].metric(t("register.eligible_now"), fmt.count(int((reg["eligible"].fillna(False) & (reg["status"] == "monitored")).sum()), lang), help=t("register.eligible_help"))

f1, f2 = st.columns(2)
town = f1.selectbox(t("common.township"), [None, *(c for c in names if me.sees(c))], format_func=lambda c: t("common.all") if c is None else names[c], key=lkey("rg_town"))
cat = f2.selectbox(t("register.category"), [None, *common.CATEGORIES], format_func=lambda c: t("common.all") if c is None else lbl("category", c), key=lkey("rg_cat"))
view = reg
if town:
    view = view[view["township_code"] == town]
if cat:
    view = view[view["category"] == cat]


def labels(codes: object, kind: str) -> str:
    return "、".join(lbl(kind, c) for c in str(codes).split(",") if c) if isinstance(codes, str) else ""


table = pd.DataFrame(
    {
        t("common.household_id"): view["household_id"],
        t("common.township"): view["township_code"].map(names),
        t("register.status"): view["status"].map(lambda s: t(f"wf.mon.{s}")),
        t("register.since"): view["since"].map(lambda p: format_period(int(p), lang) if pd.notna(p) else ""),
        t("register.category"): view["category"].map(lambda c: lbl("category", c)),
        t("register.risk_types"): view["risk_types"].map(lambda c: labels(c, "risk")),
        t("register.measures"): view["measures"].map(lambda c: labels(c, "measure")),
        t("common.score"): view["score"],
        t("common.tier"): view["tier"].map(lambda x: lbl("tier", x) if isinstance(x, str) else ""),
        t("register.months_above"): view["months_above"],
        t("register.eligible"): view["eligible"].map(lambda v: t("register.yes") if v is True else ""),
        t("register.no_labour"): view["no_labour_guarantee"].map(lambda v: t("register.yes") if v else ""),
    }
)
st.subheader(t("register.table", n=fmt.count(len(table), lang)))
if table.empty:
    st.info(t("register.empty"))
st.dataframe(table, hide_index=True, width="stretch", height=320, key="rg_table")
download_table(ctx, table, f"register_{period}", "rg_dl")

left, right = st.columns(2)
# ---- propose an elimination (the rules are checked first)
with left:
    st.subheader(t("register.propose"))
    candidates = reg[reg["status"] == "monitored"]["household_id"].tolist()
    if not candidates:
        st.info(t("register.no_candidates"))
    else:
        hid = st.selectbox(t("common.household_id"), candidates, key="rg_hid")
        row = elig.set_index("household_id").loc[hid]
        checks = [
            (bool(row["months_above"] >= elimination.STABLE_MONTHS), t("register.rule_income", n=int(row["months_above"]), months=elimination.STABLE_MONTHS)),
            (bool(row["spending_ok"]), t("register.rule_spending", spending=fmt.yuan(float(row["spending"]), lang), share=fmt.pct(elimination.SPENDING_SHARE, 0))),
            (not bool(row["no_labour"]), t("register.rule_labour")),
        ]
        for ok, text in checks:
            st.markdown(("✅ " if ok else "❌ ") + text)
        ident = reg.set_index("household_id").loc[hid, "since"]
        if pd.notna(ident) and monitoring.early_elimination(int(ident), period):
            st.warning(t("register.early_flag", since=format_period(int(ident), lang)))
        method = st.radio(t("register.method"), list(common.METHODS), format_func=lambda c: t(f"wf.method.{c}"), key="rg_method", horizontal=True)
        if method == "by_assistance" and not elimination.development_measures(engine, hid, principal=me):
            st.warning(t("register.no_development"))
        note = st.text_input(t("register.note"), key="rg_note")
        st.button(t("register.propose_button"), key="rg_propose", type="primary", disabled=not (bool(row["eligible"]) and can(me, "elimination_propose")), on_click=on_propose, args=(hid,))

# ---- approve or reject (a second person)
with right:
    st.subheader(t("register.approve"))
    pending = reg[reg["status"] == "proposed"]
    if pending.empty:
        st.info(t("register.no_pending"))
    else:
        pids = pending["proposal_id"].astype(int).tolist()
        info = pending.set_index(pending["proposal_id"].astype(int))
        pid = st.selectbox(
            t("register.proposal"), pids, key=lkey("rg_pid"),
            format_func=lambda p: t("register.proposal_label", proposal=p, hid=info.loc[p, "household_id"], method=t(f"wf.method.{info.loc[p, 'method']}"), who=lbl("role", info.loc[p, "proposed_by"])),
        )
        st.caption(t("register.approve_hint", who=lbl("role", actor)))
        a_note = st.text_input(t("register.note"), key="rg_a_note")
        b1, b2 = st.columns(2)
        for col, approve, key in ((b1, True, "rg_approve"), (b2, False, "rg_reject")):
            col.button(t("register.approve_button") if approve else t("register.reject_button"), key=key, type="primary" if approve else "secondary", disabled=not can(me, "elimination_approve"), on_click=on_resolve, args=(pid, approve))

# ---- flags and history
st.subheader(t("register.flags"))
st.caption(t("register.flags_hint"))
if early.empty:
    st.write(t("register.no_flags"))
else:
    st.dataframe(
        pd.DataFrame({
            t("common.household_id"): early["household_id"],
            t("register.since"): early["identified"].map(lambda p: format_period(int(p), lang)),
            t("register.elim_month"): early["eliminated"].map(lambda p: format_period(int(p), lang)),
            t("register.status"): early["status"].map(lambda s: t(f"wf.mon.{s}")),
        }),
        hide_index=True, width="stretch",
    )

with st.expander(t("register.history")):
    if hist_all.empty:
        st.write(t("register.empty"))
    else:
        h = hist_all.sort_values("record_id", ascending=False)
        hist_table = pd.DataFrame({
            t("register.record"): h["record_id"],
            t("common.household_id"): h["household_id"],
            t("register.month"): h["period"].map(lambda p: format_period(int(p), lang)),
            t("register.status"): h["status"].map(lambda s: t(f"wf.mon.{s}")),
            t("register.category"): h["category"].map(lambda c: lbl("category", c)),
            t("register.method"): h["method"].map(lambda c: t(f"wf.method.{c}") if isinstance(c, str) else ""),
            t("register.recorded_by"): h["recorded_by"].map(lambda r: lbl("role", r)),
            t("register.approved_by"): h["approved_by"].map(lambda r: lbl("role", r) if isinstance(r, str) else ""),
            t("register.recorded_at"): h["recorded_at"],
        })
        st.dataframe(hist_table, hide_index=True, width="stretch", height=260)
        download_table(ctx, hist_table, "monitoring_history", "rg_hist_dl")
