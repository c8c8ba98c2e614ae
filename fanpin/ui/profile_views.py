"""The household profile page's figures and label tables (农户画像), so the page itself stays a
short flow: pick a household, show it.

Figures are built from the domain's frames (``fanpin.workflow.standing`` / ``timeline``); tables
keep code-name columns (``name``, ``id_number`` are masked by name in downloads) with labelled
values, and ``*_LABELS`` give their headers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.quality.rules import detail_text  # a clue's detail (codes, rules, older bilingual text) in the reader's language
from fanpin.ui.evidence_widgets import visit_form_button
from fanpin.ui.i18n import lbl, t
from fanpin.ui.tables import fit_width
from fanpin.ui.widgets import TIER_COLOURS
from fanpin.ui.workflow_widgets import codes_text, day_text, is_missing, source_label
from fanpin.workflow.standing import format_indicator, line_text

GREY = "#95a5a6"
TIMELINE_KINDS = ("area_event", "event", "clue", "order", "monitoring", "assistance")
TIMELINE_COLOURS = {"area_event": "#8e44ad", "event": "#e67e22", "clue": "#d62728", "order": "#2c3e50", "monitoring": "#16a085", "assistance": "#2ca02c"}
#: The label of each timeline kind's code (event type, risk type, order state, monitoring status, measure).
_CODE_KIND = {"event": "event", "area_event": "event", "clue": "risk", "order": "order_state", "monitoring": "monitoring_status", "assistance": "measure"}
MEMBER_FLAGS = ("medical_insurance", "pension_insurance", "dibao", "tekun", "public_welfare_job")


def kept_choice(where, label: str, options: list, label_of: Callable[[object], str], name: str, lang: str):  # noqa: ANN001, ANN201 - a container, the choice
    """A selectbox whose choice is kept under ``name`` for the session and survives a language switch.

    The option labels change with the language and a keyed selectbox would keep showing the old
    label, so the widget is keyed ``<name>_<lang>`` and seeded from ``name``.
    """
    current = st.session_state.get(name)
    key = f"{name}_{lang}"
    if key in st.session_state and st.session_state[key] not in options:  # the options changed under it
        del st.session_state[key]
    value = where.selectbox(label, options, index=options.index(current) if current in options else 0, format_func=label_of, key=key)
    st.session_state[name] = value
    return value


def _lb(kind: str, code: object) -> str:
    """``lbl`` for a value that may be NULL (shown as "—")."""
    return lbl(kind, None if is_missing(code) else str(code))


def _month_start(period: int, day: int = 1) -> pd.Timestamp:
    return pd.Timestamp(f"{period // 100}-{period % 100:02d}-{day:02d}")


# --------------------------------------------------------------------------- figures
def contribution_figure(rs: pd.DataFrame, score: float) -> go.Figure:
    """Points per indicator, largest at the top; a hit line in red, a missing value hatched."""
    rs = rs.iloc[::-1]
    labels = [lbl("indicator", k) + (t("profile.missing_mark") if miss else "") for k, miss in zip(rs["key"], rs["missing"])]
    fig = go.Figure(go.Bar(
        x=rs["contribution"].round(2), y=labels, orientation="h", text=[f"{c:.1f}" for c in rs["contribution"]], textposition="outside", cliponaxis=False,
        marker=dict(color=[TIER_COLOURS["red"] if h else GREY for h in rs["hit"]], pattern=dict(shape=["/" if m else "" for m in rs["missing"]])),
        hovertemplate="%{y}: %{x:.2f}<extra></extra>",
    ))
    fig.update_layout(title=t("profile.contrib_chart", score=f"{score:.1f}"), height=90 + 26 * len(rs), margin=dict(l=10, r=40, t=40, b=10),
                      xaxis=dict(title=t("profile.points")), yaxis=dict(automargin=True))
    return fig


def history_figures(hist: pd.DataFrame, period: int, cutoffs: Sequence[float]) -> tuple[go.Figure, go.Figure]:
    """Score by tier against the cut-offs, and income per person against the line, over every month."""
    x = pd.to_datetime([_month_start(int(p)) for p in hist["period"]])
    now, layout = _month_start(int(period)), dict(height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))
    score = go.Figure(go.Scatter(x=x, y=hist["score"].round(2), mode="lines", line=dict(color="#7f8c8d", width=1.5), showlegend=False, hoverinfo="skip"))
    for tier in ("green", "yellow", "red"):
        sel = (hist["tier"] == tier).to_numpy()
        if sel.any():
            score.add_trace(go.Scatter(x=x[sel], y=hist["score"][sel].round(2), mode="markers", name=lbl("tier", tier), marker=dict(color=TIER_COLOURS[tier], size=8)))
    score.add_hline(y=cutoffs[0], line_dash="dot", line_color=TIER_COLOURS["yellow"])
    score.add_hline(y=cutoffs[1], line_dash="dot", line_color=TIER_COLOURS["red"])
    score.update_layout(title=t("profile.history_score"), yaxis=dict(title=t("common.score")), xaxis=dict(tickformat="%Y-%m"), **layout)
    income = go.Figure(go.Scatter(x=x, y=hist["income_pc"].round(0), mode="lines+markers", name=t("profile.income_pc"), line=dict(color="#2c7fb8", width=2), marker=dict(size=5)))
    income.add_trace(go.Scatter(x=x, y=hist["income_line"], mode="lines", name=t("profile.income_line"), line=dict(color=TIER_COLOURS["red"], dash="dash", shape="hv")))
    income.update_layout(title=t("profile.history_income"), yaxis=dict(title=t("profile.yuan_per_person"), tickformat=",.0f"), xaxis=dict(tickformat="%Y-%m"), **layout)
    for fig in (score, income):
        fig.add_vline(x=now, line_dash="dash", line_color="#34495e", line_width=1)
    return score, income


def timeline_frame(tl: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The timeline labelled: month, kind, what, amount, note (code-name columns)."""
    what = [_lb(_CODE_KIND[k], c) for k, c in zip(tl["kind"], tl["code"])]
    return pd.DataFrame({
        "period": tl["period"], "kind": tl["kind"], "month": [format_period(int(p), lang) for p in tl["period"]],
        "kind_label": [t(f"profile.kind.{k}") for k in tl["kind"]], "what": what,
        "amount_text": [fmt.yuan(a, lang) if pd.notna(a) else "" for a in tl["amount"]], "note": [detail_text(v, lang) for v in tl["text"]],
    })


