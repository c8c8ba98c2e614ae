"""The risk model: no look-ahead, metrics on hand-made cases, the backtest windows, save/load and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import AccessDenied, Principal
from fanpin.model import backtest, evaluate, features, persist, suggest
from fanpin.model import train as train_mod
from fanpin.store.schema import audit_log, clues
from tests.conftest import copy_sqlite

ANALYST = Principal("analyst", "analyst")


@pytest.fixture(scope="module")
def panel(small_demo):
    engine, _ = small_demo
    return features.load_panel(engine)


@pytest.fixture(scope="module")
def trained(small_demo, panel):
    engine, _ = small_demo
    steps = []
    model = train_mod.train(engine, 3, principal=ANALYST, eval_months=2, windows=3, draws=40, data=panel, importance_rows=1000, progress=lambda m, f: steps.append(f))
    return model, steps


# --------------------------------------------------------------------------- no look-ahead
def _perturbed_after(data: features.PanelData, t: int) -> features.PanelData:
    """A copy where every panel value, event and clue after month t is changed."""
    rng = np.random.default_rng(1)
    snaps = {}
    for p, f in data.snapshots.items():
        if p <= t:
            snaps[p] = f
            continue
        g = f.copy()
        for c in store.schema.PANEL_VALUE_COLUMNS:
            if g[c].dtype == bool:
                g[c] = ~g[c]
            else:
                g[c] = g[c].astype(np.float64) * rng.uniform(0.1, 3.0, len(g)) + 17.0
        g["income_pc_12m_ago"] = g["income_pc_12m_ago"] * 0.5
        snaps[p] = g
    ids = data.snapshots[t]["household_id"].to_numpy()
    late = data.periods[-1]
    extra_ev = pd.DataFrame({"household_id": ids, "period": late, "event_type": "illness"})
    extra_cl = pd.DataFrame({"household_id": ids, "period": late})
    ev = data.events.copy()
    ev.loc[ev["period"] > t, "event_type"] = "flood"
    return features.PanelData(snaps, pd.concat([ev, extra_ev], ignore_index=True), pd.concat([data.clues, extra_cl], ignore_index=True), dict(data.lines))
    # the income lines are kept: a line is a policy announced for its year, not an outcome, and
    # the features may read the stored line of the months ahead (``test_line_ahead_is_the_announced_line``)


def test_features_never_look_past_the_prediction_month(panel):
    for t in (panel.periods[3], panel.periods[8]):
        before = features.features_for(panel, t)
        after = features.features_for(_perturbed_after(panel, t), t)
        pd.testing.assert_frame_equal(before, after)
        # the label does look ahead: the same perturbation changes it
        y0, _ = features.labels_for(panel, t, 3)
        y1, _ = features.labels_for(_perturbed_after(panel, t), t, 3)
        assert (y0 != y1).any()


def test_line_ahead_is_the_announced_line(panel):
    """``line_ahead_ratio`` divides by the highest stored line of the next horizon months; with
    none stored ahead it is the month's own ratio."""
    t = panel.periods[-1]
    X = features.features_for(panel, t, horizon=3)
    np.testing.assert_allclose(X["line_ahead_ratio"].to_numpy(), X["inc_ratio"].to_numpy())
    announced = dict(panel.lines)
    announced[store.shift_period(t, 2)] = panel.lines[t] * 1.25
    ahead = features.features_for(features.PanelData(panel.snapshots, panel.events, panel.clues, announced), t, horizon=3)
    np.testing.assert_allclose(ahead["line_ahead_ratio"].to_numpy(), X["inc_ratio"].to_numpy() / 1.25)
    pd.testing.assert_series_equal(ahead["inc_ratio"], X["inc_ratio"])


def test_months_to_line_and_decline_months_by_hand(panel):
    t = panel.periods[-1]
    X = features.features_for(panel, t, horizon=3)
    inc = {k: panel.snapshots[store.shift_period(t, -k)].set_index("household_id")["income_pc"] for k in range(13)}
    line = panel.lines[t]  # no line announced past the panel: the line ahead is this month's
    for hid in X.index[:300]:
        d = [inc[k][hid] - inc[k + 1][hid] for k in range(12)]
        above = inc[0][hid] - line
        for name, pace in (("months_to_line", -d[0]), ("months_to_line_3m", -sum(d[:3]) / 3)):
            want = 0.0 if above <= 0 else (min(above / pace, 36.0) if pace > 0 else 36.0)
            assert X.loc[hid, name] == pytest.approx(want), (hid, name)
        streak = next((k for k in range(12) if not d[k] < 0), 12)
        assert X.loc[hid, "decline_months"] == streak
    assert (X["decline_months"] > 0).any() and (X["months_to_line"] < 36).any()


