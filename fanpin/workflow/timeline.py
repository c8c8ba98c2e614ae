"""One household's story on a time axis (events, clues, orders, monitoring, assistance) and its
幸福清单 (what assistance it received), from its ``HouseholdDetail``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fanpin.core.clue_text import render
from fanpin.workflow.profile import HouseholdDetail


def assistance_summary(assistance_rows: pd.DataFrame) -> pd.DataFrame:
    """The 幸福清单: per measure, how many times and how much (yuan), first and last month.

    A measure recorded without an amount counts as a time but adds nothing to
    the total; ordered by total amount, largest first.
    """
    cols = ["measure", "count", "amount", "first_period", "last_period"]
    if assistance_rows.empty:
        return pd.DataFrame(columns=cols)
    a = assistance_rows.assign(amount=pd.to_numeric(assistance_rows["amount"], errors="coerce"))
    g = a.groupby("measure", sort=True).agg(
        count=("measure", "size"),
        amount=("amount", lambda s: float(s.sum(min_count=0))),
        first_period=("period", "min"),
        last_period=("period", "max"),
    )
    g = g.reset_index().sort_values(["amount", "count", "measure"], ascending=[False, False, True], ignore_index=True)
    g["count"] = g["count"].astype(int)
    g["first_period"] = g["first_period"].astype(int)
    g["last_period"] = g["last_period"].astype(int)
    return g[cols]


# --------------------------------------------------------------------------- timeline
def _period_of(ts: object) -> int | None:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return None
    t = pd.Timestamp(ts)
    return None if pd.isna(t) else t.year * 100 + t.month


def timeline(detail: HouseholdDetail) -> pd.DataFrame:
    """Events, clues, orders, monitoring decisions and assistance on one time axis (oldest first).

    ``kind``: event / area_event / clue / order / monitoring / assistance;
    ``code`` is the kind's domain code (event type, risk type, order state,
    monitoring status, measure) for labelling.
    """
    parts = []
    e = detail.events
    if len(e):
        parts.append(pd.DataFrame({"period": e["period"], "kind": np.where(e["scope"] == "area", "area_event", "event"), "code": e["event_type"], "amount": e["amount"], "text": e["description"]}))
    c = detail.clues
    if len(c):
        parts.append(pd.DataFrame({"period": c["period"], "kind": "clue", "code": c["risk_type"], "amount": c["amount"], "text": c["detail"]}))
    o = detail.orders
    if len(o):
        parts.append(pd.DataFrame({"period": [_period_of(x) for x in o["created_at"]], "kind": "order", "code": o["state"], "amount": np.nan, "text": o["reason"]}))
    m = detail.monitoring
    if len(m):
        parts.append(pd.DataFrame({"period": m["period"], "kind": "monitoring", "code": m["status"], "amount": np.nan, "text": m["category"]}))
    a = detail.assistance
    if len(a):
        parts.append(pd.DataFrame({"period": a["period"], "kind": "assistance", "code": a["measure"], "amount": a["amount"], "text": a["description"]}))
    cols = ["period", "kind", "code", "amount", "text"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["amount"] = pd.to_numeric(out["amount"], errors="coerce")
    order = {k: i for i, k in enumerate(("area_event", "event", "clue", "order", "monitoring", "assistance"))}
    out["_k"] = out["kind"].map(order)
    out = out.sort_values(["period", "_k"], kind="stable", ignore_index=True).drop(columns="_k")
    out["period"] = out["period"].astype(int)
    return out[cols]


def pick_language(text: object, lang: str) -> str:
    """Stored text in the reader's language: a coded clue detail from the catalogue, bilingual feed text
    "中文 / English" by its half, other text unchanged (``fanpin.core.clue_text.render``; a supervision
    clue's rule name needs ``fanpin.quality.rules.detail_text``)."""
    return render(text, lang)
