"""Reading a lineup CSV: good rows become LineupRows; a malformed file is refused by line."""

from __future__ import annotations

from decimal import Decimal

import pytest

from parsers import LineupError, LineupRow, read_lineup
from tests.parsers.lineups import SHOP_CSV

HEADER = "keyword,sku,name,price,stock,variant,aliases,max_per_buyer\n"


def test_rows_read_with_their_types() -> None:
    rows = read_lineup(SHOP_CSV)
    assert len(rows) == 13
    assert rows[0] == LineupRow(
        keyword="K07",
        sku="K07-BLK-38",
        name="跑鞋",
        price=Decimal("1890"),
        stock=5,
        variant_values=(("黑", "black"), ("38",)),
        aliases=(),
        max_per_buyer=2,
    )
    mango = rows[5]
    assert (mango.stock, mango.aliases, mango.max_per_buyer) == (None, ("mango",), None)
    assert rows[6].price == Decimal("299.5")
    assert rows[6].aliases == ("beef jerky", "肉乾")


def test_columns_may_come_in_any_order_with_others_beside_them() -> None:
    text = "sku,note,keyword,price,name,variant,stock,aliases,max_per_buyer\nB1,hi,B1,10,n,,3,,\n"
    (row,) = read_lineup(text)
    assert (row.keyword, row.sku, row.stock) == ("B1", "B1", 3)


def test_a_byte_order_mark_and_blank_lines_are_fine() -> None:
    rows = read_lineup("\ufeff" + HEADER + "\nB1,B1,n,10,,,,\n\n")
    assert [row.sku for row in rows] == ["B1"]


def refused(text: str) -> str:
    with pytest.raises(LineupError) as caught:
        read_lineup(text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "keyword,sku,name,price,variant,aliases,max_per_buyer\nB1,B1,n,1,,,\n",
            "line 1: missing column stock (the header needs "
            "keyword,sku,name,price,stock,variant,aliases,max_per_buyer)",
        ),
        (HEADER.replace("price", "price,price"), "line 1: column price appears twice"),
        (HEADER, "line 2: the lineup has no products"),
        (HEADER + "B1,B1,n,1,,,,\nB2,B1,n,1,,,,\n", "line 3: SKU B1 is already on line 2"),
        (HEADER + "B1,B1,n,1,-3,,,\n", "line 2: stock -3 is negative"),
        (HEADER + "B1,B1,n,1,2.5,,,\n", "line 2: stock '2.5' is not a whole number"),
        (HEADER + "B1,B1,n,1,,,,-1\n", "line 2: max_per_buyer -1 is negative"),
        (HEADER + "B1,B1,n,-1,,,,\n", "line 2: price '-1' must be a number of 0 or more"),
        (HEADER + "B1,B1,n,free,,,,\n", "line 2: price 'free' is not a number"),
        (HEADER + "B1,B1,n,NaN,,,,\n", "line 2: price 'NaN' must be a number of 0 or more"),
        (HEADER + "B1,B1,n,1e400,,,,\n", "line 2: price 1e400 is more than 1,000,000,000,000"),
        (HEADER + "B1,B1,n,1.005,,,,\n", "line 2: price 1.005 has more than two decimals"),
        (
            HEADER + "B1,B1,n,1,99999999999,,,\n",
            "line 2: stock 99999999999 is more than 1,000,000,000",
        ),
        (
            HEADER + "B1,B1,n,1,,,,1000000001\n",
            "line 2: max_per_buyer 1000000001 is more than 1,000,000,000",
        ),
        (HEADER + "B1,B1,,1,,,,\n", "line 2: name is empty"),
        (HEADER + ",B1,n,1,,,,\n", "line 2: keyword is empty"),
        (HEADER + "B1,B1,n,1,,\n", "line 2: 6 fields where the header has 8"),
        (
            HEADER + "15,X15,n,1,,,,\n",
            "line 2: keyword '15' is only digits; give it a letter (A15)",
        ),
        (HEADER + "+,X,n,1,,,,\n", "line 2: keyword '+' has no letters, digits or characters"),
    ],
)
def test_malformed_rows_are_refused_with_their_line(text: str, message: str) -> None:
    assert refused(text) == message


def test_a_variant_spelling_claimed_by_two_values_of_one_keyword() -> None:
    text = HEADER + "A1,A1-R,t,1,,紅/red M,,\nA1,A1-C,t,1,,赤/red L,,\n"
    assert refused(text) == "line 3: A1 variant 'red' already means something else on line 2"


def test_a_value_spelled_in_two_options_of_one_keyword() -> None:
    text = HEADER + "A1,A1-1,t,1,,S M,,\nA1,A1-2,t,1,,M L,,\n"
    assert refused(text) == "line 3: A1 variant 'M' already means something else on line 2"


def test_two_skus_of_one_keyword_with_the_same_variant() -> None:
    text = HEADER + "A1,A1-1,t,1,,紅 M,,\nA1,A1-2,t,1,,红/red M,,\n"
    assert refused(text) == "line 3: A1 红 M is already SKU A1-1 on line 2"


def test_two_skus_of_one_keyword_without_variants() -> None:
    text = HEADER + "A2,A2-1,t,1,,,,\na02,A2-2,t,1,,,,\n"
    assert refused(text) == "line 3: a02 (no variant) is already SKU A2-1 on line 2"


def test_skus_of_one_keyword_with_different_numbers_of_options() -> None:
    text = HEADER + "A1,A1-1,t,1,,紅 M,,\nA1,A1-2,t,1,,藍,,\n"
    assert refused(text) == "line 3: A1 has 1 variant values here but 2 on line 2"


def test_an_alias_claimed_by_two_keywords() -> None:
    text = HEADER + "A2,A2,t,1,,,cup,\nC7,C7,j,1,,,Cup,\n"
    assert refused(text) == "line 3: alias 'Cup' of C7 already names A2 (line 2)"


def test_an_alias_that_is_another_keyword() -> None:
    text = HEADER + "A2,A2,t,1,,,,\nC7,C7,j,1,,,a-02,\n"
    assert refused(text) == "line 3: alias 'a-02' of C7 already names A2 (line 2)"


def test_line_numbers_count_blank_lines_and_quoted_line_breaks() -> None:
    text = HEADER + '\nB1,B1,"two\nlines",1,,,,\nB2,B2,n,1,-1,,,\n'
    assert refused(text) == "line 5: stock -1 is negative"


def test_an_error_carries_its_line_number() -> None:
    with pytest.raises(LineupError) as caught:
        read_lineup(HEADER + "B1,B1,n,1,,,,\nB1,B1,n,1,,,,\n")
    assert caught.value.line == 3


def test_a_variant_spelled_like_a_product_name() -> None:
    text = HEADER + "K07,K07-B,shoe,1,,black 38,,\nX1,X1,ink,1,,,Black,\n"
    assert refused(text) == "line 2: variant 'black' of K07 is also the name of X1 (line 3)"
