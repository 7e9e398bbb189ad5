"""Checkout as a service on carts made by the real pipeline: removing lines, confirming, and one
member per person. Runs on SQLite and PostgreSQL, with SQL stock and with Redis stock."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot import checkout
from bot.checkout_form import InvalidDetails
from bot.runtime import Runtime
from storage.models import Identity, Member, Order, StockMove
from storage.types import utcnow
from tests.checkout.support import (
    confirm,
    count_orders,
    event_names,
    instagram_comments_on,
    lines_of,
    member_of,
    member_row,
    open_order,
    order_row,
    seen_cart,
    start_instagram_live,
    stock_of,
    store_events,
    waiting_statuses,
)
from tests.pipeline import comment_on, start_test_live

SECOND_VIDEO = "690891113070002"


async def remove(runtime: Runtime, order_id: int, sku: str) -> bool:
    async with runtime.sessions.begin() as session:
        return await checkout.remove_line(
            session, runtime.stock, order_id, sku, now=utcnow(), hold_for=timedelta(hours=24)
        )


async def test_a_cart_that_changed_after_its_page_was_loaded_is_not_confirmed(
    runtime: Runtime,
) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u1", "B3+1")])
    order = await open_order(runtime, "u1", live)
    seen = await seen_cart(runtime, order)

    # After the buyer opened the page, another comment of theirs grew the cart.
    await comment_on(runtime, [("u1", "B3+2")], start=50)
    with pytest.raises(checkout.CartChanged):
        await confirm(runtime, order, seen=seen)
    assert (await order_row(runtime, order)).status == "reserved"
    assert await stock_of(runtime, "B3") == (100, 3, 0)
    # Then they removed a line in another tab: the page they first loaded is still stale.
    assert await remove(runtime, order, "A2")
    with pytest.raises(checkout.CartChanged):
        await confirm(runtime, order, seen=seen)
    assert await event_names(runtime, order) == ["order.reserved", "order.updated", "order.updated"]

    await confirm(runtime, order)  # having seen the cart as it is now
    assert (await order_row(runtime, order)).status == "confirmed"
    assert await lines_of(runtime, order) == {"B3": 3}
    assert await stock_of(runtime, "B3") == (100, 0, 3)


async def test_removing_a_line_gives_its_stock_to_the_next_in_the_queue(runtime: Runtime) -> None:
    live = await start_test_live(runtime)
    # C7 has 15 units: u0..u14 take them; u0 asks for one more (first in the queue), u15 waits.
    await comment_on(runtime, [(f"u{n}", "C7+1") for n in range(15)])
    await comment_on(runtime, [("u0", "C7+1"), ("u15", "C7+1"), ("u0", "A2+2")], start=100)
    assert await stock_of(runtime, "C7") == (15, 15, 0)
    order = await open_order(runtime, "u0", live)
    assert await lines_of(runtime, order) == {"C7": 1, "A2": 2}

    assert await remove(runtime, order, "C7")

    # u0 no longer waits for what they removed, so the unit goes to u15, not back to u0.
    assert await lines_of(runtime, order) == {"A2": 2}
    assert await waiting_statuses(runtime, "u0") == ["cancelled"]
    promoted = await open_order(runtime, "u15", live)
    assert await lines_of(runtime, promoted) == {"C7": 1}
    assert await stock_of(runtime, "C7") == (15, 15, 0)
    assert str((await order_row(runtime, order)).total) == "1180.00"
    assert str((await order_row(runtime, promoted)).total) == "260.00"
    updated = (await store_events(runtime, order))[-1]
    assert updated["event"] == "order.updated"
    assert [line["sku"] for line in updated["data"]["lines"]] == ["A2"]  # type: ignore[index]
    assert await event_names(runtime, promoted) == ["order.reserved"]
    async with runtime.sessions() as session:
        released = await session.scalar(
            select(StockMove.reserved_delta).where(StockMove.reference.like("remove:%"))
        )
    assert released == -1

    assert not await remove(runtime, order, "C7")  # a second tap changes nothing
    assert await stock_of(runtime, "C7") == (15, 15, 0)


async def test_removing_with_nobody_waiting_makes_the_stock_available(runtime: Runtime) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+3"), ("u1", "B3+1")])
    order = await open_order(runtime, "u1", live)
    assert await remove(runtime, order, "A2")
    assert await stock_of(runtime, "A2") == (30, 0, 0)
    assert await lines_of(runtime, order) == {"B3": 1}
    await comment_on(runtime, [("u2", "A2+30")], start=10)  # all 30 can be taken again
    assert await stock_of(runtime, "A2") == (30, 30, 0)


async def test_a_line_ordered_again_after_its_removal_can_be_removed_again(
    runtime: Runtime,
) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "B3+1"), ("u1", "A2+2")])
    order = await open_order(runtime, "u1", live)
    assert await remove(runtime, order, "A2")
    # SQLite gives the new line the removed one's id: each removal is its own ledger entry.
    await comment_on(runtime, [("u1", "A2+1")], start=10)
    assert await lines_of(runtime, order) == {"B3": 1, "A2": 1}
    assert await remove(runtime, order, "A2")
    assert await lines_of(runtime, order) == {"B3": 1}
    assert await stock_of(runtime, "A2") == (30, 0, 0)
    await comment_on(runtime, [("u2", "A2+30")], start=20)  # Redis got both units back too
    assert await stock_of(runtime, "A2") == (30, 30, 0)


async def test_confirm_sells_the_reserved_stock_and_tells_the_store(runtime: Runtime) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [(f"x{n}", "C7+1") for n in range(15)])
    await comment_on(runtime, [("u1", "A2+2"), ("u1", "B3+1"), ("u1", "C7+1")], start=100)
    order = await open_order(runtime, "u1", live)

    member = await confirm(runtime, order)

    confirmed = await order_row(runtime, order)
    assert confirmed.status == "confirmed" and confirmed.confirmed_at is not None
    assert (confirmed.buyer_name, confirmed.buyer_phone, confirmed.buyer_email) == (
        "王小明",
        "0912345678",
        "ming@example.com",
    )
    assert (confirmed.fulfilment, confirmed.pickup_shop) == ("pickup", "台北門市 Taipei")
    assert await stock_of(runtime, "A2") == (30, 0, 2)
    assert await stock_of(runtime, "B3") == (100, 0, 1)
    assert await waiting_statuses(runtime, "u1") == ["closed"]
    events = await store_events(runtime, order)
    assert [events[0]["event"], events[-1]["event"]] == ["order.reserved", "order.confirmed"]
    data = events[-1]["data"]
    assert data["status"] == "confirmed" and data["total"] == "1300.00"  # type: ignore[index]
    assert data["customer"]["phone"] == "0912345678"  # type: ignore[index]
    assert data["fulfilment"] == {  # type: ignore[index]
        "method": "pickup",
        "pickup_shop": "台北門市 Taipei",
        "address": None,
    }
    known = await member_row(runtime, member)
    assert (known.phone, known.email) == ("0912345678", "ming@example.com")

    with pytest.raises(checkout.OrderNotOpen) as again:
        await confirm(runtime, order)
    assert again.value.state == "confirmed"
    assert await stock_of(runtime, "A2") == (30, 0, 2)


async def test_invalid_details_or_a_closed_cart_write_nothing(runtime: Runtime) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1")])
    order = await open_order(runtime, "u1", live)

    with pytest.raises(InvalidDetails) as invalid:
        await confirm(
            runtime, order, name=" ", phone="12", email="nope", fulfilment="delivery", address=""
        )
    assert set(invalid.value.errors) == {"name", "phone", "email", "address"}
    with pytest.raises(InvalidDetails) as no_shop:
        await confirm(runtime, order, shop="Kaohsiung")
    assert set(no_shop.value.errors) == {"shop"}

    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Order).where(Order.id == order).values(hold_until=utcnow() - timedelta(1))
        )
    with pytest.raises(checkout.OrderNotOpen) as expired:
        await confirm(runtime, order)
    assert expired.value.state == "expired"
    with pytest.raises(checkout.OrderNotOpen):
        await remove(runtime, order, "A2")

    assert (await order_row(runtime, order)).status == "reserved"
    assert (await order_row(runtime, order)).buyer_name is None
    assert await stock_of(runtime, "A2") == (30, 1, 0)
    assert await event_names(runtime, order) == ["order.reserved"]
    assert (await member_row(runtime, await member_of(runtime, "u1"))).phone is None


async def test_an_empty_cart_cannot_be_confirmed(runtime: Runtime) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1")])
    order = await open_order(runtime, "u1", live)
    assert await remove(runtime, order, "A2")
    with pytest.raises(checkout.EmptyCart):
        await confirm(runtime, order)
    assert (await order_row(runtime, order)).status == "reserved"


async def test_same_phone_or_email_makes_one_member_and_carts_follow(runtime: Runtime) -> None:
    # An Instagram buyer confirms first: their member now has the phone and e-mail.
    ig_live = await start_instagram_live(runtime, "18000000000000001")
    await instagram_comments_on(runtime, "18000000000000001", [("ig7", "C7+1")], start=1)
    await confirm(runtime, await open_order(runtime, "ig7", ig_live))
    person = await member_of(runtime, "ig7")
    # Two Facebook accounts of the same person each hold a cart in one live, and one more each.
    first = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u2", "A2+1"), ("u2", "B3+2")], start=10)
    u1_cart, u2_cart = (
        await open_order(runtime, "u1", first),
        await open_order(runtime, "u2", first),
    )
    second = await start_test_live(runtime, video_id=SECOND_VIDEO)
    await comment_on(runtime, [("u1", "A12+1"), ("u2", "A12+1")], start=20, video_id=SECOND_VIDEO)

    # u1 gives the same phone (typed differently): u1 becomes that member.
    await confirm(runtime, await open_order(runtime, "u1", second), phone="0912 345 678")
    assert await member_of(runtime, "u1") == person
    # u2 gives another phone but the same e-mail: u2 too; the two open carts become one.
    await confirm(
        runtime,
        await open_order(runtime, "u2", second),
        phone="0987654321",
        email="MING@example.com",
    )
    assert await member_of(runtime, "u2") == person

    assert await open_order(runtime, "u1", first) == u1_cart
    assert await lines_of(runtime, u1_cart) == {"A2": 2, "B3": 2}
    assert str((await order_row(runtime, u1_cart)).total) == "1420.00"
    assert (await order_row(runtime, u2_cart)).status == "cancelled"
    assert await lines_of(runtime, u2_cart) == {}
    assert await stock_of(runtime, "A2") == (30, 2, 0)  # the stock moved with the lines
    assert (await event_names(runtime, u1_cart))[-1] == "order.updated"
    assert (await event_names(runtime, u2_cart))[-1] == "order.cancelled"
    assert await count_orders(runtime, Order.member_id == person) == 5
    assert await count_orders(runtime, Order.member_id != person) == 0
    async with runtime.sessions() as session:
        merged = (
            await session.execute(
                select(Member.merged_into_id, Member.phone).where(Member.id != person)
            )
        ).all()
        identities = set((await session.scalars(select(Identity.member_id))).all())
    assert merged == [(person, None), (person, None)]
    assert identities == {person}
    kept = await member_row(runtime, person)
    assert (kept.phone, kept.email) == ("0912345678", "ming@example.com")

    # Later comments of either account go into the one cart.
    await comment_on(runtime, [("u2", "B3+1")], start=30)
    assert await lines_of(runtime, u1_cart) == {"A2": 2, "B3": 3}


async def test_a_merge_never_renews_a_cart_whose_hold_has_ended(runtime: Runtime) -> None:
    first = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u2", "B3+2")], start=10)
    u1_cart, u2_cart = (
        await open_order(runtime, "u1", first),
        await open_order(runtime, "u2", first),
    )
    second = await start_test_live(runtime, video_id=SECOND_VIDEO)
    await comment_on(runtime, [("u1", "A12+1"), ("u2", "A12+1")], start=20, video_id=SECOND_VIDEO)
    await confirm(runtime, await open_order(runtime, "u1", second))
    person = await member_of(runtime, "u1")
    # u1's cart in the first live has run out its hold; the sweeper has not come by yet.
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Order)
            .where(Order.id == u1_cart)
            .values(hold_until=utcnow() - timedelta(minutes=1))
        )

    # u2 confirms with u1's phone: u2 becomes u1's member. Combined with u2's open cart, u1's
    # lapsed one would have lived on under u2's hold.
    await confirm(runtime, await open_order(runtime, "u2", second))
    assert await member_of(runtime, "u2") == person
    assert (await order_row(runtime, u1_cart)).status == "expired"
    assert await stock_of(runtime, "A2") == (30, 0, 0)  # its unit went back
    assert (await event_names(runtime, u1_cart))[-1] == "order.expired"
    assert await open_order(runtime, "u2", first) == u2_cart
    assert (await order_row(runtime, u2_cart)).member_id == person
    assert await lines_of(runtime, u2_cart) == {"B3": 2}


async def test_a_member_imported_from_the_shop_takes_in_the_social_buyer(runtime: Runtime) -> None:
    async with runtime.sessions.begin() as session:
        shop_member = Member(name="王小明", phone="0912345678", tier="gold")
        session.add(shop_member)
        await session.flush()
        imported = shop_member.id
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1")])
    order = await open_order(runtime, "u1", live)
    assert await confirm(runtime, order, email="new@example.com") == imported
    assert await member_of(runtime, "u1") == imported
    assert (await order_row(runtime, order)).member_id == imported
    kept = await member_row(runtime, imported)
    assert (kept.tier, kept.email) == ("gold", "new@example.com")
