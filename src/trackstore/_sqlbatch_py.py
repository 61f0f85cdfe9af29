"""SQL metric batches, pure-Python twin: the reference implementation and the specification.

The SQL store keeps one narrow row per metric point (``metrics`` in
:mod:`trackstore.store.sql.schema`, and ``latest_metrics`` with the same columns)::

    (run_key, key_id, step, timestamp, value, kind, dataset_id)

``kind`` says what ``value`` means: :data:`KIND_FINITE` for a finite number stored in
``value``; :data:`KIND_NAN`, :data:`KIND_NEG_INF`, :data:`KIND_POS_INF` for the non-finite
values, stored with ``value = 0.0`` (MySQL and SQL Server cannot store them in a float column,
SQLite turns NaN into NULL). The kinds are numbered so that ``(step, timestamp, kind, value)``
is a total order that puts NaN < -inf < finite < +inf at equal step and timestamp: the order of
a metric's history, and ``max`` of it is the metric's latest point. The constants equal
``schema.py``'s (a test checks it); they are repeated here so the trio does not import the store.

This module turns a batch into what each driver ingests fastest, and fetched rows back into
points. The compiled twin :mod:`trackstore._sqlbatch_c` returns the same results and raises the
same exceptions, with the same messages.

Write side
----------
``metric_rows(run_key, metrics, key_ids, dataset_ids)``
    one row tuple per point of *metrics* (objects with ``key``, ``value``, ``timestamp``,
    ``step``, ``dataset_name`` and ``dataset_digest`` attributes: a ``Metric``), in input order.
    ``key_id = key_ids[key]`` and ``dataset_id = dataset_ids[(dataset_name, dataset_digest)]``,
    or ``None`` when the point names no dataset; a missing key or pair is the mapping's
    ``KeyError``. Each distinct key (and pair) is looked up once. An exact duplicate of an
    earlier point of the batch -- same ``key_id``, ``step``, ``timestamp``, ``kind`` and stored
    ``value``, compared as floats (so ``-0.0`` equals ``0.0``, and ``1`` equals ``1.0``) -- is
    dropped, whatever its dataset: it is the same point for the table's unique key
    ``(run_key, key_id, step, timestamp, kind, value)``. The row keeps the objects it was given
    where they are already exact ``int``/``float`` (a ``-0.0`` stays ``-0.0``).
``series_rows(run_key, key_id, timestamps, values, steps, dataset_ids)``
    :func:`metric_rows` for the columns of one metric, as the metric-file parser returns them
    (``timestamps`` and ``steps`` are ``array('q')``, ``values`` is ``array('d')``, of one
    length; another type is ``TypeError``, another length ``ValueError``): ``(rows,
    duplicates)``, one row per distinct point in order, every row with *key_id*, and the number
    of exact duplicates dropped. *dataset_ids* is ``None`` (no point names a dataset) or a
    ``list`` as long as the columns of ``None`` or an int64 per point (``dataset_ids[3]`` in
    messages). No object is made per point but the row.
``latest_rows(rows)``
    the latest row of each ``key_id`` of *rows* (the rows of one run, as :func:`metric_rows`
    makes them): the maximum by ``(step, timestamp, kind, value)``, the first of equal ones
    winning; the row objects themselves, sorted by ``key_id`` (every writer upserts
    ``latest_metrics`` in the same order, so concurrent batches cannot deadlock on it).
``copy_text(rows)``
    the rows in PostgreSQL's ``COPY ... FROM STDIN`` text format, as ``bytes``: fields separated
    by a tab, ``\\N`` for a ``None`` dataset id, each row ending in ``\\n``. Integers are written
    in decimal, ``value`` as ``repr(float(value))``, which reads back as the same double
    (PostgreSQL >= 12 also reads subnormals such as ``5e-324``). ``b""`` for no rows.
``copy_binary(rows)``
    the rows in PostgreSQL's binary ``COPY ... FROM STDIN (FORMAT binary)`` format, as
    ``bytes``, for the ``metrics`` columns' types (``bigint``, ``integer``, ``bigint``,
    ``bigint``, ``double precision``, ``smallint``, ``integer``): the 19-byte header, per row
    the field count 7 and each field's length (int32, -1 for a ``None`` dataset id) and bytes,
    big-endian (``value``'s own IEEE 754 bits), then the trailer ``-1`` (int16). ``key_id`` and
    ``dataset_id`` must fit in int32 (``OverflowError``: ``rows[2].key_id out of int32
    range``). No rows is the header and the trailer. Nothing is formatted or parsed as text:
    cheaper than :func:`copy_text` for the client and for the server.
``values_sql(rows)``
    the rows as the body of a multi-row ``VALUES`` list for MySQL/MariaDB, ``str``:
    ``(1,2,3,4,0.5,2,NULL),(1,2,4,5,1e+300,2,7)``; ``""`` for no rows. Only integers, ``repr``
    of finite floats and ``NULL`` appear, so the literal SQL is safe. Every ``repr`` form is a
    MySQL numeric literal: ``0.5`` is an exact-value (DECIMAL) literal, which MySQL converts to
    DOUBLE through its correctly rounded ``strtod``; ``1e+300``, ``5e-324``, ``1.5e-07`` are
    approximate-value literals (mantissa, ``e``, signed exponent), read by the same ``strtod``,
    subnormals included. Either way the stored DOUBLE is the value's own bits.
``bind_params(rows)``
    ``(params, with_dataset)``: the rows (of one run) as the parameters of one multi-row
    ``INSERT`` that binds the run key once -- ``[run_key, key_id, step, timestamp, value,
    kind, ...]``, five items per row after the run key -- and whether each row also carries
    its ``dataset_id`` as a sixth (``True`` when any row names a dataset; then every row has
    it, ``None`` included). ``([], False)`` for no rows. Leaving out a column of ``None``
    spares the driver a bind per row (SQLite's module adapts ``None`` the slow way).

*rows* for these five is any iterable of sequences of 7 items; each is checked, in this order:
``run_key``, ``key_id``, ``step``, ``timestamp`` are ints in int64 range; ``value`` is a
``float`` or ``int``; ``kind`` is 0, 1, 2 or 3; ``value`` is finite, and ``0.0`` unless
``kind`` is :data:`KIND_FINITE`; ``dataset_id`` is ``None`` or an int64. :func:`latest_rows`
and :func:`bind_params` also require one ``run_key`` throughout.

Read side
---------
``history_columns(rows)``
    :class:`HistoryColumns` ``(steps, timestamps, values)``, ``array('q')``, ``array('q')``,
    ``array('d')``, from fetched rows ``(step, timestamp, value, kind)``. ``value`` is decoded as
    by :func:`decode_value`. No object is made per row.
``history_metrics(key, rows)``
    one ``Metric(key, value, timestamp, step, dataset_name=..., dataset_digest=...)`` per
    fetched row ``(step, timestamp, value, kind, dataset_name, dataset_digest)``; the dataset
    fields are both ``str`` or both ``None``.

Fetched rows are any iterable of sequences of 4 (or 6) items, as the driver returns them;
``step`` and ``timestamp`` are ints in int64 range, ``value`` a ``float`` or ``int`` (read only
for :data:`KIND_FINITE`), ``kind`` 0, 1, 2 or 3.

Single values
-------------
``encode_value(value) -> (stored_value, kind)`` and ``decode_value(value, kind) -> float``.

Arguments
---------
Integers are ``int`` or have ``__index__``, but are not ``bool``; out of int64 range is
``OverflowError``. Numbers for ``value`` are ``float`` or ``int`` (not ``bool``). A wrong type
is ``TypeError``, a wrong value ``ValueError``. Messages name the item: ``metrics[3].step``,
``rows[5].kind``, ``key_ids['loss']``. A metric's fields are checked in the order ``key``
(a ``str``, then its id), ``value``, ``timestamp``, ``step``, dataset; items in input order, so
the first bad field of the first bad item is the one reported.
"""

