"""Meta's `X-Hub-Signature-256`: HMAC-SHA256 of the raw request bytes with the app secret.

The sender (our own fake and tests) signs with `sign`; the route verifies with `verify`.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, app_secret: str) -> bool:
    """Constant-time check of the header against the raw bytes (never a re-serialized body)."""
    if not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(body, app_secret).encode(), header.strip().encode())
