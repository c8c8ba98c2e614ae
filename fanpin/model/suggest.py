"""Scoring a month with the saved model and sending the households it flags to the clue inbox
(a person picks them and confirms; the model never sends on its own).

Both read or write households' data, so both take the acting principal: ``score_period``
keeps the principal's townships only, ``send_to_clues`` checks ``model_to_clues`` (and the
townships) and writes through the one clue writer, ``fanpin.store.clues.insert_clues``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.access.audit import record
from fanpin.access.roles import Principal, require, require_household, scope_frame
from fanpin.model.features import HISTORY, PanelData, features_for, load_panel
from fanpin.model.train import RiskModel
from fanpin.store import model as model_store
from fanpin.store.clues import insert_clues

FACTOR_COLUMNS: tuple[str, ...] = ("factor_1", "factor_2", "factor_3")


# --------------------------------------------------------------------------- scoring
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


def score_period(model: RiskModel, engine: Engine, period: int, *, principal: Principal) -> pd.DataFrame:
    """Load only the months the features need, score, and keep the principal's townships.

    Scores are per household (its own history only), so scoping after scoring changes no one's."""
    have = set(store.periods(engine))
    data = load_panel(engine, [p for p in months_needed(period) if p in have])
    scores = score_month(model, data, period)
    if principal is None or principal.townships is not None:
        seen = scope_frame(data.snapshots[period][["household_id", "township_code"]], principal)
        scores = scores[scores.index.isin(seen["household_id"].astype(str))]
    return scores


# --------------------------------------------------------------------------- the human in the loop
def monitored_households(engine: Engine) -> set[str]:
    """Households whose latest monitoring record says monitored."""
    return model_store.monitored_households(engine)


def sent_households(engine: Engine) -> set[str]:
    """Households with a model clue still waiting in the inbox (not sent twice)."""
    return model_store.waiting_model_clues(engine)


def followed_households(engine: Engine) -> set[str]:
    """Households a candidate list leaves out: monitored already, or sent and still waiting."""
    return monitored_households(engine) | sent_households(engine)


def candidates(scores: pd.DataFrame, monitored: set[str], threshold: float = 0.5, limit: int = 200) -> pd.DataFrame:
    """High-probability households above the line now and not under monitoring, highest first."""
    keep = (scores["probability"] >= threshold) & ~scores["below_line_now"] & ~scores.index.isin(list(monitored))
    return scores[keep].sort_values("probability", ascending=False).head(limit)


def _clue_row(hid: str, r: pd.Series, period: int, horizon: int, now: datetime) -> dict[str, object]:
    factors = ", ".join(str(r[c]) for c in FACTOR_COLUMNS if c in r and r[c])
    p = r["probability"]
    return {
        "household_id": str(hid),
        "period": int(period),
        "channel": "department",
        "source": "model",
        "risk_type": str(r.get("risk_type") or "other"),
        "detail": f"模型预测{horizon}个月内跌破监测线概率 {p:.0%}（{factors}） / model: probability {p:.0%} of falling below the line within {horizon} months ({factors})",
        "received_at": now,
        "status": "new",
    }


def send_to_clues(engine: Engine, picked: pd.DataFrame, period: int, horizon: int, *, principal: Principal) -> int:
    """A person sends the picked households to the clue inbox: one clue each plus one audit row
    (as ``principal.actor``), in one transaction.

    ``picked``: index household_id, columns probability, risk_type, factor_1..  Refused
    (``AccessDenied``) unless the role may send model results to clues and, for a scoped
    principal, every household is in their townships.
    """
    require(principal, "model_to_clues")
    if principal.townships is not None:
        for hid in picked.index:  # a short hand-picked list
            require_household(principal, engine, str(hid))
    if picked.empty:
        return 0
    now = datetime.now()
    rows = [_clue_row(str(hid), r, period, horizon, now) for hid, r in picked.iterrows()]
    with engine.begin() as conn:
        insert_clues(conn, rows)
        record(conn, principal.actor, "model_to_clues", f"{len(rows)} households", {"period": int(period), "households": [r["household_id"] for r in rows]}, at=now)
    return len(rows)
