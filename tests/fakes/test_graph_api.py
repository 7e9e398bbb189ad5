"""The fake Graph API's wire format, checked with a plain HTTP client: the shapes of
platforms.md §2 exactly, the controls tests and the demo rely on, and what it records."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
import pytest

from bot.fakes.graph_api import FakeGraph
from tests.graph.support import (
    APP_SECRET,
    IG,
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

# Bodies as the tests read them: arbitrary JSON, checked by the assertions themselves.
Json = dict[str, Any]


def proof(token: str, secret: str = APP_SECRET) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"access_token": token, "appsecret_proof": proof(token)}


class Wire:
    """Raw HTTP to the fake: status, headers and decoded JSON body."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Json | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Json]:
        async with self.http.request(
            method, f"{self.base}{path}", params=params, json=json, data=data, headers=headers
        ) as response:
            raw = await response.read()
            body = orjson.loads(raw) if response.content_type == "application/json" else {}
            return response.status, dict(response.headers), body

    async def get(self, path: str, **params: str) -> tuple[int, dict[str, str], Json]:
        return await self.call("GET", path, params={**auth(), **params})


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraph]:
    async with running_fake() as graph:
        yield graph


@pytest.fixture
async def wire(fake: FakeGraph) -> AsyncIterator[Wire]:
    async with aiohttp.ClientSession() as http:
        yield Wire(http, fake.url)


def error_of(body: Json) -> Json:
    error = body["error"]
    assert isinstance(error, dict)
    return error


# --- running ------------------------------------------------------------------------------


async def test_running_serves_on_a_free_port_and_stops() -> None:
    async with FakeGraph.running(port=0) as fake:
        url = fake.url
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith(":0")
        async with aiohttp.ClientSession() as http, http.get(f"{url}/v25.0/me") as response:
            assert response.status == 400
    with pytest.raises(RuntimeError):
        _ = fake.url
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(f"{url}/v25.0/me"):
                pass


# --- the error envelope ----------------------------------------------------------------------


async def test_error_envelope_has_exactly_metas_keys(wire: Wire) -> None:
    status, headers, body = await wire.call(
        "GET", f"/v25.0/{LIVE}", params={"access_token": "nope", "appsecret_proof": proof("nope")}
    )
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    error = error_of(body)
    assert set(body) == {"error"}
    assert set(error) == {"message", "type", "code", "fbtrace_id"}
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]


async def test_scripted_errors_carry_subcode_and_is_transient(fake: FakeGraph, wire: Wire) -> None:
    fake.fail_next(1, code=10, subcode=2018278)
    status, _, body = await wire.get(f"/v25.0/{LIVE}")
    error = error_of(body)
    assert status == 400
    assert set(error) == {"message", "type", "code", "error_subcode", "fbtrace_id", "is_transient"}
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (10, 2018278, False)


async def test_a_wrong_or_missing_proof_is_100(wire: Wire) -> None:
    status, _, body = await wire.call(
        "GET",
        f"/v25.0/{LIVE}",
        params={"access_token": TOKEN, "appsecret_proof": proof(TOKEN, "wrong")},
    )
    assert status == 400
    assert error_of(body) | {"fbtrace_id": ""} == {
        "message": "Invalid appsecret_proof provided in the API argument",
        "type": "GraphMethodException",
        "code": 100,
        "fbtrace_id": "",
    }
    status, _, body = await wire.call("GET", f"/v25.0/{LIVE}", params={"access_token": TOKEN})
    assert (status, error_of(body)["code"]) == (400, 100)


async def test_no_app_secret_means_no_proof_needed() -> None:
    async with FakeGraph.running() as fake, aiohttp.ClientSession() as http:
        fake.add_page(PAGE, TOKEN)
        status, _, _ = await Wire(http, fake.url).call(
            "POST",
            f"/v25.0/{PAGE}/subscribed_apps",
            params={"access_token": TOKEN, "subscribed_fields": "feed"},
        )
    assert status == 200


async def test_a_missing_token_is_refused(wire: Wire) -> None:
    status, _, body = await wire.call("GET", f"/v25.0/{LIVE}")
    assert (status, error_of(body)["type"]) == (400, "OAuthException")


