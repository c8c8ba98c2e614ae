"""The ``fanpin`` command: demo, db, score (and later import, train, user, brief)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.store.engine import StoreError, is_corruption, sqlite_path


def _progress_printer(stream: TextIO = sys.stderr) -> Callable[[str, float], None]:
    start = time.perf_counter()
    last = [-1.0]

    def show(message: str, fraction: float) -> None:
        if fraction - last[0] >= 0.02 or fraction >= 1.0:
            last[0] = fraction
            bar = "#" * int(fraction * 30)
            print(f"\r[{bar:<30}] {fraction:5.0%} {time.perf_counter() - start:6.1f}s {message:<24}", end="", file=stream, flush=True)
            if fraction >= 1.0:
                print(file=stream)

    return show


def _is_replaceable(url: str) -> bool:
    """Whether ``fanpin demo`` may overwrite the database: absent, empty, or itself a demo county."""
    from fanpin.store.demo import table_names

    path = sqlite_path(url)
    if path is not None and (not path.exists() or path.stat().st_size == 0):
        return True
    try:
        engine = store.make_engine(url)
        tables = table_names(engine)
    except Exception:  # noqa: BLE001 - a damaged file is not ours to delete either
        return False
    if not tables or tables <= {"alembic_version"}:
        return True
    if "meta" not in tables:
        return False
    with engine.connect() as conn:
        return store.get_meta(conn, "demo") == "1"


def cmd_demo(args: argparse.Namespace) -> int:
    if getattr(args, "province", False):  # a province goes to the analytic store (fanpin.cli.province)
        from fanpin.cli.province import cmd_demo_province

        return cmd_demo_province(args)
    from fanpin.demo.build import build_demo
    from fanpin.demo.spec import DemoSpec

    url = args.db or store.default_url()
    path = sqlite_path(url)
    if not args.force and not _is_replaceable(url):
        print(
            f"fanpin: {url} holds data that is not a demo county; refusing to replace it. "
            "Use another --db, or --force to replace it anyway.",
            file=sys.stderr,
        )
        return 2
    if path is not None and path.exists():
        for suffix in ("", "-wal", "-shm"):
            p = path.with_name(path.name + suffix)
            p.unlink(missing_ok=True)
    engine = store.make_engine(url, create=True)
    if path is None:
        from fanpin.store.demo import drop_everything

        drop_everything(engine)
    store.upgrade(engine)
    spec = DemoSpec(households=args.households, months=args.months, seed=args.seed, start=args.start, townships=args.townships, villages=args.villages)
    t0 = time.perf_counter()
    counts = build_demo(engine, spec, progress=_progress_printer())
    dt = time.perf_counter() - t0
    print(f"demo county built in {dt:.1f}s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if args.households > 200_000 and not args.no_cache:
        print("snapshot cache not warmed for a county this large (each month is cached on first use)")
    elif not args.no_cache:
        t1 = time.perf_counter()
        months = store.warm_cache(engine)
        print(f"snapshot cache warmed for {months} months in {time.perf_counter() - t1:.1f}s")
    if path is not None and args.geojson:
        _write_geojson(engine)
    return 0


def _write_geojson(engine: Engine) -> None:
    import json

    from fanpin.store.engine import PROJECT_ROOT
    from fanpin.store.regions import township_geojson

    out = PROJECT_ROOT / "data" / "demo_townships.geojson"
    out.write_text(json.dumps(township_geojson(engine), ensure_ascii=False), encoding="utf-8")


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    engine = store.make_engine(args.db, create=True)
    before = store.current_revision(engine)
    store.upgrade(engine)
    after = store.current_revision(engine)
    print(f"schema {before or '(empty)'} -> {after}")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    engine = store.make_engine(args.db)
    print(f"url: {engine.url.render_as_string(hide_password=True)}")
    print(f"schema: {store.current_revision(engine) or '(empty)'} (newest {store.head_revision()})")
    store.check_schema(engine)
    ps = store.periods(engine)
    if ps:
        print(f"panel: {ps[0]}..{ps[-1]} ({len(ps)} months), data version {store.data_version(engine)}")
    return 0


def _pad(text: str, width: int) -> str:
    """Left-align by display width: a Chinese character takes two terminal columns."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 0)


