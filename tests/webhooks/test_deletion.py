"""Meta's signed_request callbacks: data deletion, its status page, and deauthorize."""

from collections.abc import AsyncIterator

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.checkout_token import make_token
from bot.fakes.meta_webhooks import signed_request
from bot.runtime import Runtime
from storage.models import Comment, Identity, Order
from tests.conftest import APP_SECRET
from tests.pipeline import comment_on, start_test_live
from webhooks.app import build_app

Client = TestClient[object, object]
SIGNED = {"algorithm": "HMAC-SHA256", "issued_at": 1701413579, "user_id": "u1"}


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(runtime))) as test_client:
        yield test_client


async def test_a_signed_deletion_request_forgets_the_person_and_shows_its_status(
    client: Client, runtime: Runtime
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u2", "B3+1")])
    form = {"signed_request": signed_request(SIGNED, APP_SECRET)}
    response = await client.post("/webhooks/meta/deletion", data=form)
    assert response.status == 200
    answer = await response.json()
    assert answer["url"].endswith(f"/webhooks/meta/deletion/{answer['confirmation_code']}")
    async with runtime.sessions() as session:
        authors = (await session.scalars(select(Comment.author_id).order_by(Comment.id))).all()
        scoped = set((await session.scalars(select(Identity.scoped_id))).all())
    assert list(authors) == [None, "u2"]
    assert "u1" not in scoped and "u2" in scoped
    status_page = await client.get(f"/webhooks/meta/deletion/{answer['confirmation_code']}")
    assert status_page.status == 200
    assert "deleted" in await status_page.text()
    assert (await client.get("/webhooks/meta/deletion/nope")).status == 404


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"signed_request": signed_request(SIGNED, "another secret")}, "does not match"),
        ({"signed_request": signed_request(SIGNED, APP_SECRET)[:-3]}, "does not match"),
        ({"signed_request": "no dot at all"}, "malformed"),
        ({"signed_request": "é.é"}, "malformed"),
        ({"signed_request": "abc.bm90IGpzb24"}, "does not match"),
        (
            {"signed_request": signed_request({**SIGNED, "algorithm": "NONE"}, APP_SECRET)},
            "HMAC-SHA256",
        ),
        ({"signed_request": signed_request({"algorithm": "HMAC-SHA256"}, APP_SECRET)}, "user_id"),
        ({"other": "x"}, "no signed_request"),
    ],
)
async def test_a_bad_signed_request_is_refused_and_forgets_nobody(
    client: Client, runtime: Runtime, form: dict[str, str], says: str
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1")])
    for route in ("/webhooks/meta/deletion", "/webhooks/meta/deauthorize"):
        response = await client.post(route, data=form)
        assert response.status == 400, route
        assert says in (await response.json())["error"]
    async with runtime.sessions() as session:
        assert (await session.scalars(select(Comment.author_id))).all() == ["u1"]


async def test_a_form_that_cannot_be_read_is_a_400(client: Client, runtime: Runtime) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1")])
    async with runtime.sessions() as session:
        order_id = await session.scalar(select(Order.id))
    assert order_id is not None
    link = f"/checkout/{make_token(order_id, runtime.checkout_secret)}/confirm"
    for route in ("/webhooks/meta/deletion", link):
        response = await client.post(
            route, data=b"xx", headers={"Content-Type": "multipart/form-data"}
        )
        assert response.status == 400, route
        assert "readable form" in (await response.json())["error"]


async def test_deauthorize_answers_200_to_a_signed_request(client: Client) -> None:
    form = FormData({"signed_request": signed_request(SIGNED, APP_SECRET)})
    response = await client.post("/webhooks/meta/deauthorize", data=form)
    assert response.status == 200
