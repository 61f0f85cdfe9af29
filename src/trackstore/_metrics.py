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
    many 3-field lines at once;
``format_batch(metrics) -> dict[str, bytes]``
    the lines of many ``Metric`` objects, grouped by key;
``format_rows(rows) -> dict[str, bytes]``
    the lines of queued ``(run_id, key, value, timestamp, step)`` rows, grouped by key;
``count_plain(metrics, known_keys) -> int``
    how many leading metrics need no more validation than a type check;
``from_json_plain(items, start, out) -> int``
    decoded JSON metric entries as ``Metric`` objects, up to the first one not plain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._metrics_py import LatestPoint, ParsedMetrics
from ._speedups import load

if TYPE_CHECKING:
    from ._metrics_py import (
        count_plain,
        format_batch,
        format_line,
        format_lines,
        format_rows,
        from_json_plain,
        latest,
        parse,
    )
else:
    _impl = load("metrics")
    parse = _impl.parse
    latest = _impl.latest
    format_line = _impl.format_line
    format_lines = _impl.format_lines
    format_batch = _impl.format_batch
    format_rows = _impl.format_rows
    count_plain = _impl.count_plain
    from_json_plain = _impl.from_json_plain
    IMPL = _impl.__name__

__all__ = [
    "LatestPoint",
    "ParsedMetrics",
    "count_plain",
    "format_batch",
    "format_line",
    "format_lines",
    "format_rows",
    "from_json_plain",
    "latest",
    "parse",
]
