"""The monthly brief as a Word document (python-docx) and its workbook; producing one is audited.

``render_docx`` lays out a computed :class:`fanpin.report.brief.Brief`; every number in
its text is formatted from the Brief's fields (which come from the dashboard's
own functions), never computed here.  The Normal, Title and Heading styles get
an East-Asian font (``w:eastAsia`` on ``w:rFonts``) so that Word and
LibreOffice draw the Chinese with a CJK font rather than a fallback.
``produce`` is what the CLI and the overview call: compute, charts, .docx,
.xlsx, one audit row.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal
from fanpin.core import fmt
from fanpin.core.i18n import label, translate
from fanpin.core.periods import format_period
from fanpin.engine.trends import PanelScores
from fanpin.report import actions as A
from fanpin.report.actions import (
    LIST_ROWS,
    MODEL_THRESHOLD,
    RED_SHARE_RISE,
    RED_SHARE_RISE_MIN_PP,
    RED_SHARE_WINDOW,
    action_text,
)
from fanpin.report.brief import Brief
from fanpin.report.tables import ranking_key, source_label, tables
from fanpin.workflow.common import DUE_DAYS

#: East-Asian font named in the document (installed by scripts/system-deps.sh; Word substitutes its own CJK font if absent).
EAST_ASIA_FONT = "Noto Sans CJK SC"
LATIN_FONT = "Calibri"


def _sep(lang: str) -> str:
    return "、" if lang == "zh" else ", "


def _set_fonts(doc) -> None:  # noqa: ANN001 - a python-docx Document
    """Latin and East-Asian fonts on the styles the brief uses (theme fonts removed: they win otherwise)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "Caption", "List Number"):
        try:
            style = doc.styles[name]
        except KeyError:
            continue
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = OxmlElement("w:rFonts")
            rpr.insert(0, fonts)
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(attr), None)
        fonts.set(qn("w:ascii"), LATIN_FONT)
        fonts.set(qn("w:hAnsi"), LATIN_FONT)
        fonts.set(qn("w:eastAsia"), EAST_ASIA_FONT)
        fonts.set(qn("w:cs"), LATIN_FONT)
        lang_el = rpr.find(qn("w:lang"))
        if lang_el is None:
            lang_el = OxmlElement("w:lang")
            rpr.append(lang_el)
        lang_el.set(qn("w:eastAsia"), "zh-CN")
    doc.styles["Normal"].font.size = Pt(10.5)


def _cell_text(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int) or (hasattr(v, "dtype") and getattr(v, "dtype", None) is not None and str(v.dtype).startswith("int")):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 1e15 else str(v)
    return str(v)


def _table(doc, frame: pd.DataFrame, widths: list[float] | None = None, font_pt: float = 8.5) -> None:  # noqa: ANN001 - a python-docx Document
    """A grid table with a bold header row; one ``add_row`` per row (python-docx cell lookups are slow)."""
    from docx.shared import Cm, Pt

    t = doc.add_table(rows=1, cols=len(frame.columns))
    t.style = "Table Grid"
    for cell, col in zip(t.rows[0].cells, frame.columns):
        cell.text = ""
        run = cell.paragraphs[0].add_run(str(col))
        run.bold = True
        run.font.size = Pt(font_pt)
    for row in frame.itertuples(index=False):
        cells = t.add_row().cells
        for cell, v in zip(cells, row):
            run = cell.paragraphs[0].add_run(_cell_text(v.item() if hasattr(v, "item") else v))
            run.font.size = Pt(font_pt)
    if widths:  # cell widths and the grid's column widths (LibreOffice reads the grid)
        t.autofit = False
        for col, w in zip(t.columns, widths):
            col.width = Cm(w)
            for cell in col.cells:
                cell.width = Cm(w)
    doc.add_paragraph()  # a gap before whatever follows (a chart would touch the table)


def _picture(doc, png: bytes | None, width_cm: float = 16.0) -> None:  # noqa: ANN001 - a python-docx Document
    from docx.shared import Cm

    if png:
        doc.add_picture(io.BytesIO(png), width=Cm(width_cm))


