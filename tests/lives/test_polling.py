"""Polling live comments beside webhooks: every comment orders once, whichever route brings it
first; the poller honours Meta's throttles and usage, and reads unfiltered comments."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import func, select, update

from bot.fakes.graph_api import FakeGraph
from bot.fakes.meta_webhooks import envelope, facebook_comment, signed_body
from bot.graph import GraphClient, GraphComment, appsecret_proof
from bot.polling import LivePoller, RecentIds, reached_seen
from bot.runtime import Runtime
from storage.models import Comment, Live, OrderLine, OutboxMessage, Page, StockMove, WaitlistEntry
from storage.types import utcnow
from tests.conftest import APP_SECRET
from tests.lives.support import LIVE_VIDEO, PAGE, TOKEN, count, start_polled_live
from tests.pipeline import VIDEO, drain

TEXTS = ("A2+1", "C7+1", "蘋果+1", "蘋果 1", "B3+1", "小熊杯+1")  # a third want apples: 8 in stock


class Clock:
    """The poller's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def viewer_comments(fake: FakeGraph, n: int) -> list[tuple[str, str, str]]:
    """`n` comments by `n` viewers on the fake live video, three per second, one unit each;
    returns (comment number, author, text)."""
    first = datetime.now(UTC) - timedelta(minutes=5)
    written = []
    for i in range(n):
        number, author, text = str(i + 1), f"v{i:03d}", TEXTS[i % len(TEXTS)]
        fake.add_comment(
            LIVE_VIDEO,
            f"{VIDEO}_{number}",
            text,
            from_id=author,
            from_name=f"Viewer {i}",
            created_time=first + timedelta(seconds=i // 3),
        )
        written.append((number, author, text))
    return written


async def webhook(runtime: Runtime, written: Sequence[tuple[str, str, str]]) -> None:
    """Meta's webhook deliveries of these comments, through the queue and the pipeline."""
    changes = [
        facebook_comment(
            page_id=PAGE, video_id=VIDEO, comment=number, text=text, author_id=author,
            author_name=author,
        )
        for number, author, text in written
    ]  # fmt: skip
    await runtime.queue.put(signed_body(envelope("page", [(PAGE, changes)]), APP_SECRET)[0])
    await drain(runtime)


async def outcomes(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        lines = await session.scalar(
            select(func.count()).select_from(OrderLine).where(OrderLine.comment_id.is_not(None))
        )
        waiting = await session.scalar(select(func.count()).select_from(WaitlistEntry))
        units = await session.scalar(select(func.coalesce(func.sum(OrderLine.quantity), 0)))
        reserves = await session.scalar(
            select(func.count()).select_from(StockMove).where(StockMove.reason == "reserve")
        )
        replies = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "reply")
        )
        comments = await session.scalar(select(func.count()).select_from(Comment))
    return {
        "comments": int(comments or 0),
        "lines": int(lines or 0),
        "waitlisted": int(waiting or 0),
        "units": int(units or 0),
        "reserve_moves": int(reserves or 0),
        "replies": int(replies or 0),
    }


