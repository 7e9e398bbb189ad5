"""Sends the staff outbox (`staff_review` and `staff_alert` rows) to every staff chat.

Rows are claimed one at a time with a lease (storage.outbox), so a long wait on Telegram's flood
control never outlives the lease of rows still waiting; the row being sent has its lease renewed
while it waits, so no other process sends it meanwhile. A row is sent once every staff chat has
it; which chats already have it is kept (a review's messages, an alert's `sent_to`), so a retry
sends only to the rest. Flood control is waited out, never dropped; a network failure is tried
again with backoff; a chat that refuses for good (bot removed) is logged and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot

from bot.dispatch.backoff import Backoff
from bot.dispatch.timing import pause
from bot.staffbot.card_edits import show_decided
from bot.staffbot.cards import card_keyboard, card_text
from bot.staffbot.chat_sends import ChatResult, Delivered, Refused, Unreachable, send_to_chat
from bot.staffbot.records import (
    ShownOn,
    alert_sent_to,
    card_by_comment,
    record_alert_sent,
    record_shown,
    shown_on,
)
from bot.staffbot.telegram_calls import RetryPolicy, Stopped
from storage.db import SessionFactory
from storage.outbox import (
    ClaimedMessage,
    Refusal,
    Reschedule,
    claim_due,
    extend_lease,
    mark_failed,
    mark_sent,
    release,
    retry_later,
)
from storage.types import utcnow

log = logging.getLogger("livecart.staffbot")
STAFF_REVIEW, STAFF_ALERT = "staff_review", "staff_alert"
STAFF_KINDS = (STAFF_REVIEW, STAFF_ALERT)


@dataclass(frozen=True, slots=True)
class SenderPolicy:
    lease: timedelta = timedelta(minutes=5)
    idle_seconds: float = 1.0  # between looks at an empty outbox
    calls: RetryPolicy = field(default_factory=RetryPolicy)
    # A row some chat could not be reached for comes back after this.
    row_backoff: Backoff = field(default_factory=lambda: Backoff(first=5.0, cap=300.0))


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What to write for a row: sent; failed for good; or tried again later."""

    sent: bool = False
    failed: str | None = None
    retry: str | None = None


