"""Running a command's coroutine on uvloop (a faster event loop) where it is installed."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import TypeVar

T = TypeVar("T")
# The collector's first threshold: new container objects between young collections (Python's
# default is 700). A pipeline batch builds a few hundred thousand short-lived rows, tuples and
# dicts; at 700 the collector ran about 1,450 young and 11 full collections per 20,000 comments,
# a tenth of the worker's time, and scanned the same batch's objects again and again. At 10,000
# the young collections stay around a millisecond each.
YOUNG_OBJECTS = 10_000


def run_async(main: Coroutine[object, object, T]) -> T:
    # Everything imported so far lives as long as the process: kept out of the collector, a
    # full collection under a burst takes milliseconds instead of pausing acks for ~100 ms.
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, *gc.get_threshold()[1:])
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows): the standard loop works too
        return asyncio.run(main)
    return uvloop.run(main)
