"""Rolling an applied import back: what each batch changed is recorded as it is written, and a
batch can be taken back by a role that may import (audited), unless its records moved on.

Recording (:class:`UndoLog`, inside the import's transaction): for every record updated, the
columns that changed with their prior and written values; for every record inserted, its key and
a digest of the row as written.  A members import also records the member counts it refreshes on
the household rows, so that a rollback leaves household size and members agreeing as before.

Rolling back (:func:`rollback`, one transaction): refused, with the reason, when

* the batch is not an applied one (refused, already rolled back, or applied before rollback
  existed: migration 0011),
* a later applied batch changed the same records (``later_batch``: roll that one back first),
* a record no longer holds what the batch wrote (``changed_since``: the workflow or someone else
  changed it after the import; the record, the field and both values are named),
* another record now depends on one the batch added (``referenced``: a clue, an order or a member
  of a household the batch added).

Otherwise the prior values are restored, the inserted records deleted, the batch marked
``rolled_back`` (by whom, when), which frees its file hash: the same file can be imported again.
An audit row ``import_rollback`` names the batch, its file and the counts; the data version moves
so that cached snapshots reload.  A demo database made real by the import stays real.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin.access import audit
from fanpin.access.roles import Principal, require
from fanpin.core.i18n import DEFAULT_LANG, translate
from fanpin.ingest.diff import shown_value
from fanpin.ingest.specs import SPECS, Col, header_label
from fanpin.store import import_undo as store
from fanpin.store.io import bump_data_version

__all__ = ["RollbackRefused", "RollbackResult", "UndoLog", "rollback", "undoable_batches"]


# --------------------------------------------------------------------------- recording


@dataclass
class _Pending:
    table: str
    keys: list[tuple]
    columns: list[str]
    prior: pd.DataFrame


@dataclass
class UndoLog:
    """What one batch changes, collected in its write transaction and written by :meth:`flush`."""

    conn: Connection
    batch_id: int
    rows: list[tuple[str, str, str, str | None, str | None]] = field(default_factory=list)

    def updating(self, table: str, keys: Sequence[tuple], columns: Sequence[str]) -> _Pending:
        """Read the records about to be updated (call before the update)."""
        cols = [c for c in columns if c not in store.KEYS[table]]
        return _Pending(table, [tuple(k) for k in keys], cols, store.read_rows(self.conn, table, keys, cols))

    def updated(self, pending: _Pending, after: pd.DataFrame | None = None) -> None:
        """Compare with the records as now written; log the columns that changed.  ``after``: the
        records as written (key columns and the pending columns, one row per key, as a read gives
        them), when the caller knows them; else they are read back."""
        if not pending.keys or pending.prior.empty:
            return
        key_cols = list(store.KEYS[pending.table])
        if after is None:
            after = store.read_rows(self.conn, pending.table, pending.keys, pending.columns)
        else:
            after = after[list(dict.fromkeys([*key_cols, *pending.columns]))]
        both = after.merge(pending.prior, on=key_cols, how="inner", suffixes=("", "\x00prior"))
        if both.empty:
            return
        changed = {c: (store.texts(both[c]) != store.texts(both[c + "\x00prior"])).to_numpy() for c in pending.columns}
        any_change = np.logical_or.reduce(list(changed.values())) if changed else np.zeros(len(both), dtype=bool)
        rows = np.flatnonzero(any_change)
        if not len(rows):
            return
        sub = both.iloc[rows]
        flags = {c: changed[c][rows].tolist() for c in pending.columns}
        before = {c: sub[c + "\x00prior"].tolist() for c in pending.columns}
        now = {c: sub[c].tolist() for c in pending.columns}
        plain = store.plain
        for i, key in enumerate(store.row_keys(sub, key_cols)):
            cols = [c for c in pending.columns if flags[c][i]]
            prior = {c: plain(before[c][i]) for c in cols}
            written = {c: plain(now[c][i]) for c in cols}
            self.rows.append((pending.table, "update", key, _json(prior), _json(written)))

    def inserted(self, table: str, keys: Sequence[tuple], written: Mapping[str, np.ndarray | Sequence] | None = None) -> pd.DataFrame | None:
        """Log the records just inserted, with a digest of each as written: from ``written`` (the
        column arrays inserted) when their values read back as given, else read back; the records
        as a read gives them (None without keys)."""
        if not keys:
            return None
        key_cols = list(store.KEYS[table])
        rows = store.written_frame(table, written) if written is not None else None
        if rows is None or len(rows) != len(keys):
            rows = store.read_rows(self.conn, table, keys)
        self.rows.extend((table, "insert", key, None, dig) for key, dig in zip(store.row_keys(rows, key_cols), store.digests(table, rows)))
        return rows

    def flush(self) -> int:
        """Write the log and mark the batch as one that can be rolled back."""
        n = store.insert_entries(self.conn, self.batch_id, self.rows)
        store.set_undoable(self.conn, self.batch_id)
        self.rows = []
        return n


def _json(values: dict) -> str:
    return json.dumps(values, ensure_ascii=False, sort_keys=True)


# --------------------------------------------------------------------------- rolling back


class RollbackRefused(Exception):
    """A rollback that cannot be done; ``code`` and ``params`` make the message in either language."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    def message(self, lang: str = DEFAULT_LANG) -> str:
        params = {k: (v.get(lang, next(iter(v.values()))) if isinstance(v, dict) else v) for k, v in self.params.items()}
        return translate(f"ingest.rollback.{self.code}", lang, **params)