def cmd_score(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fanpin.core.periods import format_period, parse_period
    from fanpin.engine.policies import baseline_policy
    from fanpin.engine.scoring import TIERS, PolicyError, RiskPolicy, score
    from fanpin.report.export import write_table
    from fanpin.store.regions import load_regions

    if getattr(args, "engine", None):  # the province's month from the analytic store (fanpin.cli.province)
        from fanpin.cli.province import cmd_score_province

        return cmd_score_province(args)
    try:
        period = parse_period(args.period)
    except ValueError as exc:
        print(f"fanpin: {exc}", file=sys.stderr)
        return 2
    engine = store.make_engine(args.db)
    store.check_schema(engine)
    available = store.periods(engine)
    if period not in available:
        span = f"{available[0]}..{available[-1]}" if available else "none"
        print(f"fanpin: no panel data for {format_period(period, 'en')} (months in the database: {span})", file=sys.stderr)
        return 2
    try:
        if args.policy:
            policy = RiskPolicy.from_json(Path(args.policy).read_text(encoding="utf-8"))
        else:
            policy = baseline_policy(engine, period)
    except (OSError, PolicyError) as exc:
        print(f"fanpin: {exc}", file=sys.stderr)
        return 2
    policy, rescaled = policy.normalised()
    if rescaled:
        print("note: the policy's weights did not sum to 1 and were rescaled", file=sys.stderr)
    frame = store.load_snapshot(engine, period)
    result = score(frame, policy)
    if args.out:
        cols = ["household_id", "township_code", "village_code", "score", "tier", "forced", "reason_1", "reason_2", "reason_3", "warnings", "category", "risk_types"]
        write_table(result[cols], args.out)
        from fanpin.access.audit import record
        from fanpin.access.roles import system_principal

        record(engine, system_principal().actor, "export", Path(args.out).name[:64], {"format": Path(args.out).suffix.lstrip("."), "rows": len(result), "period": period})
        print(f"wrote {len(result):,} households to {args.out}", file=sys.stderr)
    names = load_regions(engine).set_index("region_code")["name"]
    table = result.groupby(["township_code", "tier"]).size().unstack(fill_value=0).reindex(columns=list(TIERS), fill_value=0)
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    print(f"{format_period(period, 'en')}  policy {policy.name!r}  income line {policy.income_line:,.0f} yuan  cut-offs {policy.cutoffs[0]:g}/{policy.cutoffs[1]:g}")
    print(f"{'township':<14}{_pad('name', 10)}{'green':>8}{'yellow':>8}{'red':>8}{'total':>8}")
    for code, row in table.iterrows():
        name = names.get(code, "") if code != "total" else ""
        print(f"{code:<14}{_pad(name, 10)}{row['green']:>8}{row['yellow']:>8}{row['red']:>8}{row['total']:>8}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Backtest the risk model on held-out windows, print the table (budgets 1-10%: the model, the
    rules, the logistic baseline and the ceiling, with intervals), fit it on every month whose label
    is complete and save it."""
    from fanpin.access.roles import system_principal
    from fanpin.core.i18n import translate
    from fanpin.model import backtest, features, persist, train

    lang = getattr(args, "lang", "zh")
    engine = store.make_engine(args.db)
    store.check_schema(engine)
    start = time.perf_counter()
    try:
        model = train.train(engine, args.horizon, principal=system_principal(), eval_months=args.eval_months, progress=_progress_printer())
    except features.ModelError as exc:
        print(f"fanpin: {exc.text(translate, lang)}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    path = persist.save_model(model, args.out)
    meta = model.meta
    tm = meta["train_months"]
    print(translate("model.bt.cli_header", lang, h=meta["horizon"], n=len(tm), first=tm[0], last=tm[-1]))
    print(backtest.text_report(model.backtest, meta["windows"], meta["horizon"], meta["draws"], lang))
    print(translate("model.bt.seconds", lang, s=f"{seconds:.0f}", threads=meta["threads"]))
    print(translate("model.bt.saved", lang, path=path))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fanpin", description="防止返贫动态监测 — fanpin command line")
    p.add_argument("--db", help="database URL (default: FANPIN_DB_URL or data/fanpin.db)")
    # --db is accepted after the subcommand too; SUPPRESS keeps it from overwriting the top-level value
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, help="database URL (default: FANPIN_DB_URL or data/fanpin.db)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", parents=[common], help="(re)build the synthetic demo county database")
    d.add_argument("--households", type=int, default=20_000)
    d.add_argument("--months", type=int, default=36)
    d.add_argument("--start", type=int, default=202301, help="first month, YYYYMM")
    d.add_argument("--townships", type=int, default=14)
    d.add_argument("--villages", type=int, default=200)
    d.add_argument("--seed", type=int, default=20231)
    d.add_argument("--geojson", action="store_true", help="also write data/demo_townships.geojson")
    d.add_argument("--no-cache", action="store_true", help="do not pre-load the snapshot cache after building")
    d.add_argument("--force", action="store_true", help="replace the database even if it is not a demo county")
    d.set_defaults(func=cmd_demo)
    from fanpin.cli import province as cli_province

    cli_province.add_demo_flags(d)

    db = sub.add_parser("db", help="database schema")
    dbs = db.add_subparsers(dest="db_command", required=True)
    up = dbs.add_parser("upgrade", parents=[common], help="migrate the schema to the newest version")
    up.set_defaults(func=cmd_db_upgrade)
    st = dbs.add_parser("status", parents=[common], help="show the schema version and the panel months")
    st.set_defaults(func=cmd_db_status)

    s = sub.add_parser("score", parents=[common], help="score every household for a month")
    s.add_argument("--period", required=True, help="YYYY-MM")
    s.add_argument("--policy", help="policy JSON file (default: the adopted baseline or the shipped default)")
    s.add_argument("--out", help="write every household's score to .csv or .xlsx")
    s.set_defaults(func=cmd_score)
    cli_province.add_score_flags(s)

    tr = sub.add_parser("train", parents=[common], help="train the risk prediction model and save it")
    tr.add_argument("--horizon", type=int, default=6, help="months ahead (default 6)")
    tr.add_argument("--eval-months", type=int, default=None, help="months per held-out backtest window (default 3)")
    tr.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the table (default zh)")
    tr.add_argument("--out", help="model directory (default FANPIN_MODEL_DIR or data/models)")
    tr.set_defaults(func=cmd_train)

    # import / user / brief live in their own modules (one job each)
    from fanpin.cli import audit as cli_audit
    from fanpin.cli import brief as cli_brief
    from fanpin.cli import imports as cli_import
    from fanpin.cli import lines as cli_lines
    from fanpin.cli import national as cli_national
    from fanpin.cli import todo as cli_todo
    from fanpin.cli import users as cli_user

    for module in (cli_import, cli_national, cli_user, cli_brief, cli_audit, cli_province, cli_todo, cli_lines):
        module.register(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StoreError as exc:
        print(f"fanpin: {exc}", file=sys.stderr)
        return 2
    except sa_exc.DatabaseError as exc:  # a damaged file found only when its pages are read
        if not is_corruption(exc):
            raise
        print(f"fanpin: the database file is damaged ({getattr(exc, 'orig', exc)}): restore it from a backup", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