def timeline_figure(shown: pd.DataFrame, periods: Sequence[int]) -> go.Figure:
    """One row of markers per kind, over the panel's months."""
    fig = go.Figure()
    date = pd.to_datetime([_month_start(int(p), 15) for p in shown["period"]])
    for k in TIMELINE_KINDS:
        sel = (shown["kind"] == k).to_numpy()
        if sel.any():
            part = shown[sel]
            fig.add_trace(go.Scatter(
                x=date[sel], y=part["kind_label"], mode="markers", name=t(f"profile.kind.{k}"),
                marker=dict(color=TIMELINE_COLOURS[k], size=12, symbol="diamond" if k == "area_event" else "circle"),
                customdata=list(zip(part["what"], part["amount_text"], part["note"])),
                hovertemplate="%{x|%Y-%m} · %{customdata[0]} %{customdata[1]}<br>%{customdata[2]}<extra></extra>",
            ))
    span = [_month_start(int(periods[0])), _month_start(int(periods[-1]), 28)] if len(periods) else None
    present = set(shown["kind"])
    fig.update_layout(
        title=t("profile.timeline_chart"), height=120 + 45 * len(present), margin=dict(l=10, r=10, t=40, b=10), showlegend=False,
        xaxis=dict(range=span, tickformat="%Y-%m"),
        yaxis=dict(automargin=True, categoryorder="array", categoryarray=[t(f"profile.kind.{k}") for k in TIMELINE_KINDS if k in present][::-1]),
    )
    return fig


