"""Metric files: the selector of the ``metrics`` trio (the only module the stores import).

The format and the semantics are specified by the pure twin, :mod:`trackstore._metrics_py`;
the compiled twin :mod:`trackstore._metrics_c` gives identical results and errors.

``parse(data) -> ParsedMetrics``
    every point of a metric file as columns, plus what was skipped and why;
``latest(data) -> LatestPoint | None``
    the point MLflow reports as the metric's value: max by ``(step, timestamp, value)``;
``format_line(timestamp, value, step, dataset_name=None, dataset_digest=None) -> bytes``
    one line, exactly as MLflow writes it;
``format_lines(timestamps, values, steps) -> bytes``
    many 3-field lines at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._metrics_py import LatestPoint, ParsedMetrics
from ._speedups import load

if TYPE_CHECKING:
    from ._metrics_py import format_line, format_lines, latest, parse
else:
    _impl = load("metrics")
    parse = _impl.parse
    latest = _impl.latest
    format_line = _impl.format_line
    format_lines = _impl.format_lines
    IMPL = _impl.__name__

__all__ = ["LatestPoint", "ParsedMetrics", "format_line", "format_lines", "latest", "parse"]
