"""The report as a picture a host takes in at a glance: orders over the live, and per SKU what
sold against what buyers still wanted (matplotlib's Agg backend: no display needed).

Product names are often Chinese: they are drawn with a font that has their glyphs when one is
installed; without one, bars are labelled with SKU codes rather than with empty boxes.
matplotlib is imported only when a chart is drawn: `livecart` starts fast without it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.report import LiveReport, SkuFigures

if TYPE_CHECKING:
    from matplotlib import font_manager
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis

BASE_FONT = "DejaVu Sans"
# Families known to carry Chinese glyphs, Traditional first (the shops write zh-Hant).
CJK_HINTS = ("CJK", "Han", "Hei", "Ming", "Song", "Kai", "WenQuanYi", "PingFang", "Hiragino")
REGION_ORDER = ("TC", "HK", "SC", "JP", "KR")
NEVER = ("Last Resort",)  # matplotlib's placeholder-box font "has" every glyph
SOLD, WANTED, CURVE, CARTS, ALERT = "#264653", "#f4a261", "#2a9d8f", "#e76f51", "#c1121f"


@dataclass(frozen=True, slots=True)
class Fonts:
    families: tuple[str, ...]  # rcParams font.family: per-glyph fallback in this order
    glyphs: frozenset[int]

    def can_draw(self, text: str) -> bool:
        return all(char.isspace() or ord(char) in self.glyphs for char in text)


def chart_png(report: LiveReport, *, fonts: Fonts | None = None) -> bytes:
    """The chart as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fonts = fonts or find_fonts([s.name for s in report.skus] + [report.live.title or ""])
    bars = max(len(report.skus), 1)
    with rc_context({"font.family": list(fonts.families), "font.size": 11}):
        figure = Figure(figsize=(12, 4.2 + 0.45 * bars), dpi=110, layout="constrained")
        FigureCanvasAgg(figure)
        curve, skus = figure.subplots(2, 1, height_ratios=[3.2, 1.0 + 0.45 * bars])
        figure.suptitle(_title(report, fonts.can_draw), fontsize=14)
        _draw_curve(curve, report)
        _draw_skus(skus, report.skus, fonts.can_draw)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def bar_label(sku: SkuFigures, can_draw: Callable[[str], bool]) -> str:
    """`name (SKU)` when the name can be drawn, else the SKU code alone."""
    if sku.name and sku.name != sku.sku and can_draw(sku.name):
        return f"{sku.name} ({sku.sku})"
    return sku.sku


def find_fonts(texts: Iterable[str]) -> Fonts:
    """The base font, plus the installed font that draws most of what the base one cannot."""
    from matplotlib import font_manager

    base = _glyphs(font_manager.findfont(font_manager.FontProperties(family=BASE_FONT)))
    missing = {ord(char) for text in texts for char in text if not char.isspace()} - base
    if not missing:
        return Fonts((BASE_FONT,), base)
    best_name, best = "", frozenset[int]()
    for name, path in _candidates(font_manager.fontManager.ttflist):
        glyphs = _glyphs(path)
        if len(missing & glyphs) > len(missing & best):
            best_name, best = name, glyphs
            if missing <= glyphs:
                break
    if not best_name:
        return Fonts((BASE_FONT,), base)
    return Fonts((BASE_FONT, best_name), base | best)


def _candidates(fonts: Iterable[font_manager.FontEntry]) -> list[tuple[str, str]]:
    def rank(entry: font_manager.FontEntry) -> tuple[int, int, str]:
        hinted = any(hint.lower() in entry.name.lower() for hint in CJK_HINTS)
        region = next((i for i, r in enumerate(REGION_ORDER) if entry.name.endswith(r)), 9)
        return (0 if hinted else 1, region, entry.name)

    usable = [f for f in fonts if not any(f.name.startswith(never) for never in NEVER)]
    return [(f.name, f.fname) for f in sorted(usable, key=rank)]


