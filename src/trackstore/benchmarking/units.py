"""Benchmark values as people read them: times in ns/µs/ms/s, throughput in ops/s."""

from __future__ import annotations

import math
from collections.abc import Iterable

from .keys import HIGHER_IS_BETTER, TIME_STATS

_TIME_UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
_OPS_UNITS = ((1e9, "Gops/s"), (1e6, "Mops/s"), (1e3, "Kops/s"), (1.0, "ops/s"))


def _three_digits(value: float) -> str:
    """Three significant digits, keeping trailing zeros (1.50, 12.3, 123)."""
    size = abs(value)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2
    return f"{value:.{decimals}f}"


def time_unit(seconds: float) -> tuple[str, float]:
    """(unit, seconds per unit) that shows *seconds* with 1 to 3 digits before the point."""
    size = abs(seconds)
    for scale, unit in _TIME_UNITS:
        if size >= scale:
            return unit, scale
    return "ns", 1e-9


def ops_unit(ops: float) -> tuple[str, float]:
    size = abs(ops)
    for scale, unit in _OPS_UNITS:
        if size >= scale:
            return unit, scale
    return "ops/s", 1.0


def stat_unit(stat: str, values: Iterable[float]) -> tuple[str, float]:
    """One (unit, scale) for a series of *stat* values: the one of the largest, so an axis or
    a column reads in one unit; ("", 1) for counts and ``extra_info`` values."""
    finite = [abs(v) for v in values if math.isfinite(v)]
    largest = max(finite, default=0.0)
    if stat in TIME_STATS:
        return time_unit(largest)
    if stat in HIGHER_IS_BETTER:
        return ops_unit(largest)
    return "", 1.0


def format_value(stat: str, value: float | None) -> str:
    """*value* of *stat* with its unit (``"1.50 ms"``, ``"12.3 Kops/s"``, ``"5"``); ``"-"``
    for none."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if stat in TIME_STATS or stat in HIGHER_IS_BETTER:
        unit, scale = stat_unit(stat, [value])
        return f"{_three_digits(value / scale)} {unit}"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def format_change(change: float | None) -> str:
    """A relative change as a signed percentage (``"+12.3%"``); ``"-"`` for none."""
    if change is None:
        return "-"
    if math.isinf(change):
        return "+inf%" if change > 0 else "-inf%"
    return f"{change * 100:+.1f}%"
