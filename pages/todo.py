"""我的待办 My work: what waits for the logged-in user (orders to verify and decide, cases waiting for
their step, notices that have ended, returned cases), overdue first; the step is taken right here."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from fanpin.core import fmt
from fanpin.core.i18n import translate
from fanpin.ui.case_widgets import case_panel
from fanpin.ui.downloads import download_file
from fanpin.ui.i18n import kept_selectbox, lbl, lkey, t
from fanpin.ui.messages import show_flash
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.workflow_widgets import day_text, townships_only
from fanpin.workflow import procedure, todo

PAGE = "todo"
LABELS = {"item": "todo.item", "household_id": "common.household_id", "township": "common.township", "due": "todo.due", "days_left": "todo.days_left",
          "overdue": "todo.overdue"}


def items_frame(items: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The list as the user reads it: what to do, for whom, where, by when."""
    return pd.DataFrame({
        "item": [t(f"todo.kind.{k}", ref=r) for k, r in zip(items["kind"], items["ref"])],
        "household_id": items["household_id"], "township": items["township_code"].map(names),
        "due": items["due"].map(lambda d: day_text(d) if d is not None and pd.notna(d) else ""),
        "days_left": items["days_left"].map(lambda d: "" if pd.isna(d) else str(int(d))),  # text throughout (a mixed column failed Arrow)
        "overdue": items["overdue"].map(lambda v: t("todo.overdue_mark") if v else ""),
    })


def go_to_order(order_id: int) -> None:
    """Open the order on 预警处置 (its orders tab, this order picked)."""
    st.session_state[lkey("cl_order")] = int(order_id)


def work_on(ctx: Context, item: pd.Series) -> None:
    """The chosen item: an order opens on 预警处置; a case is worked here."""
    if str(item["kind"]).startswith("order"):
        st.info(t("todo.order_hint", order=int(item["ref"])))
        if st.button(t("todo.open_order"), key="td_open_order", on_click=go_to_order, args=(int(item["ref"]),)):
            st.switch_page("pages/clues.py")
        return
    cases = procedure.cases(ctx.engine, principal=ctx.principal, include_closed=False)
    found = cases[cases["case_id"].astype(int) == int(item["ref"])]
    if found.empty:
        st.info(t("todo.gone"))
        return
    case_panel(ctx, PAGE, found.iloc[0], procedure.steps(ctx.engine, [int(item["ref"])], principal=ctx.principal), date.today())


def digest_download(ctx: Context, d: todo.Digest, today: date) -> None:
    """The day's list as a text file (bureaus send it by their own messaging), audited like any download."""
    text = todo.digest_text(d, ctx.principal, today, lambda key, **p: translate(key, ctx.lang, **p))
    download_file(ctx, lambda: text.encode("utf-8"), f"todo_{ctx.principal.username}_{today:%Y%m%d}.txt", "text/plain", "td_digest",
                  audit_name=f"todo_{today:%Y%m%d}", fmt="txt", label=t("todo.digest"), icon="📝")


def main() -> None:
    ctx = page_context(PAGE)
    names = townships_only(ctx.data.township_names(ctx.lang))
    today = date.today()
    st.title(t("todo.title"))
    st.caption(t("todo.caption", day=today.isoformat(), who=lbl("role", ctx.principal.role)))
    show_flash(PAGE)
    d = todo.my_work(ctx.engine, principal=ctx.principal, today=today)
    m = st.columns(3)
    m[0].metric(t("todo.count"), fmt.count(d.count, ctx.lang))
    m[1].metric(t("todo.overdue"), fmt.count(d.overdue, ctx.lang))
    m[2].metric(t("todo.cases_waiting"), fmt.count(int(d.items["kind"].str.startswith("case").sum() + (d.items["kind"] == "notice_ended").sum()), ctx.lang))
    if not d.count:
        st.success(t("todo.nothing"))
        digest_download(ctx, d, today)
        return
    shown = items_frame(d.items, names)
    st.dataframe(shown.style.apply(lambda r: ["background-color: #fde2e1" if r["overdue"] else "" for _ in r], axis=1), hide_index=True, width="stretch",
                 height=min(420, 38 + 35 * len(shown)), key="td_table", column_config={k: st.column_config.Column(t(v)) for k, v in LABELS.items()})
    digest_download(ctx, d, today)
    keys = [f"{k}:{r}" for k, r in zip(d.items["kind"], d.items["ref"])]
    shown_as = {k: f"{shown['item'].iloc[i]} · {shown['household_id'].iloc[i]}" for i, k in enumerate(keys)}
    # keyed per language: a widget keyed alone kept the Chinese item after a switch to English
    pick = kept_selectbox(st, t("todo.pick"), keys, "td_pick", shown_as.get, keys[0])
    work_on(ctx, d.items.iloc[keys.index(pick)])


main()
