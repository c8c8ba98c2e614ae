"""The brief's tables with headers in a language (sheet key -> frame): what the .docx and the
.xlsx show.  Every figure comes from a computed ``Brief``; nothing here reads the database."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fanpin.core.i18n import label, translate
from fanpin.core.periods import format_period
from fanpin.report.actions import action_text, rule_label
from fanpin.report.export import safe_frame

if TYPE_CHECKING:
    from fanpin.report.brief import Brief

#: ``T(key, **params)``: the brief's message ``brief.<key>`` in the table's language.
Msg = Callable[..., str]

def _num(x: float | None, digits: int = 1) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def headline_rows(brief: Brief) -> list[tuple[str, int | float | None, int | float | None]]:
    """(key, this month, last month) for the headline table: the overview's metrics."""
    s, p = brief.summary, brief.prev_summary
    rows: list[tuple[str, object, object]] = [("households", s.households, p.households if p else None)]
    for tier in ("red", "yellow", "green"):
        rows.append((tier, s.counts[tier], p.counts[tier] if p else None))
    rows += [
        ("newly_red", s.newly_red, p.newly_red if p else None),
        ("rising", s.rising, p.rising if p else None),
        ("below_line", s.below_line, p.below_line if p else None),
        ("mean_score", _num(s.mean_score, 2), _num(p.mean_score, 2) if p else None),
    ]
    return rows


def tables(brief: Brief, lang: str) -> dict[str, pd.DataFrame]:
    """The brief's tables with headers in ``lang`` (sheet key -> frame); the .docx and .xlsx show these."""
    T = lambda key, **kw: translate(f"brief.{key}", lang, **kw)
    out: dict[str, pd.DataFrame] = {
        "headline": _headline_table(brief, T),
        "trend": _trend_table(brief, lang, T),
        ranking_key(brief): _township_table(brief, lang, T),
        "clues": _clue_table(brief, lang, T),
        "orders": _order_table(brief, lang, T),
        "newly_red": _household_table(brief, brief.newly_red, lang, kind="newly_red"),
    }
    if brief.cases is not None:
        out["cases"] = _case_table(brief, lang, T)
        out["cases_overdue"] = _case_overdue_table(brief, lang, T)
    if brief.model_candidates is not None:
        out["model"] = _household_table(brief, brief.model_candidates, lang, kind="model")
    if brief.findings is not None and brief.findings_status == "ok":
        out["findings"] = _findings_table(brief, lang, T)
    out["actions"] = pd.DataFrame({T("col.no"): np.arange(1, len(brief.actions) + 1), T("col.action"): [action_text(a, brief, lang) for a in brief.actions]})
    return out


def _headline_table(brief: Brief, T: Msg) -> pd.DataFrame:
    rows = headline_rows(brief)
    return pd.DataFrame(
        {
            T("col.metric"): [T(f"metric.{k}") for k, _, _ in rows],
            T("col.this_month"): pd.Series([v for _, v, _ in rows], dtype=object),
            T("col.last_month"): pd.Series([v for _, _, v in rows], dtype=object),
            T("col.change"): pd.Series([None if b is None or a is None else (a - b if isinstance(a, int) else _num(a - b, 2)) for _, a, b in rows], dtype=object),
        }
    )


def _trend_table(brief: Brief, lang: str, T: Msg) -> pd.DataFrame:
    tr = brief.trend.reset_index()
    return pd.DataFrame(
        {
            T("col.month"): [format_period(p, lang) for p in tr["period"]],
            label("tier", "red", lang): tr["red"].astype(int),
            label("tier", "yellow", lang): tr["yellow"].astype(int),
            label("tier", "green", lang): tr["green"].astype(int),
            T("metric.mean_score"): tr["mean_score"].round(2),
            T("col.below_line_pct"): (100 * tr["below_line_share"]).round(2),
        }
    )


def ranking_key(brief: Brief) -> str:
    """The ranking's table key: "townships", or "villages" in a township brief."""
    return "villages" if brief.level == "village" else "townships"


def _township_table(brief: Brief, lang: str, T: Msg) -> pd.DataFrame:
    """The townships ranked by red share (a township brief: its villages, by the same function)."""
    tw = brief.townships
    out = pd.DataFrame(
        {
            T("col.rank"): np.arange(1, len(tw) + 1),
            T(f"col.{brief.level}"): [brief.name(c, lang) for c in tw["township_code"]],
            T("col.code"): tw["township_code"].astype(str),
            T("metric.households"): tw["households"].astype(int),
            label("tier", "red", lang): tw["red"].astype(int),
            label("tier", "yellow", lang): tw["yellow"].astype(int),
            label("tier", "green", lang): tw["green"].astype(int),
            T("col.red_share_pct"): (100 * tw["red_share"]).round(1),
            T("col.red_share_change_pp"): (100 * tw["red_share_change"]).round(1),
            T("col.mean_score"): tw["mean_score"].round(1),
            T("col.hotspot"): [T(f"hotspot.{c}") for c in tw["hotspot"]],
            T("col.hotspot_prev"): [T(f"hotspot.{c}") for c in tw["hotspot_prev"]],
        }
    )
    # hot spots are found between townships: a township brief's villages have none
    return out.drop(columns=[T("col.hotspot"), T("col.hotspot_prev")]) if brief.level == "village" else out


