"""Backoff waits: counted failures double the wait; uncounted ones wait about as long again."""

from __future__ import annotations

import random

import pytest

from bot.dispatch.backoff import Backoff

STEADY = Backoff(first=2.0, cap=300.0, jitter=False)


def test_counted_failures_double_the_wait_up_to_the_cap() -> None:
    assert [STEADY.delay(n) for n in (0, 1, 2, 3, 9, 10)] == [2, 2, 4, 8, 300, 300]


@pytest.mark.parametrize(("waited", "wait"), [(0, 2), (1.5, 2), (7, 7), (120, 120), (9000, 300)])
def test_an_uncounted_failure_waits_as_long_again_within_first_and_cap(
    waited: float, wait: float
) -> None:
    assert STEADY.delay_after(waited) == wait


def test_jitter_draws_from_the_upper_half() -> None:
    rng = random.Random(1)
    jittered = Backoff(first=2.0, cap=300.0)
    draws = [jittered.delay_after(40, rng) for _ in range(200)]
    assert min(draws) >= 20 and max(draws) <= 40 and max(draws) - min(draws) > 10
