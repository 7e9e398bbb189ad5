"""Meta's signed_request callbacks: data deletion (with its status page) and deauthorize."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import secrets

import orjson
from aiohttp import web

from storage.privacy import deletion_status, forget_person
from webhooks.keys import RUNTIME
from webhooks.responses import error, form_fields

log = logging.getLogger("livecart.webhooks")


class BadSignedRequest(ValueError):
    pass


def read_signed_request(signed_request: str, app_secret: str) -> dict[str, object]:
    """The payload of Meta's `<sig>.<payload>` (both base64url, unpadded); BadSignedRequest for
    anything else. Not facebook-sdk's parser: it compares the signature with `!=`, and its
    time tells a forger how much of a guess was right."""
    signature_text, dot, payload_text = signed_request.partition(".")
    try:
        signature = _unpadded_b64url(signature_text)
    except ValueError:
        signature = b""
    if not dot or not signature or not payload_text.isascii():
        raise BadSignedRequest("the signed_request is malformed")
    expected = hmac.new(app_secret.encode(), payload_text.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise BadSignedRequest("the signed_request's signature does not match")
    # Read only once it is known to be Meta's.
    try:
        payload = orjson.loads(_unpadded_b64url(payload_text))
    except (ValueError, orjson.JSONDecodeError):
        raise BadSignedRequest("the signed_request is malformed") from None
    if not isinstance(payload, dict) or payload.get("algorithm") != "HMAC-SHA256":
        raise BadSignedRequest("the signed_request is not signed with HMAC-SHA256")
    return payload


def _unpadded_b64url(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def _signed_payload(request: web.Request) -> dict[str, object] | web.Response:
    app_secret = request.app[RUNTIME].settings.meta_app_secret
    if app_secret is None:
        return error(403, "Signed requests cannot be verified: the app secret is not configured.")
    form = await form_fields(request)
    signed_request = form.get("signed_request")
    if not isinstance(signed_request, str) or not signed_request:
        return error(400, "The form has no signed_request field.")
    try:
        payload = read_signed_request(signed_request, app_secret)
    except BadSignedRequest as problem:
        return error(400, f"Refused: {problem}.")
    if not isinstance(payload.get("user_id"), str | int):
        return error(400, "The signed_request names no user_id.")
    return payload


async def data_deletion(request: web.Request) -> web.Response:
    payload = await _signed_payload(request)
    if isinstance(payload, web.Response):
        return payload
    runtime = request.app[RUNTIME]
    code = secrets.token_hex(8)
    async with runtime.sessions.begin() as session:
        await forget_person(session, str(payload["user_id"]), code)
    log.info("data deletion %s done", code)
    status_url = f"{runtime.settings.public_url}/webhooks/meta/deletion/{code}"
    return web.json_response({"url": status_url, "confirmation_code": code})


async def deletion_status_page(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    async with request.app[RUNTIME].sessions() as session:
        found = await deletion_status(session, code)
    if found is None:
        body = "<p>We have no deletion request with this code.</p>"
        return _page(f"Deletion request {html.escape(code)}", body, status=404)
    done = found.completed_at.strftime("%Y-%m-%d %H:%M UTC") if found.completed_at else ""
    body = (
        f"<p>Status: <strong>{html.escape(found.status)}</strong>.</p>"
        f"<p>Your comments, names and contact details were deleted on {done}. "
        "Order amounts stay in the shop's accounts without your personal details.</p>"
        f"<p>刪除狀態：已完成（{done}）。您的留言、名稱與聯絡資料已刪除。</p>"
    )
    return _page(f"Deletion request {html.escape(code)}", body)


async def deauthorize(request: web.Request) -> web.Response:
    payload = await _signed_payload(request)
    if isinstance(payload, web.Response):
        return payload
    log.info("a user removed the app (deauthorize callback)")
    return web.Response(text="ok", content_type="text/plain")


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    document = (
        '<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status)
