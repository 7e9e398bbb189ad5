"""Members and their social identities: who a commenter is, and merging one person's records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import chunked, dialect_of, insert_ignoring_duplicates
from storage.models import Identity, Member, Order, WaitlistEntry
from storage.types import utcnow

IdentityKey = tuple[str, str, str]  # platform, page id, scoped id


@dataclass(frozen=True, slots=True)
class Buyer:
    member_id: int
    identity_id: int
    blocked: bool
    name: str | None


async def ensure_buyers(
    session: AsyncSession, people: Sequence[tuple[IdentityKey, str | None]]
) -> dict[IdentityKey, Buyer]:
    """The member behind each identity, creating member and identity on a first comment."""
    wanted = dict(people)
    found = await _find_buyers(session, list(wanted))
    missing = [key for key in wanted if key not in found]
    if missing:
        now = utcnow()
        member_ids = (
            await session.scalars(
                insert(Member).returning(Member.id, sort_by_parameter_order=True),
                [{"name": wanted[key], "created_at": now, "updated_at": now} for key in missing],
            )
        ).all()
        rows = [
            {
                "member_id": member_id,
                "platform": key[0],
                "page_id": key[1],
                "scoped_id": key[2],
                "display_name": wanted[key],
                "created_at": now,
            }
            for key, member_id in zip(missing, member_ids, strict=True)
        ]
        # A concurrent worker may have created the same identity: theirs wins, ours is unused.
        await session.execute(insert_ignoring_duplicates(dialect_of(session), Identity), rows)
        found.update(await _find_buyers(session, missing))
    return found


async def _find_buyers(
    session: AsyncSession, keys: Sequence[IdentityKey]
) -> dict[IdentityKey, Buyer]:
    found: dict[IdentityKey, Buyer] = {}
    for chunk in chunked(keys, 300):
        rows = await session.execute(
            select(
                Identity.platform,
                Identity.page_id,
                Identity.scoped_id,
                Identity.id,
                Member.id,
                Member.blocked,
                Member.name,
            )
            .join(Member, Member.id == Identity.member_id)
            .where(tuple_(Identity.platform, Identity.page_id, Identity.scoped_id).in_(chunk))
        )
        for platform, page, scoped, identity_id, member_id, blocked, name in rows.all():
            found[(platform, page, scoped)] = Buyer(member_id, identity_id, blocked, name)
    return found


async def merge_into(session: AsyncSession, keep_id: int, merged_id: int) -> None:
    """Everything of `merged_id` moves to `keep_id`: identities, orders, waitlist entries."""
    if keep_id == merged_id:
        return
    await session.execute(
        update(Identity).where(Identity.member_id == merged_id).values(member_id=keep_id)
    )
    await session.execute(
        update(Order).where(Order.member_id == merged_id).values(member_id=keep_id)
    )
    await session.execute(
        update(WaitlistEntry).where(WaitlistEntry.member_id == merged_id).values(member_id=keep_id)
    )
    await session.execute(
        update(Member)
        .where(Member.id == merged_id)
        .values(merged_into_id=keep_id, phone=None, email=None)
    )