@lru_cache(maxsize=256)
def _glyphs(path: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


def _title(report: LiveReport, can_draw: Callable[[str], bool]) -> str:
    live = report.live
    name = live.title if live.title and can_draw(live.title) else f"Live {live.id}"
    return (
        f"{name}\n{report.comments} comments · {report.order_comments} order comments · "
        f"{report.orders} orders · {report.units} units · ${_money(report.revenue)} · "
        f"{report.buyer_conversion:.0%} of commenters bought"
    )


def _draw_curve(axes: Axes, report: LiveReport) -> None:
    minutes = [m.minute for m in report.per_minute]
    axes.set_title("Orders per minute", loc="left", fontweight="bold")
    axes.set_xlabel("minutes since the live started")
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    if not minutes:
        axes.text(0.5, 0.5, "No orders yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
        return
    _whole_numbers(axes.xaxis, axes.yaxis)
    comments = [m.order_comments for m in report.per_minute]
    axes.fill_between(minutes, comments, step="mid", color=CURVE, alpha=0.35)
    axes.step(minutes, comments, where="mid", color=CURVE, linewidth=2, label="order comments")
    axes.bar(
        minutes,
        [m.orders for m in report.per_minute],
        width=0.6,
        color=CARTS,
        alpha=0.8,
        label="new carts",
    )
    peak = max(report.per_minute, key=lambda m: m.order_comments)
    if peak.order_comments:
        axes.annotate(
            f"peak: {peak.order_comments} at minute {peak.minute}",
            (peak.minute, peak.order_comments),
            xytext=(8, 6),
            textcoords="offset points",
            fontweight="bold",
        )
    ended = report.live.ended_at
    if ended is not None:
        minute = (ended - report.live.started_at).total_seconds() / 60
        if 0 <= minute <= minutes[-1]:
            axes.axvline(minute, color="grey", linestyle="--", linewidth=1)
            axes.text(
                minute,
                axes.get_ylim()[1],
                "live ended ",
                rotation=90,
                ha="right",
                va="top",
                color="grey",
            )
    axes.set_xlim(left=-0.5)
    axes.set_ylim(bottom=0)
    _legend_above(axes)


def _draw_skus(axes: Axes, skus: tuple[SkuFigures, ...], can_draw: Callable[[str], bool]) -> None:
    axes.set_title(
        "Units per SKU: sold, and wanted with no stock left", loc="left", fontweight="bold"
    )
    axes.spines[["top", "right"]].set_visible(False)
    if not skus:
        axes.text(0.5, 0.5, "No lineup", ha="center", va="center", transform=axes.transAxes)
        return
    rows = range(len(skus))
    sold = [s.units for s in skus]
    wanted = [s.waitlist_units for s in skus]
    axes.barh(rows, sold, color=SOLD, label="sold or held")
    axes.barh(
        rows,
        wanted,
        left=sold,
        color=WANTED,
        hatch="//",
        edgecolor="white",
        label="waitlist (no stock)",
    )
    axes.set_yticks(list(rows), [bar_label(s, can_draw) for s in skus])
    axes.invert_yaxis()
    axes.set_xlabel("units")
    _whole_numbers(axes.xaxis)
    widest = max([a + b for a, b in zip(sold, wanted, strict=True)] + [1])
    axes.set_xlim(0, widest * 1.35)
    for row, sku in enumerate(skus):
        note = f" {sku.units} · ${_money(sku.revenue)}"
        if sku.waitlist_units:
            note += f"  (+{sku.waitlist_units} wanted)"
        axes.text(sku.units + sku.waitlist_units, row, note, va="center", fontsize=10)
        if sku.sold_out:
            axes.text(
                widest * 1.34,
                row,
                "SOLD OUT",
                va="center",
                ha="right",
                color=ALERT,
                fontweight="bold",
                fontsize=10,
            )
    _legend_above(axes)


def _whole_numbers(*axes: Axis) -> None:
    """Minutes, comments and units come whole: no 0.2-unit ticks."""
    from matplotlib.ticker import MaxNLocator

    for axis in axes:
        axis.set_major_locator(MaxNLocator(integer=True))


def _legend_above(axes: Axes) -> None:
    """Above the plot, right: never over a bar or the curve."""
    axes.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, frameon=False)


def _money(amount: Decimal) -> str:
    whole = amount == amount.to_integral_value()
    return f"{amount:,.0f}" if whole else f"{amount:,.2f}"
