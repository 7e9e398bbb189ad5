"""The commonest comments (`A2+1`, `+1`, `收A2`, `A2 x2`, `取消A2`) read straight from their
tokens, without grouping and reviewing. They read exactly as the general path reads them: a
property test holds the two to it."""

from __future__ import annotations

from parsers.compiled import CompiledLineup
from parsers.intent import MOST_PER_COMMENT
from parsers.result import OrderItem, ParseResult
from parsers.tokens import QUANTITY_KINDS, Kind, Token

_PLAIN = frozenset({Kind.WANTING, Kind.CANCELLING, Kind.SEPARATOR})


def read_plainly(
    tokens: list[Token], lineup: CompiledLineup, on_screen: int | None
) -> ParseResult | None:
    """The reading of one product without options and at most one quantity, with nothing else
    but wanting or cancelling words; None for anything else."""
    keyword = on_screen
    quantity: Token | None = None
    cancelling = False
    named = False
    for index, token in enumerate(tokens):
        kind = token.kind
        if kind is Kind.KEYWORD and not named:
            keyword = token.number
            named = True
        elif kind in QUANTITY_KINDS or (
            kind is Kind.NUMBER and index > 0 and tokens[index - 1].kind is Kind.KEYWORD
        ):
            if quantity is not None:
                return None
            quantity = token
        elif kind not in _PLAIN:
            return None
        cancelling = cancelling or kind is Kind.CANCELLING or kind is Kind.MINUS
    if keyword is None:
        return None
    variants = lineup.keywords[keyword].variants
    if len(variants) != 1 or variants[0][0]:
        return None
    if quantity is None:
        if not named and not cancelling and not any(t.kind is Kind.WANTING for t in tokens):
            return None
        amount = None if cancelling else 1
    else:
        amount = quantity.number
        if not 1 <= amount <= MOST_PER_COMMENT:
            return None
    item = OrderItem("cancel" if cancelling else "add", variants[0][1], amount)
    return ParseResult("order", (item,))