from __future__ import annotations

import array
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from ._metrics_py import INT64_MAX, INT64_MIN, float_arg, int64_arg
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

#: What the ``kind`` column says about ``value`` (the same numbers as ``schema.py``).
KIND_NAN, KIND_NEG_INF, KIND_FINITE, KIND_POS_INF = 0, 1, 2, 3

#: The value each non-finite kind stands for, by kind (:data:`KIND_FINITE` reads ``value``).
SPECIAL_VALUES: tuple[float, ...] = (math.nan, -math.inf, 0.0, math.inf)

INF = math.inf

#: A row of ``metrics``: ``(run_key, key_id, step, timestamp, value, kind, dataset_id)``.
MetricRow = tuple[int, int, int, int, float, int, "int | None"]

ROW_FIELDS = ("run_key", "key_id", "step", "timestamp", "value", "kind", "dataset_id")


class HistoryColumns(NamedTuple):
    """A metric's history as columns, in the order the rows were fetched."""

    steps: array.array[int]  # typecode 'q'
    timestamps: array.array[int]  # typecode 'q'
    values: array.array[float]  # typecode 'd'


# --- argument checks (the compiled twin calls these on its slow paths) -----------------------


def kind_arg(obj: object, label: str) -> int:
    kind = int64_arg(obj, label)
    if not KIND_NAN <= kind <= KIND_POS_INF:
        raise ValueError(f"{label} must be 0, 1, 2 or 3, got {kind}")
    return kind


