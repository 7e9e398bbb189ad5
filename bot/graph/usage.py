"""Meta's rate-limit headers as a `Usage` value (platforms.md §2, "Rate-limit headers").

`X-App-Usage` holds the app's percentages; `X-Business-Use-Case-Usage` holds, per business id
(a Page or Instagram account), one entry per use-case type with its percentages and
`estimated_time_to_regain_access` in minutes. A header that is absent or malformed reads as
unknown: a broken header must never fail a call that succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.graph.wire import JsonObject, as_object, loads_object, number

APP_USAGE_HEADER = "x-app-usage"
BUSINESS_USAGE_HEADER = "x-business-use-case-usage"
_PERCENT_KEYS = ("call_count", "total_cputime", "total_time")


@dataclass(frozen=True, slots=True)
class BusinessUsage:
    """One use-case entry of one business id (Page or Instagram account)."""

    business_id: str
    type: str
    percent: float | None
    regain_after: float | None  # seconds; None when the entry does not say


@dataclass(frozen=True, slots=True)
class Usage:
    app_percent: float | None = None
    business: tuple[BusinessUsage, ...] = ()

    @property
    def percent(self) -> float | None:
        """The highest percentage of any limit in the headers, None when nothing was said."""
        figures = [self.app_percent, *(entry.percent for entry in self.business)]
        return _highest(figures)

    @property
    def regain_after(self) -> float | None:
        """Seconds until access returns (the longest any entry names), None when unsaid."""
        return _highest([entry.regain_after for entry in self.business])

    def business_percent(self, business_id: str) -> float | None:
        return _highest([e.percent for e in self.business if e.business_id == business_id])


UNKNOWN_USAGE = Usage()


def usage_from_headers(headers: Mapping[str, str]) -> Usage:
    """Usage from response headers (any letter case)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return parse_usage(lowered.get(APP_USAGE_HEADER), lowered.get(BUSINESS_USAGE_HEADER))


def parse_usage(app_usage: str | None, business_usage: str | None) -> Usage:
    return Usage(
        app_percent=parse_app_usage(app_usage),
        business=parse_business_usage(business_usage),
    )


def parse_app_usage(raw: str | None) -> float | None:
    """The highest of call_count/total_cputime/total_time in `X-App-Usage`."""
    obj = None if raw is None else loads_object(raw)
    return None if obj is None else _highest_percent(obj)


def parse_business_usage(raw: str | None) -> tuple[BusinessUsage, ...]:
    """Every well-formed entry of `X-Business-Use-Case-Usage`; malformed entries are skipped."""
    obj = None if raw is None else loads_object(raw)
    if obj is None:
        return ()
    entries: list[BusinessUsage] = []
    for business_id, items in obj.items():
        if not isinstance(items, list):
            continue
        for item in items:
            entry = as_object(item)
            if entry is not None:
                entries.append(_business_entry(business_id, entry))
    return tuple(entries)


def _business_entry(business_id: str, entry: JsonObject) -> BusinessUsage:
    minutes = number(entry, "estimated_time_to_regain_access")
    kind = entry.get("type")
    return BusinessUsage(
        business_id=business_id,
        type=kind if isinstance(kind, str) else "",
        percent=_highest_percent(entry),
        regain_after=None if minutes is None else max(minutes, 0.0) * 60.0,
    )


def _highest_percent(obj: JsonObject) -> float | None:
    return _highest([number(obj, key) for key in _PERCENT_KEYS])


def _highest(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None
