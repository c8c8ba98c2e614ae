"""`fanpin export --national FILE.xlsx`: the county in the national monitoring system's layout
(sub-command registered by ``fanpin.cli.build_parser``; see ``fanpin.report.national``).

Masked unless ``--unmasked`` (the command's system principal may unmask; the audit row says so).
``--no-panel`` leaves out fanpin's monthly sheet (the bureau's own layout has none; without it
the file cannot give back the risk tiers).  Exit 0 when written, 2 for a missing database or a
path that cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_export(args: argparse.Namespace) -> int:
    from fanpin import store
    from fanpin.access.roles import system_principal
    from fanpin.report.national import export_national

    path = Path(args.national)
    if path.suffix.lower() != ".xlsx":
        print("fanpin: the national layout is an .xlsx workbook", file=sys.stderr)
        return 2
    engine = store.make_engine(getattr(args, "db", None) or store.default_url())
    store.check_schema(engine)
    data = export_national(engine, system_principal(), unmasked=args.unmasked, panel=not args.no_panel)
    try:
        path.write_bytes(data)
    except OSError as exc:
        print(f"fanpin: {exc}", file=sys.stderr)
        return 2
    shown = "unmasked" if args.unmasked else "masked"
    print(f"wrote {path} ({len(data) / 1e6:.1f} MB, {shown})")
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the sub-command to ``fanpin``'s parser (``common`` carries ``--db``)."""
    p = sub.add_parser("export", parents=[common], help="write the county in the national monitoring system's layout")
    p.add_argument("--national", required=True, metavar="FILE.xlsx", help="the workbook to write")
    p.add_argument("--unmasked", action="store_true", help="names, ID numbers and phones in full (audited)")
    p.add_argument("--no-panel", action="store_true", help="leave out fanpin's monthly sheet (月度指标)")
    p.set_defaults(func=cmd_export)
