"""`fanpin brief --period YYYY-MM --out brief.docx` (sub-command registered by ``fanpin.cli.build_parser``);
with ``--region CODE`` a province's or city's brief from the analytic store (``fanpin.cli.region_brief``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the sub-command to ``fanpin``'s parser (``common`` carries ``--db``)."""
    b = sub.add_parser("brief", parents=[common], help="write the monthly brief (.docx) and its tables (.xlsx)")
    b.add_argument("--period", required=True, help="YYYY-MM")
    b.add_argument("--out", required=True, help="the .docx to write")
    b.add_argument("--lang", choices=("zh", "en"), default="zh", help="language (default zh)")
    b.add_argument("--xlsx", help="the tables workbook (default: next to --out, same name, .xlsx)")
    b.add_argument("--township", help="one township's brief (its 12-digit region code): its own figures, its villages ranked")
    from fanpin.cli.region_brief import add_flags

    add_flags(b)  # --region, --store, --by: a province's or city's brief from the analytic store
    b.set_defaults(func=cmd_brief)


def output_paths(args: argparse.Namespace) -> tuple[Path, Path] | str:
    """(the .docx, the .xlsx) a brief is written to, or why not (a wrong suffix, no such directory,
    no CJK font to draw the charts with)."""
    from fanpin.report.charts import FontMissing, cjk_font_path

    out = Path(args.out)
    if out.suffix.lower() != ".docx":
        return f"--out must end in .docx, got {out.name!r}"
    xlsx = Path(args.xlsx) if args.xlsx else out.with_suffix(".xlsx")
    if xlsx.suffix.lower() != ".xlsx":
        return f"--xlsx must end in .xlsx, got {xlsx.name!r}"
    for p in (out, xlsx):
        if not p.parent.is_dir():
            return f"no such directory: {p.parent}"
    try:
        cjk_font_path()
    except FontMissing as exc:
        return str(exc)
    return out, xlsx


def cmd_brief(args: argparse.Namespace) -> int:
    if getattr(args, "region", None):  # a province's or city's brief (fanpin.cli.region_brief)
        from fanpin.cli.region_brief import cmd_region_brief

        return cmd_region_brief(args)
    from fanpin import store
    from fanpin.access.roles import system_principal
    from fanpin.core.periods import format_period, parse_period
    from fanpin.report.document import produce

    def fail(message: str) -> int:
        print(f"fanpin: {message}", file=sys.stderr)
        return 2

    try:
        period = parse_period(args.period)
    except ValueError as exc:
        return fail(str(exc))
    paths = output_paths(args)
    if isinstance(paths, str):
        return fail(paths)
    out, xlsx = paths
    engine = store.make_engine(args.db or store.default_url())
    store.check_schema(engine)
    available = store.periods(engine)
    if period not in available:
        span = f"{format_period(available[0], 'en')}..{format_period(available[-1], 'en')}" if available else "none"
        return fail(f"no panel data for {format_period(period, 'en')} (months in the database: {span})")
    township = getattr(args, "township", None)
    if township is not None:
        from fanpin.store.regions import load_regions

        regions = load_regions(engine)
        if township not in set(regions.loc[regions["level"] == "township", "region_code"]):
            return fail(f"no township {township!r} in the database")
    made = produce(engine, period, args.lang, principal=system_principal(), township=township)  # audit actor cli:<os user>
    out.write_bytes(made.docx)
    xlsx.write_bytes(made.xlsx)
    s = made.seconds
    print(
        f"wrote {out} ({len(made.docx) / 1024:.0f} KB) and {xlsx} ({len(made.xlsx) / 1024:.0f} KB): "
        f"compute {s['compute']:.1f}s, charts {s['charts']:.1f}s, docx {s['docx']:.1f}s, xlsx {s['xlsx']:.1f}s",
        file=sys.stderr,
    )
    return 0
