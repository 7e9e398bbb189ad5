"""Quantities as viewers write them: `2`, `02`, `兩`, `二十`, `十五`, `廿一`, `一百`."""

from __future__ import annotations

# Beyond this a number is only "too many"; int() of thousands of digits would raise.
TOO_MANY = 10**6
UNREADABLE = -1

_DIGIT_SPELLINGS: dict[int, tuple[str, ...]] = {
    0: ("〇", "零"),
    1: ("一",),
    2: ("二", "两"),
    3: ("三",),
    4: ("四",),
    5: ("五",),
    6: ("六",),
    7: ("七",),
    8: ("八",),
    9: ("九",),
}

# Every character of a Chinese numeral (comments are folded to Simplified before reading).
CHINESE_NUMERAL_CHARS = "〇零一二两三四五六七八九十廿百"


def _tens_spellings(tens: int) -> tuple[str, ...]:
    if tens == 1:
        return ("十", "一十")
    if tens == 2:
        return (*(digit + "十" for digit in _DIGIT_SPELLINGS[2]), "廿")
    return tuple(digit + "十" for digit in _DIGIT_SPELLINGS[tens])


def _chinese_numerals() -> dict[str, int]:
    numerals: dict[str, int] = {}
    for value, spellings in _DIGIT_SPELLINGS.items():
        numerals.update(dict.fromkeys(spellings, value))
    for tens in range(1, 10):
        for tens_spelling in _tens_spellings(tens):
            numerals[tens_spelling] = tens * 10
            for ones in range(1, 10):
                for ones_spelling in _DIGIT_SPELLINGS[ones]:
                    numerals[tens_spelling + ones_spelling] = tens * 10 + ones
    for hundreds in range(1, 10):
        for spelling in _DIGIT_SPELLINGS[hundreds]:
            numerals[spelling + "百"] = hundreds * 100
    numerals["百"] = 100
    return numerals


_CHINESE = _chinese_numerals()


def read_number(text: str) -> int:
    """The value of Arabic digits or a Chinese numeral; UNREADABLE for a jumble like `一二`."""
    known = _USUAL.get(text)
    return known if known is not None else _read(text)


def _read(text: str) -> int:
    if text.isdecimal():
        significant = text.lstrip("0") or "0"
        return int(significant) if len(significant) <= 6 else TOO_MANY
    return _CHINESE.get(text, UNREADABLE)


# The numbers comments hold nearly always, read once here: one look-up instead of four string
# operations per quantity. Built by `_read` itself, so it cannot read them differently.
_USUAL = {
    text: _read(text)
    for text in (*map(str, range(1000)), *(f"0{n}" for n in range(100)), *_CHINESE)
}