def headline_text(brief: Brief, lang: str) -> str:
    """The section-one paragraph (also checked against month_summary in the tests)."""
    s = brief.summary
    return translate(
        "brief.p.headline",
        lang,
        month=format_period(brief.period, lang),
        households=fmt.count(s.households, lang),
        red=fmt.count(s.counts["red"], lang),
        red_change=fmt.signed(s.change["red"]),
        yellow=fmt.count(s.counts["yellow"], lang),
        yellow_change=fmt.signed(s.change["yellow"]),
        green=fmt.count(s.counts["green"], lang),
        green_change=fmt.signed(s.change["green"]),
        newly_red=fmt.count(s.newly_red, lang),
        rising=fmt.count(s.rising, lang),
        below=fmt.count(s.below_line, lang),
        mean=f"{s.mean_score:.2f}",
    )


def township_texts(brief: Brief, lang: str) -> list[str]:
    """Top townships, biggest rises, hot spots and what changed, area events (a township brief:
    its villages, and no hot spots)."""
    T = lambda k, **kw: translate(f"brief.p.{k}", lang, **kw)
    tw = brief.townships
    sep = _sep(lang)
    villages = brief.level == "village"
    out = [T("top_villages" if villages else "top_townships", list=sep.join(f"{brief.name(r.township_code, lang)}（{fmt.pct(r.red_share)}）" if lang == "zh" else f"{brief.name(r.township_code, lang)} ({fmt.pct(r.red_share)})" for r in tw.head(3).itertuples()))]
    up = tw[tw["red_share_change"] > 0].sort_values(["red_share_change", "township_code"], ascending=[False, True]).head(3)
    if brief.prev_period is not None:
        if len(up):
            pts = "个百分点" if lang == "zh" else " pts"
            out.append(T("up_townships", list=sep.join(f"{brief.name(r.township_code, lang)} +{100 * r.red_share_change:.1f}{pts}" for r in up.itertuples())))
        else:
            out.append(T("no_up_villages" if villages else "no_up"))
    if brief.hotspots_note:
        out.append(T(brief.hotspots_note))
    else:
        hot = tw[tw["hotspot"] == "hot"]["township_code"].tolist()
        out.append(T("hot", list=sep.join(brief.name(c, lang) for c in hot)) if hot else T("no_hot"))
        new = tw[(tw["hotspot"] == "hot") & (tw["hotspot_prev"] != "hot")]["township_code"].tolist()
        gone = tw[(tw["hotspot"] != "hot") & (tw["hotspot_prev"] == "hot")]["township_code"].tolist()
        if brief.prev_period is not None and new:
            out.append(T("hot_new", list=sep.join(brief.name(c, lang) for c in new)))
        if brief.prev_period is not None and gone:
            out.append(T("hot_gone", list=sep.join(brief.name(c, lang) for c in gone)))
    ev = brief.area_events
    if len(ev):
        items = [f"{format_period(r.period, lang)} {brief.name(r.township_code, lang)} {label('event', r.event_type, lang)}" for r in ev.itertuples()]
        out.append(T("events", months=RED_SHARE_WINDOW, list=sep.join(items)))
    return out


def clue_texts(brief: Brief, lang: str) -> list[str]:
    cl = brief.clues
    if cl.empty:
        return [translate("brief.p.no_clues", lang)]
    by_channel = cl.groupby("channel")["clues"].sum()
    sep = _sep(lang)
    unit = "条" if lang == "zh" else ""
    src = cl.groupby("source")["clues"].sum().sort_values(ascending=False).head(3)
    risk = cl.groupby("risk_type")["clues"].sum().sort_values(ascending=False).head(3)
    return [
        translate("brief.p.clues", lang, n=fmt.count(int(cl["clues"].sum()), lang), **{c: fmt.count(int(by_channel.get(c, 0)), lang) for c in ("department", "cadre_visit", "self_report")}),
        translate(
            "brief.p.clue_sources",
            lang,
            sources=sep.join(f"{source_label(k, lang)} {int(v)}{unit}" for k, v in src.items()),
            risks=sep.join(f"{label('risk', k, lang)} {int(v)}{unit}" for k, v in risk.items()),
        ),
    ]


