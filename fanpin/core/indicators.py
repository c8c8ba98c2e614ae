"""The indicator catalogue and the indicator matrix of a month's snapshot.

Each indicator says what it measures (labels, unit, dimension), which way is
risky (``direction`` +1: higher is riskier, -1: higher is safer), its default
warning line (预警线), the default normalisation bounds that keep scores
comparable from month to month, the risk type it points to, and the department
that supplies it.  ``indicator_matrix`` turns a snapshot frame into a
column-major float32 matrix, one column per indicator, with one vectorised
expression per indicator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

DIMENSIONS: dict[str, tuple[str, str]] = {
    "income": ("收入", "Income"),
    "employment": ("就业", "Employment"),
    "health": ("健康", "Health"),
    "education": ("教育", "Education"),
    "housing": ("住房", "Housing"),
    "water": ("饮水", "Drinking water"),
    "security": ("社会保障", "Social security"),
    "disaster": ("灾害", "Disasters"),
    "debt": ("负债", "Debt"),
}


@dataclass(frozen=True)
class Indicator:
    key: str
    zh: str
    en: str
    unit: str  # yuan, ratio, persons, months, grade, flag, x_line
    dimension: str
    direction: int  # +1 higher is riskier, -1 higher is safer
    warning_line: float | None
    bounds: tuple[float, float]  # default normalisation bounds (in the indicator's unit)
    risk_type: str
    source: str  # department that supplies the underlying data
    compute: Callable[[pd.DataFrame], np.ndarray]

    def hits(self, values: np.ndarray, line: float | None = None) -> np.ndarray:
        """Whether values are on the risky side of the warning line (NaN never hits)."""
        line = self.warning_line if line is None else line
        if line is None:
            return np.zeros(len(values), dtype=bool)
        with np.errstate(invalid="ignore"):
            return values >= line if self.direction > 0 else values < line


def _col(f: pd.DataFrame, name: str) -> np.ndarray:
    return f[name].to_numpy(dtype=np.float64, na_value=np.nan)


def _ratio(num: np.ndarray, den: np.ndarray, cap: float) -> np.ndarray:
    """num/den where den > 0; a household with no positive income gets ``cap`` (the risky end)."""
    out = np.full(len(num), cap, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    out[np.isnan(num) | np.isnan(den)] = np.nan
    return out


def _income_change(f: pd.DataFrame) -> np.ndarray:
    now, before = _col(f, "income_pc"), _col(f, "income_pc_12m_ago")
    out = np.full(len(now), np.nan)
    ok = before > 0
    out[ok] = now[ok] / before[ok] - 1.0
    return out


def _dependency(f: pd.DataFrame) -> np.ndarray:
    size = _col(f, "size")
    return _ratio(size - _col(f, "n_labour"), size, 1.0)


def _months_per_worker(f: pd.DataFrame) -> np.ndarray:
    workers = _col(f, "n_labour") + _col(f, "n_weak_labour")
    # Not applicable without labourers (scored as the safe end): labour_count and
    # dependency_ratio measure that risk, so it is not counted twice as unstable work.
    out = np.full(len(workers), 12.0)
    np.divide(_col(f, "months_worked"), workers, out=out, where=workers > 0)
    return out


def _flag(name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda f: _col(f, name)


def _net(f: pd.DataFrame) -> np.ndarray:
    return _col(f, "income_net")


INCOME_KEY = "income_ratio"  # the indicator whose unit is "x the income line"

CATALOGUE: tuple[Indicator, ...] = (
    Indicator("income_ratio", "人均纯收入/监测线", "Per-capita net income / income line", "x_line", "income", -1, 1.5, (0.5, 3.0), "other", "civil_affairs", lambda f: _col(f, "income_pc")),
    Indicator("income_change", "人均纯收入同比变化", "Change in per-capita income vs 12 months before", "ratio", "income", -1, -0.3, (-0.5, 0.0), "industry_failure", "survey", _income_change),
    Indicator("transfer_share", "转移性收入占比", "Share of income from transfers", "ratio", "income", 1, 0.5, (0.0, 1.0), "lack_of_labour", "civil_affairs", lambda f: _ratio(_col(f, "income_transfer"), _net(f), 1.0)),
    Indicator("business_share", "经营净收入占比", "Share of income from farming and business", "ratio", "income", 1, 0.6, (0.0, 1.0), "industry_failure", "agriculture", lambda f: _ratio(_col(f, "income_business") - _col(f, "business_cost"), _net(f), 0.0).clip(0, None)),
    Indicator("months_worked", "劳动力人均务工月数", "Months worked per labourer (last 12)", "months", "employment", -1, 6.0, (0.0, 12.0), "unstable_work", "hrss", _months_per_worker),
    Indicator("labour_count", "普通劳动力人数", "Working-age labourers", "persons", "employment", -1, 1.0, (0.0, 3.0), "lack_of_labour", "survey", lambda f: _col(f, "n_labour")),
    Indicator("job_lost", "近期失业", "A member lost work in the last 3 months", "flag", "employment", 1, 1.0, (0.0, 1.0), "unstable_work", "hrss", _flag("job_lost")),
    Indicator("dependency_ratio", "非劳动力人口占比", "Share of members who are not labourers", "ratio", "employment", 1, 0.75, (0.0, 1.0), "lack_of_labour", "survey", _dependency),
    Indicator("medical_oop", "合规自付医疗支出", "Medical out-of-pocket spending (12 months)", "yuan", "health", 1, 10_000.0, (0.0, 50_000.0), "illness", "medical_insurance", lambda f: _col(f, "medical_oop")),
    Indicator("medical_burden", "医疗支出占收入比", "Medical out-of-pocket / net income", "ratio", "health", 1, 0.4, (0.0, 1.0), "illness", "medical_insurance", lambda f: _ratio(_col(f, "medical_oop"), _net(f), 1.0)),
    Indicator("serious_ill", "大病重病人数", "Members with serious illness", "persons", "health", 1, 1.0, (0.0, 2.0), "illness", "health_commission", lambda f: _col(f, "n_serious")),
    Indicator("chronic_ill", "慢性病人数", "Members with chronic illness", "persons", "health", 1, 2.0, (0.0, 3.0), "illness", "health_commission", lambda f: _col(f, "n_chronic")),
    Indicator("disabled", "残疾人数", "Members with a disability", "persons", "health", 1, 1.0, (0.0, 2.0), "disability", "disability_federation", lambda f: _col(f, "n_disabled")),
    Indicator("schooling_burden", "教育支出占收入比", "Schooling cost / net income", "ratio", "education", 1, 0.3, (0.0, 0.6), "schooling", "education", lambda f: _ratio(_col(f, "schooling_cost"), _net(f), 0.6)),
    Indicator("students", "在校生人数", "Members in school", "persons", "education", 1, 3.0, (0.0, 3.0), "schooling", "education", lambda f: _col(f, "n_students")),
    Indicator("housing_grade", "住房安全等级", "House safety grade (0 safe, 1-4 = A-D)", "grade", "housing", 1, 3.0, (0.0, 4.0), "housing", "housing", lambda f: _col(f, "housing_grade")),
    Indicator("water_unsafe", "饮水不安全", "Drinking water unsafe", "flag", "water", 1, 1.0, (0.0, 1.0), "water", "water_resources", lambda f: 1.0 - _col(f, "water_safe")),
    Indicator("uninsured", "未参加基本医保人数", "Members without basic medical insurance", "persons", "security", 1, 1.0, (0.0, 2.0), "illness", "medical_insurance", lambda f: _col(f, "n_uninsured")),
    Indicator("dibao_tekun", "低保或特困", "Receives dibao or tekun support", "flag", "security", 1, None, (0.0, 1.0), "other", "civil_affairs", lambda f: np.fmax(_col(f, "dibao"), _col(f, "tekun"))),
    Indicator("elderly_share", "65岁以上老人占比", "Share of members aged 65+", "ratio", "security", 1, 1.0, (0.0, 1.0), "lack_of_labour", "public_security", lambda f: _ratio(_col(f, "n_elderly"), _col(f, "size"), 0.0)),
    Indicator("disaster_loss", "灾害损失", "Disaster loss (12 months)", "yuan", "disaster", 1, 5_000.0, (0.0, 30_000.0), "disaster", "emergency", lambda f: _col(f, "disaster_loss")),
    Indicator("disaster_burden", "灾害损失占收入比", "Disaster loss / net income", "ratio", "disaster", 1, 0.2, (0.0, 1.0), "disaster", "emergency", lambda f: _ratio(_col(f, "disaster_loss"), _net(f), 1.0)),
    Indicator("debt_ratio", "负债收入比", "Debt / net income", "ratio", "debt", 1, 1.0, (0.0, 3.0), "other", "finance", lambda f: _ratio(_col(f, "debt"), _net(f), 3.0)),
)

BY_KEY: dict[str, Indicator] = {i.key: i for i in CATALOGUE}
KEYS: tuple[str, ...] = tuple(BY_KEY)

DEPARTMENTS: dict[str, tuple[str, str]] = {
    "civil_affairs": ("民政", "Civil affairs"),
    "medical_insurance": ("医保", "Medical insurance"),
    "health_commission": ("卫健", "Health commission"),
    "housing": ("住建", "Housing and construction"),
    "education": ("教育", "Education"),
    "hrss": ("人社", "Human resources and social security"),
    "emergency": ("应急管理", "Emergency management"),
    "disability_federation": ("残联", "Disabled persons' federation"),
    "public_security": ("公安", "Public security"),
    "water_resources": ("水利", "Water resources"),
    "agriculture": ("农业农村", "Agriculture and rural affairs"),
    "finance": ("金融监管", "Financial regulator"),
    "survey": ("入户调查", "Household survey"),
}


def indicator_matrix(frame: pd.DataFrame, keys: tuple[str, ...] = KEYS) -> np.ndarray:
    """Households x indicators, float32, column-major (one contiguous column per indicator).

    ``income_ratio`` holds per-capita income in yuan; the scorer divides by the
    policy's income line, so that an income-line change is a change of bounds,
    not a new matrix.  NaN marks a missing value.
    """
    out = np.empty((len(frame), len(keys)), dtype=np.float32, order="F")
    for j, k in enumerate(keys):
        out[:, j] = BY_KEY[k].compute(frame)
    return out
