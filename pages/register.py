"""监测台账 Monitoring register: who is monitored, since when, why, what assistance; where every case
of the official procedure stands (纳入监测 and 风险消除: village review, notice, township check,
county approval) and the step it waits for; risk elimination proposed when the rules hold."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from fanpin.access.roles import can
from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.engine.summary import forced_of
from fanpin.ui.case_widgets import CASE_LABELS, case_frame, case_panel, case_table
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import kept_selectbox, lbl, lkey, t
from fanpin.ui.labels import forced_note
from fanpin.ui.messages import show_flash
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.tables import fit_width, fitted
from fanpin.ui.workflow_widgets import codes_text, label_or_blank, run_step, townships_only
from fanpin.workflow import common, elimination, monitoring, procedure

PAGE = "register"
TABLE_LABELS = {
    "household_id": "common.household_id", "township": "common.township", "status": "register.status", "since": "register.since",
    "category": "register.category", "risk_types": "register.risk_types", "measures": "register.measures", "score": "common.score",
    "tier": "common.tier", "forced": "overview.forced", "months_above": "register.months_above", "eligible": "register.eligible", "no_labour": "register.no_labour",
}
HISTORY_LABELS = {
    "record_id": "register.record", "household_id": "common.household_id", "month": "register.month", "status": "register.status",
    "category": "register.category", "method": "register.method", "recorded_by": "register.recorded_by", "approved_by": "register.approved_by",
    "recorded_at": "register.recorded_at",
}


def _month(p: object, lang: str) -> str:
    return format_period(int(p), lang) if pd.notna(p) else ""


# ---- button callbacks: run before the script, reading the widgets from the session state
def on_propose(ctx: Context, hid: str) -> None:
    ss = st.session_state
    if run_step(PAGE, lambda: elimination.propose_elimination(
        ctx.engine, hid, ctx.period, ss.get("rg_method", "by_assistance"), ss.get("rg_note") or None, principal=ctx.principal,
    ), lambda pid: t("register.proposed", proposal=pid, hid=hid)):
        ss["rg_note"] = ""  # the note went with the proposal: the next one starts empty


# ---- the page's parts
def load(ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The register (with the month's scores and the elimination rules) and the eligibility frame."""
    with st.spinner(t("register.computing")):
        panel = ctx.data.panel_scores()  # the baseline, each month with its line
        reg = monitoring.register(ctx.engine, panel, ctx.period if ctx.period in panel.periods else None, include_eliminated=True, principal=ctx.principal)
        reg, elig = elimination.with_eligibility(ctx.engine, reg, ctx.period, principal=ctx.principal)
        why, line = forced_of(panel, ctx.period, reg["household_id"], ctx.data.baseline_saved())  # a tier above the score's says which rule set it
    return reg.assign(forced_by=why, forced_line=line), elig.frame


def metrics(reg: pd.DataFrame, lang: str) -> None:
    """The headline counts, from the same register rows the table shows."""
    m = st.columns(4)
    m[0].metric(t("register.monitored"), fmt.count(int((reg["status"] == "monitored").sum()), lang))
    m[1].metric(t("register.pending"), fmt.count(int((reg["status"] == "proposed").sum()), lang))
    m[2].metric(t("register.eliminated"), fmt.count(int((reg["status"] == "eliminated").sum()), lang))
    m[3].metric(t("register.eligible_now"), fmt.count(int(reg["eligible_now"].sum()), lang), help=t("register.eligible_help"))


