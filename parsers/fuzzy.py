"""Product words typed with a small typo (`tumbller`, `bear mgu`), found with rapidfuzz.

Consulted only for chatter typed where a product name goes, after the exact look-ups found
nothing; codes never come here (`A12` is never `A1`). Only a whole word one edit away from a
long enough lineup word orders; anything looser is a suggestion for staff.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import OSA

from parsers.compiled import CompiledLineup
from parsers.text import is_cjk

_SUGGEST_WITHIN = 1  # edits (a transposition counts as one)
_LONGEST_SUFFIX_SLACK = 1


@dataclass(frozen=True, slots=True)
class NameMatch:
    keyword: int | None  # the one keyword the typed name surely means
    nearby: tuple[int, ...]  # keywords it may mean, for staff to choose from


def match_name(typed: str, lineup: CompiledLineup) -> NameMatch:
    whole = "".join(typed.split())
    close: set[int] = set()
    nearby: list[int] = []
    for word, keyword in lineup.fuzzy_words:
        allowed = _allowed_edits(word)
        if OSA.distance(whole, word, score_cutoff=allowed) <= allowed:
            close.add(keyword)
        if keyword not in nearby and _near(typed, word):
            nearby.append(keyword)
    return NameMatch(next(iter(close)) if len(close) == 1 else None, tuple(nearby))


def _allowed_edits(word: str) -> int:
    """Edits a whole typed name may be from `word` and still order: none for short words, where
    one edit is often another product (`soap`, `soup`)."""
    length = len(word)
    if length >= 9:
        return 2
    if length >= (4 if is_cjk(word[0]) else 5):
        return 1
    return 0


def _near(typed: str, word: str) -> bool:
    """Whether `word` is worth suggesting: close to the typed name, to its last words, or (in
    Chinese, written without spaces) to its last characters."""
    words = typed.split()
    tails = {"".join(words[-count:]) for count in range(1, min(3, len(words)) + 1)}
    squeezed = "".join(words)
    if squeezed and is_cjk(squeezed[-1]):
        longest = len(word) + _LONGEST_SUFFIX_SLACK
        shortest = max(2, len(word) - 1)
        tails |= {squeezed[-length:] for length in range(shortest, longest + 1)}
    limit = _SUGGEST_WITHIN if len(word) > 1 else 0
    return any(OSA.distance(tail, word, score_cutoff=limit) <= limit for tail in tails)
