"""Forgetting a person on Meta's data deletion request; the books keep lines and totals."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Comment, DeletionRequest, Identity, Member, Order
from storage.types import utcnow


async def forget_person(session: AsyncSession, scoped_id: str, confirmation_code: str) -> None:
    """Anonymize every identity with `scoped_id`, its comments, its member's personal fields
    (when no other identity remains) and its orders' contact fields, and record the request."""
    identities = list(
        (await session.scalars(select(Identity).where(Identity.scoped_id == scoped_id))).all()
    )
    member_ids = {identity.member_id for identity in identities}
    for identity in identities:
        identity.scoped_id = f"deleted-{identity.id}"
        identity.display_name = None
    await session.execute(
        update(Comment)
        .where(Comment.author_id == scoped_id)
        .values(author_id=None, author_name=None, text=None)
    )
    if member_ids:
        await session.execute(
            update(Order)
            .where(Order.member_id.in_(member_ids))
            .values(buyer_name=None, buyer_phone=None, buyer_email=None, address=None)
        )
        await session.execute(
            update(Member)
            .where(Member.id.in_(member_ids))
            .values(name=None, phone=None, email=None)
        )
    session.add(
        DeletionRequest(
            confirmation_code=confirmation_code,
            scoped_id=f"deleted-{confirmation_code}",
            status="done",
            completed_at=utcnow(),
        )
    )


async def deletion_status(session: AsyncSession, confirmation_code: str) -> DeletionRequest | None:
    return await session.scalar(
        select(DeletionRequest).where(DeletionRequest.confirmation_code == confirmation_code)
    )
