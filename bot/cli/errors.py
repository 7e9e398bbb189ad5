"""Turning what stops a command into one clear line (never a traceback, never a secret)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.runtime import SchemaNotReady
from bot.settings import Settings, SettingsError


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def read_text_file(path: Path, what: str) -> str:
    """The text of a file a person named (UTF-8, a byte-order mark allowed: spreadsheets save
    one), or a one-line CommandError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CommandError(f"cannot read {what} {path}: {error.strerror}", 2) from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: {what} must be UTF-8 text (save it as UTF-8)", 2) from None


def positive_number(raw: str) -> float:
    """An argparse type: a finite number above zero (`float` alone takes `nan` and `inf`)."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number above zero (got {raw!r})")
    return value


def load_settings() -> Settings:
    """The settings from this process's environment, or a one-line CommandError."""
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as error:
        raise CommandError(str(error), exit_code=2) from None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic narrates every connection at INFO; our own lines say what changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return settings


@contextmanager
def service_errors(settings: Settings) -> Iterator[None]:
    """Connection failures to the database or Redis become one line naming what failed."""
    try:
        yield
    except SchemaNotReady as error:
        raise CommandError(str(error)) from None
    except (OSError, OperationalError, DBAPIError) as error:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise CommandError(f"cannot use the database at {where}: {_first_line(error)}") from None
    except RedisError as error:
        raise CommandError(f"cannot use Redis (REDIS_URL): {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


async def until_stopped(stop: asyncio.Event) -> None:
    """Wait for SIGINT or SIGTERM (or `stop` set by someone else)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
