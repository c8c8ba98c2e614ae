"""Where users click: each page's first view, rerun and main interactions, through AppTest, logged in.

    .venv/bin/python bench/pages.py                                  # the default demo county (20k x 36)
    .venv/bin/python bench/pages.py --households 100000 --months 13
    .venv/bin/python bench/pages.py --pages overview,map --repeats 7

Every page is opened by a benchmark user of the role that uses it (``bench_<role>``, added to the
benchmark database on first use through ``fanpin.access.users.add_user``): overview and map as a
leader, the simulator as an analyst, profile, clues, register and 我的待办 as a case worker (all
townships: the largest scope a case worker can have), import and 数据质量 as a data steward.  A
page's figures are reported only when the run really drew that page: its title (the h1, AppTest's
``at.title``) must be the page's own (``<page>.title`` of the locales, or its navigation name),
the run must raise nothing and must not show the login form; otherwise the page is REFUSED and
the reason printed instead of any time.

Measured per page, each in a fresh process (empty Streamlit caches; the columnar copy of every
month present, as an import or ``fanpin demo`` leaves it):

- login form: the first run of a new session (no one logged in);
- first view: the run that submits the login form and draws the page (one password check, the
  sidebar, the page) -- what a user waits for after 登录;
- first view, new session: the same for a second session of the same process (process caches
  warm: a second user on a running server);
- rerun: the page run again with nothing changed;
- interactions, each median of ``--repeats`` after one untimed round, interleaved round-robin
  (round i runs every interaction once) and always changing something: overview -- the township
  filter (a row of the ranking picked: what a click on it stores) and the sidebar month; map --
  a township chosen from the list, a township clicked on the map (the selection
  ``st.pydeck_chart(on_select="rerun")`` stores, which AppTest cannot click), the metric and the
  sidebar month; simulator -- the income line, one indicator weight, the tier cut-offs; profile
  -- a household searched by its ID.

Times are AppTest's wall time of ``run()``: the script's server time plus a few ms of AppTest's
polling plus compiling app.py and the page, which AppTest does on every run and a server once
(the ``compile`` column: subtract it for the server).  Before the pages the parent process
writes the columnar copy of every month (the import's work, timed: ``copy written``) and times
one cold month (``store.load_snapshot(..., use_cache=False)``: the SQL path, what a month without
a copy costs) against the same month from its copy.  Never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, cached_demo_db, print_environment, print_table

APP = str(ROOT / "app.py")
#: page -> the role that uses it (who the benchmark logs in as).
PAGE_ROLES = {
    "overview": "leader", "map": "leader", "simulator": "analyst", "todo": "case_worker", "profile": "case_worker",
    "clues": "case_worker", "register": "case_worker", "quality": "data_steward", "import": "data_steward",
}
#: page -> the locale key of its h1.
TITLES = {page: f"{page}.title" for page in PAGE_ROLES} | {"quality": "nav.quality", "import": "nav.import"}
#: The issue's targets (seconds of server time at 100k households).
TARGETS = {"first view": 2.0, "interaction": 1.0, "simulator": 0.3}
PASSWORD = "bench-pages-{role}-2024"


def user_of(role: str) -> str:
    return f"bench_{role}"


def ensure_users(url: str) -> None:
    """One benchmark user per role in the database at ``url`` (added once)."""
    from fanpin import store
    from fanpin.access import users
    from fanpin.access.roles import SYSTEM

    engine = store.make_engine(url)
    try:
        for role in sorted(set(PAGE_ROLES.values())):
            if users.get_user(engine, user_of(role)) is None:
                towns = sorted(users.township_codes(engine)) if role == "case_worker" else None
                users.add_user(engine, user_of(role), role, PASSWORD.format(role=role), townships=towns, principal=SYSTEM)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the child (one page)
def title_pattern(page: str) -> re.Pattern:
    """The page's h1 in Chinese, its placeholders ({place}, {month}) matching anything."""
    from fanpin.core.i18n import translate

    template = translate(TITLES[page], "zh")
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$")


class Refused(Exception):
    """The run did not draw the page it was meant to draw."""


def check_page(at, page: str, pattern: re.Pattern) -> None:
    if at.exception:
        raise Refused(f"exception: {str(at.exception[0].value)[:300]}", "\n".join(at.exception[0].stack_trace))
    if any(getattr(w, "key", None) == "login_user" for w in at.text_input):
        raise Refused("the login form is showing")
    if not at.title:
        raise Refused("no title drawn: " + " | ".join(str(e.value)[:120] for e in at.error))
    if not pattern.match(at.title[0].value):
        raise Refused(f"the title is {at.title[0].value!r}, not the {page} page's")


