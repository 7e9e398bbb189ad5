"""The staff alerts the senders write (as outbox rows; the staff bot delivers them). Pure."""

from __future__ import annotations

from datetime import datetime

from bot.dispatch.outcomes import StaffAlert
from bot.dispatch.tokens import TOKEN_ALERT, fingerprint, token_alert_key
from storage.outbox import ClaimedMessage

STORE_DEAD_ALERT = "store_event_dead"
_PLATFORM_NAMES = {"facebook": "Facebook Page", "instagram": "Instagram account"}


def token_refused_alert(
    platform: str, page_id: str, token: str, error: str, at: datetime
) -> StaffAlert:
    where = f"{_PLATFORM_NAMES.get(platform, platform)} {page_id}"
    return StaffAlert(
        key=token_alert_key(page_id, at),
        payload={
            "alert": TOKEN_ALERT,
            "text": (
                f"Meta refused the access token of {where} ({error}). Replies to its buyers "
                "are on hold until the token is renewed."
            ),
            "platform": platform,
            "page_id": page_id,
            "token_fingerprint": fingerprint(token),
        },
    )


def store_dead_alert(message: ClaimedMessage, error: str) -> StaffAlert:
    event = message.payload.get("event", "?")
    order = message.payload.get("order_id", "?")
    return StaffAlert(
        key=f"alert:{STORE_DEAD_ALERT}:{message.id}",
        payload={
            "alert": STORE_DEAD_ALERT,
            "text": (
                f"The central store has refused {event} of order {order} for over a day "
                f"(last: {error}). It is parked; `livecart outbox retry --kind store_event` "
                "sends it again."
            ),
            "outbox_id": message.id,
            "order_id": order,
        },
    )


PERMISSION_ALERT = "reply_permission"


def permission_alert(platform: str, page_id: str, error: str, at: datetime) -> StaffAlert:
    """One an hour per Page: every reply Meta refuses so is parked, and each would say the
    same."""
    where = f"{_PLATFORM_NAMES.get(platform, platform)} {page_id}"
    return StaffAlert(
        key=f"alert:{PERMISSION_ALERT}:{page_id}:{at:%Y%m%d%H}",
        payload={
            "alert": PERMISSION_ALERT,
            "text": (
                f"Meta refused a reply from {where} for lack of permission ({error}). Replies "
                "refused so are parked: once the app's permissions on it are fixed, "
                "`livecart outbox retry --kind reply` sends them."
            ),
            "platform": platform,
            "page_id": page_id,
        },
    )


THROTTLE_ALERT = "throttle_lasting"
# Meta throttling a Page this many times in a row (no successful send between) is worth a human.
LASTING_THROTTLES = 3


def lasting_throttle_alert(
    platform: str, page_id: str, times: int, hold_seconds: float, at: datetime
) -> StaffAlert:
    where = f"{_PLATFORM_NAMES.get(platform, platform)} {page_id}"
    return StaffAlert(
        key=f"alert:{THROTTLE_ALERT}:{page_id}:{at:%Y%m%d%H}",
        payload={
            "alert": THROTTLE_ALERT,
            "text": (
                f"Meta has throttled {where} {times} times in a row; replies to its buyers wait "
                f"{hold_seconds:.0f} s more. Fewer calls (a lower REPLY_RATE_PER_PAGE) may help."
            ),
            "platform": platform,
            "page_id": page_id,
        },
    )
