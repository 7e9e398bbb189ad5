"""Every labelled comment of the shared corpus reads as labelled."""

from __future__ import annotations

import json
from typing import Any

import pytest

from parsers import parse_comment
from tests.parsers.lineups import CORPUS, DATA, candidates, items

CASES = [
    json.loads(line)
    for line in (DATA / "comments.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def test_the_whole_corpus_is_here() -> None:
    assert len(CASES) == 125


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    result = parse_comment(case["text"], CORPUS, case["current"])
    expected = case["expect"]
    assert result.status == expected["status"], result.reason
    assert items(result) == [tuple(item) for item in expected["items"]]
    if result.status == "review":
        assert result.reason


@pytest.mark.parametrize(
    ("text", "current", "reason"),
    [
        ("+1", "A1", "A1 (on screen) needs a colour (紅/藍) and a size (M/L)"),
        ("A1+1", None, "A1 needs a colour (紅/藍) and a size (M/L)"),
        ("A1 綠 M +1", None, "A1 needs a colour (紅/藍); '綠' is not one of them"),
        ("A1 紅 XL+1", None, "A1 needs a size (M/L); 'XL' is not one of them"),
        ("Z9+1", None, "Z9 is not in tonight's lineup"),
        ("D4 x2", None, "D4 is not in tonight's lineup"),
        ("A2+0", None, "A2: a quantity of 0"),
        ("A2+999", None, "A2: 999 is more than 99, the most one comment orders"),
        ("+1", None, "no product is on screen for '+1'"),
        ("取消", None, "no product is on screen for '取消'"),
    ],
)
def test_corpus_reviews_say_why_to_staff(text: str, current: str | None, reason: str) -> None:
    result = parse_comment(text, CORPUS, current)
    assert result.status == "review"
    assert result.reason == reason


def test_a_missing_variant_offers_every_full_reading() -> None:
    result = parse_comment("+1", CORPUS, "A1")
    assert candidates(result) == [
        [("add", "A1-RED-M", 1)],
        [("add", "A1-RED-L", 1)],
        [("add", "A1-BLU-M", 1)],
        [("add", "A1-BLU-L", 1)],
    ]


def test_an_unknown_variant_offers_the_skus_that_fit_the_rest() -> None:
    result = parse_comment("A1 綠 M +1", CORPUS, None)
    assert candidates(result) == [[("add", "A1-RED-M", 1)], [("add", "A1-BLU-M", 1)]]
