"""What an import would write, worked out against the stored rows before anything is written.

Upsert kinds (a key: households, members, panel, officials' relatives) compare each keyed row
with the stored one: new, changed (a given cell differs) or unchanged; an empty cell in an update
keeps the stored value.  Append-only kinds (feeds, assistance, department records) skip a row
equal, on the kind's ``dedupe`` columns, to one already stored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from fanpin.ingest.cells import Cells
from fanpin.ingest.report import Plan
from fanpin.ingest.specs import KindSpec
from fanpin.store import imports as store


def _as_bool(x: object) -> bool | None:
    if x is None or (isinstance(x, float) and x != x):
        return None
    return bool(x)


def _same(a: pd.Series, b: pd.Series, col_type: str) -> np.ndarray:
    """Whether the file's values ``a`` equal the stored ``b``, row for row, as the column's type compares."""
    if col_type in ("int", "float", "period"):
        av = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float)
        bv = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float)
        return np.isclose(av, bv, rtol=1e-9, atol=1e-9) | (np.isnan(av) & np.isnan(bv))
    if col_type == "bool":
        return a.map(_as_bool).to_numpy(dtype=object) == b.map(_as_bool).to_numpy(dtype=object)
    if col_type == "date":
        return a.dt.strftime("%Y-%m-%d").to_numpy(dtype=object) == b.map(lambda x: None if x is None or x != x else str(x)[:10]).to_numpy(dtype=object)
    return a.astype(object).to_numpy() == b.astype(object).to_numpy()


def _keyed_frame(cells: Cells) -> tuple[pd.DataFrame, list[str]]:
    """Rows with a complete key (``_row``: their position in the file) and the columns to compare."""
    spec = cells.spec
    keyed = pd.DataFrame({k: cells.v[k] for k in spec.key}).notna().all(axis=1).to_numpy() if all(k in cells.v for k in spec.key) else np.zeros(cells.n, dtype=bool)
    cols = [c for c in [*cells.cols, *cells.derived] if c in cells.v]
    cols = list(dict.fromkeys(cols))
    frame = pd.DataFrame({c: cells.v[c] for c in cols})[keyed].copy()
    frame["_row"] = np.flatnonzero(keyed)
    if spec.kind == "households" and "village_code" in frame:
        frame["township_code"] = frame["village_code"].map(lambda c: c[:9] + "000" if isinstance(c, str) else None)
        cols = [*cols, "township_code"]
    return frame, cols


def _with_stored(conn: Connection, spec: KindSpec, frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``frame`` joined to the stored rows on the key (stored values as ``<column>_db``, ``_merge``)."""
    sel = spec.key[-1]
    others = [k for k in spec.key if k != sel] + [c for c in cols if c not in spec.key]
    stored = store.stored_rows(conn, spec.table, sel, frame[sel].tolist(), others)
    for k in spec.key:  # same dtype on both sides of the join, even when nothing is stored
        if spec.type_of(k) == "period":
            stored[k] = pd.to_numeric(stored[k]).astype(float)
            frame[k] = frame[k].astype(float)
        else:
            stored[k] = stored[k].astype(object)
            frame[k] = frame[k].astype(object)
    return frame.merge(stored, on=list(spec.key), how="left", suffixes=("", "_db"), indicator=True)


def _required_new(cells: Cells, rows: np.ndarray, is_new: np.ndarray) -> None:
    """A new record needs the columns marked ``required_new``."""
    for c in cells.spec.columns:
        if not c.required_new:
            continue
        blank = ~cells.given(c.name)[rows]
        missing = is_new & blank
        if missing.any():
            m = np.zeros(cells.n, dtype=bool)
            m[rows[missing]] = True
            cells.add(m, c.name, "required_new")


def plan_upsert(cells: Cells, conn: Connection) -> Plan:
    """New, changed and unchanged rows of an upsert kind (counts on the report)."""
    spec, report = cells.spec, cells.report
    frame, cols = _keyed_frame(cells)
    merged = _with_stored(conn, spec, frame, cols)
    is_new = (merged["_merge"] == "left_only").to_numpy()
    # Every row with a valid key takes part (so a new row missing a required value is reported
    # even when it has other errors); only rows without errors go into the plan.
    rows = merged["_row"].to_numpy()
    _required_new(cells, rows, is_new)
    ok = ~cells.bad[rows]
    merged, is_new = merged[ok].reset_index(drop=True), is_new[ok]
    changed = np.zeros(len(merged), dtype=bool)
    for c in cols:
        if c not in spec.key:
            same = _same(merged[c], merged[f"{c}_db"], spec.type_of(c))
            given = np.ones(len(merged), dtype=bool) if spec.replace else merged[c].notna().to_numpy()
            changed |= given & ~same & ~is_new
    report.added = int(is_new.sum())
    report.updated = int(changed.sum())
    report.unchanged = int((~is_new & ~changed).sum())
    return Plan(merged, cols, is_new, changed)


def _dedupe_key(f: pd.DataFrame, cols: list[str]) -> pd.Series:
    """One text per row from the ``cols`` values (amounts rounded to cents), for equality with stored rows."""
    parts = []
    for c in cols:
        if c not in f:
            parts.append(pd.Series([""] * len(f), index=f.index))
            continue
        s = f[c]
        if c in ("amount", "value", "period"):
            s = pd.to_numeric(s, errors="coerce").round(2).map(lambda x: "" if x != x else repr(float(x)))
        else:
            s = s.map(lambda x: "" if x is None or x != x else str(x))
        parts.append(s)
    return pd.Series(["\x1f".join(t) for t in zip(*parts)], index=f.index) if parts else pd.Series([""] * len(f), index=f.index)


def _stored_for_dedupe(conn: Connection, spec: KindSpec, frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The stored rows that could equal a row of ``frame`` (same household, or same person)."""
    with_hid = "household_id" in frame and frame["household_id"].notna().any()
    table_cols = store.table_columns(spec.table)
    sel = "household_id" if with_hid or "id_number" not in table_cols else "id_number"
    if sel not in frame or not frame[sel].notna().any():
        return pd.DataFrame()
    stored = store.stored_rows(conn, spec.table, sel, frame[sel].tolist(), [c for c in cols if c != sel])
    if spec.kind == "dept_records" and "id_number" in frame:  # records stored by ID number only
        more = store.stored_rows(conn, spec.table, "id_number", frame["id_number"].tolist(), [c for c in cols if c != "id_number"])
        stored = pd.concat([stored, more], ignore_index=True)
    return stored


def plan_append(cells: Cells, conn: Connection) -> Plan:
    """Rows of an append-only kind to add, skipping (with a warning) those already stored."""
    spec, report = cells.spec, cells.report
    good = ~cells.bad
    frame = pd.DataFrame({c: cells.v[c] for c in cells.v})[good].copy()
    frame["_row"] = np.flatnonzero(good)
    table_cols = store.table_columns(spec.table)
    cols = [c for c in spec.dedupe if c in cells.v and c in table_cols]
    stored = _stored_for_dedupe(conn, spec, frame, cols)
    have = set(_dedupe_key(stored, cols)) if len(stored) else set()
    skip = _dedupe_key(frame, cols).isin(have).to_numpy()
    if skip.any():
        m = np.zeros(cells.n, dtype=bool)
        m[frame["_row"].to_numpy()[skip]] = True
        cells.add(m, spec.dedupe[0] if spec.dedupe[0] in cells.cols else next(iter(cells.cols)), "already_stored", severity="warning")
    report.added = int((~skip).sum())
    report.skipped = int(skip.sum())
    return Plan(frame[~skip], list(cells.v))
