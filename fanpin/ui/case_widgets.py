"""The official procedure on the pages: where every case stands, one case's steps, and the form
of the step it waits for (village review, notice, township check, county approval; resubmit or
withdraw a returned case).  Shared by 监测台账 and 我的待办.

The form is drawn only for a principal who may take that step now (``procedure.may_act``); the
step itself checks again in the domain, so the form is a courtesy, not the rule.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from fanpin.ui.evidence_widgets import evidence_panel
from fanpin.ui.i18n import kept_selectbox, lbl, t
from fanpin.ui.sidebar import Context
from fanpin.ui.tables import fitted
from fanpin.ui.text import md
from fanpin.ui.workflow_widgets import day_text, label_or_blank, run_step
from fanpin.workflow import procedure

CASE_LABELS = {
    "case_id": "case.id", "household_id": "common.household_id", "township": "common.township", "kind": "case.kind", "origin": "case.origin",
    "state": "case.state", "opened": "case.opened", "notice_end": "case.notice_end", "opened_by": "case.opened_by",
}
STEP_LABELS = {"step": "case.step", "result": "case.result", "done_by": "case.done_by", "done_at": "case.done_at", "step_date": "case.step_date",
               "document": "case.document", "reason": "case.reason"}


def case_frame(cases: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Cases with labels, code-name columns (the table and its download)."""
    return pd.DataFrame({
        "case_id": cases["case_id"].astype(int), "household_id": cases["household_id"], "township": cases["township_code"].map(names),
        "kind": cases["kind"].map(lambda c: lbl("case_kind", c)), "origin": cases["origin"].map(lambda c: lbl("case_origin", c)),
        "state": cases["state"].map(lambda c: lbl("case_state", c)), "opened": cases["opened_at"].map(lambda v: day_text(v)),
        "notice_end": cases["notice_end"].map(lambda v: day_text(v) if v is not None and pd.notna(v) else ""),
        "opened_by": cases["opened_by"].map(lambda r: lbl("role", r)),
    })


def case_table(cases: pd.DataFrame, names: dict[str, str], key: str) -> None:
    shown = case_frame(cases, names)
    # cells read whole ("Risk eliminat…", "On notice / awaiting town…" at 1366 px in English); wide: it scrolls
    st.dataframe(shown, hide_index=True, width="stretch", height=240, key=key, column_config=fitted(shown, {k: t(v) for k, v in CASE_LABELS.items()}))


def steps_table(steps: pd.DataFrame) -> None:
    shown = pd.DataFrame({
        "step": steps["step"].map(lambda c: lbl("case_step", c)), "result": steps["result"].map(lambda c: lbl("case_result", c)),
        "done_by": steps["done_by"].map(lambda r: lbl("role", r)), "done_at": steps["done_at"].map(lambda v: day_text(v, True)),
        "step_date": steps["step_date"].map(lambda v: day_text(v) if v is not None and pd.notna(v) else ""),
        "document": steps["document"].fillna(""), "reason": steps["reason"].fillna(""),
    })
    st.dataframe(shown, hide_index=True, width="stretch", column_config=fitted(shown, {k: t(v) for k, v in STEP_LABELS.items()}))


# ---- the callbacks (run before the script; read the form from the session state)
def on_step(ctx: Context, page: str, case_id: int, version: int, state: str) -> None:
    ss, k = st.session_state, f"_{case_id}"
    passed = ss.get(f"cs_pass{k}", "passed") == "passed"
    doc, reason = ss.get(f"cs_doc{k}") or None, ss.get(f"cs_reason{k}") or None
    day = ss.get(f"cs_date{k}") or date.today()
    common = {"principal": ctx.principal}
    steps = {
        "village_review": lambda: procedure.village_review(ctx.engine, case_id, version, passed=passed, meeting_date=day, document=doc, reason=reason, **common),
        "notice": lambda: procedure.start_notice(ctx.engine, case_id, version, first_day=day, document=doc, **common),
        "township_check": lambda: procedure.township_check(ctx.engine, case_id, version, passed=passed, document=doc, reason=reason, **common),
        "county_approval": lambda: procedure.county_approval(ctx.engine, case_id, version, passed=passed, document=doc, reason=reason, **common),
        "resubmit": lambda: procedure.resubmit(ctx.engine, case_id, version, note=reason, **common),
        "withdraw": lambda: procedure.withdraw(ctx.engine, case_id, version, reason=reason or "", **common),
    }
    if run_step(page, steps[state], t("case.done", case=case_id)):
        for field in ("cs_doc", "cs_reason"):
            ss.pop(f"{field}{k}", None)