def row_arg(row: Any, size: int, index: int) -> tuple[Any, ...]:
    """*row* (``rows[index]``) as a tuple of *size* items."""
    items: tuple[Any, ...]
    if type(row) is tuple:
        items = row
    else:
        try:
            items = tuple(row)
        except TypeError:
            raise TypeError(
                f"rows[{index}] must be a sequence of {size} items, not {type(row).__name__}"
            ) from None
    if len(items) != size:
        raise ValueError(f"rows[{index}] must have {size} items, got {len(items)}")
    return items


def key_arg(obj: object, label: str) -> str:
    if not isinstance(obj, str):
        raise TypeError(f"{label} must be a str, not {type(obj).__name__}")
    return obj


def _is_int64(obj: object) -> bool:
    return type(obj) is int and INT64_MIN <= obj <= INT64_MAX


def stored_row(row: Any, index: int) -> MetricRow:
    """*row* (``rows[index]``) checked as a stored row, with exact ``int``/``float`` items."""
    if type(row) is tuple and len(row) == 7:
        run_key, key_id, step, ts, value, kind, dataset_id = row
        if (
            type(value) is float
            and type(kind) is int
            and (value == 0.0 if kind != KIND_FINITE else -INF < value < INF)
            and KIND_NAN <= kind <= KIND_POS_INF
            and _is_int64(run_key)
            and _is_int64(key_id)
            and _is_int64(step)
            and _is_int64(ts)
            and (dataset_id is None or _is_int64(dataset_id))
        ):
            return row
    items = row_arg(row, 7, index)
    numbers = [int64_arg(items[k], f"rows[{index}].{ROW_FIELDS[k]}") for k in range(4)]
    value = float_arg(items[4], f"rows[{index}].value")
    kind = kind_arg(items[5], f"rows[{index}].kind")
    if not -INF < value < INF:
        raise ValueError(
            f"rows[{index}].value must be finite (NaN and infinities are stored by kind), "
            f"got {value!r}"
        )
    if kind != KIND_FINITE and value != 0.0:
        raise ValueError(f"rows[{index}].value must be 0.0 for kind {kind}, got {value!r}")
    dataset_id = items[6]
    if dataset_id is not None:
        dataset_id = int64_arg(dataset_id, f"rows[{index}].dataset_id")
    return (numbers[0], numbers[1], numbers[2], numbers[3], value, kind, dataset_id)


def history_row(row: Any, index: int, size: int) -> tuple[Any, ...]:
    """*row* (``rows[index]``) checked as a fetched history row of *size* (4 or 6) items,
    with exact ``int``/``float`` items; ``value`` is still the stored one."""
    items = row_arg(row, size, index)
    step = int64_arg(items[0], f"rows[{index}].step")
    ts = int64_arg(items[1], f"rows[{index}].timestamp")
    value = float_arg(items[2], f"rows[{index}].value")
    kind = kind_arg(items[3], f"rows[{index}].kind")
    if size == 4:
        return step, ts, value, kind
    name, digest = items[4], items[5]
    for obj, field in ((name, "dataset_name"), (digest, "dataset_digest")):
        if obj is not None and not isinstance(obj, str):
            raise TypeError(
                f"rows[{index}].{field} must be a str or None, not {type(obj).__name__}"
            )
    if (name is None) != (digest is None):
        raise ValueError(f"rows[{index}]: dataset_name and dataset_digest must be given together")
    return step, ts, value, kind, name, digest


