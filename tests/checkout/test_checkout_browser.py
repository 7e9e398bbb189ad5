"""The checkout page in a real headless Chromium on a phone-sized screen, against the real app on
a real port: carts made by the real pipeline, links taken from the replies in the outbox.

SQLite with the database queue only, to keep it quick; the service tests cover the other
backends. Needs Debian's /usr/bin/chromium (skipped without it unless LIVECART_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect
from sqlalchemy import select, update

from bot.runtime import Runtime
from storage.models import Order, OutboxMessage
from storage.types import utcnow
from tests.checkout.support import lines_of, open_order, order_row, stock_of
from tests.conftest import REQUIRE_SERVICES
from tests.pipeline import comment_on, start_test_live
from webhooks.app import build_app
from webhooks.checkout import add_checkout_routes

CHROMIUM = Path("/usr/bin/chromium")
PHONE: ViewportSize = {"width": 390, "height": 844}
SCREENSHOT = Path("/tmp/livecart-checkout-phone.png")  # for a person to look at


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(params=["database"])
def queue_backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def base_url(runtime: Runtime) -> AsyncIterator[str]:
    """The real application with the checkout routes, on a free port of 127.0.0.1."""
    app = build_app(runtime)
    add_checkout_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM}"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message} and LIVECART_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


async def phone(browser: Browser) -> Page:
    context = await browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-TW"
    )
    return await context.new_page()


async def link_for(runtime: Runtime, base_url: str, author: str) -> str:
    """The checkout link of the latest reply to `author`, on the test server's address."""
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "reply").order_by(OutboxMessage.id)
        )
        texts = [str(row.payload["text"]) for row in rows]
    mine = [text for text in texts if f"Buyer {author}" in text]
    found = re.search(r"https?://[^/\s]+(/checkout/\S+)", mine[-1])
    assert found, mine[-1]
    return base_url + found.group(1)


async def test_a_buyer_removes_a_line_and_confirms_on_a_phone(
    runtime: Runtime, base_url: str, browser: Browser
) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+2"), ("u1", "B3+1")])
    page = await phone(browser)

    opened = await page.goto(await link_for(runtime, base_url, "u1"))
    assert opened is not None and opened.status == 200
    await expect(page.get_by_role("heading", name="您的購物車")).to_be_visible()
    await expect(page.locator('[data-sku="A2"]')).to_contain_text("保溫杯")
    await expect(page.locator('[data-sku="B3"]')).to_contain_text("玫瑰香皂")
    await expect(page.locator("[data-total]")).to_have_text("$1,300")
    await expect(page.get_by_text("還剩 23 小時")).to_be_visible()
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    await page.locator('[data-sku="B3"]').get_by_role("button", name="移除 Remove").click()
    await expect(page.get_by_text("已移除，庫存已釋出。")).to_be_visible()
    await expect(page.locator('[data-sku="B3"]')).to_have_count(0)
    await expect(page.locator("[data-total]")).to_have_text("$1,180")
    assert await stock_of(runtime, "B3") == (100, 0, 0)

    await page.get_by_label("姓名").fill("王小明")
    await page.get_by_label("電話").fill("0912-345-678")
    await page.get_by_label("電子郵件").fill("ming@example.com")
    await page.get_by_label("宅配 Delivery").check()
    await page.get_by_role("button", name=re.compile("確認訂單")).click()
    await expect(page.get_by_text("請填寫宅配地址。")).to_be_visible()  # shown again, kept
    await expect(page.get_by_label("電話")).to_have_value("0912-345-678")

    await page.get_by_label("宅配地址").fill("台北市信義區市府路 1 號")
    await page.get_by_role("button", name=re.compile("確認訂單")).click()
    await expect(page.get_by_role("heading", level=1, name="訂單已確認")).to_be_visible()
    await expect(page.get_by_text("台北市信義區市府路 1 號")).to_be_visible()
    await expect(page.get_by_role("button", name="移除 Remove")).to_have_count(0)
    order = await order_row(runtime, await _order_id(runtime, live))
    assert (order.status, order.fulfilment, order.buyer_phone) == (
        "confirmed",
        "delivery",
        "0912345678",
    )
    assert await stock_of(runtime, "A2") == (30, 0, 2)


async def test_the_page_shows_the_waitlist_and_what_happened_since(
    runtime: Runtime, base_url: str, browser: Browser
) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [(f"x{n}", "C7+1") for n in range(15)])
    await comment_on(runtime, [("u2", "A2+1"), ("u2", "C7+1")], start=100)
    page = await phone(browser)
    await page.goto(await link_for(runtime, base_url, "u2"))
    waiting = page.locator('[data-waiting="C7"]')
    await expect(waiting).to_contain_text("第 1 位")
    await expect(waiting).to_contain_text("Sold out")

    # Someone else removes their C7: it goes into u2's cart, and the page says so on reload.
    other = await page.context.new_page()
    await other.goto(await link_for(runtime, base_url, "x3"))
    await other.get_by_role("button", name="移除 Remove").click()
    await expect(other.get_by_text("已移除")).to_be_visible()
    await page.reload()
    await expect(page.locator('[data-sku="C7"]')).to_contain_text("草莓果醬")
    await expect(page.locator('[data-waiting="C7"]')).to_have_count(0)

    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Order)
            .where(Order.id == await open_order(runtime, "u2", live))
            .values(hold_until=utcnow() - timedelta(minutes=1))
        )
    await page.reload()
    await expect(page.get_by_text("保留時間已結束")).to_be_visible()
    await expect(page.get_by_role("button", name=re.compile("確認訂單"))).to_have_count(0)


