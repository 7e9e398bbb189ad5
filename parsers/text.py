"""One spelling for the many ways of typing the same comment.

`normalize` is applied to lineup words once (when a lineup is compiled) and to each comment once,
so the two compare as plain strings afterwards: NFKC (full-width `Ａ１＋２` is `A1+2`), lower case,
keycaps and heavy signs as plain digits and signs, and Traditional Chinese folded to Simplified.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from functools import lru_cache
from itertools import islice
from typing import NamedTuple

from opencc import OpenCC

_CJK_BLOCKS = (range(0x3400, 0x4DC0), range(0x4E00, 0xA000))

_SIGNS = {
    "\ufe0f": None,  # emoji presentation selector: `✖️` is `✖`
    "\ufe0e": None,
    "\u20e3": None,  # combining keycap: `2️⃣` is `2`
    "\U0001f51f": "10",  # keycap ten
    "\u2795": "+",  # heavy plus
    "\u271a": "+",  # heavy greek cross
    "\u2796": "-",  # heavy minus
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2716": "x",  # heavy multiplication x
    "\u2715": "x",  # multiplication x
    "\u00d7": "x",  # multiplication sign
}


def _simplified_folding() -> dict[int, str]:
    # Folding to Simplified is many-to-one (發 and 髮 are both 发), so it never has to choose and
    # can run character by character: one str.translate per comment instead of OpenCC's
    # phrase-level converter. Separators keep OpenCC from joining neighbours into phrases.
    traditional = [chr(code) for block in _CJK_BLOCKS for code in block]
    simplified = OpenCC("t2s").convert("\n".join(traditional)).split("\n")
    return {
        ord(t): s for t, s in zip(traditional, simplified, strict=True) if t != s and len(s) == 1
    }


_TABLE: dict[int, str | None] = {
    **_simplified_folding(),
    **{ord(sign): plain for sign, plain in _SIGNS.items()},
}


def normalize(text: str) -> str:
    if text.isascii():
        # Most comments (`A2+1`, `+1`): NFKC leaves ASCII as it is and the table holds no ASCII
        # character (a test holds both), so lower case is all that is left to do.
        return text.lower()
    return normalize_fully(text)


def normalize_fully(text: str) -> str:
    """Every step of normalizing, whatever the text: what `normalize` must always equal."""
    return unicodedata.normalize("NFKC", text).translate(_TABLE).lower()


def first_few(words: Iterable[str], most: int = 3, joiner: str = ", ") -> str:
    """The first `most` of `words` joined, with … for any more: reasons stay short."""
    shown = list(islice(words, most + 1))
    return joiner.join(shown[:most]) + (f"{joiner}…" if len(shown) > most else "")


def is_cjk(char: str) -> bool:
    return any(ord(char) in block for block in _CJK_BLOCKS)


class Comment(NamedTuple):
    """A comment as typed and as normalized; reasons quote what the viewer typed."""

    original: str
    normalized: str

    @classmethod
    def of(cls, text: str) -> Comment:
        return cls(text, normalize(text))

    def quote(self, start: int, end: int) -> str:
        """The original text behind normalized[start:end] (the normalized text if they drift)."""
        starts = _starts(self.original, self.normalized)
        if starts is None:
            return self.normalized[start:end].strip()
        first = bisect_right(starts, start) - 1
        return self.original[first : bisect_left(starts, end)].strip()


@lru_cache(maxsize=8)
def _starts(original: str, normalized: str) -> tuple[int, ...] | None:
    """Where each character of `original` starts in `normalized`, plus the end; None when the
    two do not line up (NFKC composed neighbouring characters). Only reviews quote, so this is
    worked out on demand, once per comment."""
    starts = [0]
    for char in original:
        starts.append(starts[-1] + len(normalize(char)))
    if starts[-1] != len(normalized):
        return None
    return tuple(starts)


_CODE = re.compile(r"([a-z]+)[-_.]*(\d+)")


def lookup_key(text: str) -> str:
    """How a keyword, alias or `current` is looked up: normalized, without spaces, and for a
    code (letters then digits) without separators and leading zeros (`a-02` is `A2`)."""
    squeezed = "".join(normalize(text).split())
    code = _CODE.fullmatch(squeezed)
    if code is None:
        return squeezed
    letters, digits = code.groups()
    return letters.upper() + (digits.lstrip("0") or "0")


def is_code(key: str) -> bool:
    return _CODE.fullmatch(key.lower()) is not None
