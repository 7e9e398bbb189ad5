"""The cart fingerprint the confirm form carries back (pure)."""

from decimal import Decimal

from bot.cart import cart_fingerprint

CART = [("A2", 2, Decimal("590.00")), ("B3", 1, Decimal("120.00"))]


def test_the_same_cart_in_any_order_and_price_scale_has_one_fingerprint() -> None:
    shuffled = [("B3", 1, Decimal("120")), ("A2", 2, Decimal("590.0"))]
    assert cart_fingerprint(CART) == cart_fingerprint(shuffled)


def test_a_removed_line_counts_as_no_line() -> None:
    assert cart_fingerprint([*CART, ("C7", 0, Decimal("260.00"))]) == cart_fingerprint(CART)


def test_any_change_a_buyer_would_see_changes_it() -> None:
    seen = cart_fingerprint(CART)
    changed = [
        [("A2", 3, Decimal("590.00")), CART[1]],  # a quantity grew
        [CART[0]],  # a line went
        [*CART, ("C7", 1, Decimal("260.00"))],  # a line came (a waitlist fill)
        [("A2", 2, Decimal("490.00")), CART[1]],  # a price changed
        [("A3", 2, Decimal("590.00")), CART[1]],  # another product
    ]
    assert all(cart_fingerprint(cart) != seen for cart in changed)
    assert len({cart_fingerprint(cart) for cart in changed}) == len(changed)
