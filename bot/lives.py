"""A live's lifecycle as plain rules: live, then replay until its deadline, then closed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from storage.models import Live

# Meta's live video statuses after which the broadcast is over and the replay takes orders.
ENDED_STATUSES = frozenset({"LIVE_STOPPED", "VOD", "PROCESSING"})


def end_live(live: Live, now: datetime, replay_window: timedelta) -> bool:
    """Move a broadcasting live to its replay; False when it had already ended."""
    if live.status != "live":
        return False
    live.status = "replay"
    live.ended_at = now
    live.replay_deadline = now + replay_window
    return True


def follow_platform_status(
    live: Live, platform_status: str, now: datetime, replay_window: timedelta
) -> bool:
    """Apply a `live_videos` status change (any case); True when the live changed."""
    if platform_status.upper() in ENDED_STATUSES:
        return end_live(live, now, replay_window)
    return False


OrderingState = Literal["open", "closed", "after_broadcast"]


def ordering_state(live: Live, written: datetime, *, instagram_live: bool) -> OrderingState:
    """Whether a comment on `live` written at `written` may order, however late it is handled
    (a backlog, a late webhook).

    The replay orders like the live until its deadline. Instagram live comments can only be
    answered privately while the broadcast is on, so once it is off (whenever they were
    written) they are for staff."""
    ended = live.status != "live"
    if live.status == "closed" and live.replay_deadline is None:
        return "closed"
    if ended and live.replay_deadline is not None and written > live.replay_deadline:
        return "closed"
    if instagram_live and ended:
        return "after_broadcast"
    return "open"


def written_at(created_time: datetime | None, received_at: datetime) -> datetime:
    """When a comment was written: Meta's time, unless our clock says it came earlier."""
    return received_at if created_time is None else min(created_time, received_at)
