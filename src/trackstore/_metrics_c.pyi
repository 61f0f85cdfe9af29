"""Typing stub for the compiled twin; the signatures and semantics are those of ``_metrics_py``."""

from collections.abc import Container, Iterable, Sequence
from typing import Any

from ._metrics_py import LatestPoint as LatestPoint
from ._metrics_py import ParsedMetrics as ParsedMetrics

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

def parse(data: bytes) -> ParsedMetrics: ...
def latest(data: bytes) -> LatestPoint | None: ...
def format_line(
    timestamp: int,
    value: float,
    step: int,
    dataset_name: str | None = None,
    dataset_digest: str | None = None,
) -> bytes: ...
def format_lines(
    timestamps: Iterable[int], values: Iterable[float], steps: Iterable[int]
) -> bytes: ...
def format_batch(metrics: Iterable[Any]) -> dict[str, bytes]: ...
def format_rows(rows: Iterable[Any]) -> dict[str, bytes]: ...
def count_plain(metrics: Sequence[Any], known_keys: Container[str]) -> int: ...
def from_json_plain(items: list[Any], start: int, out: list[Any]) -> int: ...
