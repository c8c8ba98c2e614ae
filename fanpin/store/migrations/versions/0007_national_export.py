"""the national monitoring system's data: monitoring records, yearly incomes, measure end month

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

Additive only (issue 14): a ``monitoring_records`` table (one row per household, the national
system's monitoring record as codes), a ``yearly_incomes`` table (income and spending of a year
by source and sub-item, beside the monthly panel), and new nullable columns: the household
sheet's 危房等级 and 三保障 problems, the member sheet's 务工时长/聘用月数, the measures'
结束时间 and 帮扶单位.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INCOME_COLUMNS = (
    "income_wage", "wage_work", "wage_welfare_job", "income_business", "business_farming", "business_livestock", "business_forestry",
    "income_property", "property_dividend", "property_land", "income_transfer", "transfer_dibao", "transfer_tekun", "transfer_pension",
    "transfer_ecological", "transfer_other", "business_cost", "income_net", "income_pc", "insurance_payout", "medical_oop",
)
_ADDED = (
    ("households", "housing_grade", sa.Integer()),
    ("households", "housing_problem", sa.Boolean()),
    ("households", "dropout", sa.Boolean()),
    ("households", "water_problem", sa.Boolean()),
    ("households", "uninsured_member", sa.Boolean()),
    ("members", "work_months", sa.Float()),
    ("members", "welfare_job_months", sa.Float()),
    ("assistance", "end_period", sa.Integer()),
    ("assistance", "cadre_unit", sa.String(64)),
)


def upgrade() -> None:
    op.create_table(
        "monitoring_records",
        sa.Column("household_id", sa.String(20), sa.ForeignKey("households.household_id", name="fk_monitoring_records_household_id_households"), nullable=False),
        sa.Column("monitoring_category", sa.String(24), nullable=True),
        *[sa.Column(f"risk_{i}", sa.String(24), nullable=True) for i in range(1, 6)],
        sa.Column("disaster_subitem", sa.String(24), nullable=True),
        sa.Column("identified_period", sa.Integer(), nullable=True),
        sa.Column("eliminated", sa.Boolean(), nullable=False),
        sa.Column("elimination_method", sa.String(16), nullable=True),
        sa.Column("eliminated_period", sa.Integer(), nullable=True),
        sa.Column("development_measures", sa.String(200), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("household_id", name="pk_monitoring_records"),
    )
    op.create_index("ix_monitoring_records_category", "monitoring_records", ["monitoring_category"])
    op.create_table(
        "yearly_incomes",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.String(20), sa.ForeignKey("households.household_id", name="fk_yearly_incomes_household_id_households"), nullable=False),
        *[sa.Column(c, sa.Float(), nullable=True) for c in _INCOME_COLUMNS],
        sa.PrimaryKeyConstraint("year", "household_id", name="pk_yearly_incomes"),
    )
    op.create_index("ix_yearly_incomes_household", "yearly_incomes", ["household_id"])
    for table, column, type_ in _ADDED:
        op.add_column(table, sa.Column(column, type_, nullable=True))


def downgrade() -> None:
    for table, column, _type in reversed(_ADDED):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    op.drop_index("ix_yearly_incomes_household", table_name="yearly_incomes")
    op.drop_table("yearly_incomes")
    op.drop_index("ix_monitoring_records_category", table_name="monitoring_records")
    op.drop_table("monitoring_records")