def register_frame(view: pd.DataFrame, names: dict[str, str], lang: str) -> pd.DataFrame:
    """The register with code-name columns, values labelled; the score, the tier and why (a tier rule) in sight."""
    return pd.DataFrame({
        "household_id": view["household_id"], "township": view["township_code"].map(names), "score": view["score"].round(1),
        "tier": view["tier"].map(lambda x: label_or_blank("tier", x)),
        "forced": [forced_note(w, x, a, lang) for w, x, a in zip(view["forced_by"], view["tier"], view["forced_line"])],
        "status": view["status"].map(lambda s: lbl("monitoring_status", s)), "since": view["since"].map(lambda p: _month(p, lang)),
        "category": view["category"].map(lambda c: label_or_blank("category", c)), "risk_types": view["risk_types"].map(lambda c: codes_text(c, "risk")),
        "measures": view["measures"].map(lambda c: codes_text(c, "measure")), "months_above": view["months_above"],
        "eligible": view["eligible"].map(lambda v: t("register.yes") if v is True else ""),
        "no_labour": view["no_labour_guarantee"].map(lambda v: t("register.yes") if v else ""),
    })


def register_table(ctx: Context, reg: pd.DataFrame, names: dict[str, str]) -> None:
    f1, f2 = st.columns(2)
    towns = [c for c in names if ctx.principal.sees(c)]
    town = f1.selectbox(t("common.township"), [None, *towns], format_func=lambda c: t("common.all") if c is None else names[c], key=lkey("rg_town"))
    cat = f2.selectbox(t("register.category"), [None, *common.CATEGORIES], format_func=lambda c: t("common.all") if c is None else lbl("category", c), key=lkey("rg_cat"))
    view = reg[(reg["township_code"] == town) if town else slice(None)]
    view = view[view["category"] == cat] if cat else view
    table, labels = register_frame(view, names, ctx.lang), {c: t(k) for c, k in TABLE_LABELS.items()}
    st.subheader(t("register.table", n=fmt.count(len(table), ctx.lang)))
    if table.empty:
        st.info(t("register.empty"))
    st.dataframe(table, hide_index=True, width="stretch", height=320, key="rg_table", column_config=fitted(table, labels, score=st.column_config.NumberColumn(labels["score"], format="%.1f", width=fit_width([], labels["score"]))))  # cells read whole; wide: it scrolls
    download_table(ctx, table, f"register_{ctx.period}", "rg_dl", labels=labels)


def propose_form(ctx: Context, reg: pd.DataFrame, elig: pd.DataFrame) -> None:
    """Propose an elimination: the rules are shown, checked and the button enabled only when they hold."""
    st.subheader(t("register.propose"))
    candidates = reg[reg["status"] == "monitored"]["household_id"].tolist()
    if not candidates:
        st.info(t("register.no_candidates"))
        return
    hid = st.selectbox(t("common.household_id"), candidates, key="rg_hid")
    row = elig.set_index("household_id").loc[hid]
    share = fmt.pct(elimination.SPENDING_SHARE, 0)
    checks = [
        (bool(row["months_above"] >= elimination.STABLE_MONTHS), t("register.rule_income", n=int(row["months_above"]), months=elimination.STABLE_MONTHS)),
        (bool(row["spending_ok"]), t("register.rule_spending", spending=fmt.yuan(float(row["spending"]), ctx.lang), share=share)),
        (not bool(row["no_labour"]), t("register.rule_labour")),
    ]
    for ok, text in checks:
        st.markdown(("✅ " if ok else "❌ ") + text)
    ident = reg.set_index("household_id").loc[hid, "since"]
    if pd.notna(ident) and monitoring.early_elimination(int(ident), ctx.period):
        st.warning(t("register.early_flag", since=format_period(int(ident), ctx.lang)))
    methods = {c: lbl("elimination_method", c) for c in common.METHODS}
    method = kept_selectbox(st, t("register.method"), list(common.METHODS), "rg_method", methods.__getitem__, common.METHODS[0], kind="radio", horizontal=True)
    if method == "by_assistance" and not elimination.development_measures(ctx.engine, hid, principal=ctx.principal):
        st.warning(t("register.no_development"))
    st.text_input(t("register.note"), key="rg_note")
    allowed = bool(row["eligible"]) and can(ctx.principal, "elimination_propose")
    st.button(t("register.propose_button"), key="rg_propose", type="primary", disabled=not allowed, on_click=on_propose, args=(ctx, hid))


