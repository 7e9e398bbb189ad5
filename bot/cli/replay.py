"""`livecart replay --live ID`: run a live's stored comments through the pipeline again.

Idempotent: comments already processed stay as they are; received or failed ones are processed.
"""

from __future__ import annotations

import argparse

from sqlalchemy import select

from bot.cli.errors import CommandError, load_settings, service_errors
from bot.loop import run_async
from bot.pipeline import Pipeline
from bot.runtime import open_runtime
from bot.settings import Settings
from storage.models import Comment, Live


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "replay", help="re-run a live's stored comments through the pipeline (idempotent)"
    )
    parser.add_argument("--live", type=int, required=True, metavar="ID", help="the live's id")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        stored, processed = run_async(replay(settings, args.live))
    print(
        f"live {args.live}: {stored} stored comment events, {processed} processed now, "
        f"{stored - processed} already processed before"
    )
    return 0


async def replay(settings: Settings, live_id: int) -> tuple[int, int]:
    async with open_runtime(settings, migrate=False) as runtime:
        async with runtime.sessions() as session:
            if await session.get(Live, live_id) is None:
                raise CommandError(f"there is no live {live_id}")
            keys = (
                await session.execute(
                    select(Comment.platform, Comment.comment_id, Comment.verb)
                    .where(Comment.live_id == live_id)
                    .order_by(Comment.id)
                )
            ).all()
        processed = await Pipeline.for_runtime(runtime).process([(p, c, v) for p, c, v in keys])
        return len(keys), processed
