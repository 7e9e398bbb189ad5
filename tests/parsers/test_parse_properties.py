"""Properties that hold for every comment, checked on generated ones (hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opencc import OpenCC

from parsers import CompiledLineup, ParseResult, parse_comment
from parsers.parse import read_fully
from parsers.scanner import tokenize
from parsers.shortcut import read_plainly
from parsers.text import Comment
from tests.parsers.lineups import CORPUS, DATA, SHOP, items

LINEUPS = {"shop": SHOP, "corpus": CORPUS}
SKUS = {
    name: {sku for keyword in lineup.keywords for _, sku in keyword.variants}
    for name, lineup in LINEUPS.items()
}
PIECES = [
    # products, as viewers type them
    "K07",
    "k-07",
    "K7",
    "XL2",
    "xl 02",
    "A1",
    "A2",
    "A12",
    "a-2",
    "B3",
    "C7",
    "Z9",
    "K08",
    "芒果",
    "mango",
    "牛肉乾",
    "牛肉干",
    "和牛",
    "wagyu",
    "發夾",
    "big pillow",
    "bigpillow",
    "蘋果",
    "苹果",
    "apple",
    "小熊杯",
    "bear mug",
    "tumbler",
    "tote",
    "jam",
    "mamgo",
    "茫果",
    # variant values
    "黑",
    "白色",
    "black",
    "38",
    "40號",
    "紅",
    "红",
    "藍",
    "red",
    "M",
    "L",
    "XL",
    "S",
    "米",
    "絲",
    "棉",
    "cream",
    "綠",
    # quantities
    "+1",
    "+ 2",
    "+0",
    "+100",
    "x2",
    "X3",
    "*2",
    "×2",
    "2件",
    "兩個",
    "两个",
    "十個",
    "十1",
    "二十",
    "qty 4",
    "要3",
    "買兩個",
    "加一",
    "-1",
    "- 2",
    "1",
    "10",
    "0",
    "3pcs",
    "2️⃣",
    "➕1",
    "✖️2",
    "０",
    "１２",
    "一百個",
    "99999999",
    # words of intent, questions, separators, noise
    "我要",
    "我也要",
    "要",
    "收",
    "想要",
    "sold",
    "mine",
    "claim",
    "buy",
    "取消",
    "不要了",
    "cancel",
    "pass",
    "?",
    "嗎",
    "還有",
    "多少錢",
    "請問",
    "how much",
    "和",
    "跟",
    "and",
    ",",
    "、",
    ";",
    "\n",
    "謝謝",
    "thanks",
    "@小美",
    "❤️",
    "😍",
    "👍",
    "喔",
    "0912345678",
    "0922-333-444",
    "+886 912 345 678",
    # chatter
    "好可愛",
    "哈哈",
    "主播",
    "明天",
    "可以面交",
    "包裝",
    "青",
    "汁",
    "的",
]
SEPARATORS = ["", " ", "  ", "-", "\t"]

comments = st.lists(
    st.tuples(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), st.sampled_from(SEPARATORS)),
    max_size=8,
).map(lambda pairs: "".join(piece + separator for piece, separator in pairs))
currents = st.sampled_from([None, "A1", "A2", "K07", "XL2", "芒果", "mango", "Z9", ""])
lineup_names = st.sampled_from(sorted(LINEUPS))


def check_well_formed(result: ParseResult, skus: set[str]) -> None:
    assert result.status in ("order", "review", "none")
    for reading in (result.items, *result.candidates):
        for item in reading:
            assert item.sku in skus
            if item.action == "add" or item.quantity is not None:
                assert item.quantity is not None
                assert 1 <= item.quantity <= 99
    if result.status == "order":
        assert result.items
        assert not result.candidates
    else:
        assert result.items == ()
    if result.status == "review":
        assert result.reason
    if result.status == "none":
        assert not result.candidates


@settings(max_examples=600, deadline=None)
@given(comments, currents, lineup_names)
def test_no_comment_crashes_and_every_sku_is_in_the_lineup(
    text: str, current: str | None, lineup_name: str
) -> None:
    result = parse_comment(text, LINEUPS[lineup_name], current)
    check_well_formed(result, SKUS[lineup_name])


@settings(max_examples=300, deadline=None)
@given(st.text(), currents)
def test_no_text_at_all_crashes(text: str, current: str | None) -> None:
    check_well_formed(parse_comment(text, SHOP, current), SKUS["shop"])


def both_readings(
    text: str, current: str | None, lineup: CompiledLineup
) -> tuple[ParseResult | None, ParseResult]:
    comment = Comment.of(text)
    tokens = tokenize(comment.normalized, lineup)
    on_screen = lineup.find(current) if current else None
    full = read_fully(comment, tokens, lineup, on_screen, current)
    return read_plainly(tokens, lineup, on_screen), full


@settings(max_examples=600, deadline=None)
@given(comments, currents, lineup_names)
def test_the_shortcut_reads_as_the_full_path(
    text: str, current: str | None, lineup_name: str
) -> None:
    plain, full = both_readings(text, current, LINEUPS[lineup_name])
    if plain is not None:
        assert plain == full


@pytest.mark.parametrize(
    ("text", "current"),
    [
        ("XL2+1", None),
        ("+2", "XL2"),
        ("收 mango", None),
        ("取消芒果", None),
        ("xl2 3", None),
        ("mine", "XL2"),
        ("-1", "芒果"),
        ("和牛 x2 謝謝", None),
        ("K07 黑 38 +2", None),
        ("k7 40 white x1", None),
        ("H3 M 灰 棉 2件", None),
        ("XL2+1, 芒果+2", None),
        ("XL2 x1 和 K07 白 38 x2", None),
        ("K07 黑 38+1\nK07 白 40+1", None),
        ("黑38+1", "K07"),
        ("+2 白色 40號", "K07"),
        ("XL2+1 可以面交嗎", None),
        ("芒果 +1 謝謝主播 明天可以寄嗎", None),
    ],
)
def test_the_commonest_comments_take_the_shortcut(text: str, current: str | None) -> None:
    plain, full = both_readings(text, current, SHOP)
    assert full.status == "order"
    assert plain == full


@pytest.mark.parametrize(
    ("text", "current"),
    [
        ("哈哈哈", None),
        ("好可愛😍", "XL2"),
        ("XL2 好可愛", None),
        ("芒果還有嗎?", "K07"),
        ("", None),
    ],
)
def test_talk_takes_the_shortcut(text: str, current: str | None) -> None:
    plain, full = both_readings(text, current, SHOP)
    assert full.status == "none"
    assert plain == full


@pytest.mark.parametrize(
    ("text", "current"),
    [
        ("XL2+1好可愛", None),  # words typed against the quantity
        ("+1的人好多", "XL2"),
        ("K07 黑 38 +1好可愛", None),
        ("XL2+1 XL2+2", None),  # the same SKU twice
        ("K07 黑 白 38+1", None),  # two colours
        ("K07 黑+1", None),  # no size
        ("K07 紅 38+1", None),  # no such colour
        ("紅+1 K07 黑 38+1", "K07"),  # one item of K07, with two quantities
        ("XL2 +0, 芒果+1", None),
        ("XL2+100", None),
        ("XL2-1 芒果+1", None),
        ("芒果+1 XL2", None),  # a bare keyword beside an order
        ("XL2+1 芒果汁+1", None),  # a word typed where a product name goes
        ("XL2 10", None),
        ("收 XL2 x2", None),
    ],
)
def test_near_misses_are_left_to_the_full_path_or_read_as_it(
    text: str, current: str | None
) -> None:
    plain, full = both_readings(text, current, SHOP)
    assert plain is None or plain == full


def test_a_comment_too_long_to_read_safely_is_never_an_order() -> None:
    plain, full = both_readings("XL2+1" + " ," * 70, None, SHOP)
    assert plain is None
    assert full.status == "review"
    assert parse_comment("XL2+1" + " ," * 70, SHOP, None) == full


CORPUS_TEXTS = [
    json.loads(line)["text"]
    for line in (DATA / "comments.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


@pytest.mark.parametrize("text", CORPUS_TEXTS)
def test_the_shortcut_reads_the_corpus_as_the_full_path(text: str) -> None:
    for current in (None, "A1", "A2", "C7", "Z9"):
        plain, full = both_readings(text, current, CORPUS)
        assert plain is None or plain == full, current


# Items as viewers type them, mostly right, sometimes wrong: each product of the shop lineup by
# one of its names, its option values in any order (now and then one missing, one twice, or one
# of another product), a quantity (now and then 0, over 99, bare or minus), between separators,
# maybe with talk after them. A product named "" is the one on screen.
Spellings = list[list[str]]  # per option, the spellings of its values
SHOP_PRODUCTS: list[tuple[list[str], list[Spellings]]] = [
    (["XL2", "xl-2", "big pillow"], []),
    (["芒果", "mango"], []),
    (["牛肉乾", "beef jerky", "肉乾"], []),
    (["和牛", "wagyu"], []),
    (["发夹", "髮夾", "hair clip"], []),
    (
        ["K07", "k7", "k 07", ""],
        [[["黑", "black"], ["白", "white", "白色"]], [["38"], ["40", "40號"]]],
    ),
    (
        ["H3", "h3", ""],
        [[["S"], ["M"]], [["米", "cream"], ["灰", "grey"]], [["絲"], ["棉", "cotton"]]],
    ),
]
MISTAKES = ["", "", "", "", "", "missing", "twice", "stranger"]
STRANGERS = ["紅", "XL", "38號", "綠", "silk"]
ITEM_QUANTITIES = ["+{n}", " +{n}", " x{n}", "*{n}", " {n}件", " + {n} 個", " {n}", "-{n}"]
ITEM_SEPARATORS = [" ", ", ", "、", "\n", " 和 ", "", ";"]
TALK_AFTER = ["", "", " 謝謝", " 可以面交嗎", "好可愛", "的人好多", " ?", " 哈哈 ?", " 不要"]


@st.composite
def plain_items(draw: st.DrawFn) -> str:
    names, options = draw(st.sampled_from(SHOP_PRODUCTS))
    values = [draw(st.sampled_from(draw(st.sampled_from(option)))) for option in options]
    mistake = draw(st.sampled_from(MISTAKES))
    if mistake == "missing" and values:
        values.pop()
    elif mistake == "twice" and values:
        values.append(values[0])
    elif mistake == "stranger":
        values.append(draw(st.sampled_from(STRANGERS)))
    values = draw(st.permutations(values))
    amount = draw(st.one_of(st.integers(1, 9), st.integers(0, 120)))
    quantity = draw(st.sampled_from(ITEM_QUANTITIES)).format(n=amount)
    before = draw(st.integers(0, len(values)))
    named = " ".join([draw(st.sampled_from(names)), *values[:before]]).strip()
    return named + quantity + " ".join(["", *values[before:]])


@st.composite
def item_lists(draw: st.DrawFn) -> str:
    # Mostly one to three items; now and then more than a comment may hold (MOST_TOKENS).
    count = draw(st.sampled_from([1, 1, 1, 2, 2, 3, 25]))
    items = [draw(plain_items()) + draw(st.sampled_from(ITEM_SEPARATORS)) for _ in range(count)]
    return "".join(items) + draw(st.sampled_from(TALK_AFTER))


@settings(max_examples=1000, deadline=None)
@given(item_lists(), currents)
def test_the_shortcut_reads_items_as_the_full_path(text: str, current: str | None) -> None:
    plain, full = both_readings(text, current, SHOP)
    if plain is not None:
        assert plain == full


# Orders of one product, written in the ways of parsing.md, with an explicit quantity.
PLAIN_PRODUCTS = ["XL2", "xl-2", "芒果", "mango", "牛肉乾", "beef jerky", "和牛", "发夹", "髮夾"]
VARIANT_PRODUCTS = [("K07", ["黑", "black"], ["38", "38號"]), ("k7", ["白色", "white"], ["40"])]
QUANTITY_FORMS = ["+{n}", " +{n}", " x{n}", "*{n}", " {n}件", " qty {n}", "要{n}", " + {n} 個"]
CHATTER = [
    "謝謝",
    "謝謝主播❤️",
    "好可愛",
    "哈哈哈",
    "明天可以寄嗎",
    "可以面交嗎?",
    "👍👍",
    "主播好美",
    "thanks!",
    "~~",
    "包裝可以精美一點",
    "期待",
    "好便宜",
    "衝了",
    "請問運費多少",
    "@小美 快來",
]


@st.composite
def orders(draw: st.DrawFn) -> str:
    quantity = draw(st.sampled_from(QUANTITY_FORMS)).format(n=draw(st.integers(1, 99)))
    if draw(st.booleans()):
        return draw(st.sampled_from(PLAIN_PRODUCTS)) + quantity
    keyword, colours, sizes = draw(st.sampled_from(VARIANT_PRODUCTS))
    values = draw(st.permutations([draw(st.sampled_from(colours)), draw(st.sampled_from(sizes))]))
    return f"{keyword} {' '.join(values)}{quantity}"


@settings(max_examples=300, deadline=None)
@given(orders(), st.lists(st.sampled_from(CHATTER), min_size=1, max_size=3))
def test_chatter_after_an_order_does_not_change_it(order: str, chatter: list[str]) -> None:
    plain = parse_comment(order, SHOP, None)
    assert plain.status == "order", plain.reason
    chatty = parse_comment(order + " " + " ".join(chatter), SHOP, None)
    assert (chatty.status, items(chatty)) == (plain.status, items(plain))


ASCII_PIECES = [piece for piece in PIECES + PLAIN_PRODUCTS if piece.isascii() and piece.strip()]
ascii_comments = st.lists(
    st.one_of(
        st.sampled_from(ASCII_PIECES),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=4),
    ),
    max_size=6,
).map(" ".join)


def full_width(text: str) -> str:
    return "".join(
        "\u3000" if char == " " else chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char
        for char in text
    )


def same_reading(first: ParseResult, second: ParseResult) -> None:
    assert (first.status, first.items, first.candidates) == (
        second.status,
        second.items,
        second.candidates,
    )


@settings(max_examples=400, deadline=None)
@given(ascii_comments, currents, lineup_names)
def test_full_width_reads_as_half_width(text: str, current: str | None, lineup_name: str) -> None:
    lineup: CompiledLineup = LINEUPS[lineup_name]
    same_reading(
        parse_comment(text, lineup, current), parse_comment(full_width(text), lineup, current)
    )


TO_TRADITIONAL = OpenCC("s2t")
TO_SIMPLIFIED = OpenCC("t2s")
CHINESE_PIECES = [piece for piece in PIECES if not piece.isascii()] + ["盃", "杯", "發夾", "发夹"]
chinese_comments = st.lists(st.sampled_from([*CHINESE_PIECES, "A2", "+1", " "]), max_size=6).map(
    "".join
)


@settings(max_examples=200, deadline=None)
@given(chinese_comments, currents, lineup_names)
def test_traditional_reads_as_simplified(text: str, current: str | None, lineup_name: str) -> None:
    lineup = LINEUPS[lineup_name]
    same_reading(
        parse_comment(TO_TRADITIONAL.convert(text), lineup, current),
        parse_comment(TO_SIMPLIFIED.convert(text), lineup, current),
    )
