"""`fanpin import --kind KIND FILE` (sub-command registered by ``fanpin.cli.build_parser``).

Exit codes: 0 when the file was applied (or had already been applied: nothing to do),
1 when it was refused (the report goes to standard error), 2 for a missing file or database.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path


def cmd_import(args: argparse.Namespace) -> int:
    from fanpin import store
    from fanpin.access.roles import system_principal
    from fanpin.ingest import apply, validate

    lang = args.lang
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"fanpin: {exc}", file=sys.stderr)
        return 2
    engine = store.make_engine(getattr(args, "db", None) or store.default_url())
    store.check_schema(engine)
    principal = system_principal()
    if args.actor:  # the name the operator wants recorded as the importer
        principal = dataclasses.replace(principal, username=args.actor[:64])
    if args.dry_run:
        report = validate.validate(engine, args.kind, data, path.name, principal=principal)
        result = None
    else:
        result = apply.import_file(engine, args.kind, data, path.name, principal=principal)
        report = result.report
    if args.report:
        from fanpin.report.export import write_table

        write_table(report.frame(lang, limit=None), args.report)
    if result is None:
        stream = sys.stdout if report.ok else sys.stderr
        print(report.text(lang), file=stream)
        return 0 if report.ok or report.already_batch is not None else 1
    if result.status == "refused":
        print(report.text(lang), file=sys.stderr)
        print(result.message(lang), file=sys.stderr)
        return 1
    if result.status == "already":
        print(result.message(lang))
        return 0
    if report.n_warnings:
        print(report.text(lang))
    print(result.message(lang))
    if result.merged_clues:
        from fanpin.core.i18n import translate

        print(translate("ingest.page.merged", lang, n=result.merged_clues))
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the sub-command to ``fanpin``'s parser (``common`` carries ``--db``)."""
    from fanpin.ingest.specs import KINDS

    p = sub.add_parser("import", parents=[common], help="validate and import a CSV/.xlsx file (rosters, members, indicators, feeds, ...)")
    p.add_argument("--kind", required=True, choices=KINDS, help="what the file holds")
    p.add_argument("file", help="CSV or .xlsx file")
    p.add_argument("--lang", choices=("zh", "en"), default=os.environ.get("FANPIN_LANG", "zh"), help="language of the report (default zh)")
    p.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    p.add_argument("--report", help="also write the validation report to .csv or .xlsx")
    p.add_argument("--actor", help="name recorded as the importer (default cli:<login name>)")
    p.set_defaults(func=cmd_import)
