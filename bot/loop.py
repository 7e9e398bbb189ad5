"""Running a command's coroutine on uvloop (a faster event loop) where it is installed."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TypeVar

T = TypeVar("T")


def run_async(main: Coroutine[object, object, T]) -> T:
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows): the standard loop works too
        return asyncio.run(main)
    return uvloop.run(main)
