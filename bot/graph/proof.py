"""`appsecret_proof`: proves a call comes from a holder of the app secret (platforms.md §2)."""

from __future__ import annotations

import hashlib
import hmac


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """HMAC-SHA256 keyed with the app secret over the access token, as lowercase hex."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def proof_matches(app_secret: str, access_token: str, proof: str) -> bool:
    """Constant-time check of a proof a caller sent (bytes, so any text compares safely)."""
    expected = appsecret_proof(app_secret, access_token).encode()
    return hmac.compare_digest(expected, proof.encode())
