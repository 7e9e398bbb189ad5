"""`livecart outbox status` and `livecart outbox retry [--kind KIND]`: look at the outbox and
send parked (dead) messages again."""

from __future__ import annotations

import argparse

from bot.cli.errors import load_settings, service_errors
from bot.loop import run_async
from bot.runtime import open_runtime
from bot.settings import Settings
from storage.outbox import KINDS, STATUSES, counts, retry_dead


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("outbox", help="outbox status, and sending dead messages again")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="how many messages per kind and status")
    status.set_defaults(func=run_status)
    retry = actions.add_parser(
        "retry", help="send dead (parked) messages again: they become pending"
    )
    retry.add_argument(
        "--kind", choices=KINDS, help="only messages of this kind (default: every kind)"
    )
    retry.set_defaults(func=run_retry)


def run_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        found = run_async(_counts(settings))
    print(format_counts(found))
    return 0


def run_retry(args: argparse.Namespace) -> int:
    settings = load_settings()
    kind: str | None = args.kind
    with service_errors(settings):
        revived = run_async(_retry(settings, kind))
    what = f"{kind} messages" if kind else "messages"
    print(f"{revived} dead {what} are pending again")
    return 0


def format_counts(found: dict[tuple[str, str], int]) -> str:
    """One line per kind that has messages, a column per status; `outbox is empty` otherwise."""
    kinds = [kind for kind in KINDS if any(k == kind for k, _ in found)]
    kinds += sorted({kind for kind, _ in found} - set(KINDS))
    if not kinds:
        return "the outbox is empty"
    width = max(len("kind"), *(len(kind) for kind in kinds))
    lines = ["kind".ljust(width) + "".join(f"{status:>10}" for status in STATUSES)]
    for kind in kinds:
        figures = "".join(f"{found.get((kind, status), 0):>10}" for status in STATUSES)
        lines.append(kind.ljust(width) + figures)
    return "\n".join(lines)


async def _counts(settings: Settings) -> dict[tuple[str, str], int]:
    async with open_runtime(settings, migrate=False) as runtime, runtime.sessions() as session:
        return await counts(session)


async def _retry(settings: Settings, kind: str | None) -> int:
    kinds = None if kind is None else (kind,)
    async with open_runtime(settings, migrate=False) as runtime, runtime.sessions.begin() as s:
        return await retry_dead(s, kinds)
