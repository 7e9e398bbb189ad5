"""The central store sync against a real local receiver, with events in SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import update

from bot.dispatch.backoff import Backoff
from bot.dispatch.store_sync import StorePolicy, StoreSync
from bot.settings import Settings
from storage.db import SessionFactory
from storage.models import OutboxMessage
from storage.outbox import retry_dead
from storage.types import utcnow
from tests.dispatch.receiver import SECRET, StoreReceiver
from tests.dispatch.support import add_store_events, rows, running, statuses, wait_for

MakeSettings = Callable[..., Settings]
FAST = StorePolicy(poll=0.05, retry=Backoff(first=0.05, cap=0.2))
# Three orders' events, interleaved as a busy live writes them.
EVENTS = [
    (1, "order.reserved"),
    (2, "order.reserved"),
    (1, "order.updated"),
    (3, "order.reserved"),
    (2, "order.cancelled"),
    (1, "order.updated"),
    (3, "order.updated"),
    (1, "order.confirmed"),
    (3, "order.expired"),
]


def sync(
    sessions: SessionFactory,
    http: aiohttp.ClientSession,
    make_settings: MakeSettings,
    url: str | None,
    policy: StorePolicy = FAST,
) -> StoreSync:
    settings = make_settings(central_store_url=url, central_store_secret=SECRET)
    return StoreSync(sessions, http, settings, policy=policy)


async def test_every_event_arrives_once_in_order_per_order_despite_failures(
    sessions: SessionFactory, http: aiohttp.ClientSession, make_settings: MakeSettings
) -> None:
    ids = await add_store_events(sessions, EVENTS)
    keys = [row.key for row in await rows(sessions, "store_event")]
    async with (
        StoreReceiver.running(fail_first=5) as store,
        running(sync(sessions, http, make_settings, store.url)),
    ):
        await wait_for(lambda: _all_sent(sessions), timeout=20, what="every event sent")
    assert len(store.calls) > len(EVENTS)  # the refused calls were retried
    assert sorted(store.accepted) == sorted(keys)  # and in the end each event is there once
    assert all(call.signed and call.content_type == "application/json" for call in store.calls)
    accepted_calls = [call for call in store.calls if call.status == 200]
    assert len(accepted_calls) == len(EVENTS)  # no event was accepted twice either
    # In order per order: no event of an order was even tried before the earlier ones landed.
    landed: set[int] = set()
    for call in store.calls:
        earlier = [i for i, (order, _) in zip(ids, EVENTS, strict=True) if order == call.order_id]
        assert all(i in landed for i in earlier if i < call.event_id), call
        if call.status == 200:
            landed.add(call.event_id)
    first = store.accepted[keys[0]]
    assert first["version"] == 1 and first["event"] == "order.reserved"
    assert first["order_id"] == 1 and first["data"] == {"n": 0, "total": "12.50"}
    assert str(first["occurred_at"]).endswith("+00:00")


async def _all_sent(sessions: SessionFactory) -> bool:
    return await statuses(sessions, "store_event") == {"sent": len(EVENTS)}


async def test_events_whose_turn_comes_late_go_back_before_their_lease_ends(
    sessions: SessionFactory, http: aiohttp.ClientSession, make_settings: MakeSettings
) -> None:
    await add_store_events(sessions, [(order, "order.reserved") for order in range(1, 6)])
    # One POST at a time, each answered after 0.3 s, under a lease of one second: a POST may
    # start in the first half second only.
    policy = dataclasses.replace(
        FAST,
        concurrency=1,
        lease=timedelta(seconds=1),
        timeout=aiohttp.ClientTimeout(total=0.45),
    )
    async with StoreReceiver.running(delay=0.3) as store:
        started = time.monotonic()
        assert await sync(sessions, http, make_settings, store.url, policy).drain_once() == 5
        took = time.monotonic() - started
    assert took < 1.0  # every outcome was written while the lease still held
    assert 1 <= len(store.calls) < 5
    found = await rows(sessions, "store_event")
    sent = [row for row in found if row.status == "sent"]
    untried = [row for row in found if row.status == "pending"]
    assert sorted(row.key for row in sent) == sorted(call.key for call in store.calls)
    assert len(untried) == 5 - len(store.calls)
    assert all(row.attempts == 0 and row.available_at <= utcnow() for row in untried)


def test_a_store_timeout_must_fit_in_half_the_lease() -> None:
    with pytest.raises(ValueError, match="under half the lease"):
        StorePolicy(lease=timedelta(seconds=10), timeout=aiohttp.ClientTimeout(total=5))


async def test_events_failing_for_a_day_are_parked_then_revived(
    sessions: SessionFactory, http: aiohttp.ClientSession, make_settings: MakeSettings
) -> None:
    old = utcnow() - timedelta(hours=25)
    await add_store_events(sessions, [(1, "order.reserved"), (2, "order.reserved")], created_at=old)
    await add_store_events(sessions, [(3, "order.reserved")])  # recent: it keeps retrying
    async with StoreReceiver.running(always_fail=True) as store:
        sender = sync(sessions, http, make_settings, store.url)

        async def parked() -> bool:
            await sender.drain_once()
            return (await statuses(sessions, "store_event")).get("dead") == 2

        await wait_for(parked, timeout=10, what="the old events parked")
        for _ in range(3):  # more rounds: no second alert for the same dead letter
            await sender.drain_once()
        dead = [r for r in await rows(sessions, "store_event") if r.status == "dead"]
        assert all(r.attempts >= 3 and "503" in (r.last_error or "") for r in dead)
        (recent,) = [r for r in await rows(sessions, "store_event") if r.status != "dead"]
        assert recent.status == "pending"
        alerts = await rows(sessions, "staff_alert")
        assert sorted(a.payload["outbox_id"] for a in alerts) == sorted(r.id for r in dead)
        assert all(a.payload["alert"] == "store_event_dead" for a in alerts)

        async with sessions.begin() as session:
            assert await retry_dead(session, ("reply",)) == 0
            assert await retry_dead(session, ("store_event",)) == 2
        store.always_fail = False

        async def delivered() -> bool:
            await sender.drain_once()
            return await statuses(sessions, "store_event") == {"sent": 3}

        await wait_for(delivered, timeout=10, what="revived events sent")
    assert len(store.accepted) == 3


async def test_an_injected_clock_decides_the_day(
    sessions: SessionFactory, http: aiohttp.ClientSession, make_settings: MakeSettings
) -> None:
    await add_store_events(sessions, [(1, "order.reserved")])
    async with StoreReceiver.running(always_fail=True) as store:
        settings = make_settings(central_store_url=store.url, central_store_secret=SECRET)
        tomorrow = StoreSync(
            sessions,
            http,
            settings,
            policy=dataclasses.replace(FAST, dead_min_attempts=1),
            clock=lambda: utcnow() + timedelta(hours=24, minutes=1),
        )
        assert await tomorrow.drain_once() == 1
    assert await statuses(sessions, "store_event") == {"dead": 1}


async def test_an_unreachable_store_is_retried_with_backoff(
    sessions: SessionFactory, http: aiohttp.ClientSession, make_settings: MakeSettings
) -> None:
    await add_store_events(sessions, [(1, "order.reserved")])
    policy = dataclasses.replace(FAST, retry=Backoff(first=30, cap=600))
    sender = sync(sessions, http, make_settings, "http://127.0.0.1:9/orders", policy)
    assert await sender.drain_once() == 1
    (row,) = await rows(sessions, "store_event")
    assert row.status == "pending" and row.attempts == 1
    assert "cannot reach the central store" in (row.last_error or "")
    assert "127.0.0.1:9" not in (row.last_error or "")
    assert row.available_at >= utcnow() + timedelta(seconds=14)  # 30 s with jitter in [15, 30]
    assert await sender.drain_once() == 0


async def test_without_a_central_store_url_nothing_happens(
    sessions: SessionFactory, http: aiohttp.ClientSession, make_settings: MakeSettings
) -> None:
    await add_store_events(sessions, [(1, "order.reserved")])
    sender = sync(sessions, http, make_settings, None)
    assert not sender.enabled
    assert await sender.drain_once() == 0
    async with running(sender):
        pass  # returns at once instead of looping
    (row,) = await rows(sessions, "store_event")
    assert (row.status, row.attempts) == ("pending", 0)


async def test_a_malformed_event_fails_without_holding_others_back(
    sessions: SessionFactory, http: aiohttp.ClientSession, make_settings: MakeSettings
) -> None:
    ids = await add_store_events(sessions, [(1, "order.reserved"), (1, "order.updated")])
    async with sessions.begin() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == ids[0]).values(payload={"x": 1})
        )
    async with StoreReceiver.running() as store:
        sender = sync(sessions, http, make_settings, store.url)
        await sender.drain_once()
        await sender.drain_once()
    assert [r.status for r in await rows(sessions, "store_event")] == ["failed", "sent"]
