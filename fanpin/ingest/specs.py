"""Import kinds: each table's columns with their types, checks, defaults and example values.

The Chinese (and other) headers and cell values a column reads come from the one mapping table
in ``fanpin.ingest.names``; :data:`SPECS` carries them on each :class:`Col` (``zh``, ``aliases``,
``value_aliases``), filled from that table when this module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from fanpin.core.i18n import DEFAULT_LANG, label, translate
from fanpin.core.regions import EXAMPLE_COUNTY
from fanpin.ingest import names
from fanpin.ingest.names import norm

__all__ = ["KINDS", "SPECS", "Col", "KindSpec", "code_label", "column_help", "header_label", "header_map", "norm", "template_frame", "value_map"]


@dataclass(frozen=True)
class Col:
    """One importable column: database name, English header, type and checks (the Chinese
    headers and value labels are filled from ``fanpin.ingest.names``)."""

    name: str
    en: str
    type: str  # text int float bool period year date datetime code code_list grade health id village region household phone geojson
    required: bool = False  # in every row
    required_new: bool = False  # in rows that create a record
    low: float | None = None
    high: float | None = None
    max_len: int | None = None
    codes: tuple[str, ...] = ()
    label_kind: str | None = None  # fanpin.core.i18n.label kind for the codes' zh/en names
    example: str = ""
    personal: str | None = None  # name / id_number / phone: masked in the report
    default: object = None  # for new rows when the cell is empty
    allow_future: bool = False  # a period after this month is accepted (a measure's planned end)
    zh: str = ""  # the header shown (first name in the mapping table)
    aliases: tuple[str, ...] = ()  # more header names
    value_aliases: tuple[tuple[str, str], ...] = ()  # more accepted cell values -> code


@dataclass(frozen=True)
class KindSpec:
    """One import kind: its table, columns, upsert key or (append-only) duplicate test, sheet names."""

    kind: str
    table: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]  # upsert key; () for append-only kinds
    dedupe: tuple[str, ...] = ()  # append-only: a row equal on these to a stored one is skipped
    sheet_names: tuple[str, ...] = ()
    #: an update row replaces the stored record (a blank cell clears it) instead of keeping stored values
    replace: bool = False
    _by_name: dict[str, Col] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    def col(self, name: str) -> Col:
        """The column called ``name`` (KeyError when the kind has none)."""
        return self._by_name[name]

    def has(self, name: str) -> bool:
        return name in self._by_name

    def type_of(self, name: str) -> str:
        """The column's stored type (int, float, bool, period, date, datetime or text); ``text`` for a
        name that is not a column, ``int`` for a derived member ``disability``."""
        c = self._by_name.get(name)
        if c is None:
            return "text"
        return _STORED.get(c.type, c.type)


#: How the types that read labels are stored.
_STORED = {"grade": "int", "year": "int", "health": "code", "code_list": "code", "phone": "text", "geojson": "text"}
_BOOL = dict(type="bool")
_GRADES = ("0", "1", "2", "3", "4")
_YEAR_MONEY = dict(type="float", low=-1e8, high=1e8)
_MONEY = dict(type="float", low=0.0, high=1e8)
_RISKS = ("illness", "disability", "schooling", "disaster", "accident", "industry_failure", "unstable_work", "lack_of_labour", "housing", "water", "other")
_MEASURES = ("industry", "employment", "finance", "public_welfare_job", "housing", "water", "health", "education", "other_education", "comprehensive", "social", "relocation")
_SOURCES = ("civil_affairs", "medical_insurance", "health_commission", "housing", "education", "hrss", "emergency", "disability_federation", "public_security", "water_resources", "agriculture", "finance", "survey", "market_regulation", "transport", "cadre", "household")
RELATIONS = ("head", "spouse", "child", "child_in_law", "parent", "grandchild", "sibling", "other")
CATEGORIES = ("unstable_former_poor", "marginal", "sudden_hardship")
DISASTERS = ("flood", "drought", "hail", "typhoon", "earthquake", "geological", "cold", "fire", "other")
#: The yearly income table's money columns in the national sheet's order, with English headers.
INCOME_ITEMS: tuple[tuple[str, str], ...] = (
    ("income_wage", "Wage income"), ("wage_work", "of which: migrant work"), ("wage_welfare_job", "of which: public-welfare job"),
    ("income_business", "Business income"), ("business_farming", "of which: crops"), ("business_livestock", "of which: livestock"),
    ("business_forestry", "of which: forestry and fruit"), ("income_property", "Property income"), ("property_dividend", "of which: asset dividends"),
    ("property_land", "of which: land transfer"), ("income_transfer", "Transfer income"), ("transfer_dibao", "of which: dibao"),
    ("transfer_tekun", "of which: tekun support"), ("transfer_pension", "of which: pension"), ("transfer_ecological", "of which: ecological compensation"),
    ("transfer_other", "of which: other subsidies"), ("business_cost", "Business cost"), ("income_net", "Net income"), ("income_pc", "Net income per person"),
    ("insurance_payout", "Insurance payouts"), ("medical_oop", "Compliant out-of-pocket medical spending"),
)
#: The example rows' codes: the reserved example county (``fanpin.core.regions.EXAMPLE_COUNTY``), so an
#: example can never name a real record and is skipped when a template is imported as it is.
EXAMPLE_VILLAGE = EXAMPLE_COUNTY + "001001"
EXAMPLE_TOWNSHIP = EXAMPLE_COUNTY + "001000"
EXAMPLE_HOUSEHOLD = EXAMPLE_VILLAGE + "00001"
EXAMPLE_ID_NUMBER = EXAMPLE_COUNTY + "198001010011"  # born 1980-01-01, male, check character 1
EXAMPLE_OFFICIAL_ID = EXAMPLE_COUNTY + "197501010013"
_HID = Col("household_id", "Household ID", "household", required=True, max_len=20, example=EXAMPLE_HOUSEHOLD)

_SPECS: tuple[KindSpec, ...] = (
    KindSpec(
        "households", "households",
        (
            Col("household_id", "Household ID", "text", required=True, max_len=20, example=EXAMPLE_HOUSEHOLD),
            Col("village_code", "Village code", "village", required_new=True, example=EXAMPLE_VILLAGE),
            Col("household_type", "Household type", "code", required_new=True, codes=("former_poor", "ordinary"), label_kind="household_type", example="脱贫户"),
            Col("size", "Household size", "int", required_new=True, low=1, high=30, example="4"),
            Col("phone", "Phone", "phone", max_len=20, personal="phone", example="13800000000"),
            Col("relocated", "Relocated", **_BOOL, default=False, example="否"),
            Col("no_labour_guarantee", "No-labour guarantee household", **_BOOL, default=False, example="否"),
            Col("farmland_mu", "Farmland (mu)", "float", low=0, high=10_000, example="3.5"),
            Col("house_area", "House area (m²)", "float", low=0, high=10_000, example="85"),
            Col("road_distance_km", "Distance to main road (km)", "float", low=0, high=500, example="1.2"),
            Col("in_cooperative", "In a cooperative", **_BOOL, default=False, example="是"),
            Col("housing_secured", "Housing secured", **_BOOL, example="是"),
            Col("lon", "Longitude", "float", low=-180, high=180, example=""),
            Col("lat", "Latitude", "float", low=-90, high=90, example=""),
            Col("created_period", "Registered (YYYYMM)", "period", example="202401"),
            Col("housing_grade", "Unsafe-house grade", "grade", codes=_GRADES, example="无"),
            Col("housing_problem", "Housing safety problem", **_BOOL, example="否"),
            Col("dropout", "School-age child out of school", **_BOOL, example="否"),
            Col("water_problem", "Drinking-water problem", **_BOOL, example="否"),
            Col("uninsured_member", "A member without basic medical insurance", **_BOOL, example="否"),
        ),
        key=("household_id",), sheet_names=("households", "户信息", "农户"),
    ),
    KindSpec(
        "members", "members",
        (
            _HID,
            Col("name", "Name", "text", required_new=True, max_len=32, personal="name", example="张三"),
            Col("id_number", "ID number", "id", required=True, personal="id_number", example=EXAMPLE_ID_NUMBER),
            Col("sex", "Sex", "code", codes=("M", "F"), label_kind="sex", example="男"),
            Col("birth_date", "Birth date", "date", example="1980-01-01"),
            Col("relation", "Relation to head", "code", required_new=True, codes=RELATIONS, label_kind="relation", example="户主"),
            Col("ethnicity", "Ethnicity", "text", max_len=16, example="汉族"),
            Col("education", "Education", "code", codes=("illiterate", "primary", "junior", "senior", "college"), example="初中"),
            Col("schooling", "Schooling", "code", codes=("none", "preschool", "primary", "junior", "senior", "college"), label_kind="schooling", default="none", example="非在校生"),
            Col("health", "Health", "health", codes=("healthy", "chronic", "serious", "disabled"), label_kind="health", default="healthy", example="健康"),
            Col("disability", "Disability grade", "int", low=0, high=4, default=0, example="0"),
            Col("labour_capacity", "Labour capacity", "code", required_new=True, codes=("normal", "weak", "lost", "none"), label_kind="labour", example="普通劳动力"),
            Col("work_location", "Work location", "code", codes=("in_county", "in_province", "out_province"), example="省外"),
            Col("medical_insurance", "Basic medical insurance", **_BOOL, default=True, example="是"),
            Col("serious_illness_insurance", "Serious-illness insurance", **_BOOL, default=True, example="是"),
            Col("pension_insurance", "Basic pension insurance", **_BOOL, default=True, example="是"),
            Col("dibao", "Dibao", **_BOOL, default=False, example="否"),
            Col("tekun", "Tekun support", **_BOOL, default=False, example="否"),
            Col("public_welfare_job", "Public-welfare job", **_BOOL, default=False, example="否"),
            Col("welfare_job_months", "Months employed in the job", "float", low=0, high=12, example=""),
            Col("work_months", "Months worked away", "float", low=0, high=12, example="10"),
            Col("deceased_period", "Died (YYYYMM)", "period", example=""),
        ),
        key=("id_number",), sheet_names=("members", "成员信息", "家庭成员"),
    ),
    KindSpec(
        "panel", "panel",
        (
            Col("period", "Month (YYYYMM)", "period", required=True, example="202405"),
            _HID,
            Col("income_wage", "Wage income", **_MONEY, example="24000"),
            Col("income_business", "Business income", **_MONEY, example="6000"),
            Col("income_property", "Property income", **_MONEY, example="500"),
            Col("income_transfer", "Transfer income", **_MONEY, example="3000"),
            Col("business_cost", "Business cost", **_MONEY, example="2500"),
            Col("income_net", "Net income", "float", required_new=True, low=-1e8, high=1e8, example="31000"),
            Col("income_pc", "Net income per person", "float", required_new=True, low=-1e8, high=1e8, example="7750"),
            Col("medical_oop", "Compliant out-of-pocket medical spending", **_MONEY, example="1200"),
            Col("schooling_cost", "Schooling cost", **_MONEY, example="0"),
            Col("debt", "Debt", **_MONEY, example="0"),
            Col("housing_grade", "Unsafe-house grade (0-4)", "grade", codes=_GRADES, example="0"),
            Col("water_safe", "Drinking water safe", **_BOOL, example="是"),
            Col("disaster_loss", "Disaster loss", **_MONEY, example="0"),
            Col("months_worked", "Months worked", "float", low=0, high=360, example="10"),
            Col("benefits", "Dibao and tekun benefits", **_MONEY, example="0"),
            Col("dibao", "Dibao", **_BOOL, default=False, example="否"),
            Col("tekun", "Tekun", **_BOOL, default=False, example="否"),
            Col("job_lost", "Job lost (3 months)", **_BOOL, default=False, example="否"),
        ),
        key=("period", "household_id"), sheet_names=("panel", "月度指标"),
    ),
    KindSpec(
        "feeds", "clues",
        (
            Col("household_id", "Household ID", "household", max_len=20, example=EXAMPLE_HOUSEHOLD),
            Col("id_number", "ID number", "id", personal="id_number", example=""),
            Col("period", "Month (YYYYMM)", "period", required=True, example="202405"),
            Col("source", "Source department", "code", required=True, codes=_SOURCES, label_kind="department", example="医保"),
            Col("risk_type", "Risk type", "code", required=True, codes=_RISKS, label_kind="risk", example="因病"),
            Col("channel", "Channel", "code", codes=("department", "cadre_visit", "self_report"), label_kind="channel", default="department", example=""),
            Col("detail", "Detail", "text", max_len=2000, example="医保结算：合规自付超过1万元"),
            Col("amount", "Amount (yuan)", **_MONEY, example="12000"),
            Col("received_at", "Received at", "datetime", example="2024-05-20 09:00:00"),
        ),
        key=(), dedupe=("household_id", "period", "source", "risk_type", "detail", "amount"), sheet_names=("feeds", "部门预警"),
    ),
    KindSpec(
        "assistance", "assistance",
        (
            _HID,
            Col("period", "Start (YYYYMM)", "period", required=True, example="202405"),
            Col("measure", "Measure", "code", required=True, codes=_MEASURES, label_kind="measure", example="产业帮扶"),
            Col("amount", "Amount (yuan)", **_MONEY, example="3000"),
            Col("description", "Description", "text", max_len=2000, example="发放鸡苗 200 只"),
            Col("cadre", "Cadre", "text", max_len=32, example="县乡村振兴局"),
            Col("cadre_unit", "Cadre's unit", "text", max_len=64, example=""),
            Col("end_period", "End (YYYYMM)", "period", allow_future=True, example=""),
        ),
        key=(), dedupe=("household_id", "period", "measure", "amount", "description", "cadre", "cadre_unit", "end_period"), sheet_names=("assistance", "帮扶措施"),
    ),
    KindSpec(
        "regions", "regions",
        (
            Col("region_code", "Region code", "text", required=True, max_len=12, example=EXAMPLE_VILLAGE),
            Col("level", "Level", "code", required_new=True, codes=("county", "township", "village"), example="行政村"),
            Col("parent_code", "Parent region code", "text", max_len=12, example=EXAMPLE_TOWNSHIP),
            Col("name", "Name", "text", required_new=True, max_len=64, example="一村"),
            Col("name_en", "English name", "text", max_len=64, example=""),
            Col("lon", "Longitude", "float", low=-180, high=180, example=""),
            Col("lat", "Latitude", "float", low=-90, high=90, example=""),
            Col("geometry", "Boundary (GeoJSON)", "geojson", max_len=32_767, example=""),
        ),
        key=("region_code",), sheet_names=("regions", "行政区划"),
    ),
    KindSpec(
        "monitoring", "monitoring_records",
        (
            _HID,
            Col("monitoring_category", "Monitoring category", "code", codes=CATEGORIES, label_kind="category", example="边缘易致贫户"),
            *(Col(c, f"Risk {i}", "code", codes=_RISKS, label_kind="risk", example="因病" if i == 1 else "") for i, c in enumerate(names.RISK_COLUMNS, 1)),
            Col("disaster_subitem", "Natural-disaster sub-item", "code", codes=DISASTERS, example=""),
            Col("identified_period", "Identified (YYYYMM)", "period", example="202403"),
            Col("eliminated", "Risk eliminated", **_BOOL, default=False, example="否"),
            Col("elimination_method", "Elimination method", "code", codes=("by_assistance", "natural"), example=""),
            Col("eliminated_period", "Eliminated (YYYYMM)", "period", example=""),
            Col("development_measures", "Development-type measures", "code_list", codes=_MEASURES, label_kind="measure", max_len=200, example="产业帮扶,就业帮扶"),
        ),
        key=("household_id",), sheet_names=("monitoring", "监测信息"), replace=True,
    ),
    KindSpec(
        "incomes", "yearly_incomes",
        (
            Col("year", "Year", "year", required=True, example="2024"),
            _HID,
            *(Col(c, en, **_MONEY, example="") for c, en in INCOME_ITEMS if c not in ("income_net", "income_pc")),
            Col("income_net", "Net income", **_YEAR_MONEY, example="31000"),
            Col("income_pc", "Net income per person", **_YEAR_MONEY, example="7750"),
        ),
        key=("year", "household_id"), sheet_names=("incomes", "收入支出", "收支情况"), replace=True,
    ),
    KindSpec(
        "dept_records", "dept_records",
        (
            Col("id_number", "ID number", "id", personal="id_number", example=EXAMPLE_ID_NUMBER),
            Col("household_id", "Household ID", "household", max_len=20, example=""),
            Col("source", "Source department", "code", required=True, codes=_SOURCES, label_kind="department", example="公安"),
            Col("record_type", "Record type", "code", required=True, codes=("car", "commercial_house", "business", "death", "public_employee", "other"), example="车辆"),
            Col("period", "Month (YYYYMM)", "period", example="202405"),
            Col("value", "Value", "float", low=-1e10, high=1e10, example="120000"),
            Col("detail", "Detail", "text", max_len=2000, example="小型轿车 1 辆"),
        ),
        key=(), dedupe=("id_number", "household_id", "source", "record_type", "period", "value", "detail"), sheet_names=("dept_records", "部门比对"),
    ),
    KindSpec(
        "official_relations", "official_relations",
        (
            Col("official_id_number", "Official's ID number", "id", required=True, personal="id_number", example=EXAMPLE_OFFICIAL_ID),
            Col("official_post", "Post", "code", required_new=True, codes=("village_secretary", "village_director", "village_committee", "township_staff"), example="村支书"),
            Col("region_code", "Region code", "region", example=EXAMPLE_VILLAGE),
            Col("relative_id_number", "Relative's ID number", "id", required=True, personal="id_number", example=EXAMPLE_ID_NUMBER),
            Col("relation", "Relation", "code", required_new=True, codes=("spouse", "parent", "child", "sibling", "grandparent", "grandchild"), example="配偶"),
        ),
        key=("official_id_number", "relative_id_number"), sheet_names=("official_relations", "干部亲属"),
    ),
)


def _named(spec: KindSpec) -> KindSpec:
    """The kind with its columns' headers and value names from the mapping table."""
    cols = []
    for c in spec.columns:
        headers = names.headers(spec.kind, c.name)
        if not headers:
            raise LookupError(f"no header for {spec.kind}.{c.name} in fanpin.ingest.names")
        cols.append(replace(c, zh=headers[0], aliases=headers[1:], value_aliases=names.values(spec.kind, c.name) if c.codes else ()))
    return replace(spec, columns=tuple(cols))


