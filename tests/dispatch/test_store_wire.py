"""The central store's body and signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson
import pytest

from bot.dispatch.store_wire import (
    MalformedEvent,
    event_body,
    event_headers,
    signature,
    signature_matches,
)
from storage.outbox import ClaimedMessage


def event(payload: dict[str, object]) -> ClaimedMessage:
    return ClaimedMessage(
        id=41,
        kind="store_event",
        key="store:7:reserved",
        partition="order:7",
        payload=payload,
        attempts=1,
        created_at=datetime(2026, 11, 20, 12, 0, 1, 500, tzinfo=UTC),
    )


def test_body_headers_and_signature() -> None:
    message = event({"event": "order.reserved", "order_id": 7, "data": {"total": "10.00"}})
    body = event_body(message)
    assert orjson.loads(body) == {
        "version": 1,
        "id": 41,
        "event": "order.reserved",
        "order_id": 7,
        "occurred_at": "2026-11-20T12:00:01.000500+00:00",
        "data": {"total": "10.00"},
    }
    headers = event_headers(message, body, "s3cret")
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers == {
        "Content-Type": "application/json",
        "Idempotency-Key": "store:7:reserved",
        "X-Livecart-Signature": f"sha256={expected}",
    }
    assert signature_matches("s3cret", body, headers["X-Livecart-Signature"])
    assert not signature_matches("s3cret", body + b" ", headers["X-Livecart-Signature"])
    assert not signature_matches("other", body, signature("s3cret", body))
    assert "X-Livecart-Signature" not in event_headers(message, body, None)


@pytest.mark.parametrize(
    "payload",
    [
        {"order_id": 7},
        {"event": "order.reserved", "order_id": "7"},
        {"event": "order.reserved", "order_id": True},
        {"event": "order.reserved", "order_id": 7, "data": [1]},
    ],
)
def test_malformed_events_are_refused(payload: dict[str, object]) -> None:
    with pytest.raises(MalformedEvent):
        event_body(event(payload))
