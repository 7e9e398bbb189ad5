"""`livecart inbox status` and `livecart inbox retry`: the delivery queue, and queueing parked
deliveries again (after the fix for what failed them is deployed)."""

from __future__ import annotations

import argparse

from bot.cli.errors import load_settings, service_errors
from bot.loop import run_async
from bot.runtime import open_runtime
from bot.settings import Settings
from storage.queue import ParkedDelivery

SHOWN = 20


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("inbox", help="the delivery queue, and its parked deliveries")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status", help="deliveries waiting, and the parked ones with their errors"
    )
    status.set_defaults(func=run_status)
    retry = actions.add_parser("retry", help="queue every parked delivery again")
    retry.set_defaults(func=run_retry)


def run_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        queued, parked, shown = run_async(_status(settings))
    print(format_status(queued, parked, shown))
    return 0


def run_retry(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        moved = run_async(_retry(settings))
    print(f"{moved} parked deliveries are queued again")
    return 0


def format_status(queued: int, parked: int, shown: list[ParkedDelivery]) -> str:
    lines = [f"{queued} deliveries queued, {parked} parked"]
    for delivery in shown:
        lines.append(
            f"  parked {delivery.parked_at:%Y-%m-%d %H:%M:%S} UTC after {delivery.attempts} "
            f"attempts ({len(delivery.body):,} bytes): {delivery.error.splitlines()[0][:160]}"
        )
    if parked > len(shown):
        lines.append(f"  ... and {parked - len(shown)} more")
    return "\n".join(lines)


async def _status(settings: Settings) -> tuple[int, int, list[ParkedDelivery]]:
    async with open_runtime(settings, migrate=False) as runtime:
        parked, shown = await runtime.queue.parked(SHOWN)
        return await runtime.queue.depth(), parked, shown


async def _retry(settings: Settings) -> int:
    async with open_runtime(settings, migrate=False) as runtime:
        return await runtime.queue.unpark()
