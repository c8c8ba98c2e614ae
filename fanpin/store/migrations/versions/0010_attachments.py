"""evidence: photos and PDFs attached to verification orders and cases

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

A case worker attaches the visit's photos and the scans of signed forms (the village meeting's
record, the notice) to an order or to a case's chain step.  The bytes are kept in the row with a
small thumbnail and the SHA-256 of what is stored; the same content is attached once per owner.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("attachment_id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("owner_kind", sa.String(8), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(20), nullable=True),
        sa.Column("household_id", sa.String(20), nullable=False),
        sa.Column("file_name", sa.String(160), nullable=False),
        sa.Column("mime", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("original_size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["households.household_id"], name="fk_attachments_household_id_households"),
        sa.PrimaryKeyConstraint("attachment_id", name="pk_attachments"),
    )
    op.create_index("uq_attachments_owner_content", "attachments", ["owner_kind", "owner_id", "sha256"], unique=True)
    op.create_index("ix_attachments_household", "attachments", ["household_id"])


def downgrade() -> None:
    op.drop_index("ix_attachments_household", table_name="attachments")
    op.drop_index("uq_attachments_owner_content", table_name="attachments")
    op.drop_table("attachments")
