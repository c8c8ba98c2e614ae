"""The monthly brief of a province or city (月度防返贫监测研判报告), from the analytic store.

A province or city leader forwards the brief upwards, so it must say exactly what their overview
says: every figure comes from the region's township x month sums (``fanpin.engine.regional.
region_trends``, the overview's own question) shaped by the overview's helpers (``month_totals``
for the headline and the trend, ``side_by_side`` for the children), computed once into a
:class:`RegionBrief`.  Above the county there are no households, only sums: the brief holds no
personal data, and nothing here can ask for rows.  Access is ``check_region``'s: a principal who
does not cover the region is refused before anything is read.

The attention points are plain rules (``RULES``), each with its threshold as a named constant, so
that "why does the brief say this?" has a one-line answer.  The document reuses the county
brief's renderer (``fanpin.report.document``: fonts, tables, pictures) and chart style
(``fanpin.report.charts``); the workbook goes through ``fanpin.report.export.safe_frame``.
No streamlit here.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal
from fanpin.core import fmt
from fanpin.core.i18n import label, translate
from fanpin.core.periods import format_period, shift
from fanpin.core.text import strip_invisible
from fanpin.engine import regional
from fanpin.engine.distributed import ProvinceEngine
from fanpin.engine.partials import Aggregates
from fanpin.engine.scoring import RiskPolicy
from fanpin.report.export import safe_frame
from fanpin.workflow.common import DUE_DAYS

# --------------------------------------------------------------------------- thresholds of the attention rules
#: Months back the red-share change is taken over (the children's column and the rising rule).
SHARE_WINDOW = 3
#: A child whose red share rose at least this much (a share: 0.005 = half a percentage point) over
#: SHARE_WINDOW months is named ...
SHARE_RISE_MIN = 0.005
#: ... the TOP_N biggest rises only (also for the newly-red rule).
TOP_N = 3
#: A child with at least this many newly red households this month can be named by the newly-red rule.
NEWLY_RED_MIN = 1
#: The whole region's red households up at least this much (relative) on last month.
RED_UP_MIN = 0.05
#: A child whose red share is at least this many times the region's.
HIGH_SHARE_RATIO = 1.5
#: Households rising three months running at or above this share of all: follow-up visits.
RISING_SHARE_MIN = 0.01
#: Months of the trend (the last ones up to the brief's month).
TREND_MONTHS = 12
#: At most this many attention points, highest priority first.
MAX_POINTS = 6
#: The figures of the headline (month_totals' columns), in the order shown.
HEADLINE = ("households", "red", "yellow", "green", "red_share", "newly_red", "rising", "below_line", "mean_score")


class RegionBriefError(ValueError):
    """Why a region's brief cannot be made: ``code`` names ``region_brief.error.<code>``, said in the
    reader's language by ``text`` (the convention of ``fanpin.model.features.ModelError``, which the
    background jobs' failure message follows); the exception's own message is the English."""

    def __init__(self, code: str, **params: object) -> None:
        self.code, self.params = code, params
        super().__init__(self.text(translate, "en"))

    def __reduce__(self) -> tuple:
        return (_region_brief_error, (self.code, self.params))

    def text(self, tr: Callable[..., str], lang: str) -> str:
        """The message in ``lang`` (``tr`` is ``fanpin.core.i18n.translate``)."""
        shown = {k: format_period(v, lang) if k in _MONTHS else v for k, v in self.params.items()}
        return tr(f"region_brief.error.{self.code}", lang, **shown)


#: The error parameters that are months (YYYYMM), written in the reader's form.
_MONTHS = frozenset({"month", "first", "last"})


def _region_brief_error(code: str, params: dict) -> RegionBriefError:
    return RegionBriefError(code, **params)


@dataclass(frozen=True)
class Point:
    """One attention point: the rule that fired, its figures (codes, not names) and a priority."""

    code: str
    priority: int
    params: dict


@dataclass
class RegionBrief:
    """Everything a region's monthly brief shows, with codes (not names): it renders in either language."""

    region: str  # 12-digit province or city code
    level: str  # "province" / "city"
    child_level: str  # "city" / "county"
    period: int
    prev_period: int | None
    generated_at: datetime
    policy_name: str
    income_line: float
    data_version: str
    now: dict[str, float]  # HEADLINE figures of the month (month_totals' row)
    before: dict[str, float] | None  # the same for the month before, None in the store's first month
    children: pd.DataFrame  # side_by_side (+ red_share_window: change over SHARE_WINDOW months), by red share
    trend: pd.DataFrame  # month_totals of the last TREND_MONTHS months up to ``period``
    child_trend: pd.DataFrame  # months x children: red share (the chart)
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> code -> name, when a database knows it
    points: list[Point] = field(default_factory=list)

    def name(self, code: str, lang: str) -> str:
        """A region's name: the database's when given, else "省 99" / "市 9901" / "县 990101"."""
        code = str(code)
        got = self.names.get(lang, {}).get(code) or self.names.get("zh", {}).get(code)
        if got:
            return strip_invisible(got)
        return translate(f"province.level_{regional.level_of(code)}", lang, code=regional.short(code))

    def place(self, lang: str) -> str:
        return self.name(self.region, lang)

    def change(self, key: str) -> float | None:
        """This month's ``key`` minus last month's (None without a month before)."""
        if self.before is None:
            return None
        return self.now[key] - self.before[key]


