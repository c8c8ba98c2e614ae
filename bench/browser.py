"""Where users click, end to end in Chromium: what a user waits for, from the click to a drawn page.

    .venv/bin/python bench/browser.py                                   # the default demo county (20k x 36)
    .venv/bin/python bench/browser.py --households 100000 --months 13 --repeats 3
    .venv/bin/python bench/browser.py --against /path/to/other/checkout  # the same steps there, in turn

A Streamlit server (``streamlit run app.py``, headless, on a free local port) and Debian's chromium
driven by Playwright, as in ``tests/browser``.  The columnar copy and the baseline's kept panel
scores are written first (what an import leaves).  Each step is timed from the user's action to
"done": the page's expected content is there (the h1, the chosen township in the list, the
villages table, the filter note), Streamlit no longer shows that it is running, and the map's
canvas is painted (not blank).  Beside the time: whether a running indicator (Streamlit's status
widget or a spinner) was seen during the wait, when it first showed, and how long the map canvas
stayed blank.  Steps: log in as a leader and wait for the overview; open the map from the
sidebar; click a township on the map (its label point, from the view the page computes); back to
the whole county from the list; a township chosen from the list; the overview's township filter
(a ranking row clicked); as an analyst, the simulator's income line.  Never asserts on time.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, cached_demo_db, print_environment, print_table

from fanpin.ui.serve import running_app
from pages import PASSWORD, ensure_users, user_of

CHROMIUM = "/usr/bin/chromium"
BUSY = '[data-testid="stStatusWidget"], [data-testid="stSpinner"], [data-testid="stSkeleton"]'
CANVAS = '[data-testid="stDeckGlJsonChart"] canvas'


def painted(pg) -> bool:
    """Whether the map's canvas shows something (not one flat colour)."""
    from PIL import Image

    canvas = pg.locator(CANVAS)
    if canvas.count() == 0:
        return False
    try:
        img = Image.open(io.BytesIO(canvas.first.screenshot(timeout=5_000))).convert("RGB").resize((60, 60))
    except Exception:  # noqa: BLE001 - a canvas being replaced
        return False
    return len(set(img.get_flattened_data() if hasattr(img, "get_flattened_data") else img.getdata())) > 20


def timed(pg, act, done, *, canvas: bool = False, timeout: float = 90.0) -> dict:
    """Do ``act()``, then poll until ``done()`` holds, nothing runs and (``canvas``) the map is painted.
    Returns seconds, whether and when a running indicator showed, the seconds the canvas was blank
    (``failed``: not done within ``timeout``, reported as such and left out of the medians)."""
    t0 = time.perf_counter()
    act()
    seen_busy, first_busy, blank, last = False, None, 0.0, t0
    while True:
        now = time.perf_counter()
        busy = pg.locator(BUSY).count() > 0
        if busy and not seen_busy:
            seen_busy, first_busy = True, now - t0
        ok = not busy and done()
        drawn = painted(pg) if canvas else True
        if canvas and not drawn:
            blank += time.perf_counter() - last
        last = time.perf_counter()
        if ok and drawn:
            # settled: still idle a moment later (a rerun may start just after the last one)
            pg.wait_for_timeout(300)
            if pg.locator(BUSY).count() == 0 and done():
                return {"s": last - t0, "busy": seen_busy, "first_busy": first_busy, "blank": blank}
        if now - t0 > timeout:
            return {"s": float("nan"), "busy": seen_busy, "first_busy": first_busy, "blank": blank, "failed": True}
        pg.wait_for_timeout(50)


def h1(pg) -> str:
    loc = pg.locator('[data-testid="stMain"] h1')
    return loc.first.inner_text() if loc.count() else ""


def choose(pg, label: str, option: str) -> None:
    box = pg.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    pg.keyboard.type(option)
    pg.wait_for_timeout(150)
    pg.keyboard.press("Enter")


#: Seconds between the login form showing and the login being submitted (``--typing``): a person
#: types a name and a password; 0 submits at once (the run the form started is then still importing).
TYPING = 0.0


