"""Features and labels from the monthly panel, with no look-ahead: month t's features read only months up to t."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.store import model as model_store

DEFAULT_HORIZON = 6
#: Months of history the features read: 6 for the changes and volatility, 13 for the income
#: that will leave the rolling 12-month window over the horizon (and the change a year ago).
HISTORY = 13
MIN_HISTORY = 3
#: Months past the panel whose (stored, announced) income line the features may read.
LINE_AHEAD = 12
#: ``months_to_line`` of a household whose income is not falling (and the most it says otherwise).
MONTHS_TO_LINE_CAP = 36.0

Progress = Callable[[str, float], None]

# Features, with the risk type a contribution points to (for the clue and the profile).
_LEVELS = {
    "inc_ratio": "other",  # income_pc / income line
    "income_change_12m": "other",
    "wage_pc_ratio": "unstable_work",
    "business_pc_ratio": "industry_failure",
    "business_cost_pc_ratio": "industry_failure",
    "property_pc_ratio": "other",
    "transfer_pc_ratio": "other",
    "benefits_pc_ratio": "other",
    "medical_pc_ratio": "illness",
    "schooling_pc_ratio": "schooling",
    "debt_pc_ratio": "other",
    "disaster_pc_ratio": "disaster",
    "housing_grade": "housing",
    "water_unsafe": "water",
    "months_worked_per_worker": "unstable_work",
    "dibao": "other",
    "tekun": "other",
    "job_lost": "unstable_work",
}
_CHANGES = {
    "inc_chg_3m": "other",
    "inc_chg_6m": "other",
    "inc_vol_3m": "other",
    "inc_vol_6m": "other",
    "wage_chg_3m": "unstable_work",
    "business_chg_3m": "industry_failure",
    "medical_chg_3m": "illness",
    "months_worked_chg_3m": "unstable_work",
}
_STRUCTURE = {
    "size": "other",
    "former_poor": "other",
    "no_labour_guarantee": "lack_of_labour",
    "relocated": "other",
    "n_labour": "lack_of_labour",
    "n_weak_labour": "lack_of_labour",
    "n_elderly": "lack_of_labour",
    "n_children": "lack_of_labour",
    "n_chronic": "illness",
    "n_serious": "illness",
    "n_disabled": "disability",
    "n_students": "schooling",
    "n_uninsured": "illness",
    "dependency": "lack_of_labour",
}
#: Recorded household events counted over the last 3 months (event types -> feature).
EVENT_GROUPS = {
    "illness": "ev_illness_3m",
    "accident": "ev_accident_3m",
    "job_loss": "ev_job_loss_3m",
    "price_crash": "ev_price_crash_3m",
    "flood": "ev_disaster_3m",
    "drought": "ev_disaster_3m",
    "school_entry": "ev_school_entry_3m",
}
_ACTIVITY = {
    "ev_illness_3m": "illness",
    "ev_accident_3m": "accident",
    "ev_job_loss_3m": "unstable_work",
    "ev_price_crash_3m": "industry_failure",
    "ev_disaster_3m": "disaster",
    "ev_school_entry_3m": "schooling",
    "ev_other_3m": "other",
    "clues_3m": "other",
    "clues_6m": "other",
}
# Where income is heading (all in units of the line): the rolling 12-month income moves each
# month by this month's flow minus the flow of 12 months before, so the month's change of
# ``income_pc`` says how this month compares with a year ago, and the changes 12 months back
# say what leaves the window over the horizon (a wage cut a year ago leaving lifts the income).
_HEADING = {
    "inc_d1": "other",  # income_pc(t) - income_pc(t-1)
    "inc_d2": "other",  # income_pc(t-1) - income_pc(t-2)
    "inc_leaving": "other",  # the changes of months t-11..t-12+H, which reverse as those months leave
    "inc_proj": "other",  # income in H months if this month's change persists, less what leaves, over the line then
    "inc_proj_trend": "other",  # income plus H times the mean of the last two changes, over the line then
    "trend_rule": "other",  # min(income, income + 2 x 3-month change): the clerk's two-term rule
    "line_ahead_ratio": "other",  # income over the highest line of the next H months that is known
    "months_to_line": "other",  # months until income meets the line ahead at this month's pace (0 if under it, 36 if not falling)
    "months_to_line_3m": "other",  # the same at the pace of the last three months
    "decline_months": "other",  # consecutive months (up to 12) in which income fell: a cut that lasts, not noise
    "wage_d1": "unstable_work",
    "business_d1": "industry_failure",
    "medical_d1": "illness",  # spending that has started this month
    "months_worked_d1": "unstable_work",
}
FEATURE_RISK: dict[str, str] = {**_LEVELS, **_CHANGES, **_HEADING, **_STRUCTURE, **_ACTIVITY}
FEATURES: tuple[str, ...] = tuple(FEATURE_RISK)
FEATURE_GROUP: dict[str, str] = {
    **{f: "level" for f in _LEVELS},
    **{f: "change" for f in _CHANGES},
    **{f: "heading" for f in _HEADING},
    **{f: "structure" for f in _STRUCTURE},
    **{f: "activity" for f in _ACTIVITY},
}


class ModelError(RuntimeError):
    """A model that cannot be trained or used here (too short a panel, other schema, no model).

    ``code`` names the locale entry ``model.err.<code>`` and ``params`` fill it, so a page says it
    in the user's language; the message itself (English) is for logs and the command line."""

    def __init__(self, message: str, code: str = "", **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params

    def __reduce__(self) -> tuple:
        return (_model_error, (str(self), self.code, self.params))

    def text(self, translate: object, lang: str) -> str:
        """The message in ``lang`` (``translate`` is ``fanpin.core.i18n.translate``)."""
        return translate(f"model.err.{self.code}", lang, **self.params) if self.code else str(self)


def _model_error(message: str, code: str, params: dict) -> ModelError:
    return ModelError(message, code, **params)


# --------------------------------------------------------------------------- data
@dataclass
class PanelData:
    """Everything the model reads from the database, by month."""

    snapshots: dict[int, pd.DataFrame]  # period -> frame ordered by household_id
    events: pd.DataFrame  # household_id, period, event_type (household events only)
    clues: pd.DataFrame  # household_id, period (clues the model itself sent are left out)
    lines: dict[int, float]  # period -> income line (panel months, and later months whose year's line is stored)
    #: household_id, period, status of every monitoring record, oldest first (None: nobody monitored)
    monitoring: pd.DataFrame | None = None

    @property
    def periods(self) -> list[int]:
        return sorted(self.snapshots)

    def monitored_at(self, t: int) -> np.ndarray:
        """(n,) bool over month t's snapshot: under monitoring then (the latest record up to t is
        not an elimination).  The backtest leaves them out: the bureau already knows them."""
        ids = self.snapshots[t]["household_id"].astype(str)
        if self.monitoring is None or self.monitoring.empty:
            return np.zeros(len(ids), dtype=bool)
        m = self.monitoring[self.monitoring["period"].to_numpy() <= t].drop_duplicates("household_id", keep="last")
        on = m.loc[m["status"] != "eliminated", "household_id"].astype(str)
        return ids.isin(on).to_numpy()


def load_panel(engine: Engine, periods: Sequence[int] | None = None) -> PanelData:
    """Snapshots, household events and clues for ``periods`` (default: all months).

    The model's own loader, without a principal: its callers (``train``, ``score_period``) check
    theirs, and nothing it returns leaves the model except through them."""
    from fanpin.engine.policies import stored_lines

    ps = sorted(int(p) for p in (periods if periods is not None else store.periods(engine)))
    if not ps:
        raise ModelError("no panel months in the database", "no_panel")
    snaps = store.load_snapshots(engine, ps)
    ev_f = model_store.household_events(engine, ps[0], ps[-1])
    cl_f = model_store.clue_months(engine, ps[0], ps[-1])
    stored = stored_lines(engine)
    lines = {p: float(stored.stored_at(p) or np.nan) for p in ps}
    years = {y for y, _ in stored.yearly}
    for k in range(1, LINE_AHEAD + 1):  # announced lines of the months after the panel
        p = store.shift_period(ps[-1], k)
        if p // 100 in years:
            lines[p] = float(stored.stored_at(p))
    return PanelData(snaps, ev_f, cl_f, lines, model_store.monitoring_history(engine))


def _window(periods: Sequence[int], t: int, back: int) -> list[int]:
    """The months t-back+1..t that exist in the panel."""
    lo = store.shift_period(t, -(back - 1))
    return [p for p in periods if lo <= p <= t]


def _aligned(frame: pd.DataFrame, ids: pd.Index, column: str) -> np.ndarray:
    """``frame[column]`` for the households ``ids`` (NaN where absent)."""
    pos = pd.Index(frame["household_id"].astype(str)).get_indexer(ids)
    vals = frame[column].to_numpy(dtype=np.float64)
    out = np.full(len(ids), np.nan)
    ok = pos >= 0
    out[ok] = vals[pos[ok]]
    return out


def _counts(frame: pd.DataFrame, ids: pd.Index, months: Sequence[int], mask: np.ndarray | None = None) -> np.ndarray:
    if frame.empty:
        return np.zeros(len(ids))
    sel = frame["period"].isin(months).to_numpy().copy()
    if mask is not None:
        sel &= mask
    pos = ids.get_indexer(frame["household_id"].astype(str).to_numpy()[sel])
    pos = pos[pos >= 0]
    return np.bincount(pos, minlength=len(ids)).astype(np.float64)


@dataclass(frozen=True)
class _Month:
    """One month's snapshot as float columns, with what every feature group divides by."""

    data: PanelData
    t: int
    frame: pd.DataFrame
    ids: pd.Index
    line: float
    size: np.ndarray
    workers: np.ndarray
    horizon: int = DEFAULT_HORIZON
    _positions: dict = field(default_factory=dict)

    @classmethod
    def of(cls, data: PanelData, t: int, horizon: int = DEFAULT_HORIZON) -> _Month:
        f = data.snapshots[t]
        ids = pd.Index(f["household_id"].astype(str), name="household_id")
        size = np.maximum(f["size"].to_numpy(dtype=np.float64), 1.0)
        workers = np.maximum(f["n_labour"].to_numpy(dtype=np.float64) + f["n_weak_labour"].to_numpy(dtype=np.float64), 1.0)
        return cls(data, t, f, ids, data.lines.get(t, np.nan), size, workers, int(horizon))

    def line_ahead(self) -> float:
        """The highest line of months t+1..t+H that is known (stored), else this month's."""
        ahead = [self.data.lines.get(store.shift_period(self.t, h), np.nan) for h in range(1, self.horizon + 1)]
        known = [v for v in ahead if v == v]
        return max([self.line, *known])

    def col(self, c: str) -> np.ndarray:
        return self.frame[c].to_numpy(dtype=np.float64)

    def pc(self, c: str) -> np.ndarray:
        """Per head, in units of the month's line."""
        return self.col(c) / self.size / self.line

    def past(self, months_back: int, column: str) -> np.ndarray:
        """``column`` ``months_back`` months earlier, for these households (NaN where absent)."""
        if months_back == 0:
            return self.col(column)
        p = store.shift_period(self.t, -months_back)
        if p not in self.data.snapshots:
            return np.full(len(self.ids), np.nan)
        frame = self.data.snapshots[p]
        if p not in self._positions:
            self._positions[p] = pd.Index(frame["household_id"].astype(str)).get_indexer(self.ids)
        pos = self._positions[p]
        out = np.full(len(self.ids), np.nan)
        ok = pos >= 0
        out[ok] = frame[column].to_numpy(dtype=np.float64)[pos[ok]]
        return out


def _levels(m: _Month) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    inc = m.col("income_pc")
    out["inc_ratio"] = inc / m.line
    with np.errstate(divide="ignore", invalid="ignore"):
        prev = m.col("income_pc_12m_ago")
        out["income_change_12m"] = np.where(prev > 0, inc / prev - 1.0, np.nan)
    for name, column in (
        ("wage_pc_ratio", "income_wage"), ("business_pc_ratio", "income_business"), ("business_cost_pc_ratio", "business_cost"),
        ("property_pc_ratio", "income_property"), ("transfer_pc_ratio", "income_transfer"), ("benefits_pc_ratio", "benefits"),
        ("medical_pc_ratio", "medical_oop"), ("schooling_pc_ratio", "schooling_cost"), ("debt_pc_ratio", "debt"),
        ("disaster_pc_ratio", "disaster_loss"),
    ):
        out[name] = m.pc(column)
    out["housing_grade"] = m.col("housing_grade")
    out["water_unsafe"] = 1.0 - m.col("water_safe")
    out["months_worked_per_worker"] = m.col("months_worked") / m.workers
    for c in ("dibao", "tekun", "job_lost"):
        out[c] = m.col(c)
    return out


def _changes(m: _Month) -> dict[str, np.ndarray]:
    """Changes and volatility over the last 3 and 6 months (in units of this month's line)."""
    out: dict[str, np.ndarray] = {}
    inc = m.col("income_pc")
    out["inc_chg_3m"] = (inc - m.past(3, "income_pc")) / m.line
    out["inc_chg_6m"] = (inc - m.past(6, "income_pc")) / m.line
    for back, name in ((3, "inc_vol_3m"), (6, "inc_vol_6m")):
        months = _window(m.data.periods, m.t, back + 1)
        if len(months) >= 2:
            hist = np.column_stack([_aligned(m.data.snapshots[p], m.ids, "income_pc") for p in months])
            with np.errstate(invalid="ignore"):
                out[name] = np.nanstd(np.diff(hist, axis=1), axis=1) / m.line
        else:
            out[name] = np.full(len(m.ids), np.nan)
    out["wage_chg_3m"] = (m.col("income_wage") - m.past(3, "income_wage")) / m.size / m.line
    out["business_chg_3m"] = (m.col("income_business") - m.past(3, "income_business")) / m.size / m.line
    out["medical_chg_3m"] = (m.col("medical_oop") - m.past(3, "medical_oop")) / m.size / m.line
    out["months_worked_chg_3m"] = (m.col("months_worked") - m.past(3, "months_worked")) / m.workers
    return out


def _heading(m: _Month) -> dict[str, np.ndarray]:
    """Where income is heading over the horizon (see ``_HEADING``), from months t-13..t only."""
    h, line, ahead = m.horizon, m.line, m.line_ahead()
    inc = m.col("income_pc")
    hist = {k: m.past(k, "income_pc") for k in range(0, 14)}
    d = {k: hist[k] - hist[k + 1] for k in range(0, 13)}  # d[k]: the change k months ago
    leaving = np.sum([d[12 - j] for j in range(1, h + 1) if 12 - j >= 0], axis=0)
    d1, d12 = d[0], np.nan_to_num(d[12])
    out: dict[str, np.ndarray] = {"inc_d1": d1 / line, "inc_d2": d[1] / line, "inc_leaving": leaving / line}
    out["inc_proj"] = (inc + h * (d1 + d12) - np.nan_to_num(leaving)) / ahead
    recent = np.where(np.isnan(d[1]), d1, 0.5 * (d1 + d[1]))
    out["inc_proj_trend"] = (inc + h * recent) / ahead
    out["trend_rule"] = np.fmin(inc, inc + 2.0 * (inc - hist[3])) / line
    out["line_ahead_ratio"] = inc / ahead
    # how soon the income meets the line ahead if it keeps falling as it does: a ratio the trees
    # would otherwise piece together from many splits of the distance and the change
    above = inc - ahead
    last3 = np.column_stack([d[0], d[1], d[2]])
    seen = (~np.isnan(last3)).sum(axis=1)
    pace3 = np.where(seen > 0, np.nansum(last3, axis=1) / np.maximum(seen, 1), np.nan)
    for name, pace in (("months_to_line", -d1), ("months_to_line_3m", -pace3)):
        when = np.where(pace > 0, above / pace, MONTHS_TO_LINE_CAP)
        out[name] = np.clip(np.where(above <= 0, 0.0, when), 0.0, MONTHS_TO_LINE_CAP)
    falling = np.column_stack([np.nan_to_num(d[k], nan=0.0) < 0 for k in range(12)] + [np.zeros(len(inc), dtype=bool)])
    out["decline_months"] = np.argmin(falling, axis=1).astype(np.float64)
    per_head = lambda c: (m.col(c) - m.past(1, c)) / m.size / line
    out["wage_d1"] = per_head("income_wage")
    out["business_d1"] = per_head("income_business")
    out["medical_d1"] = per_head("medical_oop")
    out["months_worked_d1"] = (m.col("months_worked") - m.past(1, "months_worked")) / m.workers
    return out


def _structure(m: _Month) -> dict[str, np.ndarray]:
    out = {
        c: m.col(c)
        for c in ("size", "no_labour_guarantee", "relocated", "n_labour", "n_weak_labour", "n_elderly", "n_children", "n_chronic", "n_serious", "n_disabled", "n_students", "n_uninsured")
    }
    out["former_poor"] = (m.frame["household_type"].to_numpy() == "former_poor").astype(np.float64)
    out["dependency"] = (m.col("n_elderly") + m.col("n_children")) / m.size
    return out


def _activity(m: _Month) -> dict[str, np.ndarray]:
    """Recorded events (by group) and clues in the last 3 and 6 months."""
    last3 = _window(m.data.periods, m.t, 3)
    last6 = _window(m.data.periods, m.t, 6)
    ev = m.data.events
    kinds = ev["event_type"].to_numpy() if len(ev) else np.array([], dtype=object)
    out: dict[str, np.ndarray] = {}
    for name in sorted(set(EVENT_GROUPS.values())):
        types = [k for k, v in EVENT_GROUPS.items() if v == name]
        out[name] = _counts(ev, m.ids, last3, np.isin(kinds, types))
    out["ev_other_3m"] = _counts(ev, m.ids, last3, ~np.isin(kinds, list(EVENT_GROUPS)))
    out["clues_3m"] = _counts(m.data.clues, m.ids, last3)
    out["clues_6m"] = _counts(m.data.clues, m.ids, last6)
    return out


def features_for(data: PanelData, t: int, horizon: int = DEFAULT_HORIZON) -> pd.DataFrame:
    """The feature frame for month ``t`` (index household_id, columns FEATURES); reads months <= t
    only, and the income lines of months t+1..t+horizon where they are stored (announced)."""
    m = _Month.of(data, t, horizon)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {**_levels(m), **_changes(m), **_heading(m), **_structure(m), **_activity(m)}
    return pd.DataFrame({k: out[k] for k in FEATURES}, index=m.ids)


def labels_for(data: PanelData, t: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(label, in_population) for the households of month t, or raises if t+H is past the panel.

    in_population: at or above the line at t.  label: below the line in any of t+1..t+H.
    """
    f = data.snapshots[t]
    ids = pd.Index(f["household_id"].astype(str))
    future = [store.shift_period(t, h) for h in range(1, horizon + 1)]
    if any(p not in data.snapshots for p in future):
        raise ModelError(f"month {t} has no {horizon} months after it in the panel", "no_future", month=t, horizon=horizon)
    pop = f["income_pc"].to_numpy(dtype=np.float64) >= data.lines[t]
    y = np.zeros(len(ids), dtype=bool)
    for p in future:
        v = _aligned(data.snapshots[p], ids, "income_pc")
        y |= v < data.lines[p]  # NaN (household gone) compares False
    return y, pop


def labelled_months(periods: Sequence[int], horizon: int) -> list[int]:
    """Months with MIN_HISTORY months behind them and ``horizon`` months after them."""
    ps = sorted(periods)
    return ps[MIN_HISTORY : len(ps) - horizon] if len(ps) > MIN_HISTORY + horizon else []


def split_months(periods: Sequence[int], horizon: int, eval_months: int | None = None) -> tuple[list[int], list[int]]:
    """Time split: evaluate on the last labelled months; train on months whose label window ends before them."""
    lab = labelled_months(periods, horizon)
    if len(lab) < 2:
        raise ModelError(f"the panel is too short for a {horizon}-month horizon ({len(periods)} months)", "too_short", horizon=horizon, months=len(periods))
    n_eval = eval_months or max(1, min(6, len(lab) // 3))
    ev = lab[-n_eval:]
    first_eval = ev[0]
    train = [t for t in lab if store.shift_period(t, horizon) < first_eval]
    if not train:
        raise ModelError("no training months end before the evaluation months: use a shorter horizon or fewer evaluation months", "no_training")
    return train, ev
