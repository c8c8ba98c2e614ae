"""Saved policies and scenarios: the baseline in force, saving, loading, adopting.

``baseline_policy(engine, period)`` is *the policy in force for a month*: the adopted
scenario (else the shipped default) with the income line that holds for that month
(``fanpin.engine.income_line``).  Every page, the brief and the commands score a month with it,
so they agree.  The queries are in ``fanpin.store.policies``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from fanpin.access.audit import record
from fanpin.access.roles import Principal, require
from fanpin.engine.income_line import IncomeLine
from fanpin.engine.scoring import RiskPolicy
from fanpin.store import meta as meta_store
from fanpin.store import policies as store


def stored_lines(engine: Engine | Connection) -> IncomeLine:
    """The yearly income lines stored with the data (read through an engine or an open connection)."""
    return IncomeLine.stored(meta_store.income_lines(engine))


#: Years an income line may be set for (a typo such as 20255 is refused).
LINE_YEARS = (2000, 2100)


def set_income_line(engine: Engine, year: int, yuan: float, *, principal: Principal, now: datetime | None = None) -> float | None:
    """Store the province's income line of ``year`` (yuan per person per year) with the data, with
    an ``income_line_set`` audit row in the same transaction, and bump the data version (every
    month's scores follow the stored lines); returns the line the year had before (None).

    For a county imported from the national export, which brings no lines of its own.  Refused
    (``AccessDenied``) unless the role may adopt the baseline; ``ValueError`` for a year outside
    ``LINE_YEARS`` or a line that is not a positive number."""
    import math

    from fanpin.store.io import bump_data_version

    require(principal, "policy_adopt")
    year, yuan = int(year), float(yuan)
    if not LINE_YEARS[0] <= year <= LINE_YEARS[1]:
        raise ValueError(f"year {year} outside {LINE_YEARS[0]}..{LINE_YEARS[1]}")
    if not math.isfinite(yuan) or yuan <= 0:
        raise ValueError(f"an income line is a positive number of yuan, got {yuan}")
    at = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        lines = meta_store.income_lines(conn)
        before = lines.get(year)
        meta_store.set_income_lines(conn, {**lines, year: yuan})
        bump_data_version(conn, changed=())  # no household or panel row: the columnar copy carries over
        record(conn, principal.actor, "income_line_set", str(year), {"year": year, "yuan": yuan, "before": before}, at=at)
    return before


def income_line_for(engine: Engine, period: int) -> float | None:
    """The provincial income line of the period (the year rule over the stored lines), or None."""
    return stored_lines(engine).stored_at(period)


def adopted_policy(engine: Engine) -> RiskPolicy | None:
    """The most recently adopted policy as saved (its own line and ``line_year``), or None."""
    text = store.adopted_json(engine)
    return RiskPolicy.from_json(text) if text else None


def baseline(engine: Engine) -> RiskPolicy:
    """The adopted policy as saved, else the shipped default (which follows the stored lines)."""
    adopted = adopted_policy(engine)
    return adopted if adopted is not None else RiskPolicy.default()


def policy_in_force(policy: RiskPolicy, lines: IncomeLine, period: int) -> RiskPolicy:
    """``policy`` with the line that holds for ``period`` (the one rule, for callers holding the parts)."""
    return IncomeLine.of(policy, lines).apply(policy, period)


def baseline_policy(engine: Engine, period: int) -> RiskPolicy:
    """The policy in force for ``period``: the baseline with the month's income line."""
    return policy_in_force(baseline(engine), stored_lines(engine), period)


def save_policy(engine: Engine, policy: RiskPolicy, name: str, *, principal: Principal) -> int:
    """Save (or overwrite) a named scenario; returns its id, with an audit row (``policy_saved``: the line
    and cut-offs saved) in the same transaction.  Refused unless the role may save."""
    require(principal, "policy_save")
    policy = replace(policy, name=name)
    policy.validate()
    now = datetime.now()
    with engine.begin() as conn:
        policy_id = store.save(conn, name, policy.to_json(), now, principal.actor)
        detail = {"policy_id": policy_id, "income_line": policy.income_line, "cutoffs": f"{policy.cutoffs[0]:g} / {policy.cutoffs[1]:g}"}
        record(conn, principal.actor, "policy_saved", name, detail, at=now)
        return policy_id


def list_policies(engine: Engine) -> list[dict]:
    """Every saved policy's row (name, JSON, who saved and adopted it, when), newest first."""
    return store.rows(engine)


def load_policy(engine: Engine, name: str) -> RiskPolicy:
    """The named saved policy; ``KeyError`` when there is none."""
    text = store.policy_json(engine, name)
    if text is None:
        raise KeyError(name)
    return RiskPolicy.from_json(text)


def adopt_policy(engine: Engine, name: str, *, principal: Principal) -> None:
    """Make a saved scenario the baseline, recording who and when, with an audit row in the same
    transaction.  ``AccessDenied`` unless the role may adopt; ``KeyError`` for an unknown name."""
    require(principal, "policy_adopt")
    now = datetime.now()
    with engine.begin() as conn:
        found = store.adopt(conn, name, now, principal.actor)
        if found is None:
            raise KeyError(name)
        policy_id, text = found
        policy = RiskPolicy.from_json(text)
        record(conn, principal.actor, "policy_adopted", name, {"policy_id": policy_id, "income_line": policy.income_line}, at=now)
