"""Typing stub for the compiled twin; the signatures and semantics are those of ``_sqlbatch_py``."""

from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._sqlbatch_py import KIND_FINITE as KIND_FINITE
from ._sqlbatch_py import KIND_NAN as KIND_NAN
from ._sqlbatch_py import KIND_NEG_INF as KIND_NEG_INF
from ._sqlbatch_py import KIND_POS_INF as KIND_POS_INF
from ._sqlbatch_py import HistoryColumns as HistoryColumns
from ._sqlbatch_py import MetricRow
from .entities import Metric

__all__ = [
    "KIND_FINITE",
    "KIND_NAN",
    "KIND_NEG_INF",
    "KIND_POS_INF",
    "HistoryColumns",
    "bind_params",
    "copy_binary",
    "copy_text",
    "decode_value",
    "encode_value",
    "history_columns",
    "history_metrics",
    "latest_rows",
    "metric_rows",
    "series_rows",
    "values_sql",
]

def metric_rows(
    run_key: int,
    metrics: Iterable[Any],
    key_ids: Mapping[str, int],
    dataset_ids: Mapping[tuple[str, str], int],
) -> list[MetricRow]: ...
def series_rows(
    run_key: int,
    key_id: int,
    timestamps: array[int],
    values: array[float],
    steps: array[int],
    dataset_ids: list[int | None] | None,
) -> tuple[list[MetricRow], int]: ...
def latest_rows(rows: Iterable[Sequence[Any]]) -> list[Sequence[Any]]: ...
def copy_text(rows: Iterable[Sequence[Any]]) -> bytes: ...
def copy_binary(rows: Iterable[Sequence[Any]]) -> bytes: ...
def values_sql(rows: Iterable[Sequence[Any]]) -> str: ...
def bind_params(rows: Iterable[Sequence[Any]]) -> tuple[list[Any], bool]: ...
def history_columns(rows: Iterable[Sequence[Any]]) -> HistoryColumns: ...
def history_metrics(key: str, rows: Iterable[Sequence[Any]]) -> list[Metric]: ...
def encode_value(value: float) -> tuple[float, int]: ...
def decode_value(value: float, kind: int) -> float: ...
