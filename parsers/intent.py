"""What a viewer means by one item, before any SKU is looked up: add or cancel, how many, with
which variant words; or that it is not an order, or that nobody can be sure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

from parsers.grouping import Group
from parsers.numbers import TOO_MANY, UNREADABLE, read_number
from parsers.result import Action
from parsers.text import Comment, first_few
from parsers.tokens import (
    ASKING,
    CANCELLING,
    CHATTER,
    KEYWORD,
    MINUS,
    NUMBER,
    QUANTITY,
    VALUE,
    WANTING,
    Token,
)

MOST_PER_COMMENT = 99


class Part(NamedTuple):
    """One reading of the item: its own variant values and quantity (`紅M+1 藍L+2` has two)."""

    values: tuple[Token, ...]
    quantity: int | None  # None: a cancel of all of it


class Intent(NamedTuple):
    action: Action
    parts: tuple[Part, ...]
    # False for a bare keyword (`A2`): it orders 1 only when the comment is nothing else.
    explicit: bool
    # Words inside the item that are neither its values nor intent (`A1 綠 M +1`: 綠).
    strangers: tuple[Token, ...]


class Unsure(NamedTuple):
    reason: str
    guess: Intent | None = None  # the likeliest reading, offered to staff


@dataclass(slots=True)
class _Facts:
    quantities: list[Token] = field(default_factory=list)
    stray_numbers: list[Token] = field(default_factory=list)
    values: list[Token] = field(default_factory=list)
    strangers: list[Token] = field(default_factory=list)
    wanting: bool = False
    cancelling: bool = False
    first_question: int | None = None  # offset of the first question word
    # A quantity with words typed right after it (`+1的人好多`, `C7+1可以面交嗎`).
    followed_by_words: list[Token] = field(default_factory=list)


def read_intent(
    group: Group, spellings: Mapping[str, tuple[int, int]], comment: Comment, name: str
) -> Intent | Unsure | None:
    """`spellings` are the variant spellings of the item's product; `name` says it to staff."""
    facts = _facts(group, spellings)
    if facts.first_question is not None and not facts.quantities and not facts.cancelling:
        return None
    if group.anchor is None and _only_numbers_too_big_to_order(facts):
        return None  # `666`, `2222`: talk, with no product named
    doubt = _doubt(facts, comment)
    if doubt is None:
        return _intent(facts, comment, name)
    if not facts.quantities and len(facts.stray_numbers) == 1:
        # The likeliest reading of a lone number (`2` with a product on screen) is a quantity.
        facts.quantities, facts.stray_numbers = facts.stray_numbers, []
    guess = _intent(facts, comment, name)
    return Unsure(doubt, guess if isinstance(guess, Intent) else None)


def _only_numbers_too_big_to_order(facts: _Facts) -> bool:
    return (
        not (facts.quantities or facts.wanting or facts.cancelling)
        and bool(facts.stray_numbers)
        and all(token.number > MOST_PER_COMMENT for token in facts.stray_numbers)
    )


def _doubt(facts: _Facts, comment: Comment) -> str | None:
    """What keeps an order-shaped item from being an order, if anything."""
    asked = facts.first_question
    # Rule 8: a quantity still orders when a question follows it (`C7+1 可以面交嗎`).
    if asked is not None and (facts.cancelling or asked < facts.quantities[0].start):
        return f"{_quoted(comment)} reads like a question"
    bare = [token for token in facts.quantities if token.kind is NUMBER]
    chatter = any(token.kind is CHATTER for token in facts.strangers)
    # A bare number (`B3 10`) orders only with nothing else around it: among other words it
    # may be a price, a time or a size (`A2 50 好便宜`).
    unclear = facts.stray_numbers or facts.followed_by_words
    if not unclear and (asked is not None or chatter):
        unclear = bare
    if unclear:
        numbers = first_few(comment.quote(t.start, t.end) for t in unclear)
        return f"not sure {numbers} is a quantity in {_quoted(comment)}"
    return None


def _intent(facts: _Facts, comment: Comment, name: str) -> Intent | Unsure | None:
    values = tuple(facts.values)
    chatter = any(token.kind is CHATTER for token in facts.strangers)
    if not facts.quantities:
        if facts.cancelling:
            cancel = Intent("cancel", (Part(values, None),), True, tuple(facts.strangers))
            return Unsure(f"not sure {_quoted(comment)} is a cancel", cancel) if chatter else cancel
        wanted = Intent("add", (Part(values, 1),), facts.wanting, tuple(facts.strangers))
        if facts.wanting and chatter:
            return Unsure(f"not sure {_quoted(comment)} is an order", wanted)
        return None if chatter else wanted
    parts = _parts(facts, comment, name)
    if isinstance(parts, Unsure):
        return parts
    for part in parts:
        problem = _quantity_problem(part.quantity, name)
        if problem:
            return Unsure(problem)
    cancelling = facts.cancelling or facts.quantities[0].kind is MINUS
    last = facts.quantities[-1].end
    strangers = tuple(token for token in facts.strangers if token.start < last)
    return Intent("cancel" if cancelling else "add", parts, True, strangers)