def _as_list(items: Iterable[Any]) -> Sequence[Any]:
    if type(items) is list or type(items) is tuple:
        return items
    return list(items)


# --- single values ----------------------------------------------------------------------------


def encode_value(value: float) -> tuple[float, int]:
    """``(stored value, kind)`` for a metric value: non-finite values are stored as ``0.0``."""
    number = float_arg(value, "value")
    if -INF < number < INF:
        return number, KIND_FINITE
    if math.isnan(number):
        return 0.0, KIND_NAN
    return 0.0, KIND_POS_INF if number > 0.0 else KIND_NEG_INF


def decode_value(value: float, kind: int) -> float:
    """The metric value a stored ``(value, kind)`` stands for."""
    number = float_arg(value, "value")
    code = kind_arg(kind, "kind")
    return number if code == KIND_FINITE else SPECIAL_VALUES[code]


# --- write side -------------------------------------------------------------------------------


def metric_rows(
    run_key: int,
    metrics: Iterable[Any],
    key_ids: Mapping[str, int],
    dataset_ids: Mapping[tuple[str, str], int],
) -> list[MetricRow]:
    """One row per distinct point of *metrics*, in order; see the module docstring."""
    run = int64_arg(run_key, "run_key")
    known_keys: dict[str, int] = {}
    known_datasets: dict[tuple[str, str], int] = {}
    seen: set[tuple[int, int, int, int, float]] = set()
    rows: list[MetricRow] = []
    for i, m in enumerate(metrics):
        key = m.key
        if type(key) is not str:
            key_arg(key, f"metrics[{i}].key")
        key_id = known_keys.get(key)
        if key_id is None:
            key_id = known_keys[key] = int64_arg(key_ids[key], f"key_ids[{key!r}]")
        value = m.value
        if type(value) is not float:
            value = float_arg(value, f"metrics[{i}].value")
        ts = m.timestamp
        if not _is_int64(ts):
            ts = int64_arg(ts, f"metrics[{i}].timestamp")
        step = m.step
        if not _is_int64(step):
            step = int64_arg(step, f"metrics[{i}].step")
        name = m.dataset_name
        digest = m.dataset_digest
        dataset_id = None
        if name is not None or digest is not None:
            if name is None or digest is None:
                raise ValueError(
                    f"metrics[{i}]: dataset_name and dataset_digest must be given together"
                )
            pair = (name, digest)
            dataset_id = known_datasets.get(pair)
            if dataset_id is None:
                dataset_id = known_datasets[pair] = int64_arg(
                    dataset_ids[pair], f"dataset_ids[{pair!r}]"
                )
        kind = KIND_FINITE
        if not -INF < value < INF:
            value, kind = encode_value(value)
        point = (key_id, step, ts, kind, value)
        if point not in seen:
            seen.add(point)
            rows.append((run, key_id, step, ts, value, kind, dataset_id))
    return rows


def series_rows(
    run_key: int,
    key_id: int,
    timestamps: array.array[int],
    values: array.array[float],
    steps: array.array[int],
    dataset_ids: list[int | None] | None,
) -> tuple[list[MetricRow], int]:
    """The rows of one metric's columns and the duplicates dropped; see the module docstring."""
    run = int64_arg(run_key, "run_key")
    kid = int64_arg(key_id, "key_id")
    count = series_length(timestamps, values, steps, dataset_ids)
    seen: set[tuple[int, int, int, float]] = set()
    rows: list[MetricRow] = []
    for i in range(count):
        number = values[i]
        if -INF < number < INF:
            kind = KIND_FINITE
        else:
            kind = KIND_NAN if math.isnan(number) else (
                KIND_POS_INF if number > 0.0 else KIND_NEG_INF)
            number = 0.0
        step, ts = steps[i], timestamps[i]
        point = (step, ts, kind, number)
        if point in seen:
            continue
        seen.add(point)
        dataset_id = None
        if dataset_ids is not None and dataset_ids[i] is not None:
            dataset_id = int64_arg(dataset_ids[i], f"dataset_ids[{i}]")
        rows.append((run, kid, step, ts, number, kind, dataset_id))
    return rows, count - len(rows)


