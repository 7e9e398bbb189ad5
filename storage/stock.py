"""The shared stock in SQL: counters on `skus`, every change a `stock_moves` row.

`available = on_hand - reserved - sold` never goes below zero: every take is a conditional
UPDATE (`... WHERE available >= :quantity`), and the schema's CHECK refuses the rest. SKUs are
always touched in sorted order so concurrent transactions cannot deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple, cast

from sqlalchemy import Table, Update, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parsers.lineup import MOST_UNITS
from storage.db import among, dialect_of, insert_rows, unnested
from storage.models import Sku, StockMove
from storage.types import utcnow

AVAILABLE = Sku.on_hand - Sku.reserved - Sku.sold
# Core table: ledger rows skip the ORM's per-row bulk layer.
MOVES = cast(Table, StockMove.__table__)
SKUS = cast(Table, Sku.__table__)
_RETRIES = 8


class StockRequest(NamedTuple):
    """`quantity` units of `sku` for one purpose; `ref` is its unique idempotency key."""

    ref: str
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class StockLevel:
    sku: str
    name: str
    on_hand: int
    reserved: int
    sold: int

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.sold)


class StockRefused(ValueError):
    """An adjustment would leave less on hand than is reserved and sold."""


def by_sku(requests: Iterable[StockRequest]) -> dict[str, list[StockRequest]]:
    """Requests grouped per SKU, keeping their order (first come, first served), SKUs sorted."""
    grouped: dict[str, list[StockRequest]] = defaultdict(list)
    for request in requests:
        grouped[request.sku].append(request)
    return {sku: grouped[sku] for sku in sorted(grouped)}


def allocate(requests: Sequence[StockRequest], units: int) -> dict[str, int]:
    """`units` shared out in order: earlier requests are filled first."""
    granted: dict[str, int] = {}
    for request in requests:
        share = min(request.quantity, max(units, 0))
        granted[request.ref] = share
        units -= share
    return granted


async def take_available(session: AsyncSession, sku: str, wanted: int) -> int:
    """Reserve up to `wanted` units of `sku`; returns how many were taken (0 when sold out)."""
    for _ in range(_RETRIES):
        if wanted <= 0:
            return 0
        taken = await session.execute(
            update(Sku)
            .where(Sku.sku == sku, wanted <= AVAILABLE)
            .values(reserved=Sku.reserved + wanted)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return wanted
        available = await session.scalar(select(AVAILABLE).where(Sku.sku == sku))
        wanted = min(wanted, available or 0)
    return 0  # the stock kept moving under us: take nothing rather than guess


async def reserve(session: AsyncSession, requests: Sequence[StockRequest]) -> dict[str, int]:
    """Reserve each request as far as stock allows, first come first served per SKU, with a
    conditional UPDATE per SKU (on PostgreSQL one for every SKU with enough, and one per SKU
    only for the rest) and the ledger rows of what was taken."""
    queues = by_sku(requests)
    wanted = {sku: sum(r.quantity for r in queue) for sku, queue in queues.items()}
    in_full = await _take_in_full(session, wanted)
    granted: dict[str, int] = {}
    for sku, queue in queues.items():
        units = wanted[sku] if sku in in_full else await take_available(session, sku, wanted[sku])
        granted.update(allocate(queue, units))
    await record(
        session,
        [
            (request.sku, "reserve", request.ref, 0, granted[request.ref], 0)
            for request in requests
            if granted.get(request.ref)
        ],
    )
    return granted


async def _take_in_full(session: AsyncSession, wanted: dict[str, int]) -> set[str]:
    """On PostgreSQL, reserve all of `wanted` of every SKU that has that many available, in two
    statements whatever the number of SKUs (a batch of comments names dozens), and return
    those SKUs; elsewhere none (SQLite writes one transaction at a time: its per-SKU updates
    cost no round trips and hold no lock another batch waits for)."""
    dialect = dialect_of(session)
    if dialect != "postgresql" or len(wanted) < 2:
        return set()
    # The rows are locked in SKU order first, as the per-SKU updates take them: concurrent
    # batches wait for each other instead of deadlocking (an UPDATE's join has no order).
    skus = sorted(wanted)
    await session.execute(
        select(SKUS.c.sku)
        .where(among(dialect, (SKUS.c.sku,), [(sku,) for sku in skus]))
        .order_by(SKUS.c.sku)
        .with_for_update()
    )
    taken = await session.execute(
        _take_where_available(),
        {"_sku": skus, "_reserved": [wanted[sku] for sku in skus]},
    )
    return set(taken.scalars())


@cache
def _take_where_available() -> Update:
    rows, _ = unnested(SKUS, ("sku", "reserved"))
    more = rows["reserved"]
    return (
        update(SKUS)
        .where(SKUS.c.sku == rows["sku"], more <= SKUS.c.on_hand - SKUS.c.reserved - SKUS.c.sold)
        .values(reserved=SKUS.c.reserved + more)
        .returning(SKUS.c.sku)
    )


async def release(session: AsyncSession, requests: Sequence[StockRequest], reason: str) -> None:
    """Reserved units go back to available (a cancel, an expiry, a removed line)."""
    await _move_reserved(session, requests, reason, sold=False)


async def sell(session: AsyncSession, requests: Sequence[StockRequest]) -> None:
    """Reserved units become sold (a confirmed order)."""
    await _move_reserved(session, requests, "confirm", sold=True)


async def _move_reserved(
    session: AsyncSession, requests: Sequence[StockRequest], reason: str, *, sold: bool
) -> None:
    for sku, queue in by_sku(r for r in requests if r.quantity > 0).items():
        units = sum(r.quantity for r in queue)
        values = {"reserved": Sku.reserved - units}
        if sold:
            values["sold"] = Sku.sold + units
        await session.execute(update(Sku).where(Sku.sku == sku).values(**values))
    await record(
        session,
        [
            (r.sku, reason, r.ref, 0, -r.quantity, r.quantity if sold else 0)
            for r in requests
            if r.quantity > 0
        ],
    )


async def adjust_on_hand(
    session: AsyncSession,
    sku: str,
    *,
    delta: int | None,
    on_hand: int | None,
    reference: str,
    reason: str,
    note: str | None = None,
) -> int:
    """Change what is on hand (a shop sale, a restock, a count); returns the change applied.

    Raises StockRefused when fewer units would be on hand than are reserved and sold."""
    for _ in range(_RETRIES):
        row = (
            await session.execute(
                select(Sku.on_hand, Sku.reserved + Sku.sold).where(Sku.sku == sku).with_for_update()
            )
        ).one()
        current, committed = row
        change = (on_hand - current) if on_hand is not None else (delta or 0)
        if current + change < committed:
            free = max(current - committed, 0)
            raise StockRefused(
                f"{sku} has {free} unit(s) not reserved or sold; it cannot lose {-change}"
            )
        if current + change > MOST_UNITS:
            raise StockRefused(f"{sku} would hold more than {MOST_UNITS:,} units")
        # Only from the stock just read: SQLite reads outside the write transaction, so a
        # batch may have reserved units (or a count set on-hand) in between.
        updated = await session.execute(
            update(Sku)
            .where(
                Sku.sku == sku,
                Sku.on_hand == current,
                Sku.on_hand + change >= Sku.reserved + Sku.sold,
            )
            .values(on_hand=Sku.on_hand + change)
        )
        if updated.rowcount == 1:  # type: ignore[attr-defined]
            await record(session, [(sku, reason, reference, change, 0, 0)], note=note)
            return change
    raise StockRefused(f"{sku}'s stock kept changing while it was adjusted; nothing changed")


async def record(
    session: AsyncSession,
    moves: Sequence[tuple[str, str, str, int, int, int]],
    *,
    note: str | None = None,
) -> None:
    """Ledger rows: (sku, reason, reference, on_hand delta, reserved delta, sold delta)."""
    rows = [
        {
            "sku": sku,
            "reason": reason,
            "reference": f"{reason}:{reference}",
            "on_hand_delta": on_hand,
            "reserved_delta": reserved,
            "sold_delta": sold,
        }
        for sku, reason, reference, on_hand, reserved, sold in moves
    ]
    await insert_rows(session, MOVES, rows, shared={"note": note, "created_at": utcnow()})


async def levels(session: AsyncSession, skus: Iterable[str] | None = None) -> list[StockLevel]:
    query = select(Sku.sku, Sku.name, Sku.on_hand, Sku.reserved, Sku.sold).order_by(Sku.sku)
    if skus is not None:
        query = query.where(Sku.sku.in_(list(skus)))
    return [StockLevel(*row) for row in (await session.execute(query)).all()]