def _clue_table(brief: Brief, lang: str, T: Msg) -> pd.DataFrame:
    cl = brief.clues
    return pd.DataFrame(
        {
            T("col.channel"): [label("channel", c, lang) for c in cl["channel"]],
            T("col.source"): [source_label(c, lang) for c in cl["source"]],
            T("col.risk_type"): [label("risk", c, lang) for c in cl["risk_type"]],
            T("col.clues"): cl["clues"].astype(int),
        }
    )


def _order_table(brief: Brief, lang: str, T: Msg) -> pd.DataFrame:
    bt = brief.loop.by_township
    return pd.DataFrame(
        {
            T("col.township"): [brief.name(c, lang) for c in bt["township_code"]],
            T("col.orders"): bt["orders"].astype(int),
            T("col.overdue"): bt["overdue"].astype(int),
            T("col.overdue_pct"): (100 * bt["overdue_share"].astype(float)).round(1),
            T("col.median_days"): bt["median_days"].astype(float).round(1),
        }
    )


def _case_table(brief: Brief, lang: str, T: Msg) -> pd.DataFrame:
    """Cases of the official procedure by state (rows) and kind (columns), with totals."""
    f = brief.cases.by_state
    out = pd.DataFrame({T("col.case_state"): [label("case_state", s, lang) for s in f.index]})
    for kind in f.columns:
        out[label("case_kind", kind, lang)] = f[kind].astype(int).to_numpy()
    out[T("col.total")] = f.sum(axis=1).astype(int).to_numpy()
    return out


def _case_overdue_table(brief: Brief, lang: str, T: Msg) -> pd.DataFrame:
    """The cases that have waited longer than ``STEP_WAIT_DAYS`` for their step, longest first."""
    f = brief.cases.overdue_cases
    return pd.DataFrame(
        {
            T("col.case"): f["case_id"].astype(int).to_numpy(),
            T("col.household_id"): f["household_id"].astype(str).to_numpy(),
            T("col.village"): [brief.name(c, lang) if isinstance(c, str) else "—" for c in f["village_code"]],
            T("col.case_kind"): [label("case_kind", k, lang) for k in f["kind"]],
            T("col.case_state"): [label("case_state", s, lang) for s in f["state"]],
            T("col.waiting_since"): [str(d) for d in f["since"]],
            T("col.waiting_days"): f["days"].astype(int).to_numpy(),
        }
    )


def _findings_table(brief: Brief, lang: str, T: Msg) -> pd.DataFrame:
    f = brief.findings
    return pd.DataFrame(
        {
            T("col.rule"): [rule_label(r, lang) for r in f["rule"]],
            T("col.severity"): [T(f"severity.{s}") if s in ("high", "medium", "low") else (s or "—") for s in f["severity"]],
            T("col.findings"): f["findings"].astype(int),
            T("col.households"): f["households"].astype(int),
        }
    )


def _household_table(brief: Brief, f: pd.DataFrame, lang: str, kind: str) -> pd.DataFrame:
    T = lambda key: translate(f"brief.{key}", lang)
    cols = {
        T("col.household_id"): f["household_id"].astype(str),
        T("col.township"): [brief.name(c, lang) for c in f["township_code"]],
        T("col.village"): [brief.name(c, lang) if isinstance(c, str) else "—" for c in f["village_code"]],
        T("col.head"): f["name"].fillna(""),
        T("col.id_number"): f["id_number"].fillna(""),
    }
    if kind == "newly_red":
        cols[T("col.score")] = f["score"].round(1)
        cols[T("col.score_change")] = f["score_change"].round(1)
        cols[T("col.income_pc")] = f["income_pc"].round(0)
    else:
        cols[T("col.probability_pct")] = (100 * f["probability"].astype(float)).round(1)
        cols[T("col.risk_type")] = [label("risk", r, lang) for r in f["risk_type"]]
        sep = "、" if lang == "zh" else "; "
        cols[T("col.factors")] = [sep.join(feature_label(x, lang) for x in r if isinstance(x, str) and x) for r in f[["factor_1", "factor_2", "factor_3"]].itertuples(index=False)]
    return pd.DataFrame(cols)


def feature_label(code: str, lang: str) -> str:
    """A model feature's label (the model page's ``model.feature.<code>`` message when it exists)."""
    from fanpin.core.i18n import catalogue

    key = f"model.feature.{code}"
    return translate(key, lang) if key in catalogue() else code


def source_label(code: str, lang: str) -> str:
    from fanpin.core.indicators import DEPARTMENTS

    return label("department", code, lang) if code in DEPARTMENTS else label("source", code, lang)


def xlsx_bytes(brief: Brief, lang: str) -> bytes:
    """The workbook behind the brief: one sheet per table, every cell through export.safe_frame."""

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for key, frame in tables(brief, lang).items():
            safe_frame(frame).to_excel(xw, index=False, sheet_name=translate(f"brief.sheet.{key}", lang)[:31])
    return buf.getvalue()
