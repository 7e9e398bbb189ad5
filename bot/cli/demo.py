"""`livecart demo`: a simulated live sale end to end, offline, with no Meta or Telegram account."""

from __future__ import annotations

import argparse

from bot.cli.errors import positive_number
from bot.demo import DemoOptions, run_demo
from bot.loop import run_async


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo", help="a simulated live sale end to end (no Meta or Telegram account needed)"
    )
    parser.add_argument("--seconds", type=positive_number, default=30.0, help="length of the sale")
    parser.add_argument("--rate", type=positive_number, default=12.0, help="comments per second")
    parser.add_argument(
        "--keep", action="store_true", help="stay up afterwards for the browser and staff API"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_async(run_demo(DemoOptions(seconds=args.seconds, rate=args.rate, keep=args.keep)))
    return 0
