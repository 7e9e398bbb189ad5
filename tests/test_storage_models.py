"""The schema's own guarantees, on SQLite and PostgreSQL alike."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from storage.app_state import ensure_secret
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import Comment, Live, Member, Order, Sku


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    yield session_factory(engine)
    await engine.dispose()


async def _live_and_member(sessions: SessionFactory) -> tuple[int, int]:
    async with sessions() as session:
        live = Live(platform="facebook", page_id="p1", video_id="v1")
        member = Member(name="Jane")
        session.add_all([live, member])
        await session.commit()
        return live.id, member.id


async def test_money_is_exact_and_times_are_utc(sessions: SessionFactory) -> None:
    taipei = timezone(timedelta(hours=8))
    async with sessions() as session:
        session.add(Sku(sku="A1", name="T-shirt", price=Decimal("390.10"), on_hand=5))
        live = Live(
            platform="facebook",
            page_id="p1",
            video_id="v1",
            started_at=datetime(2026, 11, 23, 20, 0, tzinfo=taipei),
        )
        session.add(live)
        await session.commit()
    async with sessions() as session:
        sku = await session.get(Sku, "A1")
        stored = await session.get(Live, live.id)
    assert sku is not None and sku.price == Decimal("390.10")
    assert stored is not None and stored.started_at == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert stored.started_at.tzinfo is not None


async def test_a_comment_event_is_stored_once(sessions: SessionFactory) -> None:
    def event(verb: str) -> Comment:
        return Comment(
            platform="facebook",
            comment_id="v1_c1",
            verb=verb,
            field="feed",
            page_id="p1",
            text="A1+1",
        )

    async with sessions() as session:
        session.add_all([event("add"), event("edited")])
        await session.commit()
    async with sessions() as session:
        session.add(event("add"))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_json_columns_keep_text_and_give_number_keys_back_as_strings(
    sessions: SessionFactory,
) -> None:
    items = [{"sku": "A1-紅-M", "quantity": 2, "note": "🎉"}, {1: "one"}]
    async with sessions() as session:
        comment = Comment(
            platform="facebook",
            comment_id="v1_c9",
            verb="add",
            field="feed",
            page_id="p1",
            text="蘋果 兩盒",
            parse_items=items,
        )
        session.add(comment)
        await session.commit()
    async with sessions() as session:
        stored = await session.get(Comment, comment.id)
    assert stored is not None
    assert stored.parse_items == [items[0], {"1": "one"}]


async def test_available_stock_cannot_go_below_zero(sessions: SessionFactory) -> None:
    async with sessions() as session:
        session.add(Sku(sku="B3", name="Soap", price=Decimal(120), on_hand=2, reserved=1))
        await session.commit()
    async with sessions() as session:
        with pytest.raises(IntegrityError):
            await session.execute(update(Sku).where(Sku.sku == "B3").values(reserved=3))
            await session.commit()
    async with sessions() as session:
        assert await session.scalar(select(Sku.reserved).where(Sku.sku == "B3")) == 1


async def test_one_open_order_per_buyer_per_live(sessions: SessionFactory) -> None:
    live_id, member_id = await _live_and_member(sessions)
    hold = datetime.now(UTC) + timedelta(hours=1)
    async with sessions() as session:
        session.add(
            Order(live_id=live_id, member_id=member_id, status="confirmed", hold_until=hold)
        )
        session.add(Order(live_id=live_id, member_id=member_id, status="reserved", hold_until=hold))
        await session.commit()
    async with sessions() as session:
        session.add(Order(live_id=live_id, member_id=member_id, status="reserved", hold_until=hold))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_every_process_gets_the_same_generated_secret(sessions: SessionFactory) -> None:
    secrets = await asyncio.gather(*(ensure_secret(sessions) for _ in range(8)))
    assert len(set(secrets)) == 1
    assert len(secrets[0]) >= 32