def test_features_change_when_the_prediction_month_changes(panel):
    t = panel.periods[8]
    data = _perturbed_after(panel, store.shift_period(t, -1))
    assert not features.features_for(data, t).equals(features.features_for(panel, t))


def test_feature_frame_shape_and_hidden_parameters(panel):
    t = panel.periods[6]
    X = features.features_for(panel, t)
    assert list(X.columns) == list(features.FEATURES)
    assert X.index.equals(pd.Index(panel.snapshots[t]["household_id"].astype(str)))
    assert set(features.FEATURE_RISK.values()) <= {"illness", "disability", "schooling", "disaster", "accident", "industry_failure", "unstable_work", "lack_of_labour", "housing", "water", "other"}
    f = panel.snapshots[t]
    line = panel.lines[t]
    np.testing.assert_allclose(X["inc_ratio"].to_numpy(), f["income_pc"].to_numpy() / line)
    three = panel.snapshots[store.shift_period(t, -3)]
    np.testing.assert_allclose(X["inc_chg_3m"].to_numpy(), (f["income_pc"].to_numpy() - three["income_pc"].to_numpy()) / line)
    assert not any("shock" in c or "severity" in c for c in X.columns)


def test_label_by_hand(panel):
    t = panel.periods[5]
    y, pop = features.labels_for(panel, t, 3)
    f = panel.snapshots[t]
    i = int(np.flatnonzero(pop)[0])
    hid = f["household_id"].iloc[i]
    later = [panel.snapshots[store.shift_period(t, h)].set_index("household_id").loc[hid, "income_pc"] < panel.lines[store.shift_period(t, h)] for h in (1, 2, 3)]
    assert bool(y[i]) == any(later)
    assert (f["income_pc"].to_numpy()[pop] >= panel.lines[t]).all()
    with pytest.raises(features.ModelError):
        features.labels_for(panel, panel.periods[-2], 3)


def test_time_split_keeps_label_windows_before_evaluation():
    ps = [202401 + i for i in range(12)] + [202501 + i for i in range(3)]  # 15 months
    train, ev = features.split_months(ps, 3, 3)
    # labelled: 3 months of history behind, 3 ahead -> 202404..202412
    assert ev == [202410, 202411, 202412]
    assert train == [202404, 202405, 202406]  # 202406 + 3 = 202409 < 202410
    assert all(store.shift_period(t, 3) < ev[0] for t in train)
    with pytest.raises(features.ModelError):
        features.split_months(ps[:6], 3)


# --------------------------------------------------------------------------- metrics
def test_brier_calibration_and_auc_by_hand():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.6, 0.4])
    assert evaluate.brier(y, p) == pytest.approx((0.01 + 0.04 + 0.16 + 0.16) / 4)
    cal = evaluate.calibration(y, p, bins=2)
    assert cal["households"].tolist() == [2, 2]
    assert cal["predicted"].tolist() == pytest.approx([0.3, 0.75])
    assert cal["observed"].tolist() == pytest.approx([0.0, 1.0])
    m = evaluate.ranking_metrics(y, p)
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0
    m = evaluate.ranking_metrics(np.array([1, 0, 0, 1]), np.array([0.9, 0.8, 0.1, 0.2]))
    assert m["roc_auc"] == pytest.approx(3 / 4)  # pairs (pos > neg): 0.9>0.8,0.9>0.1,0.2>0.1; 0.2<0.8
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)  # positives at ranks 1 and 3