class StaffSender:
    def __init__(
        self,
        sessions: SessionFactory,
        bot: Bot,
        chats: Sequence[int],
        policy: SenderPolicy = SenderPolicy(),
    ) -> None:
        self._sessions = sessions
        self._bot = bot
        self._chats = tuple(dict.fromkeys(chats))
        self._policy = policy

    async def run(self, stop: asyncio.Event) -> None:
        """Send due rows until `stop` is set."""
        if not self._chats:
            log.warning("TELEGRAM_STAFF_CHATS is empty: staff reviews and alerts wait unsent")
            return
        while not stop.is_set():
            try:
                finished = await self.drain_once(stop)
            except Stopped:
                return
            except (SQLAlchemyError, OSError) as error:
                # The database is away: claimed rows come back when their lease runs out.
                log.warning("staff sender: %s; trying again shortly", error)
                finished = 0
            except Exception:  # one bad row must not silence every alert (logged in full)
                log.exception("staff sender: a row failed unexpectedly; going on")
                finished = 0
            if not finished:
                await pause(stop, self._policy.idle_seconds)

    async def drain_once(self, stop: asyncio.Event | None = None) -> int:
        """Send every row due now; returns how many rows were handled."""
        handled = 0
        while self._chats and (claim := await self._claim_one()) is not None:
            message, held_until = claim
            keeping = asyncio.create_task(self._keep_leased(message, held_until))
            try:
                outcome = await self._deliver(message, stop)
            except Stopped:
                await self._give_back(message)
                raise
            finally:
                keeping.cancel()
                await asyncio.gather(keeping, return_exceptions=True)
            await self._record(message, outcome)
            handled += 1
        return handled

    async def _claim_one(self) -> tuple[ClaimedMessage, datetime] | None:
        """The next due row, and when its lease ends."""
        now = utcnow()
        async with self._sessions.begin() as session:
            claimed = await claim_due(
                session, STAFF_KINDS, limit=1, lease=self._policy.lease, now=now
            )
        return (claimed[0], now + self._policy.lease) if claimed else None

    async def _keep_leased(self, message: ClaimedMessage, held_until: datetime) -> None:
        """Renew the row's lease every third of it while it is being sent (flood control can
        ask for longer waits than the lease)."""
        lease = self._policy.lease
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            until = utcnow() + lease
            try:
                async with self._sessions.begin() as session:
                    kept = await extend_lease(session, message.id, held_until, until)
            except (SQLAlchemyError, OSError) as error:
                log.warning(
                    "staff message %s: its lease could not be renewed: %s", message.key, error
                )
                continue
            if not kept:
                log.warning(
                    "staff message %s: its lease ran out before it was renewed; another process "
                    "may send it too",
                    message.key,
                )
                return
            held_until = until

    async def _deliver(self, message: ClaimedMessage, stop: asyncio.Event | None) -> _Outcome:
        if message.kind == STAFF_REVIEW:
            return await self._send_review(message, stop)
        if message.kind == STAFF_ALERT:
            return await self._send_alert(message, stop)
        return _Outcome(failed=f"the staff bot does not send {message.kind!r} messages")

    # -- reviews ------------------------------------------------------------------------------

    async def _send_review(self, message: ClaimedMessage, stop: asyncio.Event | None) -> _Outcome:
        comment_id = message.payload.get("comment_id")
        if not isinstance(comment_id, int):
            return _Outcome(failed="the payload names no comment_id")
        async with self._sessions() as session:
            card = await card_by_comment(session, comment_id)
            shown = await shown_on(session, card.review_id) if card else []
        if card is None:
            return _Outcome(failed=f"comment {comment_id} has no review")
        if not card.is_open:
            return _Outcome(sent=True)  # decided (staff API) before it reached Telegram
        have = {s.chat_id for s in shown}
        results: list[ChatResult] = []
        for chat_id in (c for c in self._chats if c not in have):
            result = await send_to_chat(
                self._bot,
                chat_id,
                card_text(card),
                keyboard=card_keyboard(card),
                policy=self._policy.calls,
                stop=stop,
            )
            results.append(result)
            if isinstance(result, Delivered) and not await self._keep_review_message(
                card.review_id, result, stop
            ):
                break  # decided meanwhile: no more chats need to be asked
        return _outcome(results, had_some=bool(have))

    async def _keep_review_message(
        self, review_id: int, delivered: Delivered, stop: asyncio.Event | None
    ) -> bool:
        """Record the message; False when the review was decided meanwhile (the message is
        then edited to say so, as the press that decided it could not know of it)."""
        shown = ShownOn(delivered.chat_id, delivered.message.message_id)
        async with self._sessions.begin() as session:
            card = await record_shown(session, review_id, shown)
        if card is None or card.is_open:
            return True
        await show_decided(self._bot, card, [shown], stop)
        return False

    # -- alerts -------------------------------------------------------------------------------

    async def _send_alert(self, message: ClaimedMessage, stop: asyncio.Event | None) -> _Outcome:
        payload = dict(message.payload)
        sent_to = alert_sent_to(payload)
        text = alert_text(payload)
        results: list[ChatResult] = []
        for chat_id in (c for c in self._chats if c not in sent_to):
            result = await send_to_chat(
                self._bot, chat_id, text, policy=self._policy.calls, stop=stop
            )
            results.append(result)
            if isinstance(result, Delivered):
                sent_to.add(chat_id)
                async with self._sessions.begin() as session:
                    await record_alert_sent(session, message.id, payload, sorted(sent_to))
        return _outcome(results, had_some=bool(alert_sent_to(message.payload)))

    # -- outcomes -----------------------------------------------------------------------------

    async def _record(self, message: ClaimedMessage, outcome: _Outcome) -> None:
        async with self._sessions.begin() as session:
            if outcome.sent:
                await mark_sent(session, [message.id])
            elif outcome.failed is not None:
                log.warning("staff message %s not sent: %s", message.key, outcome.failed)
                await mark_failed(session, [Refusal(message.id, outcome.failed)])
            else:
                wait = self._policy.row_backoff.delay(message.attempts)
                at = utcnow() + timedelta(seconds=wait)
                await retry_later(session, [Reschedule(message.id, at, outcome.retry)])

    async def _give_back(self, message: ClaimedMessage) -> None:
        async with self._sessions.begin() as session:
            await release(session, [Reschedule(message.id, utcnow())])


def alert_text(payload: dict[str, object]) -> str:
    text = payload.get("text")
    alert = payload.get("alert", "alert")
    return f"⚠️ {text}" if isinstance(text, str) and text.strip() else f"⚠️ Alert: {alert}"


def _outcome(results: Sequence[ChatResult], *, had_some: bool) -> _Outcome:
    """Sent once no chat is left to try; failed when every chat refused it; else later."""
    unreachable = [r for r in results if isinstance(r, Unreachable)]
    if unreachable:
        return _Outcome(retry="; ".join(f"chat {r.chat_id}: {r.error}" for r in unreachable))
    refused = [r for r in results if isinstance(r, Refused)]
    if refused and len(refused) == len(results) and not had_some:
        return _Outcome(failed="; ".join(f"chat {r.chat_id}: {r.error}" for r in refused))
    return _Outcome(sent=True)
