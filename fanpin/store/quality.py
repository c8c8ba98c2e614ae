"""The reads the supervision rules need (one month's tables), their cache token, and the
supervision clues already written (so a finding becomes a clue once).

The county checks read the national monitoring record (``monitoring_records``: one row per
household, imported or written by the workflow), the assistance measures and the yearly incomes.

Frames are built column-wise from the cursor's rows (``zip`` runs in C): building them from
Row objects probes each one and was five times slower on the demo county.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Select, Table, func, or_, select
from sqlalchemy.engine import Connection, Engine

from fanpin.store.schema import (
    assistance,
    case_steps,
    cases,
    clues,
    dept_records,
    households,
    members,
    meta,
    monitoring,
    monitoring_records,
    official_relations,
    panel,
    yearly_incomes,
)

HOUSEHOLD_COLUMNS: tuple[str, ...] = ("household_id", "village_code", "township_code", "size", "no_labour_guarantee", "n_labour", "n_weak_labour", "housing_secured")
MEMBER_COLUMNS: tuple[str, ...] = ("member_id", "household_id", "name", "id_number", "sex", "birth_date", "relation", "schooling", "labour_capacity",
                                   "dibao", "tekun", "public_welfare_job", "deceased_period")
PANEL_COLUMNS: tuple[str, ...] = ("household_id", "income_wage", "income_business", "income_net", "income_pc", "medical_oop", "housing_grade", "dibao", "tekun")
DEPT_COLUMNS: tuple[str, ...] = ("record_id", "id_number", "household_id", "source", "record_type", "period", "value")
RELATION_COLUMNS: tuple[str, ...] = ("official_post", "region_code", "relative_id_number", "relation")
RECORD_COLUMNS: tuple[str, ...] = ("household_id", "monitoring_category", "risk_1", "risk_2", "risk_3", "risk_4", "risk_5", "identified_period",
                                   "eliminated", "elimination_method", "eliminated_period", "development_measures")
ASSISTANCE_COLUMNS: tuple[str, ...] = ("household_id", "measure", "period", "end_period")
EFFECT_COLUMNS: tuple[str, ...] = ("record_id", "household_id", "period", "status", "order_id", "proposal_id")
CASE_COLUMNS: tuple[str, ...] = ("case_id", "household_id", "kind", "order_id", "proposal_id", "period", "state")
STEP_COLUMNS: tuple[str, ...] = ("step_id", "case_id", "step", "result", "done_at", "step_date")


def _frame(conn: Connection, q: Select, columns: Sequence[str]) -> pd.DataFrame:
    rows = conn.execute(q).fetchall()
    cols = list(zip(*rows)) if rows else [()] * len(columns)
    return pd.DataFrame({c: pd.Series(v, dtype=object) if not v else list(v) for c, v in zip(columns, cols)})


def _pick(table: Table, columns: Sequence[str]) -> Select:
    return select(*[table.c[c] for c in columns])


def _kept(conn: Connection, name: str, q: Select, columns: Sequence[str]) -> pd.DataFrame:
    """A whole roster table's rows, kept as Parquet beside the columnar copy per data version: only
    writes that bump the version (imports, a rebuilt demo, a rolled-back import) change households
    and members, so a version's file is never stale.  Reading 340k members through SQL took 2.6 s
    of CPU at 100k households, the file 0.13 s.  The same frame either way (dtypes included); a
    file that cannot be read or written is passed by."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fanpin.store import columnar

    version = conn.execute(select(meta.c.value).where(meta.c.key == "data_version")).scalar()
    if not version:
        return _frame(conn, q, columns)
    stem = f"rules_{name}_{len(columns)}"
    path = columnar.side_path(conn.engine, stem, str(version), ".parquet")
    if not path.exists():  # the previous version's, when the write touched neither households nor members
        columnar.carry_side_file(conn.engine, stem, str(version), ".parquet", ("households", "members"))
    try:
        kept = pq.read_table(path).to_pandas() if path.exists() else None
        if kept is not None and list(kept.columns) == list(columns):
            return kept
    except (OSError, ValueError, pa.ArrowException):
        pass
    frame = _frame(conn, q, columns)
    if len(frame):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp, compression="lz4")
            tmp.replace(path)
            columnar.drop_other_versions(path, prefix=f"rules_{name}_")
        except (OSError, ValueError, pa.ArrowException):
            pass
    return frame


def household_rows(conn: Connection) -> pd.DataFrame:
    """Every household's roster fields the rules read (``HOUSEHOLD_COLUMNS``)."""
    return _kept(conn, "households", _pick(households, HOUSEHOLD_COLUMNS), HOUSEHOLD_COLUMNS)


def member_rows(conn: Connection) -> pd.DataFrame:
    """Every member (``MEMBER_COLUMNS``), the living and the dead."""
    return _kept(conn, "members", _pick(members, MEMBER_COLUMNS), MEMBER_COLUMNS)


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


def record_rows(conn: Connection) -> pd.DataFrame:
    """Every household's monitoring record (``RECORD_COLUMNS``), as the table holds it now."""
    return _frame(conn, _pick(monitoring_records, RECORD_COLUMNS).order_by(monitoring_records.c.household_id), RECORD_COLUMNS)


