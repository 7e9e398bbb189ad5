"""parsing.md rule by rule, with a lineup and comments of our own (not the corpus's)."""

from __future__ import annotations

import pytest

from tests.parsers.lineups import CORPUS, Item, candidates, items, read

Expected = list[Item]


def assert_order(text: str, expected: Expected, current: str | None = None) -> None:
    result = read(text, current)
    assert (result.status, items(result)) == ("order", expected), result.reason


def assert_review(text: str, current: str | None = None) -> str:
    result = read(text, current)
    assert result.status == "review", items(result)
    assert result.items == ()
    assert result.reason
    return result.reason


def assert_none(text: str, current: str | None = None) -> None:
    result = read(text, current)
    assert (result.status, result.items) == ("none", ()), result.reason


# Rule 1: normalization.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ｋ０７ 黑 ３８ ＋２", [("add", "K07-BLK-38", 2)]),  # full width
        ("ＸＬ２ ｘ３", [("add", "XL2", 3)]),
        ("xl2 +2️⃣", [("add", "XL2", 2)]),  # keycap
        ("XL2 +🔟", [("add", "XL2", 10)]),
        ("芒果➕1", [("add", "MANGO-BOX", 1)]),  # heavy plus
        ("XL2 ✖️3", [("add", "XL2", 3)]),  # heavy multiplication
        ("髮夾+1", [("add", "CLIP", 1)]),  # Traditional for a lineup written in Simplified
        ("发夹+1", [("add", "CLIP", 1)]),
        ("牛肉干 x2", [("add", "JERKY", 2)]),  # Simplified for a lineup in Traditional
        ("肉干+1", [("add", "JERKY", 1)]),  # an alias, folded too
        ("H3 S 米 丝 +1", [("add", "H3-S-CRM-SLK", 1)]),  # a variant spelling, folded
    ],
)
def test_normalization(text: str, expected: Expected) -> None:
    assert_order(text, expected)


# Rule 2: items and their order.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("XL2+1;芒果+2", [("add", "XL2", 1), ("add", "MANGO-BOX", 2)]),
        ("XL2+1，芒果 x2", [("add", "XL2", 1), ("add", "MANGO-BOX", 2)]),
        ("XL2+1 跟 芒果+1", [("add", "XL2", 1), ("add", "MANGO-BOX", 1)]),
        ("mango+1 and XL2+1", [("add", "MANGO-BOX", 1), ("add", "XL2", 1)]),
        ("XL2 x1 和 芒果 x2", [("add", "XL2", 1), ("add", "MANGO-BOX", 2)]),
        ("XL2+1\r\n芒果+1", [("add", "XL2", 1), ("add", "MANGO-BOX", 1)]),
        ("和牛+1 芒果+1", [("add", "WAGYU", 1), ("add", "MANGO-BOX", 1)]),  # 和 inside a word
        ("K07 38 黑 +1", [("add", "K07-BLK-38", 1)]),
        ("K07黑38+1", [("add", "K07-BLK-38", 1)]),
        ("K07 +1 黑 38", [("add", "K07-BLK-38", 1)]),
        ("K07-white-40+2", [("add", "K07-WHT-40", 2)]),
        ("K07 黑38+1 白40+2", [("add", "K07-BLK-38", 1), ("add", "K07-WHT-40", 2)]),
        ("H3 絲 S 米 x2", [("add", "H3-S-CRM-SLK", 2)]),
        ("h3 m grey cotton 一件", [("add", "H3-M-GRY-CTN", 1)]),
    ],
)
def test_items(text: str, expected: Expected) -> None:
    assert_order(text, expected)


# Rule 3: keywords.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k-07 黑 38 +1", [("add", "K07-BLK-38", 1)]),
        ("K7 黑 38 +1", [("add", "K07-BLK-38", 1)]),
        ("k 07 黑 38 +1", [("add", "K07-BLK-38", 1)]),
        ("xl-02+1", [("add", "XL2", 1)]),
        ("Big Pillow x2", [("add", "XL2", 2)]),
        ("bigpillow+1", [("add", "XL2", 1)]),
        ("beef jerky+1", [("add", "JERKY", 1)]),
        ("WAGYU x2", [("add", "WAGYU", 2)]),
    ],
)
def test_keywords_match_exactly(text: str, expected: Expected) -> None:
    result = read(text)
    assert (result.status, items(result)) == ("order", expected)
    assert not result.fuzzy


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("big pilow +1", [("add", "XL2", 1)]),
        ("beef jerkey +1", [("add", "JERKY", 1)]),
        ("mamgo+1", [("add", "MANGO-BOX", 1)]),
        ("hair cilp x2", [("add", "CLIP", 2)]),
    ],
)
def test_words_with_a_small_typo_match_fuzzily(text: str, expected: Expected) -> None:
    result = read(text)
    assert (result.status, items(result)) == ("order", expected)
    assert result.fuzzy