SPECS: dict[str, KindSpec] = {s.kind: _named(s) for s in _SPECS}
KINDS: tuple[str, ...] = tuple(SPECS)
_CODE_EN = {  # English names of codes that have no label_kind in the locale files
    "illiterate": "illiterate", "in_county": "in county", "in_province": "in province", "out_province": "out of province",
    "0": "safe", "1": "grade A", "2": "grade B", "3": "grade C", "4": "grade D", "cold": "cold snap and snow", "geological": "geological disaster",
}


# --------------------------------------------------------------------------- headers and values


def header_map(spec: KindSpec) -> dict[str, str]:
    """Every header the kind reads (normal form) -> its column: code name, zh, en, aliases."""
    out: dict[str, str] = {}
    for c in spec.columns:
        for h in (c.name, c.zh, c.en, *c.aliases):
            out.setdefault(norm(h), c.name)
        out.setdefault(norm(c.name.replace("_", " ")), c.name)
    return out


def value_map(col: Col) -> dict[str, str]:
    """Every cell value a code column reads (normal form) -> its code: codes, display labels, aliases."""
    out: dict[str, str] = {}
    for code in col.codes:
        out[norm(code)] = code
        if col.label_kind:
            for lang in ("zh", "en"):
                out.setdefault(norm(label(col.label_kind, code, lang)), code)
    for alias, code in col.value_aliases:
        out.setdefault(norm(alias), code)
    return out