def series_length(timestamps: object, values: object, steps: object,
                  dataset_ids: object) -> int:
    """The length of :func:`series_rows`' columns, checked."""
    for column, typecode, label in ((timestamps, "q", "timestamps"), (values, "d", "values"),
                                    (steps, "q", "steps")):
        if type(column) is not array.array or column.typecode != typecode:
            raise TypeError(f"{label} must be an array('{typecode}'), not "
                            f"{_column_type(column)}")
    count = len(timestamps)  # type: ignore[arg-type]
    if len(values) != count or len(steps) != count:  # type: ignore[arg-type]
        raise ValueError("timestamps, values and steps must have one length")
    if dataset_ids is not None:
        if type(dataset_ids) is not list:
            raise TypeError(f"dataset_ids must be a list or None, not {type(dataset_ids).__name__}")
        if len(dataset_ids) != count:
            raise ValueError("dataset_ids must be as long as the columns")
    return count


def _column_type(column: object) -> str:
    if type(column) is array.array:
        return f"array('{column.typecode}')"
    return type(column).__name__


def same_run(run_key: int, index: int, first_run: int, function: str) -> None:
    """*function* takes the rows of one run: ``rows[index]`` must have ``rows[0]``'s run key."""
    if index and run_key != first_run:
        raise ValueError(
            f"rows[{index}].run_key is {run_key}, rows[0].run_key is {first_run}: "
            f"{function} takes the rows of one run"
        )


