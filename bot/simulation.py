"""A realistic comment mix for a lineup, and a sender that delivers it the way Meta does.

The mix follows ../shared/docs/parsing.md: orders in all their forms, bare "+1" for the product
on screen, variants, several items, cancels, chatter, questions. Seeded, so a run can be repeated.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from bot.fakes.meta_webhooks import envelope, facebook_comment, signed_body
from parsers import LineupRow

QUANTITY_FORMS = (
    "+{n}",
    " +{n}",
    "x{n}",
    " x {n}",
    "*{n}",
    " {n}件",
    " {n}個",
    "+{n} 謝謝",
    " 要{n}",
    " qty {n}",
)
CHINESE = {1: "一", 2: "兩", 3: "三"}
CHATTER = (
    "好漂亮😍",
    "主播好美",
    "哈哈哈哈",
    "今天好多好東西",
    "👍👍👍",
    "有人住台中嗎",
    "第一次看直播",
)
QUESTIONS = ("{k}還有嗎?", "{k}多少錢", "請問{k}是什麼顏色", "How much is {k}?", "有{k}嗎")


@dataclass(frozen=True, slots=True)
class Viewer:
    id: str
    name: str


@dataclass(slots=True)
class CommentMix:
    """Draws comments for a lineup; `current` is the keyword on screen (bare "+1" orders it)."""

    rows: Sequence[LineupRow]
    rng: random.Random = field(default_factory=lambda: random.Random(2026))  # noqa: S311 - a repeatable mix, not a secret
    current: str | None = None

    def keywords(self) -> list[str]:
        return list(dict.fromkeys(row.keyword for row in self.rows))

    def comment(self) -> str:
        roll = self.rng.random()
        keyword = self.rng.choice(self.keywords())
        if roll < 0.45:
            return self.order(keyword)
        if roll < 0.60 and self.current:
            return self.rng.choice(("+1", "+1", "+2", "我也要 +1", "加1", "mine"))
        if roll < 0.70:
            return self.order(keyword) + "，" + self.order(self.rng.choice(self.keywords()))
        if roll < 0.76:
            return self.rng.choice(("取消{k}", "{k} 不要了", "cancel {k}")).format(k=keyword)
        if roll < 0.88:
            return self.rng.choice(CHATTER)
        return self.rng.choice(QUESTIONS).format(k=keyword)

    def order(self, keyword: str) -> str:
        rows = [row for row in self.rows if row.keyword == keyword]
        row = self.rng.choice(rows)
        name = self.rng.choice((keyword, keyword, *row.aliases)) if row.aliases else keyword
        variant = " ".join(self.rng.choice(spellings) for spellings in row.variant_values)
        n = self.rng.choice((1, 1, 1, 2, 3))
        if self.rng.random() < 0.15 and n in CHINESE:
            quantity = f" {CHINESE[n]}個"
        else:
            quantity = self.rng.choice(QUANTITY_FORMS).format(n=n)
        return f"{name} {variant}{quantity}" if variant else f"{name}{quantity}"


@dataclass(slots=True)
class SendStats:
    sent: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        return percentile(self.latencies, share)


def percentile(latencies: Sequence[float], share: float) -> float:
    """The latency under which `share` of them fall (0.5: the median, 0.99: p99)."""
    if len(latencies) < 2:
        return latencies[0] if latencies else 0.0
    return statistics.quantiles(latencies, n=100)[int(share * 100) - 1]


class WebhookSender:
    """Posts signed Facebook comment deliveries to a livecart, recording each ack's latency."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        app_secret: str,
        *,
        page_id: str,
        video_id: str,
    ) -> None:
        self._http = http
        self._url = url
        self._secret = app_secret
        self._page_id = page_id
        self._video_id = video_id
        self._next = 0
        self.stats = SendStats()
        # Every comment sent once (duplicates excluded): (comment id, viewer id, text).
        self.sent_comments: list[tuple[str, str, str]] = []

    def changes(self, comments: Sequence[tuple[Viewer, str]]) -> list[dict[str, object]]:
        batch = []
        for viewer, text in comments:
            self._next += 1
            self.sent_comments.append((f"{self._video_id}_sim{self._next}", viewer.id, text))
            batch.append(
                facebook_comment(
                    page_id=self._page_id,
                    video_id=self._video_id,
                    comment=f"sim{self._next}",
                    text=text,
                    author_id=viewer.id,
                    author_name=viewer.name,
                )
            )
        return batch

    async def send(self, changes: Sequence[dict[str, object]], *, twice: bool = False) -> None:
        body, headers = signed_body(envelope("page", [(self._page_id, changes)]), self._secret)
        for _ in range(2 if twice else 1):
            started = time.perf_counter()
            try:
                async with self._http.post(self._url, data=body, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            self.stats.latencies.append(time.perf_counter() - started)
            self.stats.sent += 1
            self.stats.errors += 0 if ok else 1


def viewers(count: int, rng: random.Random) -> list[Viewer]:
    given = ("小美", "阿明", "Jane", "怡君", "Kevin", "佩珊", "志豪", "Amy", "雅婷", "Leo")
    return [Viewer(f"viewer{n}", f"{rng.choice(given)}{n}") for n in range(count)]


async def simulate(
    sender: WebhookSender,
    mix: CommentMix,
    audience: Sequence[Viewer],
    *,
    rate: float,
    duration: float,
    concurrency: int = 64,
    duplicate_share: float = 0.02,
    progress: Callable[[float, SendStats], None] | None = None,
) -> SendStats:
    """Comments at `rate` per second for `duration` seconds, in deliveries of one to five
    changes (Meta batches), some delivered twice (Meta retries)."""
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()
    queued = 0
    while (elapsed := time.monotonic() - started) < duration:
        due = int(rate * elapsed) - queued
        while due > 0:
            size = min(due, mix.rng.randint(1, 5))
            comments = [(mix.rng.choice(audience), mix.comment()) for _ in range(size)]
            twice = mix.rng.random() < duplicate_share
            await slots.acquire()
            task = asyncio.create_task(_send(sender, comments, twice, slots))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            queued += size
            due -= size
        if progress is not None:
            progress(elapsed / duration, sender.stats)
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)
    if progress is not None:
        progress(1.0, sender.stats)
    return sender.stats


async def _send(
    sender: WebhookSender,
    comments: Sequence[tuple[Viewer, str]],
    twice: bool,
    slots: asyncio.Semaphore,
) -> None:
    try:
        await sender.send(sender.changes(comments), twice=twice)
    finally:
        slots.release()
