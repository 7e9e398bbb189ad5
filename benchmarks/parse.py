"""`livecart parse` throughput beside the simplest one-regex parser.

Both stream the same ~60,000 JSON lines (the labelled corpus repeated, each line with its own id)
through the same loop of `livecart parse` (read, decode, parse, encode, write, flush when the
input pauses), in this process; only the parsing differs:
  baseline   one regular expression, `KEY [+x*] N` or nothing
  livecart   `livecart parse` as shipped (it remembers readings: live comments repeat)
  unmemoized livecart reading every line afresh, as it would a stream of all-new comments
It prints comments per second, the time ratio to the baseline (target: 2x or less), and the
share of comments the exact look-ups settled without the fuzzy matcher (target: 95% or more).

    python -m benchmarks.parse [--lines 60000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python benchmarks/parse.py`

from bot.cli.parse import Answer, answer_with, read_comment, stream_lines
from parsers import compile_lineup, parse_comment, read_lineup

ROOT = Path(__file__).resolve().parents[1]
CORPORA = (Path("/work/shared/corpus"), ROOT / "tests" / "parsers" / "data")
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


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=60_000)
    options.add_argument("--rounds", type=int, default=3)
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


if __name__ == "__main__":
    main()