def latest_rows(rows: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
    """The latest row of each ``key_id``, sorted by ``key_id``; see the module docstring."""
    best: dict[int, tuple[tuple[int, int, int, float], Sequence[Any]]] = {}
    first_run = 0
    for i, row in enumerate(_as_list(rows)):
        run_key, key_id, step, ts, value, kind, _ = stored_row(row, i)
        if i == 0:
            first_run = run_key
        same_run(run_key, i, first_run, "latest_rows")
        order = (step, ts, kind, value)
        current = best.get(key_id)
        if current is None or order > current[0]:  # strictly greater: the first of equals stays
            best[key_id] = (order, row)
    return [best[key_id][1] for key_id in sorted(best)]


_NULL_COPY = "\\N"


def copy_text(rows: Iterable[Sequence[Any]]) -> bytes:
    """The rows in PostgreSQL's COPY text format; see the module docstring."""
    lines = []
    for i, row in enumerate(_as_list(rows)):
        run_key, key_id, step, ts, value, kind, dataset_id = stored_row(row, i)
        dataset = _NULL_COPY if dataset_id is None else dataset_id
        lines.append(f"{run_key}\t{key_id}\t{step}\t{ts}\t{value!r}\t{kind}\t{dataset}\n")
    return "".join(lines).encode("ascii")


#: Binary COPY: the signature, the flags (0) and the header extension length (0); then a row
#: is _BINARY_ROW and the dataset id field (_BINARY_DATASET or _BINARY_NULL).
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_ROW = struct.Struct("!hiqiiiqiqidih")  # the field count, then (length, field) pairs
_BINARY_DATASET = struct.Struct("!ii")
_BINARY_NULL = struct.pack("!i", -1)
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _int32_field(number: int, index: int, field: str) -> None:
    if not _INT32_MIN <= number <= _INT32_MAX:
        raise OverflowError(f"rows[{index}].{field} out of int32 range")


def copy_binary(rows: Iterable[Sequence[Any]]) -> bytes:
    """The rows in PostgreSQL's binary COPY format; see the module docstring."""
    parts = [COPY_BINARY_HEADER]
    for i, row in enumerate(_as_list(rows)):
        run_key, key_id, step, ts, value, kind, dataset_id = stored_row(row, i)
        _int32_field(key_id, i, "key_id")
        if dataset_id is not None:
            _int32_field(dataset_id, i, "dataset_id")
        parts.append(_BINARY_ROW.pack(7, 8, run_key, 4, key_id, 8, step, 8, ts, 8, value,
                                      2, kind))
        parts.append(_BINARY_NULL if dataset_id is None else _BINARY_DATASET.pack(4, dataset_id))
    parts.append(b"\xff\xff")
    return b"".join(parts)


def values_sql(rows: Iterable[Sequence[Any]]) -> str:
    """The rows as the body of a MySQL multi-row ``VALUES`` list; see the module docstring."""
    tuples = []
    for i, row in enumerate(_as_list(rows)):
        run_key, key_id, step, ts, value, kind, dataset_id = stored_row(row, i)
        dataset = "NULL" if dataset_id is None else dataset_id
        tuples.append(f"({run_key},{key_id},{step},{ts},{value!r},{kind},{dataset})")
    return ",".join(tuples)


def bind_params(rows: Iterable[Sequence[Any]]) -> tuple[list[Any], bool]:
    """The rows as one multi-row insert's parameters, the run key bound once; see the module
    docstring."""
    checked: list[MetricRow] = []
    with_dataset = False
    for i, row in enumerate(_as_list(rows)):
        stored = stored_row(row, i)
        same_run(stored[0], i, checked[0][0] if checked else stored[0], "bind_params")
        with_dataset = with_dataset or stored[6] is not None
        checked.append(stored)
    if not checked:
        return [], False
    end = 7 if with_dataset else 6
    params: list[Any] = [checked[0][0]]
    for stored in checked:
        params.extend(stored[1:end])
    return params, with_dataset


# --- read side --------------------------------------------------------------------------------


def _plain_columns(items: Sequence[Any]) -> HistoryColumns | None:
    """The columns when every row is a 4-tuple of exact, valid numbers, else ``None``.

    Column by column in C loops (``map``, ``array``): the pure twin's bulk path.
    """
    if set(map(type, items)) != {tuple} or set(map(len, items)) != {4}:
        return None
    kinds = list(map(itemgetter(3), items))
    columns = [list(map(itemgetter(k), items)) for k in range(3)]
    if (
        set(map(type, columns[0])) | set(map(type, columns[1])) | set(map(type, kinds)) != {int}
        or set(map(type, columns[2])) != {float}
        or not set(kinds) <= {KIND_NAN, KIND_NEG_INF, KIND_FINITE, KIND_POS_INF}
    ):
        return None
    try:
        steps = array.array("q", columns[0])
        timestamps = array.array("q", columns[1])
    except OverflowError:
        return None
    values = array.array("d", columns[2])
    if kinds.count(KIND_FINITE) != len(kinds):
        for i, kind in enumerate(kinds):
            if kind != KIND_FINITE:
                values[i] = SPECIAL_VALUES[kind]
    return HistoryColumns(steps, timestamps, values)


def history_columns(rows: Iterable[Sequence[Any]]) -> HistoryColumns:
    """A fetched history ``(step, timestamp, value, kind)`` as columns; see the module docstring."""
    items = _as_list(rows)
    plain = _plain_columns(items)
    if plain is not None:
        return plain
    steps: list[int] = []
    timestamps: list[int] = []
    values: list[float] = []
    for i, row in enumerate(items):
        step, ts, value, kind = history_row(row, i, 4)
        steps.append(step)
        timestamps.append(ts)
        values.append(value if kind == KIND_FINITE else SPECIAL_VALUES[kind])
    return HistoryColumns(array.array("q", steps), array.array("q", timestamps),
                          array.array("d", values))


def history_metrics(key: str, rows: Iterable[Sequence[Any]]) -> list[Metric]:
    """One ``Metric`` per fetched row ``(step, timestamp, value, kind, dataset_name,
    dataset_digest)``; see the module docstring."""
    name = key_arg(key, "key")
    points = []
    for i, row in enumerate(_as_list(rows)):
        step, ts, value, kind, dataset_name, dataset_digest = history_row(row, i, 6)
        if kind != KIND_FINITE:
            value = SPECIAL_VALUES[kind]
        points.append(Metric(name, value, ts, step, None, dataset_name, dataset_digest))
    return points
