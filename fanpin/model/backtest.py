"""The backtest a bureau can trust: distinct fallers found at a monthly visit budget.

A *window* is a few consecutive months the model never saw: it is scored by a model trained only
on months whose label was complete at the window's start.  In each month of the window every
method visits its top ``budget`` share of the households not yet below the line (households
already under monitoring are known: they take no visit and are never a find).  A visit *finds* a
household that falls below the line within the horizon after that month; a household found is
known from then on (it is not visited again and counts once, however often it would have been
picked), while a visit that found nothing does not stop a later one (the list is rerun each
month on new data, and a household still at its top is visited again).

The ceiling is what a perfect predictor finds at the same budgets: the largest number of
distinct fallers that can be matched to a month in which each is a visitable faller, no month
over its budget.  It is computed exactly as a minimum cut (a window has a handful of months, so
every cut can be tried).  The share of the gap closed is (method - income-line rule) /
(ceiling - income-line rule).

Intervals: a Poisson bootstrap over households.  Each draw gives every household of the county
one weight (the same in every window, so windows sharing households are not counted as
independent evidence) and reruns every method and the ceiling on the reweighted county (a
household of weight 2 takes two visits and counts twice; the budgets follow the reweighted
number of households), so the interval covers which households a county happens to hold,
including how they compete for the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.store.io import shift_period

BUDGETS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)
#: The methods compared, model first, the income-line rule (the gap's base) last.
METHODS: tuple[str, ...] = ("model", "logistic", "trend_rule", "index_tiers", "income_line")
#: What the model must at least match: the best of the simple rules a bureau could run instead.
SIMPLE_RULES: tuple[str, ...] = ("trend_rule", "logistic")
BASE = "income_line"
CEILING = "ceiling"
ALL = "all"
DRAWS = 200
#: Window tags: a month of the window is a line change / has a county-level disaster; the latest window.
TAGS: tuple[str, ...] = ("latest", "line_change", "disaster")


@dataclass(frozen=True)
class Window:
    """Consecutive held-out months, scored by a model trained on months whose label was complete at ``months[0]``."""

    months: tuple[int, ...]
    tags: tuple[str, ...] = ()

    @property
    def start(self) -> int:
        return self.months[0]

    @property
    def name(self) -> str:
        return f"{self.months[0]}-{self.months[-1]}"


@dataclass
class WindowData:
    """One window's months over the same households: labels, who may be visited, each method's score."""

    window: Window
    household_ids: np.ndarray  # (n,)
    y: np.ndarray  # (m, n) bool: falls below the line within the horizon after that month
    not_below: np.ndarray  # (m, n) bool: at or above the line that month (the budget's base)
    eligible: np.ndarray  # (m, n) bool: not below and not under monitoring (may be visited)
    scores: dict[str, np.ndarray]  # method -> (m, n) float, higher = visit first (NaN last)

    @property
    def fallers(self) -> np.ndarray:
        """(n,) bool: households that are a visitable faller in some month of the window."""
        return (self.eligible & self.y).any(axis=0)


# --------------------------------------------------------------------------- choosing windows
def training_months(labelled: Sequence[int], start: int, horizon: int) -> list[int]:
    """The labelled months whose label (months t+1..t+horizon) is complete when ``start`` is scored."""
    return [t for t in labelled if shift_period(t, horizon) <= start]


def line_change_months(lines: Mapping[int, float]) -> set[int]:
    """Months whose income line differs from the month before (a January in the usual yearly rhythm)."""
    ps = sorted(lines)
    return {p for a, p in zip(ps, ps[1:], strict=False) if lines[p] == lines[p] and lines[a] == lines[a] and lines[p] != lines[a]}


def choose_windows(
    labelled: Sequence[int],
    horizon: int,
    *,
    line_changes: set[int] = frozenset(),
    disasters: set[int] = frozenset(),
    length: int = 3,
    count: int = 4,
    min_train: int = 3,
) -> list[Window]:
    """Up to ``count`` windows of ``length`` labelled months, tiled back from the latest, each with at
    least ``min_train`` training months; if none of them holds a line change (or a disaster month),
    the latest earlier non-overlapping window that does is added.  Oldest first."""
    lab = sorted(labelled)
    ok = lambda ms: len(ms) == length and len(training_months(lab, ms[0], horizon)) >= min_train
    chosen: list[tuple[int, ...]] = []
    end = len(lab)
    while len(chosen) < count and end - length >= 0 and ok(lab[end - length : end]):
        chosen.append(tuple(lab[end - length : end]))
        end -= length
    for wanted in (line_changes, disasters):
        if not wanted or any(set(w) & wanted for w in chosen):
            continue
        for s in range(end - length, -1, -1):  # earlier than every chosen window: no overlap
            ms = tuple(lab[s : s + length])
            if ok(list(ms)) and set(ms) & wanted:
                chosen.append(ms)
                end = s
                break
    chosen.sort()
    latest = chosen[-1] if chosen else None
    return [
        Window(ms, tuple(t for t, hit in (("latest", ms == latest), ("line_change", bool(set(ms) & line_changes)), ("disaster", bool(set(ms) & disasters))) if hit))
        for ms in chosen
    ]


# --------------------------------------------------------------------------- finds
def budget_size(k: float, base: float | np.ndarray) -> np.ndarray:
    """Visits in a month: round(k x households not yet below the line), at least one."""
    return np.maximum(1, np.rint(k * np.asarray(base, dtype=np.float64)))


def _order(score: np.ndarray, cand: np.ndarray, tiebreak: np.ndarray | None) -> np.ndarray:
    """``cand`` highest score first (NaN last); ties by ``tiebreak`` (higher first), then position."""
    if tiebreak is None:
        return cand[np.argsort(-score[cand], kind="stable")]
    return cand[np.lexsort((-tiebreak[cand], -score[cand]))]


def found_by(score: np.ndarray, eligible: np.ndarray, y: np.ndarray, not_below: np.ndarray, k: float, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """(n,) bool: the households a method finds in the window (ties by ``tiebreak``, then position)."""
    found = np.zeros(y.shape[1], dtype=bool)
    for i in range(y.shape[0]):
        cand = np.flatnonzero(eligible[i] & ~found)
        pick = _order(score[i], cand, None if tiebreak is None else tiebreak[i])[: int(budget_size(k, not_below[i].sum()))]
        found[pick] |= y[i, pick]
    return found


def found_weighted(
    score: np.ndarray, eligible: np.ndarray, y: np.ndarray, not_below: np.ndarray, k: float, weights: np.ndarray, tiebreak: np.ndarray | None = None
) -> np.ndarray:
    """(B,) weighted finds of a method, one per row of household weights ``weights`` (B, n).

    A household of weight w takes w visits and counts w times; a weight-0 household is absent.
    With all weights 1 this is ``found_by(...).sum()``."""
    weights = np.asarray(weights, dtype=np.float64)
    found = np.zeros(weights.shape, dtype=bool)
    for i in range(y.shape[0]):
        order = _order(score[i], np.flatnonzero(eligible[i]), None if tiebreak is None else tiebreak[i])
        cap = budget_size(k, weights @ not_below[i].astype(np.float64))
        # only a prefix of the order can be reached: the budget plus the positions that take no visit
        reach = len(order)
        for n_look in (int(2 * cap.max() + found.sum(axis=1).max() + 64), len(order)):
            head = order[: min(n_look, len(order))]
            w = weights[:, head] * ~found[:, head]
            cum = np.cumsum(w, axis=1)
            if len(head) == len(order) or (cum[:, -1] >= cap).all():
                reach = len(head)
                break
        head = order[:reach]
        pick = (w > 0) & (cum - w < cap[:, None])
        found[:, head] |= pick & y[i, head]
    return (found * weights).sum(axis=1)


def ceiling_count(eligible: np.ndarray, y: np.ndarray, not_below: np.ndarray, k: float, weights: np.ndarray | None = None) -> np.ndarray:
    """(B,) the perfect predictor's finds: the most distinct fallers matched to months in which
    each is a visitable faller, no month over its budget (one row per weight row; B=1 unweighted).

    Max flow = min cut: for every set U of months, the budgets of the months outside U plus the
    fallers visitable in some month of U; the smallest over all U is the maximum."""
    m, n = y.shape
    if m > 12:
        raise ValueError("a window of more than 12 months: the exact ceiling tries 2^m cuts")
    w = np.ones((1, n)) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = eligible & y
    pattern = (ok.astype(np.int64) << np.arange(m)[:, None]).sum(axis=0)  # which months each household is a visitable faller
    per_pattern = np.zeros((len(w), 1 << m))
    for p in np.unique(pattern[pattern > 0]):
        per_pattern[:, p] = w[:, pattern == p].sum(axis=1)
    caps = np.stack([budget_size(k, w @ not_below[i].astype(np.float64)) for i in range(m)], axis=1)  # (B, m)
    best = np.full(len(w), np.inf)
    pats = np.arange(1 << m)
    for u in range(1 << m):
        outside = [i for i in range(m) if not (u >> i) & 1]
        cut = caps[:, outside].sum(axis=1) + per_pattern[:, (pats & u) != 0].sum(axis=1)
        best = np.minimum(best, cut)
    return best


# --------------------------------------------------------------------------- the table
def _universe_weights(windows: Sequence[WindowData], draws: int, seed: int) -> tuple[pd.Index, np.ndarray]:
    """Every household of the windows, and weights (1 + draws, N): row 0 all ones (the point estimate)."""
    universe = pd.Index(np.unique(np.concatenate([np.asarray(d.household_ids, dtype=str) for d in windows])))
    w = np.random.default_rng(seed).poisson(1.0, size=(draws, len(universe))).astype(np.float32)
    return universe, np.vstack([np.ones((1, len(universe)), dtype=np.float32), w])


def window_counts(d: WindowData, budgets: Sequence[float], weights: np.ndarray) -> dict[float, dict[str, np.ndarray]]:
    """budget -> method (and the ceiling) -> (B,) weighted finds."""
    out: dict[float, dict[str, np.ndarray]] = {}
    for k in budgets:
        tie = d.scores.get(BASE)  # ties (a tree model's equal probabilities) go to the lower income first
        row = {m: found_weighted(s, d.eligible, d.y, d.not_below, k, weights, tie) for m, s in d.scores.items()}
        row[CEILING] = ceiling_count(d.eligible, d.y, d.not_below, k, weights)
        out[k] = row
    return out


def table(windows: Sequence[WindowData], budgets: Sequence[float] = BUDGETS, *, draws: int = DRAWS, seed: int = 0) -> pd.DataFrame:
    """The evaluation table: one row per window (and ``all``, the windows summed), budget and method.

    Columns: window, tags (comma-separated), budget, method, found (distinct households), lo, hi
    (95% bootstrap interval), ratio (found / the income-line rule's), gap_closed (share of the
    gap from the income-line rule to the ceiling), gap_lo, gap_hi, visits (the window's budget,
    summed over its months), fallers (distinct visitable fallers), diff_lo, diff_hi (95% interval
    of the model's finds minus this method's, over the same draws: a paired comparison)."""
    if not windows:
        return pd.DataFrame(columns=["window", "tags", "budget", "method", "found", "lo", "hi", "ratio", "gap_closed", "gap_lo", "gap_hi", "visits", "fallers", "diff_lo", "diff_hi"])
    universe, w_all = _universe_weights(windows, draws, seed)
    rows: list[dict] = []
    totals: dict[float, dict[str, np.ndarray]] = {k: {} for k in budgets}
    visits_all = dict.fromkeys(budgets, 0)
    fallers_all = 0
    for d in windows:
        w = w_all[:, universe.get_indexer(np.asarray(d.household_ids, dtype=str))]
        fallers = int(d.fallers.sum())
        fallers_all += fallers
        for k, by in window_counts(d, budgets, w).items():
            visits = int(sum(budget_size(k, d.not_below[i].sum()) for i in range(d.y.shape[0])))
            visits_all[k] += visits
            for m, v in by.items():
                totals[k][m] = totals[k].get(m, 0.0) + v
            rows += _rows(d.window.name, ",".join(d.window.tags), k, by, visits, fallers)
    for k in budgets:
        rows += _rows(ALL, "", k, totals[k], visits_all[k], fallers_all)
    return pd.DataFrame(rows)


def _interval(v: np.ndarray) -> tuple[float, float]:
    v = v[np.isfinite(v)]
    return (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) if len(v) else (np.nan, np.nan)


def _rows(name: str, tags: str, k: float, by: Mapping[str, np.ndarray], visits: int, fallers: int) -> list[dict]:
    """Rows of one window and budget: ``by`` holds each method's (1 + draws,) finds, row 0 the point."""
    base, top, model = by.get(BASE), by[CEILING], by.get("model")
    out = []
    for m, v in by.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = (v - base) / (top - base) if base is not None else np.full(len(v), np.nan)
            gap = np.where(top > base, gap, np.nan) if base is not None else gap
            ratio = v[0] / base[0] if base is not None and base[0] > 0 else np.nan
        lo, hi = _interval(v[1:])
        glo, ghi = _interval(gap[1:]) if np.isfinite(gap[0]) else (np.nan, np.nan)
        dlo, dhi = _interval((model - v)[1:]) if model is not None else (np.nan, np.nan)
        out.append({"window": name, "tags": tags, "budget": float(k), "method": m, "found": float(v[0]), "lo": lo, "hi": hi, "ratio": float(ratio),
                    "gap_closed": float(gap[0]), "gap_lo": glo, "gap_hi": ghi, "visits": int(visits), "fallers": int(fallers),
                    "diff_lo": dlo, "diff_hi": dhi})
    return out


