"""`livecart live start|current|end|list`: run a live (or a post sale) from the command line.

livecart live start --page-id P --video-id V --lineup lineup.csv [--platform instagram]
livecart live start --page-id P --post-id P_123 --lineup lineup.csv   # a post sale
livecart live current 3 A3
livecart live end 3
livecart live list
"""

from __future__ import annotations

import argparse
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import live_sessions
from bot.cli.errors import CommandError, load_settings, read_text_file, service_errors
from bot.live_sessions import LiveClash, LiveRefused, LiveSpec
from bot.loop import run_async
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from parsers import LineupError, read_lineup
from storage.models import STANDING_ORDERS, Live, Order

STATUSES = ("live", "replay", "closed")


@dataclass(frozen=True, slots=True)
class LiveLine:
    """What `live list` shows of one live."""

    id: int
    platform: str
    page_id: str
    where: str  # the video or post
    title: str | None
    status: str
    current: str | None
    started_at: datetime
    replay_deadline: datetime | None
    orders: int


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "live", help="start a live or post sale, change its product, end it"
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    start = actions.add_parser("start", help="register a live (or a post sale) and its lineup")
    start.add_argument("--platform", choices=("facebook", "instagram"), default="facebook")
    start.add_argument("--page-id", required=True, help="the Facebook Page or Instagram account")
    start.add_argument("--video-id", help="the live's video id (Instagram: the live media id)")
    start.add_argument(
        "--live-video-id", help="the live video object id, when it differs from the video id"
    )
    start.add_argument("--post-id", help="a post sale: the post's id ({page}_{post}), no video")
    start.add_argument("--title")
    start.add_argument(
        "--lineup", required=True, type=Path, metavar="FILE", help="the lineup CSV (contract.md)"
    )
    start.add_argument(
        "--replace",
        action="store_true",
        help="close a live still taking orders on the same video or post, instead of refusing",
    )
    start.set_defaults(func=run_start)

    current = actions.add_parser("current", help="the product on screen, which '+1' orders")
    current.add_argument("live", type=int, metavar="ID")
    current.add_argument("keyword", nargs="?", help="a lineup keyword such as A3")
    current.add_argument("--clear", action="store_true", help="no product on screen")
    current.set_defaults(func=run_current)

    end = actions.add_parser("end", help="end the live: its replay orders for REPLAY_WINDOW")
    end.add_argument("live", type=int, metavar="ID")
    end.set_defaults(func=run_end)

    listing = actions.add_parser("list", help="lives, newest first")
    listing.add_argument("--status", choices=STATUSES, help="only lives in this state")
    listing.set_defaults(func=run_list)


def run_start(args: argparse.Namespace) -> int:
    if not (args.video_id or args.post_id):
        raise CommandError("a live needs --video-id (or --post-id for a post sale)", exit_code=2)
    lineup = _read_lineup(args.lineup)
    spec = LiveSpec(
        platform=args.platform,
        page_id=args.page_id.strip(),
        video_id=_optional(args.video_id),
        post_id=_optional(args.post_id),
        title=_optional(args.title),
        lineup_csv=lineup,
        live_video_id=_optional(args.live_video_id),
        replace=args.replace,
    )
    settings = load_settings()
    with service_errors(settings):
        line = run_async(_start(settings, spec, args.lineup))
    print(line)
    return 0


def run_current(args: argparse.Namespace) -> int:
    if args.clear == bool(args.keyword):
        raise CommandError("give a lineup keyword (such as A3) or --clear", exit_code=2)
    settings = load_settings()
    with service_errors(settings):
        shown = run_async(_set_current(settings, args.live, None if args.clear else args.keyword))
    print(f"live {args.live}: {shown or 'nothing'} is on screen now")
    return 0