def compile_seconds(page: str) -> float:
    from streamlit.runtime.scriptrunner.magic import add_magic

    t0 = time.perf_counter()
    for path in (APP, str(ROOT / "pages" / f"{page}.py")):
        src = Path(path).read_text(encoding="utf-8")
        compile(add_magic(src, path), path, "exec")
    return time.perf_counter() - t0


def timed_run(at, page: str, pattern: re.Pattern) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU is the process's (every thread), the steadier figure on a loaded machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    at.run()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    check_page(at, page, pattern)
    return dt, dc


def open_page(page: str, pattern: re.Pattern):  # (AppTest, login form (wall, CPU), first view (wall, CPU))
    from streamlit.testing.v1 import AppTest

    role = PAGE_ROLES[page]
    at = AppTest.from_file(APP, default_timeout=900)
    at.switch_page(f"pages/{page}.py")
    t0, c0 = time.perf_counter(), time.process_time()
    at.run()  # a new session: the login form
    form = (time.perf_counter() - t0, time.process_time() - c0)
    if not any(getattr(w, "key", None) == "login_user" for w in at.text_input):
        raise Refused("no login form on a new session")
    at.text_input(key="login_user").input(user_of(role))
    at.text_input(key="login_password").input(PASSWORD.format(role=role))
    at.button(key="login_submit").click()
    first = timed_run(at, page, pattern)
    return at, form, first


