"""The mapping table: every header and value label a bureau's file may use, with its code name.

One row per code: ``(of, code, names)``, the first name being the one templates, the report and
the column help show.

* ``of = "header"``: ``names`` are headers of the column ``code``, in every import kind that has
  the column; ``of = "header:<kind>"``: headers of the column in that kind only (a kind with such
  rows for a column reads those and not the shared ones: ``relation`` is 与户主关系 for members
  and 亲属关系 for officials' relatives).
* ``of = "<column>"`` or ``"<kind>.<column>"``: ``names`` are cell values meaning the value
  ``code`` of that column (in every kind, or in that kind only).
* ``of = "bool"``: words read as yes (``code`` true) or no (false) in every yes/no column.
* ``of = "info"``: headers of columns a bureau's export repeats from elsewhere (序号, the region
  names beside the region code): recognised, reported, not stored, no confirmation needed.

The first value name of a code is also the label the national-layout export writes
(``fanpin.report.national``); :data:`BY_SEX` gives the relations the national system names by
sex (之子 / 之女).  Headers are compared without a unit in brackets (``工资性收入（元）`` reads as
工资性收入) and without a leading ``其中:``.

A code column also reads its codes and, for columns with a ``label_kind``, the zh and en display
labels of the locale files (``fanpin.core.i18n.label``); the rows here are the other names.
Headers and values are compared in :func:`norm` form (spaces, full-width brackets, case, a
leading ``*`` and a byte-order mark ignored).  ``tests/ingest`` checks that no name means two
things within a kind.  The national export's sheets add their rows here.
"""

from __future__ import annotations

import re
from functools import cache

NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # of, code, names (the first is the one shown)
    ("bool", "true", ("是", "有", "√", "y", "yes", "true", "1", "t")),
    ("bool", "false", ("否", "无", "×", "n", "no", "false", "0", "x", "f")),
    # -- households
    ("header", "household_id", ("户编号", "户码", "户编码")),
    ("header", "village_code", ("行政村代码", "行政区划代码", "村代码", "村级行政区划代码")),
    ("header", "household_type", ("户类型",)),
    ("household_type", "former_poor", ("脱贫户",)),
    ("household_type", "ordinary", ("一般农户", "一般户")),
    ("header", "size", ("家庭人口数", "家庭人口", "人口数")),
    ("header", "phone", ("联系电话", "电话", "手机号码")),
    ("header", "relocated", ("居住在易地扶贫搬迁集中安置区", "易地扶贫搬迁")),
    ("header", "no_labour_guarantee", ("整户无劳动能力兜底保障户",)),
    ("header", "farmland_mu", ("耕地面积(亩)", "耕地面积")),
    ("header", "house_area", ("住房面积(平方米)", "住房面积")),
    ("header", "road_distance_km", ("与村主干路距离(公里)",)),
    ("header", "in_cooperative", ("是否加入农民专业合作组织",)),
    ("header", "housing_secured", ("住房安全有保障",)),
    ("header", "lon", ("经度",)),
    ("header", "lat", ("纬度",)),
    ("header", "created_period", ("建档年月", "建档时间")),
    ("header:households", "housing_grade", ("危房等级", "住房危房等级")),
    ("header", "housing_problem", ("住房出现安全问题", "住房安全问题")),
    ("header", "dropout", ("义务教育阶段适龄儿童少年失学辍学", "适龄儿童少年失学辍学", "失学辍学")),
    ("header", "water_problem", ("饮水出现安全问题", "饮水安全问题")),
    ("header", "uninsured_member", ("有家庭成员未参加基本医疗保险", "家庭成员未参加基本医疗保险")),
    # -- members
    ("header", "name", ("姓名",)),
    ("header", "id_number", ("证件号码", "身份证号", "身份证号码", "公民身份号码")),
    ("header", "sex", ("性别",)),
    ("sex", "M", ("男", "male")),
    ("sex", "F", ("女", "female")),
    ("header", "birth_date", ("出生日期",)),
    ("header:members", "relation", ("与户主关系",)),
    ("members.relation", "head", ("户主", "本人")),
    ("members.relation", "spouse", ("配偶", "妻", "夫")),
    ("members.relation", "child", ("之子", "之女", "子", "女", "儿子", "女儿")),
    ("members.relation", "child_in_law", ("之儿媳", "之女婿", "儿媳", "女婿")),
    ("members.relation", "parent", ("之父", "之母", "父亲", "母亲")),
    ("members.relation", "grandchild", ("之孙子", "之孙女", "孙子", "孙女", "之外孙子", "之外孙女", "之孙子女", "之外孙子女")),
    ("members.relation", "sibling", ("之兄弟姐妹", "兄弟姐妹", "之兄", "之弟", "之姐", "之妹")),
    ("members.relation", "other", ("其他",)),
    ("header", "ethnicity", ("民族",)),
    ("header", "education", ("文化程度",)),
    ("education", "illiterate", ("文盲或半文盲", "文盲")),
    ("education", "primary", ("小学",)),
    ("education", "junior", ("初中",)),
    ("education", "senior", ("高中", "中专")),
    ("education", "college", ("大专及以上", "大专", "本科及以上")),
    ("header", "schooling", ("在校生情况",)),
    ("schooling", "none", ("非在校生",)),
    ("schooling", "preschool", ("学前教育",)),
    ("schooling", "primary", ("小学",)),
    ("schooling", "junior", ("初中",)),
    ("schooling", "senior", ("高中", "中职")),
    ("schooling", "college", ("高职", "大专", "本科及以上")),
    ("header", "health", ("健康状况",)),
    ("health", "healthy", ("健康",)),
    ("health", "chronic", ("长期慢性病", "慢性病")),
    ("health", "serious", ("患有大病", "大病")),
    ("health", "disabled", ("残疾",)),  # read beside the others: "残疾,长期慢性病" (see cells.parse_health)
    ("header", "disability", ("残疾等级",)),
    ("header", "labour_capacity", ("劳动技能",)),
    ("labour_capacity", "normal", ("普通劳动力", "技能劳动力")),
    ("labour_capacity", "weak", ("弱劳动力或半劳动力", "弱劳动力", "半劳动力")),
    ("labour_capacity", "lost", ("丧失劳动力",)),
    ("labour_capacity", "none", ("无劳动力",)),
    ("header", "work_location", ("务工所在地",)),
    ("work_location", "in_county", ("县内",)),
    ("work_location", "in_province", ("省内县外", "县外省内", "省内")),
    ("work_location", "out_province", ("省外",)),
    ("header", "medical_insurance", ("是否参加城乡居民基本医疗保险", "基本医疗保险")),
    ("header", "serious_illness_insurance", ("是否参加大病保险", "大病保险")),
    ("header", "pension_insurance", ("是否参加城乡居民基本养老保险", "基本养老保险")),
    ("header:members", "dibao", ("是否享受最低生活保障", "低保")),
    ("header:members", "tekun", ("是否特困供养人员", "特困")),
    ("header", "public_welfare_job", ("公益岗位", "是否公益岗位")),
    ("header", "welfare_job_months", ("聘用月数", "公益岗位聘用月数")),
    ("header:members", "work_months", ("务工时长(月)", "务工时间(月)", "务工月数")),
    ("header", "deceased_period", ("死亡年月",)),
    # -- panel
    ("header", "period", ("年月", "月份", "统计年月")),
    ("header", "income_wage", ("工资性收入",)),
    ("header", "income_business", ("生产经营性收入",)),
    ("header", "income_property", ("财产性收入",)),
    ("header", "income_transfer", ("转移性收入",)),
    ("header", "business_cost", ("生产经营性支出",)),
    ("header", "income_net", ("家庭纯收入",)),
    ("header", "income_pc", ("家庭人均纯收入", "人均纯收入")),
    ("header", "medical_oop", ("合规自付支出",)),
    ("header", "schooling_cost", ("教育支出",)),
    ("header", "debt", ("负债",)),
    ("header", "housing_grade", ("危房等级",)),
    ("housing_grade", "0", ("无", "安全", "否", "非危房")),
    ("housing_grade", "1", ("A级", "A")),
    ("housing_grade", "2", ("B级", "B")),
    ("housing_grade", "3", ("C级", "C")),
    ("housing_grade", "4", ("D级", "D")),
    ("header", "water_safe", ("饮水安全",)),
    ("header", "disaster_loss", ("灾害损失",)),
    ("header:panel", "months_worked", ("务工时长(月)",)),
    ("header", "benefits", ("低保金特困供养金",)),
    ("header:panel", "dibao", ("是否享受低保",)),
    ("header:panel", "tekun", ("是否特困供养",)),
    ("header", "job_lost", ("近3个月失业",)),
    # -- feeds
    ("header", "source", ("来源部门", "部门")),
    ("source", "medical_insurance", ("医保局",)),
    ("source", "civil_affairs", ("民政局",)),
    ("source", "housing", ("住建局",)),
    ("source", "education", ("教育局",)),
    ("source", "hrss", ("人社局",)),
    ("source", "emergency", ("应急管理局",)),
    ("source", "market_regulation", ("市场监管", "市场监管局")),
    ("source", "transport", ("交通",)),
    ("source", "public_security", ("公安局",)),
    ("header", "risk_type", ("风险类型", "致贫返贫风险")),
    ("header", "channel", ("渠道",)),
    ("header:feeds", "detail", ("预警内容", "说明", "内容")),
    ("header", "amount", ("金额",)),
    ("header", "received_at", ("接收时间",)),
    # -- assistance
    ("header:assistance", "period", ("开始时间", "年月", "帮扶年月", "开始年月", "帮扶开始时间")),
    ("header", "end_period", ("结束时间", "结束年月", "帮扶结束时间")),
    ("header", "measure", ("帮扶措施", "帮扶措施类型", "措施类型", "帮扶措施名称")),
    ("header:assistance", "amount", ("帮扶金额", "金额", "资金")),
    ("header", "description", ("措施内容", "帮扶内容", "说明")),
    ("header", "cadre", ("帮扶责任人",)),
    ("header", "cadre_unit", ("帮扶单位", "帮扶责任单位")),
    # -- monitoring records (the household sheet of the national export, or a sheet of its own)
    ("header", "monitoring_category", ("监测对象类别", "监测类别")),
    ("header", "disaster_subitem", ("因自然灾害子项", "自然灾害子项", "因灾子项")),
    ("disaster_subitem", "flood", ("洪涝灾害", "洪涝")),
    ("disaster_subitem", "drought", ("干旱灾害", "干旱")),
    ("disaster_subitem", "hail", ("风雹灾害", "风雹")),
    ("disaster_subitem", "typhoon", ("台风灾害", "台风")),
    ("disaster_subitem", "earthquake", ("地震灾害", "地震")),
    ("disaster_subitem", "geological", ("地质灾害",)),
    ("disaster_subitem", "cold", ("低温冷冻和雪灾", "低温冷冻", "雪灾")),
    ("disaster_subitem", "fire", ("森林草原火灾",)),
    ("disaster_subitem", "other", ("其他自然灾害", "其他")),
    ("header", "identified_period", ("识别监测时间", "识别时间", "纳入监测时间")),
    ("header", "eliminated", ("风险是否已消除", "是否已消除风险", "风险已消除")),
    ("header", "elimination_method", ("风险消除方式", "消除方式")),
    ("elimination_method", "by_assistance", ("帮扶消除",)),
    ("elimination_method", "natural", ("自然消除",)),
    ("header", "eliminated_period", ("消除监测时间", "风险消除时间", "消除时间")),
    ("header", "development_measures", ("实施开发式帮扶措施情况", "开发式帮扶措施")),
    # -- yearly income and spending (the income sheet; its totals share the panel's headers)
    ("header", "year", ("年度", "收入年度", "统计年度", "年份")),
    ("header", "wage_work", ("务工收入", "务工")),
    ("header", "wage_welfare_job", ("公益岗位收入", "公益岗收入", "公益岗")),
    ("header", "business_farming", ("种植业收入", "种植收入", "种植")),
    ("header", "business_livestock", ("养殖业收入", "养殖收入", "养殖")),
    ("header", "business_forestry", ("林果业收入", "林果收入", "林果")),
    ("header", "property_dividend", ("资产收益分红收入", "资产收益分红")),
    ("header", "property_land", ("土地流转收入", "土地流转")),
    ("header", "transfer_dibao", ("低保金",)),
    ("header", "transfer_tekun", ("特困供养金",)),
    ("header", "transfer_pension", ("养老金", "养老金或离退休金")),
    ("header", "transfer_ecological", ("生态补偿金", "生态补偿")),
    ("header", "transfer_other", ("其他补贴", "其他转移性收入")),
    ("header", "insurance_payout", ("理赔收入",)),
    # -- dept_records
    ("header", "record_type", ("比对类型",)),
    ("record_type", "car", ("车辆", "机动车")),
    ("record_type", "commercial_house", ("商品房",)),
    ("record_type", "business", ("工商注册", "经营主体")),
    ("record_type", "death", ("死亡",)),
    ("record_type", "public_employee", ("财政供养",)),
    ("record_type", "other", ("其他",)),
    ("header", "value", ("数值",)),
    ("header:dept_records", "detail", ("说明",)),
    # -- official_relations
    ("header", "official_id_number", ("干部证件号码",)),
    ("header", "official_post", ("职务",)),
    ("official_post", "village_secretary", ("村支书", "村党支部书记")),
    ("official_post", "village_director", ("村主任", "村委会主任")),
    ("official_post", "village_committee", ("村委委员", "村两委成员")),
    ("official_post", "township_staff", ("乡镇干部",)),
    ("header", "region_code", ("行政区划代码",)),
    ("header", "relative_id_number", ("亲属证件号码",)),
    ("header:official_relations", "relation", ("亲属关系",)),
    ("official_relations.relation", "spouse", ("配偶",)),
    ("official_relations.relation", "parent", ("父母",)),
    ("official_relations.relation", "child", ("子女",)),
    ("official_relations.relation", "sibling", ("兄弟姐妹",)),
    ("official_relations.relation", "grandparent", ("祖父母", "外祖父母")),
    ("official_relations.relation", "grandchild", ("孙子女", "外孙子女")),
    # -- regions (fanpin's 行政区划 sheet: a fresh database learns the county's villages from it)
    ("header:regions", "region_code", ("区划代码", "行政区划代码")),
    ("header", "level", ("区划级别", "级别")),
    ("level", "county", ("县", "县级")),
    ("level", "township", ("乡镇", "乡级")),
    ("level", "village", ("行政村", "村级")),
    ("header", "parent_code", ("上级区划代码",)),
    ("header:regions", "name", ("区划名称", "名称")),
    ("header", "name_en", ("英文名称",)),
    ("header", "geometry", ("边界(GeoJSON)", "边界")),
    # -- columns a bureau's export repeats from elsewhere: read, reported, not stored
    ("info", "", ("序号", "省", "省份", "市", "地市", "县", "县(市、区)", "县区", "乡镇", "乡(镇)", "乡", "村", "行政村", "村名称", "乡镇名称")),
)

