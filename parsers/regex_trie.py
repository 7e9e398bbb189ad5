"""One regular expression for many words, shaped as a trie.

A plain alternation of a few hundred words makes the regex engine try every word at every
position of a comment; a trie tries one branch per character, so matching costs about the length
of the comment whatever the size of the lineup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_LATIN_LETTER = re.compile(r"[a-z]")
_DIGIT = re.compile(r"\d")
_Trie = dict[str, "_Trie"]
_END = ""


def trie_pattern(words: Iterable[Sequence[str]]) -> str:
    """A pattern matching the longest of `words` at a position.

    Each word is a sequence of regex atoms (an escaped character, or something like `\\s*`), the
    first one a character. A word starting or ending with a Latin letter or a digit only matches
    as a whole word: `m` is not found inside `mug`, `1` not inside `12`.
    """
    trie: _Trie = {}
    for atoms in filter(None, words):  # an empty word would match everywhere
        node = trie
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[_END] = {}
    # Words are grouped by the boundary before them, tested once per group: the regex engine
    # passes over a branch that starts with a character other than the one at hand at a glance,
    # but enters one that starts with a look-behind. Each branch starts with its own character,
    # so no two can match at one place and the order of the groups changes no match.
    by_boundary: dict[str, list[str]] = {}
    for atom, child in trie.items():
        by_boundary.setdefault(_boundary_before(atom), []).append(atom + _render(child, atom))
    return _alternation(
        [boundary + _alternation(branches) for boundary, branches in by_boundary.items()]
    )


def _render(node: _Trie, last_atom: str) -> str:
    branches = [atom + _render(child, atom) for atom, child in node.items() if atom != _END]
    if _END in node:
        # Last, so that the engine prefers any longer word through this node.
        branches.append(_boundary_after(last_atom))
    return _alternation(branches)


def _alternation(branches: list[str]) -> str:
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _boundary_before(atom: str) -> str:
    if _LATIN_LETTER.fullmatch(atom):
        return "(?<![a-z])"
    if _DIGIT.fullmatch(atom):
        return r"(?<!\d)"
    return ""


def _boundary_after(atom: str) -> str:
    if _LATIN_LETTER.fullmatch(atom):
        return "(?![a-z])"
    if _DIGIT.fullmatch(atom):
        return r"(?!\d)"
    return ""
