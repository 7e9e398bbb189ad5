"""The checkout form's rules and the page's words and numbers, as plain functions."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.checkout_form import (
    ADDRESS_MISSING,
    Details,
    InvalidDetails,
    normalize_email,
    normalize_phone,
    read_details,
)
from bot.settings import Settings
from webhooks.checkout import csrf_matches, csrf_token, money, time_left

PICKUP_SHOPS = Settings().pickup_shops

FORM = {
    "name": "  王小明 ",
    "phone": "0912 345 678",
    "email": "Ming@Example.com",
    "fulfilment": "delivery",
    "shop": "",
    "address": "台北市信義區市府路 1 號",
}


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("0912-345-678", "0912345678"),
        ("+886 912 345 678", "+886912345678"),
        ("(02) 2345.6789", "0223456789"),
        ("０９１２３４５６７８", "0912345678"),  # full-width digits from a CJK keyboard
        ("1234567", None),
        ("1234567890123456", None),
        ("0912abc678", None),
        ("09+12345678", None),
        ("", None),
    ],
)
def test_phone_numbers_become_digits_with_a_leading_plus(raw: str, normalized: str | None) -> None:
    assert normalize_phone(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (" Ming@Example.COM ", "ming@example.com"),
        ("a.b+c@shop.com.tw", "a.b+c@shop.com.tw"),
        ("ming@localhost", None),
        ("ming example@x.com", None),
        ("@example.com", None),
        ("a" * 250 + "@x.com", None),
    ],
)
def test_email_addresses_are_lower_cased_and_checked(raw: str, normalized: str | None) -> None:
    assert normalize_email(raw) == normalized


def test_a_good_form_becomes_details() -> None:
    assert read_details(FORM, PICKUP_SHOPS) == Details(
        "王小明", "0912345678", "ming@example.com", "delivery", None, "台北市信義區市府路 1 號"
    )
    pickup = read_details({**FORM, "fulfilment": "pickup", "shop": PICKUP_SHOPS[1]}, PICKUP_SHOPS)
    assert (pickup.fulfilment, pickup.pickup_shop, pickup.address) == (
        "pickup",
        PICKUP_SHOPS[1],
        None,
    )


def test_every_wrong_field_is_named_at_once_in_both_languages() -> None:
    with pytest.raises(InvalidDetails) as invalid:
        read_details(
            {"name": "x" * 201, "phone": "123", "email": "no", "address": ""}, PICKUP_SHOPS
        )
    assert set(invalid.value.errors) == {"name", "phone", "email", "fulfilment"}
    assert all(m.zh and m.en for m in invalid.value.errors.values())
    with pytest.raises(InvalidDetails) as no_address:
        read_details({**FORM, "address": "   "}, PICKUP_SHOPS)
    assert no_address.value.errors == {"address": ADDRESS_MISSING}
    with pytest.raises(InvalidDetails) as unknown_shop:
        read_details({**FORM, "fulfilment": "pickup", "shop": "Kaohsiung"}, PICKUP_SHOPS)
    assert set(unknown_shop.value.errors) == {"shop"}


def test_money_and_time_left_read_naturally() -> None:
    assert money(Decimal("1180.00")) == "$1,180"
    assert money(Decimal("99.50")) == "$99.50"
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    left = time_left(now + timedelta(hours=5, minutes=12, seconds=30), now)
    assert (left.zh, left.en) == ("5 小時 12 分鐘", "5 h 12 min")
    assert time_left(now + timedelta(days=2, minutes=3), now).en == "2 d 3 min"
    assert time_left(now + timedelta(seconds=30), now).en == "less than a minute"


def test_a_csrf_token_fits_one_order_and_one_cookie() -> None:
    token = csrf_token("secret", 7, "nonce-one")
    assert csrf_matches("secret", 7, "nonce-one", token)
    assert not csrf_matches("secret", 8, "nonce-one", token)
    assert not csrf_matches("secret", 7, "nonce-two", token)
    assert not csrf_matches("other", 7, "nonce-one", token)
    assert not csrf_matches("secret", 7, "nonce-one", "")
    assert not csrf_matches("secret", 7, "nonce-one", "許可")  # non-ASCII does not crash
