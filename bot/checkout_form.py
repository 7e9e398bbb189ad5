"""The checkout form read as plain data (pure): the buyer's details, checked, with every message
in Traditional Chinese and English."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

# Where a buyer may pick up. A constant until shops are configured per deployment.

MAX_NAME = 200
MAX_EMAIL = 254
MAX_ADDRESS = 500
FIELDS = ("name", "phone", "email", "fulfilment", "shop", "address")
_PHONE_CHARACTERS = re.compile(r"\+?[0-9 ()\-.]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")

Fulfilment = Literal["pickup", "delivery"]


@dataclass(frozen=True, slots=True)
class Message:
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Details:
    """What the buyer gave, normalized: phone as digits (with a leading + kept), e-mail lower."""

    name: str
    phone: str
    email: str
    fulfilment: Fulfilment
    pickup_shop: str | None
    address: str | None


class InvalidDetails(ValueError):
    """The form cannot be accepted; `errors` says why, per field."""

    def __init__(self, errors: Mapping[str, Message]) -> None:
        super().__init__("; ".join(f"{field}: {m.en}" for field, m in errors.items()))
        self.errors = dict(errors)


NAME_MISSING = Message("請填寫姓名。", "Please enter your name.")
NAME_TOO_LONG = Message(
    f"姓名最多 {MAX_NAME} 個字。", f"Your name can be at most {MAX_NAME} characters."
)
PHONE_INVALID = Message(
    "請填寫電話號碼（8 至 15 位數字）。", "Please enter a phone number of 8 to 15 digits."
)
EMAIL_INVALID = Message(
    "請填寫有效的電子郵件，例如 name@example.com。",
    "Please enter a valid e-mail address, like name@example.com.",
)
FULFILMENT_MISSING = Message("請選擇門市取貨或宅配。", "Please choose shop pickup or delivery.")
SHOP_MISSING = Message("請選擇取貨門市。", "Please choose the shop to pick up from.")
ADDRESS_MISSING = Message("請填寫宅配地址。", "Please enter the delivery address.")
ADDRESS_TOO_LONG = Message(
    f"地址最多 {MAX_ADDRESS} 個字。", f"The address can be at most {MAX_ADDRESS} characters."
)


def read_details(form: Mapping[str, str], shops: Sequence[str]) -> Details:
    """The form's fields (name, phone, email, fulfilment, shop, address) as Details, or
    InvalidDetails naming every field that is wrong at once."""
    values = {key: _clean(form.get(key, "")) for key in FIELDS}
    errors: dict[str, Message] = {}
    name = values["name"]
    if not name:
        errors["name"] = NAME_MISSING
    elif len(name) > MAX_NAME:
        errors["name"] = NAME_TOO_LONG
    phone = normalize_phone(values["phone"])
    if phone is None:
        errors["phone"] = PHONE_INVALID
    email = normalize_email(values["email"])
    if email is None:
        errors["email"] = EMAIL_INVALID
    fulfilment, shop, address = _fulfilment(values, shops, errors)
    if errors or phone is None or email is None or fulfilment is None:
        raise InvalidDetails(errors)
    return Details(name, phone, email, fulfilment, shop, address)


def normalize_phone(raw: str) -> str | None:
    """Digits only, a leading + kept: `0912-345 678` -> `0912345678`; None when it is not a
    phone number of 8 to 15 digits."""
    text = _clean(raw)
    if not _PHONE_CHARACTERS.fullmatch(text):
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if not 8 <= len(digits) <= 15:
        return None
    return ("+" if text.startswith("+") else "") + digits


def normalize_email(raw: str) -> str | None:
    """Lower-cased; None when it does not look like `name@domain.tld`."""
    text = _clean(raw).lower()
    if len(text) > MAX_EMAIL or not _EMAIL.fullmatch(text):
        return None
    return text


def _fulfilment(
    values: Mapping[str, str], shops: Sequence[str], errors: dict[str, Message]
) -> tuple[Fulfilment | None, str | None, str | None]:
    if values["fulfilment"] == "pickup":
        if values["shop"] not in shops:
            errors["shop"] = SHOP_MISSING
        return "pickup", values["shop"] or None, None
    if values["fulfilment"] == "delivery":
        address = values["address"]
        if not address:
            errors["address"] = ADDRESS_MISSING
        elif len(address) > MAX_ADDRESS:
            errors["address"] = ADDRESS_TOO_LONG
        return "delivery", None, address
    errors["fulfilment"] = FULFILMENT_MISSING
    return None, None, None


def _clean(value: str) -> str:
    # NFKC turns full-width digits and letters (common on CJK keyboards) into ASCII.
    return unicodedata.normalize("NFKC", value).strip()
