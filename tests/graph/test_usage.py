"""Reading X-App-Usage and X-Business-Use-Case-Usage (platforms.md §2)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.graph.usage import (
    UNKNOWN_USAGE,
    BusinessUsage,
    Usage,
    parse_app_usage,
    parse_business_usage,
    parse_usage,
    usage_from_headers,
)

DOC_APP = '{"call_count":28,"total_cputime":25,"total_time":25}'
DOC_BUSINESS = (
    '{"370873143344730": [{"type": "pages", "call_count": 97, "total_cputime": 23, '
    '"total_time": 23, "estimated_time_to_regain_access": 0}]}'
)


def test_app_usage_is_the_highest_of_its_three_figures() -> None:
    assert parse_app_usage(DOC_APP) == 28.0
    assert parse_app_usage('{"call_count": 5, "total_cputime": 61, "total_time": 40}') == 61.0


def test_the_documented_business_header() -> None:
    assert parse_business_usage(DOC_BUSINESS) == (
        BusinessUsage("370873143344730", "pages", percent=97.0, regain_after=0.0),
    )


def test_business_entries_per_page_and_type_with_regain_in_seconds() -> None:
    raw = orjson.dumps(
        {
            "1": [
                {"type": "pages", "call_count": 40, "estimated_time_to_regain_access": 0},
                {"type": "messenger", "total_time": 100, "estimated_time_to_regain_access": 3},
            ],
            "2": [{"type": "instagram", "total_cputime": 12.5}],
        }
    ).decode()
    usage = parse_usage(DOC_APP, raw)
    assert usage.app_percent == 28.0
    assert usage.business_percent("1") == 100.0
    assert usage.business_percent("2") == 12.5
    assert usage.business_percent("3") is None
    assert usage.percent == 100.0
    assert usage.regain_after == 180.0
    assert [(e.business_id, e.type) for e in usage.business] == [
        ("1", "pages"),
        ("1", "messenger"),
        ("2", "instagram"),
    ]
    assert usage.business[2].regain_after is None


def test_absent_headers_are_unknown() -> None:
    usage = parse_usage(None, None)
    assert usage == UNKNOWN_USAGE == Usage()
    assert usage.percent is None
    assert usage.regain_after is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[1, 2]",
        '"text"',
        '{"call_count": "lots"}',
        '{"call_count": true}',
        '{"call_count": null}',
        '{"call_count": NaN}',
        "{",
    ],
)
def test_malformed_app_usage_reads_as_unknown(raw: str) -> None:
    assert parse_app_usage(raw) is None


@pytest.mark.parametrize(
    "raw",
    ["", "nope", "[]", '{"1": "pages"}', '{"1": [1, "x", null]}', '{"1": {"type": "pages"}}'],
)
def test_malformed_business_usage_reads_as_no_entries(raw: str) -> None:
    assert parse_business_usage(raw) == ()


def test_one_bad_entry_does_not_hide_the_good_ones() -> None:
    raw = '{"1": ["junk", {"type": "pages", "call_count": 91}], "2": 7}'
    assert parse_business_usage(raw) == (BusinessUsage("1", "pages", 91.0, None),)


def test_numbers_sent_as_text_still_count() -> None:
    assert parse_app_usage('{"call_count": "81", "total_time": 3}') == 81.0


def test_header_names_in_any_case() -> None:
    usage = usage_from_headers(
        {"x-app-usage": DOC_APP, "X-BUSINESS-USE-CASE-USAGE": DOC_BUSINESS, "Other": "1"}
    )
    assert usage.app_percent == 28.0
    assert usage.business_percent("370873143344730") == 97.0


@given(st.text(), st.text())
def test_no_header_text_makes_parsing_raise(app: str, business: str) -> None:
    parse_usage(app, business)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_no_json_shape_makes_parsing_raise(value: object) -> None:
    for raw in (json.dumps(value), json.dumps({"1": [value], "2": value})):
        parse_usage(raw, raw)