def login(pg, base: str, role: str) -> dict:
    pg.goto(base + "/")
    pg.locator('input[autocomplete="current-password"]').first.wait_for(timeout=120_000)
    pg.wait_for_timeout(TYPING * 1000)
    pg.locator('input[autocomplete="username"]').first.fill(user_of(role))
    pg.locator('input[autocomplete="current-password"]').first.fill(PASSWORD.format(role=role))
    return timed(pg, lambda: pg.locator('input[autocomplete="current-password"]').first.press("Enter"), lambda: bool(h1(pg)) and not pg.locator('input[autocomplete="current-password"]').count())


def county_geometry(url: str):
    from fanpin import store
    from fanpin.geo import geojson
    from fanpin.store.regions import load_regions, township_geojson

    engine = store.make_engine(url)
    try:
        fc = township_geojson(engine)
        fc = {**fc, "features": [f for f in fc["features"] if f.get("geometry")]}
        regions = load_regions(engine)
        names = dict(zip(regions["region_code"], regions["name"]))
        return fc, names, {c: (x, y) for c, x, y in geojson.label_points(fc)}
    finally:
        engine.dispose()


def screen_point(view: dict, lon: float, lat: float, box: dict) -> tuple[float, float]:
    """Where deck.gl draws (lon, lat) on a canvas ``box`` showing ``view`` (web mercator, 512 px at zoom 0)."""
    scale = 512 * 2 ** view["zoom"]

    def merc(lo: float, la: float) -> tuple[float, float]:
        return scale * (lo + 180) / 360, scale * (0.5 - math.log(math.tan(math.pi / 4 + math.radians(la) / 2)) / (2 * math.pi))

    x, y = merc(lon, lat)
    cx, cy = merc(view["longitude"], view["latitude"])
    return box["x"] + box["width"] / 2 + (x - cx), box["y"] + box["height"] / 2 + (y - cy)


def run_steps(base: str, geometry: tuple, i: int, browser) -> dict[str, dict]:
    """Round ``i`` of the steps against the server at ``base``: step -> timed()."""
    from fanpin.geo import geojson

    fc, names, points = geometry
    towns = sorted(points)[:2]
    label = "选择乡镇"
    out: dict[str, dict] = {}
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
    pg = ctx.new_page()
    out["log in -> overview drawn (leader)"] = login(pg, base, "leader")
    grid = pg.locator('[data-testid="stDataFrame"]').first  # the township ranking: a row clicked filters the page
    grid.scroll_into_view_if_needed()
    gb = grid.bounding_box()
    out["overview: township filter (a ranking row)"] = timed(
        pg, lambda: pg.mouse.click(gb["x"] + 12, gb["y"] + 35 + 17 + 35 * (i % 2)), lambda: pg.locator('[data-testid="stAlert"]').filter(has_text="已筛选").count() > 0
    )
    link = pg.locator('[data-testid="stSidebar"] a').filter(has_text="风险地图").first
    out["open the map from the sidebar"] = timed(pg, link.click, lambda: "风险地图" in h1(pg), canvas=True)
    town, other = towns[i % 2], towns[(i + 1) % 2]
    x, y = screen_point(geojson.map_view(fc, None, width_px=800, height_px=560), *points[town], pg.locator(CANVAS).first.bounding_box())

    def shows(code: str) -> bool:  # the chosen township's villages table ("<township>：各行政村")
        return pg.locator("h3").filter(has_text=f"{names[code]}：").count() > 0

    def county() -> bool:
        return pg.locator("h3").filter(has_text="：").count() == 0 and "风险地图" in h1(pg)

    out["map: a township clicked on the map"] = timed(pg, lambda: pg.mouse.click(x, y), lambda: shows(town), canvas=True)
    out["map: back to the whole county (list)"] = timed(pg, lambda: choose(pg, label, "全县"), county, canvas=True)
    out["map: a township chosen from the list"] = timed(pg, lambda: choose(pg, label, names[other]), lambda: shows(other), canvas=True)
    ctx.close()
    ctx = browser.new_context(viewport={"width": 1500, "height": 1100}, locale="zh-CN")
    pg = ctx.new_page()
    pg.goto(base + "/simulator")
    out["log in -> simulator drawn (analyst)"] = timed_simulator_login(pg)
    field = pg.locator('[data-testid="stNumberInput"]').filter(has_text="监测收入标准").locator("input").first
    value = float((field.input_value() or "0").replace(",", ""))
    metrics = pg.locator('[data-testid="stMetric"]')
    before = metrics.first.inner_text()
    out["simulator: income line (+500 yuan)"] = timed(
        pg, lambda: (field.fill(str(int(value + 500))), field.press("Enter")), lambda: metrics.count() > 0 and metrics.first.inner_text() != before
    )
    ctx.close()
    return out


