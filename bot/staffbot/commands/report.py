"""/report [LIVE_ID]: the live's report in short, with its chart as a photo (the only live on,
else the live started last)."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update

from bot.report import LiveReport, build_report
from bot.staffbot.context import StaffContext
from bot.staffbot.live_choice import NOT_CLOSED, NoLiveChosen, choose_live
from bot.staffbot.replying import answer
from bot.staffbot.report_text import report_text
from bot.staffbot.telegram_calls import with_retries
from storage.reports import report_rows
from storage.types import typed_id

log = logging.getLogger("livecart.staffbot")
USAGE = "/report LIVE_ID"
MAX_CAPTION = 1024  # Telegram's limit for a photo's caption


async def send_report(update: Update, context: StaffContext) -> None:
    args = context.args or []
    if len(args) > 1 or (args and typed_id(args[0]) is None):
        await answer(update, context, f"Name the live by its number: {USAGE} (/lives lists them)")
        return
    try:
        report = await _report(context, typed_id(args[0]) if args else None)
    except NoLiveChosen as refused:
        await answer(update, context, str(refused))
        return
    text = report_text(report, context.runtime.settings.shop_timezone)
    chart = await _chart(context, report)
    if chart is None or len(text) > MAX_CAPTION:
        await answer(update, context, text)
    if chart is not None:
        await _send_photo(update, context, chart, text if len(text) <= MAX_CAPTION else None)


async def _report(context: StaffContext, live_id: int | None) -> LiveReport:
    async with context.runtime.sessions() as session:
        live = await choose_live(
            session, live_id, statuses=NOT_CLOSED, usage=USAGE, else_latest=True
        )
        rows = await report_rows(session, live.id)
    assert rows is not None, "the live was just read"
    return build_report(rows)


async def _chart(context: StaffContext, report: LiveReport) -> bytes | None:
    """The chart's PNG, drawn in a thread (it takes a moment); None if it cannot be drawn."""
    try:
        from bot.report_chart import chart_png  # matplotlib loads only when a chart is asked
    except ImportError as missing:
        log.warning("/report without its chart: %s", missing)
        return None
    async with context.bot_data.chart_drawing:
        try:
            return await asyncio.to_thread(chart_png, report)
        except (ValueError, RuntimeError, OSError) as error:
            log.warning("/report without its chart: drawing failed (%s)", error)
            return None


async def _send_photo(
    update: Update, context: StaffContext, chart: bytes, caption: str | None
) -> None:
    chat = update.effective_chat
    assert chat is not None, "commands come from a chat"
    await with_retries(
        lambda: context.bot.send_photo(chat.id, photo=chart, caption=caption),
        what="sending the report chart",
    )
