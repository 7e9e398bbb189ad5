"""Reply rows read into jobs, and Graph API failures read into what to do next. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from bot.graph import GraphError, GraphFailure, Platform
from storage.outbox import PUBLIC_REPLY, REPLY, ClaimedMessage

Lane = Literal["standard", "live", "posts"]
REPLY_KINDS = (REPLY, PUBLIC_REPLY)
# Instagram post and reel private replies: their partition's name ends so. The lane is slow
# (750 an hour), so they are claimed a few at a time, apart from the rest: claimed rows never
# wait out their lease in the bucket.
POSTS_PARTITION_ENDING = ":posts"


class MalformedRow(ValueError):
    """The row's payload cannot be sent as it is (a bug upstream): it fails, never retried."""


@dataclass(frozen=True, slots=True)
class ReplyJob:
    message: ClaimedMessage
    platform: Platform
    page_id: str
    comment_id: str
    text: str
    live_comment: bool

    @property
    def public(self) -> bool:
        return self.message.kind == PUBLIC_REPLY

    @property
    def page(self) -> tuple[str, str]:
        return (self.platform, self.page_id)

    @property
    def lane(self) -> Lane:
        return reply_lane(self.platform, live_comment=self.live_comment, public=self.public)


def reply_lane(platform: str, *, live_comment: bool, public: bool) -> Lane:
    """Instagram has limits of its own (platforms.md §2): private replies to live comments
    100/s per account, to comments on posts and reels (a replay) 750 an hour."""
    if platform != "instagram":
        return "standard"
    if live_comment:
        return "live"
    return "standard" if public else "posts"


def read_job(message: ClaimedMessage) -> ReplyJob:
    """The job a `reply` or `public_reply` row describes; MalformedRow when it cannot be one."""
    if message.kind not in REPLY_KINDS:
        raise MalformedRow(f"not a reply row (kind {message.kind!r})")
    payload = message.payload
    platform = payload.get("platform")
    if platform not in ("facebook", "instagram"):
        raise MalformedRow(f"unknown platform {platform!r}")
    fields = {name: payload.get(name) for name in ("page_id", "comment_id", "text")}
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
    if missing:
        raise MalformedRow(f"the payload lacks {', '.join(missing)}")
    return ReplyJob(
        message=message,
        platform=platform,
        page_id=str(fields["page_id"]),
        comment_id=str(fields["comment_id"]),
        text=str(fields["text"]),
        live_comment=payload.get("live_comment") is True,
    )


def reply_partition(platform: str, page_id: str, *, live_comment: bool, public: bool) -> str:
    """The outbox partition of a reply: its Page's, or for Instagram post and reel private
    replies a partition of their own, so that the dispatcher claims only as many of those as
    their slow lane sends within a lease."""
    posts = reply_lane(platform, live_comment=live_comment, public=public) == "posts"
    return f"page:{page_id}{POSTS_PARTITION_ENDING if posts else ''}"


def page_partitions(page_id: str) -> tuple[str, str]:
    return f"page:{page_id}", f"page:{page_id}{POSTS_PARTITION_ENDING}"


def is_posts_partition(partition: str) -> bool:
    return partition.endswith(POSTS_PARTITION_ENDING)


def page_of_partition(partition: str) -> str:
    return partition.removeprefix("page:").removesuffix(POSTS_PARTITION_ENDING)


class Verdict(Enum):
    THROTTLED = "throttled"  # hold the Page, requeue without counting a failure
    ALREADY_SENT = "already_sent"  # 10900: the buyer has the message
    # 190/102: mark the Page, alert staff, hold the Page (this reply waits with the others)
    TOKEN_REFUSED = "token_refused"  # noqa: S105 - a verdict, not a secret
    PERMISSION = "permission"  # 10, 200-299: park, alert staff; staff retry once it is granted
    TERMINAL = "terminal"  # never retry
    RETRYABLE = "retryable"  # backoff and retry
    UNCLASSIFIED = "unclassified"  # a code platforms.md does not list: a few retries, then fail


def judge(failure: GraphFailure) -> Verdict:
    if failure.is_throttle:
        return Verdict.THROTTLED
    if isinstance(failure, GraphError):
        if failure.already_replied:
            return Verdict.ALREADY_SENT
        if failure.is_token_invalid:
            return Verdict.TOKEN_REFUSED
        if failure.is_permission:
            return Verdict.PERMISSION
        if failure.is_terminal:
            return Verdict.TERMINAL
    if failure.is_retryable:
        return Verdict.RETRYABLE
    return Verdict.UNCLASSIFIED
