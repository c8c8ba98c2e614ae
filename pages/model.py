"""模型评估 Risk model: held-out metrics against the two rules, calibration, budget curve, importance, and a list a person may send to the clue inbox."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fanpin.access.roles import can
from fanpin.core import fmt
from fanpin.core.periods import format_period
from fanpin.model import evaluate, features, persist, suggest, train
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, t
from fanpin.ui.sidebar import page_context

ctx = page_context("model")
data, period, lang, role, me = ctx.data, ctx.period, ctx.lang, ctx.role, ctx.principal
engine = data.engine
METHOD_COLOURS = {"model": "#c0392b", "logistic": "#e67e22", "income_line": "#2980b9", "index_tiers": "#7f8c8d"}


def _request(flag: str) -> None:
    """Buttons set a flag in a callback: the flag survives the run that follows the click."""
    st.session_state[flag] = True


st.title(t("model.title"))
model = data.model()
horizon = model.meta["horizon"] if isinstance(model, train.RiskModel) else features.DEFAULT_HORIZON
st.caption(t("model.intro", h=horizon))

# ---- retraining (analysts and administrators)
if can(me, "model_train"):
    with st.expander(t("model.retrain"), expanded=model is None):
        st.caption(t("model.retrain_help"))
        c1, c2 = st.columns(2)
        h = c1.number_input(t("model.horizon"), 1, 12, value=int(horizon), key="md_horizon")
        n_eval = c2.number_input(t("model.eval_months"), 1, 12, value=6, key="md_eval_months")
        st.button(t("model.train_button"), key="md_train", type="primary", on_click=_request, args=("md_train_requested",))
        if st.session_state.pop("md_train_requested", False):
            bar = st.progress(0.0, text=t("model.training", step=""))
            try:
                fitted = train.train(engine, int(h), eval_months=int(n_eval), progress=lambda step, f: bar.progress(min(f, 1.0), text=t("model.training", step=step)))
                path = persist.save_model(fitted)
                st.success(t("model.trained", path=path))
                model = data.model()
            except features.ModelError as exc:
                st.error(t("model.train_failed", msg=exc))

if model is None:
    st.info(t("model.none"))
    st.stop()
if isinstance(model, str):
    st.error(t("model.refused", msg=model))
    st.stop()

meta = model.meta
if persist.is_stale(model, engine):
    st.warning(t("model.stale"))
months = lambda ms: f"{format_period(ms[0], lang)}–{format_period(ms[-1], lang)}"
st.caption(
    t(
        "model.meta",
        at=meta["trained_at"].replace("T", " "),
        train=months(meta["train_months"]),
        eval=months(meta["eval_months"]),
        h=meta["horizon"],
        n_train=fmt.count(meta["rows_train"], lang),
        n_eval=fmt.count(meta["rows_eval"], lang),
        rate=fmt.pct(meta["positive_rate_eval"], 2),
    )
)

# ---- metrics at a visit budget, side by side with the two rules
st.subheader(t("model.metrics_title"))
k_pct = st.slider(t("model.budget"), 1, 30, 2, key="md_budget", help=t("model.budget_help"), persist_state="session")
k = k_pct / 100
ev = model.evaluation
y, groups = ev["y"].to_numpy(), ev["month"].to_numpy()
rows = []
for m in evaluate.METHODS:
    s = ev[m].to_numpy()
    rk = evaluate.ranking_metrics(y, s)
    prec, rec = evaluate.precision_recall_at(y, s, k, groups)
    rows.append(
        {
            "method": t(f"model.method.{m}"),
            "roc_auc": round(rk["roc_auc"], 3),
            "pr_auc": round(rk["pr_auc"], 3),
            "brier": f"{evaluate.brier(y, s):.4f}" if m in ("model", "logistic") else "—",
            "precision": round(100 * prec, 1),
            "recall": round(100 * rec, 1),
        }
    )
table = pd.DataFrame(rows)
by = {m: r for m, r in zip(evaluate.METHODS, rows)}
st.markdown(
    t(
        "model.summary",
        k=f"{k_pct}%",
        rm=f"{by['model']['recall']:.1f}%",
        pm=f"{by['model']['precision']:.1f}%",
        ri=f"{by['income_line']['recall']:.1f}%",
        pi=f"{by['income_line']['precision']:.1f}%",
        rt=f"{by['index_tiers']['recall']:.1f}%",
        pt=f"{by['index_tiers']['precision']:.1f}%",
    )
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    key="md_metrics",
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

left, right = st.columns(2)
cal = evaluate.calibration(y, ev["model"].to_numpy())
fig = go.Figure()
fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#bbb", dash="dash"), name=t("model.perfect")))
fig.add_trace(go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", line=dict(color=METHOD_COLOURS["model"]), name=t("model.method.model"), text=cal["households"], hovertemplate="%{x:.2f} → %{y:.2f} (n=%{text})"))
fig.update_layout(title=t("model.calibration"), height=360, margin=dict(l=10, r=10, t=40, b=10), xaxis=dict(title=t("model.predicted"), range=[0, 1]), yaxis=dict(title=t("model.observed"), range=[0, 1]), legend=dict(orientation="h", y=-0.25))
left.plotly_chart(fig, width="stretch", key="md_calibration")

ks = np.arange(1, 31) / 100
curve = model.budget(ks)
fig = go.Figure()
for m in evaluate.METHODS:
    c = curve[curve["method"] == m]
    fig.add_trace(go.Scatter(x=100 * c["k"], y=100 * c["recall"], mode="lines", name=t(f"model.method.{m}"), line=dict(color=METHOD_COLOURS[m], width=2)))
fig.add_vline(x=k_pct, line=dict(color="#333", dash="dot"))
fig.update_layout(title=t("model.budget_curve"), height=360, margin=dict(l=10, r=10, t=40, b=10), xaxis=dict(title=t("model.budget_axis")), yaxis=dict(title=t("model.recall_axis"), range=[0, 101]), legend=dict(orientation="h", y=-0.25))
right.plotly_chart(fig, width="stretch", key="md_budget_curve")

imp = model.importance.head(15).iloc[::-1]
fig = go.Figure(go.Bar(x=imp["importance"], y=[t(f"model.feature.{f}") for f in imp["feature"]], orientation="h", error_x=dict(array=imp["std"]), marker_color="#8e44ad"))
fig.update_layout(title=t("model.importance"), height=440, margin=dict(l=10, r=10, t=40, b=10))
st.plotly_chart(fig, width="stretch", key="md_importance")

# ---- the list a person may send to the clue inbox
st.subheader(t("model.candidates", month=format_period(period, lang)))
st.caption(t("model.candidates_caption"))
try:
    with st.spinner(t("model.scoring")):
        scores = data.model_scores(model, period)
except (KeyError, features.ModelError):
    st.info(t("model.no_month", month=format_period(period, lang)))
    st.stop()
threshold = st.slider(t("model.threshold"), 0.05, 0.95, 0.3, 0.05, key="md_threshold")
cand = suggest.candidates(scores, suggest.monitored_households(engine) | suggest.sent_households(engine), threshold)
if cand.empty:
    st.info(t("model.no_candidates"))
    st.stop()
shown = pd.DataFrame(
    {
        "household_id": cand.index,
        "probability": (100 * cand["probability"]).round(1).to_numpy(),
        "factors": [("、" if lang == "zh" else "; ").join(t(f"model.feature.{f}") for f in r if f) for r in cand[["factor_1", "factor_2", "factor_3"]].itertuples(index=False)],
        "risk_type": [lbl("risk", r) for r in cand["risk_type"]],
    }
)
event = st.dataframe(
    shown,
    key="md_candidates",
    on_select="rerun",
    selection_mode="multi-row",
    hide_index=True,
    width="stretch",
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
else:
    st.button(t("model.send", n=len(picked)), key="md_send", disabled=not picked, on_click=_request, args=("md_send_requested",))
if st.session_state.pop("md_send_requested", False) and picked and can(me, "model_to_clues"):
    n = suggest.send_to_clues(engine, cand.iloc[sorted(picked)], period, ctx.actor, int(meta["horizon"]), principal=me)
    st.success(t("model.sent", n=n, actor=lbl("role", ctx.actor)))
