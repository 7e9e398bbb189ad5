"""Members and their social identities: who a commenter is, and merging one person's records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import among, dialect_of, insert_returning, insert_rows, key_chunks
from storage.models import Identity, Member, Order, OrderLine, WaitlistEntry
from storage.orders import recompute_totals
from storage.types import utcnow

IdentityKey = tuple[str, str, str]  # platform, page id, scoped id
# Core table: new members skip the ORM's per-row bulk layer.
MEMBERS = cast(Table, Member.__table__)
IDENTITIES = cast(Table, Identity.__table__)


class Buyer(NamedTuple):
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
    # Sorted: concurrent batches then meet each other's new identities (unique keys) in one
    # order, and wait for each other instead of deadlocking.
    missing = sorted(key for key in wanted if key not in found)
    if missing:
        now = utcnow()
        created = await insert_returning(
            session,
            MEMBERS,
            [{"name": wanted[key]} for key in missing],
            (MEMBERS.c.name, MEMBERS.c.id),
            shared={"created_at": now, "updated_at": now},
        )
        # RETURNING's row order is not promised (sorting it costs a statement per row on
        # SQLite); new members differ only by name, so any member of the right name will do.
        ids_by_name: dict[str | None, list[int]] = defaultdict(list)
        for name, member_id in cast(list[tuple[str | None, int]], created):
            ids_by_name[name].append(member_id)
        made = [ids_by_name[wanted[key]].pop() for key in missing]
        rows = [
            {
                "member_id": member_id,
                "platform": key[0],
                "page_id": key[1],
                "scoped_id": key[2],
                "display_name": wanted[key],
                "created_at": now,
            }
            for key, member_id in zip(missing, made, strict=True)
        ]
        # A concurrent worker may have created the same identity: theirs wins, and the member
        # made for ours goes again (no one else can see it before we commit).
        await insert_rows(session, IDENTITIES, rows, skip_duplicates=True)
        found.update(await _find_buyers(session, missing))
        unused = set(made) - {found[key].member_id for key in missing if key in found}
        if unused:
            dialect = dialect_of(session)
            unused_keys = [(member,) for member in sorted(unused)]
            await session.execute(
                delete(MEMBERS).where(among(dialect, (MEMBERS.c.id,), unused_keys))
            )
    return found


async def _find_buyers(
    session: AsyncSession, keys: Sequence[IdentityKey]
) -> dict[IdentityKey, Buyer]:
    found: dict[IdentityKey, Buyer] = {}
    dialect = dialect_of(session)
    for chunk in key_chunks(dialect, keys, 300):
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
            .where(among(dialect, (Identity.platform, Identity.page_id, Identity.scoped_id), chunk))
        )
        for platform, page, scoped, identity_id, member_id, blocked, name in rows.all():
            found[(platform, page, scoped)] = Buyer(member_id, identity_id, blocked, name)
    return found


@dataclass(frozen=True, slots=True)
class Merged:
    """What a merge did to open carts: each emptied cart's id and the cart it went into."""

    combined: dict[int, int] = field(default_factory=dict)

    def events(self) -> dict[int, str]:
        """The store event each cart it emptied or grew owes the central store."""
        return {
            **{emptied: "order.cancelled" for emptied in self.combined},
            **{grown: "order.updated" for grown in self.combined.values()},
        }


async def merge_into(
    session: AsyncSession, keep_id: int, merged_id: int, *, now: datetime | None = None
) -> Merged:
    """Everything of `merged_id` moves to `keep_id`: identities, orders, waitlist entries, and
    the contact details `keep_id` lacks.

    Where both have an open (`reserved`) cart in the same live, the merged member's lines move
    into the kept member's cart (their reserved stock with them, so nothing is released or
    taken) and the emptied cart is cancelled: one open cart per member per live stays true."""
    if keep_id == merged_id:
        return Merged()
    now = now or utcnow()
    combined = await _combine_open_carts(session, keep_id, merged_id, now)
    await session.execute(
        update(Identity).where(Identity.member_id == merged_id).values(member_id=keep_id)
    )
    await session.execute(
        update(Order).where(Order.member_id == merged_id).values(member_id=keep_id)
    )
    await session.execute(
        update(WaitlistEntry).where(WaitlistEntry.member_id == merged_id).values(member_id=keep_id)
    )
    await _move_member_details(session, keep_id, merged_id)
    return Merged(combined)


