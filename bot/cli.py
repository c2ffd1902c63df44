"""Command line: ``python -m bot serve | run | shell | db upgrade | import orders | demo-data |
kb validate``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.settings import PROJECT_ROOT, Settings, SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the web service only")
    for name, help_text in (
        ("run", "run the Rasa server, the action server and the web service"),
        ("shell", "chat in the terminal (rasa shell) with the action server and web service"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--rasa",
            type=Path,
            default=PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa",
            help="the rasa executable of Rasa's environment",
        )
    db = commands.add_parser("db", help="database tools")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply the database migrations (also done at start-up)")
    importer = commands.add_parser("import", help="import data exported from the store")
    import_commands = importer.add_subparsers(dest="import_command", required=True)
    orders = import_commands.add_parser("orders", help="orders from a CSV (Shopify-style) or JSON file")
    orders.add_argument("file", type=Path)
    commands.add_parser("demo-data", help="load the demo staff, customers and orders")
    staff = commands.add_parser("staff", help="staff accounts")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_commands.add_parser("add", help="create a staff account (or reset its password)")
    add.add_argument("email")
    add.add_argument("--name", default="")
    add.add_argument("--role", choices=("agent", "manager", "admin"), default="agent")
    add.add_argument("--languages", default="", help='the languages they read, e.g. "en es"')
    add.add_argument("--team", default="support", help="their team in data/service.yml")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    token = commands.add_parser("customer-token", help="sign a customer token (for trying the widget)")
    token.add_argument("customer_id")
    token.add_argument("email")
    token.add_argument("--hours", type=float, default=24.0, help="valid for this long (default 24)")
    kb = commands.add_parser("kb", help="knowledge base tools")
    kb_commands = kb.add_subparsers(dest="kb_command", required=True)
    validate = kb_commands.add_parser("validate", help="check the FAQ files; non-zero exit on errors")
    validate.add_argument("directory", nargs="?", type=Path, default=PROJECT_ROOT / "knowledge_base")
    args = parser.parse_args(argv)
    if args.command == "kb":
        return validate_knowledge_base(args.directory)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2

    if args.command == "db":
        from bot.db.database import upgrade

        upgrade(settings.database_url)
        print(f"Database is up to date: {settings.database_url}")
        return 0

    if args.command == "staff":
        return add_staff_member(settings, args)

    if args.command == "customer-token":
        import time

        from bot.orders.tokens import sign

        expires = int(time.time() + args.hours * 3600)
        print(sign(args.customer_id, args.email, expires, settings.customer_token_secret))
        return 0

    if args.command == "import":
        return import_orders(settings, args.file)

    if args.command == "demo-data":
        from bot.db.database import Database, upgrade
        from bot.orders import demo

        upgrade(settings.database_url)
        report = demo.load(Database(settings.database_url))
        print(f"Demo data loaded: {report.created} new and {report.updated} updated orders.")
        return 0

    if args.command == "serve":
        from aiohttp import web

        from bot.db.database import upgrade
        from bot.web.app import create_app

        upgrade(settings.database_url)

        web.run_app(
            create_app(settings), host=settings.host, port=settings.web_port, print=None, shutdown_timeout=5
        )
        return 0

    from bot.supervisor import run

    return run(settings, args.rasa, shell=args.command == "shell")


def validate_knowledge_base(directory: Path) -> int:
    """Print every problem with file and line, then which entries lack which languages."""
    from bot.knowledge.loader import load_directory
    from bot.languages import SUPPORTED_LANGUAGES

    if not directory.is_dir():
        print(f"{directory} is not a directory", file=sys.stderr)
        return 2
    base, problems = load_directory(directory)
    for problem in problems:
        print(f"error: {problem}")
    coverage = base.coverage(SUPPORTED_LANGUAGES)
    print(f"{len(base.entries)} entries loaded, {len(problems)} error(s).")
    if coverage:
        print("Translation coverage: entries lacking languages")
        for entry_id, missing in coverage.items():
            print(f"  {entry_id}: {' '.join(missing)}")
    else:
        print(f"Translation coverage: every entry in all {len(SUPPORTED_LANGUAGES)} languages.")
    return 1 if problems else 0


def import_orders(settings: Settings, path: Path) -> int:
    """Import orders, print one line per bad order; non-zero exit if any was bad."""
    from bot.db.database import Database, upgrade
    from bot.orders.importer import ImportFileError, import_file

    if not path.is_file():
        print(f"{path} is not a file", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    try:
        report = import_file(Database(settings.database_url), path, show_progress=True)
    except ImportFileError as error:
        print(f"Cannot import {path.name}: {error}", file=sys.stderr)
        return 2
    for where, number, message in report.errors:
        print(f"error: {path.name} {where} (order {number}): {message}")
    print(
        f"{report.imported} orders imported ({report.created} new, {report.updated} updated), "
        f"{len(report.errors)} with errors."
    )
    return 1 if report.errors else 0


def add_staff_member(settings: Settings, args: argparse.Namespace) -> int:
    """Create a staff account; the password is asked twice (or read from stdin)."""
    import getpass

    from bot.db.database import Database, upgrade
    from bot.staff.accounts import AccountError, add_staff

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("The passwords differ.", file=sys.stderr)
            return 2
    upgrade(settings.database_url)
    try:
        with Database(settings.database_url).session() as session:
            staff = add_staff(session, args.email, args.name, args.role, password, args.languages, args.team)
            print(f"{staff.role} {staff.email} is ready to sign in.")
    except AccountError as error:
        print(f"Cannot add {args.email}: {error}", file=sys.stderr)
        return 2
    return 0