def assistance_rows_until(conn: Connection, period: int) -> pd.DataFrame:
    """Assistance measures started by ``period`` of the households that have a monitoring record
    (``ASSISTANCE_COLUMNS``: start month ``period``, ``end_period`` or None)."""
    a, r = assistance.c, monitoring_records.c
    q = _pick(assistance, ASSISTANCE_COLUMNS).join_from(assistance, monitoring_records, a.household_id == r.household_id).where(a.period <= int(period))
    return _frame(conn, q, ASSISTANCE_COLUMNS)


def eliminated_yearly_incomes(conn: Connection) -> pd.DataFrame:
    """household_id, year, income_pc of the yearly incomes of households whose record says eliminated."""
    y, r = yearly_incomes.c, monitoring_records.c
    q = (select(y.household_id, y.year, y.income_pc).join_from(yearly_incomes, monitoring_records, y.household_id == r.household_id)
         .where(r.eliminated.is_(True)))
    return _frame(conn, q, ("household_id", "year", "income_pc"))


def eliminated_panel_incomes(conn: Connection, periods: Sequence[int]) -> pd.DataFrame:
    """household_id, period, income_pc of the panel in ``periods`` for households whose record says eliminated."""
    cols = ("household_id", "period", "income_pc")
    if not len(periods):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    p, r = panel.c, monitoring_records.c
    q = (select(p.household_id, p.period, p.income_pc).join_from(panel, monitoring_records, p.household_id == r.household_id)
         .where(r.eliminated.is_(True), p.period.in_([int(x) for x in periods])))
    return _frame(conn, q, cols)


def yearly_income_rows(conn: Connection, years: Sequence[int]) -> pd.DataFrame:
    """household_id, year, income_pc of every household's yearly income in ``years``."""
    y = yearly_incomes.c
    return _frame(conn, select(y.household_id, y.year, y.income_pc).where(y.year.in_([int(x) for x in years])), ("household_id", "year", "income_pc"))


def effect_rows(conn: Connection, period: int) -> pd.DataFrame:
    """The monitoring history's rows by which something took effect in fanpin up to ``period``
    (``EFFECT_COLUMNS``): an inclusion (``monitored`` with an order, not the rejection of a
    proposal) or an approved elimination (``eliminated`` with its proposal)."""
    m = monitoring.c
    inclusion = (m.status == "monitored") & m.order_id.is_not(None) & m.proposal_id.is_(None)
    elimination = (m.status == "eliminated") & m.proposal_id.is_not(None)
    q = _pick(monitoring, EFFECT_COLUMNS).where(or_(inclusion, elimination), m.period <= int(period)).order_by(m.record_id)
    return _frame(conn, q, EFFECT_COLUMNS)


def case_rows(conn: Connection) -> pd.DataFrame:
    """Every case of the official procedure (``CASE_COLUMNS``)."""
    return _frame(conn, _pick(cases, CASE_COLUMNS).order_by(cases.c.case_id), CASE_COLUMNS)


def step_rows(conn: Connection) -> pd.DataFrame:
    """Every step of every case (``STEP_COLUMNS``), in the order they were taken."""
    return _frame(conn, _pick(case_steps, STEP_COLUMNS).order_by(case_steps.c.case_id, case_steps.c.step_id), STEP_COLUMNS)


def history_households(conn: Connection) -> list[str]:
    """Households with any row in the monitoring history."""
    return [r[0] for r in conn.execute(select(monitoring.c.household_id).distinct())]


def assisted_households(conn: Connection) -> list[str]:
    """Households with any assistance measure."""
    return [r[0] for r in conn.execute(select(assistance.c.household_id).distinct())]


def panel_periods_until(conn: Connection, period: int) -> list[int]:
    """The panel's months up to ``period``, ascending."""
    return [int(r[0]) for r in conn.execute(select(panel.c.period).distinct().where(panel.c.period <= int(period)).order_by(panel.c.period))]


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
    plus the newest clue, monitoring history row, department record, relation, assistance
    measure and case step, and the monitoring records' count and latest update (written without bumping it)."""
    parts = [select(func.max(t.c[k])) for t, k in ((clues, "clue_id"), (monitoring, "record_id"), (dept_records, "record_id"), (official_relations, "relation_id"),
                                                   (assistance, "assistance_id"), (monitoring_records, "updated_at"),
                                                   (case_steps, "step_id"))]
    parts.append(select(func.count()).select_from(monitoring_records))
    with engine.connect() as conn:
        version = conn.execute(select(meta.c.value).where(meta.c.key == "data_version")).scalar()
        return "|".join([str(version), *(str(conn.execute(q).scalar()) for q in parts)])


__all__ = [
    "assisted_households",
    "assistance_rows_until",
    "case_rows",
    "clue_households",
    "dept_rows_until",
    "eliminated_panel_incomes",
    "effect_rows",
    "eliminated_yearly_incomes",
    "history_households",
    "household_heads",
    "household_rows",
    "household_townships",
    "latest_period",
    "member_rows",
    "panel_periods_until",
    "panel_rows",
    "record_rows",
    "relation_rows",
    "state_token",
    "step_rows",
    "supervision_clues",
    "yearly_income_rows",
]
