"""Reading the audit log (filters for the administrator's page)."""

from __future__ import annotations

import pandas as pd


# --------------------------------------------------------------------------- the audit log, read side
def audit_query(
    engine,  # noqa: ANN001 - Engine
    *,
    actor: str | None = None,
    action: str | None = None,
    target_contains: str | None = None,
    since=None,  # noqa: ANN001 - date or datetime
    until=None,  # noqa: ANN001 - date or datetime (inclusive day)
    limit: int = 2000,
) -> tuple[pd.DataFrame, int]:
    """Audit entries matching the filters, newest first (at most ``limit``), and how many match.

    The search text is a bound parameter with LIKE wildcards escaped, so it is data, never SQL."""
    from datetime import date, datetime, time, timedelta

    from sqlalchemy import func, select

    from fanpin.store.schema import audit_log

    a = audit_log.c
    conds = []
    if actor:
        conds.append(a.actor == str(actor))
    if action:
        conds.append(a.action == str(action))
    if target_contains:
        conds.append(a.target.contains(str(target_contains)[:64], autoescape=True))
    if since is not None:
        conds.append(a.at >= (since if isinstance(since, datetime) else datetime.combine(since, time.min)))
    if until is not None:
        end = until if isinstance(until, datetime) else datetime.combine(until + timedelta(days=1), time.min) if isinstance(until, date) else until
        conds.append(a.at < end)
    stmt = select(audit_log).where(*conds).order_by(a.at.desc(), a.audit_id.desc()).limit(max(int(limit), 0))
    count = select(func.count()).select_from(audit_log).where(*conds)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        total = int(conn.execute(count).scalar() or 0)
    return pd.DataFrame(rows, columns=[c.name for c in audit_log.columns]), total


def audit_actors(engine) -> list[str]:  # noqa: ANN001
    from sqlalchemy import select

    from fanpin.store.schema import audit_log

    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(select(audit_log.c.actor).distinct()))


def audit_actions(engine) -> list[str]:  # noqa: ANN001
    """The action codes in use (the known vocabulary first)."""
    from sqlalchemy import select

    from fanpin.access.audit import ACTIONS as KNOWN
    from fanpin.store.schema import audit_log

    with engine.connect() as conn:
        used = {r[0] for r in conn.execute(select(audit_log.c.action).distinct())}
    return [a for a in KNOWN if a in used] + sorted(used - set(KNOWN))
