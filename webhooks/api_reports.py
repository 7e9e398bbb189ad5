"""Staff API: a live's report (`GET /api/lives/{live_id}/report`)."""

from __future__ import annotations

from aiohttp import web

from bot.report import build_report, report_json
from storage.reports import report_rows
from storage.types import typed_id
from webhooks.keys import RUNTIME
from webhooks.responses import BadRequest, json_response


async def report(request: web.Request) -> web.Response:
    raw = request.match_info["live_id"]
    rows, live_id = None, typed_id(raw)
    if live_id is not None:
        async with request.app[RUNTIME].sessions() as session:
            rows = await report_rows(session, live_id)
    if rows is None:
        raise BadRequest(f"There is no live {raw}.", status=404)
    return json_response(report_json(build_report(rows)))
