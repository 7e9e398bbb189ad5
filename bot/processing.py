"""What a batch of claimed comments does: read each, then order, review or answer "closed".

Everything here happens in the caller's transaction: orders, stock, review items and the outbox
rows for replies and store events commit together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import replies
from bot.cart import Item, Outcome
from bot.checkout_token import checkout_url
from bot.dispatch.reply_jobs import reply_partition
from bot.lives import ordering_state, written_at
from bot.ordering import OrderComment, Placed, place_orders
from bot.settings import Settings
from bot.store_events import order_event
from parsers import (
    CompiledLineup,
    OrderItem,
    ParseResult,
    compile_lineup,
    parse_comment,
    read_lineup,
)
from storage.comments import CommentView, record_readings
from storage.members import Buyer, IdentityKey, ensure_buyers
from storage.models import JsonObject, Live, Page
from storage.orders import OrderSnapshot, snapshots
from storage.outbox import Outgoing, add_outbox
from storage.reviews import add_reviews
from storage.stock import levels
from storage.stock_backends import Stock
from storage.types import utcnow

log = logging.getLogger("livecart.pipeline")
# (status, items, reason): what a comment was read as
Reading = tuple[str, list[JsonObject], str | None]
Candidate = dict[str, object]


# A review's reason when its buyer is blocked: staff who approve it order for them knowingly.
# First, so that a card that shortens a long reason still shows it.
BLOCKED = "the buyer is blocked"


def says_blocked(reason: str) -> bool:
    """Whether a review's reason tells staff its buyer is blocked (parser reasons, which may
    quote the viewer, never start with these words)."""
    return reason == BLOCKED or reason.startswith(f"{BLOCKED}; ")


@dataclass(frozen=True, slots=True)
class Review:
    comment: CommentView
    reason: str
    candidates: list[Candidate]

    def noting(self, buyer: Buyer) -> Review:
        """This review, saying so when its buyer is blocked."""
        if not buyer.blocked or says_blocked(self.reason):
            return self
        return Review(self.comment, f"{BLOCKED}; {self.reason}", self.candidates)


class CommentProcessor:
    def __init__(self, settings: Settings, stock: Stock, checkout_secret: str) -> None:
        self._settings = settings
        self._stock = stock
        self._secret = checkout_secret
        # Compiled once per lineup text: the per-comment path does no lineup work.
        self._lineups: dict[int, tuple[str, CompiledLineup]] = {}

    async def process(self, session: AsyncSession, comments: Sequence[CommentView]) -> None:
        """Read claimed comments, record what each was read as, and act on them."""
        lives = await _lives_of(session, comments)
        read: list[tuple[CommentView, Live | None, ParseResult | None]] = []
        readings: list[tuple[int, str, list[JsonObject], str | None]] = []
        for comment in comments:
            live = lives.get(comment.live_id) if comment.live_id is not None else None
            (status, items, reason), result = self.read(comment.verb, comment.text, live)
            readings.append((comment.id, status, items, reason))
            read.append((comment, live, result))
        await record_readings(session, readings)
        await self.decide(session, read, utcnow())

    async def decide(
        self,
        session: AsyncSession,
        read: Sequence[tuple[CommentView, Live | None, ParseResult | None]],
        now: datetime,
    ) -> None:
        """Order, review or answer "closed" for comments already read (and recorded)."""
        orders: list[tuple[CommentView, Live, ParseResult]] = []
        reviews: list[Review] = []
        closed: list[tuple[CommentView, Live]] = []
        for comment, live, result in read:
            if result is None or live is None or result.status == "none":
                continue
            state = ordering_state(
                live,
                written_at(comment.created_time, comment.received_at),
                instagram_live=comment.field == "live_comments",
            )
            if state == "closed":
                closed.append((comment, live))
            elif result.status == "review":
                reviews.append(Review(comment, result.reason, _candidates(result)))
            elif state == "after_broadcast":
                reviews.append(
                    Review(
                        comment,
                        "Instagram live comment after the broadcast ended; "
                        "it can no longer be answered privately",
                        _candidates(result, True),
                    )
                )
            else:
                orders.append((comment, live, result))
        await self.act(
            session,
            [(c, live, _items(result)) for c, live, result in orders],
            closed=closed,
            reviews=reviews,
            now=now,
        )

    async def act(
        self,
        session: AsyncSession,
        orders: Sequence[tuple[CommentView, Live, tuple[Item, ...]]],
        *,
        closed: Sequence[tuple[CommentView, Live]] = (),
        reviews: Sequence[Review] = (),
        now: datetime,
        honour_blocks: bool = True,
    ) -> None:
        """Order what `orders` ask (a blocked buyer's order goes to staff instead, unless staff
        decided it), answer `closed` comments, and keep `reviews` for staff (saying which
        buyers are blocked, so that approving one is a decision made knowingly)."""
        buyers = await ensure_buyers(
            session,
            [(_identity(c), c.author_name) for c, _, _ in orders]
            + [(_identity(r.comment), r.comment.author_name) for r in reviews],
        )
        reviews = [review.noting(buyers[_identity(review.comment)]) for review in reviews]
        ordering: list[OrderComment] = []
        for comment, live, items in orders:
            buyer = buyers[_identity(comment)]
            if buyer.blocked and honour_blocks:
                reviews.append(Review(comment, BLOCKED, _as_candidates([items])))
                continue
            ordering.append(_order_comment(comment, live, buyer, items))
        placed = await place_orders(
            session, self._stock, ordering, now=now, hold_for=self._settings.hold_for
        )
        comments = [c for c, _, _ in orders] + [c for c, _ in closed]
        languages = await languages_of(session, comments)
        # One read of every cart the batch touched or answers about: replies and events share it.
        carts = await snapshots(
            session,
            placed.changed
            | placed.expired
            | {p.order_id for p in placed.placements.values() if p.order_id is not None},
        )
        await add_reviews(
            session, [(r.comment.id, r.comment.live_id, r.reason, r.candidates) for r in reviews]
        )
        # Last: store events hold the event-id lock until the transaction ends (add_outbox).
        await add_outbox(
            session,
            self._replies(ordering, placed, carts, comments, buyers, languages)
            + self._closed_replies(closed, languages)
            + await self._stock_alerts(session, ordering, placed)
            + [_staff_review(r.comment) for r in reviews]
            + _store_events(placed, carts),
        )

    def read(
        self, verb: str, text: str | None, live: Live | None
    ) -> tuple[Reading, ParseResult | None]:
        """What a comment says, and the reading to record on it."""
        if verb != "add":
            return ("none", [], f"a '{verb}' event"), None
        if live is None:
            return ("none", [], "not on a registered live or post"), None
        result = parse_comment(text or "", self._lineup(live), live.current_keyword)
        items: list[JsonObject] = [dict(item.to_json()) for item in result.items]
        return (result.status, items, result.reason or None), result

    def _lineup(self, live: Live) -> CompiledLineup:
        # Kept with the text it was compiled from: comparing two equal texts is a memory
        # compare, where hashing the lineup cost more than parsing the comment.
        cached = self._lineups.get(live.id)
        if cached is None or cached[0] != live.lineup_csv:
            cached = (live.lineup_csv, compile_lineup(read_lineup(live.lineup_csv)))
            self._lineups[live.id] = cached
        return cached[1]

    def _replies(
        self,
        ordering: Sequence[OrderComment],
        placed: Placed,
        carts: dict[int, OrderSnapshot],
        comments: Sequence[CommentView],
        buyers: dict[IdentityKey, Buyer],
        languages: dict[tuple[str, str], str],
    ) -> list[Outgoing]:
        by_id = {comment.id: comment for comment in comments}
        messages: list[Outgoing] = []
        for request in ordering:
            comment = by_id[request.comment_id]
            placement = placed.placements[request.comment_id]
            cart = carts.get(placement.order_id) if placement.order_id is not None else None
            language = languages.get((comment.platform, comment.page_id), "zh-Hant")
            text = self._order_text(comment, placement.outcome, cart, language, buyers)
            messages += self.reply_rows(comment, text, language)
        return messages

    def _order_text(
        self,
        comment: CommentView,
        outcome: Outcome,
        cart: OrderSnapshot | None,
        language: str,
        buyers: dict[IdentityKey, Buyer],
    ) -> str:
        lines = cart.lines if cart else ()
        names = {line.sku: line.name for line in lines}
        return replies.order_reply(
            language=language,
            buyer_name=comment.author_name or buyers[_identity(comment)].name,
            outcome=outcome,
            names=names,
            cart=lines,
            total=cart.total if cart else Decimal(0),
            hold_until=cart.hold_until if cart else utcnow(),
            checkout_url=(
                checkout_url(self._settings.public_url, cart.id, self._secret)
                if cart
                else self._settings.shop_url or self._settings.public_url
            ),
            timezone=self._settings.shop_timezone,
        )

    async def _stock_alerts(
        self, session: AsyncSession, ordering: Sequence[OrderComment], placed: Placed
    ) -> list[Outgoing]:
        """Staff hear once per live when a SKU runs low and when it sells out."""
        taken = {
            (request.live_id, sku)
            for request in ordering
            for sku, _ in placed.placements[request.comment_id].outcome.taken
        }
        if not taken:
            return []
        available = {
            level.sku: level.available for level in await levels(session, {sku for _, sku in taken})
        }
        alerts = []
        for live_id, sku in sorted(taken):
            left = available.get(sku, 0)
            if left == 0:
                alerts.append(
                    _alert(
                        "sold_out",
                        f"{sku} is sold out (live {live_id}).",
                        f"sold_out:{live_id}:{sku}",
                    )
                )
            elif left <= self._settings.low_stock_at:
                alerts.append(
                    _alert(
                        "low_stock",
                        f"{sku}: only {left} left (live {live_id}).",
                        f"low_stock:{live_id}:{sku}",
                    )
                )
        return alerts

    def _closed_replies(
        self, closed: Sequence[tuple[CommentView, Live]], languages: dict[tuple[str, str], str]
    ) -> list[Outgoing]:
        messages: list[Outgoing] = []
        for comment, _ in closed:
            language = languages.get((comment.platform, comment.page_id), "zh-Hant")
            text = replies.closed_reply(language=language, shop_url=self._settings.shop_url)
            messages += self.reply_rows(comment, text, language, public=False)
        return messages

    def reply_rows(
        self, comment: CommentView, text: str, language: str, *, public: bool = True
    ) -> list[Outgoing]:
        live_comment = comment.field == "live_comments"
        base = {
            "platform": comment.platform,
            "page_id": comment.page_id,
            "comment_id": comment.comment_id,
        }
        rows = [
            Outgoing(
                "reply",
                f"reply:{comment.platform}:{comment.comment_id}",
                reply_partition(
                    comment.platform, comment.page_id, live_comment=live_comment, public=False
                ),
                {**base, "text": text, "live_comment": live_comment},
            )
        ]
        if (
            public
            and self._settings.public_replies
            and not (comment.platform == "instagram" and live_comment)
        ):
            rows.append(
                Outgoing(
                    "public_reply",
                    f"public:{comment.platform}:{comment.comment_id}",
                    reply_partition(
                        comment.platform, comment.page_id, live_comment=live_comment, public=True
                    ),
                    {**base, "text": replies.public_reply(language)},
                )
            )
        return rows


def _alert(alert: str, text: str, key: str) -> Outgoing:
    return Outgoing("staff_alert", f"alert:{key}", "staff", {"alert": alert, "text": text})


def _staff_review(comment: CommentView) -> Outgoing:
    """Tells the staff bot a comment waits for a decision (it reads the review when sending)."""
    return Outgoing("staff_review", f"review:{comment.id}", "staff", {"comment_id": comment.id})


async def is_blocked(session: AsyncSession, comment: CommentView) -> bool:
    """Whether the comment's writer is a blocked member now."""
    key = _identity(comment)
    return (await ensure_buyers(session, [(key, comment.author_name)]))[key].blocked


