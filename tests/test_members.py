"""Importing the shop's members, and a blocked one's comments going to staff."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.member_import import MemberFileError, read_members
from bot.runtime import Runtime
from bot.sweeper import sweep
from storage.member_import import import_members
from storage.members import merge_into
from storage.models import Member, Order, OrderLine, ReviewItem
from storage.types import utcnow
from tests.checkout.support import confirm, member_of
from tests.cli import clean_env, livecart
from tests.pipeline import comment_on, start_test_live
from tests.test_ordering import stock_of

FILE = """name,phone,email,tier,blocked
王小明,0912-345-678,ming@example.com,gold,yes
Amy,+886 922 333 444,,,
,,amy@example.com,silver,no
"""


def test_the_file_is_read_and_normalized() -> None:
    rows = read_members(FILE)
    assert [(r.name, r.phone, r.email, r.tier, r.blocked) for r in rows] == [
        ("王小明", "0912345678", "ming@example.com", "gold", True),
        ("Amy", "+886922333444", None, None, False),
        (None, None, "amy@example.com", "silver", False),
    ]


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("name,phone\nA,1", 1, "email"),
        ("name,phone,email\nA,12,\n", 2, "not a phone"),
        ("name,phone,email\nA,,not-mail\n", 2, "not an e-mail"),
        ("name,phone,email\nA,,\n", 2, "needs a phone or an e-mail"),
        ("name,phone,email,blocked\nA,0912345678,,maybe\n", 2, "blocked must be"),
        ("name,phone,email\nA,0912345678,\nB,0912-345-678,\n", 3, "already on line 2"),
    ],
)
def test_a_bad_row_is_refused_with_its_line(text: str, line: int, says: str) -> None:
    with pytest.raises(MemberFileError) as caught:
        read_members(text)
    assert caught.value.line == line and says in str(caught.value)


def test_the_command_imports_then_updates(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "members.csv"
    path.write_text(FILE, encoding="utf-8")
    env = clean_env(DATABASE_URL=database_url)
    first = livecart("members", "import", str(path), env=env, cwd=tmp_path)
    assert (first.returncode, first.stdout.strip()) == (0, "3 members created, 0 updated")
    again = livecart("members", "import", str(path), env=env, cwd=tmp_path)
    assert again.stdout.strip() == "0 members created, 3 updated"
    path.write_text("name,phone,email\nA,12,\n", encoding="utf-8")
    bad = livecart("members", "import", str(path), env=env, cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith(
        "line 2: '12' is not a phone number (8-15 digits); nothing was imported"
    )
    path.write_bytes(FILE.encode("big5"))  # as Excel saves it in Taiwan
    big5 = livecart("members", "import", str(path), env=env, cwd=tmp_path)
    assert big5.returncode == 2
    assert big5.stderr.strip().endswith(
        f"{path}: the members file must be UTF-8 text (save it as UTF-8)"
    )
    path.write_bytes(b"\xef\xbb\xbf" + FILE.encode())  # with a byte-order mark: fine
    bom = livecart("members", "import", str(path), env=env, cwd=tmp_path)
    assert bom.stdout.strip() == "0 members created, 3 updated"


async def test_a_blocked_shop_member_found_at_checkout_goes_to_review(runtime: Runtime) -> None:
    async with runtime.sessions.begin() as session:
        await import_members(session, read_members(FILE))
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1")])
    async with runtime.sessions() as session:
        order_id = await session.scalar(select(Order.id))
    assert order_id is not None
    await confirm(runtime, order_id)
    await comment_on(runtime, [("u1", "A2+1")], start=50)
    async with runtime.sessions() as session:
        reviews = await session.scalar(select(func.count()).select_from(ReviewItem))
        members = await session.scalar(
            select(func.count()).select_from(Member).where(Member.merged_into_id.is_(None))
        )
    assert reviews == 1
    assert members == 3  # the buyer became the imported member
    assert await stock_of(runtime, "A2") == (30, 0, 29)


async def _open_carts(runtime: Runtime, members: set[int]) -> dict[int, dict[str, int]]:
    """Each open cart of these members: its lines."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Order.id, OrderLine.sku, OrderLine.quantity)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(Order.member_id.in_(members), Order.status == "reserved")
        )
    carts: dict[int, dict[str, int]] = {}
    for order_id, sku, quantity in rows.all():
        carts.setdefault(order_id, {})[sku] = quantity
    return carts


async def test_a_cart_a_batch_opens_while_a_merge_commits_joins_the_kept_members_cart(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u2", "B3+1")])
    merged, kept = await member_of(runtime, "u1"), await member_of(runtime, "u2")
    # A checkout merges u1's member into u2's while a batch with u1's next comment runs: on
    # PostgreSQL the batch finds u1's member (the merge has not committed), then no open cart
    # of it (the merge has emptied it), and opens one.
    async with runtime.sessions.begin() as session:
        await merge_into(session, kept, merged)
        racing = asyncio.create_task(comment_on(runtime, [("u1", "A2+2")], start=10))
        await asyncio.sleep(0.5)
    await racing
    if runtime.engine.dialect.name == "postgresql":  # SQLite's batch waited for the merge
        assert len(await _open_carts(runtime, {merged, kept})) == 2
    await sweep(runtime, utcnow())
    assert list((await _open_carts(runtime, {merged, kept})).values()) == [{"A2": 3, "B3": 1}]
    assert await member_of(runtime, "u1") == kept
    assert await stock_of(runtime, "A2") == (30, 3, 27)


async def test_the_sweeper_moves_a_straggling_cart_to_the_end_of_a_merge_chain(
    runtime: Runtime,
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1"), ("u2", "B3+1"), ("u3", "C7+1")])
    first, second, last = [await member_of(runtime, u) for u in ("u1", "u2", "u3")]
    # As the race above leaves it: u1 merged into u2 and u2 into u3, u1 and u3 still with carts.
    async with runtime.sessions.begin() as session:
        await merge_into(session, last, second)
        await session.execute(
            update(Member).where(Member.id == first).values(merged_into_id=second)
        )
    await sweep(runtime, utcnow())
    carts = await _open_carts(runtime, {first, second, last})
    assert list(carts.values()) == [{"A2": 1, "B3": 1, "C7": 1}]
    async with runtime.sessions() as session:
        assert await session.scalar(select(Order.member_id).where(Order.id.in_(carts))) == last
    assert (await sweep(runtime, utcnow())).expired_orders == 0
