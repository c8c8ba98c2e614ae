"""Screenshots of every page at 1366 and 1920 px, in Chinese and in English, for a person to look at.

    .venv/bin/python scripts/screenshots.py [--db sqlite:////tmp/shots.db] [--out /tmp/shots]
                                            [--widths 1366 1920] [--langs zh en] [--roles admin case_worker township_leader]
                                            [--pages map simulator ...]

Builds the demo county into ``--db`` when it holds no data (``fanpin demo --households 6000 --months 24``),
creates three accounts (``shots_admin``: every page; ``shots_case``: a case worker of one township;
``shots_leader``: a township leader of the same township), starts the app on a free local port and
takes full-page PNGs with Playwright and Debian's chromium (headless, ``--no-sandbox``) into ``--out``,
named ``<role>-<page>[-<state>]-<lang>-<width>.png``.  Beside the plain pages it shows a few states a
user reaches with a click: the map with a township chosen, the simulator's sensitivity under entropy
weights, the training page's workshop mode, a household's clues on its profile and the clue page's order tab.

Nothing is judged here: the point is to look at every picture (truncated values or buttons, tofu
instead of Chinese, empty tables, the wrong language).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fanpin.ui.serve import ServerDidNotStart, running_app

ROOT = Path(__file__).resolve().parents[1]
FANPIN = str(ROOT / ".venv" / "bin" / "fanpin")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "shots-password-2024"
#: The case worker's and the township leader's one township (the demo county's first).
TOWNSHIP = "990101001000"
ACCOUNTS = {
    "admin": ("shots_admin", "admin", None),
    "case_worker": ("shots_case", "case_worker", TOWNSHIP),
    "township_leader": ("shots_leader", "township_leader", TOWNSHIP),
    "province_leader": ("shots_province", "province_leader", None),
}
#: The province leader's province (the demo province's code) and the store the app reads it from.
PROVINCE = "99"
#: Pages each role is shown (the admin sees them all; the scoped roles what they open).
ROLE_PAGES = {
    "admin": ["overview", "todo", "map", "simulator", "profile", "clues", "register", "model", "training", "import", "quality", "admin"],
    "case_worker": ["todo", "overview", "map", "profile", "clues", "register", "training", "quality"],
    "township_leader": ["todo", "overview", "map", "register"],
    "province_leader": ["overview", "map", "simulator"],
}


def run_cli(db: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([FANPIN, "--db", db, *args], input=stdin, text=True, capture_output=True, check=False)


def prepare(db: str) -> None:
    """The demo county (when the database has no months) and the three accounts (created once)."""
    sys.path.insert(0, str(ROOT))
    from fanpin import store

    try:
        engine = store.make_engine(db)
    except store.StoreError:  # no database file yet: the demo below creates it
        months = []
    else:
        try:
            try:
                months = store.periods(engine)
            except Exception:  # noqa: BLE001 - no schema yet
                months = []
        finally:
            engine.dispose()
    if months:  # the schema moves on with the code: bring an older demo database up to it
        from fanpin.store import migrate

        engine = store.make_engine(db)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
    else:
        print("building the demo county ...", flush=True)
        r = run_cli(db, "demo", "--households", "6000", "--months", "24")
        if r.returncode:
            sys.exit(r.stderr)
    from fanpin.access import users
    from fanpin.access.roles import system_principal

    engine = store.make_engine(db)
    try:
        for username, role, township in ACCOUNTS.values():
            if users.get_user(engine, username) is not None:
                continue
            extra = ["--townships", township] if township else ["--region", PROVINCE] if role == "province_leader" else []
            r = run_cli(db, "user", "add", username, "--role", role, *extra, "--password-stdin", stdin=PASSWORD + "\n")
            if r.returncode and users.get_user(engine, username) is None:  # the command is broken: the same through the API
                print(f"fanpin user add failed ({r.stderr.strip().splitlines()[-1:]}); adding {username} directly", flush=True)
                users.add_user(engine, username, role, PASSWORD, townships=[township] if township else None,
                               region=PROVINCE if role == "province_leader" else None, principal=system_principal())
    finally:
        engine.dispose()


def prepare_store(store: str) -> None:
    """A small demo province in ``store`` (10 counties in 2 cities, 3,000 households each, 24 months)
    unless it holds one; the app reads it (``FANPIN_STORE_DIR``) for the province leader's pages."""
    import os

    os.environ["FANPIN_STORE_DIR"] = store
    if (Path(store) / "_manifest.json").exists():
        return
    print("building the demo province ...", flush=True)
    r = subprocess.run([FANPIN, "demo", "--province", "--counties", "10", "--households-per-county", "3000", "--months", "24", "--store", store],
                       text=True, capture_output=True, check=False)
    if r.returncode:
        sys.exit(r.stderr)


