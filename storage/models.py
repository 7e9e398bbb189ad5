"""The whole domain as SQLAlchemy 2.0 tables.

Every externally triggered write has a natural key under a UNIQUE constraint (comment id + verb,
ledger reference, outbox key), so a replayed event finds its row already there and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column

from storage.types import BigId, Money, UTCDateTime, utcnow

# Stable constraint names, so migrations mean the same thing on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonObject = dict[str, Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def most_characters(column: InstrumentedAttribute[str | None]) -> int:
    """How long a text a String column keeps: PostgreSQL refuses a longer one."""
    length = column.type.length
    assert isinstance(length, int), f"{column} has no length"
    return length


# --- catalog and stock -------------------------------------------------------------------


class Sku(Base):
    """One stock per SKU, shared by every live and every channel (web store, shops)."""

    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("sold >= 0", name="sold_not_negative"),
        CheckConstraint("on_hand - reserved - sold >= 0", name="available_not_negative"),
    )

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Money())
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class StockMove(Base):
    """The ledger: every change of a SKU's counters, with why and a unique reference.

    The counters on `skus` always equal the sums of these rows; Redis counters are rebuilt
    from them.
    """

    __tablename__ = "stock_moves"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(ForeignKey("skus.sku"), index=True)
    on_hand_delta: Mapped[int] = mapped_column(Integer, default=0)
    reserved_delta: Mapped[int] = mapped_column(Integer, default=0)
    sold_delta: Mapped[int] = mapped_column(Integer, default=0)
    # lineup, adjust, reserve, release, confirm, expire, waitlist
    reason: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(255), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()


# --- people --------------------------------------------------------------------------------


class Member(Base):
    """A shop member; social identities and shop records of one person point here."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    tier: Mapped[str | None] = mapped_column(String(32))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when this member was merged into another; its identities and orders moved there.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Identity(Base):
    """A platform's scoped id for one person on one Page (Facebook) or account (Instagram)."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "page_id", "scoped_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    page_id: Mapped[str] = mapped_column(String(64))
    scoped_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()


# --- pages and lives -----------------------------------------------------------------------


class Page(Base):
    """A Facebook Page or Instagram account the shop sells on, with its own access token."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("platform", "page_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    page_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    access_token: Mapped[str | None] = mapped_column(Text)
    # zh-Hant or en: the language replies to this Page's buyers are written in.
    language: Mapped[str] = mapped_column(String(16), default="zh-Hant")
    # Set when Meta refused the token (190/102): staff must renew it.
    token_invalid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created()


