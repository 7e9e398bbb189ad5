"""Answers in one shape: errors are `{"error": "<one clear sentence>"}` with a 4xx status."""

from __future__ import annotations

import orjson
from aiohttp import web

JsonObject = dict[str, object]


class BadRequest(Exception):
    """Raised by a handler to answer a 4xx with one sentence."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def json_response(data: object, *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def json_body(request: web.Request) -> JsonObject:
    """The request's JSON object, or BadRequest saying what is wrong with it."""
    try:
        data = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


async def form_fields(request: web.Request) -> dict[str, str]:
    """The request's form fields (files left out), or BadRequest when it is no readable form."""
    try:
        posted = await request.post()
    except ValueError:  # a multipart body without its boundary, say
        raise BadRequest("The body is not a readable form.") from None
    return {key: value for key, value in posted.items() if isinstance(value, str)}