async def test_a_cart_that_grew_while_the_buyer_typed_is_shown_again_before_confirming(
    runtime: Runtime, base_url: str, browser: Browser
) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u3", "A2+1")])
    page = await phone(browser)
    await page.goto(await link_for(runtime, base_url, "u3"))
    await page.get_by_label("姓名").fill("陳小華")
    await page.get_by_label("電話").fill("0922-333-444")
    await page.get_by_label("門市取貨 Pick up in a shop").check()
    await page.get_by_label("取貨門市 Pickup shop").select_option(index=1)
    confirm = page.get_by_role("button", name=re.compile("確認訂單"))
    changed = page.get_by_text("開啟此頁後購物車有了變動")

    # While they typed, another comment of theirs added a line the page does not show; and
    # they forgot the e-mail. The page shown for the mistake says the cart changed too.
    await comment_on(runtime, [("u3", "B3+2")], start=50)
    async with page.expect_response(re.compile(r"/confirm$")) as answered:
        await confirm.click()
    assert (await answered.value).status == 422
    await expect(page.get_by_text("請填寫有效的電子郵件")).to_be_visible()
    await expect(changed).to_be_visible()
    await expect(page.locator('[data-sku="B3"]')).to_contain_text("玫瑰香皂")

    # It grows again before the corrected form goes: shown again (409), details kept.
    await page.get_by_label("電子郵件").fill("hua@example.com")
    await comment_on(runtime, [("u3", "C7+1")], start=60)
    async with page.expect_response(re.compile(r"/confirm$")) as answered:
        await confirm.click()
    assert (await answered.value).status == 409
    await expect(changed).to_be_visible()
    await expect(page.locator('[data-sku="C7"]')).to_contain_text("草莓果醬")
    await expect(page.get_by_label("電話")).to_have_value("0922-333-444")
    order = await open_order(runtime, "u3", live)
    assert (await order_row(runtime, order)).status == "reserved"

    await confirm.click()
    await expect(page.get_by_role("heading", level=1, name="訂單已確認")).to_be_visible()
    assert (await order_row(runtime, order)).status == "confirmed"
    assert await lines_of(runtime, order) == {"A2": 1, "B3": 2, "C7": 1}


async def test_a_tampered_link_shows_the_error_page(
    runtime: Runtime, base_url: str, browser: Browser
) -> None:
    await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1")])
    link = await link_for(runtime, base_url, "u1")
    page = await phone(browser)
    order_part, _, signature = link.rpartition("/")[2].partition("-")
    for tampered in (
        link[:-1] + ("A" if link[-1] != "A" else "B"),  # signature altered
        link.replace(f"/{order_part}-", f"/{int(order_part) + 1}-"),  # another order's id
        f"{base_url}/checkout/{order_part}",  # cut off
        f"{base_url}/checkout/<script>alert(1)</script>",
        f"{base_url}/checkout/%C2%B2-{signature}",  # a digit to str.isdigit, not to int
        f"{base_url}/checkout/{order_part}-%C3%A9",  # not ASCII
        f"{base_url}/checkout/99999999999999999999-{signature}",  # beyond any id
    ):
        answered = await page.goto(tampered)
        assert answered is not None and answered.status == 404, tampered
        await expect(page.get_by_role("heading", name="找不到這個結帳連結")).to_be_visible()
        await expect(page.get_by_text("This checkout link is not valid")).to_be_visible()
    assert signature


async def test_a_form_without_the_csrf_token_is_refused(
    runtime: Runtime, base_url: str, browser: Browser
) -> None:
    live = await start_test_live(runtime)
    await comment_on(runtime, [("u1", "A2+1")])
    link = await link_for(runtime, base_url, "u1")
    page = await phone(browser)
    await page.goto(link)  # the browser now holds the CSRF cookie
    forms: list[dict[str, str | float | bool]] = [{"sku": "A2"}, {"sku": "A2", "csrf": "forged"}]
    for fields in forms:
        refused = await page.request.post(f"{link}/remove", form=fields)
        assert refused.status == 403
        assert "無法送出這個表單" in await refused.text()
    good = await page.locator('[data-sku="A2"] input[name="csrf"]').get_attribute("value")
    assert good
    cookieless = await browser.new_context()
    refused = await cookieless.request.post(f"{link}/confirm", form={"csrf": good})
    assert refused.status == 403
    await cookieless.close()
    order = await open_order(runtime, "u1", live)
    assert await lines_of(runtime, order) == {"A2": 1}
    assert (await order_row(runtime, order)).status == "reserved"


async def _order_id(runtime: Runtime, live: int) -> int:
    async with runtime.sessions() as session:
        found = await session.scalar(select(Order.id).where(Order.live_id == live))
    assert found is not None
    return found
