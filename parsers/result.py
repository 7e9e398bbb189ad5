"""What reading a comment gives: an order, a question for staff, or nothing."""

from __future__ import annotations

from typing import Literal, NamedTuple

Action = Literal["add", "cancel"]
Status = Literal["order", "review", "none"]
CommentId = str | int | None


# Built for every comment, so NamedTuples (parsers/tokens.py says why).
class OrderItem(NamedTuple):
    action: Action
    sku: str
    quantity: int | None  # None on a cancel: all of it

    def describe(self) -> str:
        if self.action == "add":
            return f"{self.sku} x{self.quantity}"
        return f"cancel {self.sku} {'(all)' if self.quantity is None else f'x{self.quantity}'}"

    def to_json(self) -> dict[str, str | int | None]:
        return {"action": self.action, "sku": self.sku, "quantity": self.quantity}


class ParseResult(NamedTuple):
    status: Status
    items: tuple[OrderItem, ...] = ()
    reason: str = ""  # for review: a sentence for staff
    # For review: the likely readings, each one button press for staff to accept.
    candidates: tuple[tuple[OrderItem, ...], ...] = ()
    fuzzy: bool = False  # the typo matcher was consulted (exact look-ups did not settle it)

    def to_json(self, comment_id: CommentId) -> dict[str, object]:
        """The `livecart parse` output line of contract.md."""
        return {
            "id": comment_id,
            "status": self.status,
            "items": [item.to_json() for item in self.items],
            "reason": self.reason,
        }

    def describe(self) -> str:
        """One line for a person: `order: A1-RED-M x2`, `review: A1 needs a size (M/L)`."""
        if self.status == "order":
            return "order: " + ", ".join(item.describe() for item in self.items)
        if self.status == "review":
            return f"review: {self.reason}"
        return "none: not an order"
