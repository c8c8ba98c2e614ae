"""import batches detail, department records, officials' relatives, users; audit log append-only

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The audit log is append-only: the database itself refuses updates and deletes,
# so no code path (in the app or not) can rewrite history.
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_PG_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
]


def upgrade() -> None:
    op.add_column("households", sa.Column("housing_secured", sa.Boolean(), nullable=True))
    op.add_column("import_batches", sa.Column("detail", sa.Text(), nullable=True))
    op.create_index("ix_import_batches_hash", "import_batches", ["file_hash"])
    op.create_table(
        "dept_records",
        sa.Column("record_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id_number", sa.String(18), nullable=True),
        sa.Column("household_id", sa.String(20), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("record_type", sa.String(24), nullable=False),
        sa.Column("period", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_dept_records")),
    )
    op.create_index("ix_dept_records_id_number", "dept_records", ["id_number"])
    op.create_index("ix_dept_records_household", "dept_records", ["household_id"])
    op.create_table(
        "official_relations",
        sa.Column("relation_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("official_id_number", sa.String(18), nullable=False),
        sa.Column("official_post", sa.String(24), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=True),
        sa.Column("relative_id_number", sa.String(18), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("relation_id", name=op.f("pk_official_relations")),
    )
    op.create_index("ix_official_relations_relative", "official_relations", ["relative_id_number"])
    op.create_table(
        "users",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("townships", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_users")),
    )
    dialect = op.get_bind().dialect.name
    for stmt in _SQLITE_TRIGGERS if dialect == "sqlite" else _PG_TRIGGERS if dialect == "postgresql" else []:
        op.execute(stmt)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_table("users")
    op.drop_index("ix_official_relations_relative", table_name="official_relations")
    op.drop_table("official_relations")
    op.drop_index("ix_dept_records_household", table_name="dept_records")
    op.drop_index("ix_dept_records_id_number", table_name="dept_records")
    op.drop_table("dept_records")
    op.drop_index("ix_import_batches_hash", table_name="import_batches")
    with op.batch_alter_table("import_batches") as batch:
        batch.drop_column("detail")
    with op.batch_alter_table("households") as batch:
        batch.drop_column("housing_secured")
