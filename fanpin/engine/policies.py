"""Saved policies and scenarios: the baseline in force, saving, loading, adopting."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.engine.scoring import RiskPolicy
from fanpin.store.io import get_meta
from fanpin.store.schema import policies


def income_line_for(engine: Engine, period: int) -> float | None:
    """The provincial income line of the period's year, as stored with the data."""
    with engine.connect() as conn:
        raw = get_meta(conn, "income_lines")
    if not raw:
        return None
    lines = {int(k): float(v) for k, v in json.loads(raw).items()}
    year = period // 100
    if year in lines:
        return lines[year]
    earlier = [y for y in lines if y <= year]
    return lines[max(earlier)] if earlier else lines[min(lines)]


def adopted_policy(engine: Engine) -> RiskPolicy | None:
    """The most recently adopted policy, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(policies.c.policy_json).where(policies.c.adopted_at.is_not(None)).order_by(policies.c.adopted_at.desc()).limit(1)
        ).first()
    return RiskPolicy.from_json(row[0]) if row else None


def baseline_policy(engine: Engine, period: int) -> RiskPolicy:
    """The adopted baseline if any, else the shipped default with the period's income line."""
    adopted = adopted_policy(engine)
    if adopted is not None:
        return adopted
    return RiskPolicy.default(income_line=income_line_for(engine, period))


def save_policy(engine: Engine, policy: RiskPolicy, name: str, user: str | None = None, *, principal=None) -> int:  # noqa: ANN001 - Principal
    """Save (or overwrite) a named scenario; returns its id.  With a principal: refused unless the role may."""
    from dataclasses import replace

    if principal is not None:
        from fanpin.access.roles import require

        require(principal, "policy_save")
    policy = replace(policy, name=name)
    policy.validate()
    now = datetime.now()
    with engine.begin() as conn:
        row = conn.execute(select(policies.c.policy_id).where(policies.c.name == name)).first()
        if row:
            conn.execute(policies.update().where(policies.c.policy_id == row[0]).values(policy_json=policy.to_json(), created_at=now, created_by=user))
            return int(row[0])
        res = conn.execute(policies.insert().values(name=name, policy_json=policy.to_json(), created_at=now, created_by=user))
        return int(res.inserted_primary_key[0])


def list_policies(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(policies).order_by(policies.c.created_at.desc())).mappings().all()
    return [dict(r) for r in rows]


def load_policy(engine: Engine, name: str) -> RiskPolicy:
    with engine.connect() as conn:
        row = conn.execute(select(policies.c.policy_json).where(policies.c.name == name)).first()
    if row is None:
        raise KeyError(name)
    return RiskPolicy.from_json(row[0])


def adopt_policy(engine: Engine, name: str, user: str, *, principal=None) -> None:  # noqa: ANN001 - Principal
    """Make a saved scenario the baseline, recording who and when (and an audit row).

    With a principal: ``AccessDenied`` unless the role may adopt policies."""
    from fanpin.access.audit import record

    if principal is not None:
        from fanpin.access.roles import require

        require(principal, "policy_adopt")
    now = datetime.now()
    with engine.begin() as conn:
        res = conn.execute(policies.update().where(policies.c.name == name).values(adopted_at=now, adopted_by=user))
        if res.rowcount == 0:
            raise KeyError(name)
        row = conn.execute(select(policies.c.policy_id, policies.c.policy_json).where(policies.c.name == name)).first()
        record(conn, user, "policy_adopted", name, {"policy_id": int(row[0]), "income_line": RiskPolicy.from_json(row[1]).income_line}, at=now)
