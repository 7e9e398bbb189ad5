"""Cart rules as plain functions over plain data (no I/O).

A buyer's holding of a SKU in one live is what their open cart reserves, what their confirmed
orders hold, and what they wait for. `max_per_buyer` counts all three, so a limit cannot be
dodged by waiting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Literal, NamedTuple


class Holding(NamedTuple):
    reserved: int = 0
    confirmed: int = 0
    waiting: int = 0

    @property
    def total(self) -> int:
        return self.reserved + self.confirmed + self.waiting


class Item(NamedTuple):
    action: Literal["add", "cancel"]
    sku: str
    quantity: int | None


class Refusal(NamedTuple):
    sku: str
    quantity: int
    reason: str


class Plan(NamedTuple):
    """What one comment asks of the stock once the cart rules have spoken."""

    adds: tuple[tuple[str, int], ...] = ()
    cancels: tuple[tuple[str, int | None], ...] = ()
    refused: tuple[Refusal, ...] = ()


def plan_comment(
    items: Sequence[Item],
    holdings: Mapping[str, Holding],
    limits: Mapping[str, int | None],
) -> tuple[Plan, dict[str, Holding]]:
    """The comment's plan, and the holdings as they will be if every add is filled or waits.

    Adds beyond `max_per_buyer` are refused with a reason; the rest is requested."""
    held = dict(holdings)
    adds: list[tuple[str, int]] = []
    cancels: list[tuple[str, int | None]] = []
    refused: list[Refusal] = []
    for item in items:
        current = held.get(item.sku, Holding())
        if item.action == "cancel":
            cancels.append((item.sku, item.quantity))
            held[item.sku] = _after_cancel(current, item.quantity)
            continue
        wanted = item.quantity or 1
        limit = limits.get(item.sku)
        allowed = wanted if limit is None else max(0, min(wanted, limit - current.total))
        if allowed < wanted:
            refused.append(Refusal(item.sku, wanted - allowed, _limit_reason(limit, current)))
        if allowed:
            adds.append((item.sku, allowed))
            held[item.sku] = Holding(current.reserved + allowed, current.confirmed, current.waiting)
    return Plan(tuple(adds), tuple(cancels), tuple(refused)), held


def split_cancel(holding: Holding, quantity: int | None) -> tuple[int, int]:
    """(from the waitlist, from the cart): a cancel drops waiting units first, keeping what the
    buyer already has for as long as possible."""
    wanted = holding.waiting + holding.reserved if quantity is None else quantity
    from_waitlist = min(wanted, holding.waiting)
    from_cart = min(wanted - from_waitlist, holding.reserved)
    return from_waitlist, from_cart


def _after_cancel(holding: Holding, quantity: int | None) -> Holding:
    from_waitlist, from_cart = split_cancel(holding, quantity)
    return Holding(holding.reserved - from_cart, holding.confirmed, holding.waiting - from_waitlist)


def cart_fingerprint(lines: Iterable[tuple[str, int, Decimal]]) -> str:
    """A short digest of a cart's (sku, quantity, unit price) lines, whatever their order.

    The checkout page sends it back with "confirm", so a cart that changed after the buyer loaded
    the page (a waitlist fill, a new comment, a removal in another tab) is shown to them again
    rather than confirmed unseen."""
    shown = sorted(
        f"{sku}\x1f{quantity}\x1f{price.normalize():f}"
        for sku, quantity, price in lines
        if quantity > 0
    )
    return hashlib.sha256("\x1e".join(shown).encode()).hexdigest()[:20]


def _limit_reason(limit: int | None, holding: Holding) -> str:
    if holding.total:
        return f"limit {limit} per buyer; you already have {holding.total}"
    return f"limit {limit} per buyer"


class Outcome(NamedTuple):
    """What happened to one order comment: the reply is written from this."""

    taken: tuple[tuple[str, int], ...] = ()
    waitlisted: tuple[tuple[str, int], ...] = ()
    refused: tuple[Refusal, ...] = ()
    cancelled: tuple[tuple[str, int], ...] = ()
    nothing_to_cancel: tuple[str, ...] = ()
