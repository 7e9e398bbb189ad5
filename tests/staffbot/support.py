"""The staff bot's world in tests: chat ids, a started bot, asking it things, reading back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from sqlalchemy import select

from bot.dispatch.backoff import Backoff
from bot.fakes.bot_api import FakeBotApi, StoredMessage
from bot.runtime import Runtime
from bot.staffbot import StaffSender, build_application
from bot.staffbot.context import StaffApplication
from bot.staffbot.sender import SenderPolicy
from bot.staffbot.telegram_calls import RetryPolicy
from storage.models import OutboxMessage, ReviewItem

TOKEN = "123456:TEST-staff-bot-token"
STAFF = 5001  # Mei's private chat with the bot (a private chat's id is its person's id)
KEN = 5002
GROUP = -1001234567890  # the staff group
STRANGER = 7007
# Short waits so a test that waits out a failure stays quick; flood control is never shortened.
FAST = SenderPolicy(
    idle_seconds=0.05,
    calls=RetryPolicy(network_attempts=3, backoff=Backoff(first=0.05, cap=0.2)),
    row_backoff=Backoff(first=0.2, cap=0.5),
)


def for_staff_bot(runtime: Runtime, fake: FakeBotApi, **settings: object) -> Runtime:
    """The runtime with the staff bot configured: Mei's chat and the staff group."""
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_url": fake.url,
        "telegram_staff_chats": (STAFF, GROUP),
        **settings,
    }
    return replace(runtime, settings=replace(runtime.settings, **values))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class StaffBot:
    fake: FakeBotApi
    runtime: Runtime
    application: StaffApplication
    sender: StaffSender

    async def ask(
        self, text: str, *, chat: int = STAFF, user: int = STAFF, name: str = "Mei"
    ) -> StoredMessage:
        """Send `text` to the bot; its answer (the next message the bot sends to the chat)."""
        before = sum(1 for m in self.fake.sent if m.chat_id == chat)
        self.fake.user_sends(chat, user, text, first_name=name)
        return await self.fake.wait_for_sent(chat, count=before + 1)

    async def cards(self, chat: int) -> list[StoredMessage]:
        return [m for m in self.fake.sent if m.chat_id == chat and m.reply_markup]


@asynccontextmanager
async def polling_bot(runtime: Runtime, fake: FakeBotApi) -> AsyncIterator[StaffBot]:
    """The real Application long-polling the fake, and a sender drained by the test."""
    application = build_application(runtime)
    assert application.updater is not None
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=1)
    sender = StaffSender(
        runtime.sessions, application.bot, runtime.settings.telegram_staff_chats, FAST
    )
    try:
        yield StaffBot(fake, runtime, application, sender)
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


def buttons(message: StoredMessage) -> list[tuple[str, str]]:
    """(label, callback data) of each inline button, row by row."""
    keyboard = (message.reply_markup or {}).get("inline_keyboard", [])
    assert isinstance(keyboard, list)
    return [(b["text"], b["callback_data"]) for row in keyboard for b in row]


async def outbox(runtime: Runtime, kind: str) -> list[OutboxMessage]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return list(rows.all())


async def reviews(runtime: Runtime) -> list[ReviewItem]:
    async with runtime.sessions() as session:
        rows = await session.scalars(select(ReviewItem).order_by(ReviewItem.id))
        return list(rows.all())
