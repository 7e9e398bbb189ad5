"""A comment orders by when the viewer wrote it, not by when livecart got to it: a backlog or a
late webhook at the replay's deadline loses no order. Instagram live comments are the exception:
once the broadcast is off they cannot be answered privately, whenever they were written."""

from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.fakes.meta_webhooks import envelope, facebook_comment, instagram_comment, signed_body
from bot.live_sessions import LiveSpec, start_live
from bot.runtime import Runtime
from bot.sweeper import sweep
from storage.models import Comment, Live, ReviewItem, WaitlistEntry
from storage.types import utcnow
from tests.lives.support import reply_texts
from tests.pipeline import LINEUP, PAGE, VIDEO, drain, start_test_live
from tests.test_ordering import cart

ACCOUNT, MEDIA = "17841400000000001", "17900000000000001"


async def _ended(runtime: Runtime, live_id: int, ended: datetime, deadline: datetime) -> None:
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Live)
            .where(Live.id == live_id)
            .values(status="replay", ended_at=ended, replay_deadline=deadline)
        )


async def _closed_a_minute_ago(runtime: Runtime) -> datetime:
    """A live whose replay closed a minute ago, the sweeper having closed it; its deadline."""
    live_id = await start_test_live(runtime)
    deadline = utcnow() - timedelta(minutes=1)
    await _ended(runtime, live_id, deadline - timedelta(hours=1), deadline)
    await sweep(runtime, utcnow())
    return deadline


async def _facebook(runtime: Runtime, comments: list[tuple[str, str, datetime]]) -> None:
    changes = [
        facebook_comment(
            page_id=PAGE,
            video_id=VIDEO,
            comment=str(n),
            text=text,
            author_id=author,
            author_name=author,
            created_time=int(written.timestamp()),
        )
        for n, (author, text, written) in enumerate(comments, start=1)
    ]
    await runtime.queue.put(signed_body(envelope("page", [(PAGE, changes)]), "x")[0])
    await drain(runtime)


async def test_a_comment_written_before_the_replay_closed_orders_when_handled_after(
    runtime: Runtime,
) -> None:
    deadline = await _closed_a_minute_ago(runtime)
    await _facebook(
        runtime,
        [
            ("in_time", "A2+1", deadline - timedelta(seconds=30)),
            ("too_late", "A2+1", deadline + timedelta(seconds=30)),
        ],
    )
    assert await cart(runtime, "in_time") == {"A2": 1}
    replies = await reply_texts(runtime)
    assert "/checkout/" in replies[f"{VIDEO}_1"]
    assert "已結束下單" in replies[f"{VIDEO}_2"] and "/checkout/" not in replies[f"{VIDEO}_2"]


async def test_a_late_comment_on_a_closed_live_takes_what_is_left_and_never_waits(
    runtime: Runtime,
) -> None:
    deadline = await _closed_a_minute_ago(runtime)
    in_time = deadline - timedelta(seconds=30)
    await _facebook(runtime, [("first", "A12+8", in_time), ("second", "A12+5", in_time)])
    assert await cart(runtime, "second") == {"A12": 2}  # 10 in stock
    async with runtime.sessions() as session:
        assert (await session.scalars(select(WaitlistEntry.id))).all() == []
    assert "no waitlist" in (await reply_texts(runtime))[f"{VIDEO}_2"]


async def test_an_instagram_live_comment_handled_after_the_broadcast_goes_to_staff(
    runtime: Runtime,
) -> None:
    async with runtime.sessions.begin() as session:
        live = await start_live(
            session,
            LiveSpec(platform="instagram", page_id=ACCOUNT, video_id=MEDIA, lineup_csv=LINEUP),
        )
        live_id = live.id
    ended = utcnow() - timedelta(seconds=10)
    await _ended(runtime, live_id, ended, ended + timedelta(hours=24))
    changes = [
        instagram_comment(
            media_id=MEDIA,
            comment_id=f"1800000000000000{n}",
            text="A2+1",
            author_id=author,
            username=author,
            timestamp=int(written.timestamp()),
        )
        for n, (author, written) in enumerate(
            [("during", ended - timedelta(seconds=5)), ("after", ended + timedelta(seconds=5))]
        )
    ]
    await runtime.queue.put(signed_body(envelope("instagram", [(ACCOUNT, changes)]), "x")[0])
    await drain(runtime)
    async with runtime.sessions() as session:
        reviewed = await session.scalars(
            select(Comment.author_id)
            .join(ReviewItem, ReviewItem.comment_id == Comment.id)
            .order_by(Comment.id)
        )
        assert list(reviewed.all()) == ["during", "after"]
