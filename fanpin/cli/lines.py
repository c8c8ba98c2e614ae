"""`fanpin lines` (list the stored provincial income lines) and `fanpin lines set YEAR YUAN`.

A county imported from the national export has no lines of its own until they are set here (or
come with a fanpin export that carries them); the scorer then falls back to the policy's line.
Setting one is audited (``income_line_set``, actor ``cli:<os user>``) and bumps the data version,
so every month's scores follow it.  Sub-command registered by ``fanpin.cli.main.build_parser``.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``lines`` to ``fanpin``'s parser (``common`` carries ``--db``)."""
    p = sub.add_parser("lines", parents=[common], help="the provincial income lines (监测收入标准) by year: list, or set one")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language (default zh)")
    p.set_defaults(func=cmd_list)
    verbs = p.add_subparsers(dest="lines_command")
    s = verbs.add_parser("set", parents=[common], help="store a year's line (yuan per person per year); audited")
    s.add_argument("year", type=int, help="the year, e.g. 2025")
    s.add_argument("yuan", type=float, help="the line in yuan per person per year, e.g. 8100")
    s.add_argument("--lang", choices=("zh", "en"), default=argparse.SUPPRESS, help="language (default zh)")
    s.set_defaults(func=cmd_set)


def _engine(args: argparse.Namespace):  # noqa: ANN202 - an Engine
    from fanpin import store

    engine = store.make_engine(getattr(args, "db", None) or store.default_url())
    store.check_schema(engine)
    return engine


def cmd_list(args: argparse.Namespace) -> int:
    """One line per year, oldest first; a note when none is stored."""
    from fanpin.core.i18n import translate
    from fanpin.store import meta

    engine = _engine(args)
    try:
        lines = meta.income_lines(engine)
    finally:
        engine.dispose()
    if not lines:
        print(translate("cli.lines.none", args.lang))
        return 0
    print(f"{translate('cli.lines.year', args.lang)}\t{translate('cli.lines.yuan', args.lang)}")
    for year, yuan in sorted(lines.items()):
        print(f"{year}\t{yuan:,.0f}")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    from fanpin.access.roles import system_principal
    from fanpin.core.i18n import translate
    from fanpin.engine.policies import LINE_YEARS, set_income_line

    lang = getattr(args, "lang", "zh")
    engine = _engine(args)
    try:
        before = set_income_line(engine, args.year, args.yuan, principal=system_principal())
    except ValueError:
        print(f"fanpin: {translate('cli.lines.bad', lang, first=LINE_YEARS[0], last=LINE_YEARS[1])}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    was = "—" if before is None else f"{before:,.0f}"
    print(translate("cli.lines.set", lang, year=args.year, yuan=f"{args.yuan:,.0f}", before=was))
    return 0