# --------------------------------------------------------------------------- the browser
LOGIN_PASSWORD = 'input[autocomplete="current-password"]'


def wait_ready(pg, timeout: float = 90) -> None:  # noqa: ANN001 - a Playwright page
    """Until the app has drawn and stopped running (charts get a moment to paint)."""
    pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    drawn = '[data-testid="stMain"] h1, [data-testid="stMain"] [data-testid="stAlert"], [data-testid="stMain"] [data-testid="stException"], '
    pg.wait_for_selector(drawn + LOGIN_PASSWORD, timeout=timeout * 1000)
    deadline = time.time() + timeout
    quiet = 0
    while time.time() < deadline and quiet < 3:
        busy = pg.locator('[data-testid="stStatusWidget"], [data-testid="stSpinner"], [data-testid="stSkeleton"]').count()
        quiet = 0 if busy else quiet + 1
        time.sleep(0.3)
    time.sleep(1.0)


def login(pg, username: str) -> None:  # noqa: ANN001
    pg.locator(LOGIN_PASSWORD).first.wait_for(timeout=60_000)
    pg.locator('input[autocomplete="username"]').first.fill(username)
    pg.locator(LOGIN_PASSWORD).first.fill(PASSWORD)
    pg.locator(LOGIN_PASSWORD).first.press("Enter")
    pg.locator(LOGIN_PASSWORD).first.wait_for(state="detached", timeout=60_000)
    wait_ready(pg)


def open_page(pg, base: str, path: str, username: str, lang: str) -> None:  # noqa: ANN001
    """A fresh session on ``path`` (the login cookie resumes it), in ``lang``."""
    pg.goto(f"{base}/{path}")
    wait_ready(pg)
    if pg.locator(LOGIN_PASSWORD).count():
        login(pg, username)
        if not pg.url.rstrip("/").endswith(path.split("?")[0]) and path:
            pg.goto(f"{base}/{path}")
            wait_ready(pg)
    if lang == "en":
        pg.locator('[data-testid="stSidebar"] label').filter(has_text="English").first.click()
        wait_ready(pg)


def shoot(pg, out: Path, name: str, widths: list[int]) -> list[Path]:  # noqa: ANN001
    """One full-page PNG per width: the viewport is made as tall as the page's scrolling content."""
    paths = []
    for w in widths:
        pg.set_viewport_size({"width": w, "height": 900})
        time.sleep(1.2)
        height = pg.evaluate(
            "() => Math.max(document.body.scrollHeight, ...Array.from(document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"], section.main, [data-testid=\"stSidebarContent\"]')).map(e => e.scrollHeight))"
        )
        pg.set_viewport_size({"width": w, "height": min(int(height) + 40, 12_000)})
        time.sleep(1.5)
        path = out / f"{name}-{w}.png"
        pg.screenshot(path=str(path), full_page=True)
        paths.append(path)
        errors = [e.inner_text()[:200] for e in pg.locator('[data-testid="stException"]').all()]
        if errors:
            print(f"  ! {path.name}: exception on the page: {errors}", flush=True)
    return paths


def _click(pg, text: str, role: str = "button") -> bool:  # noqa: ANN001
    loc = pg.get_by_role(role, name=text)
    if loc.count():
        loc.first.click()
        wait_ready(pg)
        return True
    return False


# States beyond a page's first view, per page: (suffix, what to do after opening it).
def _map_township(pg, lang: str) -> None:  # noqa: ANN001
    box = pg.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').nth(1)
    box.click()
    options = pg.locator('[role="option"]')
    if options.count() > 1:  # a one-township user has theirs chosen already
        options.nth(1).click()
        wait_ready(pg)
    else:
        pg.keyboard.press("Escape")


def _sim_entropy(pg, lang: str) -> None:  # noqa: ANN001
    pg.locator('[data-testid="stMain"] label').filter(has_text="熵权" if lang == "zh" else "Entropy").first.click()
    wait_ready(pg)
    _click(pg, "计算当前方案的敏感性" if lang == "zh" else "Compute the sensitivity of this scenario")


