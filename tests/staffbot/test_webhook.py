"""Webhook mode: POST /webhooks/telegram checks the secret header, then queues the update for
the Application (built without an Updater), which handles it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import ClientSession, web

from bot.fakes.bot_api import FakeBotApi
from bot.runtime import Runtime
from bot.staffbot import ROUTE, TelegramIngress, add_telegram_route, build_application
from bot.staffbot.context import StaffApplication
from tests.staffbot.support import STAFF

SECRET = "webhook-secret-3f9a"
QUEUE_COMMAND = {
    "update_id": 900001,
    "message": {
        "message_id": 77,
        "date": 1_700_000_000,
        "chat": {"id": STAFF, "type": "private", "first_name": "Mei"},
        "from": {"id": STAFF, "is_bot": False, "first_name": "Mei"},
        "text": "/queue",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    },
}


@asynccontextmanager
async def web_app(ingress: TelegramIngress) -> AsyncIterator[str]:
    """Our aiohttp app with the route on a real port; yields the route's URL."""
    app = web.Application()
    add_telegram_route(app, ingress)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}{ROUTE}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def webhook_bot(runtime: Runtime) -> AsyncIterator[StaffApplication]:
    application = build_application(runtime, webhook=True)
    assert application.updater is None
    async with application:  # initialize and shutdown
        await application.start()
        try:
            yield application
        finally:
            await application.stop()


async def test_the_wrong_secret_is_refused_and_the_right_one_is_handled(
    staff_runtime: Runtime, fake: FakeBotApi
) -> None:
    ingress = TelegramIngress(SECRET)
    async with webhook_bot(staff_runtime) as application, web_app(ingress) as url:
        ingress.attach(application)
        wrong = await fake.post_update_to(url, "not-the-secret", QUEUE_COMMAND)
        missing = await fake.post_update_to(url, None, QUEUE_COMMAND)
        right = await fake.post_update_to(url, SECRET, QUEUE_COMMAND)
        answer = await fake.wait_for_sent(STAFF)

    assert (wrong, missing, right) == (403, 403, 200)
    assert answer.text == "Nothing waits for review."
    assert [m.text for m in fake.sent] == ["Nothing waits for review."]  # answered once
    assert not any(call.method == "getUpdates" for call in fake.calls)


async def test_telegram_delivers_to_the_webhook_it_was_given(
    staff_runtime: Runtime, fake: FakeBotApi
) -> None:
    ingress = TelegramIngress(SECRET)
    async with webhook_bot(staff_runtime) as application, web_app(ingress) as url:
        ingress.attach(application)
        await application.bot.set_webhook(url, secret_token=SECRET)  # the operator's one-off
        fake.user_sends(STAFF, STAFF, "/lives")

        assert await fake.deliver_webhook_updates() == 1
        answer = await fake.wait_for_sent(STAFF)

    assert answer.text == "No live is on now."


async def test_the_route_answers_before_the_bot_runs_and_refuses_garbage(
    staff_runtime: Runtime, fake: FakeBotApi
) -> None:
    ingress = TelegramIngress(SECRET)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with web_app(ingress) as url, ClientSession() as http:
        not_yet = await fake.post_update_to(url, SECRET, QUEUE_COMMAND)
        async with webhook_bot(staff_runtime) as application:
            ingress.attach(application)
            async with http.post(url, data=b"{not json", headers=headers) as response:
                garbage = response.status
            async with http.post(url, json={"hello": 1}, headers=headers) as response:
                not_an_update = response.status
            ingress.detach()

    assert not_yet == 503  # Telegram keeps the update and tries again
    assert (garbage, not_an_update) == (400, 400)
    assert fake.sent == []


async def test_without_a_secret_the_route_is_off(fake: FakeBotApi) -> None:
    async with web_app(TelegramIngress(None)) as url:
        assert await fake.post_update_to(url, "", QUEUE_COMMAND) == 404
        assert await fake.post_update_to(url, "anything", QUEUE_COMMAND) == 404
