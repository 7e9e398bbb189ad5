"""`livecart pages add|list|subscribe`: the Facebook Pages and Instagram accounts a shop sells
on, each with its own access token (tokens are stored, never printed).

    livecart pages add --platform facebook --page-id 1001 --token EAAG... --name "My shop"
    livecart pages add --platform instagram --page-id 1784... --token - < token.txt
    livecart pages list
    livecart pages subscribe 1001      # install the app on the Page for its webhooks
"""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

import facebook
import requests
from sqlalchemy import select

from bot.cli.errors import CommandError, load_settings, service_errors
from bot.graph import appsecret_proof
from bot.graph.client import normalize_version
from bot.loop import run_async
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from storage.models import Page

Platform = Literal["facebook", "instagram"]
PLATFORMS: tuple[Platform, ...] = ("facebook", "instagram")
LANGUAGES = ("zh-Hant", "en")
# The webhook fields livecart reads (platforms.md §1, "Installing the app on a Page").
SUBSCRIBED_FIELDS: dict[str, tuple[str, ...]] = {
    "facebook": ("feed", "live_videos", "messages"),
    "instagram": ("comments", "live_comments", "messages"),
}
SUBSCRIBE_TIMEOUT = 15.0
FROM_STDIN = "-"  # `--token -`: keeps the token out of the shell history and process list


@dataclass(frozen=True, slots=True)
class PageLine:
    platform: str
    page_id: str
    name: str | None
    language: str
    token: str  # "set", "none" or "refused": never the token itself


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("pages", help="Pages and Instagram accounts, with their tokens")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add a Page or account, or give it a new token")
    add.add_argument("--platform", choices=PLATFORMS, default="facebook")
    add.add_argument("--page-id", required=True, help="the Page id or Instagram account id")
    add.add_argument(
        "--token", required=True, help="its access token; '-' reads it from standard input"
    )
    add.add_argument("--name", help="a name staff recognise")
    add.add_argument("--language", choices=LANGUAGES, help="the language of replies (zh-Hant)")
    add.set_defaults(func=run_add)

    listing = actions.add_parser("list", help="the Pages and accounts (tokens are never shown)")
    listing.set_defaults(func=run_list)

    subscribe = actions.add_parser(
        "subscribe", help="install the app on a Page so Meta sends its webhooks"
    )
    subscribe.add_argument("page_id", metavar="PAGE_ID")
    subscribe.add_argument("--platform", choices=PLATFORMS, help="when the id is not added yet")
    subscribe.set_defaults(func=run_subscribe)


def run_add(args: argparse.Namespace) -> int:
    token = (sys.stdin.readline() if args.token == FROM_STDIN else args.token).strip()
    page_id = args.page_id.strip()
    if not token:
        raise CommandError("the access token is empty", exit_code=2)
    if not page_id:
        raise CommandError("--page-id is empty", exit_code=2)
    settings = load_settings()
    with service_errors(settings):
        created = run_async(
            _save(settings, args.platform, page_id, token, args.name, args.language)
        )
    what = "added" if created else "updated"
    print(f"{args.platform} {page_id} {what}, with its access token stored (not shown)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        pages = run_async(_list(settings))
    print(format_pages(pages))
    return 0


def run_subscribe(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        platform, token = run_async(_token(settings, args.page_id.strip(), args.platform))
    fields = SUBSCRIBED_FIELDS[platform]
    subscribe(settings, args.page_id.strip(), token, fields)
    print(f"app installed on {platform} {args.page_id}: Meta now sends {', '.join(fields)}")
    return 0


def subscribe(settings: Settings, page_id: str, token: str, fields: tuple[str, ...]) -> None:
    """POST /{page-id}/subscribed_apps with facebook-sdk (synchronous: the CLI only).

    facebook-sdk accepts only its own old versions, so the version goes in the path; it sends
    no appsecret_proof, so the proof is added here."""
    facebook.FACEBOOK_GRAPH_URL = settings.meta_graph_url.rstrip("/") + "/"
    graph = facebook.GraphAPI(access_token=token, timeout=SUBSCRIBE_TIMEOUT)
    post_args = {"subscribed_fields": ",".join(fields), "access_token": token}
    if settings.meta_app_secret:
        post_args["appsecret_proof"] = appsecret_proof(settings.meta_app_secret, token)
    path = f"{normalize_version(settings.meta_graph_version)}/{page_id}/subscribed_apps"
    try:
        answer = graph.request(path, post_args=post_args)
    except facebook.GraphAPIError as error:
        raise CommandError(f"Meta refused to install the app on {page_id}: {error}") from None
    except requests.RequestException as error:
        # The exception's text may hold the request URL; its type says enough.
        raise CommandError(
            f"cannot reach the Graph API at {settings.meta_graph_url} ({type(error).__name__})"
        ) from None
    if not (isinstance(answer, dict) and answer.get("success") is True):
        raise CommandError(f"Meta did not confirm the app's installation on {page_id}")


def format_pages(pages: list[PageLine]) -> str:
    if not pages:
        return "no Pages yet (add one with `livecart pages add`)"
    rows = [("platform", "page id", "language", "token", "name")] + [
        (p.platform, p.page_id, p.language, p.token, p.name or "") for p in pages
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )


async def _save(
    settings: Settings,
    platform: str,
    page_id: str,
    token: str,
    name: str | None,
    language: str | None,
) -> bool:
    """Create the Page or give it the new token (and name, language); True when created."""
    async with _runtime(settings) as runtime, runtime.sessions.begin() as session:
        page = await session.scalar(
            select(Page).where(Page.platform == platform, Page.page_id == page_id)
        )
        created = page is None
        if page is None:
            page = Page(platform=platform, page_id=page_id, language=language or "zh-Hant")
            session.add(page)
        elif language:
            page.language = language
        page.access_token = token
        if name:
            page.name = name.strip()
        return created


async def _list(settings: Settings) -> list[PageLine]:
    async with _runtime(settings) as runtime, runtime.sessions() as session:
        pages = (await session.scalars(select(Page).order_by(Page.platform, Page.page_id))).all()
    return [
        PageLine(
            platform=page.platform,
            page_id=page.page_id,
            name=page.name,
            language=page.language,
            token=(
                "none"
                if not page.access_token
                else "refused"
                if page.token_invalid_at is not None
                else "set"
            ),
        )
        for page in pages
    ]


async def _token(
    settings: Settings, page_id: str, platform: Platform | None
) -> tuple[Platform, str]:
    """The platform and token to install the app with: the Page's own, else META_PAGE_TOKEN."""
    async with _runtime(settings) as runtime, runtime.sessions() as session:
        query = select(Page).where(Page.page_id == page_id)
        if platform is not None:
            query = query.where(Page.platform == platform)
        found = (await session.scalars(query.order_by(Page.platform))).all()
    if len(found) > 1:
        raise CommandError(f"{page_id} is both a Page and an account: add --platform", exit_code=2)
    page = found[0] if found else None
    resolved: Platform = platform or (
        "instagram" if page and page.platform == "instagram" else "facebook"
    )
    token = (page.access_token if page else None) or settings.meta_page_token
    if not token:
        raise CommandError(
            f"{page_id} has no access token: `livecart pages add --page-id {page_id} --token ...` "
            "or set META_PAGE_TOKEN"
        )
    return resolved, token


def _runtime(settings: Settings) -> AbstractAsyncContextManager[Runtime]:
    # The embedded default (SQLite) migrates itself, as `serve` does.
    return open_runtime(settings, migrate=settings.database_url.startswith("sqlite"))
