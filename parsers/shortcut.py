"""The commonest comments read straight from their tokens, without grouping and reviewing:

- one product without options, at most one quantity, and wanting or cancelling words
  (`A2+1`, `+1`, `收A2`, `A2 x2`, `取消A2`);
- items that each name every option of their product and one quantity, maybe followed by talk
  (`A1 紅 M +2`, `A2+1, B3+2`, `C7+1 可以面交嗎`, `紅M+1` for the product on screen);
- comments with nothing order-shaped in them (`哈哈`, `A2 好可愛`, `C7多少錢?`).

They read exactly as the general path reads them: property tests hold the two to it. Anything
else, or anything that would be a review, is left to the general path (None).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

from parsers.compiled import CompiledLineup, Keyword
from parsers.intent import MOST_PER_COMMENT
from parsers.result import OrderItem, ParseResult
from parsers.tokens import (
    CANCELLING,
    CHATTER,
    KEYWORD,
    MINUS,
    MOST_TOKENS,
    NUMBER,
    QUANTITY,
    QUANTITY_KINDS,
    SEPARATOR,
    TALK,
    VALUE,
    WANTING,
    Token,
)

_PLAIN = frozenset({WANTING, CANCELLING, SEPARATOR})
_TALK_OR_SEPARATOR = TALK | {SEPARATOR}
_NOTHING = ParseResult("none")
_UNNAMED = -1  # an option no value was typed for


def read_plainly(
    tokens: Sequence[Token], lineup: CompiledLineup, on_screen: int | None
) -> ParseResult | None:
    """The reading of a comment of one of the shapes above; None for anything else."""
    if len(tokens) > MOST_TOKENS:
        return None  # never an order: the general path says why
    if _only_talk(tokens):
        return _NOTHING
    return _one_plain_product(tokens, lineup, on_screen) or _items_in_full(
        tokens, lineup, on_screen
    )


def _only_talk(tokens: Sequence[Token]) -> bool:
    """Nothing but chatter, questions and products named in them (`A2 好可愛`): without a
    quantity or a wanting word, a product named among other words is talked about."""
    talk = named = False
    for token in tokens:
        kind = token.kind
        if kind is KEYWORD:
            named = True
        elif kind in TALK:
            talk = True
        elif kind is not SEPARATOR:
            return False
    # A bare keyword with nothing around it (`A2`) orders 1.
    return talk or not named


def _one_plain_product(
    tokens: Sequence[Token], lineup: CompiledLineup, on_screen: int | None
) -> ParseResult | None:
    """One product without options and at most one quantity, with nothing else but wanting or
    cancelling words."""
    keyword = on_screen
    quantity: Token | None = None
    cancelling = False
    named = False
    for index, token in enumerate(tokens):
        kind = token.kind
        if kind is KEYWORD and not named:
            keyword = token.number
            named = True
        elif kind in QUANTITY_KINDS or (
            kind is NUMBER and index > 0 and tokens[index - 1].kind is KEYWORD
        ):
            if quantity is not None:
                return None
            quantity = token
        elif kind not in _PLAIN:
            return None
        cancelling = cancelling or kind is CANCELLING or kind is MINUS
    if keyword is None:
        return None
    variants = lineup.keywords[keyword].variants
    if len(variants) != 1 or variants[0][0]:
        return None
    if quantity is None:
        if not named and not cancelling and not any(t.kind is WANTING for t in tokens):
            return None
        amount = None if cancelling else 1
    else:
        amount = quantity.number
        if not 1 <= amount <= MOST_PER_COMMENT:
            return None
    item = OrderItem("cancel" if cancelling else "add", variants[0][1], amount)
    return ParseResult("order", (item,))


def _items_in_full(
    tokens: Sequence[Token], lineup: CompiledLineup, on_screen: int | None
) -> ParseResult | None:
    """Items each of a keyword, its option values and one quantity (`+N`, `xN`, `N件`), between
    separators; or one such item without a keyword, for the product on screen. Talk may follow
    the last of them (`C7+1 可以面交嗎`)."""
    end = _talk_starts(tokens)
    if not end:
        return None
    named = tokens[0].kind is KEYWORD
    keyword = tokens[0].number if named else on_screen
    if keyword is None:
        return None
    items: list[OrderItem] = []
    values: list[str] = []
    amount: int | None = None
    for token in islice(tokens, 1 if named else 0, end):
        kind = token.kind
        if kind is VALUE:
            values.append(token.text)
        elif kind is QUANTITY and amount is None:
            amount = token.number
        elif kind is KEYWORD and named:
            # With none first, a keyword further on is left to the general path: `紅+1 A1 M+1`
            # is one item of A1, with two quantities.
            if not _add_item(items, lineup.keywords[keyword], values, amount):
                return None
            keyword, values, amount = token.number, [], None
        elif kind is not SEPARATOR:
            return None
    if not _add_item(items, lineup.keywords[keyword], values, amount):
        return None
    if len(items) > 1 and len({item.sku for item in items}) < len(items):
        return None  # the same SKU twice is for staff to add up or correct
    return ParseResult("order", tuple(items))


def _talk_starts(tokens: Sequence[Token]) -> int | None:
    """Where the chatter, questions and separators ending the comment start; None when that
    talk is typed against a quantity (`+1的人好多`: maybe not a quantity at all)."""
    end = len(tokens)
    while end > 0 and tokens[end - 1].kind in _TALK_OR_SEPARATOR:
        end -= 1
    if 0 < end < len(tokens):
        last, talk = tokens[end - 1], tokens[end]
        if last.kind is QUANTITY and talk.kind is CHATTER and talk.start == last.end:
            return None
    return end


def _add_item(
    items: list[OrderItem], keyword: Keyword, values: Sequence[str], amount: int | None
) -> bool:
    """Add the item of these values and amount, if they pick one SKU of `keyword` and an amount
    one comment orders."""
    if amount is None or not 1 <= amount <= MOST_PER_COMMENT:
        return False
    sku = _sku(keyword, values)
    if sku is None:
        return False
    items.append(OrderItem("add", sku, amount))
    return True


def _sku(keyword: Keyword, values: Sequence[str]) -> str | None:
    """The SKU of `keyword` these values name, every option once; None when one is missing,
    unknown or named twice (`紅 藍`)."""
    chosen = [_UNNAMED] * len(keyword.options)
    for text in values:
        meaning = keyword.spellings.get(text)
        if meaning is None:
            return None
        option, value = meaning
        if chosen[option] != value and chosen[option] != _UNNAMED:
            return None
        chosen[option] = value
    # An option left unnamed matches no variant.
    return keyword.skus.get(tuple(chosen))