def run_end(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        deadline = run_async(_end(settings, args.live))
    print(
        f"live {args.live} ended: its replay takes orders until "
        f"{_local(deadline, settings.shop_timezone)}"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        lives = run_async(_list(settings, args.status))
    print(format_lives(lives, settings.shop_timezone))
    return 0


def format_lives(lives: list[LiveLine], timezone: str) -> str:
    if not lives:
        return "no lives yet (start one with `livecart live start`)"
    header = ("id", "status", "platform", "page", "video/post", "current", "orders", "started")
    rows = [header] + [
        (
            str(live.id),
            _status(live, timezone),
            live.platform,
            live.page_id,
            live.where,
            live.current or "-",
            str(live.orders),
            _local(live.started_at, timezone) + (f"  {live.title}" if live.title else ""),
        )
        for live in lives
    ]
    # Every column padded but the last, which holds free text (the start time and title).
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


async def _start(settings: Settings, spec: LiveSpec, lineup: Path) -> str:
    async with _runtime(settings) as runtime:
        async with runtime.sessions.begin() as session:
            try:
                live = await live_sessions.start_live(session, spec)
            except LiveClash as clash:
                raise CommandError(f"{clash} (--replace)") from None
            except LiveRefused as refused:
                raise CommandError(f"{lineup}: {refused}") from None
            skus = await live_sessions.lineup_skus(session, live.id)
            line = _started_line(live, len(skus))
        await runtime.stock.restocked(skus)
    return line


async def _set_current(settings: Settings, live_id: int, keyword: str | None) -> str | None:
    async with _runtime(settings) as runtime, runtime.sessions.begin() as session:
        live = await _live(session, live_id)
        try:
            live_sessions.set_current(live, keyword.strip() if keyword else None)
        except LiveRefused as refused:
            raise CommandError(f"live {live_id}: {refused}") from None
        return live.current_keyword


async def _end(settings: Settings, live_id: int) -> datetime:
    async with _runtime(settings) as runtime, runtime.sessions.begin() as session:
        live = await _live(session, live_id)
        try:
            live_sessions.end(live, settings.replay_window)
        except LiveRefused as refused:
            raise CommandError(f"live {live_id}: {refused}") from None
        assert live.replay_deadline is not None  # end() sets it
        return live.replay_deadline


async def _list(settings: Settings, status: str | None) -> list[LiveLine]:
    orders = (
        select(Order.live_id, func.count().label("orders"))
        .where(Order.status.in_(STANDING_ORDERS))
        .group_by(Order.live_id)
        .subquery()
    )
    query = (
        select(Live, func.coalesce(orders.c.orders, 0))
        .outerjoin(orders, orders.c.live_id == Live.id)
        .order_by(Live.id.desc())
    )
    if status is not None:
        query = query.where(Live.status == status)
    async with _runtime(settings) as runtime, runtime.sessions() as session:
        rows = (await session.execute(query)).all()
    return [_live_line(live, int(count)) for live, count in rows]


def _runtime(settings: Settings) -> AbstractAsyncContextManager[Runtime]:
    # The embedded default (SQLite) migrates itself, as `serve` does; PostgreSQL must be
    # migrated by `livecart db upgrade`.
    return open_runtime(settings, migrate=settings.database_url.startswith("sqlite"))


async def _live(session: AsyncSession, live_id: int) -> Live:
    live = await session.get(Live, live_id)
    if live is None:
        raise CommandError(f"there is no live {live_id} (see `livecart live list`)")
    return live


def _started_line(live: Live, skus: int) -> str:
    kind = "live" if live.broadcast else "post sale"
    where = f"video {live.video_id}" if live.broadcast else f"post {live.post_id}"
    extra = f" (live video {live.live_video_id})" if live.live_video_id else ""
    return (
        f"live {live.id} started: {kind} on {live.platform} page {live.page_id}, "
        f"{where}{extra}, {skus} SKUs in the lineup"
    )


def _live_line(live: Live, orders: int) -> LiveLine:
    return LiveLine(
        id=live.id,
        platform=live.platform,
        page_id=live.page_id,
        where=(f"video {live.video_id}" if live.broadcast else f"post {live.post_id}"),
        title=live.title,
        status=live.status,
        current=live.current_keyword,
        started_at=live.started_at,
        replay_deadline=live.replay_deadline,
        orders=orders,
    )


def _status(live: LiveLine, timezone: str) -> str:
    if live.status == "replay" and live.replay_deadline is not None:
        return f"replay until {_local(live.replay_deadline, timezone)}"
    return live.status


def _read_lineup(path: Path) -> str:
    """The lineup's text, refused before anything is opened when a row is malformed."""
    text = read_text_file(path, "the lineup")
    try:
        read_lineup(text)
    except LineupError as error:
        raise CommandError(f"{path}: the lineup is refused: {error}") from None
    return text


def _optional(value: str | None) -> str | None:
    return value.strip() or None if value else None


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