def code_label(col: Col, code: str, lang: str) -> str:
    """How a code of the column is shown: its display label, or its first name in the mapping table."""
    if col.label_kind:
        return label(col.label_kind, code, lang)
    zh = next((a for a, c in col.value_aliases if c == code), code)
    return zh if lang == "zh" else _CODE_EN.get(code, code.replace("_", " "))


def header_label(col: Col, lang: str) -> str:
    return col.zh if lang == "zh" else col.en


# --------------------------------------------------------------------------- templates


def template_frame(kind: str, lang: str = DEFAULT_LANG) -> pd.DataFrame:
    """The kind's columns with headers in ``lang`` and one example row (export via fanpin.report.export)."""
    spec = SPECS[kind]
    return pd.DataFrame([[c.example for c in spec.columns]], columns=[header_label(c, lang) for c in spec.columns])


def _allowed(c: Col, lang: str) -> str:
    if c.codes:
        return ("、" if lang == "zh" else ", ").join(code_label(c, k, lang) for k in c.codes)
    text = translate(f"ingest.type.{c.type}", lang)
    if c.low is not None and c.high is not None and c.type in ("int", "float"):
        text += f" ({c.low:g} … {c.high:g})"
    return text


def column_help(kind: str, lang: str = DEFAULT_LANG) -> pd.DataFrame:
    """One row per column: header, code name, required, accepted values (for the page's help table)."""
    rows = []
    for c in SPECS[kind].columns:
        req = "required" if c.required else ("required_new" if c.required_new else "optional")
        rows.append((header_label(c, lang), c.name, translate(f"ingest.req.{req}", lang), _allowed(c, lang)))
    cols = [translate(f"ingest.help.{k}", lang) for k in ("header", "code", "required", "allowed")]
    return pd.DataFrame(rows, columns=cols)
