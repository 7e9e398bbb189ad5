"""`livecart db upgrade`: create or migrate the schema at DATABASE_URL."""

from __future__ import annotations

import argparse

from bot.cli.errors import load_settings, service_errors
from bot.loop import run_async
from storage.db import create_engine
from storage.migrate import upgrade


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("db", help="database schema commands")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    up = actions.add_parser(
        "upgrade", help="create or migrate the schema (Alembic) at DATABASE_URL"
    )
    up.set_defaults(func=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        before, after = run_async(_upgrade(settings.database_url))
    if before == after:
        print(f"database schema already at {after}; nothing to do")
    else:
        print(f"database schema migrated from {before or 'empty'} to {after}")
    return 0


async def _upgrade(url: str) -> tuple[str | None, str]:
    engine = create_engine(url)
    try:
        return await upgrade(engine)
    finally:
        await engine.dispose()
