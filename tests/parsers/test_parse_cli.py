"""`livecart parse`: streaming JSON lines, `--text` for a person, refusing a bad lineup."""

from __future__ import annotations

import argparse
import io
import json
import select
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.cli import parse as command
from bot.cli.errors import CommandError
from tests.cli import LIVECART, clean_env, livecart
from tests.parsers.lineups import DATA, SHOP

LINEUP = str(DATA / "lineup.csv")


def parse(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`livecart parse ...` as a person or a program runs it."""
    return livecart("parse", *args, env=clean_env(), cwd=DATA, stdin=stdin)


def answers(lines: bytes) -> list[dict[str, Any]]:
    sink = io.BytesIO()
    command.stream_lines(io.BytesIO(lines), sink, command.answer_with(SHOP))
    return [json.loads(line) for line in sink.getvalue().decode().splitlines()]


def test_each_line_in_gets_its_line_out() -> None:
    out = answers(
        b'{"id": "c1", "text": "XL2+2", "current": null}\n'
        b'{"id": "c2", "text": "+1", "current": "K07"}\n'
        b'{"id": 3, "text": "\xe5\x93\x88\xe5\x93\x88"}\n'
    )
    assert out == [
        {
            "id": "c1",
            "status": "order",
            "items": [{"action": "add", "sku": "XL2", "quantity": 2}],
            "reason": "",
        },
        {
            "id": "c2",
            "status": "review",
            "items": [],
            "reason": "K07 (on screen) needs a colour (黑/白) and a size (38/40)",
        },
        {"id": 3, "status": "none", "items": [], "reason": ""},
    ]


def test_a_remembered_reading_is_for_its_product_on_screen() -> None:
    line = b'{"id": 1, "text": "+2", "current": "%s"}\n'
    out = answers(line % b"XL2" + line % b"mango" + line % b"XL2")
    skus = [item["sku"] for line_out in out for item in line_out["items"]]
    assert skus == ["XL2", "MANGO-BOX", "XL2"]


def test_a_bad_line_gets_an_error_line_and_the_stream_goes_on() -> None:
    out = answers(
        b'{"id": "c1", "text": "XL2+1"}\n'
        b"not json\n"
        b"\n"
        b"[1, 2]\n"
        b'{"id": "c5", "text": 5}\n'
        b'{"id": "c6", "text": "XL2", "current": 7}\n'
        b'{"id": {}, "text": "XL2"}\n'
        b'{"id": "c8", "text": "\\u8292\\u679c+1"}'  # the last line needs no newline
    )
    assert [line["status"] for line in out] == [
        "order",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
        "order",
    ]
    assert out[1] == {
        "id": None,
        "status": "error",
        "reason": out[1]["reason"],
    }
    assert str(out[1]["reason"]).startswith("line 2: not valid JSON")
    assert out[3]["reason"] == "line 4: expected a JSON object"
    assert out[4] == {"id": "c5", "status": "error", "reason": "line 5: text must be a string"}
    assert out[5]["reason"] == "line 6: current must be a keyword or null"
    assert out[6]["reason"] == "line 7: id must be a string or a whole number"
    assert out[6]["id"] is None
    assert out[7]["id"] == "c8"


class Trickle:
    """Input that arrives one piece at a time, like a program feeding comments as they come."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def read1(self, size: int = -1, /) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


class Recorder(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[bytes] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_answers_are_flushed_whenever_the_input_pauses() -> None:
    sink = Recorder()
    source = Trickle([b'{"id": 1, "text": "XL2+1"}\n{"id": 2, "te', b'xt": "+1"}\n'])
    command.stream_lines(source, sink, command.answer_with(SHOP))
    first, second = sink.flushed
    assert first.count(b"\n") == 1 and b'"id":1' in first
    assert second.count(b"\n") == 2


def test_a_program_sees_each_answer_before_sending_the_next_comment() -> None:
    process = subprocess.Popen(
        [LIVECART, "parse", "--lineup", LINEUP],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=clean_env(),
        cwd=DATA,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        lines = [{"id": 1, "text": "A2+1"}, "not json", {"id": 3, "text": "+1", "current": "C7"}]
        for number, line in enumerate(lines, start=1):
            sent = line if isinstance(line, str) else json.dumps(line)
            process.stdin.write(sent.encode() + b"\n")
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 30)
            assert ready, f"no answer to line {number} while the input stays open"
            answer = json.loads(process.stdout.readline())
            assert answer["status"] == ["order", "error", "order"][number - 1]
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0


def test_the_corpus_streams_through_the_command() -> None:
    lines = (DATA / "comments.jsonl").read_text(encoding="utf-8").splitlines()
    result = parse("--lineup", LINEUP, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    for line_in, line_out in zip(lines, out, strict=True):
        case = json.loads(line_in)
        assert line_out["id"] == case["id"]
        assert line_out["status"] == case["expect"]["status"]
        assert [list(item.values()) for item in line_out["items"]] == case["expect"]["items"]


def test_text_prints_one_reading_for_a_person() -> None:
    result = parse("--lineup", LINEUP, "--text", "A1 紅 M +2")
    assert (result.returncode, result.stdout) == (0, "order: A1-RED-M x2\n")
    review = parse("--lineup", LINEUP, "--text", "紅+1", "--current", "A1")
    assert review.stdout.splitlines() == [
        "review: A1 (on screen) needs a size (M/L)",
        "  could be: A1-RED-M x1",
        "  could be: A1-RED-L x1",
    ]


def test_a_malformed_lineup_is_refused_with_its_line(tmp_path: Path) -> None:
    lineup = tmp_path / "tonight.csv"
    lineup.write_text(
        "keyword,sku,name,price,stock,variant,aliases,max_per_buyer\n"
        "A2,A2,杯,590,30,,,\n"
        "B3,A2,皂,120,100,,,\n",
        encoding="utf-8",
    )
    result = parse("--lineup", str(lineup), stdin='{"id": 1, "text": "A2+1"}\n')
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"livecart: lineup {lineup} line 3: SKU A2 is already on line 2\n"


def run(**options: str | None) -> int:
    args = argparse.Namespace(**{"lineup": LINEUP, "text": None, "current": None, **options})
    return command.run(args)


def test_a_missing_lineup_file_stops_with_exit_2(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        run(lineup=str(tmp_path / "nowhere.csv"))
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"cannot read the lineup {tmp_path / 'nowhere.csv'}")


def test_current_without_text_stops_with_exit_2() -> None:
    with pytest.raises(CommandError) as caught:
        run(current="A2")
    assert caught.value.exit_code == 2


def test_text_runs_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(text="取消A2") == 0
    assert capsys.readouterr().out == "order: cancel A2 (all)\n"