# --------------------------------------------------------------------------- computing
def _figures(row: pd.Series) -> dict[str, float]:
    return {k: (int(row[k]) if k not in ("red_share", "mean_score") else float(row[k])) for k in HEADLINE}


def window_change(agg: Aggregates, region: str, level: str, period: int, months: int = SHARE_WINDOW) -> pd.Series:
    """Each child's red share at ``period`` minus its red share ``months`` months earlier (NaN where
    either month is missing), by 12-digit code."""
    wide = regional.month_by_region(agg, region, level, "red_share")
    if wide.empty or period not in wide.index:
        return pd.Series(dtype=float)
    then = shift(period, -months)
    before = wide.loc[then] if then in wide.index else pd.Series(np.nan, index=wide.columns)
    return (wide.loc[period] - before).astype(float)


def check_month(agg: Aggregates, region: str, period: int) -> None:
    """Refuse a region with no county in the store, or a month the store does not hold."""
    if agg.frame.empty:
        raise RegionBriefError("unknown_region", region=region)
    ps = agg.periods
    if int(period) not in ps:
        raise RegionBriefError("no_month", month=int(period), first=ps[0], last=ps[-1])


def compute_region_brief(
    engine: ProvinceEngine,
    principal: Principal,
    region: str,
    period: int,
    policy: RiskPolicy,
    *,
    agg: Aggregates | None = None,
    by: str | None = "city",
    names: Mapping[str, Mapping[str, str]] | None = None,
) -> RegionBrief:
    """All figures of the region's brief for ``period``.

    ``agg``: the region's sums the page already holds (``region_trends`` otherwise, over every month
    of the store, as the overview asks, so that newly red and rising are the same).  ``by``: the
    children of a province (``"city"``, the default of a brief going up, or ``"county"``); a city's
    are its counties.  ``names``: lang -> code -> name where a database knows them.
    """
    regional.check_region(principal, region)  # before anything is read, also with ``agg`` given
    if regional.level_of(region) not in ("province", "city"):
        raise RegionBriefError("bad_region", region=region)
    period = int(period)
    if agg is None:
        agg = regional.region_trends(engine, principal, region, policy)
    check_month(agg, region, period)
    totals = regional.month_totals(agg, region)
    ps = totals["period"].astype(int).tolist()
    j = ps.index(period)
    prev = ps[j - 1] if j > 0 else None
    child = regional.children_level(region, by)
    children = regional.side_by_side(agg, region, period, child)
    children["red_share_window"] = children["region_code"].map(window_change(agg, region, child, period)).astype(float)
    children = children.sort_values(["red_share", "region_code"], ascending=[False, True], ignore_index=True)
    first = shift(period, -(TREND_MONTHS - 1))
    trend = totals[(totals["period"] >= first) & (totals["period"] <= period)].reset_index(drop=True)
    wide = regional.month_by_region(agg, region, child, "red_share")
    child_trend = wide[(wide.index >= first) & (wide.index <= period)]
    brief = RegionBrief(
        region=region,
        level=regional.level_of(region),
        child_level=child,
        period=period,
        prev_period=prev,
        generated_at=datetime.now().replace(microsecond=0),
        policy_name=policy.name,
        income_line=float(engine.policy_for(policy, period).income_line),
        data_version=str(engine.manifest.data_version),
        now=_figures(totals.iloc[j]),
        before=_figures(totals.iloc[j - 1]) if prev is not None else None,
        children=children,
        trend=trend,
        child_trend=child_trend,
        names={k: dict(v) for k, v in (names or {}).items()},
    )
    brief.points = suggest_points(brief)
    return brief


