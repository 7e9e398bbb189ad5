"""The reply dispatcher against the fake Graph API on a real port, with real outbox rows in
SQLite and PostgreSQL. What is asserted is what the fake received and what the rows say."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import statistics
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from bot.dispatch.rate import Buckets
from bot.dispatch.replies import ReplyDispatcher, ReplyPolicy
from bot.fakes.graph_api import FakeGraph
from bot.graph import GraphClient
from bot.settings import Settings
from storage.db import SessionFactory, create_engine, session_factory
from storage.models import OutboxMessage, Page
from storage.outbox import claim_due, retry_dead
from storage.redis_buckets import RedisBuckets
from storage.redis_keys import RedisKeys
from storage.types import utcnow
from tests.dispatch.support import (
    APP_SECRET,
    FAST,
    IG,
    OTHER_PAGE,
    PAGE,
    TOKEN,
    Gate,
    add_page,
    add_replies,
    all_sent,
    assert_paced,
    max_in_window,
    page_row,
    rows,
    running,
    statuses,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("pages")
MakeSettings = Callable[..., Settings]


# Meta's temporary errors: its codes 2 and 1 (transient), and a proxy's 502 without a Graph body.
TEMPORARY_FAILURES = [
    {"code": 2},
    {"code": 1, "is_transient": True},
    {"code": 0, "http_status": 502, "raw_body": "<html>Bad Gateway</html>"},
]


def dispatcher(
    sessions: SessionFactory,
    graph: GraphClient,
    settings: Settings,
    policy: ReplyPolicy = FAST,
    buckets: Buckets | None = None,
) -> ReplyDispatcher:
    return ReplyDispatcher(sessions, graph, settings, policy=policy, buckets=buckets)


def comments(prefix: str, count: int) -> list[str]:
    return [f"{prefix}_{n}" for n in range(count)]


def message_posts(fake: FakeGraph, page_id: str) -> list[float]:
    """When each private reply request to the Page arrived at the fake."""
    return [
        r.time
        for r in fake.requests_for(page_id)
        if r.method == "POST" and r.path.endswith("/messages")
    ]


def median_gap(times: list[float]) -> float:
    ordered = sorted(times)
    return statistics.median(later - earlier for earlier, later in itertools.pairwise(ordered))


def one_message_each(fake: FakeGraph, expected: list[str]) -> None:
    received = Counter(m.comment_id for m in fake.messages)
    assert sorted(received) == sorted(expected)
    assert set(received.values()) == {1}


# --- one reply per row --------------------------------------------------------------------


async def test_two_dispatchers_send_each_reply_exactly_once(
    sessions: SessionFactory,
    database_url: str,
    fake: FakeGraph,
    graph: GraphClient,
    make_settings: MakeSettings,
) -> None:
    expected = comments("p", 150) + comments("o", 150)
    await add_replies(sessions, PAGE, expected[:150])
    await add_replies(sessions, OTHER_PAGE, expected[150:])
    fake.set_latency(0.002, 0.02)  # calls overlap, so the two really race for rows
    settings = make_settings(reply_rate_per_page=1000.0)
    # Two "processes": each with an engine (a connection pool) and a dispatcher of its own.
    engines = [create_engine(database_url) for _ in range(2)]
    senders = [dispatcher(session_factory(e), graph, settings) for e in engines]
    try:
        async with running(*senders):
            await wait_for(all_sent(sessions), timeout=30, what="all 300 replies sent")
    finally:
        for engine in engines:
            await engine.dispose()
    one_message_each(fake, expected)
    # Not even a duplicate attempt answered 10900: the claims never overlapped.
    assert len(message_posts(fake, PAGE)) + len(message_posts(fake, OTHER_PAGE)) == 300
    assert all(row.attempts == 1 and row.sent_at is not None for row in await rows(sessions))


async def test_a_crashed_senders_rows_come_back_and_are_not_sent_twice(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    expected = comments("c", 20)
    await add_replies(sessions, PAGE, expected)
    # The crashed process: it leased ten rows, got five replies out, then died before
    # recording anything.
    async with sessions.begin() as session:
        leased = await claim_due(session, ("reply",), limit=10, lease=timedelta(milliseconds=500))
    for message in leased[:5]:
        await graph.private_reply(
            PAGE, TOKEN, message.payload["comment_id"], message.payload["text"]
        )
    survivor = dispatcher(sessions, graph, make_settings(reply_rate_per_page=500.0))
    assert await survivor.drain_once() == 10  # the rows nobody holds
    assert await survivor.drain_once() == 0  # the dead process's lease still stands
    await asyncio.sleep(0.55)
    assert await survivor.drain_once() == 10
    assert await statuses(sessions) == {"sent": 20}
    one_message_each(fake, expected)
    refused = [r for r in fake.requests_for(PAGE) if r.status == 400]
    assert len(refused) == 5  # the five that had gone out answered 10900 and count as sent


# --- pace -----------------------------------------------------------------------------------


async def test_the_rate_per_page_holds_at_the_fake(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    policy = dataclasses.replace(FAST, burst_seconds=0.1)  # burst: 2 at 20/s
    sender = dispatcher(sessions, graph, make_settings(reply_rate_per_page=20.0), policy)
    # Warm up (connections, compiled statements): the fake shares this event loop, and a
    # first-call stall would bunch its arrival times.
    await add_replies(sessions, OTHER_PAGE, ["warm_up"])
    await sender.drain_once()
    await add_replies(sessions, PAGE, comments("c", 60))
    fake.set_latency(0.01, 0.05)
    async with running(sender):
        await wait_for(all_sent(sessions), timeout=20, what="60 replies sent")
    times = message_posts(fake, PAGE)
    assert len(times) == 60
    assert_paced(times, rate=20, burst=2)
    # Near the configured rate, not just slower (the median gap shrugs off event loop stalls).
    assert 0.045 <= median_gap(times) <= 0.06


async def test_dispatchers_sharing_redis_keep_one_pace_per_page(
    sessions: SessionFactory,
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    fake: FakeGraph,
    graph: GraphClient,
    make_settings: MakeSettings,
) -> None:
    # Burst: 2 at 20/s. Small claims: both take rows of the Page, up to 1.5 s of sends each.
    policy = dataclasses.replace(FAST, burst_seconds=0.1, claim_batch=10)
    settings = make_settings(reply_rate_per_page=20.0)
    # Two "processes", each with its own engine and Redis connection; one Redis between them.
    engines = [create_engine(database_url) for _ in range(2)]
    clients = [Redis.from_url(redis_url) for _ in range(2)]
    senders = [
        dispatcher(
            session_factory(engine),
            graph,
            settings,
            policy,
            RedisBuckets(client, RedisKeys(redis_prefix)),
        )
        for engine, client in zip(engines, clients, strict=True)
    ]
    try:
        await add_replies(sessions, OTHER_PAGE, ["warm_up_1", "warm_up_2"])
        for sender in senders:
            await sender.drain_once()
        await add_replies(sessions, PAGE, comments("c", 60))
        fake.set_latency(0.01, 0.05)
        async with running(*senders):
            await wait_for(all_sent(sessions), timeout=20, what="60 replies sent")
    finally:
        for engine in engines:
            await engine.dispose()
        for client in clients:
            await client.aclose()
    times = message_posts(fake, PAGE)
    assert len(times) == 60
    assert_paced(times, rate=20, burst=2)  # one pace between the two
    assert 0.045 <= median_gap(times) <= 0.06


async def test_while_redis_is_down_each_account_waits_and_one_warning_tells_it(
    sessions: SessionFactory,
    redis_url: str,
    redis_prefix: str,
    fake: FakeGraph,
    graph: GraphClient,
    make_settings: MakeSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_replies(sessions, PAGE, comments("page", 4))
    await add_replies(sessions, OTHER_PAGE, ["other_1"])
    gate = Gate(redis_url)
    await gate.open()
    await gate.shut()  # Redis goes away
    client = Redis.from_url(gate.url, socket_connect_timeout=0.5)
    wall, clock = utcnow(), 0.0
    sender = ReplyDispatcher(
        sessions,
        graph,
        make_settings(),
        policy=dataclasses.replace(FAST, concurrency=1),  # one row a claim
        wall_clock=lambda: wall,
        clock=lambda: clock,
        buckets=RedisBuckets(client, RedisKeys(redis_prefix)),
    )

    async def claims() -> int:
        """Claims until nothing is due."""
        count = 0
        while await sender.drain_once():
            count += 1
        return count

    def said(level: int) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "livecart.dispatch" and r.levelno == level
        ]

    caplog.set_level(logging.INFO, logger="livecart.dispatch")
    try:
        # The first row of each account goes back and the account waits: one claim each.
        assert await claims() == 2
        outbox = await rows(sessions)
        assert all((row.status, row.attempts) == ("pending", 0) for row in outbox)
        # The two tried are given back for later, uncounted; the rest are only skipped here.
        assert len([row for row in outbox if row.available_at > wall]) == 2
        assert fake.requests == []
        wall, clock = wall + timedelta(seconds=3), clock + 3
        assert await claims() == 2  # still down: one more look per account
        assert len(said(logging.WARNING)) == 1
        assert "Redis did not answer" in said(logging.WARNING)[0]

        await gate.open()
        wall, clock = wall + timedelta(seconds=3), clock + 3
        assert await claims() == 5
        assert await statuses(sessions) == {"sent": 5}
        assert len(said(logging.WARNING)) == 1  # no more warnings once it answers
        assert said(logging.INFO)[-1] == "Redis answers for reply paces again: replies go out"
    finally:
        await client.aclose()
        await gate.shut()
    assert len(fake.messages) == 5


async def test_replies_claimed_behind_a_silent_redis_do_not_each_wait_for_it(
    sessions: SessionFactory,
    redis_url: str,
    redis_prefix: str,
    fake: FakeGraph,
    graph: GraphClient,
    make_settings: MakeSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("storage.redis_buckets.TAKE_TIMEOUT", 0.3)
    await add_replies(sessions, PAGE, comments("page", 4))
    gate = Gate(redis_url)
    await gate.open(answering=False)
    client = Redis.from_url(gate.url)
    try:
        buckets = RedisBuckets(client, RedisKeys(redis_prefix))
        sender = dispatcher(sessions, graph, make_settings(), buckets=buckets)
        assert await sender.drain_once() == 4  # one claim holds all four
    finally:
        await client.aclose()
        await gate.shut()
    # The first take waited for Redis and gave up; the three queued behind it never asked.
    assert gate.connections == 1
    assert all((row.status, row.attempts) == ("pending", 0) for row in await rows(sessions))
    assert fake.requests == []


async def test_instagram_lives_and_posts_keep_to_their_own_limits(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, IG, comments("live", 30), platform="instagram", live_comment=True)
    await add_replies(sessions, IG, comments("post", 4), platform="instagram")
    await add_replies(sessions, PAGE, comments("fb", 8))
    # 30 post replies an hour: a burst of 2, then one every two minutes or so.
    settings = make_settings(
        reply_rate_per_page=4.0, reply_rate_instagram_live=100.0, reply_limit_instagram_posts=30
    )
    sender = dispatcher(sessions, graph, settings)

    def sent(prefix: str) -> list[float]:
        return [m.received_at for m in fake.messages if m.comment_id.startswith(prefix)]

    async def lanes_done() -> bool:
        return len(sent("live")) == 30 and len(sent("post")) == 2 and len(sent("fb")) == 8

    async with running(sender):
        await wait_for(lanes_done, timeout=20, what="the live, the burst of posts, the Page")
        await asyncio.sleep(0.5)  # long enough for a third post reply, were it allowed
    live = sent("live")
    assert max(live) - min(live) < 1.0  # 30 live replies well above 4/s
    # The Facebook Page kept to 4/s: 7 gaps of 0.25 s (at 100/s they would take 0.07 s).
    assert max(sent("fb")) - min(sent("fb")) >= 1.4
    assert len(sent("post")) == 2
    waiting = [row for row in await rows(sessions) if row.status == "pending"]
    assert sorted(str(row.payload["comment_id"]) for row in waiting) == ["post_2", "post_3"]


async def test_a_reply_whose_turn_is_far_off_goes_back_to_the_outbox_before_its_lease_ends(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, IG, comments("post", 3), platform="instagram")
    policy = dataclasses.replace(FAST, lease=timedelta(seconds=1))
    sender = dispatcher(sessions, graph, make_settings(reply_limit_instagram_posts=30), policy)
    async with running(sender):
        await wait_for(lambda: _count_is(fake, 2), timeout=10, what="the burst of two post replies")
        # Two and a half leases: post_2 waits, goes back, is claimed again, and so on.
        for _ in range(5):
            await asyncio.sleep(0.5)
            # Out at most once at a time: each claim counts an attempt, each giving back
            # takes it back, and a row still out after its lease would be claimed twice.
            assert (await rows(sessions))[2].attempts <= 1
    assert [m.comment_id for m in fake.messages] == ["post_0", "post_1"]
    assert ((await rows(sessions))[2].status, (await rows(sessions))[2].attempts) == ("pending", 0)


async def _count_is(fake: FakeGraph, count: int) -> bool:
    return len(fake.messages) == count


async def test_a_throttled_page_gets_no_call_until_meta_says_and_others_go_on(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, comments("p", 20))
    await add_replies(sessions, OTHER_PAGE, comments("o", 40))
    fake.throttle(PAGE, seconds=1.0, regain_minutes=1.0 / 60)  # "regain access in 1 s"
    sender = dispatcher(sessions, graph, make_settings(reply_rate_per_page=40.0))
    async with running(sender):
        await wait_for(all_sent(sessions), timeout=20, what="all replies sent")
    throttled = [r.time for r in fake.requests_for(PAGE) if r.status == 400]
    accepted = [r.time for r in fake.requests_for(PAGE) if r.status == 200]
    assert throttled, "the page was never throttled"
    # Only the calls already in flight when the first 80001 came back hit the throttle...
    assert max(throttled) - min(throttled) < 0.3
    # ...and the next call came after Meta's regain time, so it was not throttled again.
    assert min(accepted) >= max(throttled) + 1.0 - 0.02
    assert len(accepted) == 20
    other = [m.received_at for m in fake.messages if m.page_id == OTHER_PAGE]
    assert any(min(throttled) < t < min(accepted) for t in other)  # the other page went on
    # Requeued while throttled without counting as a failed attempt.
    assert {row.attempts for row in await rows(sessions)} == {1}


async def test_a_throttle_on_a_post_reply_holds_the_accounts_other_replies_for_every_process(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, IG, ["post_1"], platform="instagram")
    await add_replies(sessions, IG, ["live_1"], platform="instagram", live_comment=True)
    # The live reply is not due yet, so this claim leaves it for whichever process comes next.
    async with sessions.begin() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.partition == f"page:{IG}")
            .values(available_at=utcnow() + timedelta(seconds=1))
        )
    fake.throttle(IG, seconds=60, regain_minutes=1.0)
    await dispatcher(sessions, graph, make_settings()).drain_once()
    held = {str(row.payload["comment_id"]): row.available_at for row in await rows(sessions)}
    # Both wait out Meta's minute, in the outbox where every process sees it.
    assert held["post_1"] >= utcnow() + timedelta(seconds=50)
    assert held["live_1"] >= utcnow() + timedelta(seconds=50)


async def test_usage_at_95_percent_holds_the_page(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    policy = dataclasses.replace(FAST, burst_seconds=0.1)  # burst: 5 at 50/s
    sender = dispatcher(sessions, graph, make_settings(reply_rate_per_page=50.0), policy)
    await add_replies(sessions, OTHER_PAGE, ["warm_up"])
    await sender.drain_once()  # connections and compiled statements ready: no first-call stall
    await add_replies(sessions, PAGE, comments("c", 30))
    fake.set_usage(page_pct=96, regain_minutes=1.2 / 60, page_id=PAGE)
    async with running(sender):
        await asyncio.sleep(1.0)
        early = message_posts(fake, PAGE)
        fake.set_usage(page_pct=10, page_id=PAGE)
        await wait_for(all_sent(sessions), timeout=20, what="replies sent once usage fell")
    # Unheld, 50/s would have sent all 30 in 0.6 s; held, only what left before the first
    # answer came back (the burst and a few more).
    assert 1 <= len(early) <= 12
    assert max(early) - min(early) < 0.3
    later = sorted(set(message_posts(fake, PAGE)) - set(early))
    assert min(later) >= max(early) + 1.2 - 0.1  # nothing until Meta's regain time


async def test_usage_at_80_percent_halves_the_rate(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, comments("p", 40))
    await add_replies(sessions, OTHER_PAGE, comments("o", 40))
    fake.set_usage(page_pct=85, page_id=PAGE)
    fake.set_usage(page_pct=20, page_id=OTHER_PAGE)
    policy = dataclasses.replace(FAST, burst_seconds=0.05)  # burst: 2 at 40/s
    sender = dispatcher(sessions, graph, make_settings(reply_rate_per_page=40.0), policy)
    async with running(sender):
        await wait_for(all_sent(sessions), timeout=20, what="all replies sent")
    slowed, normal = message_posts(fake, PAGE), message_posts(fake, OTHER_PAGE)
    # Half of 40/s once the first answer said 85% (plus the burst and one for jitter)...
    assert max_in_window(slowed[3:], 1.0) <= 20 + 2 + 1
    assert median_gap(slowed) >= 0.045
    # ...while the other page kept its full rate.
    assert median_gap(normal) <= 0.03


# --- errors ---------------------------------------------------------------------------------


async def test_a_refused_token_alerts_once_and_holds_every_reply_of_the_page(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, comments("p", 10))
    await add_replies(sessions, OTHER_PAGE, comments("o", 5))
    fake.revoke_token(PAGE)
    sender = dispatcher(sessions, graph, make_settings(reply_rate_per_page=50.0))
    async with running(sender):

        async def page_refused() -> bool:
            page = await page_row(sessions, PAGE)
            return page.token_invalid_at is not None and len(fake.messages) == 5

        await wait_for(page_refused, timeout=10, what="the token marked refused")
        calls_then = len(fake.requests_for(PAGE))
        await asyncio.sleep(1.0)  # several rechecks: the same token is still refused
        assert len(fake.requests_for(PAGE)) == calls_then
        found = {r.payload["comment_id"]: r.status for r in await rows(sessions, "reply")}
        # The reply that met the refusal waits with the others: its buyer still gets it.
        assert sorted(found.values()).count("pending") == 10
        (alert,) = await rows(sessions, "staff_alert")
        assert alert.payload["alert"] == "token_invalid"
        assert PAGE in alert.payload["text"] and TOKEN not in str(alert.payload)
        (refused,) = [r for r in await rows(sessions, "reply") if r.last_error]
        assert "190" in refused.last_error and refused.status == "pending"

        # Staff renew the token: the held replies go out, the mark is cleared.
        fake.add_page(PAGE, "renewed-token")
        async with sessions.begin() as session:
            await session.execute(
                update(Page).where(Page.page_id == PAGE).values(access_token="renewed-token")
            )

        async def renewed_sent() -> bool:
            return (await statuses(sessions)).get("sent", 0) == 15

        await wait_for(renewed_sent, timeout=10, what="held replies sent after renewal")
    assert (await page_row(sessions, PAGE)).token_invalid_at is None
    assert len(await rows(sessions, "staff_alert")) == 1


async def test_a_page_without_a_row_uses_meta_page_token_and_is_marked_when_refused(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    fake.add_page("555", "env-token")
    await add_replies(sessions, "555", comments("e", 3))
    sender = dispatcher(sessions, graph, make_settings(meta_page_token="env-token"))
    assert await sender.drain_once() == 3
    assert await statuses(sessions) == {"sent": 3}
    fake.revoke_token("555")
    await add_replies(sessions, "555", comments("f", 1))
    assert await sender.drain_once() == 1
    assert await statuses(sessions) == {"sent": 3, "pending": 1}
    assert (await page_row(sessions, "555")).token_invalid_at is not None
    # A restarted process (nothing in memory) still holds the Page: the alert remembers the
    # refused token. A new token in the environment lets the replies go again.
    await add_replies(sessions, "555", comments("g", 2))
    restarted = dispatcher(sessions, graph, make_settings(meta_page_token="env-token"))
    assert await restarted.drain_once() == 2
    assert (await statuses(sessions)).get("pending") == 3
    fake.add_page("555", "new-env-token")
    renewed = dispatcher(sessions, graph, make_settings(meta_page_token="new-env-token"))
    await wait_for(lambda: _drained(renewed, sessions, {"sent": 6}), timeout=5, what="renewal")
    assert (await page_row(sessions, "555")).token_invalid_at is None


async def _drained(sender: ReplyDispatcher, sessions: SessionFactory, want: dict[str, int]) -> bool:
    await sender.drain_once()
    return await statuses(sessions) == want


@pytest.mark.parametrize(
    ("code", "subcode", "status"),
    [
        (10903, None, "failed"),  # cannot message this person
        (551, None, "failed"),
        (10, 2018278, "failed"),  # outside the window
        (100, None, "failed"),  # bad parameter
        (10900, None, "sent"),  # already replied: done
    ],
)
async def test_terminal_answers_are_never_retried(
    sessions: SessionFactory,
    fake: FakeGraph,
    graph: GraphClient,
    make_settings: MakeSettings,
    code: int,
    subcode: int | None,
    status: str,
) -> None:
    await add_replies(sessions, PAGE, ["c_1"])
    fake.fail_next(1, code=code, subcode=subcode, page_id=PAGE)
    sender = dispatcher(sessions, graph, make_settings())
    assert await sender.drain_once() == 1
    await asyncio.sleep(0.3)  # longer than any retry backoff of FAST
    assert await sender.drain_once() == 0
    (row,) = await rows(sessions)
    assert (row.status, row.attempts) == (status, 1)
    assert len(fake.requests_for(PAGE)) == 1
    assert fake.messages == []
    assert await rows(sessions, "staff_alert") == []


@pytest.mark.parametrize(("code", "subcode"), [(200, None), (230, None), (10, None)])
async def test_a_reply_refused_for_a_permission_is_parked_and_staff_are_told(
    sessions: SessionFactory,
    fake: FakeGraph,
    graph: GraphClient,
    make_settings: MakeSettings,
    code: int,
    subcode: int | None,
) -> None:
    await add_replies(sessions, PAGE, ["c_1", "c_2"])
    fake.fail_next(2, code=code, subcode=subcode, page_id=PAGE)
    sender = dispatcher(sessions, graph, make_settings())
    assert await sender.drain_once() == 2
    assert await sender.drain_once() == 0  # never retried by itself
    assert await statuses(sessions) == {"dead": 2}
    (alert,) = await rows(sessions, "staff_alert")  # one for the Page, not one per reply
    assert alert.payload["alert"] == "reply_permission"
    assert PAGE in alert.payload["text"] and "outbox retry" in alert.payload["text"]
    # Staff fix the permission and send them again.
    async with sessions.begin() as session:
        assert await retry_dead(session, ["reply"]) == 2
    assert await sender.drain_once() == 2
    assert await statuses(sessions) == {"sent": 2}
    one_message_each(fake, ["c_1", "c_2"])


@pytest.mark.parametrize("failure", TEMPORARY_FAILURES)
async def test_temporary_errors_are_retried_then_sent(
    sessions: SessionFactory,
    fake: FakeGraph,
    graph: GraphClient,
    make_settings: MakeSettings,
    failure: dict[str, object],
) -> None:
    await add_replies(sessions, PAGE, ["c_1"])
    fake.fail_next(2, page_id=PAGE, **failure)  # type: ignore[arg-type]
    sender = dispatcher(sessions, graph, make_settings())
    async with running(sender):
        await wait_for(all_sent(sessions), timeout=10, what="the reply sent after retries")
    (row,) = await rows(sessions)
    assert row.attempts == 3 and row.last_error
    one_message_each(fake, ["c_1"])


async def test_public_replies_and_the_instagram_live_refusal(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, ["fb_1"], kind="public_reply")
    await add_replies(
        sessions, IG, ["ig_1"], platform="instagram", kind="public_reply", live_comment=True
    )
    sender = dispatcher(sessions, graph, make_settings(public_replies=True))
    assert await sender.drain_once() == 2
    found = {r.payload["comment_id"]: (r.status, r.last_error) for r in await rows(sessions)}
    assert found["fb_1"] == ("sent", None)
    assert found["ig_1"][0] == "failed" and "publicly" in (found["ig_1"][1] or "")
    assert [(p.comment_id, p.platform) for p in fake.public_replies] == [("fb_1", "facebook")]
    assert fake.requests_for(IG) == []


async def test_a_public_reply_without_an_answer_is_never_posted_twice(
    sessions: SessionFactory,
    fake: FakeGraph,
    http: aiohttp.ClientSession,
    make_settings: MakeSettings,
) -> None:
    """Meta got the request and answered too late: the reply is under the comment, so it is
    not sent again."""
    await add_replies(sessions, PAGE, ["fb_slow"], kind="public_reply")
    fake.set_latency(0.4, 0.4)
    impatient = GraphClient(
        http,
        base_url=fake.url,
        version="v25.0",
        app_secret=APP_SECRET,
        timeout=aiohttp.ClientTimeout(total=0.1),
    )
    sender = dispatcher(sessions, impatient, make_settings(public_replies=True))
    assert await sender.drain_once() == 1
    await asyncio.sleep(0.5)  # the fake finishes what it was asked
    ((status, error),) = [(r.status, r.last_error or "") for r in await rows(sessions)]
    assert status == "failed" and "may have been posted" in error
    assert [p.comment_id for p in fake.public_replies] == ["fb_slow"]
    await sender.drain_once()
    assert [p.comment_id for p in fake.public_replies] == ["fb_slow"]


async def test_a_public_reply_whose_earlier_try_has_no_outcome_is_never_sent_again(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, ["pub_1", "pub_2"], kind="public_reply")
    await add_replies(sessions, PAGE, ["priv_1"])
    # A process leased all three, posted pub_1 and sent priv_1, and stopped before writing
    # anything (pub_2 it never got to, but nothing says so).
    async with sessions.begin() as session:
        leased = await claim_due(
            session, ("reply", "public_reply"), limit=10, lease=timedelta(milliseconds=300)
        )
    assert len(leased) == 3
    await graph.public_reply("pub_1", TOKEN, "Sent you a message", platform="facebook")
    await graph.private_reply(PAGE, TOKEN, "priv_1", "Your cart")
    await asyncio.sleep(0.35)
    sender = dispatcher(sessions, graph, make_settings(public_replies=True))
    assert await sender.drain_once() == 3
    found = {r.payload["comment_id"]: (r.status, r.last_error or "") for r in await rows(sessions)}
    assert found["priv_1"] == ("sent", "")  # Meta answered 10900: the buyer has it
    for comment in ("pub_1", "pub_2"):
        status, error = found[comment]
        assert status == "failed" and "may have been posted" in error, comment
    assert [p.comment_id for p in fake.public_replies] == ["pub_1"]  # under the comment once


async def test_a_public_reply_that_never_reached_meta_is_tried_again_uncounted(
    sessions: SessionFactory,
    fake: FakeGraph,
    graph: GraphClient,
    http: aiohttp.ClientSession,
    make_settings: MakeSettings,
) -> None:
    await add_replies(sessions, PAGE, ["pub_1"], kind="public_reply")
    settings = make_settings(public_replies=True)
    # Nothing listens on port 9: the request never left this machine.
    nowhere = GraphClient(http, base_url="http://127.0.0.1:9", version="v25.0", app_secret="x")
    assert await dispatcher(sessions, nowhere, settings).drain_once() == 1
    (row,) = await rows(sessions, "public_reply")
    assert (row.status, row.attempts) == ("pending", 0) and row.last_error
    async with running(dispatcher(sessions, graph, settings)):
        await wait_for(
            all_sent(sessions, "public_reply"), timeout=10, what="the public reply posted"
        )
    assert [p.comment_id for p in fake.public_replies] == ["pub_1"]


@pytest.mark.parametrize("failure", TEMPORARY_FAILURES)
async def test_a_public_reply_meta_may_have_posted_is_never_tried_again(
    sessions: SessionFactory,
    fake: FakeGraph,
    graph: GraphClient,
    make_settings: MakeSettings,
    failure: dict[str, object],
) -> None:
    """A temporary error can come after the post was made: a public reply is not retried."""
    await add_replies(sessions, PAGE, ["pub_1"], kind="public_reply")
    fake.fail_next(1, page_id=PAGE, **failure)  # type: ignore[arg-type]
    sender = dispatcher(sessions, graph, make_settings(public_replies=True))
    assert await sender.drain_once() == 1
    (row,) = await rows(sessions, "public_reply")
    assert row.status == "failed" and "may have been posted" in (row.last_error or "")
    assert await sender.drain_once() == 0
    assert fake.public_replies == []  # the fake made none; a retry would have made one


async def test_a_public_reply_held_for_a_refused_token_goes_out_once_it_is_renewed(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, ["pub_1"], kind="public_reply")
    fake.revoke_token(PAGE)
    sender = dispatcher(sessions, graph, make_settings(public_replies=True))
    assert await sender.drain_once() == 1
    (row,) = await rows(sessions, "public_reply")
    assert (row.status, row.attempts) == ("pending", 0) and "190" in (row.last_error or "")
    fake.add_page(PAGE, "renewed-token")
    async with sessions.begin() as session:
        await session.execute(
            update(Page).where(Page.page_id == PAGE).values(access_token="renewed-token")
        )
    async with running(sender):
        await wait_for(
            all_sent(sessions, "public_reply"), timeout=10, what="the public reply posted"
        )
    assert [p.comment_id for p in fake.public_replies] == ["pub_1"]


async def test_malformed_rows_fail_and_the_rest_go_out(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, ["ok_1", "ok_2"])
    await add_replies(sessions, PAGE, ["bad_1"])
    async with sessions.begin() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.key == "reply:facebook:bad_1")
            .values(payload={"platform": "facebook", "page_id": PAGE})
        )
    sender = dispatcher(sessions, graph, make_settings())
    assert await sender.drain_once() == 3
    assert await statuses(sessions) == {"sent": 2, "failed": 1}


async def test_the_dispatcher_keeps_running_when_meta_cannot_be_reached(
    sessions: SessionFactory, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, ["c_1"])
    async with aiohttp.ClientSession() as http:
        # Nothing listens on port 9: every call fails to connect.
        nowhere = GraphClient(
            http, base_url="http://127.0.0.1:9", version="v25.0", app_secret=APP_SECRET
        )
        sender = dispatcher(sessions, nowhere, make_settings())
        async with running(sender):

            async def retried_twice() -> bool:
                (row,) = await rows(sessions)
                return row.attempts >= 2

            await wait_for(retried_twice, timeout=10, what="two attempts")
    (row,) = await rows(sessions)
    assert row.status == "pending" and "ClientConnectorError" in (row.last_error or "")
    assert TOKEN not in (row.last_error or "")


async def test_no_token_at_all_holds_the_page_without_failing_it(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_page(sessions, "777", None)
    await add_replies(sessions, "777", ["c_1"])
    sender = dispatcher(sessions, graph, make_settings())
    assert await sender.drain_once() == 1
    (row,) = await rows(sessions)
    assert (row.status, row.attempts) == ("pending", 0)
    assert fake.requests == []


async def test_stopping_gives_waiting_rows_back_at_once(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, comments("c", 40))
    sender = dispatcher(sessions, graph, make_settings(reply_rate_per_page=5.0))
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, timeout=1.0)  # not the 8 s the claimed rows would take
    found = await rows(sessions)
    sent = [row for row in found if row.status == "sent"]
    waiting = [row for row in found if row.status == "pending"]
    assert 1 <= len(sent) <= 5 and len(sent) == len(fake.messages)
    # Given back untried and due now, not left leased for a minute.
    assert all(row.attempts == 0 and row.available_at <= utcnow() for row in waiting)


async def test_a_page_throttled_again_and_again_alerts_staff_once(
    sessions: SessionFactory, fake: FakeGraph, graph: GraphClient, make_settings: MakeSettings
) -> None:
    await add_replies(sessions, PAGE, comments("t", 6))
    # Three throttles in a row, each over before the next call (2/s: calls 0.5 s apart).
    fake.fail_next(3, code=80001, page_id=PAGE, regain_minutes=0.2 / 60)
    sender = dispatcher(sessions, graph, make_settings(reply_rate_per_page=2.0))
    async with running(sender):
        await wait_for(all_sent(sessions), timeout=30, what="all replies sent")
    alerts = [row.payload for row in await rows(sessions, "staff_alert")]
    assert [alert["alert"] for alert in alerts] == ["throttle_lasting"]
    assert "3 times in a row" in str(alerts[0]["text"])
    assert len([m for m in fake.messages if m.page_id == PAGE]) == 6  # none lost
