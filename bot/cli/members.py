"""`livecart members import FILE.csv`: load the shop's existing members."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli.errors import CommandError, load_settings, read_text_file, service_errors
from bot.loop import run_async
from bot.member_import import MemberFileError, MemberRow, read_members
from bot.runtime import open_runtime
from bot.settings import Settings
from storage.member_import import import_members


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("members", help="the shop's members")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    load = actions.add_parser(
        "import", help="load members from a CSV with name, phone, email, tier, blocked"
    )
    load.add_argument("file", type=Path)
    load.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    try:
        rows = read_members(read_text_file(args.file, "the members file"))
    except MemberFileError as error:
        raise CommandError(f"{args.file} {error}; nothing was imported", 2) from None
    settings = load_settings()
    with service_errors(settings):
        created, updated = run_async(_import(settings, rows))
    print(f"{created} members created, {updated} updated")
    return 0


async def _import(settings: Settings, rows: list[MemberRow]) -> tuple[int, int]:
    async with open_runtime(settings, migrate=False) as runtime, runtime.sessions.begin() as s:
        return await import_members(s, rows)