def _facts(group: Group, spellings: Mapping[str, tuple[int, int]]) -> _Facts:
    facts = _Facts()
    # A bare number is a quantity only right after the keyword, its values aside (`B3 10`,
    # `SOLD A1 2 red M`); anywhere else nobody can say what it counts.
    right_after_keyword = False
    for index, token in enumerate(group.tokens):
        kind = token.kind
        if index == group.anchor or kind is KEYWORD:
            # The only other keyword an item holds names its product again (`A2 保溫杯 +1`).
            right_after_keyword = True
            continue
        if kind is MINUS and _hyphenated_value(group.tokens, index, spellings):
            # `K07-white-40`: a hyphen between values, not a cancel of 40.
            token = token._replace(kind=VALUE, start=token.start + 1, text=str(token.number))
            kind = VALUE
        if kind is VALUE:
            if token.text in spellings:
                facts.values.append(token)
                continue
            if not token.text.isdecimal():
                facts.strangers.append(token)
                right_after_keyword = False
                continue
            token = token._replace(kind=NUMBER, number=read_number(token.text))
            kind = NUMBER
        if kind is NUMBER:
            target = facts.quantities if right_after_keyword else facts.stray_numbers
            target.append(token)
        elif kind is QUANTITY or kind is MINUS:
            facts.quantities.append(token)
            if _touches_chatter(group.tokens, index):
                facts.followed_by_words.append(token)
        elif kind is WANTING:
            facts.wanting = True
        elif kind is CANCELLING:
            facts.cancelling = True
        elif kind is ASKING and facts.first_question is None:
            facts.first_question = token.start
        elif kind is CHATTER:
            facts.strangers.append(token)
        right_after_keyword = False
    return facts


def _touches_chatter(tokens: Sequence[Token], index: int) -> bool:
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    return (
        following is not None and following.kind is CHATTER and following.start == tokens[index].end
    )


def _hyphenated_value(
    tokens: Sequence[Token], index: int, spellings: Mapping[str, tuple[int, int]]
) -> bool:
    token = tokens[index]
    return index > 0 and tokens[index - 1].end == token.start and str(token.number) in spellings


def _parts(facts: _Facts, comment: Comment, name: str) -> tuple[Part, ...] | Unsure:
    quantities = facts.quantities
    if len(quantities) == 1:
        return (Part(tuple(facts.values), quantities[0].number),)
    minus = [token.kind is MINUS for token in quantities]
    if all(minus) or not any(minus):
        if all(_values_between(facts.values, a, b) for a, b in pairwise(quantities)):
            return _split(facts.values, quantities)
        # One quantity said twice (`A2 x2 2個`), not two (`A2+1+1`).
        if len({t.number for t in quantities}) == 1 and len({t.text for t in quantities}) > 1:
            return (Part(tuple(facts.values), quantities[0].number),)
    said = first_few((comment.quote(token.start, token.end) for token in quantities), 2, " and ")
    return Unsure(f"{name} has more than one quantity ({said})")


def _values_between(values: Sequence[Token], first: Token, second: Token) -> bool:
    return any(first.end <= value.start < second.start for value in values)


def _split(values: Sequence[Token], quantities: Sequence[Token]) -> tuple[Part, ...]:
    """`紅M+1 藍L+2`: each quantity takes the values before it; the last also those after it."""
    parts = []
    taken_until = -1
    for index, quantity in enumerate(quantities):
        last = index == len(quantities) - 1
        mine = tuple(
            value
            for value in values
            if value.start > taken_until and (last or value.start < quantity.start)
        )
        parts.append(Part(mine, quantity.number))
        taken_until = quantity.start
    return tuple(parts)


def _quantity_problem(quantity: int | None, name: str) -> str:
    if quantity == UNREADABLE:
        return f"{name}: the quantity cannot be read"
    if quantity == 0:
        return f"{name}: a quantity of 0"
    if quantity is not None and quantity > MOST_PER_COMMENT:
        said = "the quantity" if quantity >= TOO_MANY else str(quantity)
        return f"{name}: {said} is more than {MOST_PER_COMMENT}, the most one comment orders"
    return ""


def _quoted(comment: Comment) -> str:
    text = " ".join(comment.original.split())
    return f"'{text}'" if len(text) <= 40 else f"'{text[:39]}…'"