class Live(Base):
    """A live broadcast (or a post sale with no broadcast) and its ordering window."""

    __tablename__ = "lives"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    page_id: Mapped[str] = mapped_column(String(64))
    # Any of these may arrive on a comment; a live matches whichever does.
    video_id: Mapped[str | None] = mapped_column(String(64), index=True)
    live_video_id: Mapped[str | None] = mapped_column(String(64), index=True)
    post_id: Mapped[str | None] = mapped_column(String(128), index=True)
    media_id: Mapped[str | None] = mapped_column(String(64), index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    broadcast: Mapped[bool] = mapped_column(Boolean, default=True)
    # live, replay, closed
    status: Mapped[str] = mapped_column(String(16), default="live")
    current_keyword: Mapped[str | None] = mapped_column(String(64))
    # The lineup as the host gave it: what the parser compiles (lineup_items hold it as rows).
    lineup_csv: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = _created()
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replay_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = _created()


class LineupItem(Base):
    """One row of a live's lineup CSV: how viewers name a SKU tonight."""

    __tablename__ = "lineup_items"
    __table_args__ = (UniqueConstraint("live_id", "sku"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    keyword: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(ForeignKey("skus.sku"))
    price: Mapped[Decimal] = mapped_column(Money())
    variant: Mapped[str] = mapped_column(String(255), default="")
    aliases: Mapped[str] = mapped_column(String(255), default="")
    max_per_buyer: Mapped[int | None] = mapped_column(Integer)


# --- ingestion -----------------------------------------------------------------------------


class InboxDelivery(Base):
    """The embedded queue: a verified webhook delivery, durable before Meta gets its 200."""

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = _created()
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class InboxParked(Base):
    """A queued delivery that failed every time it was handled alone (one the database cannot
    store, say): out of the queue, so it holds no batch back; `livecart inbox retry` queues it
    again."""

    __tablename__ = "inbox_parked"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    parked_at: Mapped[datetime] = _created()
    # When it first reached the queue: queued again, its comments keep their place in line.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Comment(Base):
    """A comment event as received, kept before anything else happens so it can be replayed."""

    __tablename__ = "comments"
    __table_args__ = (UniqueConstraint("platform", "comment_id", "verb"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    comment_id: Mapped[str] = mapped_column(String(128))
    # add, edited, remove, hide, unhide
    verb: Mapped[str] = mapped_column(String(16))
    field: Mapped[str] = mapped_column(String(32))
    page_id: Mapped[str] = mapped_column(String(64))
    post_id: Mapped[str | None] = mapped_column(String(128))
    media_id: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(128))
    live_id: Mapped[int | None] = mapped_column(ForeignKey("lives.id"), index=True)
    author_id: Mapped[str | None] = mapped_column(String(64))
    author_name: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)
    created_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = _created()
    # webhook or poll: how the comment reached us first
    source: Mapped[str] = mapped_column(String(16), default="webhook")
    # received, processed, failed (processing raised: kept for `livecart replay`); not indexed:
    # nothing looks comments up by status alone, and every comment stored would pay for it
    status: Mapped[str] = mapped_column(String(16), default="received")
    parse_status: Mapped[str | None] = mapped_column(String(16))
    parse_items: Mapped[list[JsonObject] | None] = mapped_column(JSON)
    parse_reason: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


# --- orders --------------------------------------------------------------------------------

ORDER_STATUSES = ("reserved", "confirmed", "cancelled", "expired")
# An order counts as one while it holds or bought stock; cancelled and expired carts sold nothing.
STANDING_ORDERS = ("reserved", "confirmed")


class Order(Base):
    """A buyer's cart for one live; at most one `reserved` (open) order per buyer per live."""

    __tablename__ = "orders"
    __table_args__ = (
        Index(
            "uq_orders_open_per_buyer",
            "live_id",
            "member_id",
            unique=True,
            sqlite_where=text("status = 'reserved'"),
            postgresql_where=text("status = 'reserved'"),
        ),
        Index("ix_orders_status_hold_until", "status", "hold_until"),
        # Every batch that adds to a cart updates its total: room on the page lets PostgreSQL
        # write the new version beside the old without touching the five indexes (HOT).
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))
    status: Mapped[str] = mapped_column(String(16), default="reserved")  # ORDER_STATUSES
    total: Mapped[Decimal] = mapped_column(Money(), default=0)
    hold_until: Mapped[datetime] = mapped_column(UTCDateTime())
    buyer_name: Mapped[str | None] = mapped_column(String(200))
    buyer_phone: Mapped[str | None] = mapped_column(String(32))
    buyer_email: Mapped[str | None] = mapped_column(String(254))
    # pickup or delivery
    fulfilment: Mapped[str | None] = mapped_column(String(16))
    pickup_shop: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OrderLine(Base):
    """A SKU in a cart; more comments for the same SKU grow its quantity."""

    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "sku"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # Looked up through UNIQUE (order_id, sku), which leads with it: no index of its own.
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    sku: Mapped[str] = mapped_column(ForeignKey("skus.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    # The comment that made the line (a waitlist fill's: the comment that waited; null when
    # staff made it).
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class WaitlistEntry(Base):
    """Demand that found no stock; filled first come, first served when stock comes back."""

    __tablename__ = "waitlist"
    __table_args__ = (
        UniqueConstraint("comment_id", "sku"),
        Index("ix_waitlist_sku_status_queued_at", "sku", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    live_id: Mapped[int] = mapped_column(ForeignKey("lives.id"), index=True)
    sku: Mapped[str] = mapped_column(ForeignKey("skus.sku"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer, default=0)
    # when the comment reached us: the queue order
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # waiting, filled, cancelled, closed
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    created_at: Mapped[datetime] = _created()


class ReviewItem(Base):
    """A comment staff must decide on, with the likely readings offered as buttons."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), unique=True)
    live_id: Mapped[int | None] = mapped_column(ForeignKey("lives.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    candidates: Mapped[list[JsonObject]] = mapped_column(JSON, default=list)
    # open, decided
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    decision: Mapped[JsonObject | None] = mapped_column(JSON)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Telegram messages that show this item, so a decision can edit them all.
    messages: Mapped[list[JsonObject]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = _created()


# --- outward effects -----------------------------------------------------------------------


class OutboxMessage(Base):
    """Everything sent outward, written in the transaction that caused it, sent afterwards."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "available_at"),
        Index("ix_outbox_kind_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # reply, public_reply, store_event, staff_alert
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    # Messages of one partition go out in id order (an order's events; a Page's replies).
    partition: Mapped[str] = mapped_column(String(128), index=True)
    payload: Mapped[JsonObject] = mapped_column(JSON)
    # pending, sent, failed, dead
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = _created()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeletionRequest(Base):
    """A person's data deletion asked by Meta's callback; the status page reads it."""

    __tablename__ = "deletion_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    confirmation_code: Mapped[str] = mapped_column(String(64), unique=True)
    scoped_id: Mapped[str] = mapped_column(String(64))
    # received, done
    status: Mapped[str] = mapped_column(String(16), default="received")
    requested_at: Mapped[datetime] = _created()
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AppState(Base):
    """Small values the whole deployment shares (the generated checkout signing secret)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
