"""The fake Graph API set up as the Graph tests use it: two Facebook Pages, one Instagram
account, one live video on each, and helpers that fill a live with comments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from bot.fakes.graph_api import FakeGraph

APP_SECRET = "graph-test-app-secret"
PAGE, TOKEN = "370873143344730", "page-token-370873"
OTHER_PAGE, OTHER_TOKEN = "480873143344731", "page-token-480873"
IG, IG_TOKEN = "17841405726653026", "ig-token-17841405"
LIVE, VIDEO = "10159659015335730", "690891113073877"
IG_LIVE, IG_MEDIA = "17900000000000001", "76543987"
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@asynccontextmanager
async def running_fake(*, strict: bool = False) -> AsyncIterator[FakeGraph]:
    async with FakeGraph.running(app_secret=APP_SECRET, strict=strict) as fake:
        fake.add_page(PAGE, TOKEN)
        fake.add_page(OTHER_PAGE, OTHER_TOKEN)
        fake.add_page(IG, IG_TOKEN, platform="instagram")
        fake.add_live_video(LIVE, PAGE, VIDEO, title="Friday drop")
        fake.add_live_video(IG_LIVE, IG, IG_MEDIA)
        yield fake


def add_comments(
    fake: FakeGraph, count: int, *, live: str = LIVE, start: datetime | None = None
) -> list[str]:
    """`count` comments one second apart (oldest first); returns their ids in that order."""
    first = start or datetime.now(UTC) - timedelta(hours=1)
    ids = []
    for n in range(count):
        comment_id = f"{VIDEO}_{700000 + n}"
        fake.add_comment(
            live,
            comment_id,
            f"A{n % 9 + 1}+{n % 3 + 1}",
            from_id=f"6780462125{n:06d}",
            from_name=f"Buyer {n}",
            created_time=first + timedelta(seconds=n),
        )
        ids.append(comment_id)
    return ids
