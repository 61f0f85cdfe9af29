"""SQL metric batches: the selector of the ``sqlbatch`` trio (the only module the stores import).

The row format and the semantics are specified by the pure twin, :mod:`trackstore._sqlbatch_py`;
the compiled twin :mod:`trackstore._sqlbatch_c` gives identical results and errors.

``metric_rows(run_key, metrics, key_ids, dataset_ids) -> list[tuple]``
    the ``metrics`` rows of a batch, exact duplicates dropped;
``series_rows(run_key, key_id, timestamps, values, steps, dataset_ids) -> (list, int)``
    the rows of one metric's columns (an import's path), and the duplicates dropped;
``latest_rows(rows) -> list[tuple]``
    the latest row of each key, sorted by ``key_id``, for the ``latest_metrics`` upsert;
``copy_text(rows) -> bytes``
    the rows in PostgreSQL's ``COPY`` text format;
``copy_binary(rows) -> bytes``
    the rows in PostgreSQL's binary ``COPY`` format;
``values_sql(rows) -> str``
    the rows as a MySQL/MariaDB multi-row ``VALUES`` list;
``bind_params(rows) -> (list, bool)``
    the rows as the parameters of a multi-row insert binding the run key once (SQLite);
``history_columns(rows) -> HistoryColumns``
    fetched ``(step, timestamp, value, kind)`` rows as ``array`` columns;
``history_metrics(key, rows) -> list[Metric]``
    fetched rows with their dataset as ``Metric`` objects;
``encode_value(value) -> (float, kind)`` / ``decode_value(value, kind) -> float``
    one value to and from its stored form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._speedups import load
from ._sqlbatch_py import (
    KIND_FINITE,
    KIND_NAN,
    KIND_NEG_INF,
    KIND_POS_INF,
    HistoryColumns,
)

if TYPE_CHECKING:
    from ._sqlbatch_py import (
        bind_params,
        copy_binary,
        copy_text,
        decode_value,
        encode_value,
        history_columns,
        history_metrics,
        latest_rows,
        metric_rows,
        series_rows,
        values_sql,
    )
else:
    _impl = load("sqlbatch")
    metric_rows = _impl.metric_rows
    series_rows = _impl.series_rows
    latest_rows = _impl.latest_rows
    copy_text = _impl.copy_text
    copy_binary = _impl.copy_binary
    values_sql = _impl.values_sql
    bind_params = _impl.bind_params
    history_columns = _impl.history_columns
    history_metrics = _impl.history_metrics
    encode_value = _impl.encode_value
    decode_value = _impl.decode_value
    IMPL = _impl.__name__

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
