"""模型评估 Risk model: the backtest (distinct fallers found at a monthly visit budget on held-out
windows, beside the rules, the logistic baseline and the ceiling), calibration, importance, and a
list a person may send to the clue inbox.

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
from fanpin.model import backtest, evaluate, features, persist, suggest, train
from fanpin.ui import jobs
from fanpin.ui.downloads import download_table
from fanpin.ui.i18n import lbl, t
from fanpin.ui.messages import flash, show_flash
from fanpin.ui.sidebar import Context, page_context
from fanpin.ui.text import md

PAGE = "model"
METHOD_COLOURS = {"model": "#c0392b", "logistic": "#e67e22", "trend_rule": "#27ae60", "index_tiers": "#7f8c8d", "income_line": "#2980b9", "ceiling": "#222222"}
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
        n_eval = c2.number_input(t("model.eval_months"), 1, 6, value=3, key="md_eval_months")
        st.button(t("model.train_button"), key="md_train", type="primary", on_click=_request, args=("md_train_requested",))
    run = jobs.runner()  # training runs in the background: the page stays usable
    if st.session_state.pop("md_train_requested", False):
        run.start(me.username, "train", "job.train", lambda report: train_and_save(engine, me, int(h), int(n_eval), report))
    job = run.get(me.username, "train")
    if job is None:
        return False
    jobs.show(job)  # under the expander: the first model closes it, which hid "training done"
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


# --------------------------------------------------------------------------- the backtest
def _interval(lo: float, hi: float, pct: bool = False) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "—"
    return f"{100 * lo:.0f}%–{100 * hi:.0f}%" if pct else f"{lo:.0f}–{hi:.0f}"


def budget_table(table: pd.DataFrame, k: float) -> pd.DataFrame:
    """Every method and the ceiling at budget ``k``, all windows together, as the page shows them."""
    s = backtest.summary(table, k)
    rows = []
    for m in (*backtest.METHODS, backtest.CEILING):
        r = s.loc[m]
        rows.append(
            {
                "method": t(f"model.method.{m}"),
                "found": int(r.found),
                "interval": "—" if m == backtest.CEILING else _interval(r.lo, r.hi),
                "ratio": round(float(r.ratio), 2),
                "gap": "—" if m == backtest.BASE or not np.isfinite(r.gap_closed) else f"{100 * float(r.gap_closed):.1f}%",
                "gap_interval": "—" if m in (backtest.BASE, backtest.CEILING) or not np.isfinite(r.gap_closed) else _interval(r.gap_lo, r.gap_hi, pct=True),
            }
        )
    return pd.DataFrame(rows)


def window_table(table: pd.DataFrame, k: float) -> pd.DataFrame:
    """Each window's finds by method at budget ``k`` (one row per window, then all together)."""
    sel = table[np.isclose(table["budget"], k)]
    wide = sel.pivot_table(index="window", columns="method", values="found", sort=False)
    gap = sel[sel["method"] == "model"].set_index("window")["gap_closed"]
    out = pd.DataFrame({t("model.bt.col.window"): [t("model.bt.all") if w == backtest.ALL else w for w in wide.index]})
    for m in (*backtest.METHODS, backtest.CEILING):
        out[t(f"model.method.{m}")] = wide[m].astype(int).to_numpy()
    out[t("model.bt.col.gap")] = ["—" if not np.isfinite(g) else f"{100 * g:.1f}%" for g in gap.reindex(wide.index)]
    return out


def found_figure(table: pd.DataFrame, k: float) -> go.Figure:
    """Households found at each budget (all windows together), the ceiling drawn dashed."""
    every = table[table["window"] == backtest.ALL]
    fig = go.Figure()
    for m in (*backtest.METHODS, backtest.CEILING):
        c = every[every["method"] == m].sort_values("budget")
        ceiling = m == backtest.CEILING
        err = None if ceiling else dict(type="data", symmetric=False, array=c["hi"] - c["found"], arrayminus=c["found"] - c["lo"], thickness=1)
        fig.add_trace(
            go.Scatter(
                x=100 * c["budget"], y=c["found"], mode="lines+markers", name=t(f"model.method.{m}"), error_y=err,
                line=dict(color=METHOD_COLOURS[m], width=3 if m == "model" else 2, dash="dash" if ceiling else "solid"),
            )
        )
    fig.add_vline(x=100 * k, line=dict(color="#999", dash="dot"))
    fig.update_layout(
        title=t("model.bt.chart"), height=380, **_LAYOUT, legend=dict(orientation="h", y=-0.25),
        xaxis=dict(title=t("model.bt.axis_budget"), type="log", tickvals=[100 * b for b in sorted(set(every["budget"]))], ticksuffix="%"),
        yaxis=dict(title=t("model.bt.axis_found"), rangemode="tozero"),
    )
    return fig


