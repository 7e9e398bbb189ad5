"""`livecart parse`: read comments against a lineup (contract.md, "`livecart parse` lines").

JSON lines in on stdin, one JSON line out per line in, written as they are read; or one comment
with `--text`, printed for a person.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, cast

import orjson

from bot.cli.errors import CommandError, read_text_file
from parsers import (
    CompiledLineup,
    LineupError,
    ParseResult,
    compile_lineup,
    parse_comment,
    read_lineup,
)

# Live comments repeat (`+1`, `A2+1`): the readings of short ones are remembered, until this
# many are held.
_REMEMBERED = 65536
_SHORT = 200
_CHUNK = 1 << 16

Answer = Callable[[int, bytes], bytes]  # (line number, line in) -> line out


class Source(Protocol):
    def read1(self, size: int = ..., /) -> bytes: ...


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "parse",
        help="parse comments against a lineup: JSON lines in on stdin, one JSON line out each",
    )
    parser.add_argument("--lineup", required=True, metavar="FILE", help="the lineup CSV")
    parser.add_argument("--text", help="parse this one comment and print it for a person")
    parser.add_argument(
        "--current", metavar="KEY", help="with --text: the keyword of the product on screen"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    lineup = load_lineup(Path(args.lineup))
    if args.text is not None:
        print(readable(parse_comment(args.text, lineup, args.current)))
        return 0
    if args.current is not None:
        raise CommandError("--current goes with --text; each line in carries its own", 2)
    # stdin is a buffered reader: its read1 takes what has arrived without waiting for more.
    source = cast(io.BufferedReader, sys.stdin.buffer)
    try:
        stream_lines(source, sys.stdout.buffer, answer_with(lineup))
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit-time flush from
        # failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def load_lineup(path: Path) -> CompiledLineup:
    text = read_text_file(path, "the lineup")
    try:
        return compile_lineup(read_lineup(text))
    except LineupError as error:
        raise CommandError(f"lineup {path} {error}", 2) from None


def readable(result: ParseResult) -> str:
    lines = [result.describe()]
    for candidate in result.candidates:
        lines.append("  could be: " + ", ".join(item.describe() for item in candidate))
    return "\n".join(lines)


def stream_lines(source: Source, sink: Sink, answer: Answer) -> None:
    """Answer every line of `source` on `sink`, one line out per line in.

    Answers are flushed whenever the input pauses (each read takes what has arrived), so a
    program feeding comments one by one sees each answer at once, and a large input is not
    slowed by one write per line.
    """
    number = 0
    pending = b""
    while chunk := source.read1(_CHUNK):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            number += 1
            sink.write(answer(number, line))
        sink.flush()
    if pending.strip():
        sink.write(answer(number + 1, pending))
        sink.flush()


def answer_with(lineup: CompiledLineup, memory: int = _REMEMBERED) -> Answer:
    """Answers against `lineup`, remembering up to `memory` readings (0: none)."""
    remembered: dict[tuple[str, str | None], ParseResult] = {}

    def answer(number: int, line: bytes) -> bytes:
        comment = read_comment(number, line)
        if isinstance(comment, bytes):
            return comment
        comment_id, text, current = comment
        result = remembered.get((text, current))
        if result is None:
            result = parse_comment(text, lineup, current)
            if memory and len(text) <= _SHORT:
                if len(remembered) >= memory:
                    remembered.clear()
                remembered[text, current] = result
        return orjson.dumps(result.to_json(comment_id), option=orjson.OPT_APPEND_NEWLINE)

    return answer


def read_comment(number: int, line: bytes) -> tuple[str | int | None, str, str | None] | bytes:
    """The id, text and current of a line in, or the error line to answer it with."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return error_line(None, f"line {number}: not valid JSON ({error})")
    if not isinstance(data, dict):
        return error_line(None, f"line {number}: expected a JSON object")
    comment_id = data.get("id")
    if isinstance(comment_id, bool) or not isinstance(comment_id, str | int | None):
        return error_line(None, f"line {number}: id must be a string or a whole number")
    text = data.get("text")
    if not isinstance(text, str):
        return error_line(comment_id, f"line {number}: text must be a string")
    current = data.get("current")
    if not isinstance(current, str | None):
        return error_line(comment_id, f"line {number}: current must be a keyword or null")
    return comment_id, text, current


def error_line(comment_id: str | int | None, reason: str) -> bytes:
    line = {"id": comment_id, "status": "error", "reason": reason}
    return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