def cases_section(ctx: Context, names: dict[str, str]) -> None:
    """Where every case of the official procedure stands; one case's steps and the step it waits for."""
    st.subheader(t("register.cases"))
    st.caption(t("register.cases_hint", days=procedure.notice_days(ctx.engine)))
    show_closed = st.toggle(t("register.cases_closed"), key="rg_cases_closed")
    cases = procedure.cases(ctx.engine, principal=ctx.principal, include_closed=show_closed)
    if cases.empty:
        st.info(t("register.no_cases"))
        return
    case_table(cases, names, "rg_cases")
    download_table(ctx, case_frame(cases, names), "cases", "rg_cases_dl", labels={k: t(v) for k, v in CASE_LABELS.items()})
    ids = cases["case_id"].astype(int).tolist()
    info = cases.set_index(cases["case_id"].astype(int))
    shown_as = {c: t("register.case_label", case=c, hid=info.loc[c, "household_id"], state=lbl("case_state", info.loc[c, "state"])) for c in ids}
    cid = kept_selectbox(st, t("register.case"), ids, "rg_case", shown_as.__getitem__, ids[0])  # keyed per language: the label in the language shown
    case_panel(ctx, PAGE, info.loc[cid], procedure.steps(ctx.engine, [cid], principal=ctx.principal), date.today())


def flags(early: pd.DataFrame, lang: str) -> None:
    st.subheader(t("register.flags"))
    st.caption(t("register.flags_hint"))
    if early.empty:
        st.write(t("register.no_flags"))
        return
    shown = pd.DataFrame({
        "household_id": early["household_id"], "since": early["identified"].map(lambda p: _month(p, lang)),
        "elim_month": early["eliminated"].map(lambda p: _month(p, lang)), "status": early["status"].map(lambda s: lbl("monitoring_status", s)),
    })
    labels = {"household_id": "common.household_id", "since": "register.since", "elim_month": "register.elim_month", "status": "register.status"}
    st.dataframe(shown, hide_index=True, width="stretch", column_config={k: st.column_config.Column(t(v)) for k, v in labels.items()})


def history(ctx: Context, hist_all: pd.DataFrame) -> None:
    with st.expander(t("register.history")):
        if hist_all.empty:
            st.write(t("register.empty"))
            return
        h = hist_all.sort_values("record_id", ascending=False)
        table = pd.DataFrame({
            "record_id": h["record_id"], "household_id": h["household_id"], "month": h["period"].map(lambda p: _month(p, ctx.lang)),
            "status": h["status"].map(lambda s: lbl("monitoring_status", s)), "category": h["category"].map(lambda c: label_or_blank("category", c)),
            "method": h["method"].map(lambda c: label_or_blank("elimination_method", c)), "recorded_by": h["recorded_by"].map(lambda r: lbl("role", r)),
            "approved_by": h["approved_by"].map(lambda r: label_or_blank("role", r)), "recorded_at": h["recorded_at"],
        })
        labels = {c: t(k) for c, k in HISTORY_LABELS.items()}
        st.dataframe(table, hide_index=True, width="stretch", height=260, column_config={k: st.column_config.Column(v) for k, v in labels.items()})
        download_table(ctx, table, "monitoring_history", "rg_hist_dl", labels=labels)


def main() -> None:
    ctx = page_context(PAGE)
    names = townships_only(ctx.data.township_names(ctx.lang))
    st.title(t("register.title"))
    st.caption(t("register.caption", month=format_period(ctx.period, ctx.lang), months=elimination.STABLE_MONTHS, share=fmt.pct(elimination.SPENDING_SHARE, 0)))
    show_flash(PAGE)
    reg, elig = load(ctx)
    hist_all = monitoring.monitoring_history(ctx.engine, principal=ctx.principal)
    metrics(reg, ctx.lang)
    register_table(ctx, reg[reg["status"] != "eliminated"], names)
    cases_section(ctx, names)
    propose_form(ctx, reg[reg["status"] != "eliminated"], elig)
    flags(monitoring.early_eliminations(ctx.engine, principal=ctx.principal), ctx.lang)
    history(ctx, hist_all)


main()