# --------------------------------------------------------------------------- attention points
def rule_red_up(b: RegionBrief) -> list[Point]:
    """The region's red households up at least RED_UP_MIN (relative) on last month."""
    up = b.change("red")
    if up is None or up <= 0 or not b.before or b.before["red"] <= 0 or up / b.before["red"] < RED_UP_MIN:
        return []
    return [Point("red_up", 1, {"n": int(up), "rise": up / b.before["red"]})]


def rule_share_rising(b: RegionBrief) -> list[Point]:
    """Children whose red share rose at least SHARE_RISE_MIN over SHARE_WINDOW months: the TOP_N biggest."""
    c = b.children.dropna(subset=["red_share_window"])
    c = c[c["red_share_window"] >= SHARE_RISE_MIN].sort_values(["red_share_window", "region_code"], ascending=[False, True]).head(TOP_N)
    if c.empty:
        return []
    return [Point("share_rising", 1, {"items": [(r, float(v)) for r, v in zip(c["region_code"], c["red_share_window"])], "months": SHARE_WINDOW})]


def rule_newly_red(b: RegionBrief) -> list[Point]:
    """Children with the most newly red households this month (at least NEWLY_RED_MIN): the TOP_N."""
    c = b.children[b.children["newly_red"] >= NEWLY_RED_MIN].sort_values(["newly_red", "region_code"], ascending=[False, True]).head(TOP_N)
    if c.empty or len(b.children) < 2:  # naming "the most" needs something to compare with
        return []
    return [Point("newly_red", 2, {"items": [(r, int(v)) for r, v in zip(c["region_code"], c["newly_red"])], "days": DUE_DAYS})]


def rule_high_share(b: RegionBrief) -> list[Point]:
    """Children whose red share is at least HIGH_SHARE_RATIO times the region's."""
    whole = b.now["red_share"]
    c = b.children[b.children["red_share"] >= HIGH_SHARE_RATIO * whole] if whole > 0 else b.children.iloc[:0]
    if c.empty:
        return []
    return [Point("high_share", 2, {"items": [(r, float(v)) for r, v in zip(c["region_code"], c["red_share"])], "share": whole})]


def rule_rising(b: RegionBrief) -> list[Point]:
    """Households rising three months running at least RISING_SHARE_MIN of all."""
    n, hh = b.now["rising"], b.now["households"]
    if hh <= 0 or n / hh < RISING_SHARE_MIN:
        return []
    return [Point("rising", 3, {"n": int(n), "share": n / hh})]


#: Every rule, in the order ties of priority are shown.
RULES: tuple[Callable[[RegionBrief], list[Point]], ...] = (rule_red_up, rule_share_rising, rule_newly_red, rule_high_share, rule_rising)


def suggest_points(brief: RegionBrief) -> list[Point]:
    """Every rule's points, by priority then rule order, at most MAX_POINTS."""
    found = [(p.priority, i, k, p) for i, rule in enumerate(RULES) for k, p in enumerate(rule(brief))]
    return [p for *_, p in sorted(found, key=lambda x: x[:3])][:MAX_POINTS]


def _pp(share: float, lang: str, signed: bool = True) -> str:
    v = f"{100 * share:+.1f}" if signed else f"{100 * share:.1f}"
    return translate("region_brief.pp", lang, v=v)


def level_words(brief: RegionBrief, lang: str) -> str:
    return translate(f"region_brief.level.{brief.child_level}", lang)


def point_text(point: Point, brief: RegionBrief, lang: str) -> str:
    """The point's sentence: ``region_brief.point.<code>`` with its figures formatted for ``lang``."""
    sep = "、" if lang == "zh" else "; "
    out: dict[str, str] = {"level": level_words(brief, lang)}
    for k, v in point.params.items():
        if k == "items":
            if point.code == "newly_red":
                unit = "户" if lang == "zh" else ""
                out[k] = sep.join(f"{brief.name(c, lang)} {fmt.count(n, lang)}{unit}" for c, n in v)
            elif point.code == "share_rising":
                out[k] = sep.join(f"{brief.name(c, lang)} {_pp(x, lang)}" for c, x in v)
            else:
                out[k] = sep.join(f"{brief.name(c, lang)} {fmt.pct(x)}" for c, x in v)
        elif k in ("rise", "share"):
            out[k] = fmt.pct(v)
        elif k == "months":
            out[k] = str(v)
        else:
            out[k] = fmt.count(v, lang)
    out["list"] = out.pop("items", "")
    return translate(f"region_brief.point.{point.code}", lang, **out)


