"""Builds the one aiohttp application; all routes are wired here before it freezes."""

from __future__ import annotations

from aiohttp import web

from bot.runtime import Runtime
from bot.staffbot import TelegramIngress, add_telegram_route
from webhooks import (
    api_inventory,
    api_lives,
    api_reports,
    api_reviews,
    checkout,
    deletion,
    events,
    health,
    meta,
)
from webhooks.keys import RUNTIME
from webhooks.middleware import clear_errors, staff_only


def build_app(runtime: Runtime, telegram: TelegramIngress | None = None) -> web.Application:
    # Meta's limit for a delivery is 1 MiB; a little more lets the route answer 413 itself.
    app = web.Application(client_max_size=meta.MAX_BODY + 1, middlewares=[clear_errors, staff_only])
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/webhooks/meta", meta.handshake)
    app.router.add_post("/webhooks/meta", meta.delivery)
    app.router.add_post("/webhooks/meta/deletion", deletion.data_deletion)
    app.router.add_get("/webhooks/meta/deletion/{code}", deletion.deletion_status_page)
    app.router.add_post("/webhooks/meta/deauthorize", deletion.deauthorize)
    app.router.add_post("/api/lives", api_lives.create)
    app.router.add_get("/api/lives/{live_id}", api_lives.show)
    app.router.add_post("/api/lives/{live_id}/current", api_lives.set_current)
    app.router.add_post("/api/lives/{live_id}/end", api_lives.end)
    app.router.add_get("/api/lives/{live_id}/orders", api_lives.orders)
    app.router.add_get("/api/lives/{live_id}/report", api_reports.report)
    app.router.add_get("/api/inventory", api_inventory.list_stock)
    app.router.add_post("/api/inventory/adjust", api_inventory.adjust_stock)
    app.router.add_get("/api/reviews", api_reviews.queue)
    app.router.add_post("/api/reviews/{review_id}", api_reviews.decide_review)
    app.router.add_get("/api/events", events.events)
    checkout.add_checkout_routes(app)
    add_telegram_route(app, telegram or TelegramIngress(None))
    return app
