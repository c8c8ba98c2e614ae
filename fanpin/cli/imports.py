"""`fanpin import FILE` (sub-command registered by ``fanpin.cli.build_parser``).

Without ``--kind`` the file is a whole workbook (the national monitoring system's export, or a
CSV of one of its sheets): each sheet's tables are recognised from the headers, every sheet is
checked, and all of them are applied in one transaction or none.  With ``--kind`` the file is one
table of that kind, as before.  A column no table reads stops the import until
``--ignore-columns`` accepts dropping it.

``--dry-run`` prints the report and, for a file that passed, every field an update would change
("家庭人口数: 4 → 5").  ``fanpin import --rollback BATCH`` takes an applied batch back (see
``fanpin.ingest.undo``; refused with the reason when its records moved on since).

Exit codes: 0 when the file was applied (or had already been applied: nothing to do) or the batch
rolled back, 1 when it was refused (the report or the reason goes to standard error), 2 for a
missing file or database.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from fanpin.access.roles import Principal


def _principal(args: argparse.Namespace) -> Principal:
    from fanpin.access.roles import system_principal

    principal = system_principal()
    if args.actor:  # the name the operator wants recorded as the importer
        principal = dataclasses.replace(principal, username=args.actor[:64])
    return principal


def _finish(report, result, args: argparse.Namespace) -> int:  # noqa: ANN001 - a Report or WorkbookReport, an ImportResult or WorkbookResult
    """Print the outcome; the exit code."""
    lang = args.lang
    if args.report:
        from fanpin.report.export import write_table

        write_table(report.frame(lang, limit=None), args.report)
    if result is None:  # --dry-run
        stream = sys.stdout if report.ok else sys.stderr
        print(report.text(lang), file=stream)
        if report.ok:
            _print_changes(report, lang)
        return 0 if report.ok or getattr(report, "already_batch", None) is not None or getattr(report, "already", False) else 1
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


def _print_changes(report, lang: str) -> None:  # noqa: ANN001 - a Report or WorkbookReport
    """The fields each update would change, table by table."""
    from fanpin.ingest.diff import changes_text

    parts = [p.report for p in report.parts if p.report.already_batch is None] if hasattr(report, "parts") else [report]
    for r in parts:
        text = changes_text(r, lang)
        if text:
            print(f"[{r.sheet}]\n{text}" if hasattr(report, "parts") else text)


def _rollback(engine, args: argparse.Namespace) -> int:  # noqa: ANN001 - an Engine
    from fanpin.ingest import undo

    try:
        result = undo.rollback(engine, args.rollback, principal=_principal(args))
    except undo.RollbackRefused as exc:
        print(exc.message(args.lang), file=sys.stderr)
        return 1
    print(result.message(args.lang))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from fanpin import store
    from fanpin.ingest import apply, book, validate, workbook

    if args.rollback is not None:
        engine = store.make_engine(getattr(args, "db", None) or store.default_url())
        store.check_schema(engine)
        return _rollback(engine, args)
    if args.file is None:
        print("fanpin import: a FILE or --rollback BATCH is needed", file=sys.stderr)
        return 2
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"fanpin: {exc}", file=sys.stderr)
        return 2
    engine = store.make_engine(getattr(args, "db", None) or store.default_url())
    store.check_schema(engine)
    who = {"principal": _principal(args), "ignore_columns": args.ignore_columns}
    if args.kind is None:
        if args.dry_run:
            return _finish(workbook.validate_workbook(engine, data, path.name, **who), None, args)
        result = book.import_workbook(engine, data, path.name, **who)
        return _finish(result.report, result, args)
    if args.dry_run:
        return _finish(validate.validate(engine, args.kind, data, path.name, **who), None, args)
    result = apply.import_file(engine, args.kind, data, path.name, **who)
    return _finish(result.report, result, args)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the sub-command to ``fanpin``'s parser (``common`` carries ``--db``)."""
    from fanpin.ingest.specs import KINDS

    p = sub.add_parser("import", parents=[common], help="validate and import a workbook (the national export) or one CSV/.xlsx table")
    p.add_argument("--kind", choices=KINDS, help="the file is one table of this kind (default: a whole workbook, tables recognised from their headers)")
    p.add_argument("file", nargs="?", help=".xlsx workbook or CSV file")
    p.add_argument("--rollback", type=int, metavar="BATCH", help="roll an applied batch back (its prior values restored, its new records removed; audited)")
    p.add_argument("--ignore-columns", action="store_true", help="accept dropping the columns no table reads (they are listed first)")
    p.add_argument("--lang", choices=("zh", "en"), default=os.environ.get("FANPIN_LANG", "zh"), help="language of the report (default zh)")
    p.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    p.add_argument("--report", help="also write the validation report to .csv or .xlsx")
    p.add_argument("--actor", help="name recorded as the importer (default cli:<login name>)")
    p.set_defaults(func=cmd_import)
