"""Splitting a normalized comment into tokens with the lineup's one pattern."""

from __future__ import annotations

import re

from parsers.compiled import CompiledLineup
from parsers.numbers import read_number
from parsers.tokens import Kind, Token

# Text between tokens is chatter when it holds a letter, digit or character (emoji and
# punctuation between tokens are noise).
_MEANINGFUL = re.compile(r"[^\W_](?:.*[^\W_])?", re.DOTALL)
_QUANTITY_FORMS = {
    "slip": "slip_n",
    "plus": "plus_n",
    "times": "times_n",
    "minus": "minus_n",
    "qty": "qty_n",
    "verb": "verb_n",
    "counted": "counted_n",
}
_SKIPPED = frozenset({"phone", "mention"})
# A token of these kinds typed against chatter is part of that chatter: `2點` is a time,
# `要等` is not wanting anything, `問一個問題` holds no quantity.
_SWALLOWED_BY_CHATTER = frozenset({Kind.NUMBER, Kind.WANTING})


def tokenize(comment: str, lineup: CompiledLineup) -> list[Token]:
    tokens: list[Token] = []
    scanned = 0
    for match in lineup.pattern.finditer(comment):
        start = match.start()
        if start > scanned:
            _add_chatter(tokens, comment, scanned, start)
        scanned = match.end()
        token = _token(match, lineup, tokens)
        if token is not None:
            _add(tokens, token, comment)
    if scanned < len(comment):
        _add_chatter(tokens, comment, scanned, len(comment))
    return tokens


def _token(match: re.Match[str], lineup: CompiledLineup, before: list[Token]) -> Token | None:
    group = match.lastgroup
    start, end = match.span()
    if group in _QUANTITY_FORMS:
        amount = read_number(match.group(_QUANTITY_FORMS[group]))
        kind = Kind.MINUS if group == "minus" else Kind.QUANTITY
        return Token(kind, start, end, amount, group)
    text = match.group()
    if group == "code":
        return _code(text, start, end, lineup, before)
    if group == "lex":
        key = "".join(text.split())
        kind, number = lineup.lexicon[key]
        return None if kind is Kind.NOISE else Token(kind, start, end, number, key)
    if group == "unknown":
        return Token(Kind.UNKNOWN_CODE, start, end, 0, text.upper())
    if group == "number":
        return Token(Kind.NUMBER, start, end, read_number(text))
    if group == "newline":
        return Token(Kind.SEPARATOR, start, end)
    if group == "money":
        return Token(Kind.CHATTER, start, end, 0, text)
    assert group in _SKIPPED, group
    return None


def _code(text: str, start: int, end: int, lineup: CompiledLineup, before: list[Token]) -> Token:
    digits = text[len(text.rstrip("0123456789")) :]
    letters = text[: len(text) - len(digits)].rstrip("-_. \t")
    if letters == "x" and any(token.kind is Kind.KEYWORD for token in before):
        # `A2 x2` when X2 is also a product: after a keyword, x2 is the quantity.
        return Token(Kind.QUANTITY, start, end, read_number(digits), "times")
    key = letters.upper() + (digits.lstrip("0") or "0")
    return Token(Kind.KEYWORD, start, end, lineup.keyword_index[key], key)


def _add_chatter(tokens: list[Token], comment: str, start: int, end: int) -> None:
    words = _MEANINGFUL.search(comment, start, end)
    if words is not None:
        _add(tokens, Token(Kind.CHATTER, words.start(), words.end(), 0, words.group()), comment)


def _add(tokens: list[Token], token: Token, comment: str) -> None:
    if tokens and tokens[-1].end == token.start:
        last = tokens[-1]
        kinds = {last.kind, token.kind}
        if Kind.CHATTER in kinds and kinds & _SWALLOWED_BY_CHATTER:
            tokens[-1] = _chatter(comment, last.start, token.end)
            return
        before = tokens[-2] if len(tokens) > 1 and tokens[-2].end == last.start else None
        if last.kind is Kind.QUANTITY and _inside_a_sentence(token, before):
            start = last.start
            if before is not None and before.kind is Kind.CHATTER:
                start = before.start
                del tokens[-2]
            tokens[-1] = _chatter(comment, start, token.end)
            return
    tokens.append(token)


def _inside_a_sentence(after: Token, before: Token | None) -> bool:
    """Whether a quantity typed between chatter is words of a sentence (`我+1了`)."""
    return after.kind is Kind.CHATTER and before is not None and before.kind is Kind.CHATTER


def _chatter(comment: str, start: int, end: int) -> Token:
    return Token(Kind.CHATTER, start, end, 0, comment[start:end])
