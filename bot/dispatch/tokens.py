"""Which token each Page's replies use, and holding a Page whose token Meta refused.

A Page's token is its `pages.access_token`, else META_PAGE_TOKEN. When Meta refuses it
(190/102), `pages.token_invalid_at` is set and a staff alert carries the refused token's
fingerprint (a short hash, never the token). The Page stays held while that same token is in
place; once the token differs (renewed in the database or in the environment), the mark is
cleared and the held replies go out.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from storage.outbox import clear_token_invalid, latest_staff_alert, page_tokens

log = logging.getLogger("livecart.dispatch")
PageKey = tuple[str, str]  # (platform, page id)
TOKEN_ALERT = "token_invalid"  # noqa: S105 - the alert's name, not a secret


class TokenVerdict(Enum):
    USE = "use"
    HOLD = "hold"  # the refused token is still the one in place, or there is none
    RENEWED = "renewed"  # a refused token was replaced: clear the mark, then use it


@dataclass(frozen=True, slots=True)
class TokenState:
    token: str | None
    held: bool


def fingerprint(token: str) -> str:
    """Tells tokens apart without keeping them: 16 hex digits of SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def token_verdict(token: str | None, refused: str | None, marked: bool) -> TokenVerdict:
    """`refused`: fingerprint of the token Meta refused (None: none known); `marked`: the pages
    row says a token was refused."""
    if token is None:
        return TokenVerdict.HOLD
    if refused is None:
        # Marked, but which token was refused is unknown: assume it is still this one.
        return TokenVerdict.HOLD if marked else TokenVerdict.USE
    if refused == fingerprint(token):
        return TokenVerdict.HOLD
    return TokenVerdict.RENEWED


def token_alert_key_prefix(page_id: str) -> str:
    return f"alert:{TOKEN_ALERT}:{page_id}:"


def token_alert_key(page_id: str, at: datetime) -> str:
    """One alert per Page per hour of an incident."""
    return f"{token_alert_key_prefix(page_id)}{at:%Y-%m-%dT%H}"


class PageTokens:
    def __init__(self, fallback: str | None) -> None:
        self._fallback = fallback
        self._refused: dict[PageKey, str] = {}  # fingerprints of refused tokens

    def refuse(self, page: PageKey, token: str) -> bool:
        """Remember that Meta refused `token`; True when this is news (the incident's first)."""
        new = fingerprint(token)
        if self._refused.get(page) == new:
            return False
        self._refused[page] = new
        return True

    def is_refused(self, page: PageKey, token: str) -> bool:
        return self._refused.get(page) == fingerprint(token)

    async def resolve(
        self, session: AsyncSession, pages: Iterable[PageKey]
    ) -> dict[PageKey, TokenState]:
        """The token of each Page and whether its replies must wait (in the claim's unit of
        work: it may clear the mark of a renewed token)."""
        wanted = set(pages)
        stored = await page_tokens(session, wanted)
        states: dict[PageKey, TokenState] = {}
        for page in wanted:
            row = stored.get(page)
            token = (row.access_token if row else None) or self._fallback
            marked = row is not None and row.token_invalid_at is not None
            refused = self._refused.get(page)
            if refused is None and marked:
                refused = await self._recall(session, page)
            verdict = token_verdict(token, refused, marked)
            if verdict is TokenVerdict.RENEWED:
                await self._renewed(session, page)
            states[page] = TokenState(token, verdict is TokenVerdict.HOLD)
        return states

    async def _recall(self, session: AsyncSession, page: PageKey) -> str | None:
        """The refused token's fingerprint from the incident's alert (after a restart)."""
        alert = await latest_staff_alert(session, token_alert_key_prefix(page[1]))
        value = None if alert is None else alert.get("token_fingerprint")
        if isinstance(value, str):
            self._refused[page] = value
            return value
        return None

    async def _renewed(self, session: AsyncSession, page: PageKey) -> None:
        platform, page_id = page
        self._refused.pop(page, None)
        await clear_token_invalid(session, platform, page_id)
        log.info("%s %s has a new access token: its held replies go out again", platform, page_id)
