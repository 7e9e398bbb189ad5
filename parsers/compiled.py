"""A lineup prepared once for reading many comments: every lineup-dependent table and the one
regular expression that splits a comment into tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from parsers import vocabulary
from parsers.lineup import LineupRow
from parsers.numbers import CHINESE_NUMERAL_CHARS
from parsers.regex_trie import trie_pattern
from parsers.text import is_cjk, is_code, lookup_key, normalize
from parsers.tokens import Kind

_SPACE = "[ \t]*"
_CODE_SEPARATOR = "[-_. \t]*0*"  # `a-2`, `A02`, `b 3`
# In character classes: what `\d` and `[a-z]` match in the forms of the pattern.
_DIGIT = r"\d"
_LETTER = "a-z"
_LINEUP_KINDS = frozenset({Kind.KEYWORD, Kind.VALUE})
_VALUE_SUFFIXES = ("色", "号", "的")  # `藍色 L號`, `紅的`: noise after a value (號 is 号)


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a product (a colour, a size) and its values as the lineup writes them."""

    kind: str  # "colour", "size" or "option"
    values: tuple[str, ...]

    @property
    def label(self) -> str:
        article = "an" if self.kind[0] in "aeiou" else "a"
        return f"{article} {self.kind} ({'/'.join(self.values)})"


@dataclass(frozen=True, slots=True)
class Keyword:
    """What viewers type for one product, with its SKUs told apart by option values."""

    display: str
    options: tuple[Option, ...]
    spellings: Mapping[str, tuple[int, int]]  # normalized spelling -> (option, value)
    variants: tuple[tuple[tuple[int, ...], str], ...]  # (value of each option, SKU)
    skus: Mapping[tuple[int, ...], str]  # the value of each option -> the first SKU of them
    is_word: bool  # Chinese characters: a character typed next to it can name another product


@dataclass(frozen=True, slots=True)
class CompiledLineup:
    keywords: tuple[Keyword, ...]
    keyword_index: Mapping[str, int]  # lookup_key of a keyword or alias -> index in keywords
    lexicon: Mapping[str, tuple[Kind, int]]  # normalized word without spaces -> its token
    fuzzy_words: tuple[tuple[str, int], ...]  # (word, keyword index) for typo matching
    pattern: re.Pattern[str]
    # Codes as typed plainly (`a2`, `xl2`), each with its key and keyword index: the scanner's
    # look-up for nearly every code, instead of taking the typed text apart.
    plain_codes: Mapping[str, tuple[str, int]]
    # The lineup's own keywords and aliases, as `current` names the product on screen.
    on_screen_names: Mapping[str, int]

    def find(self, keyword: str) -> int | None:
        known = self.on_screen_names.get(keyword)
        return known if known is not None else self.keyword_index.get(lookup_key(keyword))


def compile_lineup(rows: Sequence[LineupRow]) -> CompiledLineup:
    by_keyword: dict[str, list[LineupRow]] = {}
    for row in rows:
        by_keyword.setdefault(lookup_key(row.keyword), []).append(row)
    keywords = tuple(_keyword(keyword_rows) for keyword_rows in by_keyword.values())
    names = {key: index for index, key in enumerate(by_keyword)}
    for index, keyword_rows in enumerate(by_keyword.values()):
        for alias in (alias for row in keyword_rows for alias in row.aliases):
            names.setdefault(lookup_key(alias), index)
    lexicon, written = _lexicon(keywords, names, by_keyword.values())
    codes = [key for key in names if is_code(key)]
    products = [written[key] for key, (kind, _) in lexicon.items() if kind in _LINEUP_KINDS]
    return CompiledLineup(
        keywords=keywords,
        keyword_index=MappingProxyType(names),
        lexicon=MappingProxyType(lexicon),
        fuzzy_words=tuple((key, index) for key, index in names.items() if not is_code(key)),
        pattern=re.compile(_master_pattern(pattern_forms(codes, written.values(), products))),
        plain_codes=MappingProxyType(_plain_codes(codes, names)),
        on_screen_names=MappingProxyType(_on_screen_names(rows, names)),
    )


def _plain_codes(codes: Iterable[str], names: Mapping[str, int]) -> dict[str, tuple[str, int]]:
    """`a2` -> (`A2`, its index). Codes of the letter x are left out: after a keyword, `x2` is a
    quantity, which only the scanner can tell."""
    plain: dict[str, tuple[str, int]] = {}
    for code in codes:
        letters = code.rstrip("0123456789")
        if letters != "X":
            plain[code.lower()] = (code, names[code])
    return plain


def _on_screen_names(rows: Sequence[LineupRow], names: Mapping[str, int]) -> dict[str, int]:
    """The keywords and aliases as the lineup writes them, read once with the look-up any
    `current` goes through (so `find` answers the same with or without this table)."""
    written = {row.keyword for row in rows} | {alias for row in rows for alias in row.aliases}
    found = {word: names.get(lookup_key(word)) for word in written}
    return {word: index for word, index in found.items() if index is not None}


