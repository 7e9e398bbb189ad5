"""`POST /webhooks/telegram`: Telegram's deliveries in webhook mode. Ingress only: check the
secret header (constant-time), read the update, put it on the Application's update queue;
the Application's handlers do the work.

The web process builds the route before the staff bot starts, so the route holds a
`TelegramIngress` that `run_staff_bot` attaches the running Application to.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update

from bot.settings import Settings
from bot.staffbot.context import StaffApplication

log = logging.getLogger("livecart.staffbot")
ROUTE = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


class TelegramIngress:
    def __init__(self, secret: str | None) -> None:
        """`secret`: TELEGRAM_WEBHOOK_SECRET; None turns the route off (404)."""
        self._secret = secret.encode() if secret else None
        self._application: StaffApplication | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramIngress:
        """On only when the bot is configured and set to webhook mode."""
        webhook = settings.telegram_bot_token is not None
        return cls(settings.telegram_webhook_secret if webhook else None)

    @property
    def enabled(self) -> bool:
        return self._secret is not None

    @property
    def attached(self) -> bool:
        """True while a running Application takes the updates."""
        return self._application is not None

    def attach(self, application: StaffApplication) -> None:
        self._application = application

    def detach(self) -> None:
        self._application = None

    async def receive(self, request: web.Request) -> web.Response:
        if self._secret is None:
            raise web.HTTPNotFound
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=403, text="forbidden")
        application = self._application
        if application is None:
            # Starting or stopping: Telegram keeps the update and delivers it again.
            return web.Response(status=503, text="the staff bot is not running")
        update = await _read_update(request, application)
        await application.update_queue.put(update)
        return web.Response(text="ok")


def add_telegram_route(app: web.Application, ingress: TelegramIngress) -> None:
    app.router.add_post(ROUTE, ingress.receive)


async def _read_update(request: web.Request, application: StaffApplication) -> Update:
    try:
        data = json.loads(await request.read())
    except ValueError:
        raise web.HTTPBadRequest(text="the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise web.HTTPBadRequest(text="the body is not a Telegram update")
    try:
        return Update.de_json(data, application.bot)
    except (KeyError, TypeError, ValueError):
        raise web.HTTPBadRequest(text="the body is not a Telegram update") from None