def summary(frame: pd.DataFrame, budget: float = 0.02, window: str = ALL) -> pd.DataFrame:
    """One budget of one window (default: every window together at 2%), one row per method."""
    sel = frame[(frame["window"] == window) & np.isclose(frame["budget"], budget)]
    return sel.set_index("method")


def verdict(frame: pd.DataFrame, budget: float = 0.02, target: float = 0.6) -> dict[str, object]:
    """Whether the model closes ``target`` of the gap at ``budget`` and finds at least as many as the
    best simple rule (every window together)."""
    s = summary(frame, budget)
    rules = [m for m in SIMPLE_RULES if m in s.index]
    best = max(rules, key=lambda m: s.loc[m, "found"]) if rules else None
    return {
        "gap_closed": float(s.loc["model", "gap_closed"]),
        "best_rule": best,
        "closes_target": bool(s.loc["model", "gap_closed"] >= target),
        "beats_rules": bool(best is None or s.loc["model", "found"] >= s.loc[best, "found"]),
    }


# --------------------------------------------------------------------------- as text (the CLI, bench/)
def _width(s: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, n: int, right: bool = False) -> str:
    fill = " " * max(0, n - _width(s))
    return fill + s if right else s + fill


def window_label(w: Mapping[str, object], lang: str) -> str:
    """"202407-202409 (disaster month; trained on 10 months 202304–202401)" in ``lang``."""
    from fanpin.core.i18n import translate

    tags = "".join(translate(f"model.bt.tag.{t}", lang) + ("；" if lang == "zh" else "; ") for t in w["tags"])
    tm = list(w["train_months"])
    return translate("model.bt.window", lang, name=w["name"], tags=tags, n=len(tm), first=tm[0], last=tm[-1])


