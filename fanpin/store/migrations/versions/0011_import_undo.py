"""an applied import batch can be rolled back: import_undo, and import_batches' rollback columns

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09

Each applied batch records what it changed: the key of every record it inserted (with a digest of
the row as written) and the prior and written values of every column it changed.  A rollback
restores them, marks the batch ``rolled_back`` (which frees its file hash: the partial unique
index covers applied batches only) and names who did it when.  Batches applied before this
revision have ``undoable`` null and cannot be rolled back.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("import_batches", sa.Column("undoable", sa.Boolean(), nullable=True))
    op.add_column("import_batches", sa.Column("rolled_back_at", sa.DateTime(), nullable=True))
    op.add_column("import_batches", sa.Column("rolled_back_by", sa.String(64), nullable=True))
    op.create_table(
        "import_undo",
        sa.Column("undo_id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(32), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("row_key", sa.String(255), nullable=False),
        sa.Column("prior", sa.Text(), nullable=True),
        sa.Column("written", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["import_batches.batch_id"], name="fk_import_undo_batch_id_import_batches"),
        sa.PrimaryKeyConstraint("undo_id", name="pk_import_undo"),
    )
    op.create_index("ix_import_undo_batch", "import_undo", ["batch_id"])
    op.create_index("ix_import_undo_row", "import_undo", ["table_name", "row_key"])


def downgrade() -> None:
    op.drop_index("ix_import_undo_row", table_name="import_undo")
    op.drop_index("ix_import_undo_batch", table_name="import_undo")
    op.drop_table("import_undo")
    with op.batch_alter_table("import_batches") as batch:
        batch.drop_column("rolled_back_by")
        batch.drop_column("rolled_back_at")
        batch.drop_column("undoable")
