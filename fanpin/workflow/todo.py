"""My work (我的待办): what waits for the logged-in user, overdue first.

Four kinds of item, each something this principal may do now (the same rules the steps check):
orders to verify or decide in their townships (days left to the 15-day target), cases waiting
for a step they may take (village review, notice, township check, county approval), notices
whose period has ended (the township check may start), and cases returned (to resubmit or
withdraw).  Counted the same way for the sidebar's badge and the daily digest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal, can
from fanpin.workflow import orders, procedure
from fanpin.workflow.common import read_scope

#: Item kinds, in the order they are listed when equally urgent.
KINDS: tuple[str, ...] = ("order_verify", "order_decide", "case_returned", "notice_ended", "case_step")
COLUMNS: tuple[str, ...] = ("kind", "ref", "household_id", "township_code", "step", "since", "due", "days_left", "overdue")


@dataclass(frozen=True)
class Digest:
    """The items and how many are overdue."""

    items: pd.DataFrame
    overdue: int

    @property
    def count(self) -> int:
        return len(self.items)


def _order_items(engine: Engine, principal: Principal, today: date) -> pd.DataFrame:
    if not (can(principal, "order_work") or can(principal, "order_decide")):
        return pd.DataFrame(columns=list(COLUMNS))
    f = orders.list_orders(engine, states=("open", "verifying"), today=today, principal=principal)
    if principal.townships is not None:  # a township role: what is assigned to their townships or sits in them
        f = f[f["township_code"].isin(sorted(principal.townships))]
    due = pd.to_datetime(f["due_date"]).dt.date
    return pd.DataFrame({
        "kind": np.where(f["state"] == "open", "order_verify", "order_decide"), "ref": f["order_id"].astype(int),
        "household_id": f["household_id"], "township_code": f["township_code"], "step": f["state"],
        "since": pd.to_datetime(f["created_at"]).dt.date, "due": due,
        "days_left": [(d - today).days if pd.notna(d) else np.nan for d in due],
    })


def _case_items(engine: Engine, principal: Principal, today: date) -> pd.DataFrame:
    c = procedure.cases(engine, principal=principal, include_closed=False)
    if c.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    mine = c[[procedure.may_act(r, principal, today) for _i, r in c.iterrows()]]  # open cases: a few dozen, not households
    kind = np.select([mine["state"] == "returned", mine["state"] == "township_check"], ["case_returned", "notice_ended"], "case_step")
    due = pd.to_datetime(mine["notice_end"]).dt.date.where(mine["state"] == "township_check")
    return pd.DataFrame({
        "kind": kind, "ref": mine["case_id"].astype(int), "household_id": mine["household_id"], "township_code": mine["township_code"],
        "step": mine["state"], "since": pd.to_datetime(mine["updated_at"]).dt.date, "due": due, "days_left": np.nan,
    })


def my_work(engine: Engine, *, principal: Principal, today: date | None = None) -> Digest:
    """What waits for ``principal`` today: overdue first, then by days left, then by kind and age."""
    read_scope(principal)
    today = today or date.today()
    parts = [p for p in (_order_items(engine, principal, today), _case_items(engine, principal, today)) if len(p)]
    if not parts:
        return Digest(pd.DataFrame(columns=list(COLUMNS)), 0)
    f = pd.concat(parts, ignore_index=True)
    f["days_left"] = pd.to_numeric(f["days_left"], errors="coerce")
    f["overdue"] = f["days_left"] < 0
    rank = f["kind"].map({k: i for i, k in enumerate(KINDS)})
    f = f.assign(_o=~f["overdue"], _d=f["days_left"].fillna(np.inf), _k=rank, _s=pd.to_datetime(f["since"]))
    f = f.sort_values(["_o", "_d", "_k", "_s", "ref"]).drop(columns=["_o", "_d", "_k", "_s"]).reset_index(drop=True)
    return Digest(f[list(COLUMNS)], int(f["overdue"].sum()))


def digest_text(d: Digest, principal: Principal, today: date, label: Callable[..., str]) -> str:
    """The daily digest as plain text (for a bureau's own messaging system): one line per item.

    ``label`` renders a message key in the user's language (``fanpin.core.i18n.translate``
    bound to a language), so this module stays free of any language."""
    lines = [label("todo.digest_title", user=principal.display_name or principal.username, day=today.isoformat(), n=d.count, overdue=d.overdue)]
    for r in d.items.itertuples(index=False):
        due = "" if r.due is None or pd.isna(r.due) else label("todo.digest_due", due=str(r.due), days=("" if pd.isna(r.days_left) else int(r.days_left)))
        lines.append(f"- {label(f'todo.kind.{r.kind}', ref=r.ref)} · {r.household_id}" + (f" · {due}" if due else "") + (f" · {label('todo.overdue_mark')}" if r.overdue else ""))
    if not d.count:
        lines.append(label("todo.nothing"))
    return "\n".join(lines) + "\n"