def assistance_figure(summary: pd.DataFrame, lang: str) -> go.Figure:
    """Yuan per measure, largest at the top."""
    bars = summary.iloc[::-1]
    fig = go.Figure(go.Bar(
        x=bars["amount"], y=[_lb("measure", m) for m in bars["measure"]], orientation="h", marker=dict(color="#2ca02c"),
        text=[fmt.yuan(v, lang) for v in bars["amount"]], textposition="outside", cliponaxis=False, hovertemplate="%{y}: %{x:,.0f}<extra></extra>",
    ))
    fig.update_layout(title=t("profile.assistance_chart"), height=90 + 32 * len(bars), margin=dict(l=10, r=70, t=40, b=10),
                      yaxis=dict(automargin=True), xaxis=dict(title=t("profile.yuan"), tickformat=",.0f"))
    return fig


# --------------------------------------------------------------------------- tables
def text_columns(prefix: str, columns: Sequence[str], frame: pd.DataFrame | None = None) -> dict:
    """``TextColumn`` headers ``<prefix>.<column>`` for a table's columns; with the ``frame``, each as
    wide as its longest value (no cell cut to "Department screeni…")."""
    return {c: st.column_config.TextColumn(t(f"{prefix}.{c}"), width=None if frame is None else fit_width(frame[c].tolist(), t(f"{prefix}.{c}"))) for c in columns}


def members_frame(mm: pd.DataFrame) -> pd.DataFrame:
    """Members (already masked or not by the domain) with their codes labelled."""
    out = pd.DataFrame({
        "name": mm["name"], "id_number": mm["id_number"], "sex": [_lb("sex", v) for v in mm["sex"]], "age": mm["age"],
        "relation": [_lb("relation", v) for v in mm["relation"]], "ethnicity": [_lb("profile.ethnicity", v) for v in mm["ethnicity"]],
        "education": [_lb("profile.education", v) for v in mm["education"]], "health": [_lb("health", v) for v in mm["health"]],
        "disability": [t("profile.no") if not v else t("profile.disability_grade", g=int(v)) for v in mm["disability"]],
        "labour": [_lb("labour", v) for v in mm["labour_capacity"]], "schooling": [_lb("schooling", v) for v in mm["schooling"]],
        "work": [_lb("profile.work", v) for v in mm["work_location"]],
    })
    for c in MEMBER_FLAGS:
        out[c] = mm[c].astype(bool)
    return out


def member_columns(people: pd.DataFrame) -> dict:
    cfg = {c: st.column_config.TextColumn(t(f"profile.mcol.{c}"), width=fit_width(people[c], t(f"profile.mcol.{c}"))) for c in people.columns}
    cfg["age"] = st.column_config.NumberColumn(t("profile.mcol.age"), format="%d")
    for c in MEMBER_FLAGS:
        cfg[c] = st.column_config.CheckboxColumn(t(f"profile.mcol.{c}"))
    return cfg


def clues_frame(c: pd.DataFrame, lang: str) -> pd.DataFrame:
    return pd.DataFrame({
        "clue_id": c["clue_id"].astype(str), "received_at": [day_text(v) for v in c["received_at"]], "channel": [_lb("channel", v) for v in c["channel"]],
        "source": [source_label(v) for v in c["source"]], "risk_type": [_lb("risk", v) for v in c["risk_type"]],
        "amount": [fmt.yuan(a, lang) if pd.notna(a) else "" for a in pd.to_numeric(c["amount"], errors="coerce")],  # blank, not "None"
        "detail": [detail_text(v, lang) for v in c["detail"]],
        "status": [_lb("clue_status", v) for v in c["status"]],
    })


def orders_frame(o: pd.DataFrame, township_names: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": o["order_id"].astype(str), "created_at": [day_text(v) for v in o["created_at"]],
        "assignee": [source_label(v) if k == "department" else township_names.get(v, v) for k, v in zip(o["assignee_kind"], o["assignee"])],
        "due_date": [day_text(v) for v in o["due_date"]], "state": [_lb("order_state", v) for v in o["state"]],
        "decision": [_lb("decision", v) for v in o["decision"]], "category": [_lb("category", v) for v in o["category"]],
        "risk_types": [codes_text(v, "risk") for v in o["risk_types"]], "clue_ids": o["clue_ids"], "findings": o["findings"].fillna(""),
        "decided_at": [day_text(v) for v in o["decided_at"]],
    })


