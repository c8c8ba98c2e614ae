"""The printable 入户核查表 (home-visit verification form, .docx) for one household, prefilled with
what the system knows, with blank fields for what the visit finds and the signatures.

What it holds: the household ID, its township and village, type, size and labour; the members
(names and ID numbers masked unless the principal may unmask, which is then logged as
``unmask``: a form taken to the door needs the names, and the log says who printed them); the
latest month's income per head against the income line and the indicators against their warning
lines (the policy in force for that month); the open clues and, for an order, the risk types its
clues name; then empty rows for the findings, a conclusion to tick, and 核查人 / 户主签字 / 日期.

The figures are read, not computed here: the month's indicators are the scorer's raw values and
warning-line hits for this one household (neither depends on the other households).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.access.roles import Principal, can, require_household
from fanpin.core import fmt
from fanpin.core.i18n import label, translate
from fanpin.core.indicators import INCOME_KEY
from fanpin.core.periods import format_period
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scoring import Scorer
from fanpin.quality.rules import detail_text
from fanpin.report.document import _set_fonts, _table
from fanpin.store.regions import load_regions
from fanpin.workflow import orders as orders_mod
from fanpin.workflow import profile
from fanpin.workflow.common import WorkflowError
from fanpin.workflow.standing import format_indicator, line_text

#: Clue statuses still open (not yet closed by a decision).
OPEN_CLUES = ("new", "merged", "ordered")
FINDING_ROWS = ("visit.finding_income", "visit.finding_spending", "visit.finding_guarantees", "visit.finding_members", "visit.finding_other")


@dataclass(frozen=True)
class MonthFigures:
    """One household's indicators in one month against the warning lines in force."""

    period: int | None
    income_line: float | None
    indicators: pd.DataFrame | None  # key, value, warning_line, hit, missing; None without data that month


def month_figures(engine: Engine, household_id: str, period: int | None = None) -> MonthFigures:
    """The household's indicators in ``period`` (default: the last month stored)."""
    periods = store.periods(engine)
    if not periods:
        return MonthFigures(None, None, None)
    period = int(period or periods[-1])
    policy = baseline_policy(engine, period)
    frame = store.load_snapshot(engine, period)
    rows = frame[frame["household_id"] == str(household_id)]
    if rows.empty:
        return MonthFigures(period, policy.income_line, None)
    scorer = Scorer.from_frame(rows.reset_index(drop=True))
    at = np.array([0])
    keys = list(scorer.keys)
    lines = [policy.line_of(k) for k in keys]
    table = pd.DataFrame({
        "key": keys, "value": scorer.raw_values(at)[0], "warning_line": np.array([np.nan if v is None else v for v in lines], dtype=float),
        "hit": scorer.warnings_hit(policy, at)[0], "missing": scorer.missing_mask(at)[0],
    })
    return MonthFigures(period, policy.income_line, table)


def visit_form(
    engine: Engine, *, principal: Principal, household_id: str | None = None, order_id: int | None = None, lang: str = "zh",
    unmask: bool | None = None, figures: MonthFigures | None = None, now: datetime | None = None,
) -> bytes:
    """The .docx form for a household (or an order's household).  ``unmask`` defaults to whether the
    principal may unmask; unmasked names are logged (``unmask``, purpose ``visit_form``)."""
    order = orders_mod.get_order(engine, int(order_id), principal=principal) if order_id is not None else None
    if order is not None:
        if household_id is not None and str(household_id) != order["household_id"]:
            raise WorkflowError("mixed_households", "the order is about another household")
        household_id = order["household_id"]
    if household_id is None:
        raise WorkflowError("no_household", "give a household or an order")
    hid = str(household_id)
    require_household(principal, engine, hid, "household_view")
    detail = profile.household_detail(engine, hid, principal=principal)
    if detail is None:
        raise WorkflowError("no_household", f"no household {hid}")
    unmask = can(principal, "unmask") if unmask is None else bool(unmask)
    if unmask:  # refused for a role that may not; logged
        profile.unmask(engine, principal, hid, {"purpose": "visit_form", "order_id": order_id})
    figures = figures or month_figures(engine, hid)
    risks = orders_mod.order_risk_types(engine, int(order_id), principal=principal) if order is not None else []
    return _render(engine, detail, order, risks, figures, unmask, lang, now or datetime.now())


# --------------------------------------------------------------------------- the document
def _tr(key: str, lang: str, **kw: object) -> str:
    return translate(key, lang, **kw)


