"""`livecart outbox status` and `livecart outbox retry` on a real database."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import outbox
from bot.cli.errors import CommandError
from storage.db import create_engine, session_factory
from storage.outbox import Refusal, claim_due, mark_dead, mark_sent
from tests.cli import clean_env, livecart
from tests.dispatch.support import PAGE, add_replies, add_store_events, statuses


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="livecart")
    outbox.register(parser.add_subparsers(required=True))
    args = parser.parse_args(list(argv))
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


async def seed(database_url: str) -> None:
    """Replies: 1 sent, 1 dead, 1 pending; store events: 2 dead."""
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        await add_replies(sessions, PAGE, ["a", "b", "c"])
        await add_store_events(sessions, [(1, "order.reserved"), (2, "order.reserved")])
        async with sessions.begin() as session:
            claimed = await claim_due(
                session, ("reply", "store_event"), limit=10, lease=timedelta(0)
            )
            by_key = {m.key: m.id for m in claimed}
            await mark_sent(session, [by_key["reply:facebook:a"]])
            dead = [by_key["reply:facebook:b"], *(m.id for m in claimed if m.kind == "store_event")]
            await mark_dead(session, [Refusal(i, "parked") for i in dead])
    finally:
        await engine.dispose()


async def count(database_url: str, kind: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        return await statuses(session_factory(engine), kind)
    finally:
        await engine.dispose()


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    asyncio.run(seed(database_url))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return database_url


def test_status_counts_per_kind_and_status(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("outbox", "status") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["kind", "pending", "sent", "failed", "dead"]
    assert lines[1].split() == ["reply", "1", "1", "0", "1"]
    assert lines[2].split() == ["store_event", "0", "0", "0", "2"]
    assert len(lines) == 3


def test_retry_revives_dead_messages_of_a_kind_then_all(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("outbox", "retry", "--kind", "store_event") == 0
    assert capsys.readouterr().out.strip() == "2 dead store_event messages are pending again"
    assert asyncio.run(count(seeded, "store_event")) == {"pending": 2}
    assert asyncio.run(count(seeded, "reply")) == {"sent": 1, "dead": 1, "pending": 1}
    assert run_cli("outbox", "retry") == 0
    assert capsys.readouterr().out.strip() == "1 dead messages are pending again"
    assert asyncio.run(count(seeded, "reply")) == {"sent": 1, "pending": 2}


def test_an_unknown_kind_is_refused_by_the_parser(seeded: str) -> None:
    with pytest.raises(SystemExit):
        run_cli("outbox", "retry", "--kind", "sms")


def test_an_unmigrated_database_is_one_clear_line(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(CommandError, match="livecart db upgrade"):
        run_cli("outbox", "status")


def test_the_empty_outbox_says_so() -> None:
    assert outbox.format_counts({}) == "the outbox is empty"


def test_the_installed_command(seeded: str, tmp_path: Path) -> None:
    result = livecart("outbox", "status", env=clean_env(DATABASE_URL=seeded), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split() == ["reply", "1", "1", "0", "1"]