async def test_the_token_may_come_as_a_bearer_header(wire: Wire) -> None:
    status, _, _ = await wire.call(
        "GET",
        f"/v25.0/{LIVE}",
        params={"appsecret_proof": proof(TOKEN)},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert status == 200


@pytest.mark.parametrize("version", ["v19.0", "v25.0", "v26.0", "v100.1"])
async def test_any_version_prefix(wire: Wire, version: str) -> None:
    status, headers, body = await wire.get(f"/{version}/{LIVE}", fields="status")
    assert status == 200
    assert body == {"id": LIVE, "status": "LIVE"}
    assert headers["facebook-api-version"] == version


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", f"/{LIVE}"), ("GET", f"/v25.0/{LIVE}/nothing"), ("DELETE", f"/v25.0/{PAGE}/messages")],
)
async def test_unknown_paths_answer_the_json_envelope(wire: Wire, method: str, path: str) -> None:
    status, _, body = await wire.call(method, path, params=auth())
    assert status == 400
    assert error_of(body)["code"] == 100


# --- private replies ---------------------------------------------------------------------


async def test_private_reply_as_json(fake: FakeGraph, wire: Wire) -> None:
    status, _, body = await wire.call(
        "POST",
        f"/v25.0/{PAGE}/messages",
        params=auth(),
        json={"recipient": {"comment_id": f"{VIDEO}_1"}, "message": {"text": "hello"}},
    )
    assert status == 200
    assert set(body) == {"recipient_id", "message_id"}
    assert body["recipient_id"] == fake.psid_for(PAGE, f"comment:{VIDEO}_1")
    assert str(body["message_id"]).startswith("m_")
    [message] = fake.messages
    assert (message.page_id, message.comment_id, message.text) == (PAGE, f"{VIDEO}_1", "hello")


async def test_private_reply_as_form_fields_with_the_token_in_the_body(
    fake: FakeGraph, wire: Wire
) -> None:
    form = {
        **auth(),
        "recipient": '{"comment_id": "c1"}',
        "message": '{"text": "from a form"}',
    }
    status, _, body = await wire.call("POST", f"/v25.0/{PAGE}/messages", data=form)
    assert status == 200, body
    assert fake.messages[0].text == "from a form"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"message": {"text": "x"}}, "recipient"),
        ({"recipient": {"comment_id": "c1"}}, "message"),
        ({"recipient": {"comment_id": "c1"}, "message": {"text": "x" * 2001}}, "2000"),
    ],
)
async def test_private_reply_needs_recipient_and_short_text(
    fake: FakeGraph, wire: Wire, payload: Json, fragment: str
) -> None:
    status, _, body = await wire.call(
        "POST", f"/v25.0/{PAGE}/messages", params=auth(), json=payload
    )
    error = error_of(body)
    assert (status, error["code"]) == (400, 100)
    assert fragment in str(error["message"])
    assert fake.messages == []


async def test_second_private_reply_is_10900(fake: FakeGraph, wire: Wire) -> None:
    payload = {"recipient": {"comment_id": "c1"}, "message": {"text": "x"}}
    await wire.call("POST", f"/v25.0/{PAGE}/messages", params=auth(), json=payload)
    status, _, body = await wire.call(
        "POST", f"/v25.0/{PAGE}/messages", params=auth(), json=payload
    )
    assert status == 400
    assert error_of(body)["code"] == 10900
    assert error_of(body)["message"] == "(#10900) Activity already replied to"
    assert len(fake.messages) == 1


async def test_messages_record_arrival_times_in_order(fake: FakeGraph, wire: Wire) -> None:
    before = time.monotonic()
    for n in range(3):
        payload = {"recipient": {"comment_id": f"c{n}"}, "message": {"text": str(n)}}
        await wire.call("POST", f"/v25.0/{PAGE}/messages", params=auth(), json=payload)
    times = [message.received_at for message in fake.messages]
    assert times == sorted(times)
    assert before <= times[0] <= times[-1] <= time.monotonic()


# --- public replies ----------------------------------------------------------------------


