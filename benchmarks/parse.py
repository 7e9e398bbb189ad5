"""`livecart parse` throughput beside the simplest one-regex parser.

Both stream the same ~60,000 JSON lines (the labelled corpus repeated, each line with its own id)
through the same loop of `livecart parse` (read, decode, parse, encode, write, flush when the
input pauses), in this process; only the parsing differs:
  baseline   one regular expression, `KEY [+x*] N` or nothing
  livecart   `livecart parse` as shipped (it remembers readings: live comments repeat)
  unmemoized livecart reading every line afresh, as it would a stream of all-new comments
It prints comments per second, the time ratio to the baseline (target: 2x or less), and the
share of comments the exact look-ups settled without the fuzzy matcher (target: 95% or more).
With --stages it also prints what reading a line afresh costs, stage by stage.

    python -m benchmarks.parse [--lines 60000] [--rounds 3] [--stages]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/parse.py`

from bot.cli.parse import Answer, answer_with, read_comment, stream_lines
from parsers import CompiledLineup, compile_lineup, parse_comment, read_lineup
from parsers.parse import read_fully
from parsers.scanner import tokenize
from parsers.shortcut import read_plainly
from parsers.text import Comment, normalize

ROOT = Path(__file__).resolve().parents[1]
CORPORA = (Path("/work/shared/corpus"), ROOT / "tests" / "parsers" / "data")
T = TypeVar("T")
ONE_REGEX = re.compile(r"([A-Za-z]+\d+)\s*[+xX*]\s*(\d+)")


def baseline(number: int, line: bytes) -> bytes:
    comment = read_comment(number, line)
    if isinstance(comment, bytes):
        return comment
    comment_id, text, _ = comment
    match = ONE_REGEX.search(text)
    items = [{"action": "add", "sku": match[1].upper(), "quantity": int(match[2])}] if match else []
    line_out = {"id": comment_id, "status": "order" if match else "none", "items": items}
    return orjson.dumps({**line_out, "reason": ""}, option=orjson.OPT_APPEND_NEWLINE)


def corpus() -> Path:
    return next(folder for folder in CORPORA if (folder / "comments.jsonl").is_file())


def stream_input(folder: Path, lines: int) -> bytes:
    cases = [json.loads(line) for line in (folder / "comments.jsonl").read_text().splitlines()]
    out = []
    for number in range(lines):
        case = cases[number % len(cases)]
        comment = {"id": f"{case['id']}#{number}", "text": case["text"], "current": case["current"]}
        out.append(orjson.dumps(comment))
    return b"\n".join(out) + b"\n"


def seconds(answer: Answer, data: bytes, rounds: int) -> float:
    """The best of `rounds` runs: the least disturbed by whatever else the machine does."""
    best = float("inf")
    for _ in range(rounds):
        sink = io.BytesIO()
        started = time.perf_counter()
        stream_lines(io.BytesIO(data), sink, answer)
        best = min(best, time.perf_counter() - started)
    return best


def stages(lineup: CompiledLineup, data: bytes, rounds: int) -> dict[str, float]:
    """Seconds each stage of reading every line afresh takes over the whole input. Each stage
    runs over all lines at once (the best of `rounds`) with the collector paused: stages keep
    every line's intermediate results, which a streaming read does not."""
    lines = data.splitlines()
    taken: dict[str, float] = {}

    def timed(name: str, stage: Callable[[], list[T]]) -> list[T]:
        best, out = float("inf"), list[T]()
        for _ in range(rounds):
            started = time.perf_counter()
            out = stage()
            best = min(best, time.perf_counter() - started)
        taken[name] = best
        return out

    gc.disable()
    try:
        decoded = timed(
            "decode (baseline too)", lambda: [read_comment(n, line) for n, line in enumerate(lines)]
        )
        said = [comment for comment in decoded if not isinstance(comment, bytes)]
        texts = [text for _, text, _ in said]
        currents = [current for _, _, current in said]
        normalized = timed("normalize", lambda: [normalize(text) for text in texts])
        tokens = timed("tokenize", lambda: [tokenize(text, lineup) for text in normalized])
        screens = timed(
            "product on screen", lambda: [lineup.find(c) if c else None for c in currents]
        )
        quick = timed(
            "shortcut",
            lambda: [read_plainly(t, lineup, s) for t, s in zip(tokens, screens, strict=True)],
        )
        results = timed(
            "full path (the rest)",
            lambda: [
                answer or read_fully(Comment(text, norm), toks, lineup, screen, current)
                for answer, text, norm, toks, screen, current in zip(
                    quick, texts, normalized, tokens, screens, currents, strict=True
                )
            ],
        )
        timed(
            "encode",
            lambda: [
                orjson.dumps(result.to_json(comment_id), option=orjson.OPT_APPEND_NEWLINE)
                for (comment_id, _, _), result in zip(said, results, strict=True)
            ],
        )
    finally:
        gc.enable()
    return taken


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=60_000)
    options.add_argument("--rounds", type=int, default=3)
    options.add_argument("--stages", action="store_true", help="time each stage of a fresh read")
    args = options.parse_args()
    folder = corpus()
    lineup = compile_lineup(read_lineup((folder / "lineup.csv").read_text(encoding="utf-8")))
    data = stream_input(folder, args.lines)
    timings = {
        "baseline": seconds(baseline, data, args.rounds),
        # A fresh answer per round, so each round starts with nothing remembered.
        "livecart": min(seconds(answer_with(lineup), data, 1) for _ in range(args.rounds)),
        "unmemoized": seconds(answer_with(lineup, memory=0), data, args.rounds),
    }
    comments = Counter(
        (comment["text"], comment["current"]) for comment in map(orjson.loads, data.splitlines())
    )
    fuzzy = sum(
        count
        for (text, current), count in comments.items()
        if parse_comment(text, lineup, current).fuzzy
    )
    print(f"{args.lines} comments from {folder}")
    for name, taken in timings.items():
        ratio = taken / timings["baseline"]
        print(f"{name:>11}: {args.lines / taken:>10,.0f} comments/s  {ratio:5.2f}x baseline time")
    settled = 1 - fuzzy / args.lines
    print(f"settled by exact look-ups, without the fuzzy matcher: {settled:.1%}")
    if args.stages:
        print("a fresh read, stage by stage (microseconds a line):")
        for name, taken in stages(lineup, data, args.rounds).items():
            print(f"{name:>22}: {taken / args.lines * 1e6:6.2f}")


if __name__ == "__main__":
    main()
