"""Exponential backoff with jitter: how long to wait before the next attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """`first` seconds after the first failure, doubling each time, never above `cap`.

    With `jitter`, each wait is drawn from its upper half ([d/2, d]) so that rows which failed
    together do not all come back in the same instant.
    """

    first: float
    cap: float
    jitter: bool = True

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """The wait after the `failures`-th failure in a row (1 for the first)."""
        exponent = min(max(failures, 1) - 1, 60)  # 2**60 seconds is past any cap
        delay = min(self.cap, self.first * 2.0**exponent)
        if not self.jitter:
            return delay
        draw = (rng or random).uniform(0.5, 1.0)
        return delay * draw

    def delay_after(self, waited: float, rng: random.Random | None = None) -> float:
        """The wait for something that has waited `waited` seconds so far, whose failures are
        not counted: about as long again (at least `first`, at most `cap`, before jitter), which
        doubles the wait from one failure to the next much as `delay` does."""
        delay = min(self.cap, max(self.first, waited))
        if not self.jitter:
            return delay
        return delay * (rng or random).uniform(0.5, 1.0)