def _identity(comment: CommentView) -> IdentityKey:
    return (comment.platform, comment.page_id, comment.author_id or f"unknown:{comment.id}")


def _order_comment(
    comment: CommentView, live: Live, buyer: Buyer, items: tuple[Item, ...]
) -> OrderComment:
    return OrderComment(
        comment_id=comment.id,
        platform_key=f"{comment.platform}:{comment.comment_id}:{comment.verb}",
        live_id=live.id,
        member_id=buyer.member_id,
        identity_id=buyer.identity_id,
        items=items,
        received_at=comment.received_at,
        may_wait=live.status != "closed",
    )


def _items(result: ParseResult) -> tuple[Item, ...]:
    return _items_of(result.items)


def _candidates(result: ParseResult, reading: bool = False) -> list[Candidate]:
    """The buttons staff may press: the reading itself (a late Instagram comment) or the
    parser's likely readings."""
    if reading and result.items:
        return _as_candidates([_items(result)])
    return _as_candidates([_items_of(option) for option in result.candidates])


def _items_of(option: Sequence[OrderItem]) -> tuple[Item, ...]:
    return tuple(Item(i.action, i.sku, i.quantity) for i in option)


def _as_candidates(options: Sequence[tuple[Item, ...]]) -> list[Candidate]:
    return [
        {"items": [{"action": i.action, "sku": i.sku, "quantity": i.quantity} for i in option]}
        for option in options
    ]


async def _lives_of(session: AsyncSession, comments: Sequence[CommentView]) -> dict[int, Live]:
    ids = {c.live_id for c in comments if c.live_id is not None}
    if not ids:
        return {}
    return {live.id: live for live in (await session.scalars(select(Live).where(Live.id.in_(ids))))}


async def languages_of(
    session: AsyncSession, comments: Sequence[CommentView]
) -> dict[tuple[str, str], str]:
    pages = {c.page_id for c in comments}
    rows = await session.execute(
        select(Page.platform, Page.page_id, Page.language).where(Page.page_id.in_(pages))
    )
    return {(platform, page): language for platform, page, language in rows.all()}


def _store_events(placed: Placed, found: dict[int, OrderSnapshot]) -> list[Outgoing]:
    """One event per order the batch expired or changed, for the central store (in order per
    order), from the snapshots the replies were written from."""
    return [order_event(event, found[order]) for order, event in sorted(placed.events().items())]
