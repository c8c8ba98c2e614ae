"""The simulator page's server time, driven through Streamlit's AppTest.

    .venv/bin/python bench/simulator.py               # 20k and 100k households x 13 months
    .venv/bin/python bench/simulator.py --repeats 15

For each demo database it reports, in milliseconds:

- first view (cold): the first run of the page in a fresh process-wide cache (snapshot load,
  scorer build, baseline run, GeoJSON),
- first view (new session): a new session's first run with the process caches warm (new
  ``Scorer``, baseline copy),
- rerun after changing a control: the income line, one indicator weight (slider with its
  dimension callback), a dimension weight, the tier cut-offs, the weights mode (entropy, cached
  after its first use); the click on "compute sensitivity" (two runs per weighted indicator) and
  a rerun that redraws its chart (the result is kept until the controls move),

each the median of ``--repeats`` runs (values alternate so that every run really changes the
policy).  The time is AppTest's wall time of ``run()``: the script's server time plus AppTest's
polling (a few ms) plus compiling app.py and the page, which AppTest does on every run and the
server only once per file change (shown in the second table: subtract it for the server).  A table of the hot path's parts (``Scorer.run``, ``compare``, the pickle round
trip ``st.cache_data`` makes of a month's snapshot on every call) helps to read it.

The page runs logged in as an analyst (``bench_analyst``, added to each benchmark database on
first use): the first view is the run that submits the login form, so it includes one password
check (its time is in the parts table).

Databases are built once through the CLI under /tmp/fanpin-bench/ (``FANPIN_BENCH_DIR``); the
page's Parquet snapshot cache goes to a temporary directory.  Never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, cached_demo_db, ms, print_environment, print_table

APP = str(ROOT / "app.py")
TARGETS = {20_000: 0.3, 100_000: 1.0}  # the rerun budget (seconds of server time)
BENCH_USER = "bench_analyst"
BENCH_PASSWORD = "bench-analyst-simulator-2024"


def ensure_analyst(url: str) -> None:
    """The benchmark's analyst account in the database at ``url`` (the pages need a logged-in user)."""
    from fanpin import store
    from fanpin.access import users
    from fanpin.access.roles import SYSTEM

    engine = store.make_engine(url)
    try:
        if users.get_user(engine, BENCH_USER) is None:
            users.add_user(engine, BENCH_USER, "analyst", BENCH_PASSWORD, principal=SYSTEM)
    finally:
        engine.dispose()


def _quiet() -> None:
    import logging

    for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.state.session_state_proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _open():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=600)
    at.switch_page("pages/simulator.py")
    at.run()  # the login form
    at.text_input(key="login_user").input(BENCH_USER)
    at.text_input(key="login_password").input(BENCH_PASSWORD)
    at.button(key="login_submit").click()
    t0 = time.perf_counter()
    at.run()  # logs in and draws the page
    first = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(at.exception)
    if not any(w.key == "sim_income_line" for w in at.number_input):
        raise RuntimeError("the simulator did not open: " + " ".join(e.value for e in at.error))
    if "2024" in at.title[0].value:  # AppTest may report the month selectbox's first option on a first run
        at.run()
    return at, first


def _timed(at, change, repeats: int) -> float:
    times = []
    for i in range(repeats + 1):
        change(at, i)
        t0 = time.perf_counter()
        at.run()
        dt = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(at.exception)
        if i:  # the first is a warm-up
            times.append(dt)
    return statistics.median(times)