async def test_facebook_public_reply_takes_a_message_form_field(
    fake: FakeGraph, wire: Wire
) -> None:
    status, _, body = await wire.call(
        "POST", f"/v25.0/{VIDEO}_1/comments", params=auth(), data={"message": "Check your inbox"}
    )
    assert status == 200
    assert set(body) == {"id"}
    assert fake.public_replies[0].text == "Check your inbox"
    assert fake.public_replies[0].platform == "facebook"


async def test_instagram_public_reply_uses_replies(fake: FakeGraph, wire: Wire) -> None:
    status, _, body = await wire.call(
        "POST", "/v25.0/17865799348089039/replies", params={**auth(IG_TOKEN), "message": "Hi"}
    )
    assert status == 200
    assert set(body) == {"id"}
    assert fake.public_replies[0].platform == "instagram"


async def test_public_reply_without_message_is_100(wire: Wire) -> None:
    status, _, body = await wire.call("POST", f"/v25.0/{VIDEO}_1/comments", params=auth())
    assert (status, error_of(body)["code"]) == (400, 100)


# --- live comments -------------------------------------------------------------------------


async def test_comments_paging_shape(fake: FakeGraph, wire: Wire) -> None:
    ids = add_comments(fake, 5)
    status, _, body = await wire.get(
        f"/v25.0/{LIVE}/comments",
        order="reverse_chronological",
        live_filter="no_filter",
        fields="id,message,from{id,name},created_time,parent",
        limit="2",
    )
    assert status == 200
    data = body["data"]
    assert isinstance(data, list)
    assert [item["id"] for item in data] == [ids[4], ids[3]]
    assert data[0] == {
        "id": ids[4],
        "message": "A5+2",
        "from": {"id": "6780462125000004", "name": "Buyer 4"},
        "created_time": data[0]["created_time"],
    }
    assert str(data[0]["created_time"]).endswith("+0000")
    paging = body["paging"]
    assert isinstance(paging, dict)
    assert set(paging) == {"cursors", "next"}
    assert set(paging["cursors"]) == {"before", "after"}
    next_query = parse_qs(urlsplit(paging["next"]).query)
    assert next_query["after"] == [paging["cursors"]["after"]]
    assert next_query["access_token"] == [TOKEN]


async def test_following_next_urls_reaches_every_comment_once(fake: FakeGraph, wire: Wire) -> None:
    ids = add_comments(fake, 250)
    seen: list[str] = []
    _, _, body = await wire.get(
        f"/v25.0/{LIVE}/comments",
        order="reverse_chronological",
        live_filter="no_filter",
        limit="100",
    )
    while True:
        seen += [item["id"] for item in body["data"]]
        paging = body["paging"]
        assert isinstance(paging, dict)
        if "next" not in paging:
            assert "after" in paging["cursors"]  # Meta keeps the cursor on the last page
            break
        async with wire.http.get(paging["next"]) as response:
            body = await response.json()
    assert seen == ids[::-1]


async def test_default_order_is_chronological_and_default_limit_25(
    fake: FakeGraph, wire: Wire
) -> None:
    ids = add_comments(fake, 30)
    _, _, body = await wire.get(f"/v25.0/{LIVE}/comments", live_filter="no_filter")
    assert [item["id"] for item in body["data"]] == ids[:25]


async def test_the_low_quality_filter_drops_a_fixed_share(fake: FakeGraph, wire: Wire) -> None:
    add_comments(fake, 250)
    _, _, unfiltered = await wire.get(
        f"/v25.0/{LIVE}/comments", live_filter="no_filter", limit="500"
    )
    _, _, default = await wire.get(f"/v25.0/{LIVE}/comments", limit="500")
    _, _, again = await wire.get(
        f"/v25.0/{LIVE}/comments", live_filter="filter_low_quality", limit="500"
    )
    assert len(unfiltered["data"]) == 250
    kept = [item["id"] for item in default["data"]]
    assert 250 * 0.5 < len(kept) < 250 * 0.9
    assert kept == [item["id"] for item in again["data"]]


async def test_fields_choose_what_comes_back(fake: FakeGraph, wire: Wire) -> None:
    add_comments(fake, 1)
    _, _, body = await wire.get(
        f"/v25.0/{LIVE}/comments", live_filter="no_filter", fields="message"
    )
    assert set(body["data"][0]) == {"id", "message"}


