"""Checkout links: a token names one order and is signed, so it cannot be forged or reused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from storage.types import typed_id


class InvalidToken(ValueError):
    pass


def make_token(order_id: int, secret: str) -> str:
    return f"{order_id}-{_signature(order_id, secret)}"


def read_token(token: str, secret: str) -> int:
    """The order id the token names; InvalidToken when it was not made with `secret`."""
    order_part, _, signature = token.partition("-")
    order_id = typed_id(order_part)
    if order_id is None or not signature or not signature.isascii():
        raise InvalidToken("malformed checkout token")
    if not hmac.compare_digest(signature, _signature(order_id, secret)):
        raise InvalidToken("checkout token signature does not match")
    return order_id


# A buyer's every reply in a live links to one order: its link is signed once while it is recent.
@lru_cache(maxsize=4096)
def checkout_url(public_url: str, order_id: int, secret: str) -> str:
    return f"{public_url}/checkout/{make_token(order_id, secret)}"


def _signature(order_id: int, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"checkout:{order_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()