def timed_simulator_login(pg) -> dict:
    """Log in as an analyst on the simulator's URL: the run after the login draws the simulator."""
    pg.locator('input[autocomplete="current-password"]').first.wait_for(timeout=120_000)
    pg.wait_for_timeout(TYPING * 1000)
    pg.locator('input[autocomplete="username"]').first.fill(user_of("analyst"))
    pg.locator('input[autocomplete="current-password"]').first.fill(PASSWORD.format(role="analyst"))
    return timed(pg, lambda: pg.locator('input[autocomplete="current-password"]').first.press("Enter"), lambda: "模拟" in h1(pg))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--households", type=int, default=20_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--against", type=Path, help="another checkout's root: its server runs the same steps, in turn with this one's")
    ap.add_argument("--typing", type=float, default=0.0, help="seconds a user takes to type the login (default 0: submitted as the form shows)")
    args = ap.parse_args(argv)
    global TYPING
    TYPING = args.typing
    if not Path(CHROMIUM).exists():
        print("Debian chromium is not installed (scripts/system-deps.sh)")
        return 1
    from playwright.sync_api import sync_playwright

    print_environment()
    db, _ = cached_demo_db(args.households, args.months)
    url = f"sqlite:///{db}"
    ensure_users(url)
    roots = {"after": ROOT} if args.against is None else {"before": args.against.resolve(), "after": ROOT}
    results: dict[str, dict[str, list[dict]]] = {n: {} for n in roots}
    load = []
    with tempfile.TemporaryDirectory(prefix="fanpin-browser-") as cache, sync_playwright() as p:
        os.environ["FANPIN_CACHE_DIR"] = cache
        from fanpin import store
        from fanpin.store import columnar

        engine = store.make_engine(url)
        columnar.write_copies(engine)
        try:
            from fanpin.engine.panel_stream import prepare_views

            prepare_views(engine)
        except ImportError:
            pass
        engine.dispose()
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        env = dict(os.environ, FANPIN_DB_URL=url, FANPIN_CACHE_DIR=cache, FANPIN_MODEL_DIR=str(Path(cache) / "models"))
        geometry = county_geometry(url)
        for i in range(args.repeats):  # each round: a fresh server per checkout, in turn
            for name, root in roots.items():
                load.append(os.getloadavg()[0])
                with running_app(url, Path(cache), env=env, root=root, timeout=120) as base:
                    for step, res in run_steps(base, geometry, i, browser).items():
                        results[name].setdefault(step, []).append(res)
                print(f"  {name}: a round done (load average {os.getloadavg()[0]:.1f})", flush=True)
        browser.close()
    names = list(roots)
    rows = []
    def ok(step: str, n: str) -> list[dict]:
        return [x for x in results[n].get(step, []) if not x.get("failed")]

    for step in results[names[-1]]:
        cells = []
        for n in names:
            r, failed = ok(step, n), len(results[n].get(step, [])) - len(ok(step, n))
            med = statistics.median(x["s"] for x in r) if r else float("nan")
            first = [x["first_busy"] for x in r if x["first_busy"] is not None]
            blank = statistics.median(x["blank"] for x in r) if r else float("nan")
            shown = f"{sum(x['busy'] for x in r)}/{len(r)}" + (f" at {statistics.median(first):.2f}" if first else "")
            cells += [f"{med:.2f}" + (f" ({failed} not done in 90 s)" if failed else ""), shown, f"{blank:.2f}"]
        if len(names) > 1:
            b, a = (ok(step, n) for n in names)
            cells.append(f"{statistics.median(x['s'] for x in a) / statistics.median(x['s'] for x in b):.2f}x" if a and b else "n/a")
        rows.append([step, *cells])
    headers = ["step (end to end, Chromium)", *(f"{n} {h}" for n in names for h in ("s", "indicator seen", "map blank s"))] + (["after/before"] if len(names) > 1 else [])
    print()
    print_table(headers, rows, title=f"== browser on {args.households:,} households x {args.months} months: medians of {args.repeats} rounds, a fresh server per round "
                f"(load average {min(load):.1f}-{max(load):.1f}; login submitted {args.typing:g} s after the form showed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
