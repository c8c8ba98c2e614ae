"""audit log: hash chain, no REPLACE (SQLite), no TRUNCATE and a separate owner (PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

The append-only triggers of 0004 left three holes: SQLite's ``INSERT OR REPLACE`` deletes the
old row without firing the delete trigger (recursive triggers are off), PostgreSQL's TRUNCATE
fires no row trigger, and the table's owner (the app's own database user) could drop the
triggers.  This revision closes the first two with triggers, adds a hash chain so that any
rewrite made anyway is detected by ``fanpin audit verify``, and on PostgreSQL, when the user
running the migration may create roles, hands the table to a ``fanpin_audit_owner`` role and
leaves the app's user only SELECT and INSERT (see the README's section for the DBA).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OWNER = "fanpin_audit_owner"

_SQLITE_NO_REPLACE = (
    "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
    "WHEN EXISTS (SELECT 1 FROM audit_log WHERE audit_id = NEW.audit_id) "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
)
_PG_NO_TRUNCATE = (
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
)
_PG_OWNER = f"""
DO $$
DECLARE me text := current_user;
BEGIN
  IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = me) THEN
    RAISE NOTICE 'fanpin: % may not create roles; audit_log stays owned by it (see the README)', me;
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{OWNER}') THEN
    CREATE ROLE {OWNER} NOLOGIN;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = me) THEN
    EXECUTE format('GRANT {OWNER} TO %I', me);
  END IF;
  EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO {OWNER}', current_schema());
  ALTER TABLE audit_log OWNER TO {OWNER};
  ALTER FUNCTION audit_log_append_only() OWNER TO {OWNER};
  REVOKE ALL ON audit_log FROM PUBLIC;
  EXECUTE format('REVOKE ALL ON audit_log FROM %I', me);
  EXECUTE format('GRANT SELECT, INSERT ON audit_log TO %I', me);
  EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE audit_log_audit_id_seq TO %I', me);
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = me) THEN
    EXECUTE format('REVOKE {OWNER} FROM %I', me);
  END IF;
END $$;
"""


def _backfill() -> None:
    """Chain the rows written before this revision, in audit_id order."""
    from fanpin.store.audit import entry_hash

    bind = op.get_bind()
    t = sa.table("audit_log", sa.column("audit_id"), sa.column("at", sa.DateTime), sa.column("actor"), sa.column("action"),
                 sa.column("target"), sa.column("detail"), sa.column("prev_hash"), sa.column("row_hash"))
    prev = None
    rows = bind.execute(sa.select(t.c.audit_id, t.c.at, t.c.actor, t.c.action, t.c.target, t.c.detail).order_by(t.c.audit_id)).all()
    for r in rows:
        h = entry_hash(prev, r.at, r.actor, r.action, r.target, r.detail)
        bind.execute(t.update().where(t.c.audit_id == r.audit_id).values(prev_hash=prev, row_hash=h))
        prev = h


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(64), nullable=True))
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        _backfill()
        op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
        op.execute(_SQLITE_NO_REPLACE)
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        _backfill()
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
        op.execute(_PG_NO_TRUNCATE)
        op.execute(_PG_OWNER)
    else:  # pragma: no cover - fanpin runs on SQLite and PostgreSQL
        _backfill()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_replace")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        with op.batch_alter_table("audit_log") as batch:
            batch.drop_column("row_hash")
            batch.drop_column("prev_hash")
        op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")  # the batch copy recreated the table without it
        op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.drop_column("audit_log", "row_hash")
        op.drop_column("audit_log", "prev_hash")
