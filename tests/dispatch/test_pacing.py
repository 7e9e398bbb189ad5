"""The pure rules: a Page's pace from Meta's usage and throttles, backoff, reading rows and
Graph failures, which token to trust."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bot.dispatch.backoff import Backoff
from bot.dispatch.pacing import PacingPolicy, PagePace
from bot.dispatch.reply_jobs import (
    MalformedRow,
    Verdict,
    judge,
    page_of_partition,
    page_partitions,
    read_job,
    reply_partition,
)
from bot.dispatch.tokens import TokenVerdict, fingerprint, token_alert_key, token_verdict
from bot.graph import GraphError, GraphUnavailable
from storage.outbox import ClaimedMessage

POLICY = PacingPolicy(usage_hold=30.0, throttle=Backoff(first=60.0, cap=900.0, jitter=False))


def test_usage_at_80_percent_halves_the_rate_and_below_restores_it() -> None:
    pace = PagePace(POLICY)
    pace.observe_usage(79, None, now=0)
    assert pace.factor == 1.0
    pace.observe_usage(80, None, now=0)
    assert pace.factor == 0.5
    assert pace.held_until(0) is None
    pace.observe_usage(None, None, now=1)  # no header: nothing learnt
    assert pace.factor == 0.5
    pace.observe_usage(20, None, now=2)
    assert pace.factor == 1.0


def test_usage_at_95_percent_holds_until_regain_or_a_lower_report() -> None:
    pace = PagePace(POLICY)
    pace.observe_usage(96, regain_after=120, now=10)
    assert pace.held_until(10) == 130
    assert pace.held_until(130) is None
    pace.observe_usage(97, regain_after=0, now=200)  # Meta names no wait: the policy's
    assert pace.held_until(200) == 230
    pace.observe_usage(50, None, now=201)
    assert pace.held_until(201) is None


def test_throttles_back_off_from_a_minute_unless_meta_names_the_wait() -> None:
    pace = PagePace(POLICY)
    assert pace.throttled(None, now=0) == 60
    # A call that was in flight meanwhile is the same incident (it did extend Meta's wait).
    assert pace.throttled(None, now=1) == 61
    assert pace.throttled(None, now=61) == 181  # the next incident waits twice as long
    assert pace.throttled(12.0, now=500) == 512
    pace.succeeded()
    assert pace.throttled(None, now=1000) == 1060
    assert PagePace(POLICY, throttles_in_a_row=10).throttled(None, now=0) == 900


def test_backoff_doubles_up_to_its_cap_with_jitter_in_the_upper_half() -> None:
    steady = Backoff(first=2, cap=30, jitter=False)
    assert [steady.delay(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    jittery = Backoff(first=2, cap=30)
    rng = random.Random(1)
    draws = [jittery.delay(3, rng) for _ in range(200)]
    assert all(4 <= d <= 8 for d in draws)
    assert max(draws) - min(draws) > 2


def message(payload: dict[str, object], kind: str = "reply") -> ClaimedMessage:
    return ClaimedMessage(
        id=1,
        kind=kind,
        key="k",
        partition="page:1",
        payload=payload,
        attempts=1,
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


def test_read_job_and_its_lane() -> None:
    payload: dict[str, object] = {
        "platform": "instagram",
        "page_id": "9",
        "comment_id": "c",
        "text": "hi",
    }
    job = read_job(message({**payload, "live_comment": True}))
    assert (job.page, job.lane, job.public) == (("instagram", "9"), "live", False)
    # Instagram post and reel comments (a replay): private replies have a lane of their own,
    # public replies do not.
    assert read_job(message(payload)).lane == "posts"
    assert read_job(message(payload, kind="public_reply")).lane == "standard"
    assert read_job(message({**payload, "platform": "facebook", "live_comment": True})).lane == (
        "standard"
    )
    assert read_job(message({**payload, "platform": "facebook"})).lane == "standard"
    with pytest.raises(MalformedRow, match="comment_id"):
        read_job(message({**payload, "comment_id": ""}))
    with pytest.raises(MalformedRow, match="platform"):
        read_job(message({**payload, "platform": "tiktok"}))


@pytest.mark.parametrize(
    ("platform", "live_comment", "public", "partition"),
    [
        ("instagram", False, False, "page:9:posts"),
        ("instagram", False, True, "page:9"),
        ("instagram", True, False, "page:9"),
        ("facebook", False, False, "page:9"),
        ("facebook", True, True, "page:9"),
    ],
)
def test_reply_partitions(platform: str, live_comment: bool, public: bool, partition: str) -> None:
    assert reply_partition(platform, "9", live_comment=live_comment, public=public) == partition
    assert page_of_partition(partition) == "9"
    assert partition in page_partitions("9")


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (GraphError(80001, "throttled", is_transient=True), Verdict.THROTTLED),
        (GraphError(613, "rate"), Verdict.THROTTLED),
        (GraphError(10900, "already"), Verdict.ALREADY_SENT),
        (GraphError(190, "token"), Verdict.TOKEN_REFUSED),
        (GraphError(102, "session"), Verdict.TOKEN_REFUSED),
        (GraphError(10903, "cannot"), Verdict.TERMINAL),
        (GraphError(10, "window", subcode=2018278), Verdict.TERMINAL),
        (GraphError(200, "permission"), Verdict.PERMISSION),
        (GraphError(10, "permission"), Verdict.PERMISSION),
        (GraphError(100, "bad"), Verdict.TERMINAL),
        (GraphError(2, "temporary"), Verdict.RETRYABLE),
        (GraphError(0, "proxy", http_status=502), Verdict.RETRYABLE),
        (GraphUnavailable("timed out", timed_out=True), Verdict.RETRYABLE),
        (GraphError(368, "something new", http_status=400), Verdict.UNCLASSIFIED),
    ],
)
def test_judge(error: GraphError | GraphUnavailable, verdict: Verdict) -> None:
    assert judge(error) is verdict


def test_token_verdicts() -> None:
    assert token_verdict(None, None, marked=False) is TokenVerdict.HOLD
    assert token_verdict("t", None, marked=False) is TokenVerdict.USE
    assert token_verdict("t", None, marked=True) is TokenVerdict.HOLD
    assert token_verdict("t", fingerprint("t"), marked=True) is TokenVerdict.HOLD
    assert token_verdict("new", fingerprint("t"), marked=True) is TokenVerdict.RENEWED
    assert "t" not in fingerprint("t") and len(fingerprint("t")) == 16
    at = datetime(2026, 11, 20, 13, 45, tzinfo=UTC)
    assert token_alert_key("123", at) == "alert:token_invalid:123:2026-11-20T13"
