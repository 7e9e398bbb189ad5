"""Reading one comment against a compiled lineup (parsing.md)."""

from __future__ import annotations

from parsers.compiled import CompiledLineup
from parsers.grouping import group_tokens
from parsers.reading import Context, combine, read_group
from parsers.result import ParseResult
from parsers.scanner import tokenize
from parsers.shortcut import read_plainly
from parsers.text import Comment, normalize
from parsers.tokens import (
    CANCELLING,
    KEYWORD,
    MINUS,
    MOST_TOKENS,
    QUANTITY,
    TALK,
    UNKNOWN_CODE,
    WANTING,
    Token,
)

_ORDER_SHAPED = frozenset({KEYWORD, UNKNOWN_CODE, QUANTITY, MINUS, WANTING, CANCELLING})


def parse_comment(text: str, lineup: CompiledLineup, current: str | None) -> ParseResult:
    """`current` is the keyword of the product on screen, which bare `+1`s order (or None)."""
    normalized = normalize(text)
    tokens = tokenize(normalized, lineup)
    on_screen = lineup.find(current) if current else None
    return read_plainly(tokens, lineup, on_screen) or read_fully(
        Comment(text, normalized), tokens, lineup, on_screen, current
    )


def read_fully(
    comment: Comment,
    tokens: list[Token],
    lineup: CompiledLineup,
    on_screen: int | None,
    current: str | None,
) -> ParseResult:
    if len(tokens) > MOST_TOKENS:
        if any(token.kind in _ORDER_SHAPED for token in tokens):
            return ParseResult("review", reason="too long to be read safely as an order")
        return ParseResult("none")
    context = Context(comment, lineup, on_screen, current)
    groups = group_tokens(tokens)
    readings = [read_group(group, context, alone=len(groups) == 1) for group in groups]
    reading = combine(readings, chatty=any(token.kind in TALK for token in tokens))
    return ParseResult(
        reading.status, reading.items, reading.reason, reading.candidates, reading.fuzzy
    )
