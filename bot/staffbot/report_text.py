"""A live's report in a few lines for a phone (pure: the figures come from bot.report)."""

from __future__ import annotations

from decimal import Decimal

from bot.report import LiveReport
from bot.staffbot.replying import fit, shop_time

TOP_SKUS = 5


def report_text(report: LiveReport, timezone: str) -> str:
    by_status = report.orders_by_status
    lines = [
        f"Live {report.live.id}{_title(report)} · {_state(report, timezone)}",
        f"Comments: {report.comments} from {report.commenters} people, "
        f"{report.order_comments} orders, {report.review_comments} for review",
        f"Orders: {report.orders} from {report.buyers} buyers "
        f"({by_status.get('reserved', 0)} reserved, {by_status.get('confirmed', 0)} confirmed; "
        f"{by_status.get('cancelled', 0)} cancelled, {by_status.get('expired', 0)} expired)",
        f"Units: {report.units} · Sales: {money(report.revenue)} "
        f"(paid: {money(report.confirmed_revenue)})",
    ]
    if report.waitlist_units:
        lines.append(
            f"Waitlist: {report.waitlist_units} more units wanted "
            f"({money(report.waitlist_revenue)})"
        )
    top = sorted((s for s in report.skus if s.units), key=lambda s: (-s.revenue, s.sku))
    if top:
        lines.append(
            "Top: " + ", ".join(f"{s.sku} x{s.units} ({money(s.revenue)})" for s in top[:TOP_SKUS])
        )
    sold_out = [s.sku for s in report.skus if s.sold_out]
    if sold_out:
        lines.append("Sold out: " + ", ".join(sold_out))
    return fit("\n".join(lines))


def money(amount: Decimal) -> str:
    return f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"


def _title(report: LiveReport) -> str:
    return f" ({report.live.title})" if report.live.title else ""


def _state(report: LiveReport, timezone: str) -> str:
    live = report.live
    if live.status == "replay" and live.replay_deadline is not None:
        return f"replay until {shop_time(live.replay_deadline, timezone)}"
    return live.status
