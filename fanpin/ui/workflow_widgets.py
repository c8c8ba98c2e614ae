"""What the clues, register and profile pages share: labels for the workflow's codes, the message
for a refused step, and running a step from a button with its outcome flashed.

A button's callback runs before the page script, so a step (create an order, decide, propose,
approve) is run by ``run_step`` in the callback and its outcome kept for the next run through
``fanpin.ui.messages``.  Codes are stored, labels rendered here: ``clue_status.<code>``,
``order_state.<code>``, ``decision.<code>``, ``elimination_method.<code>``,
``monitoring_status.<code>`` and ``assignee_kind.<code>`` are the one vocabulary every page uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd
import streamlit as st

from fanpin.access.roles import AccessDenied
from fanpin.core.indicators import DEPARTMENTS
from fanpin.quality.rules import detail_text
from fanpin.ui.i18n import lang, lbl, t
from fanpin.ui.messages import flash
from fanpin.ui.text import md
from fanpin.workflow.common import ERROR_CODES, StaleOrder, WorkflowError


def is_missing(value: object) -> bool:
    """None, NaN or NaT (a NULL read into a frame)."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def label_or_blank(kind: str, code: object) -> str:
    """``lbl(kind, code)``, or "" for a NULL."""
    return "" if is_missing(code) else lbl(kind, str(code))


def codes_text(codes: object, kind: str) -> str:
    """Labels of a comma-separated list of codes ("illness,disaster" -> "因病、因灾"); "" for none."""
    sep = "、" if lang() == "zh" else ", "
    return sep.join(lbl(kind, c) for c in str(codes).split(",") if c) if isinstance(codes, str) else ""


def source_label(code: str) -> str:
    """A clue source: a department's name, or cadre / household / scoring / the model."""
    return lbl("department", code) if code in DEPARTMENTS else lbl("source", code)


def assignee_label(kind: str, code: str, township_names: Mapping[str, str]) -> str:
    """Who an order is assigned to: a township's name or a department's."""
    return township_names.get(code, code) if kind == "township" else lbl("department", code)


def day_text(ts: object, with_time: bool = False) -> str:
    """A date (or date and minute) for a table; "" for none."""
    if is_missing(ts):
        return ""
    return pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def townships_only(names: Mapping[str, str]) -> dict[str, str]:
    """Township names without the county's own row (its code ends in 000000)."""
    return {k: v for k, v in names.items() if not k.endswith("000000")}


def refusal_text(exc: Exception) -> str:
    """The message for a refused step: outside the townships, no right, someone else changed the
    order first, or the workflow's own rule."""
    if isinstance(exc, AccessDenied):
        return t("access.denied_township") if exc.code == "township" else t("access.denied", action=exc.code)
    if isinstance(exc, StaleOrder):
        at = f"{exc.changed_at:%Y-%m-%d %H:%M:%S}" if exc.changed_at else "?"
        return t("clues.stale", order=exc.order_id, who=lbl("role", exc.changed_by), at=at)
    if isinstance(exc, WorkflowError) and exc.code in ERROR_CODES:
        return t(f"wf.err.{exc.code}", **{k: md(v) for k, v in exc.fields.items()})
    return str(exc)


def run_step(page: str, step: Callable[[], object], ok: Callable[[object], str] | str) -> bool:
    """Run a workflow step; flash ``ok`` (or ``ok(result)``) on success, the refusal otherwise."""
    try:
        result = step()
    except (WorkflowError, AccessDenied) as exc:
        flash(page, "error", refusal_text(exc))
        return False
    flash(page, "success", ok(result) if callable(ok) else ok)
    return True


def decided_note(order: dict) -> None:
    """How a decided order was decided, by whom and when (its category and risks, or the reason)."""
    st.success(t("clues.decided_as", decision=lbl("decision", order["decision"]), who=md(lbl("role", order["decided_by"])), at=day_text(order["decided_at"], True)))
    if order["decision"] == "included":
        st.write(t("clues.decided_included", category=lbl("category", order["category"]), risks=codes_text(order["risk_types"], "risk")))
    else:
        st.write(t("clues.decided_reason", reason=md(order["reason"] or "")))


# --------------------------------------------------------------------------- the clues page's tables
# Code-name columns (downloads mask ``name``/``id_number``/``phone`` by name), values labelled.
def inbox_frame(inbox: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The inbox with code-name columns, values labelled."""
    return pd.DataFrame({
        "clue_id": inbox["clue_id"], "household_id": inbox["household_id"], "township": inbox["township_code"].map(names),
        "channel": inbox["channel"].map(lambda c: lbl("channel", c)), "source": inbox["source"].map(source_label),
        "risk_type": inbox["risk_type"].map(lambda c: lbl("risk", c)), "detail": [detail_text(d, lang()) for d in inbox["detail"]], "received_at": inbox["received_at"],
        "age_days": inbox["age_days"],
        "merged_into": inbox["merged_into"].map(lambda v: "" if is_missing(v) else str(int(v))),  # blank, not a grey "None"
    })


def orders_frame(orders: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The order list with code-name columns, values labelled."""
    return pd.DataFrame({
        "order_id": orders["order_id"], "household_id": orders["household_id"], "township": orders["township_code"].map(names),
        "assignee": [assignee_label(k, a, names) for k, a in zip(orders["assignee_kind"], orders["assignee"])],
        "state": orders["state"].map(lambda s: lbl("order_state", s)), "decision": orders["decision"].map(lambda d: label_or_blank("decision", d)),
        "n_clues": orders["n_clues"], "first_clue": pd.to_datetime(orders["first_clue_at"]).dt.date, "due": orders["due_date"],
        "days": orders["days_to_decision"].map(lambda v: "" if pd.isna(v) else str(int(v))),
        "overdue_col": orders["overdue"].map(lambda v: t("clues.yes") if v else ""),
        "updated": [f"{lbl('role', w)} {day_text(a, True)}" if day_text(a) else "" for a, w in zip(orders["updated_at"], orders["updated_by"])],
    })


def loop_frame(frame: pd.DataFrame, key: str, name_of: Callable[[str], str]) -> pd.DataFrame:
    """Closed-loop figures per township or department (``key``), the share in percent."""
    return pd.DataFrame({
        "unit": frame[key].map(name_of), "orders": frame["orders"], "overdue": frame["overdue"],
        "overdue_share": (100 * frame["overdue_share"].astype(float)).round(1), "median_days": frame["median_days"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
    })
