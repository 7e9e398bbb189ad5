"""Meta's webhook endpoint: the handshake and verified, durably queued deliveries."""

from __future__ import annotations

import hmac
import logging

import orjson
from aiohttp import web

from webhooks.envelope import NotAnEnvelope, check_envelope
from webhooks.keys import RUNTIME
from webhooks.responses import error
from webhooks.signature import verify

log = logging.getLogger("livecart.webhooks")
MAX_BODY = 1024 * 1024


async def handshake(request: web.Request) -> web.Response:
    expected = request.app[RUNTIME].settings.meta_verify_token
    query = request.query
    token = query.get("hub.verify_token", "")
    if (
        expected
        and query.get("hub.mode") == "subscribe"
        and hmac.compare_digest(token.encode(), expected.encode())
    ):
        return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")
    return error(403, "The verify token does not match.")


async def delivery(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return error(413, "The delivery is larger than 1 MiB.")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        body = None
    # A chunked body has no Content-Length, and aiohttp lets one byte past its limit through.
    if body is None or len(body) > MAX_BODY:
        return error(413, "The delivery is larger than 1 MiB.")
    app_secret = request.app[RUNTIME].settings.meta_app_secret
    if app_secret is None:
        log.warning("refused a delivery: META_APP_SECRET is not set, so none can be verified")
        return error(403, "Deliveries cannot be verified: the app secret is not configured.")
    if not verify(body, request.headers.get("X-Hub-Signature-256"), app_secret):
        return error(403, "The X-Hub-Signature-256 signature is missing or wrong.")
    try:
        check_envelope(orjson.loads(body))
    except orjson.JSONDecodeError:
        return error(400, "The body is not valid JSON.")
    except NotAnEnvelope as problem:
        return error(400, f"This is not a Meta webhook delivery: {problem}.")
    await request.app[RUNTIME].queue.put(body)
    return web.Response(text="EVENT_RECEIVED", content_type="text/plain")
