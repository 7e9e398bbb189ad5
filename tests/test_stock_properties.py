"""Property: whatever happens (orders, cancels, restocks and shop sales, expiries, in any order),
available stock never goes below zero, the ledger equals the counters, and the units reserved are
exactly the units in open carts. On both stock backends, through the real pipeline."""

import asyncio
import shutil
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis import Redis as SyncRedis
from sqlalchemy import func, select, update

from bot.inventory import Adjustment, adjust
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.sweeper import sweep
from storage.models import Order, OrderLine, Sku, StockMove
from storage.stock import StockRefused
from storage.types import utcnow
from tests.pipeline import comment_on, start_test_live

SKUS = ("A2", "C7", "APPLE-BOX")  # 30, 15 and 8 units in the test lineup; APPLE-BOX limit 2
KEYWORDS = {"A2": "A2", "C7": "C7", "APPLE-BOX": "蘋果"}
buyers = st.sampled_from(["u1", "u2", "u3", "u4", "u5"])
skus = st.sampled_from(SKUS)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("order"), buyers, skus, st.integers(1, 20)),
        st.tuples(st.just("cancel"), buyers, skus, st.just(0)),
        st.tuples(st.just("adjust"), st.just(""), skus, st.integers(-10, 10)),
        st.tuples(st.just("expire"), st.just(""), st.just(""), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


async def check_invariants(runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        counters = {
            sku: (on_hand, reserved, sold)
            for sku, on_hand, reserved, sold in (
                await session.execute(select(Sku.sku, Sku.on_hand, Sku.reserved, Sku.sold))
            ).all()
        }
        ledger = {
            sku: (int(a), int(b), int(c))
            for sku, a, b, c in (
                await session.execute(
                    select(
                        StockMove.sku,
                        func.sum(StockMove.on_hand_delta),
                        func.sum(StockMove.reserved_delta),
                        func.sum(StockMove.sold_delta),
                    ).group_by(StockMove.sku)
                )
            ).all()
        }
        in_carts = dict(
            (
                await session.execute(
                    select(OrderLine.sku, func.sum(OrderLine.quantity))
                    .join(Order, Order.id == OrderLine.order_id)
                    .where(Order.status == "reserved")
                    .group_by(OrderLine.sku)
                )
            ).all()
        )
    for sku, (on_hand, reserved, sold) in counters.items():
        assert on_hand - reserved - sold >= 0, sku
        assert ledger.get(sku, (0, 0, 0)) == (on_hand, reserved, sold), sku
        assert reserved == int(in_carts.get(sku, 0)), sku


async def scenario(settings_: Settings, steps: list[tuple[str, str, str, int]]) -> None:
    async with open_runtime(settings_, migrate=False) as runtime:
        await start_test_live(runtime)
        for n, (kind, buyer, sku, amount) in enumerate(steps):
            if kind == "order":
                await comment_on(runtime, [(buyer, f"{KEYWORDS[sku]}+{amount}")], start=n * 10)
            elif kind == "cancel":
                await comment_on(runtime, [(buyer, f"取消{KEYWORDS[sku]}")], start=n * 10)
            elif kind == "adjust":
                try:
                    async with runtime.sessions.begin() as session:
                        await adjust(
                            session,
                            runtime.stock,
                            Adjustment(sku, amount, None, "test", uuid.uuid4().hex),
                            now=utcnow(),
                            hold_for=timedelta(hours=1),
                        )
                except StockRefused:
                    pass
                await runtime.stock.restocked([sku])
            else:
                async with runtime.sessions.begin() as session:
                    await session.execute(
                        update(Order)
                        .where(Order.status == "reserved")
                        .values(hold_until=utcnow() - timedelta(seconds=1))
                    )
                await sweep(runtime, utcnow())
            await check_invariants(runtime)


@pytest.mark.parametrize("stock_backend", ["sql", "redis"])
def test_stock_invariants_hold_for_any_sequence(
    stock_backend: str, sqlite_template: Path, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if stock_backend == "redis" else None

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(steps=operations)
    def run(steps: list[tuple[str, str, str, int]]) -> None:
        with tempfile.TemporaryDirectory() as folder:
            database = Path(folder) / "db.sqlite"
            shutil.copyfile(sqlite_template, database)
            prefix = f"lctest:prop:{uuid.uuid4().hex[:8]}"
            try:
                asyncio.run(
                    scenario(
                        Settings(
                            database_url=f"sqlite+aiosqlite:///{database}",
                            redis_url=redis_url,
                            redis_prefix=prefix,
                        ),
                        steps,
                    )
                )
            finally:
                if redis_url:
                    client = SyncRedis.from_url(redis_url)
                    keys = list(client.scan_iter(match=f"{prefix}*"))
                    if keys:
                        client.delete(*keys)
                    client.close()

    run()
