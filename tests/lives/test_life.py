"""A live's whole life through the real app and the real pipeline: start, products on screen,
"+1" comments, Meta's status webhook, replay orders within the window, closed after it; post
sales; several Pages and an Instagram account at once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import select, update

from bot.fakes.graph_api import FakeGraph
from bot.fakes.meta_webhooks import instagram_comment, live_status
from bot.graph import GraphClient
from bot.polling import LivePoller
from bot.runtime import Runtime
from bot.sweeper import sweep
from storage.models import Comment, Live, Order, Page
from storage.stock import levels
from storage.types import utcnow
from tests.lives.conftest import REPLAY_WINDOW
from tests.lives.support import (
    AUTH,
    LIVE_VIDEO,
    PAGE,
    TOKEN,
    api,
    app_client,
    carts,
    comments,
    count,
    deliver,
    reply_texts,
    show,
    start,
)
from tests.pipeline import VIDEO


async def reserved(runtime: Runtime, sku: str) -> int:
    async with runtime.sessions() as session:
        (level,) = await levels(session, [sku])
    return level.reserved


async def test_a_live_from_start_to_closed(short_runtime: Runtime) -> None:
    runtime = short_runtime
    async with app_client(runtime) as client:
        live = await start(client, title="Friday drop")
        live_id = int(str(live["id"]))
        # Stands for `"live_video_id"` in POST /api/lives (or `live start --live-video-id`):
        # Meta names the live video object, not the video, in its status webhooks.
        async with runtime.sessions.begin() as session:
            await session.execute(
                update(Live).where(Live.id == live_id).values(live_video_id=LIVE_VIDEO)
            )

        await api(client, "POST", f"/api/lives/{live_id}/current", {"keyword": "A2"})
        await deliver(
            client, runtime, "page", [(PAGE, comments([("u1", "+1"), ("u2", "+2")], start=1))]
        )
        await api(client, "POST", f"/api/lives/{live_id}/current", {"keyword": "c7"})
        await deliver(
            client, runtime, "page", [(PAGE, comments([("u1", "+1"), ("u3", "+1")], start=3))]
        )
        assert await carts(runtime, live_id) == {
            "u1": {"A2": 1, "C7": 1},
            "u2": {"A2": 2},
            "u3": {"C7": 1},
        }
        figures = await show(client, live_id)
        assert (figures["status"], figures["orders"], figures["units_reserved"]) == ("live", 3, 5)

        # Meta says the broadcast is on, then that it stopped (in whatever case it pleases).
        await deliver(client, runtime, "page", [(PAGE, [live_status(LIVE_VIDEO, "live")])])
        assert (await show(client, live_id))["status"] == "live"
        await deliver(client, runtime, "page", [(PAGE, [live_status(LIVE_VIDEO, "Live_Stopped")])])
        figures = await show(client, live_id)
        assert figures["status"] == "replay"
        ended = datetime.fromisoformat(str(figures["ended_at"]))
        deadline = datetime.fromisoformat(str(figures["replay_deadline"]))
        assert deadline - ended == REPLAY_WINDOW

        # The replay orders like the live until its deadline.
        await deliver(client, runtime, "page", [(PAGE, comments([("u4", "A2+1")], start=5))])
        assert await carts(runtime, live_id) == {
            "u1": {"A2": 1, "C7": 1},
            "u2": {"A2": 2},
            "u3": {"C7": 1},
            "u4": {"A2": 1},
        }
        assert await reserved(runtime, "A2") == 4

        # After it, a comment takes nothing and its author is told ordering has closed (it
        # counts by when it was written, which Meta gives in whole seconds).
        await asyncio.sleep((deadline - utcnow()).total_seconds() + 1.1)
        await deliver(client, runtime, "page", [(PAGE, comments([("u5", "A2+1")], start=6))])
        assert await reserved(runtime, "A2") == 4
        assert "u5" not in await carts(runtime, live_id)
        assert await count(runtime, Order, Order.live_id == live_id) == 4
        closed_reply = (await reply_texts(runtime))[f"{VIDEO}_6"]
        assert "已結束下單" in closed_reply and "/checkout/" not in closed_reply

        # The sweeper closes the live; later comments change nothing either.
        assert (await sweep(runtime, utcnow())).closed_lives == 1
        assert (await show(client, live_id))["status"] == "closed"
        await deliver(client, runtime, "page", [(PAGE, comments([("u6", "A2+1")], start=7))])
        assert await reserved(runtime, "A2") == 4
        assert await count(runtime, Order, Order.live_id == live_id) == 4
        ended_again = await client.post(f"/api/lives/{live_id}/end", headers=AUTH)
        assert ended_again.status == 409


async def test_a_post_sale_orders_from_comments_on_an_ordinary_post(
    runtime: Runtime, fake: FakeGraph, graph: GraphClient
) -> None:
    post = "801234567890123"
    async with app_client(runtime) as client:
        live = await start(client, video_id=None, post_id=f"{PAGE}_{post}", title="Jam post")
        live_id = int(str(live["id"]))
        async with runtime.sessions() as session:
            row = await session.get(Live, live_id)
        assert row is not None and row.broadcast is False and row.video_id is None

        await deliver(
            client,
            runtime,
            "page",
            [
                (
                    PAGE,
                    comments(
                        [("u1", "C7+2"), ("u2", "果醬 1"), ("u3", "+1")], start=1, video_id=post
                    ),
                )
            ],
        )
        assert await carts(runtime, live_id) == {"u1": {"C7": 2}, "u2": {"C7": 1}}
        assert await count(runtime, Comment, Comment.parse_status == "review") == 1  # bare +1

        # No broadcast: nothing to poll, so the Graph API is not asked.
        async with runtime.sessions.begin() as session:
            session.add(Page(platform="facebook", page_id=PAGE, access_token=TOKEN))
        assert await LivePoller(runtime, graph, every=1).poll_once() == 0
        assert fake.requests == []

        ended = await api(client, "POST", f"/api/lives/{live_id}/end")
        assert isinstance(ended, dict) and ended["status"] == "replay"
        await deliver(
            client, runtime, "page", [(PAGE, comments([("u4", "C7+1")], start=9, video_id=post))]
        )
        assert (await carts(runtime, live_id))["u4"] == {"C7": 1}


async def test_two_pages_and_an_instagram_account_at_once(runtime: Runtime) -> None:
    other_page, other_video = "480873143344731", "790891113073999"
    account, media = "17841405726653026", "17900000000000001"
    async with runtime.sessions.begin() as session:
        session.add(Page(platform="facebook", page_id=other_page, language="en", access_token="t2"))
    async with app_client(runtime) as client:
        first = await start(client, title="Page one")
        second = await start(client, page_id=other_page, video_id=other_video)
        insta = await start(client, platform="instagram", page_id=account, video_id=media)
        await api(client, "POST", f"/api/lives/{first['id']}/current", {"keyword": "A2"})
        await api(client, "POST", f"/api/lives/{second['id']}/current", {"keyword": "C7"})

        # One delivery for both Pages (the same viewer on each, which Meta scopes apart).
        await deliver(
            client,
            runtime,
            "page",
            [
                (PAGE, comments([("u1", "+1"), ("u2", "A12+1")], start=1)),
                (
                    other_page,
                    comments([("u1", "+1")], start=1, video_id=other_video, page_id=other_page),
                ),
            ],
        )
        ig_comment = instagram_comment(
            media_id=media,
            comment_id="17865799348089039",
            text="A12 +1",
            author_id="90001",
            username="ig.buyer",
        )
        await deliver(client, runtime, "instagram", [(account, [ig_comment])])

        assert await carts(runtime, int(str(first["id"]))) == {"u1": {"A2": 1}, "u2": {"A12": 1}}
        assert await carts(runtime, int(str(second["id"]))) == {"u1": {"C7": 1}}
        assert await carts(runtime, int(str(insta["id"]))) == {"90001": {"A12": 1}}
        assert await reserved(runtime, "A12") == 2  # one shared stock across Pages

        texts = await reply_texts(runtime)
        assert "已為您保留" in texts[f"{VIDEO}_1"]  # the first Page answers in zh-Hant
        assert "Reserved for you" in texts[f"{other_video}_1"]  # the second in English
        assert "17865799348089039" in texts
        async with runtime.sessions() as session:
            stray = await session.scalar(select(Comment).where(Comment.live_id.is_(None)))
        assert stray is None


async def test_meta_statuses_in_any_case_end_a_live_and_others_do_not(runtime: Runtime) -> None:
    statuses = ("vod", "LIVE_STOPPED", "Processing", "live", "LIVE", "scheduled_live")
    async with app_client(runtime) as client:
        ids = []
        for n, _ in enumerate(statuses):
            live = await start(client, video_id=f"69089111307{n:04d}")
            ids.append(int(str(live["id"])))
        async with runtime.sessions.begin() as session:
            for n, live_id in enumerate(ids):
                await session.execute(
                    update(Live).where(Live.id == live_id).values(live_video_id=f"1015{n}")
                )
        changes = [live_status(f"1015{n}", status) for n, status in enumerate(statuses)]
        await deliver(client, runtime, "page", [(PAGE, changes)])
        shown = [await show(client, live_id) for live_id in ids]
    assert [live["status"] for live in shown] == ["replay"] * 3 + ["live"] * 3
    assert all(live["replay_deadline"] for live in shown[:3])


async def test_the_replay_runs_from_when_meta_says_the_broadcast_ended(runtime: Runtime) -> None:
    """A status Meta delivers late (it retries failed deliveries for hours) does not lengthen
    the replay: its 24 hours run from the entry's time."""
    ended = int(time.time()) - 3 * 3600
    async with app_client(runtime) as client:
        live = await start(client, video_id="690891113079999")
        live_id = int(str(live["id"]))
        async with runtime.sessions.begin() as session:
            await session.execute(
                update(Live).where(Live.id == live_id).values(live_video_id="10159999")
            )
        changes = [live_status("10159999", "live_stopped")]
        await deliver(client, runtime, "page", [(PAGE, changes)], entry_time=ended)
        shown = await show(client, live_id)
    assert shown["status"] == "replay"
    deadline = datetime.fromisoformat(str(shown["replay_deadline"]))
    assert deadline == datetime.fromtimestamp(ended, UTC) + runtime.settings.replay_window
