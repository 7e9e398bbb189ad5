"""Order comments become stock in carts, a batch at a time, inside the caller's transaction.

Per batch: load every buyer's cart once, plan each comment in arrival order with the pure cart
rules, reserve all adds with one stock call (first come, first served per SKU), write lines and
waitlist rows in bulk, then apply cancels, give freed stock to the waitlist, and total the carts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cart import Holding, Item, Outcome, Plan, Refusal, plan_comment, split_cancel
from storage import orders
from storage.models import WaitlistEntry
from storage.orders import BuyerKey, CartState, Terms
from storage.stock import StockRequest
from storage.stock_backends import Stock

NO_WAITLIST = "sold out, and the live has closed: no waitlist"


class OrderComment(NamedTuple):
    comment_id: int
    # The platform's id for the comment: its stock takes and releases are keyed by it, so every
    # try of one comment, whatever row id a rolled-back try gave it, takes its units once.
    platform_key: str
    live_id: int
    member_id: int
    identity_id: int | None
    items: tuple[Item, ...]
    received_at: datetime
    # False on a live that has closed (a comment written in time, handled late): nothing of it
    # waits, since no one closes a closed live's waitlist again.
    may_wait: bool = True

    @property
    def buyer(self) -> BuyerKey:
        return (self.live_id, self.member_id)


@dataclass(slots=True)
class _Batch:
    """The batch's view of every buyer's cart as it changes."""

    carts: dict[BuyerKey, CartState]
    terms: dict[tuple[int, str], Terms]
    touched_orders: set[int] = field(default_factory=set)
    new_lines: list[tuple[int, str, int, Terms, int | None]] = field(default_factory=list)
    grown: list[tuple[int, str, int]] = field(default_factory=list)

    def holdings(self, buyer: BuyerKey, skus: Iterable[str]) -> dict[str, Holding]:
        """What the buyer holds of each of `skus` (those their comments in the batch name)."""
        cart = self.carts[buyer]
        return {
            sku: Holding(
                cart.lines.get(sku, 0), cart.confirmed.get(sku, 0), cart.waiting.get(sku, 0)
            )
            for sku in skus
        }


class Placement(NamedTuple):
    order_id: int | None
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Placed:
    """A batch's placements by comment id, the orders it opened, every order it changed
    (opened ones included), and the carts past their hold it expired on the way."""

    placements: dict[int, Placement]
    opened: frozenset[int]
    changed: frozenset[int]
    expired: frozenset[int] = frozenset()

    def events(self) -> dict[int, str]:
        """The store event each order it expired or changed owes the central store: those of
        an expiry and a fill with the same orders."""
        return Expiry(tuple(self.expired), Filled(self.changed, self.opened)).events()


async def place_orders(
    session: AsyncSession,
    stock: Stock,
    comments: Sequence[OrderComment],
    *,
    now: datetime,
    hold_for: timedelta,
) -> Placed:
    """Each comment's outcome and the order it went into."""
    if not comments:
        return Placed({}, frozenset(), frozenset())
    carts = await orders.load_carts(session, (c.buyer for c in comments))
    # A cart whose hold has ended takes nothing more: it expires now (the sweeper would within
    # SWEEP_EVERY, with whatever this batch added) and the buyer's comment opens a new one.
    lapsed = [
        cart.order_id
        for cart in carts.values()
        if cart.order_id is not None and cart.hold_until is not None and cart.hold_until <= now
    ]
    expiry = Expiry()
    if lapsed:
        expiry = await expire_carts(session, stock, now=now, hold_for=hold_for, among_ids=lapsed)
        carts = await orders.load_carts(session, carts)
    batch = _Batch(
        carts=carts, terms=await orders.lineup_terms(session, {c.live_id for c in comments})
    )
    plans = _plan(batch, comments)
    requests = [
        StockRequest(f"c:{c.platform_key}:{n}", sku, quantity)
        for c in comments
        for n, (sku, quantity) in enumerate(plans[c.comment_id].adds)
    ]
    granted = await stock.reserve(session, requests)
    outcomes: dict[int, Outcome] = {}
    waiting_rows: list[dict[str, object]] = []
    for c in comments:
        taken, short = _split_grants(c, plans[c.comment_id].adds, granted)
        refused = plans[c.comment_id].refused
        if not c.may_wait:
            refused += tuple(Refusal(sku, quantity, NO_WAITLIST) for sku, quantity in short)
            short = []
        waiting_rows += [_waiting_row(c, sku, quantity) for sku, quantity in short]
        outcomes[c.comment_id] = Outcome(
            taken=tuple(taken), waitlisted=tuple(short), refused=refused
        )
    opened = await _open_missing_orders(session, batch, comments, outcomes, now + hold_for)
    for c in comments:
        for sku, quantity in outcomes[c.comment_id].taken:
            _add_to_cart(batch, c.buyer, sku, quantity, c.comment_id)
        for sku, quantity in outcomes[c.comment_id].waitlisted:
            cart = batch.carts[c.buyer]
            cart.waiting[sku] = cart.waiting.get(sku, 0) + quantity
    await orders.add_lines(
        session,
        [(o, sku, q, terms.price, comment) for o, sku, q, terms, comment in batch.new_lines],
        batch.grown,
    )
    await orders.add_waiting(session, waiting_rows)
    freed = await _apply_cancels(session, stock, batch, comments, plans, outcomes)
    filled = await fill_waitlist(session, stock, freed, now=now, hold_for=hold_for)
    await orders.recompute_totals(session, batch.touched_orders - filled.orders)
    placements = {
        c.comment_id: Placement(batch.carts[c.buyer].order_id, outcomes[c.comment_id])
        for c in comments
    }
    return Placed(
        placements,
        frozenset(opened) | filled.opened | expiry.filled.opened,
        frozenset(batch.touched_orders) | filled.orders | expiry.filled.orders,
        frozenset(expiry.expired),
    )


