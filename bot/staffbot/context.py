"""What every staff bot handler shares, typed: the Runtime, the staff chats, refused chats."""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

from telegram.ext import Application, CallbackContext, ExtBot

from bot.runtime import Runtime


class StaffData:
    """`Application.bot_data`. PTB makes it without arguments, so the Runtime is attached by
    `build_application` right after; handlers read it through `StaffContext.runtime`."""

    __slots__ = ("_runtime", "chart_drawing", "refused_chats")

    def __init__(self) -> None:
        self._runtime: Runtime | None = None
        # Chats that already got their one refusal (in memory: a restart may refuse once more).
        self.refused_chats: set[int] = set()
        # matplotlib's settings are process-wide: one chart is drawn at a time.
        self.chart_drawing = asyncio.Lock()

    def attach(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the staff bot's Runtime was not attached (use build_application)")
        return self._runtime


class StaffContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], StaffData]):
    """The callback context of every staff bot handler."""

    @property
    def runtime(self) -> Runtime:
        return self.bot_data.runtime

    @property
    def staff_chats(self) -> frozenset[int]:
        return frozenset(self.runtime.settings.telegram_staff_chats)


StaffApplication: TypeAlias = Application[
    ExtBot[None], StaffContext, dict[Any, Any], dict[Any, Any], StaffData, None
]