# --------------------------------------------------------------------------- texts and tables
def headline_text(brief: RegionBrief, lang: str) -> str:
    """The headline paragraph (checked against month_totals in the tests)."""
    n = brief.now
    ch = lambda k: "—" if brief.change(k) is None else fmt.signed(brief.change(k))
    return translate(
        "region_brief.p.headline", lang, month=format_period(brief.period, lang), place=brief.place(lang),
        households=fmt.count(n["households"], lang), red=fmt.count(n["red"], lang), red_change=ch("red"),
        yellow=fmt.count(n["yellow"], lang), yellow_change=ch("yellow"), green=fmt.count(n["green"], lang), green_change=ch("green"),
        red_share=fmt.pct(n["red_share"]), newly_red=fmt.count(n["newly_red"], lang), rising=fmt.count(n["rising"], lang),
        below=fmt.count(n["below_line"], lang), mean=f"{n['mean_score']:.2f}",
    )


def children_text(brief: RegionBrief, lang: str) -> str:
    c = brief.children
    if c.empty:
        return translate("region_brief.p.no_children", lang, level=level_words(brief, lang))
    sep = "、" if lang == "zh" else ", "
    items = [f"{brief.name(r, lang)}（{fmt.pct(s)}）" if lang == "zh" else f"{brief.name(r, lang)} ({fmt.pct(s)})"
             for r, s in zip(c["region_code"].head(TOP_N), c["red_share"].head(TOP_N))]
    return translate("region_brief.p.top", lang, level=level_words(brief, lang), list=sep.join(items))


def trend_text(brief: RegionBrief, lang: str) -> str:
    tr = brief.trend
    a, z = tr.iloc[0], tr.iloc[-1]
    return translate("region_brief.p.trend", lang, first=format_period(int(a["period"]), lang), last=format_period(int(z["period"]), lang),
                     red_first=fmt.count(int(a["red"]), lang), red_last=fmt.count(int(z["red"]), lang),
                     share_first=fmt.pct(float(a["red_share"])), share_last=fmt.pct(float(z["red_share"])))


def _num(x: float | None, digits: int) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def _shown(key: str, v: float | None) -> float | int | None:
    """A headline figure as a table shows it: counts whole, the red share in per cent, the score to 2 places."""
    if v is None:
        return None
    if key == "red_share":
        return _num(100 * v, 2)
    if key == "mean_score":
        return _num(v, 2)
    return int(v)


def region_tables(brief: RegionBrief, lang: str) -> dict[str, pd.DataFrame]:
    """The brief's tables with headers in ``lang`` (sheet key -> frame): what the .docx and .xlsx show."""
    T = lambda key, **kw: translate(f"region_brief.{key}", lang, **kw)
    now = [_shown(k, brief.now[k]) for k in HEADLINE]
    before = [_shown(k, brief.before[k]) if brief.before else None for k in HEADLINE]
    headline = pd.DataFrame({
        T("col.metric"): [T(f"metric.{k}") for k in HEADLINE],
        T("col.this_month"): pd.Series(now, dtype=object),
        T("col.last_month"): pd.Series(before, dtype=object),
        T("col.change"): pd.Series([None if b is None else (a - b if isinstance(a, int) else _num(a - b, 2)) for a, b in zip(now, before)], dtype=object),
    })
    c = brief.children
    children = pd.DataFrame({
        T("col.rank"): np.arange(1, len(c) + 1),
        T("col.region"): [brief.name(r, lang) for r in c["region_code"]],
        T("col.code"): c["region_code"].astype(str),
        T("col.households"): c["households"].astype(int),
        label("tier", "red", lang): c["red"].astype(int),
        label("tier", "yellow", lang): c["yellow"].astype(int),
        label("tier", "green", lang): c["green"].astype(int),
        T("col.red_change"): pd.Series([None if pd.isna(v) else int(v) for v in c["red_change"]], dtype=object),
        T("col.newly_red"): c["newly_red"].astype(int),
        T("col.rising"): c["rising"].astype(int),
        T("col.red_share_pct"): (100 * c["red_share"].astype(float)).round(1),
        T("col.red_share_change_pp"): (100 * c["red_share_change"].astype(float)).round(1),
        T("col.red_share_3m_pp", months=SHARE_WINDOW): (100 * c["red_share_window"].astype(float)).round(1),
    })
    tr = brief.trend
    trend = pd.DataFrame({
        T("col.month"): [format_period(int(p), lang) for p in tr["period"]],
        T("col.households"): tr["households"].astype(int),
        label("tier", "red", lang): tr["red"].astype(int),
        label("tier", "yellow", lang): tr["yellow"].astype(int),
        label("tier", "green", lang): tr["green"].astype(int),
        T("col.newly_red"): tr["newly_red"].astype(int),
        T("col.rising"): tr["rising"].astype(int),
        T("col.red_share_pct"): (100 * tr["red_share"].astype(float)).round(2),
        T("col.below_line"): tr["below_line"].astype(int),
        T("col.mean_score"): tr["mean_score"].astype(float).round(2),
    })
    points = pd.DataFrame({T("col.no"): np.arange(1, len(brief.points) + 1), T("col.point"): [point_text(p, brief, lang) for p in brief.points]})
    return {"headline": headline, "children": children, "trend": trend, "points": points}


