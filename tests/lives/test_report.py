"""A live's report agrees with its orders (expectations summed here from the rows themselves),
and its chart is a real picture."""

from __future__ import annotations

import io
import struct
import warnings
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update

from bot.report import SkuFigures, build_report
from bot.report_chart import Fonts, bar_label, chart_png, find_fonts
from bot.runtime import Runtime
from bot.sweeper import sweep
from storage.models import Comment, Identity, Order, OrderLine, WaitlistEntry
from storage.reports import report_rows
from storage.types import utcnow
from tests.lives.support import AUTH, PAGE, Client, api, comments, deliver, start

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def sell_a_live(client: Client, runtime: Runtime) -> int:
    """A small live: orders, a cancel, a sold-out SKU with a waitlist, chatter, a review, one
    paid cart and one expired."""
    live = await start(client, title="週五特賣")
    live_id = int(str(live["id"]))
    await api(client, "POST", f"/api/lives/{live_id}/current", {"keyword": "A2"})
    said = [
        ("u1", "A2+2"), ("u1", "C7+1"), ("u2", "+1"), ("u2", "A12+3"), ("u3", "蘋果+2"),
        ("u4", "蘋果+2"), ("u5", "蘋果+2"), ("u6", "蘋果+2"), ("u7", "蘋果+2"), ("u8", "好可愛"),
        ("u9", "Z9+1"), ("u2", "取消A12"), ("u10", "B3+5"),
    ]  # fmt: skip
    await deliver(client, runtime, "page", [(PAGE, comments(said, start=1))])
    async with runtime.sessions.begin() as session:
        u1, u10 = [
            await session.scalar(
                select(Order.id)
                .join(Identity, Identity.id == Order.identity_id)
                .where(Identity.scoped_id == buyer)
            )
            for buyer in ("u1", "u10")
        ]
        await session.execute(update(Order).where(Order.id == u1).values(status="confirmed"))
        await session.execute(
            update(Order).where(Order.id == u10).values(hold_until=utcnow() - timedelta(minutes=1))
        )
    assert (await sweep(runtime, utcnow())).expired_orders == 1
    return live_id


async def test_the_report_agrees_with_the_orders(client: Client, runtime: Runtime) -> None:
    live_id = await sell_a_live(client, runtime)
    report = await api(client, "GET", f"/api/lives/{live_id}/report")
    assert isinstance(report, dict)

    async with runtime.sessions() as session:
        said = (
            await session.execute(
                select(Comment.author_id, Comment.parse_status).where(Comment.live_id == live_id)
            )
        ).all()
        orders = dict(
            (
                await session.execute(
                    select(Order.id, Order.status).where(Order.live_id == live_id)
                )
            ).all()
        )
        lines = (
            await session.execute(
                select(OrderLine.order_id, OrderLine.sku, OrderLine.quantity, OrderLine.unit_price)
            )
        ).all()
        waiting = (
            await session.execute(
                select(
                    WaitlistEntry.sku,
                    WaitlistEntry.quantity,
                    WaitlistEntry.filled,
                    WaitlistEntry.status,
                )
            )
        ).all()
    active = {order for order, status in orders.items() if status in ("reserved", "confirmed")}
    units: Counter[str] = Counter()
    revenue: defaultdict[str, Decimal] = defaultdict(Decimal)
    for order, sku, quantity, price in lines:
        if order in active:
            units[sku] += quantity
            revenue[sku] += quantity * price
    unmet: Counter[str] = Counter()
    for sku, quantity, filled, status in waiting:
        if status in ("waiting", "closed"):
            unmet[sku] += quantity - filled

    assert report["comments"] == len(said) == 13
    assert report["commenters"] == len({author for author, _ in said}) == 10
    assert report["order_comments"] == sum(1 for _, s in said if s == "order") == 11
    assert report["review_comments"] == 1
    assert report["orders"] == len(active) == 6  # u7 only waits: no cart
    assert report["orders_by_status"] == dict(Counter(orders.values())) | {"cancelled": 0}
    assert report["units"] == sum(units.values()) == 12
    assert Decimal(str(report["revenue"])) == sum(revenue.values()) == Decimal("9070")
    assert Decimal(str(report["confirmed_revenue"])) == Decimal("1440")  # u1: 2 x 590 + 260
    assert report["waitlist"] == {"units": sum(unmet.values()), "revenue": 1760.0}
    per_sku = {row["sku"]: row for row in report["skus"]}
    for sku, row in per_sku.items():
        assert row["units"] == units[sku], sku
        assert Decimal(str(row["revenue"])) == revenue[sku], sku
        assert row["waitlist_units"] == unmet[sku], sku
    assert per_sku["APPLE-BOX"]["sold_out"] and per_sku["APPLE-BOX"]["available"] == 0
    assert not per_sku["B3"]["sold_out"] and per_sku["B3"]["units"] == 0  # the cart expired
    assert report["conversion"] == {
        "order_comments_per_comment": round(11 / 13, 4),
        "buyers_per_commenter": round(6 / 10, 4),
    }

    # The same money as the carts the orders route shows.
    shown = await api(client, "GET", f"/api/lives/{live_id}/orders")
    assert isinstance(shown, list)
    active_totals = [o["total"] for o in shown if o["status"] in ("reserved", "confirmed")]
    assert sum(active_totals) == report["revenue"]
    top = report["top_buyers"][0]
    # Four apple buyers spent the most (2 x 880) alike: the tie goes by units, then name.
    assert (top["name"], top["units"], top["total"]) == ("Buyer u3", 2, max(active_totals))
    assert [b["total"] for b in report["top_buyers"]] == sorted(active_totals, reverse=True)

    curve = report["per_minute"]
    assert sum(m["order_comments"] for m in curve) == report["order_comments"]
    assert sum(m["orders"] for m in curve) == len(orders)


