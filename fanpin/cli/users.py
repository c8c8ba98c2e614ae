"""`fanpin user add|passwd|disable|enable|list` (sub-command registered by ``fanpin.cli.build_parser``).

Passwords are never command-line arguments (they would show in ``ps`` and the shell
history): they are typed at a ``getpass`` prompt (twice) or read from standard
input with ``--password-stdin`` (one line, for scripts).  Every change is made as
``system_principal()`` (``cli:<os user>`` in the audit log): whoever runs the command at the
server can open the database anyway.
"""

from __future__ import annotations

import argparse
import functools
import getpass
import sys

from fanpin.access.roles import ROLES, system_principal


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the sub-command to ``fanpin``'s parser (``common`` carries ``--db``)."""
    u = sub.add_parser("user", help="user accounts (the first administrator is created here)")
    us = u.add_subparsers(dest="user_command", required=True)

    add = us.add_parser("add", parents=[common], help="create a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--townships", help="case workers: comma-separated township region codes (12 digits)")
    add.add_argument("--region", help="province_leader / city_leader: the province's or city's region code (99, 9901 or 12 digits)")
    add.add_argument("--display-name", help="name shown in the sidebar")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input (one line)")
    add.add_argument("--no-password", action="store_true", help="identity-provider (OIDC) account: the username is the e-mail, no local password")
    add.set_defaults(func=_reports_user_errors(cmd_add))

    pw = us.add_parser("passwd", parents=[common], help="set a user's password (also lifts a lock-out)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input (one line)")
    pw.set_defaults(func=_reports_user_errors(cmd_passwd))

    dis = us.add_parser("disable", parents=[common], help="disable a user (they can no longer log in)")
    dis.add_argument("username")
    dis.set_defaults(func=_reports_user_errors(lambda a: cmd_disable(a, True)))
    en = us.add_parser("enable", parents=[common], help="enable a disabled user again")
    en.add_argument("username")
    en.set_defaults(func=_reports_user_errors(lambda a: cmd_disable(a, False)))

    ro = us.add_parser("role", parents=[common], help="change a user's role (and a case worker's townships)")
    ro.add_argument("username")
    ro.add_argument("--role", required=True, choices=ROLES)
    ro.add_argument("--townships", help="case workers: comma-separated township region codes (12 digits)")
    ro.add_argument("--region", help="province_leader / city_leader: the province's or city's region code (99, 9901 or 12 digits)")
    ro.set_defaults(func=_reports_user_errors(cmd_role))

    ls = us.add_parser("list", parents=[common], help="list users (no password hashes)")
    ls.set_defaults(func=cmd_list)

    first = us.add_parser("first-admin", parents=[common], help="when no user exists yet, ask for the first administrator (what `make run` calls)")
    first.set_defaults(func=cmd_first_admin)


def _reports_user_errors(command):  # noqa: ANN001, ANN202 - a decorator of sub-command functions
    """A refused change (no such user, a bad role or township, a short password ...) ends the
    command with its message on stderr and exit code 2, in one place for every sub-command."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from fanpin.access import users

        try:
            return command(args)
        except users.UserError as exc:
            print(f"fanpin: {exc}", file=sys.stderr)
            return 2

    return run


def _engine(args: argparse.Namespace):  # noqa: ANN202 - an Engine (sqlalchemy imported lazily: the CLI starts fast)
    from fanpin import store

    engine = store.make_engine(getattr(args, "db", None) or store.default_url())
    store.check_schema(engine)
    return engine


def read_password(from_stdin: bool) -> str | None:
    """The new password: one line of stdin, or typed twice at a prompt.  None when they differ."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        print("fanpin: the passwords differ", file=sys.stderr)
        return None
    return first


def _townships(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def cmd_add(args: argparse.Namespace) -> int:
    from fanpin.access import users

    engine = _engine(args)
    # check the fields before asking for a password
    users.validate(engine, args.username, args.role, _townships(args.townships), None, args.region)
    if users.get_user(engine, args.username.strip()) is not None:
        print(f"fanpin: user {args.username} exists already (use `fanpin user passwd`)", file=sys.stderr)
        return 2
    password = None
    if not args.no_password:
        password = read_password(args.password_stdin)
        if password is None:
            return 2
    u = users.add_user(engine, args.username, args.role, password, townships=_townships(args.townships), display_name=args.display_name,
                       principal=system_principal(), region=args.region)
    scope = f" townships {','.join(sorted(u.townships))}" if u.townships else f" region {u.region}" if u.region else ""
    print(f"user {u.username} added: role {u.role}{scope}")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    from fanpin.access import users

    engine = _engine(args)
    if users.get_user(engine, args.username) is None:
        print(f"fanpin: no user {args.username}", file=sys.stderr)
        return 2
    password = read_password(args.password_stdin)
    if password is None:
        return 2
    users.set_password(engine, args.username, password, principal=system_principal())
    print(f"password of {args.username} changed")
    return 0


def cmd_disable(args: argparse.Namespace, disabled: bool) -> int:
    from fanpin.access import users

    users.set_disabled(_engine(args), args.username, disabled, principal=system_principal())
    print(f"user {args.username} {'disabled' if disabled else 'enabled'}")
    return 0


def cmd_role(args: argparse.Namespace) -> int:
    """A new role takes effect at the user's next click (the app re-reads the row on every run)."""
    from fanpin.access import users

    engine = _engine(args)
    users.set_role(engine, args.username, args.role, _townships(args.townships), principal=system_principal(), region=args.region)
    u = users.get_user(engine, args.username)
    scope = f" townships {args.townships}" if args.townships else f" region {u.region}" if u is not None and u.region else ""
    print(f"user {args.username}: role {args.role}{scope}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from datetime import datetime

    import pandas as pd

    from fanpin.access import users
    from fanpin.access.roles import system_principal

    frame = users.list_users(_engine(args), principal=system_principal())
    now = datetime.now()
    for r in frame.itertuples(index=False):
        locked = r.locked_until is not None and not pd.isna(r.locked_until) and pd.Timestamp(r.locked_until) > now
        state = "disabled" if r.disabled else ("locked" if locked else "active")
        towns = r.townships if isinstance(r.townships, str) and r.townships else "-"  # no "nan" for an account without townships
        print(f"{r.username}\t{r.role}\t{towns}\t{state}")
    return 0


def cmd_first_admin(args: argparse.Namespace) -> int:
    """`make run` calls this before starting the app: with no account in the database and a
    person at the terminal, it asks for the first administrator's name and password (there is
    no default account); otherwise it only says what to do.  Never fails the start-up."""
    from fanpin.access import users

    engine = _engine(args)
    if users.user_count(engine):
        return 0
    if not sys.stdin.isatty():
        print("fanpin: no user yet; create the first administrator with `.venv/bin/fanpin user add NAME --role admin`", file=sys.stderr)
        return 0
    print("还没有任何用户：请创建第一个系统管理员。 / No user yet: create the first administrator.")
    name = input("用户名 / Username: ").strip()
    if not name:
        print("fanpin: no name given; create one later with `.venv/bin/fanpin user add NAME --role admin`", file=sys.stderr)
        return 0
    password = read_password(False)
    try:
        if password is None:
            raise users.UserError("differ", "the passwords differ")
        u = users.add_user(engine, name, "admin", password, principal=system_principal())
    except users.UserError as exc:
        print(f"fanpin: {exc}; create one later with `.venv/bin/fanpin user add NAME --role admin`", file=sys.stderr)
        return 0
    print(f"user {u.username} added: role admin — log in at http://127.0.0.1:8501")
    return 0