# --------------------------------------------------------------------------- training
def test_training_backtests_on_windows_it_never_saw(trained, small_demo, panel):
    model, steps = trained
    engine, _ = small_demo
    meta = model.meta
    assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
    assert meta["horizon"] == 3 and meta["features"] == list(features.FEATURES)
    assert meta["schema_head"] == store.head_revision() and meta["data_version"] == store.data_version(engine)
    assert "scikit-learn" in meta["versions"] and meta["threads"] == 1 and meta["draws"] == 40
    # the saved model is fitted on every month whose label is complete
    assert meta["train_months"] == features.labelled_months(panel.periods, 3)
    # 15 months, horizon 3: labelled 2024-04..12; windows of 2 tiled back, each with >= 3 months of complete labels before it
    assert [w["months"] for w in meta["windows"]] == [[202409, 202410], [202411, 202412]]
    for w in meta["windows"]:
        assert len(w["train_months"]) >= 3 and all(store.shift_period(t, 3) <= w["months"][0] for t in w["train_months"])
    assert meta["windows"][-1]["tags"] == ["latest"]
    ev = model.evaluation
    assert set(ev["month"]) == set(meta["eval_months"]) == {202409, 202410, 202411, 202412}
    assert set(meta["metrics"]) == set(backtest.METHODS) and 0.5 < meta["metrics"]["model"]["roc_auc"] <= 1.0
    # the held-out rows are the households above the line and not monitored then, scored by the rules as the rules
    t = meta["eval_months"][0]
    snap = panel.snapshots[t]
    monitored = panel.monitored_at(t)
    assert 0 < monitored.sum() < 50  # the planted cases' monitoring records
    pop = (snap["income_pc"].to_numpy() >= panel.lines[t]) & ~monitored
    got = ev.loc[ev["month"] == t, "income_line"].to_numpy()
    np.testing.assert_allclose(got, -snap["income_pc"].to_numpy()[pop] / panel.lines[t], rtol=1e-6)
    y, _ = features.labels_for(panel, t, 3)
    np.testing.assert_array_equal(ev.loc[ev["month"] == t, "y"].to_numpy(), y[pop])
    trend = features.features_for(panel, t)["trend_rule"].to_numpy()[pop]
    np.testing.assert_allclose(ev.loc[ev["month"] == t, "trend_rule"].to_numpy(), -trend, rtol=1e-6)
    # the table: every window and all together, four budgets, the methods and the ceiling
    bt = model.backtest
    assert set(bt["window"]) == {"202409-202410", "202411-202412", "all"}
    assert sorted(set(bt["budget"])) == [0.01, 0.02, 0.05, 0.10]
    assert set(bt["method"]) == {*backtest.METHODS, "ceiling"}
    for (_, _), g in bt.groupby(["window", "budget"]):
        g = g.set_index("method")
        assert (g["found"] <= g.loc["ceiling", "found"]).all()
        assert g.loc["ceiling", "found"] <= g.loc["ceiling", "fallers"]
    # the fallers of a window are among the held-out rows' positives; the verdict is the 2% row of all windows
    w = ev[ev["window"] == "202411-202412"]
    two = bt[(bt["window"] == "202411-202412") & (bt["budget"] == 0.02)].set_index("method")
    assert 0 < two.loc["ceiling", "fallers"] <= int(w["y"].sum())
    every = bt[(bt["window"] == "all") & (bt["budget"] == 0.02)].set_index("method")
    assert meta["verdict"]["gap_closed"] == pytest.approx(every.loc["model", "gap_closed"], nan_ok=True)
    assert every.loc["model", "found"] == bt[(bt["window"] != "all") & (bt["budget"] == 0.02) & (bt["method"] == "model")]["found"].sum()
    assert list(model.importance.columns[:2]) == ["feature", "importance"] and len(model.importance) == len(features.FEATURES)
    assert set(meta["seconds"]) == {"loading", "features", "windows", "final model", "backtest table", "importance"}


def test_monitored_households_are_known_in_the_months_they_are_monitored(panel):
    t0, t1, t2 = panel.periods[4], panel.periods[5], panel.periods[7]
    a, b = panel.snapshots[t0]["household_id"].iloc[:2]
    history = pd.DataFrame({"household_id": [a, b, a], "period": [t0, t1, t2], "status": ["monitored", "monitored", "eliminated"]})
    data = features.PanelData(panel.snapshots, panel.events, panel.clues, panel.lines, history)
    ids = panel.snapshots[t0]["household_id"]
    on = lambda t: set(ids[data.monitored_at(t)])
    assert on(panel.periods[3]) == set() and on(t0) == {a} and on(t1) == {a, b} and on(t2) == {b}
    assert not features.PanelData(panel.snapshots, panel.events, panel.clues, panel.lines).monitored_at(t0).any()