@dataclass
class RollbackResult:
    batch_id: int
    kind: str
    file_name: str
    restored: int
    deleted: int

    def message(self, lang: str = DEFAULT_LANG) -> str:
        return translate("ingest.rollback.done", lang, batch=self.batch_id, restored=self.restored, deleted=self.deleted)


def _record_label(table: str, key: str) -> str:
    """A record as a message names it: its key values (an ID number masked)."""
    from fanpin.access.masking import mask_id_number

    values = json.loads(key)
    cols = store.KEYS[table]
    shown = [mask_id_number(str(v)) if "id_number" in c else str(v) for c, v in zip(cols, values)]
    return " · ".join(shown)


def _spec_col(table: str, column: str) -> Col | None:
    """The import column a table's column is written from (its header and value labels)."""
    return next((s.col(column) for s in SPECS.values() if s.table == table and s.has(column)), None)


def _shown(col: Col | None, v: object, lang: str) -> str:
    if col is not None:
        return shown_value(col, v, lang)
    return translate("ingest.diff.blank", lang) if v is None else str(v)


def _table_label(table: str, lang: str) -> str:
    return translate(f"ingest.rollback.table.{table}", lang)


def _check_later(conn: Connection, batch_id: int, log: pd.DataFrame) -> None:
    for table, part in log.groupby("table_name", sort=False):
        later = store.later_batches(conn, batch_id, table, part["row_key"].tolist())
        if later:
            first = min(later)
            raise RollbackRefused(
                "later_batch", batch=batch_id, later="、".join(str(b) for b in sorted(later)), first=first,
                record=_record_label(table, later[first]), table={lang: _table_label(table, lang) for lang in ("zh", "en")},
            )


def _last_written(log: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """Per (table, record) updated, each column's value as the batch last wrote it."""
    out: dict[tuple[str, str], dict] = {}
    for t, k, w in log.loc[log["action"] == "update", ["table_name", "row_key", "written"]].itertuples(index=False):
        out.setdefault((t, k), {}).update(json.loads(w))
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)), abs(float(b)))
    return a == b


