"""Calling Telegram the way it asks to be called: after a 429, wait `retry_after` and try
again (never give up on flood control); after a network error, back off and try a few times.
Refusals (400 Bad Request, 403 Forbidden...) are raised at once: trying again cannot help."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.dispatch.backoff import Backoff

log = logging.getLogger("livecart.staffbot")
T = TypeVar("T")


class Stopped(Exception):
    """The process is stopping: the call was given up before it went through."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    network_attempts: int = 5
    backoff: Backoff = field(default_factory=lambda: Backoff(first=1.0, cap=30.0))


DEFAULT_RETRIES = RetryPolicy()


def retry_after_seconds(error: RetryAfter) -> float:
    """`retry_after` in seconds, whichever way PTB gives it: a timedelta with PTB_TIMEDELTA
    set, else an int that it announces (with a deprecation warning) will become a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return max(seconds, 0.0)


def is_transient(error: Exception) -> bool:
    """A network failure or a 5xx: worth trying again. BadRequest is a NetworkError in PTB's
    tree, but a refusal."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy = DEFAULT_RETRIES,
    stop: asyncio.Event | None = None,
    what: str = "a Telegram call",
) -> T:
    """`call()` until it goes through; Stopped when `stop` is set while waiting."""
    network_failures = 0
    while True:
        try:
            return await call()
        except RetryAfter as error:
            wait = retry_after_seconds(error)
            log.warning("Telegram flood control on %s: waiting %.0fs as asked", what, wait)
        except NetworkError as error:
            if not is_transient(error):
                raise
            network_failures += 1
            if network_failures >= policy.network_attempts:
                raise
            wait = policy.backoff.delay(network_failures)
            log.warning("%s failed (%s); trying again in %.1fs", what, error, wait)
        await _wait(wait, stop)


async def _wait(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
    raise Stopped
