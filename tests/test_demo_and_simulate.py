"""`livecart demo` from the installed command, and `livecart simulate` against `livecart serve`."""

import asyncio
import json
import re
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from parsers import compile_lineup, parse_comment, read_lineup
from storage.db import create_engine, session_factory
from storage.models import OutboxMessage
from tests.cli import clean_env, livecart, serving, start_live_over_api
from tests.pipeline import LINEUP, PAGE, VIDEO


def test_the_demo_runs_a_sale_and_reports_it(tmp_path: Path) -> None:
    result = livecart(
        "demo", "--seconds", "4", "--rate", "15", env=clean_env(), cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "=== report ===" in out
    received, processed = map(
        int, re.search(r"comments received (\d+), processed (\d+)", out).groups()
    )  # type: ignore[union-attr]
    assert received == processed > 20
    assert int(re.search(r"orders (\d+)", out.split("=== report ===")[1]).group(1)) > 0  # type: ignore[union-attr]
    assert int(re.search(r"replies sent to buyers (\d+)", out).group(1)) > 0  # type: ignore[union-attr]
    assert re.search(r"http://127\.0\.0\.1:\d+/checkout/\d+-\S+", out)


async def test_simulate_against_serve_orders_what_it_sent(tmp_path: Path) -> None:
    secret, staff = "sim-secret", "sim-staff"
    env = clean_env(META_APP_SECRET=secret, STAFF_TOKEN=staff)
    lineup = tmp_path / "lineup.csv"
    lineup.write_text(LINEUP, encoding="utf-8")
    headers = {"Authorization": f"Bearer {staff}"}
    with serving(env, tmp_path) as base:
        async with aiohttp.ClientSession() as http:
            live = await start_live_over_api(http, base, staff)
            await http.post(
                f"{base}/api/lives/{live['id']}/current", headers=headers, json={"keyword": "C7"}
            )
            sent = await asyncio.to_thread(
                livecart,
                "simulate",
                "--url",
                base,
                "--lineup",
                str(lineup),
                "--page-id",
                PAGE,
                "--video-id",
                VIDEO,
                "--current",
                "C7",
                "--rate",
                "40",
                "--duration",
                "3",
                "--log",
                str(tmp_path / "sent.jsonl"),
                env={**env, "PUBLIC_URL": base},
                cwd=tmp_path,
            )
            assert sent.returncode == 0, sent.stderr
            assert "errors 0" in sent.stdout
            logged = [
                json.loads(line)
                for line in (tmp_path / "sent.jsonl").read_text(encoding="utf-8").splitlines()
            ]
            figures = {}
            for _ in range(200):
                async with http.get(f"{base}/api/lives/{live['id']}", headers=headers) as r:
                    figures = await r.json()
                if figures["comments_processed"] == len(logged):
                    break
                await asyncio.sleep(0.1)
    assert figures["comments_received"] == figures["comments_processed"] == len(logged)
    compiled = compile_lineup(read_lineup(LINEUP))
    ordering = sum(parse_comment(c["text"], compiled, "C7").status == "order" for c in logged)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'livecart.db'}")
    async with session_factory(engine)() as session:
        replies = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "reply")
        )
    await engine.dispose()
    assert ordering > 0
    assert replies == ordering  # each order comment answered once; nothing else answered