#: National names of the measures (first: the one the export writes), for ``measure`` and
#: ``development_measures``; and of the risk types, for ``risk_type`` and ``risk_1`` … ``risk_5``.
_MEASURE_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("industry", ("产业帮扶", "产业")),
    ("employment", ("就业帮扶", "就业")),
    ("finance", ("金融帮扶", "金融", "小额信贷")),
    ("public_welfare_job", ("公益岗位帮扶", "公益岗位")),
    ("housing", ("住房安全保障",)),
    ("water", ("饮水安全保障",)),
    ("health", ("健康帮扶", "健康")),
    ("education", ("教育帮扶", "义务教育保障")),
    ("other_education", ("其他教育帮扶", "其他教育")),
    ("comprehensive", ("综合保障",)),
    ("social", ("社会帮扶",)),
    ("relocation", ("易地搬迁", "搬迁")),
)
_RISK_NAMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("illness", ("因病",)),
    ("disability", ("因残",)),
    ("schooling", ("因学",)),
    ("disaster", ("因自然灾害", "因灾")),
    ("accident", ("因意外事故",)),
    ("industry_failure", ("因产业项目失败", "因产业失败")),
    ("unstable_work", ("因务工就业不稳", "因就业不稳")),
    ("lack_of_labour", ("因缺劳动力",)),
    ("housing", ("因住房出现安全问题", "因住房安全")),
    ("water", ("因饮水出现安全问题", "因饮水安全问题", "因饮水安全")),
    ("other", ("其他",)),
)
#: The risk columns of a monitoring record, in order.
RISK_COLUMNS: tuple[str, ...] = tuple(f"risk_{i}" for i in range(1, 6))
NAMES = (
    NAMES
    + tuple((column, code, n) for column in ("measure", "development_measures") for code, n in _MEASURE_NAMES)
    + tuple((column, code, n) for column in ("risk_type", *RISK_COLUMNS) for code, n in _RISK_NAMES)
    + tuple(("header", column, (f"致贫/返贫风险{i}", f"致贫返贫风险{i}", f"返贫致贫风险{i}", f"致贫风险{i}", f"风险类型{i}")) for i, column in enumerate(RISK_COLUMNS, 1))
)

