"""SQLAlchemy Core tables: the one description of the database.

Names follow the vocabulary in DESIGN.md.  Periods are integers YYYYMM, the form
the national monitoring system exports use, so that range queries and indexes
stay simple on both SQLite and PostgreSQL.  The Alembic migrations under
``migrations/versions`` create exactly these tables; a test checks that the
migrated schema and this metadata agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

regions = Table(
    "regions",
    metadata,
    Column("region_code", String(12), primary_key=True),
    Column("level", String(10), nullable=False),  # county / township / village
    Column("parent_code", String(12), ForeignKey("regions.region_code"), nullable=True),
    Column("name", String(64), nullable=False),
    Column("name_en", String(64), nullable=True),
    Column("lon", Float, nullable=True),  # centroid
    Column("lat", Float, nullable=True),
    Column("geometry", Text, nullable=True),  # GeoJSON geometry, township and county only
    Index("ix_regions_parent", "parent_code"),
)

households = Table(
    "households",
    metadata,
    Column("household_id", String(20), primary_key=True),
    Column("village_code", String(12), ForeignKey("regions.region_code"), nullable=False),
    Column("township_code", String(12), nullable=False),
    Column("household_type", String(16), nullable=False),  # former_poor / ordinary
    Column("size", Integer, nullable=False),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("phone", String(20), nullable=True),
    Column("relocated", Boolean, nullable=False, default=False),  # 易地扶贫搬迁集中安置区
    Column("no_labour_guarantee", Boolean, nullable=False, default=False),  # 整户无劳动能力兜底
    Column("farmland_mu", Float, nullable=True),
    Column("house_area", Float, nullable=True),
    Column("road_distance_km", Float, nullable=True),
    Column("in_cooperative", Boolean, nullable=False, default=False),
    # Member aggregates, kept in step with ``members`` by the writer so that a
    # month's snapshot is one indexed query (no GROUP BY over members per load).
    Column("n_labour", Integer, nullable=False, default=0),  # 普通劳动力, working age
    Column("n_weak_labour", Integer, nullable=False, default=0),
    Column("n_elderly", Integer, nullable=False, default=0),  # 65+
    Column("n_children", Integer, nullable=False, default=0),  # under 16
    Column("n_chronic", Integer, nullable=False, default=0),
    Column("n_serious", Integer, nullable=False, default=0),
    Column("n_disabled", Integer, nullable=False, default=0),
    Column("n_students", Integer, nullable=False, default=0),
    Column("n_uninsured", Integer, nullable=False, default=0),
    Column("created_period", Integer, nullable=True),
    # 住房安全有保障 as marked in the roster (the supervision rules compare it with housing_grade).
    Column("housing_secured", Boolean, nullable=True),
    # As the national system's household sheet records them (migration 0007): 危房等级 (0 safe,
    # 1..4 = A..D as in the panel) and the 三保障和饮水安全 problems.
    Column("housing_grade", Integer, nullable=True),
    Column("housing_problem", Boolean, nullable=True),  # 住房出现安全问题
    Column("dropout", Boolean, nullable=True),  # 义务教育阶段适龄儿童少年失学辍学
    Column("water_problem", Boolean, nullable=True),  # 饮水出现安全问题
    Column("uninsured_member", Boolean, nullable=True),  # 有家庭成员未参加基本医疗保险
    Index("ix_households_village", "village_code"),
    Index("ix_households_township", "township_code"),
)

members = Table(
    "members",
    metadata,
    Column("member_id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(20), ForeignKey("households.household_id"), nullable=False),
    Column("name", String(32), nullable=False),
    Column("id_number", String(18), nullable=False),
    Column("sex", String(1), nullable=False),  # M / F
    Column("birth_date", Date, nullable=False),
    Column("relation", String(16), nullable=False),  # head, spouse, child, parent, grandchild, other
    Column("ethnicity", String(16), nullable=True),
    Column("education", String(16), nullable=True),
    Column("schooling", String(16), nullable=False, default="none"),  # none/preschool/primary/junior/senior/college
    Column("health", String(16), nullable=False, default="healthy"),  # healthy / chronic / serious
    Column("disability", Integer, nullable=False, default=0),  # 0 none, 1-4 grade (1 most severe)
    Column("labour_capacity", String(16), nullable=False),  # normal / weak / lost / none
    Column("work_location", String(16), nullable=True),  # in_county / in_province / out_province
    Column("medical_insurance", Boolean, nullable=False, default=True),
    Column("serious_illness_insurance", Boolean, nullable=False, default=True),
    Column("pension_insurance", Boolean, nullable=False, default=True),
    Column("dibao", Boolean, nullable=False, default=False),  # 最低生活保障
    Column("tekun", Boolean, nullable=False, default=False),  # 特困供养
    Column("public_welfare_job", Boolean, nullable=False, default=False),
    Column("deceased_period", Integer, nullable=True),
    Column("work_months", Float, nullable=True),  # 务工时长(月), this year (0007)
    Column("welfare_job_months", Float, nullable=True),  # 公益岗位聘用月数 (0007)
    UniqueConstraint("id_number", name="uq_members_id_number"),
    Index("ix_members_household", "household_id"),
)

# The monthly panel: one row per household and month.  The key leads with the
# period and, on SQLite, the table is clustered on it (WITHOUT ROWID), so that a
# month is one contiguous range scan: loading a month was 3x faster than through
# a period index over rows stored household by household.  Money is yuan; income
# figures are rolling 12-month sums as the national system reports them.  Values
# a department did not report are NULL (the scorer has an explicit rule for them).
panel = Table(
    "panel",
    metadata,
    Column("period", Integer, primary_key=True),
    Column("household_id", String(20), ForeignKey("households.household_id"), primary_key=True),
    Column("income_wage", Float, nullable=True, default=0.0),
    Column("income_business", Float, nullable=True, default=0.0),
    Column("income_property", Float, nullable=True, default=0.0),
    Column("income_transfer", Float, nullable=True, default=0.0),
    Column("business_cost", Float, nullable=True, default=0.0),
    Column("income_net", Float, nullable=False),  # 家庭纯收入
    Column("income_pc", Float, nullable=False),  # 家庭人均纯收入
    Column("medical_oop", Float, nullable=True, default=0.0),  # 合规自付支出, rolling 12 months
    Column("schooling_cost", Float, nullable=True, default=0.0),
    Column("debt", Float, nullable=True, default=0.0),
    Column("housing_grade", Integer, nullable=True, default=0),  # 0 safe, 1..4 = 危房 A..D
    Column("water_safe", Boolean, nullable=True, default=True),
    Column("disaster_loss", Float, nullable=True, default=0.0),  # rolling 12 months
    Column("months_worked", Float, nullable=True, default=0.0),  # member-months, last 12 months
    Column("benefits", Float, nullable=True, default=0.0),  # 低保金 + 特困供养金, rolling 12 months
    Column("dibao", Boolean, nullable=False, default=False),
    Column("tekun", Boolean, nullable=False, default=False),
    Column("job_lost", Boolean, nullable=False, default=False),  # a member lost work in the last 3 months
    Index("ix_panel_household", "household_id"),
    sqlite_with_rowid=False,
)

events = Table(
    "events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("period", Integer, nullable=False),
    Column("event_type", String(24), nullable=False),  # illness, flood, drought, factory_closure, price_crash, accident, school_entry
    Column("household_id", String(20), ForeignKey("households.household_id"), nullable=True),
    Column("region_code", String(12), nullable=True),  # township or village for area events
    Column("severity", Float, nullable=True),
    Column("amount", Float, nullable=True),
    Column("description", Text, nullable=True),
    Index("ix_events_period", "period"),
    Index("ix_events_household", "household_id"),
)

clues = Table(
    "clues",
    metadata,
    Column("clue_id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(20), ForeignKey("households.household_id"), nullable=False),
    Column("period", Integer, nullable=False),
    Column("channel", String(16), nullable=False),  # self_report / cadre_visit / department
    Column("source", String(32), nullable=False),  # medical_insurance, civil_affairs, emergency, housing, education, hrss, disability_federation, scoring, cadre, household
    Column("risk_type", String(24), nullable=False),
    Column("detail", Text, nullable=True),
    Column("amount", Float, nullable=True),
    Column("event_id", Integer, ForeignKey("events.event_id"), nullable=True),
    Column("received_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False, default="new"),  # new / merged / ordered / closed
    Column("merged_into", Integer, ForeignKey("clues.clue_id"), nullable=True),
    Index("ix_clues_household", "household_id"),
    Index("ix_clues_period", "period"),
    Index("ix_clues_status", "status"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(20), ForeignKey("households.household_id"), nullable=False),
    Column("assignee_kind", String(16), nullable=False),  # township / department
    Column("assignee", String(32), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64), nullable=True),
    Column("due_date", Date, nullable=False),
    Column("state", String(16), nullable=False, default="open"),  # open / verifying / decided
    Column("decision", String(16), nullable=True),  # included / not_included
    Column("category", String(24), nullable=True),
    Column("risk_types", String(200), nullable=True),  # comma separated codes
    Column("reason", Text, nullable=True),
    Column("findings", Text, nullable=True),
    Column("decided_at", DateTime, nullable=True),
    Column("decided_by", String(64), nullable=True),
    # Optimistic locking: every update bumps the version and checks the one the editor read.
    Column("version", Integer, nullable=False, default=1, server_default="1"),
    Column("updated_at", DateTime, nullable=True),
    Column("updated_by", String(64), nullable=True),
    Column("first_clue_at", DateTime, nullable=True),  # the 15-day clock starts here
    Column("notes", Text, nullable=True),  # appended, one "time actor: text" line per note
    Index("ix_orders_household", "household_id"),
    Index("ix_orders_state", "state"),
)

order_clues = Table(
    "order_clues",
    metadata,
    Column("order_id", Integer, ForeignKey("orders.order_id"), primary_key=True),
    Column("clue_id", Integer, ForeignKey("clues.clue_id"), primary_key=True),
)

# Append-only history of monitoring status: never updated in place.
monitoring = Table(
    "monitoring",
    metadata,
    Column("record_id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(20), ForeignKey("households.household_id"), nullable=False),
    Column("period", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # monitored / proposed (elimination proposal) / eliminated
    Column("category", String(24), nullable=True),  # unstable_former_poor / marginal / sudden_hardship
    Column("risk_types", String(200), nullable=True),
    Column("method", String(16), nullable=True),  # by_assistance / natural
    Column("recorded_at", DateTime, nullable=False),
    Column("recorded_by", String(64), nullable=True),
    Column("approved_by", String(64), nullable=True),
    Column("order_id", Integer, ForeignKey("orders.order_id"), nullable=True),
    # status "proposed" rows are elimination proposals; the approval ("eliminated") or
    # rejection ("monitored") row points back at it, at most one per proposal.
    Column("proposal_id", Integer, nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_monitoring_household", "household_id"),
    Index("ix_monitoring_proposal", "proposal_id", unique=True),
)

assistance = Table(
    "assistance",
    metadata,
    Column("assistance_id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(20), ForeignKey("households.household_id"), nullable=False),
    Column("period", Integer, nullable=False),
    Column("measure", String(24), nullable=False),  # industry, employment, finance, public_welfare_job, housing, water, health, education, comprehensive, social, relocation
    Column("amount", Float, nullable=True),
    Column("description", Text, nullable=True),
    Column("cadre", String(32), nullable=True),
    # 结束时间 of the national export (its 开始时间 is ``period``) and the 帮扶单位 (0007).
    Column("end_period", Integer, nullable=True),
    Column("cadre_unit", String(64), nullable=True),
    Index("ix_assistance_household", "household_id"),
)

# A household's monitoring record as the national system holds it: one row per household, codes
# only (migration 0007).  The import and the workflow write it, the register, the overview and
# the rules read it.  整户无劳动能力兜底保障户 lives on ``households.no_labour_guarantee``.
monitoring_records = Table(
    "monitoring_records",
    metadata,
    Column("household_id", String(20), ForeignKey("households.household_id"), primary_key=True),
    Column("monitoring_category", String(24), nullable=True),  # unstable_former_poor / marginal / sudden_hardship
    # 致贫/返贫风险1-5 in their order (risk codes, see DESIGN.md), and the 因自然灾害 sub-item.
    Column("risk_1", String(24), nullable=True),
    Column("risk_2", String(24), nullable=True),
    Column("risk_3", String(24), nullable=True),
    Column("risk_4", String(24), nullable=True),
    Column("risk_5", String(24), nullable=True),
    Column("disaster_subitem", String(24), nullable=True),
    Column("identified_period", Integer, nullable=True),  # 识别监测时间 YYYYMM
    Column("eliminated", Boolean, nullable=False, default=False),  # 风险是否已消除
    Column("elimination_method", String(16), nullable=True),  # by_assistance / natural
    Column("eliminated_period", Integer, nullable=True),  # 消除监测时间 YYYYMM
    Column("development_measures", String(200), nullable=True),  # 实施开发式帮扶措施情况: measure codes, comma separated
    Column("updated_at", DateTime, nullable=True),
    Index("ix_monitoring_records_category", "monitoring_category"),
)

# Yearly income and spending by source and sub-item, as the national export's income sheet
# holds them (yuan per year), beside the monthly panel (migration 0007).
yearly_incomes = Table(
    "yearly_incomes",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("household_id", String(20), ForeignKey("households.household_id"), primary_key=True),
    Column("income_wage", Float, nullable=True),  # 工资性收入
    Column("wage_work", Float, nullable=True),  # 务工
    Column("wage_welfare_job", Float, nullable=True),  # 公益岗
    Column("income_business", Float, nullable=True),  # 生产经营性收入
    Column("business_farming", Float, nullable=True),  # 种植
    Column("business_livestock", Float, nullable=True),  # 养殖
    Column("business_forestry", Float, nullable=True),  # 林果
    Column("income_property", Float, nullable=True),  # 财产性收入
    Column("property_dividend", Float, nullable=True),  # 资产收益分红
    Column("property_land", Float, nullable=True),  # 土地流转
    Column("income_transfer", Float, nullable=True),  # 转移性收入
    Column("transfer_dibao", Float, nullable=True),  # 低保金
    Column("transfer_tekun", Float, nullable=True),  # 特困供养金
    Column("transfer_pension", Float, nullable=True),  # 养老金
    Column("transfer_ecological", Float, nullable=True),  # 生态补偿
    Column("transfer_other", Float, nullable=True),  # 其他补贴
    Column("business_cost", Float, nullable=True),  # 生产经营性支出
    Column("income_net", Float, nullable=True),  # 家庭纯收入
    Column("income_pc", Float, nullable=True),  # 家庭人均纯收入
    Column("insurance_payout", Float, nullable=True),  # 理赔收入
    Column("medical_oop", Float, nullable=True),  # 合规自付支出
    Index("ix_yearly_incomes_household", "household_id"),
)

policies = Table(
    "policies",
    metadata,
    Column("policy_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("policy_json", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64), nullable=True),
    Column("adopted_at", DateTime, nullable=True),
    Column("adopted_by", String(64), nullable=True),
    UniqueConstraint("name", name="uq_policies_name"),
)

import_batches = Table(
    "import_batches",
    metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_hash", String(64), nullable=False),
    Column("rows_added", Integer, nullable=False, default=0),
    Column("rows_updated", Integer, nullable=False, default=0),
    Column("imported_at", DateTime, nullable=False),
    Column("imported_by", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("detail", Text, nullable=True),  # JSON: counts, refusal summary
    # Migration 0011: an applied batch can be rolled back (status rolled_back, which frees its hash);
    # ``undoable`` is true when the batch recorded what it changed (import_undo), null before 0011.
    Column("undoable", Boolean, nullable=True),
    Column("rolled_back_at", DateTime, nullable=True),
    Column("rolled_back_by", String(64), nullable=True),
    Index("ix_import_batches_hash", "file_hash"),
    # A file is applied at most once, even by two imports racing each other.
    Index(
        "uq_import_batches_applied_hash",
        "file_hash",
        unique=True,
        sqlite_where=text("status = 'applied'"),
        postgresql_where=text("status = 'applied'"),
    ),
)

# What an applied import batch changed (migration 0011), so that it can be rolled back: one row per
# record it inserted (``row_key``: the record's key, or the primary key of an appended row, as JSON;
# ``written``: the SHA-256 of the row as inserted) or updated (``prior`` and ``written``: JSON of the
# changed columns before and after).  A rollback restores ``prior`` and deletes the inserted rows,
# unless the rows no longer hold what the batch wrote (a later batch or the workflow changed them).
import_undo = Table(
    "import_undo",
    metadata,
    Column("undo_id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("import_batches.batch_id"), nullable=False),
    Column("table_name", String(32), nullable=False),
    Column("action", String(8), nullable=False),  # insert / update
    Column("row_key", String(255), nullable=False),
    Column("prior", Text, nullable=True),
    Column("written", Text, nullable=True),
    Index("ix_import_undo_batch", "batch_id"),
    Index("ix_import_undo_row", "table_name", "row_key"),
)

# Department comparison data (数据比对): records another department holds about a
# person or household (a car, a commercial house, a registered business, a death).
dept_records = Table(
    "dept_records",
    metadata,
    Column("record_id", Integer, primary_key=True, autoincrement=True),
    Column("id_number", String(18), nullable=True),
    Column("household_id", String(20), nullable=True),
    Column("source", String(32), nullable=False),  # public_security, market_regulation, housing, transport, ...
    Column("record_type", String(24), nullable=False),  # car, commercial_house, business, death, ...
    Column("period", Integer, nullable=True),
    Column("value", Float, nullable=True),
    Column("detail", Text, nullable=True),
    Column("batch_id", Integer, nullable=True),
    Index("ix_dept_records_id_number", "id_number"),
    Index("ix_dept_records_household", "household_id"),
)

# Close relatives of village and township officials (村干部近亲属), for the supervision
# rule on benefits to officials' relatives.
official_relations = Table(
    "official_relations",
    metadata,
    Column("relation_id", Integer, primary_key=True, autoincrement=True),
    Column("official_id_number", String(18), nullable=False),
    Column("official_post", String(24), nullable=False),  # village_secretary, village_director, village_committee, township_staff
    Column("region_code", String(12), nullable=True),
    Column("relative_id_number", String(18), nullable=False),
    Column("relation", String(16), nullable=False),  # spouse, parent, child, sibling, grandparent, grandchild
    Index("ix_official_relations_relative", "relative_id_number"),
)

# Local user store for the embedded default (an identity provider can be used instead).
users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("display_name", String(64), nullable=True),
    Column("password_hash", Text, nullable=True),  # argon2; NULL for identity-provider users
    Column("role", String(16), nullable=False),
    Column("townships", Text, nullable=True),  # comma-separated township codes (case workers); NULL = all
    Column("disabled", Boolean, nullable=False, default=False, server_default="0"),
    Column("failed_logins", Integer, nullable=False, default=0, server_default="0"),
    Column("locked_until", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64), nullable=True),
    Column("last_login_at", DateTime, nullable=True),
    Column("password_changed_at", DateTime, nullable=True),
)

# The official procedure (migration 0009): a case carries one household's inclusion (纳入监测) or
# risk elimination (风险消除) through 村级民主评议, 村内公示, 乡镇审核 and 县级审定; ``state`` is
# the step it waits for (or returned / approved / withdrawn).  At most one open case per household:
# a partial unique index, so two people opening one at the same moment leave one case.
cases = Table(
    "cases",
    metadata,
    Column("case_id", Integer, primary_key=True, autoincrement=True),
    Column("household_id", String(20), ForeignKey("households.household_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # inclusion / elimination
    Column("origin", String(16), nullable=False),  # application / cadre / department (inclusion), proposal (elimination)
    Column("order_id", Integer, nullable=True),
    Column("proposal_id", Integer, nullable=True),  # elimination: the monitoring history's "proposed" row
    Column("period", Integer, nullable=False),  # the month the case is about (YYYYMM)
    Column("category", String(24), nullable=True),
    Column("risk_types", String(200), nullable=True),
    Column("method", String(16), nullable=True),
    Column("state", String(20), nullable=False),
    Column("closed", Boolean, nullable=False, default=False),
    Column("opened_by", String(64), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("notice_start", Date, nullable=True),
    Column("notice_end", Date, nullable=True),  # the first day the township step may start
    Column("returned_reason", Text, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Column("updated_at", DateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Index("ix_cases_state", "state"),
    Index("uq_cases_open_household", "household_id", unique=True, sqlite_where=text("closed = 0"), postgresql_where=text("NOT closed")),
)

# Each step of a case, append-only: who, when, the result and the document (the village meeting's
# record, the notice's text and dates, the county's 公告 number).
case_steps = Table(
    "case_steps",
    metadata,
    Column("step_id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("cases.case_id"), nullable=False),
    Column("step", String(20), nullable=False),  # opened, village_review, notice, township_check, county_approval, resubmitted, withdrawn
    Column("result", String(12), nullable=False),  # passed / rejected / done
    Column("done_by", String(64), nullable=False),
    Column("done_at", DateTime, nullable=False),
    Column("step_date", Date, nullable=True),  # the meeting's date, the notice's first day
    Column("notice_end", Date, nullable=True),
    Column("document", Text, nullable=True),
    Column("reason", Text, nullable=True),
    Index("ix_case_steps_case", "case_id"),
)

# Evidence (migration 0010): photos (JPEG/PNG) and PDFs attached to a verification order or a case,
# ``step`` naming the chain step a case's file documents (the village meeting's signed record).  The
# bytes live in the row (``content``, with a small JPEG ``thumbnail``), so a backup of the database
# carries them and they commit or roll back with the audit row; ``sha256`` is of the stored bytes,
# and the same content is attached once per owner (a unique index, so two clicks leave one row).
attachments = Table(
    "attachments",
    metadata,
    Column("attachment_id", Integer, primary_key=True, autoincrement=True),
    Column("owner_kind", String(8), nullable=False),  # order / case
    Column("owner_id", Integer, nullable=False),
    Column("step", String(20), nullable=True),  # village_review, notice, township_check, county_approval (cases)
    Column("household_id", String(20), ForeignKey("households.household_id"), nullable=False),
    Column("file_name", String(160), nullable=False),
    Column("mime", String(40), nullable=False),  # image/jpeg, image/png, application/pdf
    Column("size", Integer, nullable=False),  # bytes stored
    Column("original_size", Integer, nullable=True),  # bytes uploaded, when the image was resized
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("thumbnail", LargeBinary, nullable=True),  # images only
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", DateTime, nullable=False),
    Index("uq_attachments_owner_content", "owner_kind", "owner_id", "sha256", unique=True),
    Index("ix_attachments_household", "household_id"),
)

# Login sessions (migration 0008): a browser holds a random token in a cookie; only its sha256 is
# stored, so a copy of the database logs no one in.  ``account`` is a digest of the account's role,
# townships, state and password date when the session began: any change ends the session.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("account", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Index("ix_sessions_username", "username"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(64), nullable=True),
    Column("detail", Text, nullable=True),
    # A hash chain (migration 0006): each row's hash covers the previous row's hash and its own
    # fields, so a row rewritten or removed with raw SQL breaks the chain (``fanpin audit verify``).
    Column("prev_hash", String(64), nullable=True),
    Column("row_hash", String(64), nullable=True),
    Index("ix_audit_log_at", "at"),
)

#: Numeric panel columns loaded into a snapshot, in this order.
PANEL_VALUE_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in panel.columns if c.name not in ("household_id", "period")
)
