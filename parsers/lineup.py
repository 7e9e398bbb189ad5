"""Reading a lineup CSV (contract.md, "Lineup CSV") into checked rows, or refusing it whole.

Pure: takes the CSV text, returns rows or raises LineupError naming the line and what is wrong.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from parsers.text import lookup_key, normalize

# A count of units (stock, a buyer's limit) fits the databases' 32-bit columns with room for
# what is reserved and sold beside it; prices are whole cents in a 64-bit column.
MOST_UNITS = 1_000_000_000
MOST_PRICE = Decimal(10**12)
_CENT = Decimal("0.01")
COLUMNS = ("keyword", "sku", "name", "price", "stock", "variant", "aliases", "max_per_buyer")

_WHOLE_NUMBER = re.compile(r"-?\d+")


class LineupError(ValueError):
    """A malformed lineup; the message reads `line N: what is wrong`."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line


@dataclass(frozen=True, slots=True)
class LineupRow:
    keyword: str
    sku: str
    name: str
    price: Decimal
    stock: int | None  # None: leave the SKU's stock as it is
    variant_values: tuple[tuple[str, ...], ...]  # per option value, its spellings
    aliases: tuple[str, ...]
    max_per_buyer: int | None


def read_lineup(csv_text: str) -> tuple[LineupRow, ...]:
    records = _records(csv_text)
    header_line, header = next(records, (1, []))
    positions = _column_positions(header_line, header)
    numbered = [(line, _row(line, cells, positions)) for line, cells in records]
    if not numbered:
        raise LineupError(header_line + 1, "the lineup has no products")
    _check_skus_are_unique(numbered)
    _check_keywords(numbered)
    return tuple(row for _, row in numbered)