def xlsx_bytes(brief: RegionBrief, lang: str) -> bytes:
    """The workbook behind the brief: one sheet per table, every cell through export.safe_frame."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for key, frame in region_tables(brief, lang).items():
            safe_frame(frame).to_excel(xw, index=False, sheet_name=translate(f"region_brief.sheet.{key}", lang)[:31])
    return buf.getvalue()


# --------------------------------------------------------------------------- chart and document
def trend_chart(brief: RegionBrief, lang: str) -> bytes:
    """Red and yellow households per month (left); the red share of the region and of each child (right).
    Drawn with the county brief's chart style (``fanpin.report.charts``: Agg, the CJK font, or FontMissing)."""
    import matplotlib

    from fanpin.report import charts as C

    with matplotlib.rc_context(C._rc()):
        fig, (a1, a2) = C._figure(7.2, 2.8, 2)
        tr = brief.trend
        periods = tr["period"].astype(int).tolist()
        x = np.arange(len(periods))
        labels = C._months(periods, lang)
        for tier in ("red", "yellow"):
            a1.plot(x, tr[tier].to_numpy(dtype=float), color=C.TIER_COLOURS[tier], linewidth=1.8, label=label("tier", tier, lang))
        a1.set_title(translate("region_brief.chart.tiers", lang), fontsize=8.5)
        a1.legend(frameon=False, loc="upper left", fontsize=7.5)
        wide = brief.child_trend.reindex(periods)
        for code in wide.columns:
            a2.plot(x, 100 * wide[code].to_numpy(dtype=float), linewidth=1.0, alpha=0.75, label=brief.name(str(code), lang))
        a2.plot(x, 100 * tr["red_share"].to_numpy(dtype=float), color="#222222", linewidth=2.2, label=translate("region_brief.chart.whole", lang))
        a2.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(decimals=1))
        a2.set_title(translate("region_brief.chart.share", lang), fontsize=8.5)
        if len(wide.columns) <= 8:  # a legend for a province's hundred counties would hide the chart
            a2.legend(frameon=False, loc="upper left", fontsize=6.5, ncol=2)
        step = max(1, len(x) // 6)
        for ax in (a1, a2):
            C._style(ax)
            ax.set_xticks(x[::step], labels[::step], rotation=0, fontsize=7.5)
        return C._png(fig)


def render_docx(brief: RegionBrief, lang: str = "zh", chart: bytes | None = None) -> bytes:
    """The brief as .docx bytes, with the county brief's fonts, tables and pictures (``fanpin.report.document``)."""
    from docx import Document
    from docx.shared import Cm, Pt

    from fanpin.report import document as D

    if chart is None:
        chart = trend_chart(brief, lang)
    T = lambda k, **kw: translate(f"region_brief.{k}", lang, **kw)
    tabs = region_tables(brief, lang)
    doc = Document()
    D._set_fonts(doc)
    for sec in doc.sections:
        sec.left_margin = sec.right_margin = Cm(2.2)
        sec.top_margin = sec.bottom_margin = Cm(2.0)
    title = T("title", place=brief.place(lang), month=format_period(brief.period, lang))
    doc.core_properties.title = title
    doc.core_properties.author = "fanpin"
    doc.add_heading(title, level=0)
    meta = doc.add_paragraph(T("meta", month=format_period(brief.period, lang), policy=strip_invisible(brief.policy_name),
                               line=fmt.yuan(brief.income_line, lang), version=strip_invisible(brief.data_version),
                               at=brief.generated_at.strftime("%Y-%m-%d %H:%M")))
    meta.runs[0].font.size = Pt(9)

    doc.add_heading(T("h.headline"), level=1)
    doc.add_paragraph(headline_text(brief, lang))
    if brief.before is None:
        doc.add_paragraph(T("p.first_month"))
    D._table(doc, tabs["headline"])
    D._picture(doc, chart)

    doc.add_heading(T("h.children", level=level_words(brief, lang)), level=1)
    doc.add_paragraph(children_text(brief, lang))
    if len(tabs["children"]):
        kids = tabs["children"].drop(columns=[T("col.code")])
        # counts of a province's cities run to 7 digits: the count columns are the wide ones
        D._table(doc, kids, widths=[0.7, 2.0, 1.7, 1.3, 1.4, 1.7, 1.3, 1.2, 1.2, 1.1, 1.2, 1.2], font_pt=7)

    doc.add_heading(T("h.trend", n=len(brief.trend)), level=1)
    doc.add_paragraph(trend_text(brief, lang))
    D._table(doc, tabs["trend"], widths=[2.1, 1.8, 1.4, 1.5, 1.8, 1.3, 1.4, 1.4, 1.6, 1.4], font_pt=7)

    doc.add_heading(T("h.points"), level=1)
    if brief.points:
        doc.add_paragraph(T("p.points_intro"))
        for p in brief.points:
            doc.add_paragraph(point_text(p, brief, lang), style="List Number")
    else:
        doc.add_paragraph(T("p.no_points"))

    doc.add_heading(T("h.notes"), level=2)
    rules = T("note.rules", red_up=fmt.pct(RED_UP_MIN, 0), months=SHARE_WINDOW, pp=f"{100 * SHARE_RISE_MIN:g}", top=TOP_N,
              newly=NEWLY_RED_MIN, ratio=f"{HIGH_SHARE_RATIO:g}", rising=fmt.pct(RISING_SHARE_MIN, 0))
    for text in (T("note.source"), T("note.privacy"), rules):
        p = doc.add_paragraph(text)
        p.runs[0].font.size = Pt(8.5)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- producing (CLI and page)
@dataclass
class RegionProduced:
    brief: RegionBrief
    docx: bytes
    xlsx: bytes
    seconds: dict[str, float] = field(default_factory=dict)  # compute, charts, docx, xlsx


def produce_region_brief(
    engine: ProvinceEngine,
    principal: Principal,
    region: str,
    period: int,
    policy: RiskPolicy,
    lang: str,
    *,
    agg: Aggregates | None = None,
    by: str | None = "city",
    names: Mapping[str, Mapping[str, str]] | None = None,
    audit_db: Engine | None = None,
) -> RegionProduced:
    """Compute, draw, write the .docx and .xlsx; with ``audit_db`` (the app's database) one ``brief``
    audit row (actor ``principal.actor``, target ``region:period``).  ``compute_region_brief`` checks
    the principal."""
    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    b = compute_region_brief(engine, principal, region, period, policy, agg=agg, by=by, names=names)
    secs["compute"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    png = trend_chart(b, lang)
    secs["charts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    docx_b = render_docx(b, lang, png)
    secs["docx"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    xlsx_b = xlsx_bytes(b, lang)
    secs["xlsx"] = time.perf_counter() - t0
    if audit_db is not None:
        from fanpin.access import audit

        audit.record(audit_db, principal.actor, "brief", target=f"{b.region}:{b.period}", detail={
            "lang": lang, "region": b.region, "level": b.level, "children": b.child_level, "households": int(b.now["households"]),
            "data_version": b.data_version, "points": len(b.points), "aggregates_only": True,
            "docx_sha256": hashlib.sha256(docx_b).hexdigest(),
        })
    return RegionProduced(b, docx_b, xlsx_b, secs)


def region_of(text: str) -> str:
    """A region code as typed (``99``, ``9901``, or 12 digits) as 12 digits: a province or a city
    (RegionBriefError otherwise)."""
    s = str(text).strip()
    if not s.isdigit() or len(s) not in (2, 4, 12):
        raise RegionBriefError("bad_region", region=strip_invisible(s)[:20])
    code = s.ljust(12, "0")
    if regional.level_of(code) not in ("province", "city"):
        raise RegionBriefError("bad_region", region=s)
    return code


def periods_held(counties: Sequence[str], region: str, partitions: Mapping[tuple[int, str], object]) -> list[int]:
    """The months the store holds for any county inside ``region`` (for the CLI's message)."""
    inside = set(regional.counties_in(region, counties))
    return sorted({p for p, c in partitions if c in inside})
