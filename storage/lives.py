"""Finding the live a comment belongs to, by whichever id arrives with it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Live
from storage.types import utcnow

OPEN_STATUSES = ("live", "replay")
# A comment may still get a private reply for 7 days, so a closed live keeps answering
# "ordering has closed" that long.
ANSWERED_AFTER_CLOSE = timedelta(days=7)


async def open_lives(session: AsyncSession) -> list[Live]:
    """Lives whose comments still get an answer: live, replay, or closed less than a week."""
    recently = utcnow() - ANSWERED_AFTER_CLOSE
    result = await session.scalars(
        select(Live).where(
            or_(
                Live.status.in_(OPEN_STATUSES),
                and_(Live.status == "closed", Live.replay_deadline > recently),
            )
        )
    )
    return list(result.all())


class LiveIndex:
    """Lives by every id Meta may name them with: video, live video, post and media ids."""

    def __init__(self, lives: Iterable[Live]) -> None:
        self._by_id: dict[tuple[str, str], Live] = {}
        for live in sorted(lives, key=lambda live: live.id):
            for ident in (live.video_id, live.live_video_id, live.post_id, live.media_id):
                if ident:
                    self._by_id[(live.platform, ident)] = live

    def find(
        self,
        platform: str,
        *,
        post_id: str | None = None,
        media_id: str | None = None,
        comment_id: str | None = None,
    ) -> Live | None:
        for ident in _candidate_ids(post_id, media_id, comment_id):
            live = self._by_id.get((platform, ident))
            if live is not None:
                return live
        return None

    def by_video(self, platform: str, video_id: str) -> Live | None:
        return self._by_id.get((platform, video_id))


def _candidate_ids(post_id: str | None, media_id: str | None, comment_id: str | None) -> list[str]:
    ids: list[str] = []
    if media_id:
        ids.append(media_id)
    if post_id:
        # `{page_id}_{video_id}`: the post itself, then the video part.
        ids += [post_id, post_id.split("_", 1)[-1]]
    if comment_id and "_" in comment_id:
        # Facebook comment ids are `{post_or_video_id}_{comment}`.
        ids.append(comment_id.split("_", 1)[0])
    return ids