def _plan(batch: _Batch, comments: Sequence[OrderComment]) -> dict[int, Plan]:
    plans: dict[int, Plan] = {}
    named: dict[BuyerKey, set[str]] = defaultdict(set)
    for c in comments:
        named[c.buyer].update(item.sku for item in c.items)
    holdings = {buyer: batch.holdings(buyer, skus) for buyer, skus in named.items()}
    for c in comments:
        known = [item for item in c.items if (c.live_id, item.sku) in batch.terms]
        limits = {item.sku: batch.terms[(c.live_id, item.sku)].max_per_buyer for item in known}
        plan, holdings[c.buyer] = plan_comment(known, holdings[c.buyer], limits)
        # The lineup changed under a parsed comment: say so rather than take a stranger's SKU.
        unknown = tuple(
            Refusal(item.sku, item.quantity or 0, "not in this live's lineup")
            for item in c.items
            if (c.live_id, item.sku) not in batch.terms
        )
        plans[c.comment_id] = plan._replace(refused=plan.refused + unknown) if unknown else plan
    return plans


def _split_grants(
    comment: OrderComment, adds: Sequence[tuple[str, int]], granted: dict[str, int]
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    taken, short = [], []
    for n, (sku, quantity) in enumerate(adds):
        got = granted.get(f"c:{comment.platform_key}:{n}", 0)
        if got:
            taken.append((sku, got))
        if got < quantity:
            short.append((sku, quantity - got))
    return taken, short


def _waiting_row(comment: OrderComment, sku: str, quantity: int) -> dict[str, object]:
    return {
        "live_id": comment.live_id,
        "sku": sku,
        "member_id": comment.member_id,
        "identity_id": comment.identity_id,
        "comment_id": comment.comment_id,
        "quantity": quantity,
        "filled": 0,
        "queued_at": comment.received_at,
        "status": "waiting",
        "created_at": comment.received_at,
    }


async def _open_missing_orders(
    session: AsyncSession,
    batch: _Batch,
    comments: Sequence[OrderComment],
    outcomes: dict[int, Outcome],
    hold_until: datetime,
) -> set[int]:
    needing = {
        c.buyer: c.identity_id
        for c in comments
        if batch.carts[c.buyer].order_id is None and outcomes[c.comment_id].taken
    }
    created = await orders.open_orders(session, list(needing.items()), hold_until)
    for buyer, order_id in created.items():
        batch.carts[buyer].order_id = order_id
    return set(created.values())


def _add_to_cart(
    batch: _Batch, buyer: BuyerKey, sku: str, quantity: int, comment_id: int | None
) -> None:
    cart = batch.carts[buyer]
    assert cart.order_id is not None
    if sku in cart.lines:
        batch.grown.append((cart.order_id, sku, quantity))
    else:
        batch.new_lines.append(
            (cart.order_id, sku, quantity, batch.terms[(buyer[0], sku)], comment_id)
        )
    cart.lines[sku] = cart.lines.get(sku, 0) + quantity
    batch.touched_orders.add(cart.order_id)


async def _apply_cancels(
    session: AsyncSession,
    stock: Stock,
    batch: _Batch,
    comments: Sequence[OrderComment],
    plans: dict[int, Plan],
    outcomes: dict[int, Outcome],
) -> set[str]:
    """Cancels drop waiting units first, then cart units (whose stock goes back)."""
    releases: list[StockRequest] = []
    shrink: list[tuple[int, str, int]] = []
    # One read of every waiting entry a cancel may drop (a cart's waiting units only shrink
    # from here on), rather than one per cancelling comment.
    waiting = await orders.waiting_entries(
        session,
        {
            (c.live_id, c.member_id, sku)
            for c in comments
            for sku, _ in plans[c.comment_id].cancels
            if batch.carts[c.buyer].waiting.get(sku, 0) > 0
        },
    )
    for c in comments:
        plan = plans[c.comment_id]
        cancelled: list[tuple[str, int]] = []
        nothing: list[str] = []
        for n, (sku, quantity) in enumerate(plan.cancels):
            cart = batch.carts[c.buyer]
            holding = Holding(reserved=cart.lines.get(sku, 0), waiting=cart.waiting.get(sku, 0))
            from_waitlist, from_cart = split_cancel(holding, quantity)
            if not from_waitlist and not from_cart:
                nothing.append(sku)
                continue
            _drop_waiting(waiting.get((c.live_id, c.member_id, sku), []), from_waitlist)
            cart.waiting[sku] = cart.waiting.get(sku, 0) - from_waitlist
            if from_cart:
                assert cart.order_id is not None
                cart.lines[sku] -= from_cart
                shrink.append((cart.order_id, sku, from_cart))
                releases.append(StockRequest(f"x:{c.platform_key}:{n}", sku, from_cart))
                batch.touched_orders.add(cart.order_id)
            cancelled.append((sku, from_waitlist + from_cart))
        if cancelled or nothing:
            outcomes[c.comment_id] = outcomes[c.comment_id]._replace(
                cancelled=tuple(cancelled), nothing_to_cancel=tuple(nothing)
            )
    await session.flush()
    await orders.shrink_lines(session, shrink)
    await stock.release(session, releases, "cancel")
    return {r.sku for r in releases}


def _drop_waiting(entries: Sequence[WaitlistEntry], quantity: int) -> None:
    """Take `quantity` waiting units off `entries` (newest first)."""
    for entry in entries:
        if quantity <= 0:
            break
        drop = min(entry.quantity - entry.filled, quantity)
        if drop <= 0:
            continue  # an earlier cancel of this batch emptied it
        entry.quantity -= drop
        quantity -= drop
        if entry.quantity == entry.filled:
            entry.status = "cancelled" if entry.filled == 0 else "filled"


class Filled(NamedTuple):
    """What a waitlist fill changed: every order that grew (their totals are recomputed), and
    which of them it opened."""

    orders: frozenset[int] = frozenset()
    opened: frozenset[int] = frozenset()

    def events(self) -> dict[int, str]:
        """The store event each changed order owes the central store."""
        return {o: "order.reserved" if o in self.opened else "order.updated" for o in self.orders}


class Expiry(NamedTuple):
    """Carts an expiry ended and what their stock filled."""

    expired: tuple[int, ...] = ()
    filled: Filled = Filled()

    def events(self) -> dict[int, str]:
        """The store event each order it ended or changed owes the central store."""
        return {**{o: "order.expired" for o in self.expired}, **self.filled.events()}


async def expire_carts(
    session: AsyncSession,
    stock: Stock,
    *,
    now: datetime,
    hold_for: timedelta,
    among_ids: Sequence[int] | None = None,
) -> Expiry:
    """Unpaid carts whose hold has ended (the oldest due, or those among `among_ids`) expire:
    their stock goes back, to the waitlist first, and their buyers wait no more."""
    carts = await orders.expire_due(session, now, among_ids=among_ids)
    if not carts:
        return Expiry()
    expired = [cart.order_id for cart in carts]
    lines = await orders.order_lines(session, expired)
    await stock.release(
        session,
        [StockRequest(f"o{line.order_id}:{line.sku}", line.sku, line.quantity) for line in lines],
        "expire",
    )
    await orders.close_waiting(session, buyers=[cart.buyer for cart in carts])
    filled = await fill_waitlist(
        session, stock, {line.sku for line in lines}, now=now, hold_for=hold_for
    )
    return Expiry(tuple(expired), filled)


async def fill_waitlist(
    session: AsyncSession,
    stock: Stock,
    skus: Iterable[str],
    *,
    now: datetime,
    hold_for: timedelta,
) -> Filled:
    """Stock that came back goes to those waiting, first come first served, into their carts,
    whose totals are recomputed."""
    skus = set(skus)
    if not skus:
        return Filled()
    queue = await orders.queue_for(session, skus, now)
    if not queue:
        return Filled()
    requests = [StockRequest(f"w{e.id}:{e.filled}", e.sku, e.quantity - e.filled) for e in queue]
    granted = await stock.reserve(session, requests)
    filled = [(e, granted.get(f"w{e.id}:{e.filled}", 0)) for e in queue]
    filled = [(e, units) for e, units in filled if units]
    if not filled:
        return Filled()
    buyers = {(e.live_id, e.member_id) for e, _ in filled}
    batch = _Batch(
        carts=await orders.load_carts(session, buyers),
        terms=await orders.lineup_terms(session, {live for live, _ in buyers}),
    )
    needing = [
        ((e.live_id, e.member_id), e.identity_id)
        for e, _ in filled
        if batch.carts[(e.live_id, e.member_id)].order_id is None
    ]
    created = await orders.open_orders(session, list(dict(needing).items()), now + hold_for)
    for buyer, order_id in created.items():
        batch.carts[buyer].order_id = order_id
    for entry, units in filled:
        _add_to_cart(batch, (entry.live_id, entry.member_id), entry.sku, units, entry.comment_id)
        _mark_filled(entry, units)
    await orders.add_lines(
        session,
        [(o, sku, q, terms.price, comment) for o, sku, q, terms, comment in batch.new_lines],
        batch.grown,
    )
    await session.flush()
    await orders.recompute_totals(session, batch.touched_orders)
    return Filled(frozenset(batch.touched_orders), frozenset(created.values()))


def _mark_filled(entry: WaitlistEntry, units: int) -> None:
    entry.filled += units
    if entry.filled >= entry.quantity:
        entry.status = "filled"
