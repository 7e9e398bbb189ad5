"""Staff API for the review queue (also what the Telegram bot does, without Telegram)."""

from __future__ import annotations

from aiohttp import web

from bot.reviews import (
    MOST_STAFF_NAME,
    REJECT,
    BuyerBlocked,
    ReviewRefused,
    UnknownReview,
    decide_now,
    describe,
    open_reviews,
)
from storage.types import typed_id
from webhooks.keys import RUNTIME
from webhooks.responses import BadRequest, json_body, json_response


async def queue(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].sessions() as session:
        waiting = await open_reviews(session, limit=200)
    return json_response(
        [
            {
                "id": review.id,
                "live_id": review.live_id,
                "reason": review.reason,
                "comment": {
                    "id": comment.comment_id,
                    "platform": comment.platform,
                    "text": comment.text,
                    "author": {"id": comment.author_id, "name": comment.author_name},
                },
                "options": [describe(option["items"]) for option in review.candidates],
                "created_at": review.created_at.isoformat(),
            }
            for review, comment in waiting
        ]
    )


async def decide_review(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    raw = request.match_info["review_id"]
    body = await json_body(request)
    choice, staff = body.get("choice"), body.get("staff", "staff")
    if not isinstance(choice, int | str) or isinstance(choice, bool):
        raise BadRequest(f'"choice" must be a reading\'s number or "{REJECT}".')
    if not isinstance(staff, str) or not staff.strip():
        raise BadRequest('"staff" must name who decides.')
    staff = staff.strip()
    if len(staff) > MOST_STAFF_NAME:
        raise BadRequest(f'"staff" is at most {MOST_STAFF_NAME} characters.', status=422)
    review_id = typed_id(raw)
    try:
        decided = await decide_now(runtime, -1 if review_id is None else review_id, choice, staff)
    except UnknownReview:
        raise BadRequest(f"There is no review {raw}.", status=404) from None
    except BuyerBlocked as blocked:
        raise BadRequest(str(blocked), status=409) from None
    except ReviewRefused as refused:
        raise BadRequest(str(refused), status=422) from None
    if not decided.decided_now:
        raise BadRequest(
            f"Already decided by {decided.decided_by}: {decided.decision}.", status=409
        )
    return json_response(
        {"id": decided.review_id, "decision": decided.decision, "decided_by": decided.decided_by}
    )
