"""Splitting a comment's tokens into items, one per product named (parsing.md rule 2)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

from parsers.tokens import (
    CANCELLING,
    CHATTER,
    KEYWORD,
    MINUS,
    QUANTITY,
    QUANTITY_KINDS,
    SEPARATOR,
    UNKNOWN_CODE,
    WANTING,
    Token,
)

_ANCHORS = frozenset({KEYWORD, UNKNOWN_CODE})
_MARKERS = frozenset({QUANTITY, MINUS, WANTING, CANCELLING})
_LEADING = frozenset({WANTING, CANCELLING})  # `取消A2`, `收A2`, `sold A2`


class Group(NamedTuple):
    """The tokens of one item; `anchor` names its product (None: the product on screen)."""

    anchor: int | None  # position of the anchor in `tokens`
    tokens: tuple[Token, ...]


def group_tokens(tokens: Sequence[Token]) -> list[Group]:
    anchors = _anchors(tokens)
    if not anchors:
        return [Group(None, tuple(tokens))]
    starts = [0]
    for anchor, following in pairwise(anchors):
        starts.append(_next_item_start(tokens, starts[-1], anchor, following))
    ends = [*starts[1:], len(tokens)]
    return [
        Group(anchor - start, tuple(tokens[start:end]))
        for anchor, start, end in zip(anchors, starts, ends, strict=True)
    ]


def _anchors(tokens: Sequence[Token]) -> list[int]:
    """Keywords, unknown codes, and chatter typed where a product name goes: right before a
    quantity when no item is waiting for one (`A2+1 芒果+1`, `bearmgu+1`)."""
    anchors: list[int] = []
    waiting = False  # the last item named has no quantity yet
    for index, token in enumerate(tokens):
        if _restates(tokens, index, anchors):
            continue
        if token.kind in _ANCHORS:
            anchors.append(index)
            waiting = True
        elif token.kind in QUANTITY_KINDS:
            waiting = False
        elif (
            token.kind is CHATTER
            and not waiting
            and index + 1 < len(tokens)
            and tokens[index + 1].kind in QUANTITY_KINDS
        ):
            anchors.append(index)
            waiting = True
    return anchors


def _restates(tokens: Sequence[Token], index: int, anchors: Sequence[int]) -> bool:
    """Another name of the product just named names it again (`A2 保溫杯 +1`); the same name
    twice (`A2 A2`) is two items."""
    token = tokens[index]
    previous = tokens[index - 1]
    return (
        token.kind is KEYWORD
        and bool(anchors)
        and anchors[-1] == index - 1
        and previous.kind is KEYWORD
        and previous.number == token.number
        and previous.text != token.text
    )


def _next_item_start(tokens: Sequence[Token], start: int, anchor: int, following: int) -> int:
    """Where the item after the one anchored at `anchor` starts: at the words leading the next
    keyword (`A2+2 取消B3`), unless this item has no intent of its own yet and nothing separates
    them from it (`A2 取消 B3` cancels A2)."""
    lead = following
    while lead - 1 > anchor and tokens[lead - 1].kind in _LEADING:
        lead -= 1
    separated = any(token.kind is SEPARATOR for token in tokens[anchor + 1 : lead])
    has_intent = any(token.kind in _MARKERS for token in tokens[start:lead])
    return lead if separated or has_intent else following