@pytest.mark.parametrize("text", ["K08+1", "K70+1", "XL3+1", "XL20+1", "K17 x2"])
def test_a_code_never_becomes_another_code(text: str) -> None:
    assert assert_review(text).endswith("is not in tonight's lineup")


def test_a_short_word_one_typo_away_is_only_suggested() -> None:
    # `soup` is one letter from `soap`, and is another thing: four letters are too few to be sure.
    result = read("soup x2", lineup=CORPUS)
    assert result.status == "review"
    assert candidates(result) == [[("add", "B3", 2)]]


def test_a_chinese_word_one_character_away_is_only_suggested() -> None:
    result = read("茫果+1")
    assert result.status == "review"
    assert candidates(result) == [[("add", "MANGO-BOX", 1)]]


@pytest.mark.parametrize("text", ["青芒果+1", "芒果乾+1", "小和牛 x2"])
def test_a_character_typed_against_a_word_may_make_another_product(text: str) -> None:
    reason = assert_review(text)
    assert reason.startswith("not sure '")


# Rule 4: quantities.
@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("XL2+3", 3),
        ("XL2 + 3", 3),
        ("XL2 x3", 3),
        ("XL2X3", 3),
        ("XL2 *3", 3),
        ("XL2 ×3", 3),
        ("XL2 3件", 3),
        ("XL2 3 pcs", 3),
        ("XL2 1pc", 1),
        ("XL2 qty: 4", 4),
        ("XL2 數量 4", 4),
        ("XL2 兩個", 2),
        ("XL2两包", 2),
        ("XL2 二十個", 20),
        ("XL2 十五件", 15),
        ("XL2 廿一個", 21),
        ("XL2 九十九個", 99),
        ("XL2 加二", 2),
        ("XL2要3", 3),
        ("XL2 買兩個", 2),
        ("XL2 收2", 2),
        ("XL2 3", 3),  # a bare number right after the keyword
        ("XL2 03", 3),
        ("XL2 十3", 3),  # 十 typed for +
        ("XL2 + 1 個", 1),
        ("我要XL2 2個", 2),
        ("XL2", 1),  # just the keyword
        ("我要XL2", 1),
        ("XL2 想要", 1),
        ("收XL2", 1),
        ("buy XL2", 1),
        ("claim XL2", 1),
        ("XL2 mine", 1),
        ("XL2 我要喔", 1),
        ("XL2+1 0988-123-456", 1),  # phone numbers are never quantities
        ("XL2 0912345678", 1),
        ("XL2+2 +886 912 345 678", 2),
        ("XL2 x2 2個", 2),  # the same quantity said twice
    ],
)
def test_quantities(text: str, quantity: int) -> None:
    assert_order(text, [("add", "XL2", quantity)])


def test_commentsold_grammar() -> None:
    assert_order("SOLD K07 2 white 38", [("add", "K07-WHT-38", 2)])
    assert_order("sold k07 white 40", [("add", "K07-WHT-40", 1)])


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("XL2+0", "XL2: a quantity of 0"),
        ("XL2 x100", "XL2: 100 is more than 99, the most one comment orders"),
        ("XL2 一百個", "XL2: 100 is more than 99, the most one comment orders"),
        ("XL2+99999999999", "XL2: the quantity is more than 99, the most one comment orders"),
        ("XL2+1+1", "XL2 has more than one quantity (+1 and +1)"),
        ("XL2 2 +1", "XL2 has more than one quantity (2 and +1)"),
        ("XL2+1-1", "XL2 has more than one quantity (+1 and -1)"),
        ("XL2 +1 5", "not sure 5 is a quantity in 'XL2 +1 5'"),
    ],
)
def test_unusable_quantities_go_to_review(text: str, why: str) -> None:
    assert assert_review(text) == why


