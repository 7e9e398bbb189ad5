"""The buyer's checkout pages: `GET /checkout/{token}`, `POST .../remove`, `POST .../confirm`.

Server-rendered, autoescaped HTML in Traditional Chinese and English, no JavaScript.
Post/Redirect/Get: a POST that worked answers 303 to the page; a form with mistakes is shown
again with them (422). Every POST carries a CSRF token, an HMAC of the checkout secret over the
order id and a random nonce that lives in an HttpOnly, SameSite=Lax cookie; a cross-site page
can neither read the cookie nor compute the token. Prices always come from the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.exc import IntegrityError

from bot import checkout
from bot.checkout_form import FIELDS, InvalidDetails, Message
from bot.checkout_token import InvalidToken, read_token
from bot.runtime import Runtime
from storage.types import utcnow
from webhooks.keys import RUNTIME
from webhooks.responses import form_fields

log = logging.getLogger("livecart.checkout")

CSRF_COOKIE = "livecart_csrf"
CSRF_FIELD = "csrf"
_NONCE = re.compile(r"[A-Za-z0-9_-]{22,64}")
_COOKIE_MAX_AGE = 30 * 24 * 3600
_CONFIRM_ATTEMPTS = 3

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

NOTICES: Mapping[str, Message] = {
    "removed": Message("已移除，庫存已釋出。", "Removed; the stock went back on sale."),
    "gone": Message("這項商品已不在購物車裡。", "That item is no longer in your cart."),
    "empty": Message(
        "購物車是空的，沒有可確認的商品。", "Your cart is empty; there is nothing to confirm."
    ),
    "closed": Message("此購物車已無法變更。", "This cart can no longer be changed."),
    "changed": Message(
        "開啟此頁後購物車有了變動，請確認內容後再按一次確認。",
        "Your cart changed after this page was loaded; check it and confirm again.",
    ),
}
SEEN_FIELD = "cart"  # the confirm form's `CheckoutPage.fingerprint`


def add_checkout_routes(app: web.Application) -> None:
    app.router.add_get("/checkout/{token}", show_checkout)
    app.router.add_post("/checkout/{token}/remove", remove_from_cart)
    app.router.add_post("/checkout/{token}/confirm", confirm_order)
    # Last: a mangled link (a `/` in it, cut after `/checkout/`) still gets the clear page.
    app.router.add_get("/checkout/{mangled:.*}", show_mangled_link)


# --- handlers ------------------------------------------------------------------------------


async def show_checkout(request: web.Request) -> web.Response:
    order_id = _order_id(request)
    if order_id is None:
        return _not_found()
    notice = NOTICES.get(request.query.get("notice", ""))
    return await _checkout_page(request, order_id, notice=notice)


async def show_mangled_link(request: web.Request) -> web.Response:
    log.info("checkout: refused a link that is no checkout token")
    return _not_found()


async def remove_from_cart(request: web.Request) -> web.Response:
    order_id = _order_id(request)
    if order_id is None:
        return _not_found()
    form = await _checked_form(request, order_id)
    if isinstance(form, web.Response):
        return form
    runtime = request.app[RUNTIME]
    try:
        async with runtime.sessions.begin() as session:
            removed = await checkout.remove_line(
                session,
                runtime.stock,
                order_id,
                form.get("sku", ""),
                now=utcnow(),
                hold_for=runtime.settings.hold_for,
            )
    except checkout.OrderNotOpen:
        return _see_page(request, "closed")
    return _see_page(request, "removed" if removed else "gone")


async def confirm_order(request: web.Request) -> web.Response:
    order_id = _order_id(request)
    if order_id is None:
        return _not_found()
    form = await _checked_form(request, order_id)
    if isinstance(form, web.Response):
        return form
    try:
        await _confirm(request.app[RUNTIME], order_id, form)
    except InvalidDetails as invalid:
        values = {key: form.get(key, "") for key in FIELDS}
        return await _checkout_page(
            request,
            order_id,
            errors=invalid.errors,
            values=values,
            status=422,
            seen=form.get(SEEN_FIELD, ""),
        )
    except checkout.CartChanged:
        values = {key: form.get(key, "") for key in FIELDS}
        log.info("checkout: order %d changed since its page was loaded; shown again", order_id)
        return await _checkout_page(
            request, order_id, notice=NOTICES["changed"], values=values, status=409
        )
    except checkout.EmptyCart:
        return _see_page(request, "empty")
    except checkout.OrderNotOpen as closed:
        # A second tap on "confirm" just shows the confirmation.
        return _see_page(request, None if closed.state == "confirmed" else "closed")
    return _see_page(request, None)


async def _confirm(runtime: Runtime, order_id: int, form: Mapping[str, str]) -> None:
    """Two confirms merging the same people at once can collide on a unique key (a phone, the
    one open cart per live): the loser runs again and sees the winner's result."""
    for attempt in range(1, _CONFIRM_ATTEMPTS + 1):
        try:
            async with runtime.sessions.begin() as session:
                await checkout.confirm(
                    session,
                    runtime.stock,
                    order_id,
                    form,
                    seen=form.get(SEEN_FIELD, ""),
                    now=utcnow(),
                    hold_for=runtime.settings.hold_for,
                    shops=runtime.settings.pickup_shops,
                )
            return
        except IntegrityError:
            if attempt == _CONFIRM_ATTEMPTS:
                raise
            log.warning("checkout: order %d met a concurrent change; confirming again", order_id)


