"""`fanpin todo --user NAME [--out FILE] [--lang zh|en] [--date YYYY-MM-DD]`: one user's daily digest
(我的待办) as plain text, for bureaus that send it through their own messaging system (a cron job
per user, say).  Sub-command registered by ``fanpin.cli.main.build_parser``.

The list is ``fanpin.workflow.todo.my_work`` for that user's principal as the app builds it (role
and townships read from the database), rendered by ``digest_text``; an unknown or disabled account
gets a message and exit code 2.  The digest names households, so handing it out is audited like the
page's download: one ``export`` row whose actor is ``cli:<os user>``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``todo`` to ``fanpin``'s parser (``common`` carries ``--db``)."""
    p = sub.add_parser("todo", parents=[common], help="a user's daily list of work (我的待办) as text, to stdout or a file")
    p.add_argument("--user", required=True, help="the account whose list it is")
    p.add_argument("--out", help="write the digest to this file (UTF-8) instead of standard output")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language (default zh)")
    p.add_argument("--date", help="the day the list is for, YYYY-MM-DD (default today)")
    p.set_defaults(func=cmd_todo)


def cmd_todo(args: argparse.Namespace) -> int:
    from fanpin import store
    from fanpin.access.roles import system_principal
    from fanpin.access.users import principal_for
    from fanpin.core.i18n import translate
    from fanpin.report.export import export_file
    from fanpin.workflow import todo

    lang = args.lang

    def fail(key: str, **params: object) -> int:
        print(f"fanpin: {translate(key, lang, **params)}", file=sys.stderr)
        return 2

    try:
        day = date.fromisoformat(args.date) if args.date else date.today()
    except ValueError:
        return fail("cli.todo.bad_date", value=args.date)
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        return fail("cli.todo.no_dir", path=str(out.parent))
    engine = store.make_engine(getattr(args, "db", None) or store.default_url())
    try:
        store.check_schema(engine)
        principal = principal_for(engine, args.user)
        if principal is None:
            return fail("cli.todo.no_user", user=args.user)
        digest = todo.my_work(engine, principal=principal, today=day)
        text = todo.digest_text(digest, principal, day, lambda key, **p: translate(key, lang, **p))
        data = export_file(engine, system_principal(), text.encode("utf-8"), f"todo_{principal.username}_{day:%Y%m%d}", "txt",
                           {"user": principal.username, "items": digest.count, "overdue": digest.overdue})
    finally:
        engine.dispose()
    if out is None:
        sys.stdout.write(text)
        return 0
    out.write_bytes(data)
    print(translate("cli.todo.wrote", lang, path=str(out), n=digest.count, overdue=digest.overdue), file=sys.stderr)
    return 0