def region_names(engine: Engine, lang: str) -> dict[str, str]:
    regions = load_regions(engine)
    names = regions["name_en"].where(regions["name_en"].notna() & (regions["name_en"] != ""), regions["name"]) if lang == "en" else regions["name"]
    return dict(zip(regions["region_code"], names))


def _render(
    engine: Engine, detail: profile.HouseholdDetail, order: dict | None, risks: list[str], figures: MonthFigures, unmask: bool, lang: str,
    at: datetime,
) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    doc = Document()
    _set_fonts(doc)
    for section in doc.sections:  # A4, as the bureaus print
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        section.left_margin = section.right_margin = Cm(2.0)
        section.top_margin = section.bottom_margin = Cm(1.8)
    title = doc.add_heading(_tr("visit.title", lang), level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    hh, names = detail.household, region_names(engine, lang)
    ref = _tr("visit.order_ref", lang, order=order["order_id"]) if order is not None else ""
    sub = doc.add_paragraph(_tr("visit.printed", lang, day=f"{at:%Y-%m-%d}", ref=ref))
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _basics(doc, detail, names, unmask, lang)
    _members(doc, detail, figures.period, unmask, lang)
    _figures(doc, figures, lang)
    _clues(doc, detail, order, risks, lang)
    _findings(doc, lang)
    _signatures(doc, lang, Pt)
    doc.core_properties.title = f"{_tr('visit.title', lang)} {hh['household_id']}"
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _pairs(doc, pairs: list[tuple[str, str]]) -> None:  # noqa: ANN001 - a python-docx Document
    """A two-column grid of label / value pairs, two pairs per row."""
    from docx.shared import Pt

    rows = (len(pairs) + 1) // 2
    grid = doc.add_table(rows=rows, cols=4)
    grid.style = "Table Grid"
    for i, (name, value) in enumerate(pairs):
        cells = grid.rows[i // 2].cells[(i % 2) * 2:(i % 2) * 2 + 2]
        run = cells[0].paragraphs[0].add_run(name)
        run.bold = True
        run.font.size = Pt(9.5)
        cells[1].paragraphs[0].add_run(value).font.size = Pt(9.5)
    doc.add_paragraph()


def _basics(doc, detail: profile.HouseholdDetail, names: dict[str, str], unmask: bool, lang: str) -> None:  # noqa: ANN001
    hh, status = detail.household, detail.monitoring_status()
    doc.add_heading(_tr("visit.basics", lang), level=2)
    yes, no = _tr("profile.yes", lang), _tr("profile.no", lang)
    monitored = "—" if status is None else " · ".join(
        label(k, status.get(c), lang) for k, c in (("monitoring_status", "status"), ("category", "category")) if status.get(c)
    )
    _pairs(doc, [
        (_tr("common.household_id", lang), str(hh["household_id"])),
        (_tr("visit.place", lang), f"{names.get(hh['township_code'], hh['township_code'])} {names.get(hh['village_code'], hh['village_code'])}"),
        (_tr("visit.household_type", lang), label("household_type", hh["household_type"], lang)),
        (_tr("visit.size", lang), _tr("profile.unit.persons", lang, n=hh["size"])),
        (_tr("visit.labour", lang), _tr("profile.labour_value", lang, n=hh["n_labour"], weak=hh["n_weak_labour"])),
        (_tr("visit.phone", lang), profile.phone_shown(hh, unmask) or "—"),
        (_tr("visit.monitoring", lang), monitored),
        (_tr("visit.guarantee", lang), yes if hh["no_labour_guarantee"] else no),
    ])


def _members(doc, detail: profile.HouseholdDetail, period: int | None, unmask: bool, lang: str) -> None:  # noqa: ANN001
    doc.add_heading(_tr("visit.members", lang), level=2)
    if not unmask:
        doc.add_paragraph(_tr("visit.masked_note", lang))
    m = profile.members_masked(detail.members, unmask=unmask, as_of=period)
    if m.empty:
        doc.add_paragraph(_tr("profile.no_members", lang))
        return
    frame = pd.DataFrame({
        _tr("visit.col.name", lang): m["name"],
        _tr("visit.col.relation", lang): [label("relation", v, lang) for v in m["relation"]],
        _tr("visit.col.sex", lang): [label("sex", v, lang) for v in m["sex"]],
        _tr("visit.col.age", lang): ["—" if pd.isna(v) else str(int(v)) for v in m["age"]],
        _tr("visit.col.id_number", lang): m["id_number"],
        _tr("visit.col.health", lang): [label("health", v, lang) for v in m["health"]],
        _tr("visit.col.labour", lang): [label("labour", v, lang) for v in m["labour_capacity"]],
        _tr("visit.col.checked", lang): "",
    })
    _table(doc, frame, widths=[1.8, 1.8, 1.0, 1.0, 4.2, 1.9, 2.3, 3.0], font_pt=9)


def _figures(doc, figures: MonthFigures, lang: str) -> None:  # noqa: ANN001
    month = format_period(figures.period, lang) if figures.period else "—"
    doc.add_heading(_tr("visit.figures", lang, month=month), level=2)
    if figures.indicators is None:
        doc.add_paragraph(_tr("visit.no_figures", lang, month=month))
        return
    ind, line = figures.indicators, figures.income_line
    income = ind.set_index("key")["value"].get(INCOME_KEY)
    income_text = "—" if income is None or not np.isfinite(income) else fmt.yuan(float(income), lang)
    doc.add_paragraph(_tr("visit.income", lang, income=income_text, line=fmt.yuan(float(line), lang) if line else "—"))
    frame = pd.DataFrame({
        _tr("visit.col.indicator", lang): [label("indicator", k, lang) for k in ind["key"]],
        _tr("visit.col.value", lang): [format_indicator(k, None if miss else v, lang, line) for k, v, miss in zip(ind["key"], ind["value"], ind["missing"])],
        _tr("visit.col.line", lang): [line_text(k, v, lang) for k, v in zip(ind["key"], ind["warning_line"])],
        _tr("visit.col.hit", lang): [_tr("visit.hit", lang) if h else "" for h in ind["hit"]],
        _tr("visit.col.verified", lang): "",
    })
    _table(doc, frame, widths=[4.4, 3.6, 3.0, 1.6, 4.4], font_pt=8.5)


def _clues(doc, detail: profile.HouseholdDetail, order: dict | None, risks: list[str], lang: str) -> None:  # noqa: ANN001
    doc.add_heading(_tr("visit.clues", lang), level=2)
    sep = "、" if lang == "zh" else ", "
    if order is not None:
        doc.add_paragraph(_tr("visit.order_risks", lang, order=order["order_id"], risks=sep.join(label("risk", r, lang) for r in risks) or "—"))
    clues = detail.clues
    clues = clues[clues["status"].isin(OPEN_CLUES)] if len(clues) else clues
    if clues.empty:
        doc.add_paragraph(_tr("visit.no_clues", lang))
        return
    frame = pd.DataFrame({
        _tr("visit.col.clue", lang): clues["clue_id"].astype(int).astype(str),
        _tr("visit.col.received", lang): [f"{pd.Timestamp(v):%Y-%m-%d}" if pd.notna(v) else "—" for v in clues["received_at"]],
        _tr("visit.col.channel", lang): [label("channel", c, lang) for c in clues["channel"]],
        _tr("visit.col.risk", lang): [label("risk", r, lang) for r in clues["risk_type"]],
        _tr("visit.col.detail", lang): [detail_text(d, lang) for d in clues["detail"]],  # codes and rules as labels
    })
    _table(doc, frame, widths=[1.4, 2.4, 2.6, 2.6, 8.0], font_pt=9)


def _findings(doc, lang: str) -> None:  # noqa: ANN001
    from docx.shared import Cm, Pt

    doc.add_heading(_tr("visit.findings", lang), level=2)
    grid = doc.add_table(rows=len(FINDING_ROWS), cols=2)
    grid.style = "Table Grid"
    grid.autofit = False
    for col, width in zip(grid.columns, (Cm(3.6), Cm(13.4))):  # the grid's widths (LibreOffice) and each cell's (Word)
        col.width = width
        for cell in col.cells:
            cell.width = width
    for row, key in zip(grid.rows, FINDING_ROWS):
        row.height = Cm(1.8)
        row.cells[0].paragraphs[0].add_run(_tr(key, lang)).font.size = Pt(9.5)
    doc.add_paragraph()
    doc.add_paragraph(_tr("visit.conclusion", lang))


def _signatures(doc, lang: str, pt) -> None:  # noqa: ANN001
    doc.add_paragraph()
    for key in ("visit.sign_checker", "visit.sign_head"):
        p = doc.add_paragraph(_tr(key, lang))
        p.paragraph_format.space_after = pt(18)