def order_text(brief: Brief, lang: str) -> str:
    loop = brief.loop
    as_of = brief.as_of.isoformat()
    if not loop.orders:
        return translate("brief.p.no_orders", lang, as_of=as_of)
    from fanpin.workflow.common import DUE_DAYS

    return translate(
        "brief.p.orders",
        lang,
        as_of=as_of,
        orders=fmt.count(loop.orders, lang),
        decided=fmt.count(loop.decided, lang),
        median="—" if loop.median_days is None else f"{loop.median_days:.1f}",
        days=DUE_DAYS,
        overdue=fmt.count(loop.overdue, lang),
        share=fmt.pct(loop.overdue_share),
    )


def monitoring_texts(brief: Brief, lang: str) -> list[str]:
    m = brief.monitoring
    out = [
        translate(
            "brief.p.monitoring",
            lang,
            entered=fmt.count(m.entered, lang),
            eliminated=fmt.count(m.eliminated, lang),
            by_assistance=fmt.count(m.by_method.get("by_assistance", 0), lang),
            natural=fmt.count(m.by_method.get("natural", 0), lang),
            monitored=fmt.count(m.monitored_end, lang),
        )
    ]
    if m.by_category:
        unit = "户" if lang == "zh" else ""
        out.append(translate("brief.p.monitoring_categories", lang, list=_sep(lang).join(f"{label('category', k, lang)} {v}{unit}" for k, v in sorted(m.by_category.items()))))
    return out


def case_text(brief: Brief, lang: str) -> str:
    """The official procedure's cases: how many at each step, approved, withdrawn, overdue."""
    from fanpin.workflow.case_figures import STEP_WAIT_DAYS

    c = brief.cases
    as_of = c.as_of.isoformat()
    if not c.total:
        return translate("brief.p.no_cases", lang, as_of=as_of)
    states = {s: fmt.count(c.state(s), lang) for s in ("village_review", "notice", "township_check", "county_approval", "returned", "approved", "withdrawn")}
    return translate("brief.p.cases", lang, as_of=as_of, total=fmt.count(c.total, lang), open=fmt.count(c.open, lang), overdue=fmt.count(c.overdue, lang),
                     days=STEP_WAIT_DAYS, **states)


def model_text(brief: Brief, lang: str) -> str:
    st = brief.model_status
    if st == "ok":
        k = 0 if brief.model_candidates is None else len(brief.model_candidates)
        text = translate("brief.p.model_ok", lang, n=fmt.count(brief.model_candidates_total, lang), k=k, threshold=fmt.pct(MODEL_THRESHOLD, 0), horizon=brief.model_horizon)
        return text + _backtest_text(brief, lang)
    if st == "refused":
        return translate("brief.p.model_refused", lang, reason=brief.model_note or "")
    if st == "no_month":
        return translate("brief.p.model_no_month", lang, reason=brief.model_note or "")
    return translate("brief.p.model_none", lang)


def _backtest_text(brief: Brief, lang: str) -> str:
    """How the model did on months it never saw, at a 2% monthly visit budget (the model page's sentence)."""
    from fanpin.model import backtest

    bt = brief.model_backtest
    if bt is None or bt.empty or not (bt["budget"] == 0.02).any():
        return ""
    windows = bt.loc[bt["window"] != backtest.ALL, "window"].nunique()
    return ("" if lang == "zh" else " ") + translate("model.bt.brief", lang, n=windows, verdict=backtest.verdict_text(bt, 0.02, lang))


def findings_text(brief: Brief, lang: str) -> str:
    if brief.findings_status == "unavailable":
        return translate("brief.p.findings_unavailable", lang)
    if brief.findings_status == "error":
        err = str(brief.findings["error"].iloc[0]) if brief.findings is not None and len(brief.findings) else ""
        return translate("brief.p.findings_error", lang, error=err)
    if not brief.findings_total:
        return translate("brief.p.no_findings", lang)
    return translate("brief.p.findings", lang, n=fmt.count(brief.findings_total, lang), rules=len(brief.findings))


