"""The shortcuts taken for speed read exactly as the long way round they replace."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import CompiledLineup, vocabulary
from parsers.compiled import Form, _master_pattern, pattern_forms
from parsers.numbers import CHINESE_NUMERAL_CHARS, _read, read_number
from parsers.regex_trie import _END, _alternation, _boundary_before, _render, _Trie, trie_pattern
from parsers.text import _TABLE, is_code, lookup_key, normalize, normalize_fully
from parsers.tokens import Kind
from tests.parsers.lineups import CORPUS, SHOP

LINEUPS = [CORPUS, SHOP]


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(max_codepoint=0x7F)))
def test_ascii_is_normalized_as_every_step_would(text: str) -> None:
    assert normalize(text) == normalize_fully(text)


def test_the_folding_table_holds_no_ascii() -> None:
    # What lets `normalize` leave ASCII to `lower()` alone.
    assert all(code > 0x7F for code in _TABLE)


@settings(max_examples=500, deadline=None)
@given(st.text(f"0123456789{CHINESE_NUMERAL_CHARS}", max_size=8))
def test_usual_numbers_read_as_any_number(text: str) -> None:
    assert read_number(text) == _read(text)


@pytest.mark.parametrize("lineup", LINEUPS, ids=["corpus", "shop"])
def test_current_is_found_as_by_its_lookup_key(lineup: CompiledLineup) -> None:
    names = [*lineup.on_screen_names, "a-2", "Ａ２", "k 7", "蘋果", "bear mug", "Z9", "", "A02"]
    for name in names:
        assert lineup.find(name) == lineup.keyword_index.get(lookup_key(name))


@pytest.mark.parametrize("lineup", LINEUPS, ids=["corpus", "shop"])
def test_plain_codes_are_their_lookup_keys(lineup: CompiledLineup) -> None:
    codes = [key for key in lineup.keyword_index if is_code(key)]
    # Codes of the letter x are left to the scanner: after a keyword, `x2` is a quantity.
    assert set(lineup.plain_codes) == {
        code.lower() for code in codes if code.rstrip("0123456789") != "X"
    }
    for typed, (key, index) in lineup.plain_codes.items():
        assert lookup_key(typed) == key
        assert lineup.keyword_index[key] == index


@pytest.mark.parametrize("lineup", LINEUPS, ids=["corpus", "shop"])
def test_skus_by_values_are_the_first_variant_of_them(lineup: CompiledLineup) -> None:
    for keyword in lineup.keywords:
        for values, _ in keyword.variants:
            first = next(sku for chosen, sku in keyword.variants if chosen == values)
            assert keyword.skus[values] == first


# Pieces of normalized comments that the forms of the pattern match, and characters that start
# none of them.
PATTERN_PIECES = [
    *["nt$50", "$ 5", "50元", "3.5%", "10nt", "+886 912 345 678", "0912345678", "0922-333-444"],
    *["@小美", "qty 4", "数量:2", "十1", "+2件", "+ 3", "x3", "*2", "-1", "- 2个", "要5", "买两个"],
    *["两个", "3pcs", "二十", "a1", "a-02", "b 3", "c7", "xl2", "x2", "z9", "k07", "\n", "\r"],
    *["谢谢", "thank you", "bear mug", "多少", "?", "和", "红色", "m号", "sold", "我要", "取消"],
]
PATTERN_TEXT = st.lists(
    st.one_of(
        st.sampled_from(PATTERN_PIECES),
        # Characters alone, among them every numeral and ٣, an Arabic-Indic digit (`\d` is one).
        st.sampled_from([*" \t.:=,;&_aAmqlst个件好主吗😍é٣", *CHINESE_NUMERAL_CHARS]),
    ),
    max_size=8,
).map("".join)


def forms_of(lineup: CompiledLineup) -> list[Form]:
    codes = [key for key in lineup.keyword_index if is_code(key)]
    words = [normalize(word) for word in (*vocabulary.WANTING, *vocabulary.ASKING)]
    words += [key for key in lineup.lexicon if not key.isascii()]
    products = [key for key, (kind, _) in lineup.lexicon.items() if kind is Kind.VALUE]
    return pattern_forms([*codes, "X2"], [*words, "bear mug", "m"], products)


@settings(max_examples=300, deadline=None)
@given(PATTERN_TEXT)
def test_each_form_starts_only_with_its_first_characters(text: str) -> None:
    for lineup in LINEUPS:
        for first, form in forms_of(lineup):
            pattern, starts = re.compile(form), re.compile(f"[{first}]")
            for position in range(len(text)):
                if pattern.match(text, position):
                    assert starts.match(text, position), (form[:20], text, position)


@settings(max_examples=300, deadline=None)
@given(PATTERN_TEXT)
def test_the_first_characters_change_no_match(text: str) -> None:
    for lineup in LINEUPS:
        forms = forms_of(lineup)
        unguarded = re.compile("(?=[^ \t])(?:" + "|".join(form for _, form in forms) + ")")
        assert matches(re.compile(_master_pattern(forms)), text) == matches(unguarded, text)


def matches(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], str | None]]:
    return [(match.span(), match.lastgroup) for match in pattern.finditer(text)]


def ungrouped_trie(words: Iterable[Sequence[str]]) -> str:
    """`trie_pattern` as it was, with the boundary before each word: the reference."""
    trie: _Trie = {}
    for atoms in filter(None, words):
        node = trie
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[_END] = {}
    return _alternation(
        [_boundary_before(atom) + atom + _render(child, atom) for atom, child in trie.items()]
    )


TRIE_WORDS = st.lists(st.text("am12紅藍 ", min_size=1, max_size=4).map(str.strip), max_size=8)


@settings(max_examples=300, deadline=None)
@given(TRIE_WORDS, st.text("am12紅藍 x", max_size=10))
def test_grouping_a_trie_by_boundary_changes_no_match(words: list[str], text: str) -> None:
    atoms = [[re.escape(char) for char in word] for word in words if word]
    if not atoms:
        return
    grouped, reference = re.compile(trie_pattern(atoms)), re.compile(ungrouped_trie(atoms))
    for position in range(len(text) + 1):
        found, expected = grouped.match(text, position), reference.match(text, position)
        assert (found and found.span()) == (expected and expected.span())
