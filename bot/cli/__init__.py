"""The `livecart` command: one module per command, each with `register` and `run`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli import (
    bench,
    db,
    demo,
    inbox,
    live,
    members,
    outbox,
    pages,
    parse,
    replay,
    report,
    serve,
    simulate,
    worker,
)
from bot.cli.errors import CommandError

COMMANDS = (
    demo,
    serve,
    worker,
    db,
    live,
    pages,
    report,
    parse,
    replay,
    simulate,
    members,
    outbox,
    inbox,
    bench,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livecart",
        description="Live-stream social commerce bot: viewers' comments become orders.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except CommandError as error:
        print(f"livecart: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return code
