"""Central store sync: every `store_event` outbox row POSTed to CENTRAL_STORE_URL (store_wire).

Events of one order go out in order: only the oldest pending event of an order is claimable,
so a later event waits while an earlier one is leased or backing off. Different orders go out
side by side. A 2xx answer means received; anything else, or no answer, is retried with
exponential backoff (capped at ten minutes). An event still refused more than a day after it
happened is parked `dead` and staff alerted; `livecart outbox retry` revives it.

Delivery is at least once: a receiver deduplicates on `Idempotency-Key`. An event whose turn
for a connection comes after half its lease goes back to the outbox untried, so no POST outlives
the lease (its timeout is under the other half) and another process never sends an event
this one still holds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp

from bot.dispatch.alerts import store_dead_alert
from bot.dispatch.backoff import Backoff
from bot.dispatch.outcomes import Dead, Failed, Outcome, Release, Retry, Sent, write_outcomes
from bot.dispatch.store_wire import MalformedEvent, event_body, event_headers
from bot.dispatch.timing import pause
from bot.settings import Settings
from storage.db import SessionFactory
from storage.outbox import STORE_EVENT, ClaimedMessage, claim_due
from storage.types import utcnow

log = logging.getLogger("livecart.store_sync")
STORE_BACKOFF = Backoff(first=2.0, cap=600.0)
IDLE_AFTER_ERROR = 5.0


@dataclass(frozen=True, slots=True)
class StorePolicy:
    batch: int = 100  # events claimed at once (each the oldest pending of its order)
    concurrency: int = 16  # POSTs in flight
    lease: timedelta = timedelta(seconds=60)
    poll: float = 1.0  # seconds between looks at the outbox when there is nothing to send
    retry: Backoff = STORE_BACKOFF
    dead_after: timedelta = timedelta(hours=24)  # since the event happened
    # A revived dead letter gets a few tries before it can be parked again.
    dead_min_attempts: int = 3
    timeout: aiohttp.ClientTimeout = field(
        default_factory=lambda: aiohttp.ClientTimeout(total=10.0, sock_connect=3.0)
    )

    def __post_init__(self) -> None:
        # A POST starts in the first half of its lease at the latest (`drain_once`): it must
        # end before the lease does.
        if self.timeout.total is None or self.timeout.total >= self.lease.total_seconds() / 2:
            raise ValueError(f"a POST's timeout must be under half the lease ({self.lease})")


class StoreSync:
    def __init__(
        self,
        sessions: SessionFactory,
        http: aiohttp.ClientSession,
        settings: Settings,
        *,
        policy: StorePolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._url = settings.central_store_url
        self._secret = settings.central_store_secret
        self._policy = policy or StorePolicy()
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        if self._url is not None and self._secret is None:
            log.warning(
                "CENTRAL_STORE_URL is set without CENTRAL_STORE_SECRET: events go out unsigned"
            )

    @property
    def enabled(self) -> bool:
        return self._url is not None

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; without CENTRAL_STORE_URL, return at once."""
        if not self.enabled:
            log.info("CENTRAL_STORE_URL is not set: orders are not pushed to a central store")
            return
        log.info("central store sync started")
        while not stop.is_set():
            try:
                handled = await self.drain_once()
            except Exception:
                log.exception("central store sync failed a round; trying again shortly")
                await pause(stop, IDLE_AFTER_ERROR)
                continue
            if handled == 0:
                await pause(stop, self._policy.poll)
        log.info("central store sync stopped")

    async def drain_once(self) -> int:
        """Claim one batch, POST it, record the outcomes; returns how many events were tried."""
        if not self.enabled:
            return 0
        now = self._clock()
        async with self._sessions.begin() as session:
            claimed = await claim_due(
                session,
                (STORE_EVENT,),
                limit=self._policy.batch,
                lease=self._policy.lease,
                now=now,
                first_of_partition=True,
            )
        if not claimed:
            return 0
        slots = asyncio.Semaphore(self._policy.concurrency)
        last_start = now + self._policy.lease / 2
        outcomes = await asyncio.gather(*(self._deliver(m, slots, last_start) for m in claimed))
        await write_outcomes(self._sessions, outcomes)
        return len(claimed)

    async def _deliver(
        self, message: ClaimedMessage, slots: asyncio.Semaphore, last_start: datetime
    ) -> Outcome:
        try:
            body = event_body(message)
        except MalformedEvent as malformed:
            log.error("store event %s cannot be sent: %s", message.id, malformed)
            return Failed(message.id, f"malformed store event: {malformed}")
        async with slots:
            if self._clock() > last_start:
                return Release(message.id, self._clock())
            problem = await self._post(message, body)
        if problem is None:
            return Sent(message.id)
        return self._after_failure(message, problem)

    async def _post(self, message: ClaimedMessage, body: bytes) -> str | None:
        """None when the store took the event, else what went wrong (never the URL: it may
        carry credentials)."""
        assert self._url is not None
        try:
            async with self._http.post(
                self._url,
                data=body,
                headers=event_headers(message, body, self._secret),
                timeout=self._policy.timeout,
                allow_redirects=False,
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"the central store answered HTTP {response.status}"
        except TimeoutError:
            return "the central store did not answer in time"
        except aiohttp.ClientError as error:
            return f"cannot reach the central store: {type(error).__name__}"

    def _after_failure(self, message: ClaimedMessage, problem: str) -> Outcome:
        now = self._clock()
        failing_for = now - message.created_at
        if (
            failing_for > self._policy.dead_after
            and message.attempts >= self._policy.dead_min_attempts
        ):
            log.error(
                "store event %s (order %s) parked after %s: %s",
                message.id,
                message.payload.get("order_id"),
                failing_for,
                problem,
            )
            return Dead(message.id, problem, alert=store_dead_alert(message, problem))
        wait = self._policy.retry.delay(message.attempts, self._rng)
        log.info("store event %s: %s; retrying in %.0f s", message.id, problem, wait)
        return Retry(message.id, now + timedelta(seconds=wait), problem)
