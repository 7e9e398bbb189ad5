"""Loading the shop's members: a member already known by phone or e-mail is updated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Member
from storage.types import utcnow


class MemberFields(Protocol):
    @property
    def name(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def blocked(self) -> bool: ...


async def import_members(session: AsyncSession, rows: Sequence[MemberFields]) -> tuple[int, int]:
    """(created, updated)."""
    created = updated = 0
    now = utcnow()
    for row in rows:
        keys = [Member.phone == row.phone] if row.phone else []
        keys += [Member.email == row.email] if row.email else []
        found = await session.scalar(
            select(Member).where(or_(*keys), Member.merged_into_id.is_(None)).order_by(Member.id)
        )
        if found is None:
            session.add(
                Member(
                    name=row.name,
                    phone=row.phone,
                    email=row.email,
                    tier=row.tier,
                    blocked=row.blocked,
                    created_at=now,
                    updated_at=now,
                )
            )
            created += 1
            await session.flush()
            continue
        found.name = row.name or found.name
        found.tier = row.tier or found.tier
        found.blocked = row.blocked
        found.phone = found.phone or row.phone
        found.email = found.email or row.email
        updated += 1
    return created, updated