def test_disaster_and_line_change_months_of_the_small_demo(panel):
    # floods in July, a drought in August; the feeds report a share of them in the month or the next
    assert {202407, 202408} <= train_mod.disaster_months(panel) <= {202407, 202408, 202409}
    assert backtest.line_change_months(panel.lines) == {202501}


def test_logistic_contributions_add_up_to_its_log_odds(trained, panel):
    model, _ = trained
    X = features.features_for(panel, panel.periods[-1])
    c = model.contributions(X)
    lr = model.logit.named_steps["lr"]
    logit = c.sum(axis=1) + lr.intercept_[0]
    p = model.logit.predict_proba(X.to_numpy(dtype=np.float64))[:, 1]
    from scipy.special import expit

    np.testing.assert_allclose(expit(logit), p, rtol=1e-6)
    f = model.main_factors(X)
    top = np.array(features.FEATURES)[np.argmax(c, axis=1)]
    has = c.max(axis=1) > 0
    assert (f["factor_1"].to_numpy()[has] == top[has]).all()
    assert (f["risk_type"].to_numpy()[has] == np.array([features.FEATURE_RISK[x] for x in top[has]])).all()


# --------------------------------------------------------------------------- persistence
def test_save_load_roundtrip_and_refusals(trained, panel, small_demo, tmp_path, monkeypatch):
    model, _ = trained
    engine, _ = small_demo
    monkeypatch.setenv("FANPIN_MODEL_DIR", str(tmp_path / "models"))
    with pytest.raises(features.ModelError, match="no trained model"):
        persist.load_model(engine)
    path = persist.save_model(model)
    assert path.parent == tmp_path / "models"
    assert json.loads((path.parent / "risk_model.json").read_text(encoding="utf-8"))["horizon"] == 3
    back = persist.load_model(engine)
    X = features.features_for(panel, panel.periods[-1])
    np.testing.assert_array_equal(back.probability(X), model.probability(X))
    assert not persist.is_stale(back, engine)
    pd.testing.assert_frame_equal(back.evaluation, model.evaluation)
    pd.testing.assert_frame_equal(back.backtest, model.backtest)
    # another database (its own identity) refuses it; a copy of the same file does not
    other = store.make_engine(f"sqlite:///{tmp_path / 'other.db'}", create=True)
    store.upgrade(other)
    with pytest.raises(features.ModelError, match="another database"):
        persist.load_model(other)
    from tests.conftest import copy_sqlite

    assert persist.load_model(store.make_engine(copy_sqlite(engine, tmp_path / "same.db"))).meta["database_id"] == store.database_id(engine)

    import joblib

    blob = joblib.load(path)
    blob["meta"] = {**blob["meta"], "features": list(features.FEATURES)[:-1]}
    joblib.dump(blob, path)
    with pytest.raises(features.ModelError, match="different feature list"):
        persist.load_model(engine)
    blob["meta"] = {**blob["meta"], "features": list(features.FEATURES), "schema_head": "0000_old"}
    joblib.dump(blob, path)
    with pytest.raises(features.ModelError, match="schema '0000_old'"):
        persist.load_model(engine)


# --------------------------------------------------------------------------- human in the loop
def test_candidates_and_sending_to_clues(trained, small_demo, tmp_path):
    model, _ = trained
    src, _ = small_demo
    engine = store.make_engine(copy_sqlite(src, tmp_path / "copy.db"))
    period = store.periods(engine)[-1]
    scores = suggest.score_period(model, engine, period, principal=ANALYST)
    assert len(scores) == len(store.load_snapshot(engine, period))
    cand = suggest.candidates(scores, set(), threshold=0.0, limit=5)
    assert len(cand) == 5 and cand["probability"].is_monotonic_decreasing and not cand["below_line_now"].any()
    assert suggest.candidates(scores, {cand.index[0]}, 0.0, 5).index[0] != cand.index[0]
    with engine.connect() as conn:
        n0 = len(conn.execute(select(clues.c.clue_id)).all())
    assert suggest.send_to_clues(engine, cand.head(2), period, 3, principal=ANALYST) == 2
    with engine.connect() as conn:
        rows = conn.execute(select(clues).where(clues.c.source == "model")).mappings().all()
        audit = conn.execute(select(audit_log).where(audit_log.c.action == "model_to_clues")).mappings().all()
        n1 = len(conn.execute(select(clues.c.clue_id)).all())
    assert n1 == n0 + 2
    assert {r["household_id"] for r in rows} == set(cand.index[:2])
    assert all(r["channel"] == "department" and r["status"] == "new" and r["period"] == period for r in rows)
    assert rows[0]["risk_type"] == cand["risk_type"].iloc[0] and f"{cand['probability'].iloc[0]:.0%}" in rows[0]["detail"]
    assert len(audit) == 1 and audit[0]["actor"] == "analyst"
    assert suggest.sent_households(engine) == set(cand.index[:2])
    # model clues are not fed back into the model's own features
    clue_counts = features.features_for(features.load_panel(engine), period)["clues_3m"]
    pd.testing.assert_series_equal(clue_counts, features.features_for(features.load_panel(src), period)["clues_3m"])


