"""The reads the supervision rules need (one month's tables), their cache token, and the
supervision clues already written (so a finding becomes a clue once).

Frames are built column-wise from the cursor's rows (``zip`` runs in C): building them from
Row objects probes each one and was five times slower on the demo county.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Select, Table, func, or_, select
from sqlalchemy.engine import Connection, Engine

from fanpin.store.schema import clues, dept_records, households, members, meta, monitoring, official_relations, panel

HOUSEHOLD_COLUMNS: tuple[str, ...] = ("household_id", "village_code", "township_code", "size", "no_labour_guarantee", "n_labour", "n_weak_labour", "housing_secured")
MEMBER_COLUMNS: tuple[str, ...] = ("member_id", "household_id", "name", "id_number", "sex", "birth_date", "relation", "schooling", "labour_capacity",
                                   "dibao", "tekun", "public_welfare_job", "deceased_period")
PANEL_COLUMNS: tuple[str, ...] = ("household_id", "income_wage", "income_business", "income_net", "income_pc", "medical_oop", "housing_grade", "dibao", "tekun")
DEPT_COLUMNS: tuple[str, ...] = ("record_id", "id_number", "household_id", "source", "record_type", "period", "value")
RELATION_COLUMNS: tuple[str, ...] = ("official_post", "region_code", "relative_id_number", "relation")
MONITORING_COLUMNS: tuple[str, ...] = ("record_id", "household_id", "period", "status")


def _frame(conn: Connection, q: Select, columns: Sequence[str]) -> pd.DataFrame:
    rows = conn.execute(q).fetchall()
    cols = list(zip(*rows)) if rows else [()] * len(columns)
    return pd.DataFrame({c: pd.Series(v, dtype=object) if not v else list(v) for c, v in zip(columns, cols)})


def _pick(table: Table, columns: Sequence[str]) -> Select:
    return select(*[table.c[c] for c in columns])


def household_rows(conn: Connection) -> pd.DataFrame:
    """Every household's roster fields the rules read (``HOUSEHOLD_COLUMNS``)."""
    return _frame(conn, _pick(households, HOUSEHOLD_COLUMNS), HOUSEHOLD_COLUMNS)


def member_rows(conn: Connection) -> pd.DataFrame:
    """Every member (``MEMBER_COLUMNS``), the living and the dead."""
    return _frame(conn, _pick(members, MEMBER_COLUMNS), MEMBER_COLUMNS)


def panel_rows(conn: Connection, period: int, columns: Sequence[str] = PANEL_COLUMNS) -> pd.DataFrame:
    """One month's panel rows (``columns``, ``PANEL_COLUMNS`` by default)."""
    return _frame(conn, _pick(panel, columns).where(panel.c.period == int(period)), columns)


def dept_rows_until(conn: Connection, period: int) -> pd.DataFrame:
    """Department records known by ``period`` (undated ones included)."""
    d = dept_records.c
    return _frame(conn, _pick(dept_records, DEPT_COLUMNS).where(or_(d.period.is_(None), d.period <= int(period))), DEPT_COLUMNS)


def relation_rows(conn: Connection) -> pd.DataFrame:
    """Officials' declared close relatives."""
    return _frame(conn, _pick(official_relations, RELATION_COLUMNS), RELATION_COLUMNS)


def monitoring_until(conn: Connection, period: int) -> pd.DataFrame:
    """Monitoring records up to ``period``, in household then record order (the history's order)."""
    m = monitoring.c
    return _frame(conn, _pick(monitoring, MONITORING_COLUMNS).where(m.period <= int(period)).order_by(m.household_id, m.record_id), MONITORING_COLUMNS)


def clue_households(conn: Connection, risk_type: str | None = None, first: int | None = None, last: int | None = None) -> np.ndarray:
    """Distinct households with a clue (of ``risk_type``, between months ``first`` and ``last`` when given)."""
    c = clues.c
    q = select(c.household_id).distinct()
    if risk_type is not None:
        q = q.where(c.risk_type == risk_type)
    if first is not None:
        q = q.where(c.period >= int(first))
    if last is not None:
        q = q.where(c.period <= int(last))
    return np.array([r[0] for r in conn.execute(q)], dtype=object)


def supervision_clues(conn: Connection, source: str, period: int) -> pd.DataFrame:
    """household_id, detail of the clues from ``source`` in ``period`` (what a finding is matched against)."""
    c = clues.c
    rows = conn.execute(select(c.household_id, c.detail).where(c.source == source, c.period == int(period))).fetchall()
    return pd.DataFrame(rows, columns=["household_id", "detail"])


def household_townships(conn: Connection, household_ids: Iterable[str]) -> pd.Series:
    """household_id -> township code, for those of ``household_ids`` that exist (one query per 1,000)."""
    ids = sorted({str(h) for h in household_ids})
    h = households.c
    out: dict[str, str] = {}
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        out.update(conn.execute(select(h.household_id, h.township_code).where(h.household_id.in_(part))).fetchall())
    return pd.Series(out, dtype=object)


def household_heads(conn: Connection, household_ids: Sequence[str]) -> pd.DataFrame:
    """household_id, township_code, name, id_number of the heads of ``household_ids`` (unmasked: the caller masks)."""
    m, h = members.c, households.c
    out = []
    for start in range(0, len(household_ids), 1000):
        part = list(household_ids[start : start + 1000])
        q = (select(m.household_id, h.township_code, m.name, m.id_number).join_from(members, households, m.household_id == h.household_id)
             .where(m.relation == "head", m.household_id.in_(part)).order_by(m.household_id, m.member_id))
        out += conn.execute(q).fetchall()
    return pd.DataFrame(out, columns=["household_id", "township_code", "name", "id_number"]).drop_duplicates("household_id")


def latest_period(engine_or_conn: Engine | Connection) -> int | None:
    """The newest panel month (None on an empty panel)."""
    q = select(func.max(panel.c.period))
    if isinstance(engine_or_conn, Connection):
        return engine_or_conn.execute(q).scalar()
    with engine_or_conn.connect() as conn:
        return conn.execute(q).scalar()


def state_token(engine: Engine) -> str:
    """Changes whenever the rules' inputs may have: the data version (snapshot writes and imports)
    plus the newest clue, monitoring record, department record and relation (written without bumping it)."""
    parts = [select(func.max(t.c[k])) for t, k in ((clues, "clue_id"), (monitoring, "record_id"), (dept_records, "record_id"), (official_relations, "relation_id"))]
    with engine.connect() as conn:
        version = conn.execute(select(meta.c.value).where(meta.c.key == "data_version")).scalar()
        return "|".join([str(version), *(str(conn.execute(q).scalar()) for q in parts)])


__all__ = [
    "clue_households",
    "dept_rows_until",
    "household_heads",
    "household_rows",
    "household_townships",
    "latest_period",
    "member_rows",
    "monitoring_until",
    "panel_rows",
    "relation_rows",
    "state_token",
    "supervision_clues",
]
