"""What the central store receives for one `store_event` row, and its signature. Pure.

    POST <CENTRAL_STORE_URL>
    Content-Type: application/json
    Idempotency-Key: <outbox key>           the same on every retry of the event
    X-Livecart-Signature: sha256=<hex>      HMAC-SHA256 of the exact body bytes

    {"version": 1, "id": <outbox id>, "event": "order.reserved", "order_id": 42,
     "occurred_at": "2026-11-20T12:00:00.123456+00:00", "data": {...the order...}}

`id` increases with every event of an order, so a receiver can ignore a snapshot older than
the one it has.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

from storage.outbox import ClaimedMessage

VERSION = 1
SIGNATURE_HEADER = "X-Livecart-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class MalformedEvent(ValueError):
    """The row cannot become a store event (a bug upstream): it fails, never retried."""


def event_body(message: ClaimedMessage) -> bytes:
    payload = message.payload
    event, order_id, data = payload.get("event"), payload.get("order_id"), payload.get("data")
    if not isinstance(event, str) or not event:
        raise MalformedEvent("the payload names no event")
    if not isinstance(order_id, int) or isinstance(order_id, bool):
        raise MalformedEvent("the payload's order_id is not a whole number")
    if data is not None and not isinstance(data, dict):
        raise MalformedEvent("the payload's data is not an object")
    body = {
        "version": VERSION,
        "id": message.id,
        "event": event,
        "order_id": order_id,
        "occurred_at": message.created_at.isoformat(),
        "data": data or {},
    }
    return orjson.dumps(body)


def signature(secret: str, body: bytes) -> str:
    """The `X-Livecart-Signature` value: `sha256=` and the hex HMAC of the body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time check of a signature header."""
    return hmac.compare_digest(signature(secret, body).encode(), header.encode())


def event_headers(message: ClaimedMessage, body: bytes, secret: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: message.key}
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    return headers
