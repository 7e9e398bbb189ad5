"""The fake Bot API against the real python-telegram-bot, on a real port, plus its wire format.

PTB drops "Bad Request: " from error texts and re-capitalizes the rest ("BUTTON_DATA_INVALID"
reaches the caller as "Button_data_invalid"), so the `match=` patterns ignore case.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeAlias

import pytest
from aiohttp import ClientSession, web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    JobQueue,
)

from bot.fakes.bot_api import SECRET_TOKEN_HEADER, CallbackAnswer, FakeBotApi

App: TypeAlias = Application[
    ExtBot[None],
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    JobQueue[ContextTypes.DEFAULT_TYPE],
]

TOKEN = "123456:TEST-fake-token"
STAFF = 5001  # a private chat: its id is the staff member's user id
GROUP = -1001234567890
CARD_TEXT = "Review: A1+2 from Mei"
CARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Approve", callback_data="ok:42"),
            InlineKeyboardButton("Reject", callback_data="no:42"),
        ]
    ]
)
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN, bot_username="livecart_test_bot").running() as running:
        yield running


def build_app(fake: FakeBotApi, token: str = TOKEN, *, polling: bool = True) -> App:
    builder = (
        Application.builder()
        .token(token)
        .base_url(f"{fake.url}/bot")
        .base_file_url(f"{fake.url}/file/bot")
    )
    if not polling:
        builder = builder.updater(None)
    return builder.build()


@asynccontextmanager
async def polling(app: App) -> AsyncIterator[App]:
    assert app.updater is not None
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@asynccontextmanager
async def bot_for(fake: FakeBotApi, token: str = TOKEN) -> AsyncIterator[Bot]:
    bot = Bot(token, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot")
    async with bot:
        yield bot


async def send_card(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(CARD_TEXT, reply_markup=CARD)


async def call(
    http: ClientSession, fake: FakeBotApi, method: str, *, token: str = TOKEN, **params: str
) -> tuple[int, dict[str, object]]:
    """One raw form-encoded call, the way PTB sends them."""
    async with http.post(f"{fake.url}/bot{token}/{method}", data=params) as response:
        body: dict[str, object] = await response.json()
        return response.status, body


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


# -- the real Application, polling ------------------------------------------------------------


async def test_a_start_command_is_answered_with_an_inline_keyboard(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(fake)
    app.add_handler(CommandHandler("start", send_card))

    async with polling(app):
        update_id = fake.user_sends(STAFF, STAFF, "/start", first_name="Mei")
        reply = await fake.wait_for_sent(STAFF)

    assert reply.text == CARD_TEXT
    assert reply.message_id == 2  # /start itself was message 1 of this chat
    assert reply.sender == fake.bot
    assert reply.reply_markup == {
        "inline_keyboard": [
            [
                {"text": "Approve", "callback_data": "ok:42"},
                {"text": "Reject", "callback_data": "no:42"},
            ]
        ]
    }
    methods = [call.method for call in fake.calls]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert update_id not in fake.pending_update_ids  # PTB confirmed it with `offset`
    assert errors_logged(caplog) == []  # PTB stopped without a network error or a Conflict


async def test_a_button_press_is_answered_and_the_message_edited(fake: FakeBotApi) -> None:
    pressed: list[tuple[str | None, str | None]] = []

    async def approve(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        pressed.append((query.data, getattr(query.message, "text", None)))
        await query.answer("Approved")
        await query.edit_message_text("Approved: A1+2 from Mei")

    app = build_app(fake)
    app.add_handler(CommandHandler("start", send_card))
    app.add_handler(CallbackQueryHandler(approve))

    async with polling(app):
        fake.user_sends(STAFF, STAFF, "/start")
        card = await fake.wait_for_sent(STAFF)
        query_id = fake.user_presses(STAFF, STAFF, card.message_id, "ok:42")
        answer = await fake.wait_for_answer(query_id)
        edit = await fake.wait_for_edit(STAFF, card.message_id)

    assert pressed == [("ok:42", CARD_TEXT)]
    assert answer == CallbackAnswer(query_id, "Approved", show_alert=False, url=None)
    assert edit.text == "Approved: A1+2 from Mei"
    now = fake.message(STAFF, card.message_id)
    assert now.text == "Approved: A1+2 from Mei"
    assert now.reply_markup is None  # editing the text without a keyboard removes it
    assert now.edit_date is not None


async def test_a_callback_query_can_be_answered_once(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        card = await bot.send_message(STAFF, CARD_TEXT, reply_markup=CARD)
        query_id = fake.user_presses(STAFF, STAFF, card.message_id, "no:42")

        assert await bot.answer_callback_query(query_id, "Rejected", show_alert=True)
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(query_id)
        with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
            await bot.answer_callback_query("999")

    assert fake.answered_callbacks[query_id].show_alert is True


async def test_people_press_only_buttons_that_exist(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        card = await bot.send_message(STAFF, CARD_TEXT, reply_markup=CARD)

    with pytest.raises(LookupError, match="no button"):
        fake.user_presses(STAFF, STAFF, card.message_id, "maybe:42")
    with pytest.raises(LookupError, match="no message"):
        fake.user_presses(STAFF, STAFF, card.message_id + 1, "ok:42")
    assert fake.user_presses(STAFF, STAFF, card.message_id, "stale", check_button=False)


# -- files, flood control, long polling -------------------------------------------------------


async def test_send_photo_uploads_the_bytes_the_fake_records(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        message = await bot.send_photo(GROUP, photo=PHOTO, caption="A1 red dress 390")
        biggest = message.photo[-1]
        downloaded = await (await bot.get_file(biggest.file_id)).download_as_bytearray()
        again = await bot.send_photo(GROUP, photo=biggest.file_id)

    assert message.chat.type == "supergroup"
    assert message.caption == "A1 red dress 390"
    assert biggest.file_size == len(PHOTO)
    first, second = fake.sent
    assert (first.chat_id, first.photo, first.caption) == (GROUP, PHOTO, "A1 red dress 390")
    assert bytes(downloaded) == PHOTO
    assert second.photo == PHOTO  # re-sent by file_id, as product photos are
    assert again.message_id == message.message_id + 1


async def test_flood_control_reaches_the_caller_as_retry_after(
    fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PTB 22 gives `retry_after` as a timedelta when opted in, else an int with a deprecation.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.fail_next("sendMessage", error_code=429, retry_after=7)

    async with bot_for(fake) as bot:
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(STAFF, "A1 is sold out")
        sent = await bot.send_message(STAFF, "A1 is sold out")

    assert raised.value.retry_after == timedelta(seconds=7)
    assert sent.text == "A1 is sold out"  # only the next call was refused
    assert [m.text for m in fake.sent] == ["A1 is sold out"]


async def test_an_empty_get_updates_waits_for_its_timeout(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        started = time.monotonic()
        updates = await bot.get_updates(timeout=1)
        elapsed = time.monotonic() - started

    assert updates == ()
    assert elapsed >= 0.8  # a fake that answers [] at once makes pollers spin


async def test_a_waiting_get_updates_returns_as_soon_as_an_update_arrives(
    fake: FakeBotApi,
) -> None:
    async with bot_for(fake) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=20))
        await fake.wait_for_call("getUpdates")
        update_id = fake.user_sends(STAFF, STAFF, "queue?")
        updates = await asyncio.wait_for(poll, timeout=5)

    assert [update.update_id for update in updates] == [update_id]
    assert updates[0].message is not None and updates[0].message.text == "queue?"


async def test_offset_confirms_and_drops_earlier_updates(fake: FakeBotApi) -> None:
    first = fake.user_sends(STAFF, STAFF, "one")
    second = fake.user_sends(STAFF, STAFF, "two")
    async with bot_for(fake) as bot:
        everything = await bot.get_updates(timeout=0)
        rest = await bot.get_updates(offset=first + 1, timeout=0)

    assert [u.update_id for u in everything] == [first, second]
    assert [u.update_id for u in rest] == [second]
    assert fake.pending_update_ids == [second]


async def test_allowed_updates_filters_kinds_the_bot_did_not_ask_for(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        card = await bot.send_message(STAFF, CARD_TEXT, reply_markup=CARD)
        await bot.get_updates(timeout=0, allowed_updates=["message"])
        fake.user_presses(STAFF, STAFF, card.message_id, "ok:42")
        message_id = fake.user_sends(STAFF, STAFF, "hello")
        updates = await bot.get_updates(timeout=0)

    assert [u.update_id for u in updates] == [message_id]


async def test_a_second_poller_ends_the_first_with_a_conflict(fake: FakeBotApi) -> None:
    async with bot_for(fake) as first, bot_for(fake) as second:
        waiting = asyncio.create_task(first.get_updates(timeout=20))
        await fake.wait_for_call("getUpdates")
        await second.get_updates(timeout=0)
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates request"):
            await asyncio.wait_for(waiting, timeout=5)


# -- validation -------------------------------------------------------------------------------


async def test_callback_data_over_64_bytes_is_refused(fake: FakeBotApi) -> None:
    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Pick", callback_data=data)]])

    async with bot_for(fake) as bot:
        await bot.send_message(STAFF, "fits", reply_markup=keyboard("é" * 32))  # 64 bytes
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(STAFF, "too long", reply_markup=keyboard("é" * 33))
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(STAFF, "too long", reply_markup=keyboard("x" * 65))

    assert [m.text for m in fake.sent] == ["fits"]


async def test_a_wrong_token_is_refused_when_the_application_initializes(
    fake: FakeBotApi,
) -> None:
    app = build_app(fake, "123456:not-the-token")
    with pytest.raises(InvalidToken):
        await app.initialize()
    await app.bot.request.shutdown()  # initialize() failed half-way: close its HTTP clients
    assert fake.calls == []  # refused before any method ran


async def test_text_must_be_1_to_4096_characters(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        with pytest.raises(BadRequest, match=r"(?i)Message text is empty"):
            await bot.send_message(STAFF, "  ")
        with pytest.raises(BadRequest, match=r"(?i)Message is too long"):
            await bot.send_message(STAFF, "x" * 4097)
        longest = await bot.send_message(STAFF, "x" * 4096)

    assert longest.text == "x" * 4096


async def test_html_is_checked_and_returned_as_the_reader_sees_it(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        sent = await bot.send_message(STAFF, "<b>A1</b> &lt;3 for Mei", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(STAFF, "Mei <3 A1", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(STAFF, "<b>A1", parse_mode="HTML")

    assert sent.text == "A1 <3 for Mei"
    assert fake.sent[0].text == "<b>A1</b> &lt;3 for Mei"  # recorded as the bot sent it


async def test_an_edit_that_changes_nothing_is_refused(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        card = await bot.send_message(STAFF, CARD_TEXT, reply_markup=CARD)
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await card.edit_text(CARD_TEXT, reply_markup=CARD)
        cleared = await card.edit_reply_markup(reply_markup=None)
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await card.edit_reply_markup(reply_markup=None)

    assert isinstance(cleared, Message)
    assert cleared.reply_markup is None and cleared.text == CARD_TEXT
    assert [edit.method for edit in fake.edits] == ["editMessageReplyMarkup"]


async def test_deleted_messages_are_gone(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        card = await bot.send_message(GROUP, CARD_TEXT, reply_markup=CARD)
        assert await card.delete()
        with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
            await card.delete()
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await card.edit_text("late")

    assert fake.deleted == [(GROUP, card.message_id)]
    with pytest.raises(KeyError):
        fake.message(GROUP, card.message_id)


async def test_commands_are_set_and_read_back(fake: FakeBotApi) -> None:
    async with bot_for(fake) as bot:
        assert await bot.set_my_commands([("queue", "Comments waiting for review")])
        commands = await bot.get_my_commands()
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([("Queue!", "bad name")])

    assert [(c.command, c.description) for c in commands] == [
        ("queue", "Comments waiting for review")
    ]


# -- the wire format itself -------------------------------------------------------------------


async def test_wrong_token_and_unknown_method_answer_as_telegram_does(
    fake: FakeBotApi, http: ClientSession
) -> None:
    assert await call(http, fake, "getMe", token="123456:wrong") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert await call(http, fake, "sendTelepathy") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )


async def test_flood_control_on_the_wire(fake: FakeBotApi, http: ClientSession) -> None:
    fake.fail_next("getMe", error_code=429, retry_after=2, count=2)

    refusals = [await call(http, fake, "getMe") for _ in range(2)]
    status, body = await call(http, fake, "getMe")

    assert refusals == 2 * [
        (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 2",
                "parameters": {"retry_after": 2},
            },
        )
    ]
    assert status == 200 and body["ok"] is True


async def test_a_generic_failure_can_be_injected(fake: FakeBotApi, http: ClientSession) -> None:
    fake.fail_next("sendMessage", error_code=403, description="Forbidden: bot was blocked")

    assert await call(http, fake, "sendMessage", chat_id=str(STAFF), text="hi") == (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"},
    )


async def test_json_bodies_query_strings_and_any_case_are_accepted(
    fake: FakeBotApi, http: ClientSession
) -> None:
    markup = {"inline_keyboard": [[{"text": "Approve", "callback_data": "ok:1"}]]}
    url = f"{fake.url}/bot{TOKEN}"
    async with http.post(
        f"{url}/sendMessage", json={"chat_id": GROUP, "text": "hi", "reply_markup": markup}
    ) as response:
        sent = await response.json()
    async with http.get(f"{url}/GETME") as response:
        me = await response.json()

    assert sent["ok"] is True
    assert sent["result"]["reply_markup"] == markup
    assert sent["result"]["chat"] == {"id": GROUP, "type": "supergroup", "title": f"Group {GROUP}"}
    assert me["result"]["username"] == "livecart_test_bot"
    assert me["result"]["id"] == 123456  # a token starts with its bot's id


async def test_commands_carry_the_entity_command_handlers_need(fake: FakeBotApi) -> None:
    fake.user_sends(GROUP, STAFF, "/queue@livecart_test_bot 3", first_name="Mei")
    async with bot_for(fake) as bot:
        (update,) = await bot.get_updates(timeout=0)

    assert update.message is not None
    assert update.message.parse_entities() == {
        update.message.entities[0]: "/queue@livecart_test_bot"
    }
    assert update.message.from_user is not None
    assert update.message.from_user.first_name == "Mei"
    assert update.message.chat.type == "supergroup"


async def test_stopping_the_fake_ends_a_waiting_long_poll_at_once(http: ClientSession) -> None:
    async with FakeBotApi(TOKEN).running() as fake:
        poll = asyncio.create_task(call(http, fake, "getUpdates", timeout="30"))
        await fake.wait_for_call("getUpdates")
        started = time.monotonic()

    assert time.monotonic() - started < 2
    assert await asyncio.wait_for(poll, timeout=5) == (200, {"ok": True, "result": []})


# -- webhook mode -----------------------------------------------------------------------------


@asynccontextmanager
async def webhook_receiver(app: App, secret: str) -> AsyncIterator[str]:
    """Our side of a webhook: check the secret, then hand the update to the Application."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_TOKEN_HEADER, "")
        if not hmac.compare_digest(given, secret):
            return web.Response(status=403)
        await app.process_update(Update.de_json(await request.json(), app.bot))
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/telegram", receive)
    runner = web.AppRunner(receiver)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/telegram"
    finally:
        await runner.cleanup()


async def test_updates_reach_a_webhook_with_its_secret(fake: FakeBotApi) -> None:
    app = build_app(fake, polling=False)
    app.add_handler(CommandHandler("start", send_card))
    async with app, webhook_receiver(app, "s3cret") as url:
        await app.bot.set_webhook(url, secret_token="s3cret")
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await app.bot.get_updates()
        fake.user_sends(STAFF, STAFF, "/start")

        delivered = await fake.deliver_webhook_updates()
        reply = await fake.wait_for_sent(STAFF)
        refused = await fake.post_update_to(url, "wrong", {"update_id": 1})

    assert delivered == 1
    assert reply.text == CARD_TEXT
    assert refused == 403
    assert fake.webhook_url == url
    assert fake.pending_update_ids == []
