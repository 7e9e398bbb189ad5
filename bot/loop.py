"""Running a command's coroutine on uvloop (a faster event loop) where it is installed."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import TypeVar

T = TypeVar("T")


def run_async(main: Coroutine[object, object, T]) -> T:
    # Everything imported so far lives as long as the process: kept out of the collector, a
    # full collection under a burst takes milliseconds instead of pausing acks for ~100 ms.
    gc.freeze()
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows): the standard loop works too
        return asyncio.run(main)
    return uvloop.run(main)
