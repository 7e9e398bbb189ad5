"""Running the real pipeline over whatever the queue holds, and feeding it comments."""

from collections.abc import Sequence
from pathlib import Path

from bot.fakes.meta_webhooks import envelope, facebook_comment, signed_body
from bot.live_sessions import LiveSpec, set_current, start_live
from bot.pipeline import Pipeline
from bot.runtime import Runtime


async def drain(runtime: Runtime, *, consumer: str = "test-worker") -> int:
    """Handle and acknowledge queued deliveries until the queue is empty; returns how many."""
    pipeline = Pipeline.for_runtime(runtime)
    handled = 0
    while deliveries := await runtime.queue.take(consumer, 500, 0.01):
        await pipeline.handle(deliveries)
        await runtime.queue.ack([delivery.id for delivery in deliveries])
        handled += len(deliveries)
    return handled


PAGE = "370873143344730"
VIDEO = "690891113073877"
LINEUP = (Path(__file__).parent / "parsers" / "data" / "lineup.csv").read_text(encoding="utf-8")


async def start_test_live(
    runtime: Runtime,
    *,
    lineup: str = LINEUP,
    current: str | None = None,
    video_id: str = VIDEO,
    page_id: str = PAGE,
) -> int:
    async with runtime.sessions.begin() as session:
        live = await start_live(
            session,
            LiveSpec(platform="facebook", page_id=page_id, video_id=video_id, lineup_csv=lineup),
        )
        if current:
            set_current(live, current)
        return live.id


def comment_changes(
    authored: Sequence[tuple[str, str]],
    *,
    start: int = 1,
    video_id: str = VIDEO,
    page_id: str = PAGE,
) -> list[dict[str, object]]:
    """Facebook comments (author, text) numbered from `start`: ids `{video}_{n}`."""
    return [
        facebook_comment(
            page_id=page_id,
            video_id=video_id,
            comment=str(start + n),
            text=text,
            author_id=author,
            author_name=f"Buyer {author}",
        )
        for n, (author, text) in enumerate(authored)
    ]


async def comment_on(
    runtime: Runtime,
    comments: Sequence[tuple[str, str]],
    *,
    start: int = 1,
    video_id: str = VIDEO,
    page_id: str = PAGE,
) -> None:
    """Queue Facebook comments (author, text) the way Meta delivers them, then drain."""
    changes = comment_changes(comments, start=start, video_id=video_id, page_id=page_id)
    await runtime.queue.put(signed_body(envelope("page", [(page_id, changes)]), "x")[0])
    await drain(runtime)
