"""Deployment-wide values kept in the database (shared by every web and worker process)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.db import SessionFactory
from storage.models import AppState

CHECKOUT_SECRET_KEY = "checkout_secret"  # noqa: S105 - a key name, not a secret


async def ensure_secret(sessions: SessionFactory, key: str = CHECKOUT_SECRET_KEY) -> str:
    """The stored secret under `key`, generated on first use; every process gets the same one."""
    async with sessions() as session:
        existing = await session.scalar(select(AppState.value).where(AppState.key == key))
        if existing is not None:
            return existing
        session.add(AppState(key=key, value=secrets.token_urlsafe(32)))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()  # another process generated it first: use theirs
    async with sessions() as session:
        stored = await session.scalar(select(AppState.value).where(AppState.key == key))
    assert stored is not None
    return stored