#: Relations the national system names by the member's sex: code -> (male, female).
BY_SEX: dict[str, tuple[str, str]] = {
    "child": ("之子", "之女"), "child_in_law": ("之女婿", "之儿媳"), "parent": ("之父", "之母"), "grandchild": ("之孙子", "之孙女"),
}


_UNIT = re.compile(r"\((?:元|万元|元/人|元/年|亩|公里|千米|km|米|平方米|㎡|m2|月|个月|人|年|%)\)$")


def norm(text: str) -> str:
    """Header/cell normal form: no spaces, ASCII brackets and colon, lower case, no ``*`` around,
    no unit in brackets at the end (``(元)``, ``(亩)``, ``(公里)``), no leading ``其中:``."""
    t = str(text).replace("\ufeff", "").strip().lower()
    t = t.replace("（", "(").replace("）", ")").replace("：", ":")
    t = re.sub(r"\s+", "", t).strip("*")
    t = _UNIT.sub("", t)
    return t[3:] if t.startswith("其中:") else t


@cache
def _rows_of(of: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((code, names) for o, code, names in NAMES if o == of)


def headers(kind: str, column: str) -> tuple[str, ...]:
    """The column's headers in ``kind`` (the first is the one shown); () when the table has none."""
    own = tuple(n for code, names in _rows_of(f"header:{kind}") if code == column for n in names)
    return own or tuple(n for code, names in _rows_of("header") if code == column for n in names)


def values(kind: str, column: str) -> tuple[tuple[str, str], ...]:
    """(name, code) of the cell values the table gives for the column in ``kind``, kind rows first."""
    return tuple((n, code) for of in (f"{kind}.{column}", column) for code, names in _rows_of(of) for n in names)


@cache
def info_headers() -> frozenset[str]:
    """Headers (normal form) of the columns an export repeats from elsewhere (:data:`NAMES` ``info`` rows)."""
    return frozenset(norm(n) for _c, names in _rows_of("info") for n in names)


def first_value(kind: str, column: str, code: str) -> str | None:
    """The first name the table gives for a code of the column (the kind's own rows first), or None."""
    return next((n for n, c in values(kind, column) if c == code), None)


def bool_words() -> tuple[frozenset[str], frozenset[str]]:
    """The words read as yes and as no, in normal form."""
    return (frozenset(norm(n) for c, names in _rows_of("bool") if c == "true" for n in names),
            frozenset(norm(n) for c, names in _rows_of("bool") if c == "false" for n in names))
