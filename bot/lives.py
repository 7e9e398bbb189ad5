"""A live's lifecycle as plain rules: live, then replay until its deadline, then closed."""

from __future__ import annotations

from datetime import datetime, timedelta

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
