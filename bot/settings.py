"""The one settings object: every variable of contract.md, read from the environment once.

Only `Settings.from_env` looks at the environment; everything else receives a `Settings`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePath
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///livecart.db"
_DURATION_PART = re.compile(r"(\d+)\s*(d|h|m|s)", re.IGNORECASE)
_DURATION_WHOLE = re.compile(r"(?:\s*\d+\s*[dhms]\s*)+", re.IGNORECASE)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Longer would be a typo, and some would overflow a date (a replay window added to now).
LONGEST_DURATION = timedelta(days=365)
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """A variable is missing or malformed; the message is one sentence naming it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "livecart"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    livecart_secret: str | None = field(default=None, repr=False)
    staff_token: str | None = field(default=None, repr=False)
    meta_app_secret: str | None = field(default=None, repr=False)
    meta_verify_token: str | None = field(default=None, repr=False)
    meta_page_token: str | None = field(default=None, repr=False)
    meta_graph_url: str = "https://graph.facebook.com"
    meta_graph_version: str = "v25.0"
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = "https://api.telegram.org"
    telegram_staff_chats: tuple[int, ...] = ()
    # Set: Telegram delivers updates to POST /webhooks/telegram with this secret header;
    # unset: the staff bot long-polls.
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    # Staff are told when a SKU's available stock falls to this (and when it sells out).
    low_stock_at: int = 5
    replay_window: timedelta = timedelta(hours=24)
    hold_for: timedelta = timedelta(hours=24)
    log_level: str = "INFO"
    # How long a Redis Stream entry may sit with a silent worker before another takes it over.
    worker_reclaim_after: timedelta = timedelta(seconds=30)
    # Private replies per second per Facebook Page, and per Instagram account during a live.
    reply_rate_per_page: float = 40.0
    reply_rate_instagram_live: float = 100.0
    # Private replies per hour per Instagram account to comments on posts and reels (replays).
    reply_limit_instagram_posts: int = 750
    # A short public reply under the comment ("已私訊您 / Sent you a message"); never on IG live.
    public_replies: bool = False
    central_store_url: str | None = None
    central_store_secret: str | None = field(default=None, repr=False)
    # The shop's own web store: where buyers are sent once a replay has closed.
    shop_url: str | None = None
    # Where buyers may pick up their order (checkout offers these, or delivery).
    pickup_shops: tuple[str, ...] = ("台北門市 Taipei", "台中門市 Taichung")
    # The shop's time zone: hold times in replies and pages are shown in it.
    shop_timezone: str = "Asia/Taipei"
    # How often expired holds are released and closed replays closed.
    sweep_every: timedelta = timedelta(seconds=5)
    # How often live comments are also polled from the Graph API (webhooks lose some).
    poll_every: timedelta = timedelta(seconds=5)

    @property
    def inbox_database_url(self) -> str | None:
        """SQLite: the embedded queue's own file beside the database (`livecart.db` ->
        `livecart.inbox.db`), so a webhook never waits for the pipeline's write lock.
        PostgreSQL has no database-wide write lock: the inbox stays in the database."""
        url = make_url(self.database_url)
        if url.drivername != "sqlite+aiosqlite" or not url.database:
            return None
        path = PurePath(url.database)
        inbox = path.with_name(f"{path.stem}.inbox{path.suffix}")
        return url.set(database=str(inbox)).render_as_string(hide_password=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and check every variable; raise SettingsError on the first bad one."""
        host = _text(env, "HOST", "127.0.0.1")
        port = _port(env.get("PORT", "8080"))
        return cls(
            database_url=database_url(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            redis_url=_redis_url(env.get("REDIS_URL")),
            redis_prefix=_text(env, "LIVECART_REDIS_PREFIX", "livecart"),
            host=host,
            port=port,
            public_url=_http_url("PUBLIC_URL", env.get("PUBLIC_URL") or f"http://{host}:{port}"),
            livecart_secret=_optional(env, "LIVECART_SECRET"),
            staff_token=_optional(env, "STAFF_TOKEN"),
            meta_app_secret=_optional(env, "META_APP_SECRET"),
            meta_verify_token=_optional(env, "META_VERIFY_TOKEN"),
            meta_page_token=_optional(env, "META_PAGE_TOKEN"),
            meta_graph_url=_http_url(
                "META_GRAPH_URL", env.get("META_GRAPH_URL", "https://graph.facebook.com")
            ),
            meta_graph_version=_graph_version(env.get("META_GRAPH_VERSION", "v25.0")),
            telegram_bot_token=_optional(env, "TELEGRAM_BOT_TOKEN"),
            telegram_api_url=_http_url(
                "TELEGRAM_API_URL", env.get("TELEGRAM_API_URL", "https://api.telegram.org")
            ),
            telegram_staff_chats=_chat_ids(env.get("TELEGRAM_STAFF_CHATS", "")),
            telegram_webhook_secret=_webhook_secret(env.get("TELEGRAM_WEBHOOK_SECRET", "")),
            low_stock_at=_count("LOW_STOCK_AT", env.get("LOW_STOCK_AT", "5")),
            replay_window=duration("REPLAY_WINDOW", env.get("REPLAY_WINDOW", "24h")),
            hold_for=duration("HOLD_FOR", env.get("HOLD_FOR", "24h")),
            log_level=_log_level(env.get("LOG_LEVEL", "INFO")),
            worker_reclaim_after=duration(
                "WORKER_RECLAIM_AFTER", env.get("WORKER_RECLAIM_AFTER", "30s")
            ),
            reply_rate_per_page=_rate("REPLY_RATE_PER_PAGE", env.get("REPLY_RATE_PER_PAGE", "40")),
            reply_rate_instagram_live=_rate(
                "REPLY_RATE_INSTAGRAM_LIVE", env.get("REPLY_RATE_INSTAGRAM_LIVE", "100")
            ),
            reply_limit_instagram_posts=_per_hour(
                "REPLY_LIMIT_INSTAGRAM_POSTS", env.get("REPLY_LIMIT_INSTAGRAM_POSTS", "750")
            ),
            public_replies=_flag("PUBLIC_REPLIES", env.get("PUBLIC_REPLIES", "off")),
            central_store_url=_optional_url(env, "CENTRAL_STORE_URL"),
            central_store_secret=_optional(env, "CENTRAL_STORE_SECRET"),
            shop_url=_optional_url(env, "SHOP_URL"),
            shop_timezone=_timezone(env.get("SHOP_TIMEZONE", "Asia/Taipei")),
            pickup_shops=_shops(env.get("PICKUP_SHOPS", "台北門市 Taipei,台中門市 Taichung")),
            sweep_every=duration("SWEEP_EVERY", env.get("SWEEP_EVERY", "5s")),
            poll_every=duration("POLL_EVERY", env.get("POLL_EVERY", "5s")),
        )


def database_url(raw: str) -> str:
    """Normalize to an async driver URL; `postgres://` (as hosts hand it out) is accepted."""
    value = raw.strip()
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if value.startswith(prefix):
            value = replacement + value[len(prefix) :]
    try:
        url = make_url(value)
    except ArgumentError:
        url = None
    if url is None or url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise SettingsError(
            "DATABASE_URL",
            "must be sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB",
        )
    if url.drivername == "postgresql+asyncpg" and not url.database:
        raise SettingsError("DATABASE_URL", "names no database (add /DBNAME at the end)")
    if url.drivername == "sqlite+aiosqlite" and not url.database:
        raise SettingsError("DATABASE_URL", "names no SQLite file (sqlite+aiosqlite:///FILE)")
    return value


def duration(variable: str, raw: str) -> timedelta:
    """`90s`, `2h`, `24h`, `1h30m`, `7d`: a positive length of time."""
    text = raw.strip()
    if not _DURATION_WHOLE.fullmatch(text):
        raise SettingsError(variable, f"must be a duration like 90s, 30m, 2h or 24h (got {raw!r})")
    seconds = sum(int(n) * _UNIT_SECONDS[unit.lower()] for n, unit in _DURATION_PART.findall(text))
    if seconds <= 0:
        raise SettingsError(variable, "must be longer than zero")
    if seconds > LONGEST_DURATION.total_seconds():
        raise SettingsError(variable, f"must be at most {LONGEST_DURATION.days} days (got {raw!r})")
    return timedelta(seconds=seconds)


def _text(env: Mapping[str, str], variable: str, default: str) -> str:
    value = env.get(variable, default).strip()
    if not value:
        raise SettingsError(variable, "is empty")
    return value


def _optional(env: Mapping[str, str], variable: str) -> str | None:
    value = env.get(variable, "").strip()
    return value or None


def _port(raw: str) -> int:
    if not _is_whole_number(raw) or not 0 < int(raw) < 65536:
        raise SettingsError("PORT", f"must be a whole number from 1 to 65535 (got {raw!r})")
    return int(raw)


def _http_url(variable: str, raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(variable, f"must be an http:// or https:// URL (got {raw!r})")
    return raw.strip().rstrip("/")


def _redis_url(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if urlsplit(raw.strip()).scheme not in ("redis", "rediss", "unix"):
        # The URL may hold a password: never echo it.
        raise SettingsError("REDIS_URL", "must start with redis://, rediss:// or unix://")
    return raw.strip()


def _graph_version(raw: str) -> str:
    if not re.fullmatch(r"v\d+\.\d+", raw.strip()):
        raise SettingsError("META_GRAPH_VERSION", f"must look like v25.0 (got {raw!r})")
    return raw.strip()


def _chat_ids(raw: str) -> tuple[int, ...]:
    ids = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
    if not all(re.fullmatch(r"-?\d+", part) for part in ids):
        raise SettingsError(
            "TELEGRAM_STAFF_CHATS", "must be chat ids separated by commas (e.g. 12345,-100987)"
        )
    return tuple(int(part) for part in ids)


def _shops(raw: str) -> tuple[str, ...]:
    shops = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not shops:
        raise SettingsError("PICKUP_SHOPS", "must name at least one shop (separated by commas)")
    return shops


def _webhook_secret(raw: str) -> str | None:
    if not raw.strip():
        return None
    # Telegram accepts only these characters in a webhook secret token.
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", raw.strip()):
        raise SettingsError(
            "TELEGRAM_WEBHOOK_SECRET", "may hold only letters, digits, _ and - (1-256 of them)"
        )
    return raw.strip()


def _count(variable: str, raw: str) -> int:
    if not _is_whole_number(raw):
        raise SettingsError(variable, f"must be a whole number, 0 or more (got {raw!r})")
    return int(raw)


def _is_whole_number(raw: str) -> bool:
    """ASCII digits only: `²` is a digit to `str.isdigit`, not to `int`; and at most 9 of
    them, far past any count or port a setting holds."""
    text = raw.strip()
    return text.isascii() and text.isdigit() and len(text) <= 9


def _rate(variable: str, raw: str) -> float:
    try:
        rate = float(raw)
    except ValueError:
        rate = 0.0
    if not 0 < rate <= 10000:
        raise SettingsError(
            variable, f"must be a number of messages per second above 0 (got {raw!r})"
        )
    return rate


def _per_hour(variable: str, raw: str) -> int:
    if not _is_whole_number(raw) or int(raw) == 0:
        raise SettingsError(
            variable, f"must be a whole number of messages per hour above 0 (got {raw!r})"
        )
    return int(raw)


def _flag(variable: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no", ""):
        return False
    raise SettingsError(variable, f"must be on or off (got {raw!r})")


def _optional_url(env: Mapping[str, str], variable: str) -> str | None:
    raw = env.get(variable, "").strip()
    return _http_url(variable, raw) if raw else None


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            "SHOP_TIMEZONE", f"must be a time zone like Asia/Taipei (got {raw!r})"
        ) from None
    return raw.strip()


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in _LOG_LEVELS:
        raise SettingsError("LOG_LEVEL", f"must be one of {', '.join(_LOG_LEVELS)}")
    return level