def render_docx(brief: Brief, lang: str = "zh", charts: dict[str, bytes] | None = None) -> bytes:
    """The brief as .docx bytes; ``charts`` from fanpin.report.charts.charts (drawn here when None)."""
    from docx import Document

    if charts is None:
        from fanpin.report.charts import charts as draw

        charts = draw(brief, lang)
    tabs = tables(brief, lang)
    doc = Document()
    _set_fonts(doc)
    _title(doc, brief, lang)
    _sections(doc, brief, lang, tabs, charts)
    _appendix(doc, brief, lang, tabs)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _title(doc, brief: Brief, lang: str) -> None:  # noqa: ANN001 - a python-docx Document
    from docx.shared import Cm, Pt

    T = lambda k, **kw: translate(f"brief.{k}", lang, **kw)
    for sec in doc.sections:
        sec.left_margin = sec.right_margin = Cm(2.2)
        sec.top_margin = sec.bottom_margin = Cm(2.0)
    title = (T("title_township", place=brief.place(lang), month=format_period(brief.period, lang)) if brief.township
             else T("title", county=brief.county(lang), month=format_period(brief.period, lang)))
    doc.core_properties.title = title
    doc.core_properties.author = "fanpin"
    doc.add_heading(title, level=0)
    meta = doc.add_paragraph(
        T("meta", month=format_period(brief.period, lang), policy=brief.policy_name, line=fmt.yuan(brief.income_line, lang), at=brief.generated_at.strftime("%Y-%m-%d %H:%M"))
    )
    meta.runs[0].font.size = Pt(9)
    if brief.township:
        doc.add_paragraph(T("scope_township", township=brief.name(brief.township, lang)))
    elif brief.scope is not None:
        doc.add_paragraph(T("scope", townships=_sep(lang).join(brief.name(c, lang) for c in sorted(brief.scope))))


def _sections(doc, brief: Brief, lang: str, tabs: dict[str, pd.DataFrame], charts: dict[str, bytes]) -> None:  # noqa: ANN001 - a python-docx Document
    """Headline, townships, clues, orders, monitoring, model, findings, actions: text, then table."""
    T = lambda k, **kw: translate(f"brief.{k}", lang, **kw)
    doc.add_heading(T("h.headline"), level=1)
    doc.add_paragraph(headline_text(brief, lang))
    if brief.prev_period is None:
        doc.add_paragraph(T("p.first_month"))
    _table(doc, tabs["headline"])
    _picture(doc, charts.get("trend"))

    doc.add_heading(T("h.villages" if brief.township else "h.townships"), level=1)
    for text in township_texts(brief, lang):
        doc.add_paragraph(text)
    _picture(doc, charts.get("townships"), 15.0)
    tw = tabs[ranking_key(brief)].drop(columns=[T("col.code")])
    _table(doc, tw, widths=[0.9, 2.6, 1.4, 1.0, 1.1, 1.2, 1.3, 1.3, 1.3, 2.0, 2.0][: len(tw.columns)], font_pt=7.5)

    doc.add_heading(T("h.clues"), level=1)
    for text in clue_texts(brief, lang):
        doc.add_paragraph(text)
    if not brief.clues.empty:
        _picture(doc, charts.get("clues"), 14.0)
        _table(doc, tabs["clues"].head(15))

    doc.add_heading(T("h.orders"), level=1)
    doc.add_paragraph(order_text(brief, lang))
    if brief.loop.orders:
        _table(doc, tabs["orders"])

    doc.add_heading(T("h.monitoring"), level=1)
    for text in monitoring_texts(brief, lang):
        doc.add_paragraph(text)
    if brief.cases is not None:
        doc.add_heading(T("h.cases"), level=2)
        doc.add_paragraph(case_text(brief, lang))
        if brief.cases.total:
            _table(doc, tabs["cases"])
        if brief.cases.overdue:
            doc.add_paragraph(T("p.cases_overdue", n=min(LIST_ROWS, brief.cases.overdue)))
            _table(doc, tabs["cases_overdue"].head(LIST_ROWS), font_pt=7.5)

    doc.add_heading(T("h.model"), level=1)
    doc.add_paragraph(model_text(brief, lang))
    if "model" in tabs and len(tabs["model"]):
        _table(doc, tabs["model"], widths=[3.3, 1.3, 1.3, 1.1, 3.4, 1.1, 1.7, 2.9], font_pt=7.5)

    doc.add_heading(T("h.findings"), level=1)
    doc.add_paragraph(findings_text(brief, lang))
    if "findings" in tabs and len(tabs["findings"]):
        _table(doc, tabs["findings"])

    doc.add_heading(T("h.actions"), level=1)
    if brief.actions:
        doc.add_paragraph(T("p.actions_intro"))
        for a in brief.actions:
            doc.add_paragraph(action_text(a, brief, lang), style="List Number")
    else:
        doc.add_paragraph(T("p.no_actions"))


