"""a file is applied at most once: unique index on import_batches.file_hash where status = 'applied'

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    where = sa.text("status = 'applied'")
    op.create_index("uq_import_batches_applied_hash", "import_batches", ["file_hash"], unique=True, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("uq_import_batches_applied_hash", table_name="import_batches")