def _keyword(rows: Sequence[LineupRow]) -> Keyword:
    option_count = len(rows[0].variant_values)
    value_index: list[dict[str, int]] = [{} for _ in range(option_count)]
    option_values: list[list[tuple[str, ...]]] = [[] for _ in range(option_count)]
    spellings: dict[str, tuple[int, int]] = {}
    variants = []
    for row in rows:
        chosen = []
        for option, row_spellings in enumerate(row.variant_values):
            canonical = normalize(row_spellings[0])
            if canonical not in value_index[option]:
                value_index[option][canonical] = len(option_values[option])
                option_values[option].append(row_spellings)
            value = value_index[option][canonical]
            chosen.append(value)
            for spelling in row_spellings:
                spellings[_squeeze(normalize(spelling))] = (option, value)
        variants.append((tuple(chosen), row.sku))
    for spelling, meaning in list(spellings.items()):
        for suffix in _VALUE_SUFFIXES:
            spellings.setdefault(spelling + suffix, meaning)
    keyword = normalize(rows[0].keyword)
    return Keyword(
        display=rows[0].keyword,
        options=tuple(_option(values) for values in option_values),
        spellings=MappingProxyType(spellings),
        variants=tuple(variants),
        skus=MappingProxyType(dict(reversed(variants))),
        is_word=not is_code(lookup_key(keyword)) and (is_cjk(keyword[0]) or is_cjk(keyword[-1])),
    )


def _option(values: Sequence[tuple[str, ...]]) -> Option:
    return Option(_option_kind(values), tuple(spellings[0] for spellings in values))


def _option_kind(values: Sequence[tuple[str, ...]]) -> str:
    colours = {normalize(word) for word in vocabulary.COLOURS}
    sizes = {normalize(word) for word in vocabulary.SIZES}

    def named(spellings: tuple[str, ...], words: set[str]) -> bool:
        return any(normalize(spelling).removesuffix("色") in words for spelling in spellings)

    if all(named(spellings, colours) for spellings in values):
        return "colour"
    if all(named(spellings, sizes) or spellings[0].isdecimal() for spellings in values):
        return "size"
    return "option"


def _lexicon(
    keywords: Sequence[Keyword],
    names: Mapping[str, int],
    rows_by_keyword: Iterable[Sequence[LineupRow]],
) -> tuple[dict[str, tuple[Kind, int]], dict[str, str]]:
    """Every word the pattern must find, by its key, and each as written (its spaces become
    optional in the pattern); the lineup's words outrank the vocabulary."""
    written: dict[str, str] = {}
    lexicon: dict[str, tuple[Kind, int]] = {}

    def add(words: Iterable[str], entry: tuple[Kind, int]) -> None:
        for word in words:
            normalized = normalize(word)
            written[_squeeze(normalized)] = normalized
            lexicon[_squeeze(normalized)] = entry

    add(vocabulary.NOISE, (Kind.NOISE, 0))
    add(vocabulary.NOT_WANTING, (Kind.CHATTER, 0))
    add(vocabulary.WANTING, (Kind.WANTING, 0))
    add(vocabulary.CANCELLING, (Kind.CANCELLING, 0))
    add(vocabulary.ASKING, (Kind.ASKING, 0))
    add(vocabulary.SEPARATING, (Kind.SEPARATOR, 0))
    add((spelling for keyword in keywords for spelling in keyword.spellings), (Kind.VALUE, 0))
    for rows in rows_by_keyword:
        words = {row.keyword for row in rows} | {alias for row in rows for alias in row.aliases}
        for word in words:
            if not is_code(lookup_key(word)):
                add((word,), (Kind.KEYWORD, names[lookup_key(word)]))
    return lexicon, written


# A form of the pattern: the characters it can start with (for a character class) and its
# regular expression, one named group.
Form = tuple[str, str]


def _master_pattern(forms: Sequence[Form]) -> str:
    """One pattern of all the forms, the first that matches winning. It starts by testing the
    character at a position against all the forms' first characters: the many positions inside
    chatter (`好可愛`) that start no form are passed over in one test, not one per form."""
    starts = "".join(first for first, _ in forms)
    guarded = (f"(?=[{first}]){form}" for first, form in forms)
    return f"(?=[{starts}])(?:" + "|".join(guarded) + ")"