def _records(csv_text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each starts on."""
    reader = csv.reader(io.StringIO(csv_text.removeprefix("\ufeff")))
    line = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield line, cells
            line = reader.line_num + 1
    except csv.Error as error:
        raise LineupError(reader.line_num, f"not valid CSV ({error})") from None


def _column_positions(line: int, header: Sequence[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise LineupError(
            line, f"missing column {', '.join(missing)} (the header needs {','.join(COLUMNS)})"
        )
    repeated = sorted({name for name in names if name in COLUMNS and names.count(name) > 1})
    if repeated:
        raise LineupError(line, f"column {', '.join(repeated)} appears twice")
    return {column: names.index(column) for column in COLUMNS}


def _row(line: int, cells: list[str], positions: dict[str, int]) -> LineupRow:
    width = max(positions.values()) + 1
    if len(cells) < width:
        raise LineupError(line, f"{len(cells)} fields where the header has {width}")
    field = {column: cells[index].strip() for column, index in positions.items()}
    for required in ("keyword", "sku", "name", "price"):
        if not field[required]:
            raise LineupError(line, f"{required} is empty")
    return LineupRow(
        keyword=_keyword(line, field["keyword"]),
        sku=field["sku"],
        name=field["name"],
        price=_price(line, field["price"]),
        stock=_count(line, "stock", field["stock"]),
        variant_values=_variant(line, field["variant"]),
        aliases=tuple(alias.strip() for alias in field["aliases"].split("/") if alias.strip()),
        max_per_buyer=_count(line, "max_per_buyer", field["max_per_buyer"]),
    )


def _keyword(line: int, keyword: str) -> str:
    key = lookup_key(keyword)
    if not any(char.isalnum() for char in key):
        raise LineupError(line, f"keyword {keyword!r} has no letters, digits or characters")
    if key.isdecimal():
        # Viewers' quantities ("B3 10", "+2") are bare numbers: a number as keyword would
        # read as one.
        raise LineupError(line, f"keyword {keyword!r} is only digits; give it a letter (A{key})")
    return keyword


def _price(line: int, text: str) -> Decimal:
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise LineupError(line, f"price {text!r} is not a number") from None
    if not price.is_finite() or price < 0:
        raise LineupError(line, f"price {text!r} must be a number of 0 or more")
    if price > MOST_PRICE:
        raise LineupError(line, f"price {text} is more than {MOST_PRICE:,}")
    if price != price.quantize(_CENT):
        raise LineupError(line, f"price {text} has more than two decimals")
    return price


def _count(line: int, column: str, text: str) -> int | None:
    if not text:
        return None
    if not _WHOLE_NUMBER.fullmatch(text):
        raise LineupError(line, f"{column} {text!r} is not a whole number")
    if text.startswith("-"):
        raise LineupError(line, f"{column} {text} is negative")
    if len(text) > 10 or int(text) > MOST_UNITS:
        raise LineupError(line, f"{column} {text} is more than {MOST_UNITS:,}")
    return int(text)


def _variant(line: int, text: str) -> tuple[tuple[str, ...], ...]:
    values = []
    for value in text.split():
        spellings = tuple(spelling for spelling in value.split("/") if spelling)
        if not spellings:
            raise LineupError(line, f"variant value {value!r} has no spelling")
        values.append(spellings)
    return tuple(values)


Numbered = Sequence[tuple[int, LineupRow]]


def _check_skus_are_unique(rows: Numbered) -> None:
    first_line: dict[str, int] = {}
    for line, row in rows:
        if row.sku in first_line:
            raise LineupError(line, f"SKU {row.sku} is already on line {first_line[row.sku]}")
        first_line[row.sku] = line


def _check_keywords(rows: Numbered) -> None:
    """Every word a viewer may type must lead to one keyword, and every variant to one SKU."""
    owner = {lookup_key(row.keyword): (row.keyword, line) for line, row in reversed(rows)}
    for line, row in rows:
        for alias in row.aliases:
            claimed = owner.setdefault(lookup_key(alias), (row.keyword, line))
            if lookup_key(claimed[0]) != lookup_key(row.keyword):
                raise LineupError(
                    line,
                    f"alias {alias!r} of {row.keyword} already names "
                    f"{claimed[0]} (line {claimed[1]})",
                )
    for line, row in rows:
        for spelling in (spelling for value in row.variant_values for spelling in value):
            named = owner.get(lookup_key(spelling))
            if named is not None:
                raise LineupError(
                    line,
                    f"variant {spelling!r} of {row.keyword} is also the name "
                    f"of {named[0]} (line {named[1]})",
                )
    by_keyword: dict[str, list[tuple[int, LineupRow]]] = {}
    for line, row in rows:
        by_keyword.setdefault(lookup_key(row.keyword), []).append((line, row))
    for keyword_rows in by_keyword.values():
        _check_variants(keyword_rows)


def _check_variants(rows: Numbered) -> None:
    first_line, first = rows[0]
    meaning: dict[str, tuple[int, str, int]] = {}  # spelling -> (option, value, line)
    combinations: dict[tuple[str, ...], tuple[int, LineupRow]] = {}
    for line, row in rows:
        if len(row.variant_values) != len(first.variant_values):
            raise LineupError(
                line,
                f"{row.keyword} has {len(row.variant_values)} variant "
                f"values here but {len(first.variant_values)} on line "
                f"{first_line}",
            )
        values = []
        for option, spellings in enumerate(row.variant_values):
            value = normalize(spellings[0])
            values.append(value)
            for spelling in spellings:
                key = "".join(normalize(spelling).split())
                claimed = meaning.setdefault(key, (option, value, line))
                if claimed[:2] != (option, value):
                    raise LineupError(
                        line,
                        f"{row.keyword} variant {spelling!r} already "
                        f"means something else on line {claimed[2]}",
                    )
        same_line, same = combinations.setdefault(tuple(values), (line, row))
        if same is not row:
            variant = " ".join(spellings[0] for spellings in row.variant_values) or "(no variant)"
            raise LineupError(
                line, f"{row.keyword} {variant} is already SKU {same.sku} on line {same_line}"
            )