def _appendix(doc, brief: Brief, lang: str, tabs: dict[str, pd.DataFrame]) -> None:  # noqa: ANN001 - a python-docx Document
    """The newly red households (masked) and the notes: sources, privacy, the rules' thresholds."""
    from docx.shared import Pt

    T = lambda k, **kw: translate(f"brief.{k}", lang, **kw)
    doc.add_heading(T("h.appendix", n=LIST_ROWS), level=1)
    if len(tabs["newly_red"]):
        _table(doc, tabs["newly_red"], widths=[3.3, 1.5, 1.5, 1.2, 3.4, 1.2, 1.2, 2.0], font_pt=7.5)
    else:
        doc.add_paragraph(T("p.no_newly_red"))
    doc.add_heading(T("h.notes"), level=2)
    rules = T(
        "note.rules",
        months=RED_SHARE_WINDOW,
        rise=fmt.pct(RED_SHARE_RISE, 0),
        pp=f"{100 * RED_SHARE_RISE_MIN_PP:g}",
        overdue=A.OVERDUE_MIN,
        days=DUE_DAYS,
        newly=A.NEWLY_RED_MIN,
        rising=A.RISING_MIN,
        threshold=fmt.pct(MODEL_THRESHOLD, 0),
    )
    for text in (T("note.source"), T("note.privacy"), rules):
        p = doc.add_paragraph(text)
        p.runs[0].font.size = Pt(8.5)


def document_text(docx_bytes: bytes) -> str:
    """All text of a .docx (paragraphs and table cells), for checks and tests."""
    from docx import Document

    doc = Document(io.BytesIO(docx_bytes))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.append("\t".join(c.text for c in row.cells))
    return "\n".join(parts)


# --------------------------------------------------------------------------- producing (CLI and page)
@dataclass
class Produced:
    brief: Brief
    docx: bytes
    xlsx: bytes
    seconds: dict[str, float] = field(default_factory=dict)  # compute, charts, docx, xlsx


def produce(
    engine: Engine,
    period: int,
    lang: str,
    *,
    principal: Principal,
    ps: PanelScores | None = None,  # the panel the page already holds
    policy_name: str | None = None,
    model: object = None,
    use_saved_model: bool = True,
    model_scores: pd.DataFrame | None = None,
    today: date | None = None,
    township: str | None = None,
) -> Produced:
    """Compute, draw, write the .docx and .xlsx, and record one ``brief`` audit row (actor:
    ``principal.actor``; ``compute_brief`` checks the principal).

    ``use_saved_model``: load the saved model (the CLI); the page passes ``model`` itself.
    ``township``: that township's brief (``compute_brief``).
    """
    from fanpin.access import audit
    from fanpin.report.brief import compute_brief
    from fanpin.report.charts import charts as draw
    from fanpin.report.tables import xlsx_bytes

    secs: dict[str, float] = {}
    t0 = time.perf_counter()
    kw = {} if (use_saved_model and model is None) else {"model": model}
    b = compute_brief(engine, period, principal=principal, ps=ps, policy_name=policy_name, model_scores=model_scores, today=today, township=township, **kw)
    secs["compute"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pngs = draw(b, lang)
    secs["charts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    docx_b = render_docx(b, lang, pngs)
    secs["docx"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    xlsx_b = xlsx_bytes(b, lang)
    secs["xlsx"] = time.perf_counter() - t0
    audit.record(
        engine,
        principal.actor,
        "brief",
        target=str(int(period)),
        detail={
            "lang": lang,
            "households": b.households_total,
            "scope": sorted(b.scope) if b.scope is not None else None,
            "township": b.township,
            "model": b.model_status,
            "findings": b.findings_status,
            "actions": len(b.actions),
            "masked": True,
            "docx_sha256": hashlib.sha256(docx_b).hexdigest(),
        },
    )
    return Produced(b, docx_b, xlsx_b, secs)
