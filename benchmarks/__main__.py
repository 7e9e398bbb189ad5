"""Every benchmark suite, one table: `python -m benchmarks` (or `livecart bench`).

Runs parse, ingest, pipeline, replies and burst (each also runs alone as
`python -m benchmarks.NAME`, printing its own table) and prints one markdown table,
suite | figure | value | baseline | ratio | target | met, under a line naming the machine,
ready for the README. Progress goes to stderr, the table to stdout.

    python -m benchmarks [--only NAME[,NAME]] [--quick] [--redis URL] [--postgres URL]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import asyncpg
import orjson
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url

from benchmarks import burst, ingest, parse, pipeline, replies
from benchmarks.figures import Figure, Options, Target, table
from bot.cli.bench import add_options
from bot.cli.parse import answer_with
from bot.loop import run_async
from parsers import compile_lineup, parse_comment, read_lineup

Suite = Callable[[Options], list[Figure]]
USES_REDIS = ("ingest", "pipeline", "burst")


def parse_figures(options: Options) -> list[Figure]:
    """benchmarks/parse.py's measurement as figures (its own `main` prints it as text)."""
    lines, rounds = (6_000, 1) if options.quick else (60_000, 3)
    folder = parse.corpus()
    lineup = compile_lineup(read_lineup((folder / "lineup.csv").read_text(encoding="utf-8")))
    data = parse.stream_input(folder, lines)
    baseline = lines / parse.seconds(parse.baseline, data, rounds)
    # A fresh answer per round, so each round starts with nothing remembered.
    remembering = min(parse.seconds(answer_with(lineup), data, 1) for _ in range(rounds))
    fresh = parse.seconds(answer_with(lineup, memory=0), data, rounds)
    comments = Counter((c["text"], c["current"]) for c in map(orjson.loads, data.splitlines()))
    fuzzy = sum(n for (text, on), n in comments.items() if parse_comment(text, lineup, on).fuzzy)
    # Throughput at least half the baseline's: the "2x the baseline's time or less" target.
    within_2x = Target(">=", 0.5, of_ratio=True)
    return [
        Figure("parse", "comments/s", lines / remembering, baseline=baseline,
               baseline_name="one regex", target=within_2x),
        Figure("parse", "comments/s, every one read fresh", lines / fresh, baseline=baseline,
               baseline_name="one regex", target=within_2x),
        Figure("parse", "settled by exact look-ups", 100 * (1 - fuzzy / lines), "%",
               target=Target(">=", 95)),
    ]  # fmt: skip


SUITES: dict[str, Suite] = {
    "parse": parse_figures,
    "ingest": ingest.run,
    "pipeline": pipeline.run,
    "replies": replies.run,
    "burst": burst.run,
}


def bench(names: Sequence[str], options: Options) -> int:
    """Run the named suites in their usual order; print the machine and the table."""
    machine = describe_machine(options, uses_redis=any(name in USES_REDIS for name in names))
    with scratch_postgres(options.postgres_url) as postgres_url:
        figures, failed = run_suites(names, replace(options, postgres_url=postgres_url))
    print(f"{machine}\n\n{table(figures)}")
    if failed:
        print(f"\nNot measured (failed): {', '.join(failed)}")
    return 1 if failed else 0


def run_suites(names: Sequence[str], options: Options) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    failed: list[str] = []
    for name in (name for name in SUITES if name in names):
        print(f"{name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            figures += SUITES[name](options)
        except Exception as error:  # noqa: BLE001 - one suite's failure must not lose the rest
            print(f"{name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            failed.append(name)
        print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return figures, failed


@contextmanager
def scratch_postgres(url: str | None) -> Iterator[str | None]:
    """A database of the bench's own beside the one `--postgres` names, dropped afterwards:
    the suites create tables and rows, which must not land in someone's database."""
    if url is None:
        yield None
        return
    name = f"livecart_bench_{uuid.uuid4().hex[:8]}"
    try:
        yield run_async(burst.create_database(url, name))
    finally:
        run_async(burst.drop_database(url, name))


def describe_machine(options: Options, *, uses_redis: bool) -> str:
    gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    parts = [
        f"{os.cpu_count()} cores",
        f"{gib:.0f} GiB RAM",
        f"{platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}{_uvloop()}",
    ]
    if uses_redis:
        parts.append(_redis_version(options.redis_url))
    if options.postgres_url:
        parts.append(_postgres_version(options.postgres_url))
    load = os.getloadavg()[0]
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    sizes = "quick sizes" if options.quick else "full sizes"
    return f"Machine: {', '.join(parts)}; {when}; load average {load:.2f} at start; {sizes}."


def _uvloop() -> str:
    try:
        return f" with uvloop {importlib.metadata.version('uvloop')}"
    except importlib.metadata.PackageNotFoundError:
        return ""


def _redis_version(url: str) -> str:
    try:
        with Redis.from_url(url, socket_timeout=2) as redis:
            return f"Redis {redis.info('server')['redis_version']}"
    except RedisError:
        return "Redis not answering"


def _postgres_version(url: str) -> str:
    async def version() -> str:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn, timeout=5)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    try:
        return f"PostgreSQL {run_async(version())}"
    except (OSError, asyncpg.PostgresError):
        return "PostgreSQL not answering"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_options(parser)
    args = parser.parse_args()
    options = Options(quick=args.quick, redis_url=args.redis, postgres_url=args.postgres)
    return bench(args.only, options)


if __name__ == "__main__":
    sys.exit(main())
