"""What each Graph error tells a caller to do (platforms.md §2, the errors table)."""

from __future__ import annotations

import pytest

from bot.graph.errors import UNKNOWN_CODE, GraphError, GraphUnavailable, error_from_body
from bot.graph.usage import parse_usage

THROTTLES = [4, 17, 32, 613, 80001, 80002, 80006]


def flags(error: GraphError) -> tuple[bool, bool, bool]:
    return (error.is_throttle, error.is_terminal, error.is_retryable)


@pytest.mark.parametrize("code", THROTTLES)
def test_throttle_codes_are_their_own_decision(code: int) -> None:
    # Meta marks some throttles transient; they must still not be "retry soon".
    error = GraphError(code, "limit", is_transient=True, http_status=400)
    assert flags(error) == (True, False, False)


@pytest.mark.parametrize("code", [190, 102])
def test_invalid_tokens_are_terminal(code: int) -> None:
    error = GraphError(code, "token", http_status=400)
    assert error.is_token_invalid
    assert flags(error) == (False, True, False)


@pytest.mark.parametrize(("code", "subcode"), [(10, None), (10, 12345), (200, None), (299, 1)])
def test_permission_errors_are_terminal(code: int, subcode: int | None) -> None:
    error = GraphError(code, "permission", subcode=subcode)
    assert error.is_permission
    assert not error.cannot_message
    assert flags(error) == (False, True, False)


@pytest.mark.parametrize(
    ("code", "subcode"), [(10903, None), (551, None), (10, 2018278), (10, 2534022)]
)
def test_cannot_message_this_person(code: int, subcode: int | None) -> None:
    error = GraphError(code, "window", subcode=subcode)
    assert error.cannot_message
    assert not error.is_permission
    assert flags(error) == (False, True, False)


def test_already_replied_is_terminal_and_says_so() -> None:
    error = GraphError(10900, "Activity already replied to")
    assert error.already_replied
    assert flags(error) == (False, True, False)


def test_bad_parameter_is_terminal_even_on_a_5xx() -> None:
    error = GraphError(100, "Invalid parameter", http_status=503)
    assert error.is_bad_parameter
    assert flags(error) == (False, True, False)


@pytest.mark.parametrize(
    ("code", "is_transient", "status"),
    [
        (1, False, 400),
        (2, False, 500),
        (368, True, 400),
        (UNKNOWN_CODE, False, 502),
        (9, False, 500),
    ],
)
def test_transient_errors_are_retryable(code: int, is_transient: bool, status: int) -> None:
    error = GraphError(code, "temporary", is_transient=is_transient, http_status=status)
    assert flags(error) == (False, False, True)


def test_an_unknown_4xx_is_no_decision() -> None:
    error = GraphError(368, "blocked", http_status=400)
    assert flags(error) == (False, False, False)


def test_network_failures_are_retryable() -> None:
    failure = GraphUnavailable("POST /1/messages: no answer in time", timed_out=True)
    assert failure.is_retryable
    assert not failure.is_throttle
    assert not failure.is_terminal
    assert failure.retry_after is None


def test_error_from_the_documented_envelope() -> None:
    body = {
        "error": {
            "message": "(#10) This message is sent outside of allowed window.",
            "type": "OAuthException",
            "code": 10,
            "error_subcode": 2018278,
            "fbtrace_id": "AbCdEfGhIjK",
            "is_transient": False,
        }
    }
    error = error_from_body(400, body)
    assert (error.code, error.subcode, error.error_type) == (10, 2018278, "OAuthException")
    assert error.fbtrace_id == "AbCdEfGhIjK"
    assert error.http_status == 400
    assert error.cannot_message
    assert "10/2018278" in str(error)


def test_retry_after_comes_from_estimated_time_to_regain_access() -> None:
    usage = parse_usage(
        None, '{"1": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}'
    )
    error = error_from_body(400, {"error": {"code": 80001, "message": "slow down"}}, usage=usage)
    assert error.retry_after == 420.0
    assert error.usage is usage


def test_zero_minutes_to_regain_gives_no_retry_after() -> None:
    usage = parse_usage(None, '{"1": [{"type": "pages", "estimated_time_to_regain_access": 0}]}')
    error = error_from_body(400, {"error": {"code": 4, "message": "slow"}}, usage=usage)
    assert error.retry_after is None


@pytest.mark.parametrize("body", [None, "text", [], {"error": "boom"}, {"data": []}])
def test_an_unreadable_error_body_keeps_the_status(body: object) -> None:
    error = error_from_body(502, body, trace_id="trace-1")
    assert error.code == UNKNOWN_CODE
    assert error.http_status == 502
    assert error.fbtrace_id == "trace-1"
    assert error.is_retryable
