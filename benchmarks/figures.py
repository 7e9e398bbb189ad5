"""What every suite hands the runner: figures beside their baselines and targets, and the table.

A suite's `run(options)` returns `Figure`s; `python -m benchmarks` (or `livecart bench`) prints
them all as one markdown table: suite | figure | value | baseline | ratio | target | met.
The ratio is always value / baseline, whichever way is better for that figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Comparison = Literal["<=", ">=", "=="]
HEADER = (
    "| suite | figure | value | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|"
)


@dataclass(frozen=True, slots=True)
class Options:
    """How every suite is run: `quick` shrinks sizes so the whole bench takes a minute or two."""

    quick: bool = False
    redis_url: str = "redis://127.0.0.1:6379/0"
    postgres_url: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """`value <= bound` (or >=, ==); with `of_ratio` the bound is on value / baseline."""

    comparison: Comparison
    bound: float
    of_ratio: bool = False

    def met(self, value: float, ratio: float | None) -> bool | None:
        measured = ratio if self.of_ratio else value
        if measured is None or math.isnan(measured):
            return None
        if self.comparison == "<=":
            return measured <= self.bound
        if self.comparison == ">=":
            return measured >= self.bound
        return measured == self.bound

    def text(self, unit: str) -> str:
        if self.of_ratio:
            return f"{self.comparison} {number(self.bound, 2)}x"
        return f"{self.comparison} {number(self.bound)}{_spaced(unit)}"


@dataclass(frozen=True, slots=True)
class Figure:
    suite: str
    name: str
    value: float
    unit: str = ""
    baseline: float | None = None
    # What the baseline is ("ceiling", "naive", "background only"), shown beside its value.
    baseline_name: str = ""
    target: Target | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        if not (math.isfinite(self.value) and math.isfinite(self.baseline)):
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        return self.target.met(self.value, self.ratio) if self.target else None


def number(value: float, decimals: int | None = None) -> str:
    """Readable at a glance: thousands separated, fewer decimals the bigger the number."""
    if not math.isfinite(value):
        return "n/a"
    if decimals is None:
        decimals = 0 if abs(value) >= 100 or value == int(value) else 1 if abs(value) >= 10 else 2
    return f"{value:,.{decimals}f}"


def row(figure: Figure) -> str:
    unit = _spaced(figure.unit)
    baseline = "" if figure.baseline is None else f"{number(figure.baseline)}{unit}"
    if figure.baseline is not None and not math.isfinite(figure.baseline):
        baseline = "n/a"
    if figure.baseline_name:
        baseline = f"{baseline} ({figure.baseline_name})" if baseline else figure.baseline_name
    ratio = "" if figure.ratio is None else f"{number(figure.ratio, 2)}x"
    target = figure.target.text(figure.unit) if figure.target else ""
    met = {True: "yes", False: "**no**", None: ""}[figure.met]
    value = f"{number(figure.value)}{unit}" if math.isfinite(figure.value) else "n/a"
    cells = (figure.suite, figure.name, value, baseline, ratio, target)
    return f"| {' | '.join(cells)} | {met} |"


def table(figures: list[Figure]) -> str:
    return "\n".join([HEADER, *(row(figure) for figure in figures)])


def _spaced(unit: str) -> str:
    return f" {unit}" if unit and unit[0].isalnum() else unit
