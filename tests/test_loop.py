"""How every command runs its coroutine (bot/loop.py)."""

import asyncio
import gc

from bot.loop import YOUNG_OBJECTS, run_async

PYTHON_DEFAULT = 700


def test_commands_run_with_a_higher_young_collection_threshold() -> None:
    """A pipeline batch builds a few hundred thousand short-lived objects: at Python's default
    threshold the collector took a tenth of a worker's time."""
    before = gc.get_threshold()
    gc.set_threshold(PYTHON_DEFAULT, *before[1:])
    try:
        assert run_async(asyncio.sleep(0, result="done")) == "done"
        assert gc.get_threshold() == (YOUNG_OBJECTS, *before[1:])
        assert PYTHON_DEFAULT < YOUNG_OBJECTS
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
