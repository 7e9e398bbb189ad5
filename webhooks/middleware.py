"""Cross-cutting answers: staff authentication for /api/*, and JSON errors there."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from webhooks.keys import RUNTIME
from webhooks.responses import BadRequest, error

log = logging.getLogger("livecart.web")


@web.middleware
async def staff_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    expected = request.app[RUNTIME].settings.staff_token
    # The scheme's name is case-insensitive in HTTP (`bearer` is `Bearer`); the token is not.
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if (
        expected is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(given.strip().encode(), expected.encode())
    ):
        return error(401, "A valid staff token is required (Authorization: Bearer <token>).")
    return await handler(request)


@web.middleware
async def clear_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """BadRequest becomes its 4xx; aiohttp's own 4xx on /api become JSON; a crash is logged
    and answered 500 without internals (a 5xx is a bug)."""
    try:
        return await handler(request)
    except BadRequest as problem:
        return error(problem.status, str(problem))
    except web.HTTPException as http_error:
        if request.path.startswith("/api/") and http_error.status >= 400:
            return error(http_error.status, http_error.reason or "Request refused.")
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error(500, "Something went wrong on our side; it has been logged.")
