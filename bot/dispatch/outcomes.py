"""What became of each claimed row, and writing those outcomes in groups.

Senders hand outcomes to one `OutcomeWriter`; outcomes that arrive while a write is in flight
share the next transaction (group commit), and inside it every kind of outcome is one
statement. A write that fails leaves the rows leased: they come back when the lease runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.db import SessionFactory
from storage.group_commit import GroupCommit
from storage.models import JsonObject
from storage.outbox import (
    Refusal,
    Reschedule,
    defer_partition,
    mark_dead,
    mark_failed,
    mark_sent,
    mark_token_invalid,
    release,
    retry_later,
    write_staff_alert,
)


@dataclass(frozen=True, slots=True)
class StaffAlert:
    key: str  # one alert per key: the incident it is about
    payload: JsonObject


@dataclass(frozen=True, slots=True)
class Sent:
    id: int


@dataclass(frozen=True, slots=True)
class Retry:
    """The attempt failed; try again at `at`. Not `counted`: the claim is not counted as an
    attempt either (a public reply, whose attempts count only tries with no known outcome)."""

    id: int
    at: datetime
    error: str
    counted: bool = True


@dataclass(frozen=True, slots=True)
class Release:
    """Not tried (a held Page, a shutdown): back to the queue at `at`, not counted as an attempt.

    `hold_partitions`: also push these partitions' other pending rows to `at`, so that every
    process holds the Page (each of its partitions), not only this one.
    """

    id: int
    at: datetime
    hold_partitions: tuple[str, ...] = ()
    hold_kinds: tuple[str, ...] = ()
    alert: StaffAlert | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """Terminal: never retried."""

    id: int
    error: str
    alert: StaffAlert | None = None


@dataclass(frozen=True, slots=True)
class Dead:
    """Parked after failing too long; `livecart outbox retry` revives it."""

    id: int
    error: str
    alert: StaffAlert | None = None


@dataclass(frozen=True, slots=True)
class TokenRefused:
    """Meta refused the Page's token: the Page is marked, staff alerted, and this row waits
    with the Page's other rows for the renewal."""

    id: int
    error: str
    platform: str
    page_id: str
    alert: StaffAlert
    hold_partitions: tuple[str, ...]
    hold_kinds: tuple[str, ...]
    hold_until: datetime
    counted: bool = True  # as Retry's


Outcome = Sent | Retry | Release | Failed | Dead | TokenRefused


async def write_outcomes(sessions: SessionFactory, outcomes: Sequence[Outcome]) -> None:
    """All outcomes in one transaction, one statement per kind of outcome."""
    sent = [o.id for o in outcomes if isinstance(o, Sent)]
    refused = [o for o in outcomes if isinstance(o, TokenRefused)]
    again = [
        (o.counted, Reschedule(o.id, o.at, o.error)) for o in outcomes if isinstance(o, Retry)
    ] + [(o.counted, Reschedule(o.id, o.hold_until, o.error)) for o in refused]
    retries = [reschedule for counted, reschedule in again if counted]
    releases = [Reschedule(o.id, o.at) for o in outcomes if isinstance(o, Release)] + [
        reschedule for counted, reschedule in again if not counted
    ]
    failed = [Refusal(o.id, o.error) for o in outcomes if isinstance(o, Failed)]
    dead = [Refusal(o.id, o.error) for o in outcomes if isinstance(o, Dead)]
    alerts = [
        o.alert
        for o in outcomes
        if isinstance(o, Release | Failed | Dead | TokenRefused) and o.alert
    ]
    async with sessions.begin() as session:
        for incident in _first_per_page(refused):
            await mark_token_invalid(session, incident.platform, incident.page_id)
        for partition, kinds, until in _holds(outcomes):
            await defer_partition(session, partition, until, kinds=kinds)
        if sent:
            await mark_sent(session, sent)
        if retries:
            await retry_later(session, retries)
        if releases:
            await release(session, releases)
        if failed:
            await mark_failed(session, failed)
        if dead:
            await mark_dead(session, dead)
        for alert in {alert.key: alert for alert in alerts}.values():
            await write_staff_alert(session, alert.key, alert.payload)


class OutcomeWriter:
    def __init__(self, sessions: SessionFactory) -> None:
        self._commits: GroupCommit[Outcome] = GroupCommit(self._write)
        self._sessions = sessions

    async def record(self, outcome: Outcome) -> None:
        """Returns once the outcome is durable; raises what the write raised."""
        await self._commits.submit(outcome)

    async def close(self) -> None:
        await self._commits.close()

    async def _write(self, outcomes: Sequence[Outcome]) -> None:
        await write_outcomes(self._sessions, outcomes)


def _first_per_page(refused: Sequence[TokenRefused]) -> list[TokenRefused]:
    return list({(o.platform, o.page_id): o for o in reversed(refused)}.values())


def _holds(outcomes: Sequence[Outcome]) -> list[tuple[str, tuple[str, ...], datetime]]:
    """The latest hold asked for each partition."""
    holds: dict[str, tuple[tuple[str, ...], datetime]] = {}
    for outcome in outcomes:
        if isinstance(outcome, Release):
            partitions, kinds, until = outcome.hold_partitions, outcome.hold_kinds, outcome.at
        elif isinstance(outcome, TokenRefused):
            partitions, kinds, until = (
                outcome.hold_partitions,
                outcome.hold_kinds,
                outcome.hold_until,
            )
        else:
            continue
        for partition in partitions:
            known = holds.get(partition)
            if known is None or known[1] < until:
                holds[partition] = (kinds, until)
    return [(partition, kinds, until) for partition, (kinds, until) in holds.items()]
