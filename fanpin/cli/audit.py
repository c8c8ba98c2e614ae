"""`fanpin audit verify`: check the audit log's hash chain (sub-command registered by ``fanpin.cli.main``)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``audit`` to ``fanpin``'s parser (``common`` carries ``--db``)."""
    a = sub.add_parser("audit", help="the audit log")
    verbs = a.add_subparsers(dest="audit_command", required=True)
    v = verbs.add_parser("verify", parents=[common], help="check that no audit row was rewritten or removed")
    v.add_argument("--lang", choices=("zh", "en"), default="zh")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 0 with the row count when the chain is intact; 1 naming the first broken row."""
    from fanpin import store
    from fanpin.core.i18n import translate
    from fanpin.store.audit import verify_chain

    engine = store.make_engine(args.db) if args.db else store.make_engine()
    try:
        store.check_schema(engine)
        report = verify_chain(engine)
    finally:
        engine.dispose()
    if report.intact:
        print(translate("cli.audit.intact", args.lang, n=report.rows))
        return 0
    print(translate(f"cli.audit.broken_{report.reason}", args.lang, id=report.first_broken, n=report.rows), file=sys.stderr)
    return 1