def _codes() -> tuple[list[int], list[str], list[str]]:
    """(months, township codes in the regions' order, two household IDs of the last month) of the benchmark database."""
    from fanpin import store
    from fanpin.store.regions import load_regions

    engine = store.make_engine(os.environ["FANPIN_DB_URL"])
    try:
        months = store.periods(engine)
        regions = load_regions(engine)
        towns = regions.loc[regions["level"] == "township", "region_code"].tolist()
        ids = store.load_snapshot(engine, months[-1])["household_id"].astype(str).tolist()
    finally:
        engine.dispose()
    return months, towns, [ids[len(ids) // 3], ids[2 * len(ids) // 3]]


def interactions(page: str) -> dict:
    """name -> (change(at, i), check(at)): ``change`` sets a new value for round i (the next run is
    timed), ``check`` says what is wrong when the run did not show the change (None: it did)."""
    months, towns, households = _codes()
    out = {}
    want: dict[str, object] = {}

    def month(a, i):
        want["period"] = months[-2] if a.session_state["period"] == months[-1] else months[-1]
        a.selectbox(key="sb_period_zh").set_value(want["period"])

    def month_shown(a):
        return None if a.session_state["period"] == want["period"] else f"the month stayed {a.session_state['period']}"

    def township_shown(a):
        got = a.session_state["map_township"]
        return None if got == want["township"] and a.session_state["w_map_township_zh"] == got else f"the map shows township {got!r}, not {want['township']!r}"

    if page == "overview":

        def township_filter(a, i):
            want["row"] = 1 + i % 2
            a.session_state["ov_township_table"] = {"selection": {"rows": [want["row"]], "columns": []}}

        def filtered(a):
            return None if any("已筛选" in str(x.value) for x in a.info) else "the page is not filtered to a township"

        out["township filter (a ranking row)"] = (township_filter, filtered)
        out["sidebar month"] = (month, month_shown)
    elif page == "map":

        def pick_list(a, i):
            want["township"] = towns[1] if a.session_state["map_township"] == towns[0] else towns[0]
            a.selectbox(key="w_map_township_zh").set_value(want["township"])

        def pick_click(a, i):  # what st.pydeck_chart(on_select="rerun") stores for a click on a township
            want["township"] = towns[1] if a.session_state["map_township"] == towns[0] else towns[0]
            clicks = a.session_state["_map_clicks"]
            feature = {"type": "Feature", "properties": {"region_code": want["township"]}}
            a.session_state[f"map_deck_{clicks}"] = {"selection": {"indices": {"townships": [0]}, "objects": {"townships": [feature]}}}

        def metric(a, i):
            want["metric"] = "mean_score" if a.session_state["map_metric_zh"] != "mean_score" else "red_share"
            a.selectbox(key="map_metric_zh").set_value(want["metric"])

        def metric_shown(a):
            return None if a.session_state["map_metric_zh"] == want["metric"] else "the metric did not change"

        out["township from the list"] = (pick_list, township_shown)
        out["township clicked on the map"] = (pick_click, township_shown)
        out["metric"] = (metric, metric_shown)
        out["sidebar month"] = (month, month_shown)
    elif page == "simulator":

        def setter(kind: str, key: str, values: list):
            def change(a, i):
                want[key] = values[i % 2]
                getattr(a, kind)(key=key).set_value(want[key])

            def check(a):
                return None if getattr(a, kind)(key=key).value == want[key] else f"{key} did not change"

            return change, check

        out["income line"] = setter("number_input", "sim_income_line", [8100.0, 8300.0])
        out["indicator weight"] = setter("slider", "sim_w_medical_burden", [0.05, 0.06])
        out["tier cut-off"] = setter("slider", "sim_cutoffs", [(25.0, 40.0), (25.5, 40.0)])
    elif page == "profile":

        def household(a, i):
            want["household"] = households[i % 2]
            a.text_input(key="pf_search").input(want["household"])

        def shown(a):
            return None if a.query_params.get("household") in (want["household"], [want["household"]]) else "the household is not open"

        out["a household by its ID"] = (household, shown)
    return out


def child(page: str, repeats: int) -> dict:
    import logging

    for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.state.session_state_proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    pattern = title_pattern(page)
    res: dict = {"page": page, "role": PAGE_ROLES[page]}
    try:
        at, res["login form"], res["first view"] = open_page(page, pattern)
        res["title"] = at.title[0].value
        again = [open_page(page, pattern)[2] for _ in range(3)]
        res["first view, new session"] = [statistics.median(x[0] for x in again), statistics.median(x[1] for x in again)]
        changes = {"rerun": (lambda a, i: None, lambda a: None), **interactions(page)}
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in changes}
        for i in range(repeats + 1):  # round 0 untimed
            for name, (change, check) in changes.items():
                change(at, i)
                dt = timed_run(at, page, pattern)
                wrong = check(at)
                if wrong:
                    raise Refused(f"{name}: {wrong}")
                if i:
                    times[name].append(dt)
        res["interactions"] = {k: [statistics.median(x[0] for x in v), statistics.median(x[1] for x in v), min(x[0] for x in v)] for k, v in times.items()}
        if page == "map":
            res["map township shown"] = at.session_state["map_township"]
    except Refused as exc:
        res["refused"] = str(exc.args[0])
        res["trace"] = exc.args[1] if len(exc.args) > 1 else ""
    res["compile"] = compile_seconds(page)
    return res


# --------------------------------------------------------------------------- the parent
def copy_and_cold_month(url: str) -> list[list[str]]:
    """Write every month's columnar copy and the baseline's kept panel scores (an import's work
    since issue 18 item 9, where the checkout has ``prepare_views``), then time a cold month: the
    SQL path (``load_snapshot(..., use_cache=False)``: households and the month) and the month's SQL
    alone (the household file present), against the same month from its copy."""
    from fanpin import store
    from fanpin.store import columnar

    engine = store.make_engine(url)
    try:
        t0 = time.perf_counter()
        written = columnar.write_copies(engine)
        copies = time.perf_counter() - t0
        rows = [[f"columnar copy written ({written} months)", f"{copies:.2f}", f"{copies / max(written, 1):.2f} per month" if written else "already there"]]
        try:
            from fanpin.engine.panel_stream import prepare_views
        except ImportError:
            prepare_views = None
        if prepare_views is not None:
            t0 = time.perf_counter()
            prepare_views(engine)
            rows.append(["baseline panel scores kept (prepare_views)", f"{time.perf_counter() - t0:.2f}", "an import does this after its commit"])
        last = store.periods(engine)[-1]
        ids = columnar.household_table(engine)["household_id"]
        times: dict[str, list[tuple[float, float]]] = {"cold": [], "month": [], "warm": []}
        for _ in range(5):  # interleaved
            for name, fn in (
                ("cold", lambda: store.load_snapshot(engine, last, use_cache=False)),
                ("month", lambda: columnar.month_values(engine, last, use_cache=False, table_ids=ids)),
                ("warm", lambda: store.load_snapshot(engine, last)),
            ):
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                times[name].append((time.perf_counter() - t0, time.process_time() - c0))
        (cold, cold_cpu), (month, month_cpu), (warm, warm_cpu) = (
            (statistics.median(x[0] for x in times[k]), statistics.median(x[1] for x in times[k])) for k in ("cold", "month", "warm")
        )
        rows += [
            [f"cold month {last}: households + month from SQL, median of 5", f"{cold:.2f}", f"CPU {cold_cpu:.2f} s; target <= 1 s per 100k households"],
            [f"cold month {last}: the month from SQL alone, median of 5", f"{month:.2f}", f"CPU {month_cpu:.2f} s (the household file present)"],
            ["same month from its copy, median of 5", f"{warm:.3f}", f"CPU {warm_cpu:.3f} s; {cold / warm:.0f}x faster than cold"],
        ]
    finally:
        engine.dispose()
    return rows


def run_child(root: Path, page: str, repeats: int, env: dict) -> dict:
    """One page in a fresh process of the checkout at ``root`` (its own bench/pages.py and fanpin)."""
    out = subprocess.run([sys.executable, str(root / "bench" / "pages.py"), "--child", page, "--repeats", str(repeats)], env=env, cwd=root, capture_output=True, text=True)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"page": page, "role": PAGE_ROLES.get(page, "?"), "refused": "the child failed", "trace": out.stderr[-3000:]}


