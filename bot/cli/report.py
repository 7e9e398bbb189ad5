"""`livecart report LIVE [--csv FILE] [--chart FILE.png]`: how a live sold, readably.

The summary goes to standard output; `--csv` writes the per-SKU table (UTF-8 with a byte-order
mark, so spreadsheet programs read Chinese names right); `--chart` draws the report as a PNG.
"""

from __future__ import annotations

import argparse
import csv
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.cli.errors import CommandError, load_settings, service_errors
from bot.loop import run_async
from bot.report import LiveReport, build_report, csv_rows
from bot.runtime import open_runtime
from bot.settings import Settings
from storage.reports import report_rows


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("report", help="a live's figures: orders, units, revenue, demand")
    parser.add_argument("live", type=int, metavar="LIVE", help="the live's id")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write the per-SKU table as CSV")
    parser.add_argument("--chart", type=Path, metavar="FILE.png", help="draw the report as a PNG")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    with service_errors(settings):
        report = run_async(_report(settings, args.live))
    print(summary(report, settings.shop_timezone))
    if args.csv is not None:
        _write(args.csv, lambda path: _write_csv(path, report))
        print(f"\nper-SKU table written to {args.csv}")
    if args.chart is not None:
        png = _chart(report)
        _write(args.chart, lambda path: path.write_bytes(png))
        print(f"chart written to {args.chart}")
    return 0


def summary(report: LiveReport, timezone: str) -> str:
    live = report.live
    by_status = report.orders_by_status
    lines = [
        f"Live {live.id}"
        + (f" “{live.title}”" if live.title else "")
        + f" ({live.platform} {live.page_id}, {_state(report, timezone)})",
        "",
        f"  comments     {report.comments} from {report.commenters} people; "
        f"{report.order_comments} read as orders ({report.order_comment_share:.0%}), "
        f"{report.review_comments} for staff review",
        f"  orders       {report.orders} ({by_status['reserved']} held, "
        f"{by_status['confirmed']} paid; {by_status['cancelled']} cancelled, "
        f"{by_status['expired']} expired) from {report.buyers} buyers "
        f"({report.buyer_conversion:.0%} of commenters)",
        f"  sold         {report.units} units, ${_money(report.revenue)} "
        f"(${_money(report.confirmed_revenue)} paid)",
        f"  waitlist     {report.waitlist_units} units wanted with no stock "
        f"(${_money(report.waitlist_revenue)} more with stock)",
    ]
    peak = max(report.per_minute, key=lambda m: m.order_comments, default=None)
    if peak is not None and peak.order_comments:
        at = peak.at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
        lines.append(
            f"  busiest      minute {peak.minute} ({at}): {peak.order_comments} order comments"
        )
    lines += ["", *_table(report)]
    if report.top_buyers:
        lines += ["", "Top buyers"]
        lines += [
            f"  {rank}. {_pad(buyer.name, 24)} {buyer.units:>4} units  ${_money(buyer.total)}"
            for rank, buyer in enumerate(report.top_buyers, start=1)
        ]
    return "\n".join(lines)


async def _report(settings: Settings, live_id: int) -> LiveReport:
    migrate = settings.database_url.startswith("sqlite")
    async with open_runtime(settings, migrate=migrate) as runtime, runtime.sessions() as session:
        rows = await report_rows(session, live_id)
    if rows is None:
        raise CommandError(f"there is no live {live_id} (see `livecart live list`)")
    return build_report(rows)


def _table(report: LiveReport) -> list[str]:
    header = f"  {_pad('SKU', 14)} {_pad('name', 16)} {'units':>6} {'revenue':>10} "
    header += f"{'waitlist':>9} {'left':>5}"
    rows = [header]
    for sku in report.skus:
        rows.append(
            f"  {_pad(sku.sku, 14)} {_pad(sku.name, 16)} {sku.units:>6} "
            f"{_money(sku.revenue):>10} {sku.waitlist_units:>9} {sku.available:>5}"
            + ("  sold out" if sku.sold_out else "")
        )
    return rows


def _state(report: LiveReport, timezone: str) -> str:
    live = report.live
    if live.status == "replay" and live.replay_deadline is not None:
        until = live.replay_deadline.astimezone(ZoneInfo(timezone)).strftime("%m/%d %H:%M")
        return f"replay until {until}"
    return live.status


def _chart(report: LiveReport) -> bytes:
    try:  # matplotlib loads only when a chart is asked for
        from bot.report_chart import chart_png

        return chart_png(report)
    except ImportError:
        raise CommandError("drawing a chart needs matplotlib (pip install matplotlib)") from None


def _write_csv(path: Path, report: LiveReport) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        csv.writer(file).writerows(csv_rows(report))


def _write(path: Path, write: Callable[[Path], object]) -> None:
    try:
        write(path)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}") from None


def _pad(text: str, width: int) -> str:
    """Pads to a width in terminal columns: a Chinese character takes two."""
    columns = sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
    return text + " " * max(width - columns, 0)


def _money(amount: Decimal) -> str:
    whole = amount == amount.to_integral_value()
    return f"{amount:,.0f}" if whole else f"{amount:,.2f}"
