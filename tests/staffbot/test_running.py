"""`run_staff_bot` as `livecart serve` runs it: off without a token, long polling by default,
webhook mode with a secret; the sender runs beside it; everything stops with `stop`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest

from bot.fakes.bot_api import FakeBotApi
from bot.runtime import Runtime
from bot.staffbot import TelegramIngress, run_staff_bot
from tests.pipeline import comment_on, start_test_live
from tests.staffbot.support import STAFF, buttons, reviews
from tests.staffbot.test_webhook import SECRET, web_app


@asynccontextmanager
async def running(
    runtime: Runtime, ingress: TelegramIngress | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_staff_bot(runtime, stop, ingress))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)  # stops promptly, long poll or not


async def test_polling_from_review_to_decision(staff_runtime: Runtime, fake: FakeBotApi) -> None:
    await start_test_live(staff_runtime)
    async with running(staff_runtime):
        await comment_on(staff_runtime, [("u1", "A1+1")])
        card = await fake.wait_for_sent(STAFF)  # the sender's loop found the review
        (review,) = await reviews(staff_runtime)
        assert buttons(card)[0] == ("A1-RED-M x1", f"rv:{review.id}:0")
        query = fake.user_presses(STAFF, STAFF, card.message_id, f"rv:{review.id}:0")
        assert (await fake.wait_for_answer(query)).text == "Ordered A1-RED-M x1"
        await fake.wait_for_edit(STAFF, card.message_id)

    methods = [call.method for call in fake.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert fake.my_commands()[0] == {
        "command": "queue",
        "description": "Comments waiting for review, oldest first",
    }


async def test_webhook_mode_takes_updates_from_the_route_only(
    staff_runtime: Runtime, fake: FakeBotApi
) -> None:
    ingress = TelegramIngress(SECRET)
    async with web_app(ingress) as url:
        settings = replace(
            staff_runtime.settings,
            telegram_webhook_secret=SECRET,
            public_url=url.removesuffix("/webhooks/telegram"),
        )
        async with running(replace(staff_runtime, settings=settings), ingress):
            await fake.wait_for(lambda: ingress.attached)
            await fake.wait_for(lambda: "setWebhook" in [call.method for call in fake.calls])
            # Telegram posts a staff member's command to the address the bot registered.
            fake.user_sends(STAFF, STAFF, "/queue")
            assert await fake.deliver_webhook_updates() == 1
            answer = await fake.wait_for_sent(STAFF)

    assert answer.text == "Nothing waits for review."
    assert not any(call.method in ("getUpdates", "deleteWebhook") for call in fake.calls)
    assert not ingress.attached  # stopped: the route answers 503 again


async def test_without_a_token_the_bot_is_off(runtime: Runtime, fake: FakeBotApi) -> None:
    async with running(runtime) as task:
        await asyncio.wait_for(task, timeout=1)

    assert fake.calls == []


async def test_a_refused_token_turns_the_bot_off_without_logging_it(
    staff_runtime: Runtime, fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "123456:not-the-token-at-all"
    runtime = replace(
        staff_runtime, settings=replace(staff_runtime.settings, telegram_bot_token=wrong)
    )
    caplog.set_level(logging.DEBUG)

    async with running(runtime) as task:
        await asyncio.wait_for(task, timeout=5)

    assert "Telegram refused TELEGRAM_BOT_TOKEN" in caplog.text
    assert "not-the-token-at-all" not in caplog.text
    assert [call.method for call in fake.calls] == []  # the fake refused it before any method
