"""the official procedure: cases and their steps (村级民主评议, 村内公示, 乡镇审核, 县级审定)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

A household's inclusion into monitoring and its risk elimination each pass a chain of steps;
``cases`` holds where each case stands (one open case per household, enforced by a partial
unique index), ``case_steps`` who did each step, when, the result and the document.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("household_id", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(24), nullable=True),
        sa.Column("risk_types", sa.String(200), nullable=True),
        sa.Column("method", sa.String(16), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("notice_start", sa.Date(), nullable=True),
        sa.Column("notice_end", sa.Date(), nullable=True),
        sa.Column("returned_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["households.household_id"], name="fk_cases_household_id_households"),
        sa.PrimaryKeyConstraint("case_id", name="pk_cases"),
    )
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_index(
        "uq_cases_open_household", "cases", ["household_id"], unique=True,
        sqlite_where=sa.text("closed = 0"), postgresql_where=sa.text("NOT closed"),
    )
    op.create_table(
        "case_steps",
        sa.Column("step_id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("result", sa.String(12), nullable=False),
        sa.Column("done_by", sa.String(64), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=False),
        sa.Column("step_date", sa.Date(), nullable=True),
        sa.Column("notice_end", sa.Date(), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"], name="fk_case_steps_case_id_cases"),
        sa.PrimaryKeyConstraint("step_id", name="pk_case_steps"),
    )
    op.create_index("ix_case_steps_case", "case_steps", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_steps_case", table_name="case_steps")
    op.drop_table("case_steps")
    op.drop_index("uq_cases_open_household", table_name="cases")
    op.drop_index("ix_cases_state", table_name="cases")
    op.drop_table("cases")