def _training_workshop(pg, lang: str) -> None:  # noqa: ANN001
    pg.locator('[data-testid="stMain"] [data-testid="stCheckbox"], [data-testid="stMain"] [data-testid="stToggle"]').first.click()
    wait_ready(pg)


def _clues_orders(pg, lang: str) -> None:  # noqa: ANN001
    tabs = pg.locator('[data-testid="stMain"] [role="tab"]')
    if tabs.count() > 1:
        tabs.nth(1).click()
        wait_ready(pg)


def _profile_clues(pg, lang: str) -> None:  # noqa: ANN001
    tabs = pg.locator('[data-testid="stMain"] [role="tab"]')
    if tabs.count() > 2:
        tabs.nth(2).click()
        wait_ready(pg)


EXTRA: dict[str, list[tuple[str, Callable]]] = {
    "profile": [("clues", _profile_clues)],
    "map": [("township", _map_township)],
    "simulator": [("entropy", _sim_entropy)],
    "training": [("workshop", _training_workshop)],
    "clues": [("orders", _clues_orders)],
}


def a_household(db: str, township: str | None) -> str | None:
    """The household with the most clues (in ``township`` when given), for the profile page: its
    clues, timeline and reasons have the most to show."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text

    from fanpin import store

    engine = store.make_engine(db)
    try:
        snap = store.load_snapshot(engine, store.periods(engine)[-1])
        with engine.connect() as conn:
            counts = dict(conn.execute(text("SELECT household_id, COUNT(*) FROM clues GROUP BY household_id")).fetchall())
    finally:
        engine.dispose()
    if township:
        snap = snap[snap["township_code"] == township]
    if not len(snap):
        return None
    ids = snap["household_id"].astype(str)
    return str(max(ids, key=lambda h: (counts.get(h, 0), h)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="sqlite:////tmp/shots.db")
    ap.add_argument("--out", default="/tmp/shots")
    ap.add_argument("--widths", type=int, nargs="+", default=[1366, 1920])
    ap.add_argument("--langs", nargs="+", default=["zh", "en"])
    ap.add_argument("--roles", nargs="+", default=list(ACCOUNTS))
    ap.add_argument("--pages", nargs="+", help="only these pages")
    ap.add_argument("--no-extra", action="store_true", help="first views only (no clicked states)")
    ap.add_argument("--store", default="/tmp/shots_store", help="analytic store of the province pages (a small demo province is built when empty)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill still stops the app server (the finally blocks run)
    if not Path(CHROMIUM).exists():
        sys.exit("Debian chromium is not installed (scripts/system-deps.sh)")
    prepare(args.db)
    prepare_store(args.store)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _shoot_all(args, out)
    except ServerDidNotStart as exc:
        sys.exit(str(exc))


def _shoot_all(args: argparse.Namespace, out: Path) -> int:
    """Every role's pages in every language, each at every width; the number of screenshots taken."""
    from playwright.sync_api import sync_playwright

    taken: list[Path] = []
    with running_app(args.db, out / "_server") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        for role in args.roles:
            username, _, township = ACCOUNTS[role]
            household = a_household(args.db, township)
            ctx = browser.new_context(viewport={"width": args.widths[0], "height": 900}, locale="zh-CN")
            pg = ctx.new_page()
            for page in ROLE_PAGES[role]:
                if args.pages and page not in args.pages:
                    continue
                path = "" if page == "overview" else page
                if page == "profile" and household:
                    path = f"profile?household={household}"
                for lang in args.langs:
                    print(f"{role} {page} {lang}", flush=True)
                    try:
                        open_page(pg, base, path, username, lang)
                        taken += shoot(pg, out, f"{role}-{page}-{lang}", args.widths)
                        for suffix, act in [] if args.no_extra or role == "province_leader" else EXTRA.get(page, []):
                            pg.set_viewport_size({"width": args.widths[0], "height": 900})
                            act(pg, lang)
                            taken += shoot(pg, out, f"{role}-{page}-{suffix}-{lang}", args.widths)
                    except Exception as exc:  # noqa: BLE001 - one failed page must not stop the others
                        print(f"  ! {role} {page} {lang}: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            ctx.close()
        browser.close()
    print(f"{len(taken)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