def pattern_forms(
    codes: Iterable[str], lexicon_words: Iterable[str], product_words: Iterable[str]
) -> list[Form]:
    """The forms of the pattern in the order they are tried; a test holds each to the first
    characters it gives."""
    lexicon_words = list(lexicon_words)
    counted, counter, verb_end = _quantity_ends(product_words)
    verbs = "".join(normalize(word) for word in vocabulary.QUANTITY_VERBS)
    return [
        # 7+ digits in groups (0912345678, 0922-333-444, +886 912 345 678): never a quantity.
        # A + glued to a keyword is a quantity however long (`A2+99999999999`).
        (
            _DIGIT + _escaped("+"),
            r"(?P<phone>(?:(?<![\w+])\+\d{2,3}[ \t-]?|(?<![\d+]))"
            r"(?=(?:[ \t-]?\d){7})\d{2,}(?:[ \t-]?\d{3,})*)",
        ),
        # Money and shares are talk about prices (`A2 $50`, `50元`, `50%`), never quantities.
        (
            _DIGIT + _escaped("n$"),
            r"(?P<money>(?:nt)?\$[ \t]*\d+(?:[.,]\d+)*"
            r"|\d+(?:\.\d+)?[ \t]*(?:元|块|%|ntd?(?![a-z])))",
        ),
        # A mention runs to the next space, or to a code typed right after it (`@小美A2+1`).
        (_escaped("@"), r"(?P<mention>@\S(?:(?!(?<![a-z])[a-z]+\d)\S)*)"),
        (
            _escaped(code[0].lower() for code in codes),
            f"(?P<code>{_trie_or_nothing(_code_atoms(code) for code in codes)})",
        ),
        # 十 sits beside + on phone keyboards.
        (_escaped("十"), rf"(?P<slip>十(?P<slip_n>\d+){counted})"),
        (_escaped("+"), rf"(?P<plus>\+{_SPACE}{_number('plus')}{counted})"),
        (_escaped("x*"), rf"(?P<times>(?:(?<![a-z])x|\*){_SPACE}{_number('times')}{counted})"),
        (_escaped("-"), rf"(?P<minus>-{_SPACE}{_number('minus')}{counted})"),
        (
            _escaped("q数"),
            rf"(?P<qty>(?<![a-z])(?:qty|数量){_SPACE}[:=]?{_SPACE}{_number('qty')}{counted})",
        ),
        (_escaped(verbs), rf"(?P<verb>[{verbs}]{_SPACE}{_number('verb')}{verb_end})"),
        (
            _DIGIT + _escaped(CHINESE_NUMERAL_CHARS),
            rf"(?P<counted>{_number('counted')}{_SPACE}{counter})",
        ),
        (
            _escaped(" ".join(word.split())[0] for word in lexicon_words if word.strip()),
            f"(?P<lex>{_trie_or_nothing(_atoms(word) for word in lexicon_words)})",
        ),
        # Letters then digits, not in the lineup: order-shaped (`Z9+1`), never a quantity.
        (
            _LETTER,
            rf"(?P<unknown>(?<![a-z])[a-z]{{1,3}}\d{{1,3}}(?!\d)(?!(?!x{_SPACE}\d)[a-z]))",
        ),
        (_DIGIT, r"(?P<number>\d+)"),
        (_escaped("\n\r"), r"(?P<newline>[\n\r])"),
    ]


def _quantity_ends(product_words: Iterable[str]) -> tuple[str, str, str]:
    """What may follow a quantity's number: an optional counting word (`+2件`), a counting word
    (`兩個`), and a counting word or a word end (`要5`)."""
    followers = trie_pattern(_atoms(normalize(word)) for word in vocabulary.QUANTITY_FOLLOWERS)
    products = _trie_or_nothing(_atoms(word) for word in product_words)
    # A number or counting word with more Chinese typed right after it is part of a longer word
    # (`一個多少`, `要一起`, `+1 包裝`), unless what follows is thanks or a product (`兩盒蘋果`).
    word_ends = rf"(?:(?![\u3400-\u9fff])|(?={followers})|(?={products}))"
    counter = trie_pattern(_atoms(normalize(word)) for word in vocabulary.COUNTERS)
    counter = f"{counter}{word_ends}"
    return f"(?:{_SPACE}{counter})?", counter, f"(?:{_SPACE}{counter}|{word_ends})"


def _number(name: str) -> str:
    # Only from the start of a run of numerals: tried inside a long run, a number that fails
    # would be retried from every position of it.
    numerals = f"[{CHINESE_NUMERAL_CHARS}]"
    return rf"(?P<{name}_n>(?<!\d)\d+|(?<!{numerals}){numerals}+)"


def _escaped(chars: Iterable[str]) -> str:
    """Characters for a character class, each escaped (`-` is not a range)."""
    return "".join(re.escape(char) for char in sorted(set(chars)))


def _trie_or_nothing(words: Iterable[Sequence[str]]) -> str:
    listed = list(words)
    return trie_pattern(listed) if listed else "(?!)"


def _atoms(word: str) -> list[str]:
    """A word as regex atoms; its spaces are optional (`bear mug`, `bearmug`)."""
    return [_SPACE if char.isspace() else re.escape(char) for char in " ".join(word.split())]


def _code_atoms(code: str) -> list[str]:
    letters = code.rstrip("0123456789")
    digits = code[len(letters) :]
    return [*letters.lower(), _CODE_SEPARATOR, *digits]


def _squeeze(text: str) -> str:
    return "".join(text.split())