@pytest.mark.parametrize("text", ["XL2 十分可愛", "XL2 一起買比較便宜", "XL2 明天2點寄"])
def test_numbers_inside_chatter_are_not_quantities(text: str) -> None:
    assert_none(text)


# Rule 5: the product on screen.
@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("+2", "芒果", [("add", "MANGO-BOX", 2)]),
        ("+2", "mango", [("add", "MANGO-BOX", 2)]),  # an alias names it too
        ("加1", "XL2", [("add", "XL2", 1)]),
        ("十1", "XL2", [("add", "XL2", 1)]),
        ("十個", "XL2", [("add", "XL2", 10)]),
        ("我也要 +1", "XL2", [("add", "XL2", 1)]),
        ("+1 好可愛", "XL2", [("add", "XL2", 1)]),
        ("mine", "XL2", [("add", "XL2", 1)]),
        ("我要", "XL2", [("add", "XL2", 1)]),
        ("黑38 +1", "K07", [("add", "K07-BLK-38", 1)]),
        ("+1 white 40", "k-07", [("add", "K07-WHT-40", 1)]),
        ("黑38+1 白40+2", "K07", [("add", "K07-BLK-38", 1), ("add", "K07-WHT-40", 2)]),
        ("芒果+1", "K07", [("add", "MANGO-BOX", 1)]),  # a keyword beats the screen
    ],
)
def test_bare_quantities_order_the_product_on_screen(
    text: str, current: str, expected: Expected
) -> None:
    assert_order(text, expected, current)


@pytest.mark.parametrize(
    ("text", "current", "why"),
    [
        ("+1", None, "no product is on screen for '+1'"),
        ("mine", None, "no product is on screen for 'mine'"),
        ("+1", "Q5", "the product on screen (Q5) is not in tonight's lineup"),
        ("+1", "K07", "K07 (on screen) needs a colour (黑/白) and a size (38/40)"),
        ("黑+1", "K07", "K07 (on screen) needs a size (38/40)"),
        ("silk+1", "XL2", "'silk' is not an option of XL2 (on screen)"),
    ],
)
def test_bare_quantities_without_a_sure_product_go_to_review(
    text: str, current: str | None, why: str
) -> None:
    assert assert_review(text, current) == why


def test_a_lone_number_on_screen_is_offered_as_a_quantity() -> None:
    result = read("2", "XL2")
    assert result.status == "review"
    assert candidates(result) == [[("add", "XL2", 2)]]


def test_chatter_where_a_name_goes_is_not_taken_for_the_product_on_screen() -> None:
    result = read("榴槤+1", "XL2")
    assert result.status == "review"
    assert result.reason == "'榴槤' is not in tonight's lineup"
    assert candidates(result) == [[("add", "XL2", 1)]]


# Rule 6: variants.
def test_three_options_in_any_order() -> None:
    assert_order("H3 S 米 絲 +1", [("add", "H3-S-CRM-SLK", 1)])
    assert_order("H3 cotton grey M x2", [("add", "H3-M-GRY-CTN", 2)])


def test_colour_and_size_suffixes_are_noise() -> None:
    assert_order("K07 黑色 38號 +1", [("add", "K07-BLK-38", 1)])


def test_a_missing_option_is_named_with_its_values() -> None:
    result = read("H3 S 米 +1")
    assert result.reason == "H3 needs an option (絲/棉)"
    assert candidates(result) == [[("add", "H3-S-CRM-SLK", 1)]]


def test_an_unknown_value_is_quoted_as_typed() -> None:
    result = read("K07 紅 38 +1")
    assert result.reason == "K07 needs a colour (黑/白); '紅' is not one of them"
    assert candidates(result) == [[("add", "K07-BLK-38", 1)], [("add", "K07-WHT-38", 1)]]


def test_two_values_of_one_option_go_to_review() -> None:
    result = read("K07 黑 白 38 +1")
    assert result.reason == "K07: which colour, 黑/白?"
    assert candidates(result) == [[("add", "K07-BLK-38", 1)], [("add", "K07-WHT-38", 1)]]


