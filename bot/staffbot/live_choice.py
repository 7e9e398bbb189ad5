"""Which live a host command means: the one named by id, else the only one on now."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Live
from storage.types import typed_id

ON_AIR = ("live",)
NOT_CLOSED = ("live", "replay")


class NoLiveChosen(Exception):
    """The command cannot tell which live it is for; the message says what to do."""


async def open_lives(session: AsyncSession, statuses: Sequence[str] = NOT_CLOSED) -> list[Live]:
    rows = await session.scalars(
        select(Live).where(Live.status.in_(list(statuses))).order_by(Live.started_at, Live.id)
    )
    return list(rows.all())


async def choose_live(
    session: AsyncSession,
    live_id: int | None,
    *,
    statuses: Sequence[str],
    usage: str,
    else_latest: bool = False,
) -> Live:
    """The live `live_id` names; without one, the only live whose status is in `statuses`
    (or with `else_latest`, when there is none, the live started last)."""
    if live_id is not None:
        live = await session.get(Live, live_id)
        if live is None:
            raise NoLiveChosen(f"There is no live {live_id}. /lives lists them.")
        return live
    candidates = await open_lives(session, statuses)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        listed = ", ".join(_name(live) for live in candidates)
        raise NoLiveChosen(f"Several lives are on: {listed}. Say which one: {usage}")
    latest = await _latest(session) if else_latest else None
    if latest is None:
        raise NoLiveChosen("No live is on now.")
    return latest


def live_id_arg(args: Sequence[str]) -> tuple[int | None, list[str]]:
    """A leading number is a live id when more arguments follow it (`/now 3 A1`)."""
    live_id = typed_id(args[0]) if len(args) >= 2 else None
    if live_id is not None:
        return live_id, list(args[1:])
    return None, list(args)


def _name(live: Live) -> str:
    return f"{live.id} ({live.title})" if live.title else str(live.id)


async def _latest(session: AsyncSession) -> Live | None:
    return await session.scalar(
        select(Live).order_by(Live.started_at.desc(), Live.id.desc()).limit(1)
    )
