"""The model page: retraining from the UI, the backtest beside the rules and the ceiling, the budget choice, sending to clues."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.model import backtest, persist, suggest, train
from fanpin.store.schema import audit_log, clues
from tests.conftest import copy_sqlite

from .conftest import APP, finish_jobs, run_as


def open_page(page: str, lang: str = "zh", role: str = "analyst", **state: object) -> AppTest:
    """Switch before the first run, as tests/app/test_simulator.py does.

    An English AppTest cannot run twice (the sidebar's role labels are read back in
    Chinese outside a script run), so English checks set widget values up front.
    """
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = lang
    for k, v in state.items():
        at.session_state[k] = v
    at.switch_page(f"pages/{page}.py")
    run_as(at, role)
    return at


@pytest.fixture(scope="module")
def model_db(small_demo, tmp_path_factory):
    """A private copy of the small demo (this page writes clues) and a model trained on it."""
    src, _ = small_demo
    path = tmp_path_factory.mktemp("model_db") / "copy.db"
    engine = store.make_engine(copy_sqlite(src, path))
    model = train.train(engine, 3, principal=SYSTEM, eval_months=2, draws=40, importance_rows=1000)
    return engine, model


@pytest.fixture
def env(model_db, tmp_path, monkeypatch):
    engine, model = model_db
    monkeypatch.setenv("FANPIN_DB_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("FANPIN_MODEL_DIR", str(tmp_path / "models"))
    return engine, model


def _texts(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def _values(v: object) -> list[float]:
    """A plotly array as the chart's JSON holds it (a list, or base64 bytes with their dtype)."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def _candidates(at) -> list[str]:
    """The candidate list's household IDs (the one table with a household column), [] when none is shown."""
    tables = [d.value for d in at.dataframe if "household_id" in d.value.columns]
    return tables[0]["household_id"].tolist() if tables else []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_without_a_model_the_page_offers_training(env, lang: str) -> None:
    at = open_page("model", lang=lang, role="analyst")
    assert not at.exception, at.exception
    assert at.info[0].value == ("尚未训练模型。" if lang == "zh" else "No model has been trained yet.")
    assert at.button(key="md_train")


def test_leader_cannot_retrain(env) -> None:
    at = open_page("model", role="leader")
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == "md_train"]


def test_training_from_the_page_saves_a_model(env) -> None:
    engine, _ = env
    at = open_page("model", role="analyst")
    at.number_input(key="md_horizon").set_value(3)
    at.number_input(key="md_eval_months").set_value(3)
    at.button(key="md_train").click().run()
    assert not at.exception, at.exception
    assert any("风险模型训练正在后台进行" in p.proto.text for p in at.get("progress")) or not at.get("progress")
    finish_jobs(at)  # training runs in the background
    assert not at.exception, at.exception
    assert at.success, [e.value for e in at.error]
    assert "/" not in at.success[0].value and "风险模型训练已完成" in at.success[0].value  # done, in Chinese, no server path
    saved = persist.load_model(engine)
    assert saved.meta["horizon"] == 3 and [len(w["months"]) for w in saved.meta["windows"]] == [3]
    assert len(at.dataframe) >= 4  # the backtest, its windows, the ranking metrics and the candidate list


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_backtest_table_follows_the_budget(env, lang: str) -> None:
    engine, model = env
    persist.save_model(model)
    table = model.backtest
    names = {"zh": ["融合风险模型", "逻辑回归基线", "趋势规则", "加权指数分级", "仅收入线", "完美预测（上限）"],
             "en": ["Blended risk model", "Logistic baseline", "Trend rule", "Weighted-index tiers", "Income line only", "Perfect predictor (ceiling)"]}[lang]
    for k in (0.02, 0.10):
        at = open_page("model", lang=lang, role="analyst", md_budget=k)
        assert not at.exception, at.exception
        assert at.radio(key="md_budget").value == k
        shown = at.dataframe[0].value
        s = backtest.summary(table, k)
        assert shown["method"].tolist() == names
        assert shown["found"].tolist() == [int(s.loc[m, "found"]) for m in (*backtest.METHODS, "ceiling")]
        assert shown["ratio"].tolist() == pytest.approx([round(s.loc[m, "ratio"], 2) for m in (*backtest.METHODS, "ceiling")])
        assert backtest.verdict_text(table, k, lang) in _texts(at)
        # the chart draws every method and the ceiling (dashed) over the four budgets
        traces = {tr["name"]: tr for tr in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]}
        assert list(traces) == names
        assert traces[names[-1]]["line"]["dash"] == "dash"
        every = table[table["window"] == "all"].sort_values("budget")
        assert _values(traces[names[-1]]["y"]) == every[every["method"] == "ceiling"]["found"].tolist()
        assert _values(traces[names[0]]["y"]) == every[every["method"] == "model"]["found"].tolist()
        windows = at.dataframe[1].value
        assert windows.iloc[-1, 0] == ("全部窗口" if lang == "zh" else "All windows")
        assert windows.columns[0] == ("窗口" if lang == "zh" else "Window")  # was 'window' in either language


def test_a_person_sends_picked_households_to_the_clue_inbox(env) -> None:
    engine, model = env
    persist.save_model(model)
    period = store.periods(engine)[-1]
    scores = suggest.score_period(model, engine, period, principal=Principal("analyst", "analyst"))
    at = open_page("model", role="analyst")
    at.slider(key="md_threshold").set_value(0.05).run()
    assert not at.exception, at.exception
    cand = suggest.candidates(scores, suggest.followed_households(engine), 0.05)
    assert len(cand) >= 2
    assert _candidates(at) == cand.index.tolist()
    assert at.button(key="md_send").disabled  # nothing picked: nothing sent
    at.session_state["md_candidates"] = {"selection": {"rows": [0, 1], "columns": []}}
    at.run()
    at.button(key="md_send").click().run()
    assert not at.exception, at.exception
    assert at.success
    with engine.connect() as conn:
        rows = conn.execute(select(clues.c.household_id, clues.c.risk_type).where(clues.c.source == "model")).all()
        audit = conn.execute(select(audit_log.c.actor).where(audit_log.c.action == "model_to_clues")).all()
    assert {r[0] for r in rows} == set(cand.index[:2])
    assert audit[-1][0] == "analyst"
    at.run()  # the sent households leave the list
    left = _candidates(at)
    assert not set(cand.index[:2]) & set(left)
    assert len(left) == len(cand) - 2


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_profile_shows_the_model_suggestion_beside_the_rules(env, lang: str) -> None:
    from fanpin.core import fmt

    engine, model = env
    period = store.periods(engine)[-1]
    scores = suggest.score_period(model, engine, period, principal=Principal("analyst", "analyst"))
    hid = scores[~scores["below_line_now"]].sort_values("probability").index[-1]
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = lang
    at.query_params["household"] = hid
    at.switch_page("pages/profile.py")
    run_as(at, "analyst")
    assert not at.exception, at.exception
    assert not any("模型建议" in m.value or "Model suggests" in m.value for m in at.markdown)  # no model saved: nothing shown
    persist.save_model(model)
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = lang
    at.query_params["household"] = hid
    at.switch_page("pages/profile.py")
    run_as(at, "analyst")
    assert not at.exception, at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert ("模型建议" if lang == "zh" else "Model suggests") in text
    assert fmt.pct(float(scores.loc[hid, "probability"])) in text