def figures(res: dict) -> dict[str, tuple[float, float]]:
    """name -> (wall, CPU) of a child's result (login form, first view, new session, rerun, interactions)."""
    out = {"login form": tuple(res["login form"]), "first view": tuple(res["first view"]), "first view, new session": tuple(res["first view, new session"])}
    out.update({k: (v[0], v[1]) for k, v in res["interactions"].items()})
    out["(AppTest compiling the scripts: in each run)"] = (res["compile"], res["compile"])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--pages", default=",".join(PAGE_ROLES))
    ap.add_argument("--against", type=Path, help="another checkout's root (the code before a change): each page runs there and here in turn")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        if os.environ.get("FANPIN_BENCH_DROP_SCORES"):  # the first view of a policy whose panel scores nobody kept
            for f in Path(os.environ["FANPIN_CACHE_DIR"]).rglob("scores_*.npz"):
                f.unlink()
        print(json.dumps(child(args.child, args.repeats)))
        return 0
    print_environment()
    db, _ = cached_demo_db(args.households, args.months)
    url = f"sqlite:///{db}"
    ensure_users(url)
    roots = {"after": ROOT} if args.against is None else {"before": args.against.resolve(), "after": ROOT}
    runs = [(page, False) for page in args.pages.split(",")]
    if "overview" in args.pages.split(","):
        runs.append(("overview", True))
    load: list[float] = []
    results: dict[tuple[str, bool], dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="fanpin-pages-") as cache:
        os.environ["FANPIN_CACHE_DIR"] = cache
        os.environ["FANPIN_DB_URL"] = url
        print(f"\n== {args.households:,} households x {args.months} months: {db}", flush=True)
        print_table(["columnar copy", "s", "note"], copy_and_cold_month(url))
        env = dict(os.environ, FANPIN_MODEL_DIR=str(Path(cache) / "models"))
        for page, drop in runs:
            for name, root in roots.items():  # interleaved: the same load for both checkouts
                load.append(os.getloadavg()[0])
                results.setdefault((page, drop), {})[name] = run_child(root, page, args.repeats, dict(env, FANPIN_BENCH_DROP_SCORES="1" if drop else ""))
            print(f"  {page}{' (panel scores not kept)' if drop else ''}: done (load average {os.getloadavg()[0]:.1f})", flush=True)
    names = list(roots)
    rows = []
    for (page, drop), by in results.items():
        role = next(iter(by.values()))["role"]
        rows.append([f"{page} ({role}){', panel scores not kept' if drop else ''}", *([""] * (2 * len(names) + (len(names) > 1)))])
        refused = {n: r for n, r in by.items() if "refused" in r}
        for n, r in refused.items():
            rows.append([f"  REFUSED ({n}): {r['refused'][:150]}", *([""] * (2 * len(names) + (len(names) > 1)))])
        if refused:
            continue
        figs = {n: figures(by[n]) for n in names}
        keys = list(figs[names[-1]])
        if drop:
            keys = ["first view"]
        for k in keys:
            cells = []
            for n in names:
                wall, cpu = figs[n].get(k, (float("nan"), float("nan")))
                cells += [f"{wall:.2f}", f"{cpu:.2f}"]
            if len(names) > 1:
                before, after = figs[names[0]].get(k, (float("nan"),) * 2)[1], figs[names[1]][k][1]
                cells.append(f"{after / before:.2f}x" if before > 0 else "n/a")
            rows.append([f"  {k}", *cells])
    headers = ["page (role) / run", *(f"{n} {w}" for n in names for w in ("s", "CPU s"))] + (["CPU after/before"] if len(names) > 1 else [])
    print()
    print_table(
        headers,
        rows,
        title=f"== pages on {args.households:,} households x {args.months} months: AppTest run() wall and CPU seconds, interactions medians of {args.repeats} "
        f"(load average {min(load):.1f}-{max(load):.1f} at the pages' starts)",
    )
    for (page, _), by in results.items():
        for n, r in by.items():
            if r.get("trace"):
                print(f"\n{page} ({n}) refused; the page's stack trace:\n{r['trace']}")
    print(
        f"targets at 100k (server time): first view <= {TARGETS['first view']:g} s, a map or filter interaction <= {TARGETS['interaction']:g} s, "
        f"a simulator change <= {TARGETS['simulator'] * 1e3:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
