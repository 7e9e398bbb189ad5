"""The pieces a comment is read as: keywords, quantities, variant values, words of intent."""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class Kind(IntEnum):
    KEYWORD = 1  # number: index of the lineup keyword
    UNKNOWN_CODE = 2  # text: the code, upper case (`Z9`)
    QUANTITY = 3  # number: the quantity (`+2`, `x2`, `2件`, `要5`); text: its form
    MINUS = 4  # number: how many to cancel (`-1`)
    NUMBER = 5  # number: a bare number (`B3 10`)
    VALUE = 6  # text: a variant spelling of some keyword (`红`, `m`)
    WANTING = 7
    CANCELLING = 8
    ASKING = 9
    SEPARATOR = 10
    CHATTER = 11  # text: words that are none of the above
    NOISE = 12  # thanks, particles: only in the lexicon, never a token


# The kinds as plain names, for the code that reads every token. On Python 3.11 `Kind.KEYWORD`
# goes through the enum metaclass's attribute hook, about 50 ns each time, and a comment's
# reading meets dozens of them.
KEYWORD = Kind.KEYWORD
UNKNOWN_CODE = Kind.UNKNOWN_CODE
QUANTITY = Kind.QUANTITY
MINUS = Kind.MINUS
NUMBER = Kind.NUMBER
VALUE = Kind.VALUE
WANTING = Kind.WANTING
CANCELLING = Kind.CANCELLING
ASKING = Kind.ASKING
SEPARATOR = Kind.SEPARATOR
CHATTER = Kind.CHATTER
NOISE = Kind.NOISE
TALK = frozenset({CHATTER, ASKING})  # words around an order that are not part of it


# The records built for every comment (tokens, items, readings, results, and in bot/ and
# storage/ the pipeline's per-comment rows) are NamedTuples: as immutable as frozen dataclasses,
# and several times cheaper to build, which shows at thousands of comments a second. Lineups and
# anything built once are frozen dataclasses.
class Token(NamedTuple):
    kind: Kind
    start: int  # offsets in the normalized comment
    end: int
    number: int = 0
    text: str = ""


QUANTITY_KINDS = frozenset({Kind.QUANTITY, Kind.MINUS})
# Far more than any order (15 items of a keyword, two values and a quantity); it bounds the
# work a pasted essay can cause.
MOST_TOKENS = 60
