"""`livecart live`, `pages` and `report` through the installed console script, as a host runs
them."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from sqlalchemy import select

from bot.fakes.graph_api import FakeGraph
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from storage.models import Comment, Live, OrderLine, Page
from tests.cli import clean_env, livecart, serving
from tests.lives.support import LIVE_VIDEO, PAGE, TOKEN, start_polled_live
from tests.pipeline import LINEUP, VIDEO, comment_on, start_test_live

HEADER = "keyword,sku,name,price,stock,variant,aliases,max_per_buyer\n"
SECRET_TOKEN = "EAAG-never-print-me-0123456789"


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("livecart: ") and "Traceback" not in stderr
    return lines[0]


async def lives_in(database_url: str) -> list[Live]:
    settings = Settings(database_url=database_url)
    async with open_runtime(settings, migrate=False) as runtime, runtime.sessions() as session:
        return list((await session.scalars(select(Live).order_by(Live.id))).all())


async def add_pages(database_url: str, *pages: Page) -> None:
    """Pages as `livecart pages add` leaves them (that command is tested on its own)."""
    settings = Settings(database_url=database_url)
    async with open_runtime(settings, migrate=False) as runtime, runtime.sessions.begin() as s:
        s.add_all(pages)


async def test_live_start_refuses_a_bad_lineup_naming_its_line(
    database_url: str, tmp_path: Path
) -> None:
    lineup = tmp_path / "lineup.csv"
    lineup.write_text(
        HEADER + "A1,A1,經典T恤,390,5,,,\nA2,A2,保溫杯,cheap,5,,,\n", encoding="utf-8"
    )
    result = livecart(
        "live", "start", "--page-id", PAGE, "--video-id", VIDEO, "--lineup", str(lineup),
        env=clean_env(DATABASE_URL=database_url), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    line = one_error_line(result.stderr)
    assert "line 3" in line and "lineup.csv" in line
    assert await lives_in(database_url) == []

    missing = livecart(
        "live", "start", "--page-id", PAGE, "--video-id", VIDEO, "--lineup", "nope.csv",
        env=clean_env(DATABASE_URL=database_url), cwd=tmp_path,
    )  # fmt: skip
    assert missing.returncode != 0 and "nope.csv" in one_error_line(missing.stderr)


async def test_a_live_and_a_post_sale_run_from_the_command_line(
    database_url: str, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=database_url, REPLAY_WINDOW="2h")
    (tmp_path / "lineup.csv").write_text(LINEUP, encoding="utf-8")

    def run(*args: str) -> str:
        result = livecart(*args, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    started = run(
        "live", "start", "--page-id", PAGE, "--video-id", VIDEO, "--live-video-id", LIVE_VIDEO,
        "--lineup", "lineup.csv", "--title", "Friday drop",
    )  # fmt: skip
    assert started.startswith("live 1 started") and "10 SKUs" in started
    assert "A2 is on screen" in run("live", "current", "1", "a2")
    post = run(
        "live", "start", "--page-id", PAGE, "--post-id", f"{PAGE}_555", "--lineup", "lineup.csv"
    )
    assert post.startswith("live 2 started: post sale")
    listed = run("live", "list")
    assert "Friday drop" in listed and f"post {PAGE}_555" in listed and " A2 " in listed
    assert "its replay takes orders until" in run("live", "end", "1")
    assert "replay until" in run("live", "list", "--status", "replay")

    first, second = await lives_in(database_url)
    assert (first.live_video_id, first.status, first.broadcast) == (LIVE_VIDEO, "replay", True)
    assert first.replay_deadline is not None and first.ended_at is not None
    assert (first.replay_deadline - first.ended_at).total_seconds() == 7200
    assert (second.post_id, second.broadcast, second.video_id) == (f"{PAGE}_555", False, None)

    # The live video's id names the same live: a second live on it is refused, then replaces.
    start_again = (
        "live",
        "start",
        "--page-id",
        PAGE,
        "--video-id",
        LIVE_VIDEO,
        "--lineup",
        "lineup.csv",
    )
    clash = livecart(*start_again, env=env, cwd=tmp_path)
    assert clash.returncode != 0
    assert "Live 1 still takes orders" in one_error_line(clash.stderr)
    assert run(*start_again, "--replace").startswith("live 3 started")
    assert [live.status for live in await lives_in(database_url)] == ["closed", "live", "live"]

    unknown = livecart("live", "current", "1", "Z9", env=env, cwd=tmp_path)
    assert unknown.returncode != 0 and "Z9" in one_error_line(unknown.stderr)
    nowhere = livecart("live", "end", "42", env=env, cwd=tmp_path)
    assert nowhere.returncode != 0 and "no live 42" in one_error_line(nowhere.stderr)


async def test_pages_keep_their_tokens_and_never_print_them(
    database_url: str, tmp_path: Path
) -> None:
    env = clean_env(DATABASE_URL=database_url)
    added = livecart(
        "pages", "add", "--page-id", PAGE, "--token", SECRET_TOKEN, "--name", "Main shop",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    from_stdin = livecart(
        "pages", "add", "--platform", "instagram", "--page-id", "17841405726653026",
        "--token", "-", "--language", "en", env=env, cwd=tmp_path, stdin=SECRET_TOKEN + "-ig\n",
    )  # fmt: skip
    renewed = livecart(
        "pages", "add", "--page-id", PAGE, "--token", SECRET_TOKEN + "-2", env=env, cwd=tmp_path
    )
    listed = livecart("pages", "list", env=env, cwd=tmp_path)
    for result in (added, from_stdin, renewed, listed):
        assert result.returncode == 0, result.stderr
        assert SECRET_TOKEN not in result.stdout + result.stderr
    assert "added" in added.stdout and "updated" in renewed.stdout
    assert "Main shop" in listed.stdout and "17841405726653026" in listed.stdout
    assert listed.stdout.count(" set ") == 2

    settings = Settings(database_url=database_url)
    async with open_runtime(settings, migrate=False) as runtime, runtime.sessions() as session:
        pages = {page.page_id: page for page in (await session.scalars(select(Page))).all()}
    assert pages[PAGE].access_token == SECRET_TOKEN + "-2" and pages[PAGE].name == "Main shop"
    instagram = pages["17841405726653026"]
    assert (instagram.platform, instagram.language, instagram.access_token) == (
        "instagram", "en", SECRET_TOKEN + "-ig",
    )  # fmt: skip


async def test_pages_subscribe_installs_the_app_through_the_graph_api(
    database_url: str, tmp_path: Path
) -> None:
    account, account_token = "17841405726653026", "ig-token-17841405"
    async with FakeGraph.running(app_secret="subscribe-secret") as fake:
        fake.add_page(PAGE, TOKEN)
        fake.add_page(account, account_token, platform="instagram")
        env = clean_env(
            DATABASE_URL=database_url, META_GRAPH_URL=fake.url, META_APP_SECRET="subscribe-secret"
        )

        async def cli(*args: str) -> tuple[int, str, str]:
            # facebook-sdk blocks: run it beside the loop that serves the fake.
            done = await asyncio.to_thread(livecart, *args, env=env, cwd=tmp_path)
            return done.returncode, done.stdout, done.stderr

        await add_pages(
            database_url,
            Page(platform="facebook", page_id=PAGE, access_token=TOKEN),
            Page(platform="instagram", page_id=account, access_token=account_token),
            Page(platform="facebook", page_id="999", access_token=SECRET_TOKEN),
        )
        code, out, _ = await cli("pages", "subscribe", PAGE)
        assert code == 0 and "feed, live_videos, messages" in out
        await cli(
            "pages",
            "add",
            "--platform",
            "instagram",
            "--page-id",
            account,
            "--token",
            account_token,
        )
        assert (await cli("pages", "subscribe", account))[0] == 0
        assert fake.subscriptions == {
            PAGE: ("feed", "live_videos", "messages"),
            account: ("comments", "live_comments", "messages"),
        }

        code, out, err = await cli("pages", "subscribe", "999")
        assert code != 0 and "Meta refused" in one_error_line(err)
        assert SECRET_TOKEN not in out + err
        code, _, err = await cli("pages", "subscribe", "12345")
        assert code != 0 and "no access token" in one_error_line(err)


async def test_report_prints_a_summary_and_writes_csv_and_chart(
    database_url: str, tmp_path: Path
) -> None:
    async with open_runtime(Settings(database_url=database_url), migrate=False) as runtime:
        await start_test_live(runtime, current="A2")
        said = [("u1", "+2"), ("u2", "C7+1"), *((f"u{n}", "蘋果+2") for n in range(3, 8))]
        await comment_on(runtime, [*said, ("u8", "hi")])  # 8 apples for 10 wanted
    result = livecart(
        "report", "1", "--csv", "report.csv", "--chart", "report.png",
        env=clean_env(DATABASE_URL=database_url), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "comments     8 from 8 people; 7 read as orders" in out
    assert "sold         11 units, $8,480" in out  # 2 x 590 + 260 + 8 x 880
    assert "waitlist     2 units wanted with no stock ($1,760 more" in out
    assert "sold out" in next(line for line in out.splitlines() if "APPLE-BOX" in line)

    with (tmp_path / "report.csv").open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    by_sku = {row["sku"]: row for row in rows}
    assert by_sku["A2"]["units"] == "2" and by_sku["A2"]["revenue"] == "1180.00"
    assert (
        by_sku["APPLE-BOX"]["name"] == "富士蘋果禮盒" and by_sku["APPLE-BOX"]["sold_out"] == "yes"
    )
    assert by_sku["TOTAL"]["units"] == "11" and by_sku["TOTAL"]["waitlist_units"] == "2"
    png = (tmp_path / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000

    missing = livecart("report", "7", env=clean_env(DATABASE_URL=database_url), cwd=tmp_path)
    assert missing.returncode != 0 and "no live 7" in one_error_line(missing.stderr)


async def test_serve_polls_the_comments_webhooks_never_delivered(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url)
    async with open_runtime(settings, migrate=False) as runtime:
        await start_polled_live(runtime)
    async with FakeGraph.running(app_secret="serve-secret") as fake:
        fake.add_page(PAGE, TOKEN)
        fake.add_live_video(LIVE_VIDEO, PAGE, VIDEO)
        fake.add_comment(LIVE_VIDEO, f"{VIDEO}_1", "A2+1", from_id="u1", from_name="Jane")
        env = clean_env(
            DATABASE_URL=database_url, META_GRAPH_URL=fake.url, META_APP_SECRET="serve-secret"
        )
        with serving(env, tmp_path):
            async with open_runtime(settings, migrate=False) as runtime, asyncio.timeout(20):
                while not await _ordered(runtime):
                    await asyncio.sleep(0.2)


async def _ordered(runtime: Runtime) -> bool:
    async with runtime.sessions() as session:
        line = await session.scalar(
            select(OrderLine.sku)
            .join(Comment, Comment.id == OrderLine.comment_id)
            .where(Comment.source == "poll")
        )
    return line == "A2"