# --- pages ---------------------------------------------------------------------------------


async def _checkout_page(
    request: web.Request,
    order_id: int,
    *,
    notice: Message | None = None,
    errors: Mapping[str, Message] | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
    seen: str | None = None,
) -> web.Response:
    """`seen`: the cart fingerprint a form came with; a page shown again for its mistakes says
    too when the cart is no longer the one the buyer saw, since its form now carries the new one."""
    runtime = request.app[RUNTIME]
    now = utcnow()
    async with runtime.sessions() as session:
        page = await checkout.load_page(session, order_id, now)
    if page is None:
        return _not_found()
    if seen is not None and seen != page.fingerprint:
        notice = NOTICES["changed"]
    nonce = request.cookies.get(CSRF_COOKIE, "")
    fresh = not _NONCE.fullmatch(nonce)
    if fresh:
        nonce = secrets.token_urlsafe(24)
    zone = ZoneInfo(runtime.settings.shop_timezone)
    response = _html(
        "checkout.html",
        status=status,
        page=page,
        path=f"/checkout/{request.match_info['token']}",
        csrf=csrf_token(runtime.checkout_secret, order_id, nonce),
        seen_field=SEEN_FIELD,
        notice=notice,
        errors=errors or {},
        values=values or {"name": page.order.buyer_name or ""},
        shops=runtime.settings.pickup_shops,
        time_left=time_left(page.order.hold_until, now),
        local_time=lambda moment: _local_time(moment, zone),
        money=money,
    )
    if fresh:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            path="/checkout",
            max_age=_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=runtime.settings.public_url.startswith("https://"),
        )
    return response


def _not_found() -> web.Response:
    return _html("problem.html", status=404, problem="not_found")


def _forbidden(path: str) -> web.Response:
    return _html("problem.html", status=403, problem="forbidden", path=path)


def _html(template: str, *, status: int, **context: object) -> web.Response:
    style_nonce = secrets.token_urlsafe(16)
    body = _templates.get_template(template).render(style_nonce=style_nonce, **context)
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        headers={
            # The token in the URL must not leak to other sites through the Referer.
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{style_nonce}'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
        },
    )


def _see_page(request: web.Request, notice: str | None) -> web.Response:
    location = f"/checkout/{request.match_info['token']}"
    if notice:
        location += f"?notice={notice}"
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


# --- tokens --------------------------------------------------------------------------------


def _order_id(request: web.Request) -> int | None:
    """The order the link's token names, or None for a forged, altered or cut-off link."""
    try:
        return read_token(request.match_info["token"], request.app[RUNTIME].checkout_secret)
    except InvalidToken as problem:
        log.info("checkout: refused a link (%s)", problem)
        return None


async def _checked_form(request: web.Request, order_id: int) -> dict[str, str] | web.Response:
    """The posted fields, or a 403 page when the CSRF token is missing or wrong."""
    form = await form_fields(request)
    nonce = request.cookies.get(CSRF_COOKIE, "")
    secret = request.app[RUNTIME].checkout_secret
    if _NONCE.fullmatch(nonce) and csrf_matches(secret, order_id, nonce, form.get(CSRF_FIELD, "")):
        return form
    log.warning("checkout: order %d: refused a form without a valid CSRF token", order_id)
    return _forbidden(f"/checkout/{request.match_info['token']}")


def csrf_token(secret: str, order_id: int, nonce: str) -> str:
    digest = hmac.new(secret.encode(), f"csrf:{order_id}:{nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def csrf_matches(secret: str, order_id: int, nonce: str, given: str) -> bool:
    expected = csrf_token(secret, order_id, nonce)
    return hmac.compare_digest(expected.encode(), given.encode())


# --- words and numbers (pure) --------------------------------------------------------------


def money(amount: Decimal) -> str:
    """`1180.00` -> `$1,180`; cents shown only when there are some."""
    text = f"{amount:,.2f}"
    return "$" + text.removesuffix(".00")


def time_left(until: datetime, now: datetime) -> Message:
    """How long a hold still lasts, in the two largest units: `5 小時 12 分鐘` / `5 h 12 min`."""
    seconds = int((until - now).total_seconds())
    if seconds < 60:
        return Message("不到 1 分鐘", "less than a minute")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    units = [(days, "天", "d"), (hours, "小時", "h"), (minutes, "分鐘", "min")]
    shown = [(n, zh, en) for n, zh, en in units if n][:2]
    return Message(
        " ".join(f"{n} {zh}" for n, zh, _ in shown), " ".join(f"{n} {en}" for n, _, en in shown)
    )


def _local_time(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y/%m/%d %H:%M")
