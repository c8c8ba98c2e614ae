"""模型评估 Risk model: held-out metrics against the two rules, calibration, budget curve, importance,
and a list a person may send to the clue inbox.

Training checks ``model_train`` and sending checks ``model_to_clues`` in ``fanpin.model`` (the
buttons are hidden for other roles only as a courtesy); the page draws and says what happened.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from sqlalchemy.engine import Engine

from fanpin.access.roles import AccessDenied, Principal, can
from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.model import evaluate, features, persist, suggest, train
from fanpin.ui import jobs
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, t
from fanpin.ui.messages import flash, show_flash
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.text import md

PAGE = "model"
METHOD_COLOURS = {"model": "#c0392b", "logistic": "#e67e22", "income_line": "#2980b9", "index_tiers": "#7f8c8d"}
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10))


def _request(flag: str) -> None:
    """Buttons set a flag in a callback: the flag survives the run that follows the click."""
    st.session_state[flag] = True


# --------------------------------------------------------------------------- training
def retrain(engine: Engine, me: Principal, horizon: int, expanded: bool) -> bool:
    """The retraining form (roles that may train); True when a model was trained and saved now."""
    if not can(me, "model_train"):
        return False
    with st.expander(t("model.retrain"), expanded=expanded):
        st.caption(t("model.retrain_help"))
        c1, c2 = st.columns(2)
        h = c1.number_input(t("model.horizon"), 1, 12, value=int(horizon), key="md_horizon")
        n_eval = c2.number_input(t("model.eval_months"), 1, 12, value=6, key="md_eval_months")
        st.button(t("model.train_button"), key="md_train", type="primary", on_click=_request, args=("md_train_requested",))
        run = jobs.runner()  # training runs in the background: the page stays usable
        if st.session_state.pop("md_train_requested", False):
            run.start(me.username, "train", "job.train", lambda report: train_and_save(engine, me, int(h), int(n_eval), report))
        job = run.get(me.username, "train")
        if job is None:
            return False
        jobs.show(job)
        if job.running:
            return False
        run.forget(me.username, "train")
        return not job.failed


def train_and_save(engine: Engine, me: Principal, horizon: int, n_eval: int, report: jobs.Report) -> None:
    """The background job: train (``model_train`` checked, audited by ``train``) and save."""
    fitted = train.train(engine, horizon, principal=me, eval_months=n_eval, progress=report)
    report("saving", 0.95)
    persist.save_model(fitted)


def meta_caption(meta: dict, lang: str) -> None:
    months = lambda ms: f"{format_period(ms[0], lang)}–{format_period(ms[-1], lang)}"
    st.caption(
        t(
            "model.meta",
            at=meta["trained_at"].replace("T", " "), train=months(meta["train_months"]), eval=months(meta["eval_months"]), h=meta["horizon"],
            n_train=fmt.count(meta["rows_train"], lang), n_eval=fmt.count(meta["rows_eval"], lang), rate=fmt.pct(meta["positive_rate_eval"], 2),
        )
    )


# --------------------------------------------------------------------------- evaluation
def metrics_section(evaluation: pd.DataFrame) -> int:
    """The methods side by side at the chosen visit budget; returns the budget in %."""
    st.subheader(t("model.metrics_title"))
    k_pct = st.slider(t("model.budget"), 1, 30, 2, key="md_budget", help=t("model.budget_help"), persist_state="session")
    table = evaluate.method_table(evaluation, k_pct / 100)
    by = table.set_index("method")
    pct = lambda m, c: f"{by.loc[m, c]:.1f}%"
    st.markdown(
        t(
            "model.summary", k=f"{k_pct}%", rm=pct("model", "recall"), pm=pct("model", "precision"), ri=pct("income_line", "recall"),
            pi=pct("income_line", "precision"), rt=pct("index_tiers", "recall"), pt=pct("index_tiers", "precision"),
        )
    )
    shown = table.assign(
        method=[t(f"model.method.{m}") for m in table["method"]],
        brier=["—" if np.isnan(b) else f"{b:.4f}" for b in table["brier"]],
    )
    st.dataframe(
        shown, hide_index=True, width="stretch", key="md_metrics",
        column_config={
            "method": st.column_config.TextColumn(t("model.col.method")),
            "roc_auc": st.column_config.NumberColumn(t("model.col.roc_auc"), format="%.3f"),
            "pr_auc": st.column_config.NumberColumn(t("model.col.pr_auc"), format="%.3f"),
            "brier": st.column_config.TextColumn(t("model.col.brier")),
            "precision": st.column_config.NumberColumn(t("model.col.precision"), format="%.1f%%"),
            "recall": st.column_config.NumberColumn(t("model.col.recall"), format="%.1f%%"),
        },
    )
    st.caption(t("model.metrics_caption"))
    return k_pct


def calibration_figure(evaluation: pd.DataFrame) -> go.Figure:
    cal = evaluate.calibration(evaluation["y"].to_numpy(), evaluation["model"].to_numpy())
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#bbb", dash="dash"), name=t("model.perfect")))
    fig.add_trace(
        go.Scatter(
            x=cal["predicted"], y=cal["observed"], mode="lines+markers", line=dict(color=METHOD_COLOURS["model"]), name=t("model.method.model"),
            text=cal["households"], hovertemplate="%{x:.2f} → %{y:.2f} (n=%{text})",
        )
    )
    fig.update_layout(
        title=t("model.calibration"), height=360, **_LAYOUT, legend=dict(orientation="h", y=-0.25),
        xaxis=dict(title=t("model.predicted"), range=[0, 1]), yaxis=dict(title=t("model.observed"), range=[0, 1]),
    )
    return fig


def budget_figure(model: train.RiskModel, k_pct: int) -> go.Figure:
    curve = model.budget(np.arange(1, 31) / 100)
    fig = go.Figure()
    for m in evaluate.METHODS:
        c = curve[curve["method"] == m]
        fig.add_trace(go.Scatter(x=100 * c["k"], y=100 * c["recall"], mode="lines", name=t(f"model.method.{m}"), line=dict(color=METHOD_COLOURS[m], width=2)))
    fig.add_vline(x=k_pct, line=dict(color="#333", dash="dot"))
    fig.update_layout(
        title=t("model.budget_curve"), height=360, **_LAYOUT, legend=dict(orientation="h", y=-0.25),
        xaxis=dict(title=t("model.budget_axis")), yaxis=dict(title=t("model.recall_axis"), range=[0, 101]),
    )
    return fig


def importance_figure(importance: pd.DataFrame) -> go.Figure:
    imp = importance.head(15).iloc[::-1]
    fig = go.Figure(go.Bar(x=imp["importance"], y=[t(f"model.feature.{f}") for f in imp["feature"]], orientation="h", error_x=dict(array=imp["std"]), marker_color="#8e44ad"))
    fig.update_layout(title=t("model.importance"), height=440, **_LAYOUT)
    return fig


def evaluation_section(model: train.RiskModel) -> None:
    k_pct = metrics_section(model.evaluation)
    left, right = st.columns(2)
    left.plotly_chart(calibration_figure(model.evaluation), width="stretch", key="md_calibration")
    right.plotly_chart(budget_figure(model, k_pct), width="stretch", key="md_budget_curve")
    st.plotly_chart(importance_figure(model.importance), width="stretch", key="md_importance")


# --------------------------------------------------------------------------- the list a person may send to the clue inbox
def on_send(engine: Engine, me: Principal, cand: pd.DataFrame, period: int, horizon: int) -> None:
    picked = (st.session_state.get("md_candidates") or {}).get("selection", {}).get("rows", [])
    if not picked:
        flash(PAGE, "info", t("model.send_none"))
        return
    try:
        n = suggest.send_to_clues(engine, cand.iloc[sorted(picked)], period, horizon, principal=me)
    except AccessDenied as exc:
        flash(PAGE, "error", t("access.denied_township") if exc.code == "township" else t("access.denied", action=exc.code))
        return
    flash(PAGE, "success", t("model.sent", n=n, actor=me.display_name or me.actor))


def candidate_table(cand: pd.DataFrame, lang: str) -> pd.DataFrame:
    sep = "、" if lang == "zh" else "; "
    return pd.DataFrame(
        {
            "household_id": cand.index,
            "probability": (100 * cand["probability"]).round(1).to_numpy(),
            "factors": [sep.join(t(f"model.feature.{f}") for f in r if f) for r in cand[list(suggest.FACTOR_COLUMNS)].itertuples(index=False)],
            "risk_type": [lbl("risk", r) for r in cand["risk_type"]],
        }
    )


def candidates_section(ctx: Context, model: train.RiskModel) -> None:
    period, lang, engine, me = ctx.period, ctx.lang, ctx.data.engine, ctx.principal
    st.subheader(t("model.candidates", month=format_period(period, lang)))
    st.caption(t("model.candidates_caption"))
    try:
        with st.spinner(t("model.scoring")):
            scores = ctx.data.model_scores(model, period)
    except (KeyError, features.ModelError):
        st.info(t("model.no_month", month=format_period(period, lang)))
        return
    threshold = st.slider(t("model.threshold"), 0.05, 0.95, 0.3, 0.05, key="md_threshold")
    cand = suggest.candidates(scores, suggest.followed_households(engine), threshold)
    if cand.empty:
        st.info(t("model.no_candidates"))
        return
    shown = candidate_table(cand, lang)
    event = st.dataframe(
        shown, key="md_candidates", on_select="rerun", selection_mode="multi-row", hide_index=True, width="stretch",
        column_config={
            "household_id": st.column_config.TextColumn(t("model.col.household_id")),
            "probability": st.column_config.NumberColumn(t("model.col.probability"), format="%.1f%%"),
            "factors": st.column_config.TextColumn(t("model.col.factors")),
            "risk_type": st.column_config.TextColumn(t("model.col.risk_type")),
        },
    )
    download_table(ctx, shown, f"model_candidates_{period}", "md_candidates_dl")
    picked = event["selection"]["rows"] if event else []
    if not can(me, "model_to_clues"):
        st.caption(t("model.no_send_role"))
        return
    st.button(
        t("model.send", n=len(picked)), key="md_send", disabled=not picked,
        on_click=on_send, args=(engine, me, cand, period, int(model.meta["horizon"])),
    )


# --------------------------------------------------------------------------- the page
def main() -> None:
    ctx = page_context(PAGE)
    st.title(t("model.title"))
    show_flash(PAGE)
    model = ctx.data.model()
    horizon = model.meta["horizon"] if isinstance(model, train.RiskModel) else features.DEFAULT_HORIZON
    st.caption(t("model.intro", h=horizon))
    if retrain(ctx.data.engine, ctx.principal, horizon, expanded=model is None):
        model = ctx.data.model()
    if model is None:
        st.info(t("model.none"))
        return
    if isinstance(model, str):
        st.error(t("model.refused", msg=md(model)))
        return
    if persist.is_stale(model, ctx.data.engine):
        st.warning(t("model.stale"))
    meta_caption(model.meta, ctx.lang)
    evaluation_section(model)
    candidates_section(ctx, model)


main()