def monitoring_frame(mo: pd.DataFrame, lang: str) -> pd.DataFrame:
    return pd.DataFrame({
        "month": [format_period(int(p), lang) for p in mo["period"]], "status": [_lb("monitoring_status", v) for v in mo["status"]],
        "category": [_lb("category", v) for v in mo["category"]], "risk_types": [codes_text(v, "risk") for v in mo["risk_types"]],
        "method": [_lb("elimination_method", v) for v in mo["method"]], "recorded_at": [day_text(v) for v in mo["recorded_at"]],
    })


def assistance_items(a: pd.DataFrame, lang: str) -> pd.DataFrame:
    return pd.DataFrame({
        "month": [format_period(int(p), lang) for p in a["period"]], "measure": [_lb("measure", v) for v in a["measure"]],
        "amount": pd.to_numeric(a["amount"], errors="coerce"), "cadre": a["cadre"].fillna(""), "description": [detail_text(v, lang) for v in a["description"]],
    })


def indicator_frame(it: pd.DataFrame, lang: str, line: float) -> pd.DataFrame:
    """The household's indicators against their warning lines, said in their units."""
    return pd.DataFrame({
        "dimension": [lbl("dimension", d) for d in it["dimension"]], "indicator": [lbl("indicator", k) for k in it["key"]],
        "value": [format_indicator(k, v, lang, line) for k, v in zip(it["key"], it["value"])],
        "warning_line": [line_text(k, v, lang, line) for k, v in zip(it["key"], it["warning_line"])], "hit": it["hit"].to_numpy(),
        "contribution": it["contribution"].round(2).to_numpy(), "weight": (100 * it["weight"]).round(1).to_numpy(), "missing": it["missing"].to_numpy(),
    })


def indicator_columns() -> dict:
    return text_columns("profile.col", ("dimension", "indicator", "value", "warning_line")) | {
        "hit": st.column_config.CheckboxColumn(t("profile.col.hit")), "missing": st.column_config.CheckboxColumn(t("profile.col.missing")),
        "contribution": st.column_config.NumberColumn(t("profile.col.contribution"), format="%.2f"),
        "weight": st.column_config.NumberColumn(t("profile.col.weight"), format="%.1f%%"),
    }


def assistance_summary_frame(summary: pd.DataFrame, lang: str) -> tuple[pd.DataFrame, dict]:
    """The 幸福清单 per measure, and its column headers."""
    shown = pd.DataFrame({"measure_label": [_lb("measure", m) for m in summary["measure"]], "count": summary["count"], "amount": summary["amount"],
                          "first": [format_period(int(p), lang) for p in summary["first_period"]], "last": [format_period(int(p), lang) for p in summary["last_period"]]})
    cfg = text_columns("profile.acol", ("first", "last")) | {"measure_label": st.column_config.TextColumn(t("profile.acol.measure")), "count": st.column_config.NumberColumn(t("profile.acol.count"), format="%d"),
                                                                        "amount": st.column_config.NumberColumn(t("profile.acol.amount"), format="localized")}
    return shown, cfg


def model_suggests(ctx, household_id: str) -> None:  # noqa: ANN001 - the page Context
    """模型建议 / Model suggests: a small, labelled suggestion beside the rules; nothing when no model is trained."""
    model = ctx.data.model()
    if model is None or isinstance(model, str):  # none trained, or refused (the model page says why)
        return
    scores = ctx.data.model_scores(model, ctx.period)
    if household_id not in scores.index:
        return
    row = scores.loc[household_id]
    with st.container(border=True):
        st.markdown(f"**{t('model.suggests')}**")
        if row["below_line_now"]:
            st.caption(t("model.suggests_below"))
        else:
            st.markdown(t("model.suggests_text", h=int(model.meta["horizon"]), p=fmt.pct(float(row["probability"]))))
            factors = [t(f"model.feature.{f}") for f in (row["factor_1"], row["factor_2"], row["factor_3"]) if f]
            if factors:
                st.markdown(t("model.suggests_factors", f=t("profile.list_sep").join(factors)))
        st.caption(t("model.suggests_caption"))


def visit_form(ctx, household_id: str) -> None:  # noqa: ANN001 - a page Context
    """The 入户核查表 (.docx) download for the household (``fanpin.ui.evidence_widgets``)."""
    visit_form_button(ctx, "pf_visit_form", household_id=household_id)
