"""Typing stub for the compiled twin; the signatures and semantics are those of ``_metrics_py``."""

from collections.abc import Iterable

from ._metrics_py import LatestPoint as LatestPoint
from ._metrics_py import ParsedMetrics as ParsedMetrics

__all__ = ["LatestPoint", "ParsedMetrics", "format_line", "format_lines", "latest", "parse"]

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
