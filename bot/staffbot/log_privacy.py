"""The bot token never reaches the logs. It sits in every Bot API URL, and two libraries log
URLs: python-telegram-bot when it builds a bot (DEBUG) and httpx for every request (INFO)."""

from __future__ import annotations

import logging

# The loggers that write Bot API URLs (the bot classes log their URLs under these names).
URL_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot", "httpx")
REDACTED = "<TELEGRAM_BOT_TOKEN>"


class TokenRedactor(logging.Filter):
    """Rewrites a record's message with the token replaced (keeps the record)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, REDACTED), None
        return True


def keep_token_out_of_logs(token: str) -> None:
    """Idempotent: one redactor per logger and token, however many bots are built."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactor) and f.token == token for f in logger.filters):
            logger.addFilter(TokenRedactor(token))
    # httpx also writes a line per request at INFO: a long poll every few seconds is noise.
    httpx_log = logging.getLogger("httpx")
    if httpx_log.getEffectiveLevel() < logging.WARNING:
        httpx_log.setLevel(logging.WARNING)