def text_report(frame: pd.DataFrame, windows: Sequence[Mapping[str, object]], horizon: int, draws: int, lang: str = "zh", per_window: float = 0.02) -> str:
    """The table of every budget (all windows together) and, at ``per_window``, each window's finds."""
    from fanpin.core.i18n import translate

    T = lambda key, **kw: translate(key, lang, **kw)
    name = lambda m: T(f"model.method.{m}")
    out = [T("model.bt.title"), T("model.bt.windows", windows="; ".join(window_label(w, lang) for w in windows)), T("model.bt.explain", h=horizon, draws=draws), ""]
    methods = [m for m in (*METHODS, CEILING) if m in set(frame["method"])]
    wm = max(_width(name(m)) for m in methods) + 2
    cols = [T("model.bt.col.found"), T("model.bt.col.interval"), T("model.bt.col.ratio"), T("model.bt.col.gap"), T("model.bt.col.gap_interval")]
    widths = [max(_width(c) + 2, 12) for c in cols]
    out.append(_pad(T("model.bt.col.budget"), 8) + _pad(T("model.col.method"), wm) + "".join(_pad(c, w, True) for c, w in zip(cols, widths, strict=True)))
    for k in sorted(set(frame["budget"])):
        s = summary(frame, k)
        for j, m in enumerate(methods):
            r = s.loc[m]
            cells = [f"{r.found:.0f}", f"{r.lo:.0f}–{r.hi:.0f}", f"{r.ratio:.2f}", _pct(r.gap_closed), f"{_pct(r.gap_lo)}–{_pct(r.gap_hi)}"]
            if m == CEILING:
                cells[1] = cells[4] = ""
            if not np.isfinite(r.gap_closed):
                cells[4] = ""
            if m == BASE:
                cells[3] = cells[4] = ""
            out.append(_pad(f"{k:.0%}" if j == 0 else "", 8) + _pad(name(m), wm) + "".join(_pad(c, w, True) for c, w in zip(cells, widths, strict=True)))
        out.append("")
    if np.isclose(frame["budget"], per_window).any():
        out.append(T("model.bt.per_window", k=f"{per_window:.0%}"))
        head = [T("model.bt.col.window"), *(name(m) for m in methods), T("model.bt.col.gap")]
        ws = [16, *(max(_width(h) + 2, 10) for h in head[1:])]
        out.append("".join(_pad(h, w, i > 0) for i, (h, w) in enumerate(zip(head, ws, strict=True))))
        sel = frame[np.isclose(frame["budget"], per_window)]
        for wname in dict.fromkeys(sel["window"]):
            s = sel[sel["window"] == wname].set_index("method")
            cells = [T("model.bt.all") if wname == ALL else wname, *(f"{s.loc[m, 'found']:.0f}" for m in methods), _pct(s.loc["model", "gap_closed"]) if "model" in s.index else ""]
            out.append("".join(_pad(c, w, i > 0) for i, (c, w) in enumerate(zip(cells, ws, strict=True))))
        out.append("")
        out.append(verdict_text(frame, per_window, lang))
    return "\n".join(out)


def _pct(v: float) -> str:
    return "—" if not np.isfinite(v) else f"{100 * v:.0f}%"


def verdict_text(frame: pd.DataFrame, budget: float, lang: str) -> str:
    """One sentence: the model, the income-line rule, the ceiling, the gap closed and the best simple rule at ``budget``."""
    from fanpin.core.i18n import translate

    s = summary(frame, budget)
    v = verdict(frame, budget)
    m, rule = s.loc["model"], v["best_rule"]
    # no gap to close (the income-line rule already finds the ceiling): said so, not "— (– – –)"
    key = "model.bt.verdict" if np.isfinite(m.gap_closed) else "model.bt.verdict_no_gap"
    return translate(
        key, lang, k=f"{budget:.0%}", m=f"{m.found:.0f}", lo=f"{m.lo:.0f}", hi=f"{m.hi:.0f}", base=f"{s.loc[BASE, 'found']:.0f}",
        top=f"{s.loc[CEILING, 'found']:.0f}", gap=_pct(m.gap_closed), glo=_pct(m.gap_lo), ghi=_pct(m.gap_hi),
        rule=translate(f"model.method.{rule}", lang) if rule else "—", r=f"{s.loc[rule, 'found']:.0f}" if rule else "—",
    )