def test_fanpin_train_command(small_demo, tmp_path, capsys):
    from fanpin.cli.main import main

    engine, _ = small_demo
    url = engine.url.render_as_string(hide_password=False)
    assert main(["--db", url, "train", "--horizon", "3", "--eval-months", "2", "--out", str(tmp_path), "--lang", "en"]) == 0
    out = capsys.readouterr().out  # (the progress bar goes to the real stderr)
    saved = persist.load_model(engine, tmp_path)
    assert saved.meta["horizon"] == 3
    lines = out.splitlines()
    # the table: the four budgets, each with every method and the ceiling, the model's finds as saved
    for k in ("1%", "2%", "5%", "10%"):
        row = next(i for i, line in enumerate(lines) if line.startswith(k + " "))
        assert lines[row].split()[1:4] == ["Blended", "risk", "model"]
        s = backtest.summary(saved.backtest, float(k[:-1]) / 100)
        assert lines[row].split()[4] == f"{s.loc['model', 'found']:.0f}"
        names = [lines[row + j][8:40].strip() for j in range(6)]
        assert names == ["Blended risk model", "Logistic baseline", "Trend rule", "Weighted-index tiers", "Income line only", "Perfect predictor (ceiling)"]
        assert lines[row + 5].split("(ceiling)")[1].split()[0] == f"{s.loc['ceiling', 'found']:.0f}"
    assert "At a monthly budget of 2% the model finds" in out and "Held-out windows: 202409-202410" in out
    # Chinese by default, the same table
    from fanpin.cli.main import build_parser

    assert build_parser().parse_args(["train"]).lang == "zh"
    zh = backtest.text_report(saved.backtest, saved.meta["windows"], 3, saved.meta["draws"], "zh")
    assert "回测" in zh and "完美预测（上限）" in zh and "在每月 2% 的走访预算下，模型找到" in zh
    assert main(["--db", url, "train", "--horizon", "12", "--out", str(tmp_path / "x")]) == 2
    assert "不足以按 12 个月的预测期训练" in capsys.readouterr().err  # said in the command's language


# --------------------------------------------------------------------------- who may
def test_training_needs_the_model_train_right(small_demo, panel):
    engine, _ = small_demo
    for who in (Principal("boss", "leader"), Principal("cw", "case_worker", frozenset()), Principal("tr", "trainer"), Principal("ds", "data_steward"), None):
        with pytest.raises(AccessDenied):
            train_mod.train(engine, 3, principal=who, eval_months=3, data=panel)


def test_a_case_worker_gets_the_scores_of_their_townships_only(trained, small_demo):
    model, _ = trained
    engine, _ = small_demo
    period = store.periods(engine)[-1]
    snap = store.load_snapshot(engine, period)
    town = sorted(snap["township_code"].unique())[0]
    everyone = suggest.score_period(model, engine, period, principal=ANALYST)
    mine = suggest.score_period(model, engine, period, principal=Principal("cw", "case_worker", frozenset({town})))
    inside = set(snap.loc[snap["township_code"] == town, "household_id"].astype(str))
    assert set(mine.index) == inside and 0 < len(mine) < len(everyone)
    pd.testing.assert_frame_equal(mine, everyone[everyone.index.isin(inside)])  # scoping changes no one's score
    with pytest.raises(AccessDenied):
        suggest.score_period(model, engine, period, principal=None)