async def test_an_empty_live_has_no_paging(wire: Wire) -> None:
    _, _, body = await wire.get(f"/v25.0/{LIVE}/comments")
    assert body == {"data": []}


async def test_a_bad_cursor_or_limit_is_100(fake: FakeGraph, wire: Wire) -> None:
    add_comments(fake, 3)
    for params in ({"after": "bm9wZQ"}, {"limit": "-1"}, {"limit": "lots"}):
        status, _, body = await wire.get(f"/v25.0/{LIVE}/comments", **params)
        assert (status, error_of(body)["code"]) == (400, 100)


async def test_another_pages_live_is_not_found(wire: Wire) -> None:
    status, _, body = await wire.call("GET", f"/v25.0/{LIVE}/comments", params=auth(OTHER_TOKEN))
    assert (status, error_of(body)["code"], error_of(body)["error_subcode"]) == (400, 100, 33)


# --- live videos and installing ----------------------------------------------------------


async def test_live_video_shape(fake: FakeGraph, wire: Wire) -> None:
    _, _, body = await wire.get(f"/v25.0/{LIVE}", fields="video,status")
    assert body == {"id": LIVE, "video": {"id": VIDEO}, "status": "LIVE"}
    fake.set_status(LIVE, "live_stopped")
    _, _, body = await wire.get(f"/v25.0/{LIVE}", fields="status")
    assert body["status"] == "LIVE_STOPPED"


async def test_live_videos_filters_by_broadcast_status(fake: FakeGraph, wire: Wire) -> None:
    fake.add_live_video("555", PAGE, "556", status="VOD", title="Yesterday")
    _, _, body = await wire.get(
        f"/v25.0/{PAGE}/live_videos",
        broadcast_status='["LIVE"]',
        fields="id,status,title,video,permalink_url",
    )
    assert body["data"] == [
        {
            "id": LIVE,
            "status": "LIVE",
            "title": "Friday drop",
            "video": {"id": VIDEO},
            "permalink_url": f"/{PAGE}/videos/{VIDEO}/",
        }
    ]
    _, _, body = await wire.get(f"/v25.0/{PAGE}/live_videos")
    assert [item["id"] for item in body["data"]] == [LIVE, "555"]


async def test_subscribed_apps(fake: FakeGraph, wire: Wire) -> None:
    status, _, body = await wire.call(
        "POST",
        f"/v25.0/{IG}/subscribed_apps",
        params={**auth(IG_TOKEN), "subscribed_fields": "comments,live_comments,messages"},
    )
    assert (status, body) == (200, {"success": True})
    assert fake.subscriptions[IG] == ("comments", "live_comments", "messages")
    status, _, body = await wire.call("POST", f"/v25.0/{PAGE}/subscribed_apps", params=auth())
    assert (status, error_of(body)["code"]) == (400, 100)


async def test_a_token_works_only_on_its_own_pages_edges(wire: Wire) -> None:
    status, _, body = await wire.call(
        "POST",
        f"/v25.0/{OTHER_PAGE}/subscribed_apps",
        params={**auth(), "subscribed_fields": "feed"},
    )
    assert (status, error_of(body)["code"]) == (400, 200)


# --- usage, throttles, scripted failures -------------------------------------------------


async def test_usage_headers_exact_shape(fake: FakeGraph, wire: Wire) -> None:
    fake.set_usage(app_pct=28, page_pct=97, regain_minutes=0)
    _, headers, _ = await wire.get(f"/v25.0/{LIVE}")
    assert orjson.loads(headers["X-App-Usage"]) == {
        "call_count": 28,
        "total_cputime": 28,
        "total_time": 28,
    }
    assert orjson.loads(headers["X-Business-Use-Case-Usage"]) == {
        PAGE: [
            {
                "type": "pages",
                "call_count": 97,
                "total_cputime": 97,
                "total_time": 97,
                "estimated_time_to_regain_access": 0,
            }
        ]
    }


