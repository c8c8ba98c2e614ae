"""workflow: optimistic locking and who/when on orders, notes, elimination proposals in monitoring

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("orders", sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.add_column("orders", sa.Column("updated_by", sa.String(64), nullable=True))
    op.add_column("orders", sa.Column("first_clue_at", sa.DateTime(), nullable=True))
    op.add_column("orders", sa.Column("notes", sa.Text(), nullable=True))
    op.add_column("monitoring", sa.Column("proposal_id", sa.Integer(), nullable=True))
    op.add_column("monitoring", sa.Column("note", sa.Text(), nullable=True))
    # One approval or rejection per proposal: the database refuses a second one.
    op.create_index("ix_monitoring_proposal", "monitoring", ["proposal_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_monitoring_proposal", table_name="monitoring")
    with op.batch_alter_table("monitoring") as batch:
        batch.drop_column("note")
        batch.drop_column("proposal_id")
    with op.batch_alter_table("orders") as batch:
        for col in ("notes", "first_clue_at", "updated_by", "updated_at", "version"):
            batch.drop_column(col)
