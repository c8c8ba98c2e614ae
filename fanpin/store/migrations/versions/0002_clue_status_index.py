"""index clues by status and orders by state (the workflow queues filter on them)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

"""
from typing import Sequence, Union

from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_clues_status", "clues", ["status"])
    op.create_index("ix_orders_state", "orders", ["state"])


def downgrade() -> None:
    op.drop_index("ix_orders_state", table_name="orders")
    op.drop_index("ix_clues_status", table_name="clues")