def test_a_combination_the_lineup_lacks_goes_to_review() -> None:
    result = read("H3 S 米 棉 +1")
    assert result.status == "review"
    assert result.reason == "H3 does not come in S 米 棉"


def test_options_for_a_product_without_any_go_to_review() -> None:
    result = read("XL2 黑 +1")
    assert result.reason == "XL2 has no options; not sure what '黑' means"
    assert candidates(result) == [[("add", "XL2", 1)]]


def test_a_keyword_with_all_its_options_and_no_quantity_orders_one() -> None:
    assert_order("K07 黑 38", [("add", "K07-BLK-38", 1)])


# Rule 7: cancels.
@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("取消芒果", None, [("cancel", "MANGO-BOX", None)]),
        ("芒果 取消", None, [("cancel", "MANGO-BOX", None)]),
        ("cancel mango", None, [("cancel", "MANGO-BOX", None)]),
        ("pass XL2", None, [("cancel", "XL2", None)]),
        ("芒果不要了", None, [("cancel", "MANGO-BOX", None)]),
        ("取消 XL2 2個", None, [("cancel", "XL2", 2)]),
        ("XL2-1", None, [("cancel", "XL2", 1)]),
        ("K07 黑 38 -1", None, [("cancel", "K07-BLK-38", 1)]),
        ("取消", "XL2", [("cancel", "XL2", None)]),
        ("不要了", "XL2", [("cancel", "XL2", None)]),
        ("-2", "XL2", [("cancel", "XL2", 2)]),
        ("XL2+1 取消芒果", None, [("add", "XL2", 1), ("cancel", "MANGO-BOX", None)]),
        ("XL2 取消 芒果 取消", None, [("cancel", "XL2", None), ("cancel", "MANGO-BOX", None)]),
        (
            "取消K07 黑",
            None,
            [("cancel", "K07-BLK-38", None), ("cancel", "K07-BLK-40", None)],
        ),
    ],
)
def test_cancels(text: str, current: str | None, expected: Expected) -> None:
    assert_order(text, expected, current)


def test_cancelling_some_of_an_item_with_variants_needs_the_variant() -> None:
    result = read("K07 -1")
    assert result.status == "review"
    assert candidates(result)[0] == [("cancel", "K07-BLK-38", 1)]


@pytest.mark.parametrize(("text", "current"), [("取消", None), ("-1", None), ("取消了嗎", "XL2")])
def test_cancels_that_are_not_sure_go_to_review(text: str, current: str | None) -> None:
    assert_review(text, current)


# Rule 8: questions and chatter.
@pytest.mark.parametrize(
    "text",
    [
        "芒果還有嗎",
        "有XL2嗎",
        "XL2多少錢",
        "請問K07是真皮嗎",
        "XL2 好可愛",
        "哈哈",
        "Is XL2 still available?",
        "what size is K07",
        "XL2 和牛 好想吃",
        "收到 謝謝",
        "主播不要走",
        "XL2 還有2個嗎",
        "芒果 一盒幾顆",
        "XL2 三個有優惠嗎",
        "牛肉乾 要一個月才到嗎",
        "XL2 第一個好看",
        "我+1了嗎?",
    ],
)
def test_questions_and_chatter_are_not_orders(text: str) -> None:
    assert_none(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("兩盒芒果", [("add", "MANGO-BOX", 2)]),
        ("要兩盒芒果", [("add", "MANGO-BOX", 2)]),
        ("芒果兩盒謝謝", [("add", "MANGO-BOX", 2)]),
        ("XL2 3個就好", [("add", "XL2", 3)]),
        ("XL2+1 包裝可以精美一點", [("add", "XL2", 1)]),
    ],
)
def test_a_quantity_in_words_is_one_only_where_it_ends(text: str, expected: Expected) -> None:
    assert_order(text, expected)


@pytest.mark.parametrize(
    ("text", "current"),
    [("+1的人好多", "XL2"), ("XL2+1包裝可以嗎", None), ("pass the salt lol", "XL2")],
)
def test_intent_words_run_into_chatter_go_to_review(text: str, current: str | None) -> None:
    assert_review(text, current)


@pytest.mark.parametrize("text", ["XL2+1 可以面交嗎", "XL2+1 請問幾天到?", "XL2 x2 thanks!"])
def test_a_question_after_a_quantity_still_orders(text: str) -> None:
    assert read(text).status == "order"