async def test_webhooks_and_polling_together_order_every_comment_once(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    await start_polled_live(runtime)
    written = viewer_comments(fake, 60)
    delivered = sorted(random.Random(7).sample(written, 36))  # webhooks lose 40%
    await webhook(runtime, delivered)
    assert (await outcomes(runtime))["comments"] == 36

    poller = LivePoller(runtime, graph, every=0.05)
    assert await poller.poll_once() == 24
    assert await poller.poll_once() == 0
    await webhook(runtime, written)  # Meta's late retries of everything change nothing

    expected = {
        "comments": 60,
        "lines": 48,  # every comment ordered one unit...
        "waitlisted": 12,  # ...but 12 of the 20 apple comments found none left
        "units": 48,
        "reserve_moves": 48,
        "replies": 60,
    }
    assert await outcomes(runtime) == expected
    async with runtime.sessions() as session:
        sources = dict(
            (
                await session.execute(select(Comment.source, func.count()).group_by(Comment.source))
            ).all()
        )
    assert sources == {"webhook": 36, "poll": 24}
    assert await quiet_alerts(runtime) == 0  # webhooks were delivering: nothing to tell staff


async def test_a_comment_polled_first_is_not_ordered_again_by_its_late_webhook(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    await start_polled_live(runtime)
    written = viewer_comments(fake, 12)
    assert await LivePoller(runtime, graph, every=0.05).poll_once() == 12
    await webhook(runtime, written)
    assert await outcomes(runtime) == {
        "comments": 12, "lines": 12, "waitlisted": 0, "units": 12, "reserve_moves": 12,
        "replies": 12,
    }  # fmt: skip
    assert await quiet_alerts(runtime) == 1  # polling found comments no webhook ever brought


async def quiet_alerts(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        payloads = (
            await session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.kind == "staff_alert")
            )
        ).all()
    return sum(payload.get("alert") == "webhooks_quiet" for payload in payloads)


async def test_polling_reads_unfiltered_comments(runtime: Runtime) -> None:
    async with FakeGraph.running(app_secret=APP_SECRET, low_quality_share=0.5) as fake:
        fake.add_page(PAGE, TOKEN)
        fake.add_live_video(LIVE_VIDEO, PAGE, VIDEO)
        viewer_comments(fake, 30)
        await start_polled_live(runtime)
        async with aiohttp.ClientSession() as http:
            # Meta's default filter hides some of these short comments...
            assert await default_filter_count(http, fake.url) < 30
            # ...and the poller, asking for no_filter, gets every one of them.
            client = GraphClient(http, base_url=fake.url, version="v25.0", app_secret=APP_SECRET)
            assert await LivePoller(runtime, client, every=0.05).poll_once() == 30
    assert (await outcomes(runtime))["comments"] == 30


async def default_filter_count(http: aiohttp.ClientSession, url: str) -> int:
    """How many comments a plain GET /{live-video-id}/comments shows (no live_filter)."""
    params = {
        "access_token": TOKEN,
        "appsecret_proof": appsecret_proof(APP_SECRET, TOKEN),
        "limit": "100",
    }
    async with http.get(f"{url}/v25.0/{LIVE_VIDEO}/comments", params=params) as response:
        body = await response.json()
    return len(body["data"])


async def test_a_long_backlog_is_read_over_several_polls(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    await start_polled_live(runtime)
    viewer_comments(fake, 250)
    poller = LivePoller(runtime, graph, every=0.05, max_pages=1)
    assert [await poller.poll_once() for _ in range(4)] == [100, 100, 50, 0]
    fake.add_comment(LIVE_VIDEO, f"{VIDEO}_999", "A2+1", from_id="late", from_name="Late")
    assert await poller.poll_once() == 1
    assert await count(runtime, Comment) == 251


def graph_comment(number: int, second: int) -> GraphComment:
    at = datetime(2026, 11, 20, 12, 0, second, tzinfo=UTC)
    return GraphComment(f"{VIDEO}_{number}", "+1", "v", "Viewer", at, None)


def test_reading_stops_only_past_the_second_of_a_seen_comment() -> None:
    seen = RecentIds(size=10)
    seen.add_all([f"{VIDEO}_5"])
    # Newest first; comment 4 was written in the same second as the seen comment 5.
    same_second = [graph_comment(7, 3), graph_comment(5, 2), graph_comment(4, 2)]
    assert not reached_seen(same_second, seen)
    assert reached_seen([*same_second, graph_comment(3, 1)], seen)
    assert not reached_seen([graph_comment(8, 4), graph_comment(7, 3)], seen)
    seen.add_all(str(n) for n in range(20))  # bounded: the oldest are forgotten
    assert len(seen) == 10 and f"{VIDEO}_5" not in seen


async def test_a_throttled_page_is_left_alone_until_meta_says(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    await start_polled_live(runtime)
    viewer_comments(fake, 5)
    clock = Clock()
    poller = LivePoller(runtime, graph, every=5, clock=clock)
    fake.throttle(PAGE, 0.3, regain_minutes=0.5)  # Meta: access is back in 30 s

    assert await poller.poll_once() == 0
    assert len(fake.requests_for(PAGE)) == 1
    for _ in range(5):  # every poll during those 30 s leaves the Page alone
        clock.now += 5.5
        assert await poller.poll_once() == 0
    assert len(fake.requests_for(PAGE)) == 1
    await asyncio.sleep(0.35)  # (the fake's own throttle is short, to keep the test fast)
    clock.now += 3
    assert await poller.poll_once() == 5
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests_for(PAGE)] == [
        "comments",  # throttled
        "comments",
        LIVE_VIDEO,  # is the broadcast still on?
    ]


async def test_high_usage_slows_polling_down(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    await start_polled_live(runtime)
    written = viewer_comments(fake, 3)
    clock = Clock()
    poller = LivePoller(runtime, graph, every=5, clock=clock)
    fake.set_usage(page_pct=85)
    assert await poller.poll_once() == 3
    fake.add_comment(LIVE_VIDEO, f"{VIDEO}_99", "A2+1", from_id="late", from_name="Late")
    for _ in range(3):  # four times less often: the next three polls skip the Page
        clock.now += 5
        assert await poller.poll_once() == 0
    assert comment_reads(fake) == 1
    clock.now += 5.1
    assert await poller.poll_once() == 1
    assert len(written) + 1 == (await outcomes(runtime))["comments"]


def comment_reads(fake: FakeGraph) -> int:
    return sum(1 for r in fake.requests_for(PAGE) if r.path.endswith("/comments"))


async def test_a_refused_token_stops_polling_until_it_is_renewed(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    await start_polled_live(runtime)
    viewer_comments(fake, 2)
    clock = Clock()
    poller = LivePoller(runtime, graph, every=5, clock=clock)
    fake.revoke_token(PAGE)
    assert await poller.poll_once() == 0
    clock.now += 60
    assert await poller.poll_once() == 0
    assert len(fake.requests) == 1  # the refused token is not tried again
    fake.add_page(PAGE, "renewed-token")
    async with runtime.sessions.begin() as session:
        await session.execute(update(Page).values(access_token="renewed-token"))
    assert await poller.poll_once() == 2


async def test_only_broadcasts_on_or_in_their_replay_window_are_polled(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    live_id = await start_polled_live(runtime)
    viewer_comments(fake, 2)
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Live)
            .where(Live.id == live_id)
            .values(status="replay", replay_deadline=utcnow() - timedelta(seconds=1))
        )
    poller = LivePoller(runtime, graph, every=0.05)
    assert await poller.poll_once() == 0
    assert fake.requests == []
    async with runtime.sessions.begin() as session:
        await session.execute(update(Live).values(replay_deadline=utcnow() + timedelta(minutes=5)))
    assert await poller.poll_once() == 2


async def test_a_live_without_a_token_is_skipped_with_one_warning(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient, caplog: pytest.LogCaptureFixture
) -> None:
    await start_polled_live(runtime, token=None)
    viewer_comments(fake, 2)
    poller = LivePoller(runtime, graph, every=0.05)
    with caplog.at_level(logging.WARNING, logger="livecart.polling"):
        for _ in range(3):
            assert await poller.poll_once() == 0
    warnings = [r.getMessage() for r in caplog.records if "no access token" in r.getMessage()]
    assert len(warnings) == 1 and PAGE in warnings[0]
    assert fake.requests == []


async def test_the_loop_survives_failures_and_stops_when_asked(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    await start_polled_live(runtime)
    viewer_comments(fake, 250)  # three pages of comments
    fake.fail_next(2, code=2, is_transient=True)  # Meta hiccups twice
    stop = asyncio.Event()
    task = asyncio.create_task(LivePoller(runtime, graph, every=0.05).run(stop))
    try:
        async with asyncio.timeout(20):
            while (await outcomes(runtime))["comments"] < 250:
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    assert await count(runtime, Comment) == 250
    assert task.exception() is None


async def test_a_lost_status_webhook_is_made_up_for_by_asking_meta(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    live_id = await start_polled_live(runtime)
    clock = Clock()
    poller = LivePoller(runtime, graph, every=5, clock=clock)
    await poller.poll_once()
    fake.set_status(LIVE_VIDEO, "VOD")  # and Meta's live_videos webhook never arrives
    clock.now += 30
    await poller.poll_once()
    assert await status_of(runtime, live_id) == "live"  # asked once a minute, not at every poll
    clock.now += 31  # a minute after the last question
    await poller.poll_once()
    assert await status_of(runtime, live_id) == "replay"
    async with runtime.sessions() as session:
        live = await session.get(Live, live_id)
    assert live is not None
    assert live.replay_deadline is not None and live.ended_at is not None
    assert live.replay_deadline - live.ended_at == runtime.settings.replay_window
    asked = [r.path for r in fake.requests if r.path.endswith(LIVE_VIDEO)]
    assert len(asked) == 2


async def test_a_live_registered_by_its_video_alone_learns_its_live_video_and_ends(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    """Meta's status webhook names the live video object, not the video: the poller asks the
    Page's live videos which one shows this video, and from then on the webhook ends it."""
    live_id = await start_polled_live(runtime)
    async with runtime.sessions.begin() as session:
        await session.execute(update(Live).where(Live.id == live_id).values(live_video_id=None))
    await LivePoller(runtime, graph, every=5, clock=Clock()).poll_once()
    async with runtime.sessions() as session:
        live = await session.get(Live, live_id)
    assert live is not None and live.live_video_id == LIVE_VIDEO
    status = {"field": "live_videos", "value": {"id": LIVE_VIDEO, "status": "live_stopped"}}
    await runtime.queue.put(signed_body(envelope("page", [(PAGE, [status])]), APP_SECRET)[0])
    await drain(runtime)
    assert await status_of(runtime, live_id) == "replay"


async def status_of(runtime: Runtime, live_id: int) -> str:
    async with runtime.sessions() as session:
        live = await session.get(Live, live_id)
    assert live is not None
    return live.status


async def test_stopping_cuts_a_slow_poll_short(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    await start_polled_live(runtime)
    fake.set_latency(5, 5)  # Meta is slow to answer
    stop = asyncio.Event()
    task = asyncio.create_task(LivePoller(runtime, graph, every=5).run(stop))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