def backtest_section(model: train.RiskModel, lang: str) -> None:
    table, meta = model.backtest, model.meta
    st.subheader(t("model.bt.title"))
    st.caption(t("model.bt.windows", windows="; ".join(backtest.window_label(w, lang) for w in meta["windows"])))
    budgets = sorted(set(table["budget"]))
    k = st.radio(
        t("model.bt.budget"), budgets, index=budgets.index(0.02) if 0.02 in budgets else 0, format_func=lambda b: f"{b:.0%}",
        horizontal=True, key="md_budget", persist_state="session",
    )
    st.markdown(backtest.verdict_text(table, k, lang))
    st.dataframe(
        budget_table(table, k), hide_index=True, width="stretch", key="md_backtest",
        column_config={
            "method": st.column_config.TextColumn(t("model.col.method")),
            "found": st.column_config.NumberColumn(t("model.bt.col.found"), format="%d"),
            "interval": st.column_config.TextColumn(t("model.bt.col.interval")),
            "ratio": st.column_config.NumberColumn(t("model.bt.col.ratio"), format="%.2f"),
            "gap": st.column_config.TextColumn(t("model.bt.col.gap")),  # text: a blank reads "—", not a grey None
            "gap_interval": st.column_config.TextColumn(t("model.bt.col.gap_interval")),
        },
    )
    st.caption(t("model.bt.explain", h=meta["horizon"], draws=meta["draws"]) + " " + t("model.bt.gap_help"))
    left, right = st.columns([3, 2])
    left.plotly_chart(found_figure(table, k), width="stretch", key="md_found")
    right.markdown(t("model.bt.per_window", k=f"{k:.0%}"))
    right.dataframe(window_table(table, k), hide_index=True, width="stretch", key="md_windows")


def ranking_table(meta: dict) -> pd.DataFrame:
    """ROC AUC, PR AUC and (for the two that give a probability) the Brier score on held-out household-months."""
    r = meta["metrics"]
    return pd.DataFrame(
        {
            t("model.col.method"): [t(f"model.method.{m}") for m in backtest.METHODS],
            t("model.col.roc_auc"): [round(r[m]["roc_auc"], 3) for m in backtest.METHODS],
            t("model.col.pr_auc"): [round(r[m]["pr_auc"], 3) for m in backtest.METHODS],
            t("model.col.brier"): [f"{r[m]['brier']:.4f}" if "brier" in r[m] else "—" for m in backtest.METHODS],
        }
    )


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


def importance_figure(importance: pd.DataFrame) -> go.Figure:
    imp = importance.head(15).iloc[::-1]
    fig = go.Figure(go.Bar(x=imp["importance"], y=[t(f"model.feature.{f}") for f in imp["feature"]], orientation="h", error_x=dict(array=imp["std"]), marker_color="#8e44ad"))
    fig.update_layout(title=t("model.importance"), height=440, **_LAYOUT)
    return fig


def evaluation_section(model: train.RiskModel, lang: str) -> None:
    backtest_section(model, lang)
    st.subheader(t("model.bt.ranking"))
    st.dataframe(ranking_table(model.meta), hide_index=True, width="stretch", key="md_metrics")
    left, right = st.columns(2)
    left.plotly_chart(calibration_figure(model.evaluation), width="stretch", key="md_calibration")
    right.plotly_chart(importance_figure(model.importance), width="stretch", key="md_importance")


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
    evaluation_section(model, ctx.lang)
    candidates_section(ctx, model)


main()
