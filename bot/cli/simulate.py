"""`livecart simulate`: drive a running livecart the way Meta does, and measure its acks."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import aiohttp

from bot.cli.errors import CommandError, load_settings, positive_number, read_text_file
from bot.loop import run_async
from bot.simulation import CommentMix, SendStats, WebhookSender, simulate, viewers
from parsers import LineupError, LineupRow, read_lineup


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "simulate", help="send signed Meta webhook deliveries to a running livecart"
    )
    parser.add_argument("--url", default=None, help="livecart's base URL (default PUBLIC_URL)")
    parser.add_argument("--lineup", required=True, type=Path, help="the live's lineup CSV")
    parser.add_argument("--page-id", required=True)
    parser.add_argument("--video-id", required=True)
    parser.add_argument("--current", default=None, help="the product on screen (bare +1)")
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rate", type=positive_number, default=50.0, help="comments per second")
    parser.add_argument("--duration", type=positive_number, default=30.0, help="seconds")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--log", type=Path, help="write each comment sent (id, viewer, text) as JSON lines"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.meta_app_secret is None:
        raise CommandError("META_APP_SECRET must be set: deliveries are signed with it", 2)
    if args.viewers < 1:
        raise CommandError("--viewers must be above zero", 2)
    rows = _lineup(args.lineup)
    url = (args.url or settings.public_url).rstrip("/") + "/webhooks/meta"
    sender_log: list[tuple[str, str, str]] = []
    stats = run_async(_simulate(args, rows, url, settings.meta_app_secret, sender_log))
    if args.log:
        args.log.write_text(
            "".join(
                json.dumps({"id": c, "viewer": v, "text": t}, ensure_ascii=False) + "\n"
                for c, v, t in sender_log
            ),
            encoding="utf-8",
        )
    elapsed = max(args.duration, 1e-9)
    print(
        f"sent {stats.sent} deliveries in {args.duration:.0f} s: {stats.sent / elapsed:.0f} "
        f"acks/s, ack p50 {stats.percentile(0.5) * 1000:.1f} ms, "
        f"p99 {stats.percentile(0.99) * 1000:.1f} ms, errors {stats.errors}"
    )
    return 0 if stats.errors == 0 else 1


def _lineup(path: Path) -> tuple[LineupRow, ...]:
    try:
        return read_lineup(read_text_file(path, "the lineup"))
    except LineupError as error:
        raise CommandError(f"{path}: {error}", 2) from None


async def _simulate(
    args: argparse.Namespace,
    rows: tuple[LineupRow, ...],
    url: str,
    secret: str,
    sent: list[tuple[str, str, str]],
) -> SendStats:
    rng = random.Random(args.seed)  # noqa: S311 - a repeatable mix, not a secret
    mix = CommentMix(rows, rng=rng, current=args.current)
    async with aiohttp.ClientSession() as http:
        sender = WebhookSender(http, url, secret, page_id=args.page_id, video_id=args.video_id)
        stats = await simulate(
            sender,
            mix,
            viewers(args.viewers, rng),
            rate=args.rate,
            duration=args.duration,
            progress=_bar,
        )
        sent.extend(sender.sent_comments)
        return stats


def _bar(done: float, stats: SendStats) -> None:
    filled = int(done * 30)
    sys.stderr.write(
        f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:4.0%} sent {stats.sent} "
        f"errors {stats.errors}"
    )
    if done >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()