async def unfinished_merges(session: AsyncSession) -> list[tuple[int, int]]:
    """(kept, merged) for members merged away that have an open cart again: a batch that found
    the member before its merge committed opened it after (on PostgreSQL, where the two do not
    wait for each other). The kept member is the end of the merge chain. Waiting units such a
    batch left are not looked for: filled, they open a cart, which is."""
    has_open_cart = (
        select(Order.id).where(Order.member_id == Member.id, Order.status == "reserved").exists()
    )
    parents: dict[int, int | None] = dict(
        (
            await session.execute(
                select(Member.id, Member.merged_into_id).where(
                    Member.merged_into_id.is_not(None), has_open_cart
                )
            )
        ).all()
    )
    stragglers = sorted(parents)
    while unknown := {p for p in parents.values() if p is not None and p not in parents}:
        parents.update(
            (
                await session.execute(
                    select(Member.id, Member.merged_into_id).where(Member.id.in_(unknown))
                )
            ).all()
        )
    return [(_end_of_merges(parents, member), member) for member in stragglers]


def _end_of_merges(parents: dict[int, int | None], member: int) -> int:
    seen = {member}
    while (parent := parents.get(member)) is not None and parent not in seen:
        seen.add(parent)
        member = parent
    return member


async def _combine_open_carts(
    session: AsyncSession, keep_id: int, merged_id: int, now: datetime
) -> dict[int, int]:
    """Per live where both members have an open cart: the merged member's lines go into the
    kept member's cart, which keeps the later of the two holds."""
    theirs, ours = aliased(Order), aliased(Order)
    pairs = (
        await session.execute(
            select(theirs.id, ours.id, theirs.hold_until, ours.hold_until)
            .join(ours, ours.live_id == theirs.live_id)
            .where(
                theirs.member_id == merged_id,
                theirs.status == "reserved",
                ours.member_id == keep_id,
                ours.status == "reserved",
            )
            .order_by(theirs.id)
            .with_for_update()
        )
    ).all()
    for emptied, kept, their_hold, our_hold in pairs:
        await _move_lines(session, emptied, kept, now)
        await session.execute(
            update(Order)
            .where(Order.id == emptied)
            .values(status="cancelled", total=0, closed_at=now, updated_at=now)
        )
        await session.execute(
            update(Order)
            .where(Order.id == kept)
            .values(hold_until=max(their_hold, our_hold), updated_at=now)
        )
    await recompute_totals(session, [kept for _, kept, _, _ in pairs])
    return {emptied: kept for emptied, kept, _, _ in pairs}


async def _move_lines(session: AsyncSession, emptied: int, kept: int, now: datetime) -> None:
    """A SKU in both carts becomes one line (the kept cart's price stays); others just move."""
    rows = (
        await session.execute(
            select(OrderLine.id, OrderLine.order_id, OrderLine.sku, OrderLine.quantity).where(
                OrderLine.order_id.in_([emptied, kept])
            )
        )
    ).all()
    kept_lines = {sku: line_id for line_id, order_id, sku, _ in rows if order_id == kept}
    for line_id, order_id, sku, quantity in rows:
        if order_id != emptied:
            continue
        if sku in kept_lines:
            await session.execute(
                update(OrderLine)
                .where(OrderLine.id == kept_lines[sku])
                .values(quantity=OrderLine.quantity + quantity, updated_at=now)
            )
            await session.execute(delete(OrderLine).where(OrderLine.id == line_id))
        else:
            await session.execute(
                update(OrderLine)
                .where(OrderLine.id == line_id)
                .values(order_id=kept, updated_at=now)
            )


async def _move_member_details(session: AsyncSession, keep_id: int, merged_id: int) -> None:
    """The merged member gives up its phone and e-mail (they are unique) to the kept member
    where it has none; a block on either applies to the one member they become."""
    phone, email, name, blocked = (
        await session.execute(
            select(Member.phone, Member.email, Member.name, Member.blocked).where(
                Member.id == merged_id
            )
        )
    ).one()
    await session.execute(
        update(Member)
        .where(Member.id == merged_id)
        .values(merged_into_id=keep_id, phone=None, email=None)
    )
    await session.execute(
        update(Member)
        .where(Member.id == keep_id)
        .values(
            phone=func.coalesce(Member.phone, phone),
            email=func.coalesce(Member.email, email),
            name=func.coalesce(Member.name, name),
            **({"blocked": True} if blocked else {}),
        )
    )