async def test_usage_for_one_page_only(fake: FakeGraph, wire: Wire) -> None:
    fake.set_usage(page_pct=90, page_id=OTHER_PAGE)
    _, headers, _ = await wire.get(f"/v25.0/{LIVE}")
    assert "X-Business-Use-Case-Usage" not in headers
    assert "X-App-Usage" not in headers
    _, headers, _ = await wire.call(
        "GET", f"/v25.0/{OTHER_PAGE}/live_videos", params=auth(OTHER_TOKEN)
    )
    assert OTHER_PAGE in orjson.loads(headers["X-Business-Use-Case-Usage"])


async def test_a_throttle_answers_full_usage_and_whole_minutes(fake: FakeGraph, wire: Wire) -> None:
    fake.throttle(PAGE, 90)
    status, headers, body = await wire.get(f"/v25.0/{LIVE}")
    assert (status, error_of(body)["code"]) == (400, 80001)
    [entry] = orjson.loads(headers["X-Business-Use-Case-Usage"])[PAGE]
    assert entry["call_count"] == 100
    assert entry["estimated_time_to_regain_access"] == 2  # 90 s, rounded up to minutes


async def test_throttle_extends_on_each_call_and_records_every_call(
    fake: FakeGraph, wire: Wire
) -> None:
    fake.throttle(PAGE, 0.3)
    start_end = fake.throttled_until(PAGE)
    assert start_end is not None
    await asyncio.sleep(0.15)
    await wire.get(f"/v25.0/{LIVE}")
    extended = fake.throttled_until(PAGE)
    assert extended is not None and extended > start_end + 0.1
    await asyncio.sleep(max(0.0, extended - time.monotonic()) + 0.02)
    assert fake.throttled_until(PAGE) is None
    status, _, _ = await wire.get(f"/v25.0/{LIVE}")
    assert status == 200
    assert [(r.page_id, r.status) for r in fake.requests_for(PAGE)] == [(PAGE, 400), (PAGE, 200)]
    # Requests let a test check that nothing was sent while the page was throttled.
    during = [r for r in fake.requests_for(PAGE) if start_end - 0.3 <= r.time < extended]
    assert len(during) == 1


async def test_throttle_code_can_be_chosen(fake: FakeGraph, wire: Wire) -> None:
    fake.throttle(PAGE, 5, code=613)
    _, _, body = await wire.get(f"/v25.0/{LIVE}")
    assert error_of(body)["code"] == 613


async def test_revoked_token_is_190(fake: FakeGraph, wire: Wire) -> None:
    fake.revoke_token(PAGE)
    status, _, body = await wire.get(f"/v25.0/{LIVE}")
    assert (status, error_of(body)["code"], error_of(body)["error_subcode"]) == (400, 190, 460)
    fake.add_page(PAGE, "fresh-token")
    status, _, _ = await wire.call("GET", f"/v25.0/{LIVE}", params=auth("fresh-token"))
    assert status == 200


async def test_fail_next_is_first_in_first_out(fake: FakeGraph, wire: Wire) -> None:
    fake.fail_next(1, code=2, is_transient=True, http_status=500)
    fake.fail_next(2, code=4)
    codes = []
    for _ in range(4):
        status, _, body = await wire.get(f"/v25.0/{LIVE}")
        codes.append((status, error_of(body)["code"] if status != 200 else None))
    assert codes == [(500, 2), (400, 4), (400, 4), (200, None)]


async def test_fail_next_raw_body(fake: FakeGraph, wire: Wire) -> None:
    fake.fail_next(1, code=0, http_status=502, raw_body="<html>Bad Gateway</html>")
    async with wire.http.get(f"{wire.base}/v25.0/{LIVE}", params=auth()) as response:
        assert response.status == 502
        assert await response.text() == "<html>Bad Gateway</html>"


async def test_latency_is_injected_without_blocking_the_loop(fake: FakeGraph, wire: Wire) -> None:
    fake.set_latency(0.2, 0.2)
    started = time.monotonic()
    results = await asyncio.gather(*(wire.get(f"/v25.0/{LIVE}") for _ in range(5)))
    elapsed = time.monotonic() - started
    assert [status for status, _, _ in results] == [200] * 5
    assert 0.2 <= elapsed < 0.8  # five waits of 0.2 s overlap (in turn they would take 1 s)


def test_latency_range_is_checked() -> None:
    with pytest.raises(ValueError):
        FakeGraph().set_latency(0.5, 0.1)