async def test_reports_want_a_staff_token_and_a_live(client: Client) -> None:
    assert (await client.get("/api/lives/1/report")).status == 401
    missing = await client.get("/api/lives/42/report", headers=AUTH)
    assert missing.status == 404
    assert "no live 42" in (await missing.json())["error"]


async def test_the_chart_is_a_real_png(client: Client, runtime: Runtime) -> None:
    live_id = await sell_a_live(client, runtime)
    async with runtime.sessions() as session:
        rows = await report_rows(session, live_id)
    assert rows is not None
    png = chart_png(build_report(rows))
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    assert width >= 1000 and height >= 600
    assert len(png) > 20_000
    from matplotlib import image

    pixels = image.imread(io.BytesIO(png), format="png")
    colours = {tuple(pixel) for pixel in pixels.reshape(-1, pixels.shape[-1])[::7].tolist()}
    assert len(colours) > 50  # bars, curve, text: not a blank canvas


def test_without_a_chinese_font_bars_are_labelled_with_sku_codes() -> None:
    latin = find_fonts(["A1"])
    assert latin.families == ("DejaVu Sans",)
    report_sku = _sku("A1-RED-M", "經典T恤")
    assert bar_label(report_sku, latin.can_draw) == "A1-RED-M"
    assert bar_label(_sku("MUG", "Bear mug"), latin.can_draw) == "Bear mug (MUG)"
    everything = Fonts(("DejaVu Sans", "Any CJK"), frozenset(ord(c) for c in "經典T恤"))
    assert bar_label(report_sku, everything.can_draw) == "經典T恤 (A1-RED-M)"


async def test_a_chart_without_a_chinese_font_draws_no_missing_glyphs(
    client: Client, runtime: Runtime
) -> None:
    live_id = await sell_a_live(client, runtime)
    async with runtime.sessions() as session:
        rows = await report_rows(session, live_id)
    assert rows is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = chart_png(build_report(rows), fonts=find_fonts(["A1"]))
    assert png.startswith(PNG_SIGNATURE)
    assert not [w for w in caught if "missing from" in str(w.message)]


def _sku(sku: str, name: str) -> SkuFigures:
    return SkuFigures(sku, name, sku, Decimal(1), 0, 0, Decimal(0), 0, Decimal(0), 1)
