"""Batch writes: new ids land on the rows they were made for, and many rows go in (or change)
in one statement on both databases with every value as given."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import cast

import pytest
from sqlalchemy import Table, select

from storage.db import (
    SessionFactory,
    among,
    create_engine,
    dialect_of,
    insert_rows,
    session_factory,
    update_rows,
)
from storage.members import IdentityKey, ensure_buyers
from storage.models import Comment, Identity, Live, Member, Order, OutboxMessage
from storage.orders import open_orders
from storage.types import utcnow


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


# Names repeat (and some are missing) on purpose: ids must not be matched up by position alone.
PEOPLE: list[tuple[IdentityKey, str | None]] = [
    (("facebook", "p1", f"viewer-{n}"), [None, "Amy", "Ben", "王小明", "Amy"][n % 5])
    for n in range(120)
]


async def test_new_buyers_get_one_member_each_named_as_they_commented(
    sessions: SessionFactory,
) -> None:
    async with sessions.begin() as session:
        buyers = await ensure_buyers(session, PEOPLE)
    assert len({buyer.member_id for buyer in buyers.values()}) == len(PEOPLE)
    async with sessions() as session:
        stored = {
            (platform, page, scoped): (identity_id, member_id, display, name)
            for platform, page, scoped, identity_id, member_id, display, name in (
                await session.execute(
                    select(
                        Identity.platform,
                        Identity.page_id,
                        Identity.scoped_id,
                        Identity.id,
                        Identity.member_id,
                        Identity.display_name,
                        Member.name,
                    ).join(Member, Member.id == Identity.member_id)
                )
            ).all()
        }
    for key, name in PEOPLE:
        identity_id, member_id, display, member_name = stored[key]
        assert (display, member_name) == (name, name)
        assert (buyers[key].identity_id, buyers[key].member_id) == (identity_id, member_id)
    async with sessions.begin() as session:
        assert await ensure_buyers(session, PEOPLE) == buyers


async def test_new_orders_are_handed_back_per_buyer(sessions: SessionFactory) -> None:
    async with sessions.begin() as session:
        buyers = await ensure_buyers(session, PEOPLE)
        now = utcnow()
        lives = [Live(platform="facebook", page_id="p1") for _ in range(2)]
        session.add_all(lives)
        await session.flush()
        wanted = [
            ((live.id, buyer.member_id), buyer.identity_id)
            for n, buyer in enumerate(buyers.values())
            for live in lives[: 1 + n % 2]
        ]
        created = await open_orders(session, wanted, now + timedelta(hours=1))
    assert set(created) == {key for key, _ in wanted}
    async with sessions() as session:
        rows = (await session.execute(select(Order.id, Order.live_id, Order.member_id))).all()
    assert {(live, member): order_id for order_id, live, member in rows} == created


async def test_rows_are_found_by_their_composite_keys_on_both_databases(
    sessions: SessionFactory,
) -> None:
    async with sessions.begin() as session:
        await ensure_buyers(session, PEOPLE[:5])
    key = (Identity.platform, Identity.page_id, Identity.scoped_id)
    wanted = [
        PEOPLE[1][0],
        PEOPLE[3][0],
        ("facebook", "p1", "nobody"),
        ("instagram", "p1", "viewer-1"),
    ]
    async with sessions() as session:
        for keys, expected in ((wanted, {PEOPLE[1][0], PEOPLE[3][0]}), ([], set())):
            rows = await session.execute(select(*key).where(among(dialect_of(session), key, keys)))
            assert set(rows.all()) == expected


OUTBOX = cast(Table, OutboxMessage.__table__)
COMMENTS = cast(Table, Comment.__table__)


async def test_many_rows_go_in_as_given_and_a_known_key_is_skipped(
    sessions: SessionFactory,
) -> None:
    now = utcnow()
    payloads: list[dict[str, object]] = [
        {"text": "已為你保留 A1 ×2 🎉", "items": [{"sku": "A1", "quantity": 2}], "n": None},
        {},
        {"list": [[1, 2], []], "nested": {"deep": True}},
    ]
    rows = [
        {"kind": "reply", "key": f"key-{n}", "partition": f"page:{n % 2}", "payload": payload}
        for n, payload in enumerate(payloads)
    ]
    shared = {"status": "pending", "attempts": 0, "available_at": now, "created_at": now}
    async with sessions.begin() as session:
        await insert_rows(session, OUTBOX, rows[:1], shared=shared, skip_duplicates=True)
        changed_first = [{**rows[0], "payload": {"changed": True}}]
        await insert_rows(
            session, OUTBOX, changed_first + rows[1:], shared=shared, skip_duplicates=True
        )
    async with sessions() as session:
        stored = (
            await session.execute(
                select(
                    OutboxMessage.key,
                    OutboxMessage.partition,
                    OutboxMessage.payload,
                    OutboxMessage.status,
                    OutboxMessage.attempts,
                    OutboxMessage.created_at,
                ).order_by(OutboxMessage.key)
            )
        ).all()
    assert [tuple(row) for row in stored] == [
        (row["key"], row["partition"], row["payload"], "pending", 0, now) for row in rows
    ]


async def test_many_rows_change_by_key_in_one_statement(sessions: SessionFactory) -> None:
    base = {"platform": "facebook", "verb": "add", "field": "feed", "page_id": "p1"}
    async with sessions.begin() as session:
        await insert_rows(
            session, COMMENTS, [{**base, "comment_id": f"c{n}", "text": "+1"} for n in range(4)]
        )
    async with sessions() as session:
        ids = list((await session.scalars(select(Comment.id).order_by(Comment.comment_id))).all())
    readings = [
        ("order", [{"action": "add", "sku": "A1", "quantity": 1}], None),
        ("review", [], "A1 需要顏色"),
        ("none", [], None),
    ]
    async with sessions.begin() as session:
        await update_rows(
            session,
            COMMENTS,
            "id",
            [
                {"id": cid, "parse_status": status, "parse_items": items, "parse_reason": reason}
                for cid, (status, items, reason) in zip(ids, readings, strict=False)
            ],
        )
    async with sessions() as session:
        stored = (
            await session.execute(
                select(Comment.parse_status, Comment.parse_items, Comment.parse_reason).order_by(
                    Comment.comment_id
                )
            )
        ).all()
    assert [tuple(row) for row in stored] == [*readings, (None, None, None)]


async def test_new_ids_follow_the_order_rows_were_given_in(sessions: SessionFactory) -> None:
    """Comments are processed in id order: first come, first served for stock."""
    base = {"platform": "facebook", "verb": "add", "field": "feed", "page_id": "p1"}
    given = [f"c{(n * 37) % 200:03d}" for n in range(200)]  # every id once, out of order
    async with sessions.begin() as session:
        await insert_rows(session, COMMENTS, [{**base, "comment_id": cid} for cid in given])
    async with sessions() as session:
        stored = await session.scalars(select(Comment.comment_id).order_by(Comment.id))
        assert list(stored) == given
