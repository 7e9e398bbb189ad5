"""The real GraphClient against the real fake Graph API on a real port (no mocks)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.fakes.graph_api import FakeGraph
from bot.graph import GraphClient, GraphError, GraphUnavailable
from bot.graph.client import COMMENT_FIELDS
from tests.graph.support import (
    APP_SECRET,
    IG,
    IG_LIVE,
    IG_TOKEN,
    LIVE,
    OTHER_PAGE,
    OTHER_TOKEN,
    PAGE,
    TOKEN,
    VIDEO,
    add_comments,
    running_fake,
)

COMMENT = f"{VIDEO}_759878495960329"


def make_client(
    fake: FakeGraph,
    http: aiohttp.ClientSession,
    *,
    secret: str | None = APP_SECRET,
    version: str = "v25.0",
    timeout: aiohttp.ClientTimeout | None = None,
) -> GraphClient:
    if timeout is None:
        return GraphClient(http, base_url=fake.url, version=version, app_secret=secret)
    return GraphClient(
        http, base_url=fake.url + "/", version=version, app_secret=secret, timeout=timeout
    )


def add_jane(fake: FakeGraph, *, comment: str = COMMENT, age: timedelta = timedelta()) -> None:
    fake.add_comment(
        LIVE,
        comment,
        "A12 x2",
        from_id="6780462125377510",
        from_name="Jane Buyer",
        created_time=datetime.now(UTC) - age,
    )


# --- private replies ---------------------------------------------------------------------


async def test_private_reply_reaches_the_comment_author(
    fake: FakeGraph, client: GraphClient
) -> None:
    add_jane(fake)
    sent = await client.private_reply(PAGE, TOKEN, COMMENT, "Got it: A12 x2. Pay here: https://x")
    assert sent.recipient_id == fake.psid_for(PAGE, "6780462125377510")
    assert sent.message_id.startswith("m_")
    [message] = fake.messages
    assert (message.page_id, message.comment_id, message.text) == (
        PAGE,
        COMMENT,
        "Got it: A12 x2. Pay here: https://x",
    )
    assert message.message_id == sent.message_id
    assert [(r.method, r.path, r.page_id, r.status) for r in fake.requests] == [
        ("POST", f"/v25.0/{PAGE}/messages", PAGE, 200)
    ]


async def test_the_same_author_gets_the_same_recipient_id(
    fake: FakeGraph, client: GraphClient
) -> None:
    add_jane(fake, comment=f"{VIDEO}_1")
    add_jane(fake, comment=f"{VIDEO}_2")
    first = await client.private_reply(PAGE, TOKEN, f"{VIDEO}_1", "one")
    second = await client.private_reply(PAGE, TOKEN, f"{VIDEO}_2", "two")
    assert first.recipient_id == second.recipient_id
    assert first.message_id != second.message_id


async def test_a_second_private_reply_to_a_comment_is_10900(
    fake: FakeGraph, client: GraphClient
) -> None:
    add_jane(fake)
    await client.private_reply(PAGE, TOKEN, COMMENT, "first")
    with pytest.raises(GraphError) as raised:
        await client.private_reply(PAGE, TOKEN, COMMENT, "again")
    error = raised.value
    assert (error.code, error.already_replied, error.is_terminal, error.is_retryable) == (
        10900,
        True,
        True,
        False,
    )
    assert error.message == "(#10900) Activity already replied to"
    assert error.fbtrace_id
    assert [m.text for m in fake.messages] == ["first"]


async def test_unknown_comments_are_accepted_unless_strict(
    fake: FakeGraph, client: GraphClient, http: aiohttp.ClientSession
) -> None:
    sent = await client.private_reply(PAGE, TOKEN, f"{VIDEO}_404", "hello")
    assert sent.recipient_id
    async with running_fake(strict=True) as strict:
        with pytest.raises(GraphError) as raised:
            await make_client(strict, http).private_reply(PAGE, TOKEN, f"{VIDEO}_404", "hi")
    assert (raised.value.code, raised.value.subcode) == (100, 33)
    assert raised.value.is_terminal
    assert strict.messages == []


async def test_a_comment_older_than_seven_days_cannot_be_answered(
    fake: FakeGraph, client: GraphClient
) -> None:
    add_jane(fake, age=timedelta(days=8))
    with pytest.raises(GraphError) as raised:
        await client.private_reply(PAGE, TOKEN, COMMENT, "too late")
    error = raised.value
    assert (error.code, error.subcode) == (10, 2018278)
    assert error.cannot_message
    assert not error.is_permission
    assert error.is_terminal


async def test_instagram_private_reply_on_the_account_and_only_while_live(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_comment(IG_LIVE, "17865799348089039", "A12 +1", "1234536447", "buyer1")
    fake.add_comment(IG_LIVE, "17865799348089040", "A3", "1234536448", "buyer2")
    sent = await client.private_reply(IG, IG_TOKEN, "17865799348089039", "Thanks!")
    assert sent.recipient_id == fake.psid_for(IG, "1234536447")
    assert fake.requests[-1].path == f"/v25.0/{IG}/messages"
    fake.set_status(IG_LIVE, "live_stopped")
    with pytest.raises(GraphError) as raised:
        await client.private_reply(IG, IG_TOKEN, "17865799348089040", "Thanks!")
    assert (raised.value.code, raised.value.subcode) == (10, 2534022)
    assert raised.value.cannot_message


async def test_another_pages_token_is_a_permission_error(
    fake: FakeGraph, client: GraphClient
) -> None:
    with pytest.raises(GraphError) as raised:
        await client.private_reply(PAGE, OTHER_TOKEN, COMMENT, "hi")
    assert raised.value.code == 200
    assert raised.value.is_permission
    assert raised.value.is_terminal


# --- public replies ----------------------------------------------------------------------


async def test_public_reply_on_facebook(fake: FakeGraph, client: GraphClient) -> None:
    add_jane(fake)
    reply = await client.public_reply(COMMENT, TOKEN, "Sent you a message!", platform="facebook")
    assert reply.id.startswith(f"{VIDEO}_")
    [recorded] = fake.public_replies
    assert (recorded.comment_id, recorded.text, recorded.platform, recorded.reply_id) == (
        COMMENT,
        "Sent you a message!",
        "facebook",
        reply.id,
    )
    assert fake.requests[-1].path == f"/v25.0/{COMMENT}/comments"


async def test_public_reply_on_instagram(fake: FakeGraph, client: GraphClient) -> None:
    reply = await client.public_reply("17865799348089039", IG_TOKEN, "Hi", platform="instagram")
    assert reply.id.isdigit()
    assert fake.public_replies[0].platform == "instagram"
    assert fake.requests[-1].path == "/v25.0/17865799348089039/replies"


# --- live comments and videos ------------------------------------------------------------


async def test_paging_through_250_comments_newest_first(
    fake: FakeGraph, client: GraphClient
) -> None:
    ids = add_comments(fake, 250)
    pages = []
    cursor = None
    while True:
        page = await client.live_comments(LIVE, TOKEN, after=cursor, limit=100)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [len(page.comments) for page in pages] == [100, 100, 50]
    got = [comment for page in pages for comment in page.comments]
    assert [comment.id for comment in got] == ids[::-1]
    times = [comment.created_time for comment in got]
    assert times == sorted(times, reverse=True)
    assert all(t.tzinfo is not None for t in times)
    newest = got[0]
    assert (newest.message, newest.from_id, newest.from_name) == (
        "A7+1",
        "6780462125000249",
        "Buyer 249",
    )


async def test_live_comments_asks_for_every_comment_and_the_documented_fields(
    fake: FakeGraph, client: GraphClient, http: aiohttp.ClientSession
) -> None:
    add_comments(fake, 250)
    page = await client.live_comments(LIVE, TOKEN, limit=250)
    assert len(page.comments) == 250
    assert page.next_cursor is None
    # The same call with Meta's default filter loses comments: the client must not rely on it.
    params = {
        "access_token": TOKEN,
        "appsecret_proof": _proof(TOKEN),
        "fields": COMMENT_FIELDS,
        "limit": "250",
    }
    async with http.get(f"{fake.url}/v25.0/{LIVE}/comments", params=params) as response:
        filtered = (await response.json())["data"]
    assert 0 < len(filtered) < 250


async def test_replies_carry_their_parent(fake: FakeGraph, client: GraphClient) -> None:
    add_jane(fake)
    fake.add_comment(LIVE, f"{VIDEO}_2", "me too", "99", "Mei", parent_id=COMMENT)
    page = await client.live_comments(LIVE, TOKEN)
    parents = {comment.id: comment.parent_id for comment in page.comments}
    assert parents == {COMMENT: None, f"{VIDEO}_2": COMMENT}


async def test_live_video_links_the_live_to_its_video(fake: FakeGraph, client: GraphClient) -> None:
    live = await client.live_video(LIVE, TOKEN)
    assert (live.id, live.video_id, live.status) == (LIVE, VIDEO, "LIVE")
    fake.set_status(LIVE, "vod")
    assert (await client.live_video(LIVE, TOKEN)).status == "VOD"


async def test_an_unknown_live_video_is_100(client: GraphClient) -> None:
    with pytest.raises(GraphError) as raised:
        await client.live_video("999", TOKEN)
    assert (raised.value.code, raised.value.subcode, raised.value.error_type) == (
        100,
        33,
        "GraphMethodException",
    )


async def test_live_videos_lists_the_pages_lives_by_status(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.add_live_video("555", PAGE, "556", status="VOD")
    live = await client.live_videos(PAGE, TOKEN)
    assert [(v.id, v.video_id, v.status) for v in live] == [(LIVE, VIDEO, "LIVE")]
    both = await client.live_videos(PAGE, TOKEN, broadcast_status=("LIVE", "VOD"))
    assert {v.id for v in both} == {LIVE, "555"}


async def test_subscribe_app_installs_the_app(fake: FakeGraph, client: GraphClient) -> None:
    assert await client.subscribe_app(PAGE, TOKEN, ["feed", "live_videos", "messages"])
    assert await client.subscribe_app(IG, IG_TOKEN, ["comments", "live_comments", "messages"])
    assert fake.subscriptions == {
        PAGE: ("feed", "live_videos", "messages"),
        IG: ("comments", "live_comments", "messages"),
    }


# --- appsecret_proof and tokens ----------------------------------------------------------


async def test_a_wrong_app_secret_is_refused_with_code_100(
    fake: FakeGraph, http: aiohttp.ClientSession
) -> None:
    client = make_client(fake, http, secret="not-the-secret")
    with pytest.raises(GraphError) as raised:
        await client.live_video(LIVE, TOKEN)
    error = raised.value
    assert (error.code, error.http_status, error.error_type) == (100, 400, "GraphMethodException")
    assert error.message == "Invalid appsecret_proof provided in the API argument"
    assert error.is_terminal


async def test_a_missing_proof_is_refused_when_the_app_requires_it(
    fake: FakeGraph, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(GraphError) as raised:
        await make_client(fake, http, secret=None).private_reply(PAGE, TOKEN, COMMENT, "x")
    assert raised.value.code == 100
    assert "appsecret_proof" in raised.value.message
    assert fake.messages == []


async def test_the_proof_is_sent_with_every_call(fake: FakeGraph, client: GraphClient) -> None:
    add_jane(fake)
    await client.private_reply(PAGE, TOKEN, COMMENT, "x")
    await client.public_reply(COMMENT, TOKEN, "x", platform="facebook")
    await client.live_comments(LIVE, TOKEN)
    await client.live_video(LIVE, TOKEN)
    await client.live_videos(PAGE, TOKEN)
    await client.subscribe_app(PAGE, TOKEN, ["feed"])
    assert [r.status for r in fake.requests] == [200] * 6


async def test_an_unknown_token_is_190(client: GraphClient) -> None:
    with pytest.raises(GraphError) as raised:
        await client.live_comments(LIVE, "made-up-token")
    assert raised.value.code == 190
    assert raised.value.error_type == "OAuthException"
    assert raised.value.is_token_invalid
    assert raised.value.is_terminal


async def test_a_revoked_token_is_190(fake: FakeGraph, client: GraphClient) -> None:
    fake.revoke_token(PAGE)
    with pytest.raises(GraphError) as raised:
        await client.private_reply(PAGE, TOKEN, COMMENT, "x")
    assert (raised.value.code, raised.value.subcode) == (190, 460)
    assert raised.value.is_token_invalid
    assert fake.requests[-1].page_id == PAGE


async def test_the_version_may_be_given_without_its_v(
    fake: FakeGraph, http: aiohttp.ClientSession
) -> None:
    client = make_client(fake, http, version="26.0")
    await client.live_video(LIVE, TOKEN)
    assert fake.requests[-1].path == f"/v26.0/{LIVE}"


# --- errors, throttles, usage -----------------------------------------------------------


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001, 80002, 80006])
async def test_throttle_codes(fake: FakeGraph, client: GraphClient, code: int) -> None:
    fake.fail_next(1, code=code, regain_minutes=2, is_transient=True)
    with pytest.raises(GraphError) as raised:
        await client.live_comments(LIVE, TOKEN)
    error = raised.value
    assert error.code == code
    assert (error.is_throttle, error.is_terminal, error.is_retryable) == (True, False, False)
    assert error.retry_after == 120.0
    assert error.usage.business_percent(PAGE) == 100
    await client.live_comments(LIVE, TOKEN)  # one scripted failure only


async def test_permission_error_10_and_window_error_10_2018278(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.fail_next(1, code=10)
    fake.fail_next(1, code=10, subcode=2018278)
    with pytest.raises(GraphError) as first:
        await client.private_reply(PAGE, TOKEN, COMMENT, "x")
    with pytest.raises(GraphError) as second:
        await client.private_reply(PAGE, TOKEN, COMMENT, "x")
    assert (first.value.is_permission, first.value.cannot_message) == (True, False)
    assert (second.value.is_permission, second.value.cannot_message) == (False, True)
    assert first.value.is_terminal and second.value.is_terminal
    assert fake.messages == []


async def test_transient_code_2_is_retryable_and_the_retry_succeeds(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.fail_next(1, code=2, is_transient=True, http_status=500)
    with pytest.raises(GraphError) as raised:
        await client.private_reply(PAGE, TOKEN, COMMENT, "x")
    assert raised.value.is_retryable
    assert raised.value.is_transient
    assert raised.value.http_status == 500
    await client.private_reply(PAGE, TOKEN, COMMENT, "x")
    assert len(fake.messages) == 1


async def test_a_5xx_without_a_graph_body_is_retryable(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.fail_next(1, code=0, http_status=502, raw_body="<html>502 Bad Gateway</html>")
    with pytest.raises(GraphError) as raised:
        await client.live_video(LIVE, TOKEN)
    assert (raised.value.code, raised.value.http_status) == (0, 502)
    assert raised.value.is_retryable
    assert not raised.value.is_terminal


async def test_scripted_failures_for_one_page_leave_others_alone(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.fail_next(2, code=1, page_id=OTHER_PAGE)
    await client.live_video(LIVE, TOKEN)
    for _ in range(2):
        with pytest.raises(GraphError):
            await client.live_videos(OTHER_PAGE, OTHER_TOKEN)
    await client.live_videos(OTHER_PAGE, OTHER_TOKEN)


async def test_a_throttled_page_answers_80001_until_it_waits(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.throttle(PAGE, 0.3, regain_minutes=0.005)
    with pytest.raises(GraphError) as raised:
        await client.live_comments(LIVE, TOKEN)
    error = raised.value
    assert (error.code, error.is_throttle) == (80001, True)
    assert error.retry_after == pytest.approx(0.3)
    assert error.usage.business_percent(PAGE) == 100
    time_left = fake.throttled_until(PAGE)
    assert time_left is not None
    await _sleep_until(time_left)
    page = await client.live_comments(LIVE, TOKEN)
    assert page.comments == ()


async def test_calls_while_throttled_extend_the_throttle(
    fake: FakeGraph, client: GraphClient
) -> None:
    fake.throttle(PAGE, 0.6)
    first_end = fake.throttled_until(PAGE)
    assert first_end is not None
    await _sleep_until(time.monotonic() + 0.3)
    with pytest.raises(GraphError) as raised:
        await client.live_comments(LIVE, TOKEN)
    assert raised.value.retry_after == 60.0  # Meta speaks in whole minutes
    extended = fake.throttled_until(PAGE)
    assert extended is not None and extended > first_end + 0.25
    await _sleep_until(first_end + 0.05)
    with pytest.raises(GraphError):
        await client.live_comments(LIVE, TOKEN)  # would have passed without the extra call


async def test_instagram_throttles_are_80002(fake: FakeGraph, client: GraphClient) -> None:
    fake.throttle(IG, 5)
    with pytest.raises(GraphError) as raised:
        await client.private_reply(IG, IG_TOKEN, "178", "x")
    assert raised.value.code == 80002
    assert raised.value.is_throttle
    await client.live_video(LIVE, TOKEN)  # other pages are not throttled


async def test_usage_headers_come_back_with_every_result(
    fake: FakeGraph, client: GraphClient
) -> None:
    add_jane(fake)
    fake.set_usage(app_pct=42, page_pct=85, regain_minutes=0)
    sent = await client.private_reply(PAGE, TOKEN, COMMENT, "x")
    assert sent.usage.app_percent == 42
    assert sent.usage.business_percent(PAGE) == 85
    assert sent.usage.business[0].type == "messenger"
    assert sent.usage.regain_after == 0
    page = await client.live_comments(LIVE, TOKEN)
    assert page.usage.business[0].type == "pages"
    assert page.usage.percent == 85
    live = await client.live_video(IG_LIVE, IG_TOKEN)
    assert live.usage.business[0].type == "instagram"
    reply = await client.public_reply(COMMENT, TOKEN, "x", platform="facebook")
    assert reply.usage.app_percent == 42


async def test_no_usage_headers_read_as_unknown(client: GraphClient) -> None:
    live = await client.live_video(LIVE, TOKEN)
    assert live.usage.percent is None
    assert live.usage.regain_after is None


# --- the network ------------------------------------------------------------------------


async def test_a_closed_port_is_graph_unavailable(http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = GraphClient(
        http, base_url=f"http://127.0.0.1:{port}", version="v25.0", app_secret=APP_SECRET
    )
    with pytest.raises(GraphUnavailable) as raised:
        await client.private_reply(PAGE, TOKEN, COMMENT, "x")
    assert raised.value.is_retryable
    assert not raised.value.timed_out
    assert not raised.value.reached  # never sent: nothing can have been carried out
    assert TOKEN not in str(raised.value)


async def test_a_slow_answer_times_out_as_graph_unavailable(
    fake: FakeGraph, http: aiohttp.ClientSession
) -> None:
    fake.set_latency(0.5, 0.5)
    client = make_client(fake, http, timeout=aiohttp.ClientTimeout(total=0.1))
    started = time.monotonic()
    with pytest.raises(GraphUnavailable) as raised:
        await client.live_video(LIVE, TOKEN)
    assert time.monotonic() - started < 0.45
    assert raised.value.timed_out
    assert raised.value.reached
    assert raised.value.is_retryable
    assert TOKEN not in str(raised.value)


async def test_latency_injection_delays_each_call(fake: FakeGraph, client: GraphClient) -> None:
    fake.set_latency(0.15, 0.25)
    started = time.monotonic()
    await client.live_video(LIVE, TOKEN)
    assert 0.15 <= time.monotonic() - started < 1.0


def _proof(token: str) -> str:
    return hmac.new(APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


async def _sleep_until(deadline: float) -> None:
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