def _check_unchanged(conn: Connection, batch_id: int, log: pd.DataFrame) -> None:
    """Every record still holds what the batch wrote; else ``changed_since`` naming the first that does not."""
    langs = ("zh", "en")
    for (table, key), written in _last_written(log).items():
        cur = store.read_rows(conn, table, [tuple(json.loads(key))], list(written))
        if cur.empty:
            raise RollbackRefused("gone", batch=batch_id, record=_record_label(table, key), table={lang: _table_label(table, lang) for lang in langs})
        now = {c: store.plain(cur.iloc[0][c]) for c in written}
        for c, v in written.items():
            if not _same(now[c], v):
                col = _spec_col(table, c)
                raise RollbackRefused(
                    "changed_since", batch=batch_id, record=_record_label(table, key), table={lang: _table_label(table, lang) for lang in langs},
                    column={lang: header_label(col, lang) if col else c for lang in langs},
                    written={lang: _shown(col, v, lang) for lang in langs}, now={lang: _shown(col, now[c], lang) for lang in langs},
                )
    for table, part in log[log["action"] == "insert"].groupby("table_name", sort=False):
        keys = [tuple(json.loads(k)) for k in part["row_key"]]
        cur = store.read_rows(conn, table, keys)
        key_cols = list(store.KEYS[table])
        now = {store.row_key(k): (d, s) for k, d, s in zip(
            cur[key_cols].itertuples(index=False, name=None), store.digests(table, cur), cur["status"] if table == "clues" else [None] * len(cur),
        )}
        for key, dig in zip(part["row_key"], part["written"]):
            found = now.get(key)
            if found is None:
                raise RollbackRefused("gone", batch=batch_id, record=_record_label(table, key), table={lang: _table_label(table, lang) for lang in langs})
            moved = table == "clues" and found[1] not in ("new", "merged")
            if moved or found[0] != dig:
                raise RollbackRefused("changed_since_insert", batch=batch_id, record=_record_label(table, key), table={lang: _table_label(table, lang) for lang in langs})


def _take_back(conn: Connection, log: pd.DataFrame) -> tuple[int, int]:
    """Restore every updated record to its earliest prior values, then delete the inserted ones."""
    restored = 0
    for table, part in log[log["action"] == "update"].groupby("table_name", sort=False):
        final: dict[str, dict] = {}
        for key, prior in zip(reversed(part["row_key"].tolist()), reversed(part["prior"].tolist())):
            final.setdefault(key, {}).update(json.loads(prior))
        restored += store.restore(conn, table, [(tuple(json.loads(k)), v) for k, v in final.items()])
    deleted = 0
    for table, part in log[log["action"] == "insert"].groupby("table_name", sort=False):
        deleted += store.delete_rows(conn, table, [tuple(json.loads(k)) for k in part["row_key"]])
    return restored, deleted


def rollback(engine: Engine, batch_id: int, *, principal: Principal, now: datetime | None = None) -> RollbackResult:
    """Take an applied batch back in one transaction (see the module docstring); RollbackRefused
    says why it cannot be, and then nothing is written."""
    require(principal, "import")
    now = (now or datetime.now()).replace(microsecond=0)
    try:
        with engine.begin() as conn:
            batch = store.batch_row(conn, batch_id)
            if batch is None:
                raise RollbackRefused("not_found", batch=batch_id)
            if batch["status"] == "rolled_back":
                raise RollbackRefused("already", batch=batch_id, by=batch["rolled_back_by"] or "", at=str(batch["rolled_back_at"] or "")[:16])
            if batch["status"] != "applied":
                raise RollbackRefused("not_applied", batch=batch_id)
            if not batch["undoable"]:
                raise RollbackRefused("no_undo", batch=batch_id)
            if not store.mark_rolled_back(conn, batch_id, principal.actor, now):  # first: two rollbacks at once leave one
                raise RollbackRefused("already", batch=batch_id, by="", at="")
            log = store.entries(conn, batch_id)
            _check_later(conn, batch_id, log)
            _check_unchanged(conn, batch_id, log)
            restored, deleted = _take_back(conn, log)
            detail = {"kind": batch["kind"], "file": batch["file_name"], "sha256": batch["file_hash"], "restored": restored, "deleted": deleted}
            audit.record(conn, principal.actor, "import_rollback", target=f"batch:{batch_id}", detail=detail, at=now)
            if restored or deleted:
                bump_data_version(conn)
    except IntegrityError as exc:  # a record the batch added is now referenced by another
        raise RollbackRefused("referenced", batch=batch_id) from exc
    return RollbackResult(batch_id, batch["kind"], batch["file_name"], restored, deleted)


def undoable_batches(engine: Engine, *, principal: Principal, limit: int = 50) -> pd.DataFrame:
    """The newest applied batches that can be rolled back, for those who import."""
    require(principal, "import")
    with engine.connect() as conn:
        return store.undoable_batches(conn, limit)
