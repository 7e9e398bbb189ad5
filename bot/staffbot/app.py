"""Builds the staff bot: the python-telegram-bot Application, its handlers, its gate."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from bot.runtime import Runtime
from bot.staffbot.commands.end import end_live
from bot.staffbot.commands.help import show_help
from bot.staffbot.commands.lives import show_lives
from bot.staffbot.commands.now import set_on_screen
from bot.staffbot.commands.queue import show_queue
from bot.staffbot.commands.report import send_report
from bot.staffbot.commands.stock import show_stock
from bot.staffbot.context import StaffApplication, StaffContext, StaffData
from bot.staffbot.gate import GATE_GROUP, stranger_gate
from bot.staffbot.log_privacy import keep_token_out_of_logs
from bot.staffbot.review_press import review_press_handler

log = logging.getLogger("livecart.staffbot")
# Presses and commands are handled side by side: a press waiting out flood control on its
# edits must not hold up the next staff member (decisions are safe at once: bot.reviews).
CONCURRENT_UPDATES = 16
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]


class BotNotConfigured(ValueError):
    """TELEGRAM_BOT_TOKEN is unset: the staff bot is off."""


def build_application(runtime: Runtime, *, webhook: bool = False) -> StaffApplication:
    """Long polling by default; `webhook`: no Updater, updates arrive through the webhook."""
    settings = runtime.settings
    if settings.telegram_bot_token is None:
        raise BotNotConfigured("TELEGRAM_BOT_TOKEN is not set")
    keep_token_out_of_logs(settings.telegram_bot_token)  # before PTB logs its URLs
    api = settings.telegram_api_url
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .context_types(ContextTypes(context=StaffContext, bot_data=StaffData))
        .job_queue(None)
        .concurrent_updates(CONCURRENT_UPDATES)
    )
    if webhook:
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data.attach(runtime)
    register_handlers(application, settings.telegram_staff_chats)
    return application


def register_handlers(application: StaffApplication, staff_chats: tuple[int, ...]) -> None:
    application.add_handler(stranger_gate(), group=GATE_GROUP)
    # The gate already stopped strangers; the filter keeps commands staff-only on their own.
    # New messages only: editing an old "/end" must not end another live.
    staff = filters.Chat(chat_id=list(staff_chats)) & filters.UpdateType.MESSAGE
    commands = {
        "queue": show_queue,
        "lives": show_lives,
        "now": set_on_screen,
        "stock": show_stock,
        "end": end_live,
        "report": send_report,
        "start": show_help,
        "help": show_help,
    }
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=staff))
    application.add_handler(review_press_handler())
    application.add_error_handler(log_error)


async def log_error(update: object, context: StaffContext) -> None:
    where: Any = update.update_id if isinstance(update, Update) else "outside an update"
    log.error("staff bot: handling update %s failed", where, exc_info=context.error)
