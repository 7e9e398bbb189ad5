"""Workers: take batches from the queue, run them through the pipeline, acknowledge them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence

from bot.pipeline import BatchReport, Pipeline
from bot.runtime import Runtime
from storage.models import JsonObject
from storage.queue import DeliveryQueue, QueuedDelivery

log = logging.getLogger("livecart.workers")
BATCH = 200
# Workers per process: `livecart worker`'s default, and what `livecart serve` runs on the
# database inbox. While one batch waits for the database or Redis, another computes.
WORKER_CONCURRENCY = 4
EMBEDDED_WORKERS = 2
# Deliveries per take for those in-process workers. They share the event loop with the webhook
# route: an ack can wait behind a batch's Python. In the "+1 now" burst (before the SQLite inbox
# had a file of its own), 200 put ack p99 at 267-416 ms on SQLite and 359 ms on PostgreSQL; 100
# at 187-239 ms and 83-244 ms; 40 lowered it further but decided a third fewer comments a
# second.
EMBEDDED_BATCH = 100
RETRY_PAUSE = 1.0
# A delivery taken this many times that fails again alone leaves the queue for the parked list,
# so it holds no later batch back. A batch fails only when its comments cannot even be stored,
# and a database that does not answer parks nothing.
PARK_AFTER = 5
PARKED_ALERT = "delivery_parked"


def consumer_name(index: int) -> str:
    """Unique per process, so a dead process's pending entries are claimable by others (at
    most 64 characters, the inbox's `claimed_by`, whatever the host's name)."""
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{uuid.uuid4().hex[:6]}-{index}"


async def consume(
    queue: DeliveryQueue,
    pipeline: Pipeline,
    consumer: str,
    stop: asyncio.Event,
    *,
    batch: int = BATCH,
    wait: float = 1.0,
    retry_pause: float = RETRY_PAUSE,
) -> None:
    while not stop.is_set():
        try:
            deliveries = await queue.take(consumer, batch, wait)
            if not deliveries:
                continue
            try:
                report = await pipeline.handle(deliveries)
            except Exception as error:
                log.exception(
                    "worker %s: a batch of %d deliveries failed", consumer, len(deliveries)
                )
                report = await _after_failure(queue, pipeline, deliveries, error, consumer)
                if report.deliveries < len(deliveries):
                    await asyncio.sleep(retry_pause)
                continue
            await queue.ack([delivery.id for delivery in deliveries])
        except asyncio.CancelledError:
            raise
        except Exception:
            # Unacknowledged deliveries come back (lease expiry or XAUTOCLAIM).
            log.exception("worker %s: batch failed; it will be retried", consumer)
            await asyncio.sleep(retry_pause)
            continue
        log.debug(
            "worker %s: %d deliveries, %d comment events, %d processed",
            consumer,
            report.deliveries,
            report.comment_events,
            report.processed,
        )


async def _after_failure(
    queue: DeliveryQueue,
    pipeline: Pipeline,
    deliveries: list[QueuedDelivery],
    error: Exception,
    consumer: str,
) -> BatchReport:
    """After a failed batch, each delivery alone: the ones handled are acknowledged, the others
    come back later, except those failing for the PARK_AFTER-th time while the database
    answers: those are parked."""
    handled: list[str] = []
    failed: list[tuple[QueuedDelivery, str]] = []
    comments = processed = 0
    if len(deliveries) == 1:
        failed.append((deliveries[0], _describe(error)))
    else:
        for delivery in deliveries:
            try:
                report = await pipeline.handle([delivery])
            except Exception as alone:  # noqa: BLE001 - kept as its error, parked in the end
                failed.append((delivery, _describe(alone)))
                continue
            handled.append(delivery.id)
            comments += report.comment_events
            processed += report.processed
        await queue.ack(handled)
    due = [(d, why) for d, why in failed if d.attempts >= PARK_AFTER]
    if due and (handled or await pipeline.database_answers()):
        await queue.park(due)
        for delivery, why in due:
            log.error(
                "worker %s: delivery %s, taken %d times, failed again alone and is parked "
                "(`livecart inbox status`, `livecart inbox retry`): %s",
                consumer,
                delivery.id,
                delivery.attempts,
                why,
            )
        handled += [d.id for d, _ in due]
        try:
            await pipeline.alert_staff(*parked_alert(due))
        except Exception:
            log.exception("worker %s: staff could not be alerted of the parking", consumer)
    return BatchReport(len(handled), comments, processed)


def parked_alert(parked: Sequence[tuple[QueuedDelivery, str]]) -> tuple[str, JsonObject]:
    """One alert for deliveries parked together: its key (unique: queue ids can come back) and
    payload."""
    error = parked[0][1]
    one = len(parked) == 1
    what = "A webhook delivery" if one else f"{len(parked)} webhook deliveries"
    text = (
        f"{what} failed every time {'it was' if one else 'they were'} handled "
        f"({PARK_AFTER} tries or more) and {'is' if one else 'are'} parked "
        f"(error: {error.splitlines()[0][:200]}); comments in parked deliveries have not "
        "ordered. `livecart inbox status` lists parked deliveries; `livecart inbox retry` "
        "queues them again once the cause is fixed."
    )
    key = f"alert:{PARKED_ALERT}:{uuid.uuid4().hex}"
    return key, {"alert": PARKED_ALERT, "text": text}


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


async def run_workers(
    queue: DeliveryQueue,
    pipeline: Pipeline,
    count: int,
    stop: asyncio.Event,
    *,
    batch: int = BATCH,
) -> None:
    await asyncio.gather(
        *(consume(queue, pipeline, consumer_name(i), stop, batch=batch) for i in range(count))
    )


async def run_embedded_workers(runtime: Runtime, stop: asyncio.Event) -> None:
    """The pipeline inside the web process (`livecart serve`, the demo) on the database inbox."""
    pipeline = Pipeline.for_runtime(runtime)
    await run_workers(runtime.queue, pipeline, EMBEDDED_WORKERS, stop, batch=EMBEDDED_BATCH)
