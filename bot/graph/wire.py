"""Narrowing JSON from the wire: Graph API bodies and headers are `object` until checked here."""

from __future__ import annotations

import math

import orjson

JsonObject = dict[str, object]


def loads_object(raw: bytes | str) -> JsonObject | None:
    """The JSON object in `raw`, or None when it is not valid JSON or not an object."""
    try:
        value: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return as_object(value)


def as_object(value: object) -> JsonObject | None:
    if not isinstance(value, dict):
        return None
    # JSON object keys are always strings; the comprehension re-types them for mypy.
    return {str(key): item for key, item in value.items()}


def text(obj: JsonObject, key: str) -> str | None:
    """A string field; numbers become text because Meta sends some ids either way."""
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def integer(obj: JsonObject, key: str) -> int | None:
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def number(obj: JsonObject, key: str) -> float | None:
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def nested_text(obj: JsonObject, key: str, inner: str) -> str | None:
    """`obj[key][inner]` as text, e.g. the id of `from` or `parent`."""
    child = as_object(obj.get(key))
    return None if child is None else text(child, inner)
