"""A live's report as plain sums over its rows (pure: no I/O).

Orders count while they hold or bought stock (`reserved`, `confirmed`); cancelled and expired
carts are counted by status but sold nothing. Waitlist demand is what buyers asked for and no
stock met (waiting, or closed with the replay): what the live could have sold with more stock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from storage.models import ORDER_STATUSES, STANDING_ORDERS
from storage.reports import LineRow, LiveInfo, OrderRow, ReportRows, SkuRow, WaitRow

UNMET_WAITLIST = ("waiting", "closed")
TOP_BUYERS = 10
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SkuFigures:
    sku: str
    name: str
    keyword: str
    price: Decimal
    units: int
    confirmed_units: int
    revenue: Decimal
    waitlist_units: int
    waitlist_revenue: Decimal
    available: int

    @property
    def sold_out(self) -> bool:
        return self.available == 0


@dataclass(frozen=True, slots=True)
class BuyerFigures:
    member_id: int
    name: str
    orders: int
    units: int
    total: Decimal


@dataclass(frozen=True, slots=True)
class MinuteFigures:
    minute: int  # minutes since the live started
    at: datetime
    order_comments: int
    orders: int  # carts opened in that minute


@dataclass(frozen=True, slots=True)
class LiveReport:
    live: LiveInfo
    comments: int
    commenters: int
    order_comments: int
    review_comments: int
    orders: int
    orders_by_status: dict[str, int]
    buyers: int
    units: int
    revenue: Decimal
    confirmed_revenue: Decimal
    waitlist_units: int
    waitlist_revenue: Decimal
    skus: tuple[SkuFigures, ...]
    top_buyers: tuple[BuyerFigures, ...]
    per_minute: tuple[MinuteFigures, ...]

    @property
    def order_comment_share(self) -> float:
        """Of all comments, the share read as orders."""
        return _share(self.order_comments, self.comments)

    @property
    def buyer_conversion(self) -> float:
        """Of the people who commented, the share who hold or bought something."""
        return _share(self.buyers, self.commenters)


def build_report(rows: ReportRows) -> LiveReport:
    statuses = {order.id: order.status for order in rows.orders}
    active_ids = {order_id for order_id, status in statuses.items() if status in STANDING_ORDERS}
    active_lines = [line for line in rows.lines if line.order_id in active_ids]
    skus = sku_figures(rows.skus, active_lines, statuses, rows.waitlist)
    by_status = Counter(order.status for order in rows.orders)
    buyers = buyer_figures([o for o in rows.orders if o.id in active_ids], active_lines)
    return LiveReport(
        live=rows.live,
        comments=len(rows.comments),
        commenters=len({c.author_id for c in rows.comments if c.author_id}),
        order_comments=sum(1 for c in rows.comments if c.parse_status == "order"),
        review_comments=sum(1 for c in rows.comments if c.parse_status == "review"),
        orders=len(active_ids),
        orders_by_status={status: by_status.get(status, 0) for status in ORDER_STATUSES},
        buyers=len(buyers),
        units=sum(s.units for s in skus),
        revenue=sum((s.revenue for s in skus), ZERO),
        confirmed_revenue=sum(
            (_amount(line) for line in active_lines if statuses[line.order_id] == "confirmed"),
            ZERO,
        ),
        waitlist_units=sum(s.waitlist_units for s in skus),
        waitlist_revenue=sum((s.waitlist_revenue for s in skus), ZERO),
        skus=skus,
        top_buyers=tuple(buyers[:TOP_BUYERS]),
        per_minute=per_minute(
            rows.live.started_at,
            [c.at for c in rows.comments if c.parse_status == "order"],
            [o.created_at for o in rows.orders],
        ),
    )


def sku_figures(
    lineup: Sequence[SkuRow],
    lines: Sequence[LineRow],
    statuses: dict[int, str],
    waitlist: Sequence[WaitRow],
) -> tuple[SkuFigures, ...]:
    """Per SKU, in lineup order (a SKU sold here but not in the lineup comes last)."""
    units: Counter[str] = Counter()
    confirmed: Counter[str] = Counter()
    revenue: defaultdict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        units[line.sku] += line.quantity
        revenue[line.sku] += _amount(line)
        if statuses.get(line.order_id) == "confirmed":
            confirmed[line.sku] += line.quantity
    unmet: Counter[str] = Counter()
    for entry in waitlist:
        if entry.status in UNMET_WAITLIST:
            unmet[entry.sku] += max(entry.quantity - entry.filled, 0)
    known = {row.sku for row in lineup}
    extra = [SkuRow(sku, sku, "", ZERO, 0) for sku in dict.fromkeys(units) if sku not in known]
    return tuple(
        SkuFigures(
            sku=row.sku,
            name=row.name,
            keyword=row.keyword,
            price=row.price,
            units=units[row.sku],
            confirmed_units=confirmed[row.sku],
            revenue=revenue[row.sku],
            waitlist_units=unmet[row.sku],
            waitlist_revenue=row.price * unmet[row.sku],
            available=row.available,
        )
        for row in [*lineup, *extra]
    )


def buyer_figures(orders: Sequence[OrderRow], lines: Sequence[LineRow]) -> list[BuyerFigures]:
    """Buyers by what they spent, then by units (most first)."""
    member_of = {order.id: order.member_id for order in orders}
    names = {order.member_id: order.buyer for order in orders}
    carts = Counter(order.member_id for order in orders)
    units: Counter[int] = Counter()
    totals: defaultdict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        member = member_of[line.order_id]
        units[member] += line.quantity
        totals[member] += _amount(line)
    figures = [
        BuyerFigures(member, names[member], carts[member], units[member], totals[member])
        for member in carts
    ]
    return sorted(figures, key=lambda b: (-b.total, -b.units, b.name, b.member_id))


def per_minute(
    started_at: datetime, order_comments: Iterable[datetime], orders: Iterable[datetime]
) -> tuple[MinuteFigures, ...]:
    """Every minute from the start to the last order comment or cart (none when neither)."""
    comment_minutes = Counter(_minute(started_at, at) for at in order_comments)
    order_minutes = Counter(_minute(started_at, at) for at in orders)
    last = max([*comment_minutes, *order_minutes], default=None)
    if last is None:
        return ()
    return tuple(
        MinuteFigures(
            minute,
            started_at + timedelta(minutes=minute),
            comment_minutes[minute],
            order_minutes[minute],
        )
        for minute in range(last + 1)
    )


def report_json(report: LiveReport) -> dict[str, object]:
    """The report as JSON values (money as numbers, like the rest of the staff API)."""
    live = report.live
    return {
        "live": {
            "id": live.id,
            "platform": live.platform,
            "page_id": live.page_id,
            "title": live.title,
            "status": live.status,
            "started_at": live.started_at.isoformat(),
            "ended_at": _iso(live.ended_at),
            "replay_deadline": _iso(live.replay_deadline),
        },
        "comments": report.comments,
        "commenters": report.commenters,
        "order_comments": report.order_comments,
        "review_comments": report.review_comments,
        "orders": report.orders,
        "orders_by_status": report.orders_by_status,
        "buyers": report.buyers,
        "units": report.units,
        "revenue": float(report.revenue),
        "confirmed_revenue": float(report.confirmed_revenue),
        "conversion": {
            "order_comments_per_comment": round(report.order_comment_share, 4),
            "buyers_per_commenter": round(report.buyer_conversion, 4),
        },
        "waitlist": {
            "units": report.waitlist_units,
            "revenue": float(report.waitlist_revenue),
        },
        "skus": [
            {
                "sku": s.sku,
                "name": s.name,
                "keyword": s.keyword,
                "price": float(s.price),
                "units": s.units,
                "confirmed_units": s.confirmed_units,
                "revenue": float(s.revenue),
                "waitlist_units": s.waitlist_units,
                "waitlist_revenue": float(s.waitlist_revenue),
                "available": s.available,
                "sold_out": s.sold_out,
            }
            for s in report.skus
        ],
        "top_buyers": [
            {
                "member_id": b.member_id,
                "name": b.name,
                "orders": b.orders,
                "units": b.units,
                "total": float(b.total),
            }
            for b in report.top_buyers
        ],
        "per_minute": [
            {
                "minute": m.minute,
                "at": m.at.isoformat(),
                "order_comments": m.order_comments,
                "orders": m.orders,
            }
            for m in report.per_minute
        ],
    }


CSV_HEADER = (
    "sku",
    "name",
    "keyword",
    "price",
    "units",
    "confirmed_units",
    "revenue",
    "waitlist_units",
    "waitlist_revenue",
    "available",
    "sold_out",
)


def csv_rows(report: LiveReport) -> list[tuple[str, ...]]:
    """The per-SKU table with a TOTAL row; money as exact decimals."""
    rows: list[tuple[str, ...]] = [CSV_HEADER]
    for s in report.skus:
        rows.append(
            (
                s.sku,
                s.name,
                s.keyword,
                _money(s.price),
                str(s.units),
                str(s.confirmed_units),
                _money(s.revenue),
                str(s.waitlist_units),
                _money(s.waitlist_revenue),
                str(s.available),
                "yes" if s.sold_out else "no",
            )
        )
    confirmed = sum(s.confirmed_units for s in report.skus)
    rows.append(
        (
            "TOTAL",
            "",
            "",
            "",
            str(report.units),
            str(confirmed),
            _money(report.revenue),
            str(report.waitlist_units),
            _money(report.waitlist_revenue),
            "",
            "",
        )
    )
    return rows


def _amount(line: LineRow) -> Decimal:
    return line.unit_price * line.quantity


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _minute(started_at: datetime, at: datetime) -> int:
    # A comment Meta timed a little before the live was registered counts in its first minute.
    return max(int((at - started_at).total_seconds() // 60), 0)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
