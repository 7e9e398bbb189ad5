"""Running the real pipeline over whatever the queue holds."""

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
