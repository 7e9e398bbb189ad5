"""The shop's existing members from a CSV (name, phone, email, tier, blocked): read and checked
as plain data; a bad row is refused with its line number and nothing of the file is applied."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from bot.checkout_form import normalize_email, normalize_phone

COLUMNS = ("name", "phone", "email", "tier", "blocked")
_YES, _NO = ("1", "yes", "y", "true", "是"), ("", "0", "no", "n", "false", "否")


class MemberFileError(ValueError):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line


@dataclass(frozen=True, slots=True)
class MemberRow:
    name: str | None
    phone: str | None
    email: str | None
    tier: str | None
    blocked: bool


def read_members(csv_text: str) -> list[MemberRow]:
    reader = csv.reader(io.StringIO(csv_text.removeprefix("\ufeff")))
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [column for column in ("name", "phone", "email") if column not in header]
    if missing:
        raise MemberFileError(1, f"missing column(s): {', '.join(missing)}")
    rows: list[MemberRow] = []
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        row = _row(line, dict(zip(header, (cell.strip() for cell in cells), strict=False)))
        for key in (row.phone, row.email):
            if key is not None and key in seen:
                raise MemberFileError(line, f"{key} is already on line {seen[key]}")
            if key is not None:
                seen[key] = line
        rows.append(row)
    return rows


def _row(line: int, cells: dict[str, str]) -> MemberRow:
    phone = normalize_phone(cells["phone"]) if cells.get("phone") else None
    email = normalize_email(cells["email"]) if cells.get("email") else None
    if cells.get("phone") and phone is None:
        raise MemberFileError(line, f"{cells['phone']!r} is not a phone number (8-15 digits)")
    if cells.get("email") and email is None:
        raise MemberFileError(line, f"{cells['email']!r} is not an e-mail address")
    if phone is None and email is None:
        raise MemberFileError(line, "a member needs a phone or an e-mail to be recognised")
    blocked = cells.get("blocked", "").lower()
    if blocked not in _YES + _NO:
        raise MemberFileError(line, f"blocked must be yes or no (got {cells['blocked']!r})")
    return MemberRow(
        name=cells.get("name") or None,
        phone=phone,
        email=email,
        tier=cells.get("tier") or None,
        blocked=blocked in _YES,
    )
