"""The buyer's private reply (pure): whole when it fits, shortened to Meta's limit when not."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.cart import Outcome, Refusal
from bot.fakes.graph_api import MAX_MESSAGE_LENGTH
from bot.replies import MAX_REPLY, order_reply
from storage.orders import LineSnapshot

URL = "https://shop.example/checkout/12-AbCdEfGhIjKlMnOpQrStUvWx"
HOLD = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def reply(outcome: Outcome, names: dict[str, str], language: str = "en") -> str:
    return order_reply(
        language=language,
        buyer_name="Mei",
        outcome=outcome,
        names=names,
        cart=[LineSnapshot("A1", "T-shirt", 1, Decimal(390))],
        total=Decimal("12345.50"),
        hold_until=HOLD,
        checkout_url=URL,
        timezone="Asia/Taipei",
    )


def test_a_short_reply_is_whole() -> None:
    text = reply(Outcome(taken=(("A1", 2),), refused=(Refusal("Z9", 1, "not tonight"),)), {})
    assert text.splitlines() == [
        "Hi Mei!",
        "Reserved for you:",
        "・A1（A1）x2",
        "Not added:",
        "・Z9（Z9）x1 — not tonight",
        "Cart total $12,345.50, held until 11/24 20:00.",
        f"Checkout: {URL}",
    ]


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
def test_a_long_reply_keeps_its_total_and_link_and_says_what_it_left_out(language: str) -> None:
    skus = [f"S{n}" for n in range(60)]
    names = {sku: f"Hand-made limited edition product number {sku} " * 2 for sku in skus}
    outcome = Outcome(
        taken=tuple((sku, 1) for sku in skus[:40]),
        refused=tuple(Refusal(sku, 2, "limit 1 per buyer") for sku in skus[40:]),
    )
    text = reply(outcome, names, language)
    assert MAX_REPLY == MAX_MESSAGE_LENGTH  # what the fake Graph API, like Meta, accepts
    assert len(text) <= MAX_REPLY
    lines = text.splitlines()
    assert lines[0] in ("Hi Mei!", "Mei 您好！")
    assert lines[-1].endswith(URL) and "12,345.50" in lines[-2]
    shown = [line for line in lines if line.startswith("・")]
    assert shown and shown[0].startswith(f"・{names['S0']}")
    left_out = lines[-3]
    assert str(60 - len(shown)) in left_out
    assert len(text) > MAX_REPLY - 200  # as many rows as fit, not a few
