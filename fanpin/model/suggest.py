"""Scoring a month with the saved model and sending the households it flags to the clue inbox (a person confirms each)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import and_, insert, select
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.access.audit import record
from fanpin.model.features import HISTORY, PanelData, features_for, load_panel
from fanpin.model.train import RiskModel
from fanpin.store.schema import clues, monitoring


# --------------------------------------------------------------------------- scoring and the human in the loop
def score_month(model: RiskModel, data: PanelData, period: int, top: int = 3) -> pd.DataFrame:
    """Every household's probability and main factors for ``period`` (features read months <= period)."""
    X = features_for(data, period)
    out = model.main_factors(X, top)
    out.insert(0, "probability", model.probability(X))
    out.insert(1, "below_line_now", X["inc_ratio"].to_numpy() < 1.0)
    return out


def months_needed(period: int) -> list[int]:
    """The panel months ``features_for(period)`` reads."""
    return [store.shift_period(period, -k) for k in range(HISTORY, -1, -1)]


def score_period(model: RiskModel, engine: Engine, period: int) -> pd.DataFrame:
    """Load only the months the features need, then score."""
    have = set(store.periods(engine))
    return score_month(model, load_panel(engine, [p for p in months_needed(period) if p in have]), period)


def monitored_households(engine: Engine) -> set[str]:
    """Households whose latest monitoring record says monitored."""
    with engine.connect() as conn:
        rows = conn.execute(select(monitoring.c.household_id, monitoring.c.status, monitoring.c.record_id).order_by(monitoring.c.record_id)).all()
    last: dict[str, str] = {}
    for hid, status, _ in rows:
        last[hid] = status
    return {h for h, s in last.items() if s == "monitored"}


def sent_households(engine: Engine) -> set[str]:
    """Households with a model clue still waiting in the inbox (not sent twice)."""
    with engine.connect() as conn:
        rows = conn.execute(select(clues.c.household_id).where(and_(clues.c.source == "model", clues.c.status == "new"))).all()
    return {r[0] for r in rows}


def candidates(scores: pd.DataFrame, monitored: set[str], threshold: float = 0.5, limit: int = 200) -> pd.DataFrame:
    """High-probability households above the line now and not under monitoring, highest first."""
    keep = (scores["probability"] >= threshold) & ~scores["below_line_now"] & ~scores.index.isin(list(monitored))
    return scores[keep].sort_values("probability", ascending=False).head(limit)


def send_to_clues(engine: Engine, picked: pd.DataFrame, period: int, actor: str, horizon: int, *, principal=None) -> int:  # noqa: ANN001 - Principal
    """A person sends the picked households to the clue inbox: one clue each plus one audit row.

    ``picked``: index household_id, columns probability, risk_type, factor_1..
    With a ``principal``: refused (``AccessDenied``) unless the role may send model
    results to clues and, for a scoped principal, every household is in their townships.
    """
    if principal is not None:
        from fanpin.access.roles import require, require_household

        require(principal, "model_to_clues")
        if principal.townships is not None:
            for hid in picked.index:  # a short hand-picked list
                require_household(principal, engine, str(hid))
    if picked.empty:
        return 0
    now = datetime.now()
    rows = []
    for hid, r in picked.iterrows():
        factors = ", ".join(str(r[c]) for c in ("factor_1", "factor_2", "factor_3") if c in r and r[c])
        rows.append(
            {
                "household_id": str(hid),
                "period": int(period),
                "channel": "department",
                "source": "model",
                "risk_type": str(r.get("risk_type") or "other"),
                "detail": f"模型预测{horizon}个月内跌破监测线概率 {r['probability']:.0%}（{factors}） / model: probability {r['probability']:.0%} of falling below the line within {horizon} months ({factors})",
                "received_at": now,
                "status": "new",
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(clues), rows)
        record(conn, actor, "model_to_clues", f"{len(rows)} households", {"period": int(period), "households": [r["household_id"] for r in rows]}, at=now)
    return len(rows)
