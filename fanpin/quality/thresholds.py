"""What the supervision rules call large, fast or matching: their parameters in one place, so
that an inspector can read what a rule means and the demo plants its cases at the edges."""

from __future__ import annotations

from fanpin.workflow.monitoring import EARLY_MONTHS

#: A car or commercial house worth at least this many years of declared net income contradicts it.
ASSET_INCOME_RATIO = 3.0
#: Households in one village with the same declared net income: at least this many looks estimated.
SAME_INCOME_MIN = 5
#: A medical settlement (合规自付, rolling 12 months) at least this large should have raised a clue.
MEDICAL_LARGE = 10_000.0
#: Compulsory schooling ages checked (a year of slack on either side of 6-15 for entry age and finishing).
SCHOOL_AGES = (7, 14)
#: Housing grades that are 危房 (C and D); 1-2 (A, B) are habitable.
UNSAFE_GRADE = 3
#: Department record types that speak of wealth.
ASSET_TYPES = ("car", "commercial_house", "business")
#: Risk types the county check reads, and the assistance measures that answer each (any one of them
#: in effect during the monitoring will do).  公益岗位 is a job placement, so it answers 务工就业不稳;
#: 易地搬迁 answers housing and water.  Risk types not listed are not checked.
MATCHING_MEASURES: dict[str, tuple[str, ...]] = {
    "illness": ("health", "comprehensive", "social"),
    "disability": ("comprehensive", "social", "health"),
    "schooling": ("education", "other_education"),
    "housing": ("housing", "relocation"),
    "water": ("water", "relocation"),
    "unstable_work": ("employment", "public_welfare_job"),
}
#: Eliminated within this many months of identification (识别监测时间 + 2 months or earlier) is too fast.
FAST_ELIMINATION_MONTHS = EARLY_MONTHS

#: The official procedure's steps a case must have passed in its last round (after its last
#: resubmission) for what it carried to count as done by the book: (step, result).
CHAIN_STEPS: tuple[tuple[str, str], ...] = (("village_review", "passed"), ("notice", "done"), ("township_check", "passed"), ("county_approval", "passed"))
