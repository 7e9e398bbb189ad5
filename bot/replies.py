"""What the buyer reads in their inbox (pure): Traditional Chinese or English."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.cart import Outcome
from storage.orders import LineSnapshot

Language = str  # "zh-Hant" or "en"
# Meta's Send API takes at most 2000 characters of text (and refuses longer with code 100, which
# no retry mends): a long order keeps its total and checkout link and lists what fits.
MAX_REPLY = 2000

_TEXT: Mapping[str, Mapping[str, str]] = {
    "zh-Hant": {
        "greeting": "{name} 您好！",
        "taken": "已為您保留：",
        "waitlisted": "已加入候補（有貨時自動放進購物車）：",
        "refused": "未能加入：",
        "cancelled": "已取消：",
        "nothing": "購物車裡沒有可取消的 {skus}。",
        "cart": "購物車合計 ${total}，保留至 {until}。",
        "empty": "您的購物車目前是空的。",
        "checkout": "結帳：{url}",
        "closed": "本場直播已結束下單，謝謝您的支持！",
        "shop": "歡迎到官網選購：{url}",
        "public": "已私訊您，請查看訊息 🙏",
        "rejected": "抱歉，這則留言無法成立訂單。如需購買，請留言「商品代碼＋數量」，例如 A1+1。",
        "more": "…另有 {count} 項，請見結帳頁面",
    },
    "en": {
        "greeting": "Hi {name}!",
        "taken": "Reserved for you:",
        "waitlisted": "On the waitlist (added to your cart automatically when stock is back):",
        "refused": "Not added:",
        "cancelled": "Cancelled:",
        "nothing": "Nothing of {skus} in your cart to cancel.",
        "cart": "Cart total ${total}, held until {until}.",
        "empty": "Your cart is empty.",
        "checkout": "Checkout: {url}",
        "closed": "Ordering for this live has closed. Thank you!",
        "shop": "Visit our shop: {url}",
        "public": "Sent you a message 🙏",
        "rejected": "Sorry, we could not take an order from this comment. To buy, comment the "
        "product code and quantity, e.g. A1+1.",
        "more": "…and {count} more: see the checkout page",
    },
}


def order_reply(
    *,
    language: Language,
    buyer_name: str | None,
    outcome: Outcome,
    names: Mapping[str, str],
    cart: Sequence[LineSnapshot],
    total: Decimal,
    hold_until: datetime,
    checkout_url: str,
    timezone: str,
) -> str:
    text = _TEXT.get(language, _TEXT["zh-Hant"])
    greeting = text["greeting"].format(name=buyer_name or "").replace("  ", " ").strip()
    sections = [
        _section(text["taken"], [(names.get(s, s), s, q, "") for s, q in outcome.taken]),
        _section(text["waitlisted"], [(names.get(s, s), s, q, "") for s, q in outcome.waitlisted]),
        _section(
            text["refused"],
            [(names.get(r.sku, r.sku), r.sku, r.quantity, r.reason) for r in outcome.refused],
        ),
        _section(text["cancelled"], [(names.get(s, s), s, q, "") for s, q in outcome.cancelled]),
    ]
    ending = []
    if outcome.nothing_to_cancel:
        ending.append(text["nothing"].format(skus=", ".join(outcome.nothing_to_cancel)))
    if cart:
        until = _local_time(hold_until, timezone)
        ending.append(text["cart"].format(total=_money(total), until=until))
    else:
        ending.append(text["empty"])
    ending.append(text["checkout"].format(url=checkout_url))
    return _fitted(greeting, [s for s in sections if s], ending, text["more"])


def _fitted(greeting: str, sections: list[list[str]], ending: list[str], more: str) -> str:
    """The reply whole, or with as many item rows as fit in MAX_REPLY (sections keep their
    titles) and a line saying how many were left out; the greeting and ending always stay."""
    whole = "\n".join([greeting, *(line for section in sections for line in section), *ending])
    if len(whole) <= MAX_REPLY:
        return whole
    rows = [(n, row) for n, section in enumerate(sections) for row in section[1:]]
    reply = whole
    for kept in range(len(rows) - 1, -1, -1):
        body: list[str] = []
        for n, section in enumerate(sections):
            shown = [row for m, row in rows[:kept] if m == n]
            body += [section[0], *shown] if shown else []
        left_out = more.format(count=len(rows) - kept)
        reply = "\n".join([greeting, *body, left_out, *ending])
        if len(reply) <= MAX_REPLY:
            break
    return reply[:MAX_REPLY]


def closed_reply(*, language: Language, shop_url: str | None) -> str:
    text = _TEXT.get(language, _TEXT["zh-Hant"])
    return "\n".join([text["closed"], *([text["shop"].format(url=shop_url)] if shop_url else [])])


def rejected_reply(language: Language) -> str:
    return _TEXT.get(language, _TEXT["zh-Hant"])["rejected"]


def public_reply(language: Language) -> str:
    return _TEXT.get(language, _TEXT["zh-Hant"])["public"]


def _section(title: str, rows: Sequence[tuple[str, str, int, str]]) -> list[str]:
    if not rows:
        return []
    return [title] + [
        f"・{name}（{sku}）x{quantity}" + (f" — {why}" if why else "")
        for name, sku, quantity, why in rows
    ]


def _money(amount: Decimal) -> str:
    whole = amount == amount.to_integral_value()
    return f"{amount:,.0f}" if whole else f"{amount:,.2f}"


@lru_cache(maxsize=64)
def _local_time(moment: datetime, timezone: str) -> str:
    # Carts opened in one batch share one hold time: formatted once, not once per reply.
    return moment.astimezone(ZoneInfo(timezone)).strftime("%m/%d %H:%M")
