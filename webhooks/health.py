"""`GET /healthz`: the database and (when configured) Redis answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from aiohttp import web

from storage.db import ping
from webhooks.keys import RUNTIME

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 3.0


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    checks: dict[str, str] = {"database": await _check("database", ping(runtime.engine))}
    if runtime.redis is not None:
        checks["redis"] = await _check("redis", runtime.redis.ping())
    healthy = all(state == "ok" for state in checks.values())
    return web.json_response(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


async def _check(name: str, probe: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await probe
    except Exception as error:  # noqa: BLE001 - any failure makes the component unhealthy
        log.warning("health check: %s is unavailable: %s", name, type(error).__name__)
        return "unavailable"
    return "ok"
