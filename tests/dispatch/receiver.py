"""A central store for the tests: a real aiohttp server that refuses the first calls it is told
to, checks every signature, and keeps each event once by its Idempotency-Key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from bot.dispatch.store_wire import signature_matches

SECRET = "central-store-secret"


@dataclass(frozen=True, slots=True)
class Call:
    key: str
    event_id: int
    order_id: int
    status: int
    signed: bool
    content_type: str


@dataclass
class StoreReceiver:
    fail_first: int = 0  # answer 503 to this many calls
    always_fail: bool = False
    delay: float = 0.0  # seconds before each answer
    calls: list[Call] = field(default_factory=list)
    accepted: dict[str, dict[str, object]] = field(default_factory=dict)  # key -> first body
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        await asyncio.sleep(self.delay)
        event = orjson.loads(body)
        signed = signature_matches(SECRET, body, request.headers.get("X-Livecart-Signature", ""))
        key = request.headers.get("Idempotency-Key", "")
        failing = self.always_fail or self.fail_first > 0 or not signed
        self.fail_first = max(0, self.fail_first - 1)
        status = 503 if failing else 200
        self.calls.append(
            Call(key, event["id"], event["order_id"], status, signed, request.content_type)
        )
        if not failing:
            self.accepted.setdefault(key, event)  # a repeat of a known key changes nothing
        return web.json_response({"ok": not failing}, status=status)

    @classmethod
    @asynccontextmanager
    async def running(cls, **options: object) -> AsyncIterator[StoreReceiver]:
        receiver = cls(**options)  # type: ignore[arg-type]
        app = web.Application()
        app.router.add_post("/orders", receiver.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        receiver.url = f"http://{host}:{port}/orders"
        try:
            yield receiver
        finally:
            await runner.cleanup()
