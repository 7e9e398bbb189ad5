"""The Meta webhook routes on the real aiohttp app, with both queue backends and databases."""

from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.fakes.meta_webhooks import (
    envelope,
    facebook_comment,
    instagram_comment,
    signed_body,
)
from bot.runtime import Runtime
from storage.models import Comment
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.pipeline import drain
from webhooks.app import build_app
from webhooks.meta import MAX_BODY

PAGE, VIDEO = "370873143344730", "690891113073877"


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient[object, object]]:
    async with TestClient(TestServer(build_app(runtime))) as test_client:
        yield test_client


def comment(n: int, text: str = "A2+1", **extra: object) -> dict[str, object]:
    return facebook_comment(
        page_id=PAGE,
        video_id=VIDEO,
        comment=str(n),
        text=text,
        author_id=f"u{n}",
        author_name=f"Buyer {n}",
        **extra,  # type: ignore[arg-type]
    )


async def post(
    client: TestClient[object, object],
    payload: object,
    secret: str = APP_SECRET,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    body, signed = signed_body(payload, secret)  # type: ignore[arg-type]
    response = await client.post("/webhooks/meta", data=body, headers=headers or signed)
    return response.status, await response.text()


async def stored(runtime: Runtime) -> list[tuple[str, str, str | None]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Comment.comment_id, Comment.verb, Comment.text).order_by(Comment.id)
        )
    return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_handshake(client: TestClient[object, object]) -> None:
    ok = await client.get(
        "/webhooks/meta",
        params={
            "hub.mode": "subscribe",
            "hub.challenge": "1158201444",
            "hub.verify_token": VERIFY_TOKEN,
        },
    )
    assert (ok.status, await ok.text()) == (200, "1158201444")
    wrong = await client.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "guess"},
    )
    assert wrong.status == 403


async def test_a_signed_delivery_is_queued_and_stored(
    client: TestClient[object, object], runtime: Runtime
) -> None:
    status, _ = await post(client, envelope("page", [(PAGE, [comment(1, "蘋果 兩盒 ❤️")])]))
    assert status == 200
    assert await runtime.queue.depth() == 1
    await drain(runtime)
    assert await stored(runtime) == [(f"{VIDEO}_1", "add", "蘋果 兩盒 ❤️")]
    assert await runtime.queue.depth() == 0


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "garbage"])
async def test_forged_or_missing_signatures_are_refused_and_nothing_kept(
    client: TestClient[object, object], runtime: Runtime, signature: str | None
) -> None:
    body = orjson.dumps(envelope("page", [(PAGE, [comment(1)])]))
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    response = await client.post("/webhooks/meta", data=body, headers=headers)
    assert response.status == 403
    assert "signature" in (await response.json())["error"]
    assert await runtime.queue.depth() == 0


async def test_a_body_signed_with_another_secret_is_refused(
    client: TestClient[object, object], runtime: Runtime
) -> None:
    status, _ = await post(client, envelope("page", [(PAGE, [comment(1)])]), secret="other")
    assert status == 403
    assert await runtime.queue.depth() == 0


async def test_the_signature_covers_the_raw_bytes(
    client: TestClient[object, object], runtime: Runtime
) -> None:
    body, headers = signed_body(envelope("page", [(PAGE, [comment(1)])]), APP_SECRET)
    reformatted = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    response = await client.post("/webhooks/meta", data=reformatted, headers=headers)
    assert response.status == 403


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"object": "page", "entry": [', 400),
        (b"[1, 2]", 400),
        (b'{"entry": []}', 400),
        (b"\xff\xfe", 400),
    ],
)
async def test_truncated_or_foreign_bodies_are_400(
    client: TestClient[object, object], runtime: Runtime, raw: bytes, status: int
) -> None:
    from webhooks.signature import sign

    response = await client.post(
        "/webhooks/meta", data=raw, headers={"X-Hub-Signature-256": sign(raw, APP_SECRET)}
    )
    assert response.status == status
    assert (await response.json())["error"]
    assert await runtime.queue.depth() == 0


async def test_a_2_mib_body_is_413(client: TestClient[object, object], runtime: Runtime) -> None:
    payload = envelope("page", [(PAGE, [comment(1, "x" * (2 * 1024 * 1024))])])
    status, text = await post(client, payload)
    assert status == 413
    assert "1 MiB" in text
    assert await runtime.queue.depth() == 0


async def test_a_chunked_body_one_byte_over_1_mib_is_413(
    client: TestClient[object, object], runtime: Runtime
) -> None:
    """Without a Content-Length only the bytes read can tell; aiohttp alone lets one through."""
    empty = len(signed_body(envelope("page", [(PAGE, [comment(1, "")])]), APP_SECRET)[0])
    for size, status in ((MAX_BODY + 1, 413), (MAX_BODY, 200)):
        payload = envelope("page", [(PAGE, [comment(1, "x" * (size - empty))])])
        body, signed = signed_body(payload, APP_SECRET)
        assert len(body) == size

        async def chunks(body: bytes = body) -> AsyncIterator[bytes]:
            yield body[: len(body) // 2]
            yield body[len(body) // 2 :]

        response = await client.post("/webhooks/meta", data=chunks(), headers=signed)
        assert response.status == status, size
    assert await runtime.queue.depth() == 1


async def test_batches_duplicates_and_every_shape_are_stored_once(
    client: TestClient[object, object], runtime: Runtime
) -> None:
    batch = envelope("page", [(PAGE, [comment(n) for n in range(1, 301)])])
    assert (await post(client, batch))[0] == 200
    assert (await post(client, batch))[0] == 200  # Meta redelivers
    mixed = envelope(
        "page",
        [
            (
                PAGE,
                [
                    comment(1, verb="edited", text="A2+2"),
                    comment(2, verb="remove", text=None),
                    comment(400, legacy_sender=True),
                    comment(401, verb="hide"),
                ],
            )
        ],
    )
    assert (await post(client, mixed))[0] == 200
    ig = envelope(
        "instagram",
        [
            (
                "1784",
                [
                    instagram_comment(
                        media_id="m1", comment_id="ig1", text="A2+1", author_id="i1", username="amy"
                    ),
                    instagram_comment(
                        media_id="m1",
                        comment_id="ig2",
                        text="+1",
                        author_id="i2",
                        username="bo",
                        id_field="comment_id",
                        live=False,
                    ),
                ],
            )
        ],
        wrapped=False,
    )
    assert (await post(client, ig))[0] == 200
    await drain(runtime)
    await drain(runtime)  # a second pass finds nothing new
    rows = await stored(runtime)
    assert len(rows) == 300 + 4 + 2
    assert len(set(rows)) == len(rows)
    async with runtime.sessions() as session:
        unprocessed = await session.scalar(
            select(func.count()).select_from(Comment).where(Comment.status != "processed")
        )
    assert unprocessed == 0


async def test_unknown_objects_are_accepted_and_ignored(
    client: TestClient[object, object], runtime: Runtime
) -> None:
    status, _ = await post(
        client,
        {
            "object": "user",
            "entry": [{"id": "1", "changes": [{"field": "photos", "value": {"verb": "update"}}]}],
            "extra": True,
        },
    )
    assert status == 200
    await drain(runtime)
    assert await stored(runtime) == []
