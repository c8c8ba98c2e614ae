"""Evidence attached to orders and cases: insert, the lists (without the file's bytes), one file.

The bytes live in ``attachments.content``; lists read the small ``thumbnail`` but never the
content, so a page with twenty photos reads twenty thumbnails, not twenty photos.  The same
content (``sha256``) is stored once per owner: a unique index, so two uploads at the same moment
leave one row and the second insert raises ``IntegrityError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from fanpin.store.schema import attachments

_a = attachments.c
#: What a list gives: every column but the file's bytes.
LIST_COLUMNS: tuple[str, ...] = tuple(c.name for c in attachments.columns if c.name != "content")


def insert_attachment(conn: Connection, values: Mapping[str, object]) -> int:
    """A new attachment; ``IntegrityError`` when the owner already has this content."""
    return int(conn.execute(insert(attachments).values(**values)).inserted_primary_key[0])


def find_same(conn: Connection | Engine, owner_kind: str, owner_id: int, sha256: str) -> int | None:
    """The attachment of this owner with this content, if any."""
    stmt = select(_a.attachment_id).where(_a.owner_kind == owner_kind, _a.owner_id == int(owner_id), _a.sha256 == sha256)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return find_same(c, owner_kind, owner_id, sha256)
    found = conn.execute(stmt).scalar()
    return None if found is None else int(found)


def attachment_frame(conn: Connection | Engine, owners: Sequence[tuple[str, int]], *, thumbnails: bool = True) -> pd.DataFrame:
    """The attachments of ``owners`` ((kind, id) pairs), oldest first, without their content."""
    cols = [c for c in LIST_COLUMNS if thumbnails or c != "thumbnail"]
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return attachment_frame(c, owners, thumbnails=thumbnails)
    rows = []
    for kind in sorted({k for k, _ in owners}):
        ids = sorted({int(i) for k, i in owners if k == kind})
        stmt = select(*(getattr(_a, c) for c in cols)).where(_a.owner_kind == kind, _a.owner_id.in_(ids))
        rows += conn.execute(stmt).fetchall()
    frame = pd.DataFrame(rows, columns=cols)
    return frame.sort_values(["uploaded_at", "attachment_id"], kind="stable").reset_index(drop=True) if len(frame) else frame


def attachment_row(conn: Connection | Engine, attachment_id: int, *, content: bool = True) -> dict | None:
    """One attachment's row (with its bytes unless ``content=False``), or None."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return attachment_row(c, attachment_id, content=content)
    cols = [_a[c] for c in LIST_COLUMNS] + ([_a.content] if content else [])
    row = conn.execute(select(*cols).where(_a.attachment_id == int(attachment_id))).mappings().first()
    if row is None:
        return None
    out = dict(row)
    for k in ("content", "thumbnail"):  # PostgreSQL's bytea comes back as memoryview
        if isinstance(out.get(k), memoryview):
            out[k] = out[k].tobytes()
    return out
