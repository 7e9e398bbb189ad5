"""Builds the one aiohttp application; all routes are wired here before it freezes."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime
from webhooks import health
from webhooks.keys import RUNTIME


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(client_max_size=1024**2)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", health.healthz)
    return app
