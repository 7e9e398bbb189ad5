"""The staff bot inside `livecart serve`: off without a token; long polling by default; webhook
mode (updates through POST /webhooks/telegram) when TELEGRAM_WEBHOOK_SECRET is set. Beside it,
the sender delivers the staff outbox. Everything stops when `stop` is set."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from telegram import BotCommand
from telegram.error import InvalidToken, TelegramError

from bot.dispatch.backoff import Backoff
from bot.runtime import Runtime
from bot.settings import Settings
from bot.staffbot.app import ALLOWED_UPDATES, build_application
from bot.staffbot.commands.help import COMMANDS
from bot.staffbot.context import StaffApplication
from bot.staffbot.sender import StaffSender
from bot.staffbot.telegram_calls import Stopped, is_transient, with_retries
from bot.staffbot.webhook import ROUTE, TelegramIngress

log = logging.getLogger("livecart.staffbot")
POLL_TIMEOUT = timedelta(seconds=10)
BOOTSTRAP_RETRIES = 5  # deleteWebhook at the start of polling, on a network hiccup
_START_BACKOFF = Backoff(first=2.0, cap=60.0)


async def run_staff_bot(
    runtime: Runtime, stop: asyncio.Event, ingress: TelegramIngress | None = None
) -> None:
    """Run until `stop` is set. `ingress`: the route's end in webhook mode."""
    settings = runtime.settings
    if settings.telegram_bot_token is None:
        log.info("staff bot off (no TELEGRAM_BOT_TOKEN): reviews are served at /api/reviews")
        return
    webhook = settings.telegram_webhook_secret is not None
    if webhook and (ingress is None or not ingress.enabled):
        log.error("TELEGRAM_WEBHOOK_SECRET is set but POST /webhooks/telegram is not wired")
    application = build_application(runtime, webhook=webhook)
    try:
        await _initialize(application, stop)
    except (TelegramError, Stopped) as why:
        if isinstance(why, InvalidToken):  # its text holds the token: never log it
            log.error("Telegram refused TELEGRAM_BOT_TOKEN: the staff bot is off")
        elif isinstance(why, TelegramError):
            log.error("staff bot could not start (%s): it is off", type(why).__name__)
        await application.bot.shutdown()
        return
    async with _running(application, ingress if webhook else None):
        if webhook:
            await _register_webhook(application, settings)
        await _describe_commands(application)
        sender = StaffSender(runtime.sessions, application.bot, settings.telegram_staff_chats)
        log.info(
            "staff bot on (%s) for %d staff chats",
            "webhook" if webhook else "long polling",
            len(settings.telegram_staff_chats),
        )
        await sender.run(stop)
        await stop.wait()  # the sender returns at once when there are no staff chats


async def _initialize(application: StaffApplication, stop: asyncio.Event) -> None:
    """getMe until Telegram answers (the network may be late at boot); InvalidToken is final."""
    failures = 0
    while True:
        try:
            await application.initialize()
            return
        except TelegramError as error:
            if not is_transient(error):
                raise
            failures += 1
            wait = _START_BACKOFF.delay(failures)
            log.warning("staff bot: Telegram not reachable (%s); again in %.0fs", error, wait)
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            continue
        raise Stopped


@asynccontextmanager
async def _running(
    application: StaffApplication, ingress: TelegramIngress | None
) -> AsyncIterator[None]:
    await application.start()
    try:
        if ingress is not None:
            ingress.attach(application)
        elif application.updater is not None:
            # start_polling calls deleteWebhook first: a webhook left set would refuse polls.
            await application.updater.start_polling(
                timeout=POLL_TIMEOUT,
                allowed_updates=ALLOWED_UPDATES,
                bootstrap_retries=BOOTSTRAP_RETRIES,
            )
        yield
    finally:
        if ingress is not None:
            ingress.detach()
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def _register_webhook(application: StaffApplication, settings: Settings) -> None:
    """Tell Telegram where to post updates (every `serve` process says the same). Telegram
    takes only an https URL it can reach; without one, staff presses never arrive."""
    url = f"{settings.public_url.rstrip('/')}{ROUTE}"
    try:
        await with_retries(
            lambda: application.bot.set_webhook(
                url=url,
                secret_token=settings.telegram_webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            ),
            what="setWebhook",
        )
    except TelegramError as error:
        log.error(
            "staff bot: Telegram refused the webhook %s (%s): staff commands and presses will "
            "not arrive until PUBLIC_URL is an https address Telegram can reach",
            url,
            error,
        )
        return
    log.info("staff bot: Telegram posts updates to %s", url)


async def _describe_commands(application: StaffApplication) -> None:
    """The command menu staff see on their phones; the bot works without it."""
    commands = [BotCommand(name, description) for name, description in COMMANDS]
    try:
        await with_retries(lambda: application.bot.set_my_commands(commands), what="setMyCommands")
    except TelegramError as error:
        log.warning("staff bot: could not set the command menu (%s)", error)