def page_times(url: str, repeats: int) -> list[tuple[str, float]]:
    os.environ["FANPIN_DB_URL"] = url
    ensure_analyst(url)
    at, cold = _open()
    rows = [("first view (cold caches)", cold)]
    firsts = []
    for _ in range(max(3, repeats // 3)):
        _, first = _open()
        firsts.append(first)
    rows.append(("first view (new session)", statistics.median(firsts)))
    line = at.number_input(key="sim_income_line").value

    def income(a, i):
        a.number_input(key="sim_income_line").set_value(line + 100 * (1 + i % 2))

    def weight(a, i):
        a.slider(key="sim_w_medical_burden").set_value(0.05 + 0.01 * (i % 2))

    def dimension(a, i):
        a.slider(key="sim_d_housing").set_value(0.08 + 0.01 * (i % 2))

    def cutoff(a, i):
        a.slider(key="sim_cutoffs").set_value((25.0 + 0.5 * (i % 2), 40.0))

    def entropy(a, i):
        a.radio(key="sim_mode").set_value("entropy" if i % 2 == 0 else "hand")

    def sens(a, i):
        a.radio(key="sim_mode").set_value("hand")
        a.number_input(key="sim_income_line").set_value(line + 100 * (1 + i % 2))
        a.run()  # the policy changes, then the button computes the sensitivity for it
        a.button(key="sim_sens_run").click()

    def sens_tier(a, i):
        a.segmented_control(key="sim_sens_tier").set_value("yellow" if i % 2 == 0 else "red")

    rows.append(("rerun: income line", _timed(at, income, repeats)))
    rows.append(("rerun: indicator weight", _timed(at, weight, repeats)))
    rows.append(("rerun: dimension weight", _timed(at, dimension, repeats)))
    rows.append(("rerun: tier cut-off", _timed(at, cutoff, repeats)))
    rows.append(("rerun: mode hand <-> entropy", _timed(at, entropy, repeats)))
    rows.append(("click: compute sensitivity", _timed(at, sens, max(3, repeats // 3))))
    rows.append(("rerun: sensitivity chart red <-> yellow", _timed(at, sens_tier, repeats)))
    return rows


def compile_time() -> float:
    """What AppTest adds to every run: it compiles app.py and the page afresh (a new ScriptCache per
    run), which the server does once per file change."""
    from streamlit.runtime.scriptrunner.magic import add_magic

    t0 = time.perf_counter()
    for path in (APP, str(ROOT / "pages" / "simulator.py")):
        src = Path(path).read_text(encoding="utf-8")
        compile(add_magic(src, path), path, "exec")
    return time.perf_counter() - t0


def part_times(url: str, repeats: int) -> list[tuple[str, float]]:
    from fanpin import store
    from fanpin.access import users
    from fanpin.engine.policies import baseline_policy
    from fanpin.engine.scenario import compare, sensitivity
    from fanpin.engine.scoring import Scorer

    engine = store.make_engine(url)
    period = store.periods(engine)[-1]
    frame = store.load_snapshot(engine, period)
    scorer = Scorer.from_frame(frame)
    policy, _ = baseline_policy(engine, period).normalised()
    base = scorer.run(policy).copy()
    pw_hash = users.hash_password(BENCH_PASSWORD)

    def med(fn) -> float:
        fn(-1)
        out = []
        for i in range(repeats):
            t0 = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - t0)
        return statistics.median(out)

    rows = [
        ("Scorer.run, weight change", med(lambda i: scorer.run(replace(policy, weights={**policy.weights, "debt_ratio": 0.04 + 0.01 * (i % 2)})))),
        ("Scorer.run, income-line change", med(lambda i: scorer.run(replace(policy, income_line=policy.income_line + 100 * (1 + i % 2))))),
        ("compare(base, scenario)", med(lambda i: compare(base, scorer.run(replace(policy, cutoffs=(24.0, 40.0)))))),
        ("sensitivity (all weights +-20%)", med(lambda i: sensitivity(scorer, policy, 0.2))),
        ("pickle round trip of the snapshot", med(lambda i: pickle.loads(pickle.dumps(frame)))),
        ("login: one password check", med(lambda i: users.verify_password(pw_hash, BENCH_PASSWORD))),
        ("AppTest only: compiling app.py + page", med(lambda i: compile_time())),
    ]
    engine.dispose()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--sizes", type=int, nargs="*", default=[20_000, 100_000])
    args = ap.parse_args()
    _quiet()
    os.environ["FANPIN_CACHE_DIR"] = tempfile.mkdtemp(prefix="fanpin-sim-cache-")
    print_environment()
    results: dict[int, dict[str, float]] = {}
    parts: dict[int, dict[str, float]] = {}
    for n in args.sizes:
        path, _ = cached_demo_db(n, 13)
        url = f"sqlite:///{path}"
        print(f"\n{n:,} households: {path}", flush=True)
        results[n] = dict(page_times(url, args.repeats))
        parts[n] = dict(part_times(url, max(5, args.repeats)))
    sizes = list(results)
    print()
    print_table(
        ["page run (AppTest wall time, ms)", *(f"{n:,} hh" for n in sizes)],
        [[k, *(ms(results[n][k]) for n in sizes)] for k in results[sizes[0]]],
        title="Simulator page: median server time",
    )
    print("budget for a rerun: " + ", ".join(f"{n:,} hh {TARGETS.get(n, float('nan')) * 1e3:.0f} ms" for n in sizes if n in TARGETS))
    print()
    print_table(
        ["hot-path part (ms)", *(f"{n:,} hh" for n in sizes)],
        [[k, *(ms(parts[n][k]) for n in sizes)] for k in parts[sizes[0]]],
        title="Parts (outside Streamlit)",
    )


if __name__ == "__main__":
    main()
