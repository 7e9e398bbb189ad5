"""`livecart bench`: every benchmark suite, one table (from a source checkout).

The suites live in the repository's `benchmarks/` folder, which is not installed with the
package: this command finds it in the folder it runs in, or beside `bot/` (an editable
install), and otherwise says so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import bot
from bot.cli.errors import CommandError

SUITES = ("parse", "ingest", "pipeline", "replies", "burst")
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bench", help="run the benchmarks (from a source checkout) and print one table"
    )
    add_options(parser)
    parser.set_defaults(func=run)


def add_options(parser: argparse.ArgumentParser) -> None:
    """The options of `livecart bench` and `python -m benchmarks` alike."""
    parser.add_argument(
        "--only",
        type=suite_names,
        default=SUITES,
        metavar="NAME[,NAME]",
        help=f"run only these suites ({', '.join(SUITES)})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: the whole bench in a minute or two"
    )
    parser.add_argument(
        "--redis",
        default=DEFAULT_REDIS,
        metavar="URL",
        help=f"Redis for the Redis rows of ingest, pipeline and burst (default {DEFAULT_REDIS})",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also measure PostgreSQL on this server (ingest, pipeline, burst), in databases "
        "of the bench's own, dropped afterwards",
    )


def suite_names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = ", ".join(name for name in names if name not in SUITES)
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown suite {unknown or repr(text)}: choose from {', '.join(SUITES)}"
        )
    return names


def run(args: argparse.Namespace) -> int:
    find_benchmarks([Path.cwd(), Path(bot.__file__).resolve().parents[1]])
    # Imported only now: `benchmarks` becomes importable once its checkout is on the path.
    from benchmarks.__main__ import bench
    from benchmarks.figures import Options

    options = Options(quick=args.quick, redis_url=args.redis, postgres_url=args.postgres)
    return bench(args.only, options)


def find_benchmarks(places: Sequence[Path]) -> None:
    """Put the first checkout holding `benchmarks/` first on the import path, or stop with one
    sentence."""
    for checkout in places:
        if (checkout / "benchmarks" / "__init__.py").is_file():
            if str(checkout) not in sys.path:
                sys.path.insert(0, str(checkout))
            return
    raise CommandError(
        "livecart bench runs from a source checkout (the benchmarks are not installed with "
        "the package): run it in the repository's folder",
        exit_code=2,
    )