def case_panel(ctx: Context, page: str, case: pd.Series, steps: pd.DataFrame, today: date) -> None:
    """One case: its facts, its steps so far, and the form of the step it waits for."""
    cid, state = int(case["case_id"]), case["state"]
    st.markdown(t("case.header", case=cid, hid=md(case["household_id"]), kind=lbl("case_kind", case["kind"]), state=lbl("case_state", state)))
    facts = [t("case.origin_is", origin=lbl("case_origin", case["origin"]))]
    if case["kind"] == "inclusion":
        risks = "、".join(lbl("risk", r) for r in str(case["risk_types"] or "").split(",") if r)
        facts.append(t("case.inclusion_facts", category=label_or_blank("category", case["category"]), risks=risks or "—"))
    else:
        facts.append(t("case.elimination_facts", method=label_or_blank("elimination_method", case["method"])))
    if state == "returned" and case["returned_reason"]:
        facts.append(t("case.returned_because", reason=md(case["returned_reason"])))
    st.caption(" · ".join(facts))
    steps_table(steps)
    evidence_panel(ctx, "case", cid, household_id=case["household_id"], township=case.get("township_code"))
    if state in ("approved", "withdrawn"):
        return
    if not procedure.may_act(case, ctx.principal, today):
        st.info(_why_not(case, ctx, today))
        return
    _form(ctx, page, case, cid, state)


def _why_not(case: pd.Series, ctx: Context, today: date) -> str:
    end = case["notice_end"]
    if case["state"] == "township_check" and end is not None and pd.notna(end) and today < pd.Timestamp(end).date():
        return t("case.notice_running", until=day_text(end))
    if case["state"] in ("township_check", "county_approval") and case["opened_by"] == ctx.principal.username:
        return t("case.not_you")
    return t("case.waiting_for", step=lbl("case_state", case["state"]))


def _form(ctx: Context, page: str, case: pd.Series, cid: int, state: str) -> None:
    k = f"_{cid}"
    st.markdown(f"**{lbl('case_state', state)}**")
    if state == "returned":
        st.text_input(t("case.reason_or_note"), key=f"cs_reason{k}")
        c1, c2 = st.columns(2)
        c1.button(t("case.resubmit"), key=f"cs_resubmit{k}", on_click=on_step, args=(ctx, page, cid, int(case["version"]), "resubmit"))
        c2.button(t("case.withdraw"), key=f"cs_withdraw{k}", on_click=on_step, args=(ctx, page, cid, int(case["version"]), "withdraw"))
        return
    if state in ("village_review", "township_check", "county_approval"):
        # keyed per language: a radio keyed alone lost its choice after a switch (nothing picked, and the step then read as rejected)
        kept_selectbox(st, t("case.result"), ["passed", "rejected"], f"cs_pass{k}", {c: lbl("case_result", c) for c in ("passed", "rejected")}.__getitem__, "passed",
                       kind="radio", horizontal=True)
    if state in ("village_review", "notice"):
        st.date_input(t("case.meeting_date" if state == "village_review" else "case.notice_first_day"), value=date.today(), max_value=date.today(), key=f"cs_date{k}")
    if state == "notice":
        st.caption(t("case.notice_rule", days=procedure.notice_days(ctx.engine)))
    st.text_input(t(f"case.document_{state}"), key=f"cs_doc{k}")
    if state != "notice":
        st.text_input(t("case.reason_if_rejected"), key=f"cs_reason{k}")
    st.button(t("case.submit", step=lbl("case_step", state)), key=f"cs_submit{k}", type="primary", on_click=on_step, args=(ctx, page, cid, int(case["version"]), state))

