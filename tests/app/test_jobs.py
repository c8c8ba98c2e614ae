"""Issue 18 item 8: long jobs run in the background with progress in the user's language; the
page stays usable; one job per click, however many clicks; a failure is said, not raised."""

from __future__ import annotations

import threading
import time

import pytest

from fanpin.ui import brief as brief_ui
from fanpin.ui import jobs

from .conftest import finish_jobs, open_page


def test_runner_keeps_one_job_per_name_and_runs_a_users_jobs_in_turn() -> None:
    run = jobs.Runner(max_running=2)
    gate = threading.Event()
    order: list[str] = []

    def slow(report: jobs.Report) -> str:
        report("loading", 0.5)
        gate.wait(10)
        order.append("a")
        return "A"

    a = run.start("u", "a", "job.train", slow)
    assert run.start("u", "a", "job.train", lambda r: "other") is a  # a second click: the same job
    b = run.start("u", "b", "job.brief", lambda r: order.append("b") or "B")
    time.sleep(0.2)
    assert a.running and b.running and a.step == "loading" and a.fraction == 0.5
    gate.set()
    b.future.result(10)
    assert order == ["a", "b"] and a.result == "A" and b.result == "B" and not a.failed
    bad = run.start("v", "x", "job.train", lambda r: 1 / 0)
    bad.future.result(10)
    assert bad.failed and "division" in bad.error
    run.forget("v", "x")
    assert run.get("v", "x") is None


def test_the_overview_stays_usable_while_the_brief_is_made(app_db, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    real = brief_ui._make

    def held(inputs: dict, report: jobs.Report) -> dict:
        report("figures", 0.3)
        gate.wait(60)
        return real(inputs, report)

    monkeypatch.setattr(brief_ui, "_make", held)
    at = open_page("overview", role="leader")
    at.button(key="ov_brief").click().run()
    assert not at.exception, at.exception
    running = [j for j in jobs.runner().jobs.values() if j.running]
    assert len(running) == 1
    deadline = time.time() + 30
    while running[0].step != "figures" and time.time() < deadline:  # the worker thread's first report
        time.sleep(0.05)
    at.run()
    bars = [p.proto.text for p in at.get("progress")]
    assert any("月度简报正在后台进行" in b and "计算简报数字" in b for b in bars), bars
    assert at.metric, "the page's figures are drawn while the brief is made"
    at.radio(key="lang").set_value("en").run()  # the page goes on: another language
    assert any("Monthly brief running in the background" in p.proto.text for p in at.get("progress"))
    assert len([j for j in jobs.runner().jobs.values() if j.running]) == 1
    gate.set()
    finish_jobs(at)
    assert not at.exception, at.exception
    assert at.button(key="ov_brief")  # the brief was made in Chinese: English has its own button
    at.radio(key="lang").set_value("zh").run()
    labels = [d.proto.label for d in at.get("download_button")]
    assert "下载月报 (Word)" in labels, labels


def test_a_failed_job_is_said_in_the_readers_language_without_server_details(small_demo) -> None:
    """A training refused for too short a panel (the small demo at the default 6-month horizon) reads
    in Chinese, or English after a switch; an unexpected error names its kind only, no path."""
    import streamlit as st

    from fanpin.access.roles import SYSTEM
    from fanpin.model import features, train

    engine, spec = small_demo
    with pytest.raises(features.ModelError) as refused:
        train.train(engine, 6, principal=SYSTEM)
    assert refused.value.code == "no_window"
    zh = jobs.failure_text(refused.value)
    assert f"月度数据只有 {spec.months} 个月" in zh and "6 个月的预测期" in zh and "panel" not in zh
    st.session_state["lang"] = "en"
    try:
        assert jobs.failure_text(refused.value).startswith(f"The panel holds {spec.months} months")
    finally:
        del st.session_state["lang"]
    lost = jobs.failure_text(FileNotFoundError(2, "No such file", "/srv/fanpin/secret/model.joblib"))
    assert "FileNotFoundError" in lost and "/srv" not in lost and "服务器日志" in lost
    import pickle

    again = pickle.loads(pickle.dumps(refused.value))  # kept across processes (Dask, a cache) with its code
    assert again.code == "no_window" and again.params == refused.value.params
