"""Splitting a normalized comment into tokens with the lineup's one pattern."""

from __future__ import annotations

import re
from collections.abc import Callable

from parsers.compiled import CompiledLineup
from parsers.numbers import read_number
from parsers.tokens import (
    CHATTER,
    KEYWORD,
    MINUS,
    NOISE,
    NUMBER,
    QUANTITY,
    SEPARATOR,
    UNKNOWN_CODE,
    WANTING,
    Kind,
    Token,
)

# Text between tokens is chatter when it holds a letter, digit or character (emoji and
# punctuation between tokens are noise).
_MEANINGFUL = re.compile(r"[^\W_](?:.*[^\W_])?", re.DOTALL)
# Tokens are built as `_new(Token, (kind, start, end, number, text))`: about half the cost of
# `Token(...)`, whose generated __new__ runs in Python. Every field must be given: tuple.__new__
# fills in no defaults.
_new = tuple.__new__
_SKIPPED = frozenset({"phone", "mention"})
# A token of these kinds typed against chatter is part of that chatter: `2點` is a time,
# `要等` is not wanting anything, `問一個問題` holds no quantity.
_SWALLOWED_BY_CHATTER = frozenset({NUMBER, WANTING})

# Builds a token from one match of the pattern: (match, its start and end, lineup, tokens so
# far) -> token, or None for what carries nothing (noise, phone numbers, mentions).
_Reader = Callable[[re.Match[str], int, int, CompiledLineup, list[Token]], Token | None]


def tokenize(comment: str, lineup: CompiledLineup) -> list[Token]:
    tokens: list[Token] = []
    scanned = 0
    for match in lineup.pattern.finditer(comment):
        start, end = match.span()
        # Most gaps are the space between two tokens: no need to look for words in them.
        if start > scanned and not comment[scanned:start].isspace():
            _add_chatter(tokens, comment, scanned, start)
        scanned = end
        token = _READERS[match.lastgroup or ""](match, start, end, lineup, tokens)
        if token is None:
            continue
        if _may_join(tokens, token):
            _join(tokens, token, comment)
        else:
            tokens.append(token)
    if scanned < len(comment):
        _add_chatter(tokens, comment, scanned, len(comment))
    return tokens


def _quantity(form: str) -> _Reader:
    """The reader of a quantity form (`plus`: `+2`), whose number is in the group `plus_n`."""
    number = f"{form}_n"
    kind = MINUS if form == "minus" else QUANTITY

    def read(
        match: re.Match[str], start: int, end: int, lineup: CompiledLineup, before: list[Token]
    ) -> Token:
        return _new(Token, (kind, start, end, read_number(match.group(number)), form))

    return read


def _code(
    match: re.Match[str], start: int, end: int, lineup: CompiledLineup, before: list[Token]
) -> Token:
    text = match.group()
    plain = lineup.plain_codes.get(text)
    if plain is not None:
        key, index = plain
        return _new(Token, (KEYWORD, start, end, index, key))
    digits = text[len(text.rstrip("0123456789")) :]
    letters = text[: len(text) - len(digits)].rstrip("-_. \t")
    if letters == "x" and any(token.kind is KEYWORD for token in before):
        # `A2 x2` when X2 is also a product: after a keyword, x2 is the quantity.
        return _new(Token, (QUANTITY, start, end, read_number(digits), "times"))
    key = letters.upper() + (digits.lstrip("0") or "0")
    return _new(Token, (KEYWORD, start, end, lineup.keyword_index[key], key))


def _lexicon_word(
    match: re.Match[str], start: int, end: int, lineup: CompiledLineup, before: list[Token]
) -> Token | None:
    text = match.group()
    # Keys hold no spaces: a word typed without them is its own key.
    entry = lineup.lexicon.get(text)
    key = text
    if entry is None:
        key = "".join(text.split())
        entry = lineup.lexicon[key]
    kind, number = entry
    if kind is NOISE:
        return None
    return _new(Token, (kind, start, end, number, key))


def _unknown_code(
    match: re.Match[str], start: int, end: int, lineup: CompiledLineup, before: list[Token]
) -> Token:
    return _new(Token, (UNKNOWN_CODE, start, end, 0, match.group().upper()))


def _number(
    match: re.Match[str], start: int, end: int, lineup: CompiledLineup, before: list[Token]
) -> Token:
    return _new(Token, (NUMBER, start, end, read_number(match.group()), ""))


def _newline(
    match: re.Match[str], start: int, end: int, lineup: CompiledLineup, before: list[Token]
) -> Token:
    return _new(Token, (SEPARATOR, start, end, 0, ""))


def _money(
    match: re.Match[str], start: int, end: int, lineup: CompiledLineup, before: list[Token]
) -> Token:
    return _new(Token, (CHATTER, start, end, 0, match.group()))


def _skipped(
    match: re.Match[str], start: int, end: int, lineup: CompiledLineup, before: list[Token]
) -> None:
    return None


# One reader per named form of the pattern (`compiled.pattern_forms`).
_READERS: dict[str, _Reader] = {
    **{
        form: _quantity(form)
        for form in ("slip", "plus", "times", "minus", "qty", "verb", "counted")
    },
    "code": _code,
    "lex": _lexicon_word,
    "unknown": _unknown_code,
    "number": _number,
    "newline": _newline,
    "money": _money,
    **dict.fromkeys(_SKIPPED, _skipped),
}


def _add_chatter(tokens: list[Token], comment: str, start: int, end: int) -> None:
    words = _MEANINGFUL.search(comment, start, end)
    if words is not None:
        _add(tokens, Token(CHATTER, words.start(), words.end(), 0, words.group()), comment)


def _add(tokens: list[Token], token: Token, comment: str) -> None:
    if _may_join(tokens, token):
        _join(tokens, token, comment)
    else:
        tokens.append(token)


def _may_join(tokens: list[Token], token: Token) -> bool:
    """Whether `token` is typed right against the last token and one of them is chatter: only
    then may the two be words of one piece of chatter."""
    if not tokens:
        return False
    last = tokens[-1]
    return last.end == token.start and (last.kind is CHATTER or token.kind is CHATTER)


def _join(tokens: list[Token], token: Token, comment: str) -> None:
    """Add a token typed right against the last one, one of them chatter (`_may_join`)."""
    last = tokens[-1]
    if _swallowed(last.kind, token.kind):
        tokens[-1] = _chatter(comment, last.start, token.end)
        return
    before = tokens[-2] if len(tokens) > 1 and tokens[-2].end == last.start else None
    if last.kind is QUANTITY and _inside_a_sentence(token, before):
        start = last.start
        if before is not None and before.kind is CHATTER:
            start = before.start
            del tokens[-2]
        tokens[-1] = _chatter(comment, start, token.end)
        return
    tokens.append(token)


def _swallowed(first: Kind, second: Kind) -> bool:
    """Whether two touching tokens are one piece of chatter (`2點`, `要等`)."""
    if first is CHATTER:
        return second in _SWALLOWED_BY_CHATTER
    return second is CHATTER and first in _SWALLOWED_BY_CHATTER


def _inside_a_sentence(after: Token, before: Token | None) -> bool:
    """Whether a quantity typed between chatter is words of a sentence (`我+1了`)."""
    return after.kind is CHATTER and before is not None and before.kind is CHATTER


def _chatter(comment: str, start: int, end: int) -> Token:
    return _new(Token, (CHATTER, start, end, 0, comment[start:end]))
