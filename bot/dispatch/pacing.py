"""How fast one Page may be called, from what Meta said about it (platforms.md §2).

Pure: every method takes the time (monotonic seconds). The dispatcher keeps one `PagePace`
per Page and asks it before each call; it never sleeps or reads a clock itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.dispatch.backoff import Backoff

SLOW_AT = 80.0  # percent of a limit: halve the rate
HOLD_AT = 95.0  # percent: hold the Page
SLOW_FACTOR = 0.5


THROTTLE_BACKOFF = Backoff(first=60.0, cap=900.0, jitter=False)


@dataclass(frozen=True, slots=True)
class PacingPolicy:
    usage_hold: float = 30.0  # seconds held at >= 95% when Meta names no regain time
    throttle: Backoff = THROTTLE_BACKOFF  # when Meta names no regain time


@dataclass(slots=True)
class PagePace:
    policy: PacingPolicy
    slowed: bool = False
    usage_hold_until: float = 0.0
    throttle_until: float = 0.0
    throttles_in_a_row: int = 0

    @property
    def factor(self) -> float:
        """Multiplies the configured rate: 1, or 0.5 while usage is at 80% or more."""
        return SLOW_FACTOR if self.slowed else 1.0

    def held_until(self, now: float) -> float | None:
        """When the Page may be called again, or None when it may be called now."""
        until = max(self.usage_hold_until, self.throttle_until)
        return until if until > now else None

    def observe_usage(self, percent: float | None, regain_after: float | None, now: float) -> None:
        """Meta's latest figure for this Page. No figure (no header) changes nothing."""
        if percent is None:
            return
        self.slowed = percent >= SLOW_AT
        if percent < HOLD_AT:
            self.usage_hold_until = 0.0  # reported below: the hold ends early
            return
        wait = regain_after if regain_after is not None and regain_after > 0 else None
        hold = wait if wait is not None else self.policy.usage_hold
        self.usage_hold_until = max(self.usage_hold_until, now + hold)

    def throttled(self, retry_after: float | None, now: float) -> float:
        """Meta throttled the Page: hold it and return until when.

        Meta's regain time when it gives one; otherwise exponential from ~60 s. Answers to calls
        that were already in flight when the throttle began count as the same incident.
        """
        if now >= self.throttle_until:
            self.throttles_in_a_row += 1
        wait = (
            retry_after
            if retry_after is not None and retry_after > 0
            else self.policy.throttle.delay(self.throttles_in_a_row)
        )
        self.throttle_until = max(self.throttle_until, now + wait)
        return self.throttle_until

    def succeeded(self) -> None:
        self.throttles_in_a_row = 0