# --------------------------------------------------------------------------- choosing the learner
def test_inner_blocks_by_hand():
    lab = [202401 + i for i in range(12)]  # 202401..202412
    # horizon 3: the months whose label is complete at 202412 are 202401..202409
    tm = backtest.training_months(lab, 202412, 3)
    assert tm == lab[:9]
    # blocks of 3 tiled back from the latest; 202407 has 4 months complete at its start (t + 3 <= 202407), 202404 one
    assert train_mod.inner_blocks(tm, lab, 3, 3, count=2, min_train=1) == [(202407, 202408, 202409), (202404, 202405, 202406)]
    assert train_mod.inner_blocks(tm, lab, 3, 3, count=5, min_train=1) == [(202407, 202408, 202409), (202404, 202405, 202406)]  # 202401: none before it
    assert train_mod.inner_blocks(tm, lab, 3, 3, count=5, min_train=2) == [(202407, 202408, 202409)]
    assert train_mod.inner_blocks(tm, lab, 3, 3, count=1, min_train=5) == []


def test_the_default_model_is_the_blend_of_the_trees_and_the_logistic(trained, panel):
    from scipy.special import expit, logit

    model, _ = trained
    meta = model.meta
    assert train_mod.LEARNER == "blend" and meta["learner"]["name"] == "blend" and meta["learner"]["kind"] == "Blend"
    assert meta["learner"]["log_odds_weights"] == {"hgb": 0.5, "logistic": 0.5} and meta["learner"]["chosen_by"] == "fixed"
    assert all(w["learner"]["learner"] == "blend" and not w["learner"]["blocks"] for w in meta["windows"])
    # the saved model's probability is the average of its parts' log-odds; the logistic part is the baseline giving the reasons
    trees, logistic = model.hgb.parts
    assert logistic is model.logit and type(trees).__name__ == "HistGradientBoostingClassifier"
    X = features.features_for(panel, panel.periods[-4], 3)
    p_trees, p_log = train_mod.proba(trees, train_mod._matrix(X)), train_mod.proba(logistic, train_mod._matrix(X))
    np.testing.assert_allclose(model.probability(X), expit(0.5 * logit(p_trees) + 0.5 * logit(p_log)), rtol=1e-6, atol=1e-12)
    # in the windows the model's scores are not the logistic baseline's
    assert not np.allclose(model.evaluation["model"].to_numpy(), model.evaluation["logistic"].to_numpy())


@pytest.fixture(scope="module")
def trained_auto(small_demo, panel):
    engine, _ = small_demo
    return train_mod.train(engine, 3, principal=ANALYST, eval_months=2, windows=3, draws=10, data=panel, importance_rows=500, learner=train_mod.AUTO)


def test_the_learner_is_chosen_on_months_before_the_window(trained_auto, panel):
    model = trained_auto
    meta, h = model.meta, 3
    lab = features.labelled_months(panel.periods, h)
    for w in meta["windows"]:
        c = w["learner"]
        assert c["learner"] in train_mod.CANDIDATES
        # every block's month has its label complete when the window starts, and so has every month its fit read
        for block in c["blocks"]:
            assert all(store.shift_period(t, h) <= w["months"][0] for t in block)
            assert all(store.shift_period(t, h) <= block[0] for t in backtest.training_months(lab, block[0], h))
        if not c["blocks"]:
            assert c["learner"] == train_mod.CANDIDATES[0]
    # the saved model: chosen on the latest label-complete blocks, the candidate finding most (ties to the first)
    final = meta["learner"]["choice"]
    assert final["blocks"] and final["blocks"][0] == lab[-2:]
    best = max(train_mod.CANDIDATES, key=lambda n: (final["finds"][n], -train_mod.CANDIDATES.index(n)))
    assert meta["learner"]["name"] == final["learner"] == best
    kind = type(model.hgb).__name__
    assert kind == ("HistGradientBoostingClassifier" if best == "hgb" else "Pipeline")
    # in each window the model's scores are the chosen learner's: the logistic baseline's when it was chosen
    ev = model.evaluation
    for w in meta["windows"]:
        rows = ev[ev["window"] == f"{w['months'][0]}-{w['months'][-1]}"]
        same = np.allclose(rows["model"].to_numpy(), rows["logistic"].to_numpy())
        assert same == (w["learner"]["learner"] == "logistic")
