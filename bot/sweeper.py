"""What happens by itself with time: unpaid holds expire, replays close, merges finish.

Stock an expired cart held goes to the waitlist first. Runs inside `livecart serve`; several
processes may sweep at once (each order is expired by exactly one of them)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from bot.ordering import expire_carts
from bot.runtime import Runtime
from bot.store_events import write_order_events
from storage import orders
from storage.db import retrying_races
from storage.members import merge_into, unfinished_merges
from storage.models import Live
from storage.types import utcnow

log = logging.getLogger("livecart.sweeper")


@dataclass(frozen=True, slots=True)
class Swept:
    expired_orders: int
    closed_lives: int


async def sweep(runtime: Runtime, now: datetime) -> Swept:
    async with runtime.sessions.begin() as session:
        closed = await session.scalars(
            update(Live)
            .where(Live.status == "replay", Live.replay_deadline < now)
            .values(status="closed")
            .returning(Live.id)
        )
        closed_lives = list(closed.all())
        await orders.close_waiting(session, live_ids=closed_lives)
        expiry = await expire_carts(
            session, runtime.stock, now=now, hold_for=runtime.settings.hold_for
        )
        await write_order_events(session, expiry.events())
    # After the expiry (a lapsed cart is not combined into, which would renew its hold), and
    # apart from it: a merge that loses a race with a batch runs again without holding it up.
    await retrying_races(lambda: _finish_merges(runtime, now), "finishing member merges")
    if expiry.expired or closed_lives:
        log.info(
            "expired %d unpaid carts; closed %d replays", len(expiry.expired), len(closed_lives)
        )
    return Swept(len(expiry.expired), len(closed_lives))


async def _finish_merges(runtime: Runtime, now: datetime) -> None:
    """Carts written for a member after it was merged away move to the member it became
    (carts in one live combine), with the rest of what the member holds."""
    async with runtime.sessions.begin() as session:
        events: dict[int, str] = {}
        for kept, merged in await unfinished_merges(session):
            done = await merge_into(session, kept, merged, now=now)
            events.update(done.events())
            log.info(
                "members: member %d, merged into member %d, had an open cart again; moved "
                "(%d cart(s) combined)",
                merged,
                kept,
                len(done.combined),
            )
        await write_order_events(session, events)


async def run_sweeper(runtime: Runtime, stop: asyncio.Event) -> None:
    every = runtime.settings.sweep_every.total_seconds()
    while not stop.is_set():
        try:
            await sweep(runtime, utcnow())
        except Exception:
            log.exception("sweep failed; trying again in %.0f s", every)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            continue