@pytest.mark.parametrize("text", ["還有嗎 XL2 x2", "可以面交嗎 XL2+1", "how much XL2 x2"])
def test_a_question_before_the_quantity_goes_to_review(text: str) -> None:
    assert assert_review(text).endswith("reads like a question")


# Rule 9: order-shaped but not orderable.
@pytest.mark.parametrize("text", ["Q5+1", "Q5", "XL2+1 Q5+1"])
def test_unknown_codes_go_to_review(text: str) -> None:
    assert "Q5 is not in tonight's lineup" in assert_review(text)


def test_the_sure_part_of_a_half_unknown_comment_is_offered() -> None:
    assert candidates(read("XL2+1 Q5+1")) == [[("add", "XL2", 1)]]


# Rule 10: noise.
@pytest.mark.parametrize(
    "text", ["@阿明 XL2+1", "@小美XL2+1", "XL2+1 謝謝🙏", "XL2+1~~~!!!", "XL2 +1 感恩 ❤️❤️"]
)
def test_mentions_emoji_and_thanks_are_noise(text: str) -> None:
    assert_order(text, [("add", "XL2", 1)])


# Decisions for the ambiguous (see parsers/README.md).
def test_the_same_sku_twice_goes_to_review_with_the_sum_offered() -> None:
    result = read("XL2+1 XL2+2")
    assert result.reason == "XL2 is written more than once"
    assert candidates(result) == [[("add", "XL2", 3)]]


def test_a_bare_keyword_beside_an_order_goes_to_review() -> None:
    result = read("XL2 芒果+2")
    assert result.reason == "XL2 has no quantity"
    assert candidates(result) == [[("add", "XL2", 1), ("add", "MANGO-BOX", 2)]]


def test_bare_keywords_alone_each_order_one() -> None:
    assert_order("XL2 芒果", [("add", "XL2", 1), ("add", "MANGO-BOX", 1)])


def test_bare_keywords_among_chatter_are_talk() -> None:
    assert_none("XL2 芒果 都好可愛")


def test_a_wanting_word_among_chatter_goes_to_review() -> None:
    result = read("XL2 我要 好可愛")
    assert result.status == "review"
    assert candidates(result) == [[("add", "XL2", 1)]]


def test_a_cancel_word_between_two_keywords_belongs_to_the_first_without_intent() -> None:
    result = read("XL2 取消 芒果")
    assert result.reason == "芒果 has no quantity"
    assert candidates(result) == [[("cancel", "XL2", None), ("add", "MANGO-BOX", 1)]]


def test_the_corpus_lineup_reads_other_comments_too() -> None:
    result = read("小熊杯 x2 和 tumbler +1", lineup=CORPUS)
    assert items(result) == [("add", "BEAR-MUG", 2), ("add", "A2", 1)]


@pytest.mark.parametrize("text", ["XL2 $50", "XL2 NT$ 990", "XL2 990元", "XL2 50%", "XL2 50% off"])
def test_prices_and_shares_are_not_quantities(text: str) -> None:
    assert_none(text)


@pytest.mark.parametrize("text", ["XL2 10 好便宜", "XL2 50 off?", "XL2 12:00"])
def test_a_bare_number_among_other_words_goes_to_review(text: str) -> None:
    result = read(text)
    assert result.status == "review"
    assert result.reason.startswith("not sure ")
    assert candidates(result)[0][0][:2] == ("add", "XL2")


@pytest.mark.parametrize("text", ["XL2 big pillow +1", "big pillow XL2 +1", "XL2(big pillow)+1"])
def test_a_product_named_twice_is_one_item(text: str) -> None:
    assert_order(text, [("add", "XL2", 1)])


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("I want XL2", None, [("add", "XL2", 1)]),
        ("mine please", "XL2", [("add", "XL2", 1)]),
        ("me too", "XL2", [("add", "XL2", 1)]),
        ("主播 +1", "XL2", [("add", "XL2", 1)]),
        ("XL2 我想買", None, [("add", "XL2", 1)]),
        ("不用了", "XL2", [("cancel", "XL2", None)]),
    ],
)
def test_more_ways_of_wanting_and_not(text: str, current: str | None, expected: Expected) -> None:
    assert_order(text, expected, current)
