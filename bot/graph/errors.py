"""Graph API failures, each carrying the decision a caller must make (platforms.md §2, "Errors").

The decision keys on the error `code` (and `error_subcode`), never on the HTTP status: Meta uses
400 for most errors whatever they mean. Three decisions are exclusive, in this order:
`is_throttle` (stop calling that page until `retry_after`), `is_terminal` (never retry) and
`is_retryable` (retry soon with backoff).
"""

from __future__ import annotations

from bot.graph.usage import UNKNOWN_USAGE, Usage
from bot.graph.wire import as_object, integer, text

UNKNOWN_CODE = 0  # no Graph error code was readable (an HTML 502 from a proxy, a cut body)
TRANSIENT_CODES = frozenset({1, 2})
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80006})
TOKEN_INVALID_CODES = frozenset({190, 102})
PERMISSION_CODE = 10
PERMISSION_RANGE = range(200, 300)
ALREADY_REPLIED_CODE = 10900
CANNOT_MESSAGE_CODES = frozenset({10903, 551})
# Code 10 with these subcodes is "outside the allowed window", not a missing permission.
WINDOW_SUBCODES = frozenset({2018278, 2534022})
BAD_PARAMETER_CODE = 100


class GraphFailure(Exception):
    """Anything that kept a Graph API call from giving an answer."""

    retry_after: float | None = None

    @property
    def is_throttle(self) -> bool:
        return False

    @property
    def is_terminal(self) -> bool:
        return False

    @property
    def is_retryable(self) -> bool:
        return False


class GraphUnavailable(GraphFailure):
    """Meta could not be reached or did not answer in time. A request that was sent and got no
    answer (`reached`: a timeout, a connection cut) may still have been carried out (a private
    reply retried then answers 10900); one that never connected was not."""

    def __init__(self, message: str, *, timed_out: bool = False, reached: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out
        self.reached = reached

    @property
    def is_retryable(self) -> bool:
        return True


class GraphError(GraphFailure):
    """An error answer from the Graph API."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        error_type: str | None = None,
        is_transient: bool = False,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        usage: Usage = UNKNOWN_USAGE,
    ) -> None:
        super().__init__(_describe(code, subcode, message))
        self.code = code
        self.subcode = subcode
        self.message = message
        self.error_type = error_type
        self.is_transient = is_transient
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.retry_after = retry_after
        self.usage = usage

    @property
    def is_throttle(self) -> bool:
        return self.code in THROTTLE_CODES

    @property
    def is_token_invalid(self) -> bool:
        return self.code in TOKEN_INVALID_CODES

    @property
    def is_permission(self) -> bool:
        if self.code == PERMISSION_CODE:
            return self.subcode not in WINDOW_SUBCODES
        return self.code in PERMISSION_RANGE

    @property
    def already_replied(self) -> bool:
        return self.code == ALREADY_REPLIED_CODE

    @property
    def cannot_message(self) -> bool:
        if self.code == PERMISSION_CODE:
            return self.subcode in WINDOW_SUBCODES
        return self.code in CANNOT_MESSAGE_CODES

    @property
    def is_bad_parameter(self) -> bool:
        return self.code == BAD_PARAMETER_CODE

    @property
    def is_terminal(self) -> bool:
        return not self.is_throttle and (
            self.is_token_invalid
            or self.is_permission
            or self.already_replied
            or self.cannot_message
            or self.is_bad_parameter
        )

    @property
    def is_retryable(self) -> bool:
        # Meta marks some throttles `is_transient`; the code decides, so a throttle (or a
        # terminal code) is never "retry soon".
        if self.is_throttle or self.is_terminal:
            return False
        if self.code in TRANSIENT_CODES or self.is_transient:
            return True
        return self.http_status is not None and self.http_status >= 500


def error_from_body(
    http_status: int,
    body: object,
    *,
    usage: Usage = UNKNOWN_USAGE,
    trace_id: str | None = None,
) -> GraphError:
    """The GraphError an error answer describes; `body` is the parsed JSON or None.

    `retry_after` comes from `estimated_time_to_regain_access`; zero means "not blocked", which
    gives the caller no wait to honour, so it reads as None (the caller backs off on its own).
    """
    envelope = as_object(body)
    error = None if envelope is None else as_object(envelope.get("error"))
    regain = usage.regain_after
    retry_after = regain if regain is not None and regain > 0 else None
    if error is None:
        return GraphError(
            UNKNOWN_CODE,
            f"HTTP {http_status} without a Graph error body",
            fbtrace_id=trace_id,
            http_status=http_status,
            retry_after=retry_after,
            usage=usage,
        )
    return GraphError(
        integer(error, "code") or UNKNOWN_CODE,
        text(error, "message") or "",
        subcode=integer(error, "error_subcode"),
        error_type=text(error, "type"),
        is_transient=error.get("is_transient") is True,
        fbtrace_id=text(error, "fbtrace_id") or trace_id,
        http_status=http_status,
        retry_after=retry_after,
        usage=usage,
    )


def _describe(code: int, subcode: int | None, message: str) -> str:
    sub = f"/{subcode}" if subcode is not None else ""
    return f"Graph API error {code}{sub}: {message}"
