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


def ordering_state(live: Live, now: datetime, *, instagram_live: bool) -> OrderingState:
    """Whether a comment on `live` arriving now may order.

    The replay orders like the live until its deadline. Instagram live comments can only be
    answered privately while the broadcast is on, so after it they are for staff."""
    if live.status == "closed" or (
        live.status == "replay" and live.replay_deadline is not None and now > live.replay_deadline
    ):
        return "closed"
    if live.status == "replay" and instagram_live:
        return "after_broadcast"
    return "open"
