"""Metric files, pure-Python twin: the reference implementation and the specification.

A metric file is MLflow's ``mlruns/<experiment>/<run>/metrics/<key>``: append-only bytes, one
observation per line. MLflow writes ``f"{timestamp} {value} {step}\\n"`` or, for a metric
logged with a dataset, ``f"{timestamp} {value} {step} {dataset_name} {dataset_digest}\\n"``.
The compiled twin :mod:`trackstore._metrics_c` implements exactly this grammar and returns
the same results and raises the same exceptions, with the same messages.

Grammar (bytes; ``WS`` is ASCII whitespace other than LF: SP, HT, CR, VT, FF)::

    file    = *( line LF ) [ torn ]
    line    = *WS record *WS
    record  = timestamp SP value [ SP step [ SP name SP digest ] ]
    timestamp, step
            = sign 1*DIGIT                     ; the number must fit a signed int64
    value   = sign ( 1*DIGIT [ "." *DIGIT ] / "." 1*DIGIT ) [ ( "e" / "E" ) sign 1*DIGIT ]
            / sign ( "nan" / "inf" / "infinity" )       ; letters in any case
    sign    = [ "+" / "-" ]
    name, digest
            = 1*( any byte but SP and LF )     ; must be valid UTF-8
    torn    = 1*( any byte but LF )

* Lines end at LF. Whitespace is stripped from both ends of a line (as MLflow's
  ``line.strip()``, restricted to ASCII), so ``\\r\\n`` endings and stray blanks are accepted;
  inside a record fields are separated by exactly one SP, so a doubled space yields an empty,
  invalid field.
* DIGIT is ASCII ``0-9`` only; no underscores, no Unicode digits, no hexadecimal floats. A
  decimal value converts exactly as Python's ``float()`` does (correctly rounded; magnitudes
  beyond the double range become ``inf``); ``nan``/``inf`` keep their sign (``-nan`` is a NaN).
* A 2-field record has step 0. A 5-field record carries a dataset name and digest.
  **Deviation from MLflow:** MLflow's reader reports step 0 for 5-field lines; we read the
  step that was written.
* Bytes after the last LF (a line still being written, or cut by a crash) are a *torn* line:
  skipped and reported with ``torn=True``, even when they would parse, since a number may
  have been cut short. ``b""`` holds no points and is not torn.
* A complete line that does not match is skipped and reported as ``(line_number, reason)``
  (1-based); parsing never raises for bad content. MLflow's reader raises instead. The first
  failing rule gives the reason, checked in this order:

  ``"blank line"``, ``"expected 2, 3 or 5 fields, got N"``, ``"invalid timestamp"``,
  ``"invalid value"``, ``"invalid step"``, ``"invalid dataset name or digest"``.

  A number out of int64 range is an invalid timestamp or step; an empty or non-UTF-8 dataset
  field is an invalid dataset name or digest.

API:

``parse(data)``
    every valid point as columns (:class:`ParsedMetrics`); ``data`` must be ``bytes``.
``latest(data)``
    the point MLflow reports as the metric's value, ``max(points, key=(step, timestamp,
    value))`` with Python's semantics: the first of equal keys wins, and a NaN value neither
    replaces nor is replaced by a point with the same step and timestamp. ``None`` when the
    file holds no valid point.
``format_line(timestamp, value, step, dataset_name=None, dataset_digest=None)``
    ``f"{timestamp} {value!r} {step}\\n"`` (plus `` name digest``) as bytes. ``timestamp`` and
    ``step`` are integers (anything with ``__index__``, but not ``bool``) in int64 range, else
    ``TypeError``/``OverflowError``; ``value`` is a ``float`` or an ``int`` (not ``bool``),
    written as ``repr(float(value))``. The dataset fields come both or neither (else
    ``ValueError``); each is a non-empty ``str`` without whitespace (``ValueError``), so the
    line reads back, in MLflow too.
``format_lines(timestamps, values, steps)``
    the 3-field lines of many points: the same rules per element (messages name the element,
    e.g. ``timestamps[3]``), checked in order; the three iterables must have equal lengths
    (``ValueError``).
"""

from __future__ import annotations

import array
import operator
from collections.abc import Container, Iterable, Sequence
from typing import Any, NamedTuple, SupportsIndex, cast

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

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

REASON_BLANK = "blank line"
REASON_TIMESTAMP = "invalid timestamp"
REASON_VALUE = "invalid value"
REASON_STEP = "invalid step"
REASON_DATASET = "invalid dataset name or digest"


def reason_fields(count: int) -> str:
    return f"expected 2, 3 or 5 fields, got {count}"


class ParsedMetrics(NamedTuple):
    """All valid points of a metric file, as columns, and what was skipped."""

    timestamps: array.array[int]  # typecode 'q'
    values: array.array[float]  # typecode 'd'
    steps: array.array[int]  # typecode 'q'
    #: ``(row, name, digest)`` for each 5-field line; ``row`` indexes the columns.
    datasets: list[tuple[int, str, str]]
    #: ``(line_number, reason)`` for each malformed complete line, 1-based.
    bad_lines: list[tuple[int, str]]
    #: The bytes after the last LF were skipped.
    torn: bool


class LatestPoint(NamedTuple):
    timestamp: int
    value: float
    step: int
    dataset_name: str | None
    dataset_digest: str | None
    #: Lines skipped on the way (malformed lines, and a torn last line): non-zero means the
    #: file is damaged and :func:`parse` can say where.
    skipped: int = 0


# With the alphabet limited to these bytes (no whitespace, no "_"), float() accepts exactly
# the decimal branch of the value grammar.
_DECIMAL_BYTES = b"0123456789.eE+-"
_SPECIALS = frozenset({b"nan", b"inf", b"infinity"})

_Record = tuple[int, float, int, "str | None", "str | None"]


def _int64(field: bytes) -> int | None:
    digits = field[1:] if field[:1] == b"-" or field[:1] == b"+" else field
    if not digits.isdigit():  # bytes.isdigit: ASCII digits only, False when empty
        return None
    if len(digits) > 18:
        # int() refuses over 4300 digits; leading zeros are legal, so drop them first.
        digits = digits.lstrip(b"0")
        if len(digits) > 19:
            return None
    number = int(digits) if digits else 0
    if field[:1] == b"-":
        number = -number
    return number if INT64_MIN <= number <= INT64_MAX else None


def _float(field: bytes) -> float | None:
    if field.translate(None, _DECIMAL_BYTES):
        body = field[1:] if field[:1] == b"-" or field[:1] == b"+" else field
        if body.lower() not in _SPECIALS:
            return None
    try:
        return float(field)
    except ValueError:  # an alphabet-valid but ill-formed decimal such as b"1e" or b"."
        return None


def _text(field: bytes) -> str | None:
    if not field:
        return None
    try:
        return field.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _record(line: bytes) -> _Record | str:
    """One complete line (without its LF) as a record, or the reason it is malformed."""
    fields = line.split(b" ")
    if len(fields) == 3:
        # Fast path for what MLflow writes: "<ts> <value> <step>" with unsigned integers.
        ts_text, value_text, step_text = fields
        if (
            ts_text.isdigit()
            and step_text.isdigit()
            and len(ts_text) < 19
            and len(step_text) < 19
            and not value_text.translate(None, _DECIMAL_BYTES)
        ):
            try:
                return int(ts_text), float(value_text), int(step_text), None, None
            except ValueError:  # "1e", "." and the like: the general path names the reason
                pass
    fields = line.strip().split(b" ")
    count = len(fields)
    if count not in (2, 3, 5):
        return REASON_BLANK if fields == [b""] else reason_fields(count)
    timestamp = _int64(fields[0])
    if timestamp is None:
        return REASON_TIMESTAMP
    value = _float(fields[1])
    if value is None:
        return REASON_VALUE
    if count == 2:
        return timestamp, value, 0, None, None
    step = _int64(fields[2])
    if step is None:
        return REASON_STEP
    if count == 3:
        return timestamp, value, step, None, None
    name = _text(fields[3])
    digest = _text(fields[4])
    if name is None or digest is None:
        return REASON_DATASET
    return timestamp, value, step, name, digest


def _check_bytes(data: object) -> bytes:
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    return data


def parse(data: bytes) -> ParsedMetrics:
    """Every valid point of a metric file; see the module docstring for the grammar."""
    lines = _check_bytes(data).split(b"\n")
    torn = bool(lines.pop())  # b"" when the data is empty or ends with LF
    timestamps: list[int] = []
    values: list[float] = []
    steps: list[int] = []
    datasets: list[tuple[int, str, str]] = []
    bad_lines: list[tuple[int, str]] = []
    for lineno, line in enumerate(lines, 1):
        # _record's fast path, inlined: this loop is the bulk path of the pure twin.
        fields = line.split(b" ")
        if len(fields) == 3:
            ts_text, value_text, step_text = fields
            if (
                ts_text.isdigit()
                and step_text.isdigit()
                and len(ts_text) < 19
                and len(step_text) < 19
                and not value_text.translate(None, _DECIMAL_BYTES)
            ):
                try:
                    value = float(value_text)
                except ValueError:
                    pass
                else:
                    timestamps.append(int(ts_text))
                    values.append(value)
                    steps.append(int(step_text))
                    continue
        record = _record(line)
        if isinstance(record, str):
            bad_lines.append((lineno, record))
            continue
        if record[3] is not None and record[4] is not None:
            datasets.append((len(timestamps), record[3], record[4]))
        timestamps.append(record[0])
        values.append(record[1])
        steps.append(record[2])
    return ParsedMetrics(
        array.array("q", timestamps),
        array.array("d", values),
        array.array("q", steps),
        datasets,
        bad_lines,
        torn,
    )


def latest(data: bytes) -> LatestPoint | None:
    """The point MLflow reports for the metric: max by ``(step, timestamp, value)``."""
    lines = _check_bytes(data).split(b"\n")
    skipped = 1 if lines.pop() else 0
    best: _Record | None = None
    for record in map(_record, lines):
        if isinstance(record, str):
            skipped += 1
            continue
        if best is None:
            best = record
            continue
        # Python's tuple ">" spelled out: a NaN value compares neither greater nor smaller,
        # so with equal step and timestamp the point met first stays.
        step, timestamp = record[2], record[0]
        if step > best[2] or (
            step == best[2]
            and (timestamp > best[0] or (timestamp == best[0] and record[1] > best[1]))
        ):
            best = record
    return None if best is None else LatestPoint(*best, skipped)


def int64_arg(obj: object, label: str) -> int:
    if type(obj) is int:
        number = obj
    else:
        if isinstance(obj, bool):
            raise TypeError(f"{label} must be an int, not bool")
        try:
            number = int.__index__(operator.index(cast(SupportsIndex, obj)))
        except TypeError:
            raise TypeError(f"{label} must be an int, not {type(obj).__name__}") from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise OverflowError(f"{label} out of int64 range: {number}")
    return number


def float_arg(obj: object, label: str) -> float:
    if type(obj) is float:
        return obj
    if isinstance(obj, bool) or not isinstance(obj, (int, float)):
        raise TypeError(f"{label} must be a float or an int, not {type(obj).__name__}")
    return float(obj)


def dataset_arg(obj: object, label: str) -> str:
    if not isinstance(obj, str):
        raise TypeError(f"{label} must be a str, not {type(obj).__name__}")
    # str.split() splits on exactly what str.isspace() calls whitespace, which includes every
    # line boundary MLflow's reader knows (\x1c, \x85, \u2028, ...).
    if obj.split() != [obj]:
        raise ValueError(f"{label} must be non-empty and contain no whitespace, got {obj!r}")
    return obj


def format_line(
    timestamp: int,
    value: float,
    step: int,
    dataset_name: str | None = None,
    dataset_digest: str | None = None,
) -> bytes:
    """One metric line, exactly as MLflow writes it (``value`` as ``repr(float)``)."""
    ts = int64_arg(timestamp, "timestamp")
    number = float_arg(value, "value")
    st = int64_arg(step, "step")
    if dataset_name is None and dataset_digest is None:
        return f"{ts} {number!r} {st}\n".encode()
    if dataset_name is None or dataset_digest is None:
        raise ValueError("dataset_name and dataset_digest must be given together")
    name = dataset_arg(dataset_name, "dataset_name")
    digest = dataset_arg(dataset_digest, "dataset_digest")
    return f"{ts} {number!r} {st} {name} {digest}\n".encode()


def key_arg(obj: object) -> str:
    if not isinstance(obj, str):
        raise TypeError(f"metric key must be str, not {type(obj).__name__}")
    return obj


def format_batch(metrics: Iterable[Any]) -> dict[str, bytes]:
    """The lines of many points grouped by metric key, each group in the given order.

    Each item has ``key``, ``timestamp``, ``value``, ``step``, ``dataset_name`` and
    ``dataset_digest`` attributes (a trackstore or MLflow ``Metric``); each line is what
    :func:`format_line` makes of it. Keys are checked before the item's fields.
    """
    return _grouped((key_arg(m.key), format_line(m.timestamp, m.value, m.step, m.dataset_name,
                                                  m.dataset_digest)) for m in metrics)


def row_arg(row: object) -> tuple[Any, ...]:
    if type(row) is not tuple or len(row) != 4:
        raise TypeError("a row must be a tuple (key, value, timestamp, step), got "
                        f"{type(row).__name__}")
    return row


def format_rows(rows: Iterable[Any]) -> dict[str, bytes]:
    """The lines of queued points grouped by metric key, each group in the given order.

    Each row is a tuple ``(key, value, timestamp, step)``; each line is what
    :func:`format_line` makes of the last three.
    """
    return _grouped(_row_line(row) for row in rows)


def _row_line(row: object) -> tuple[str, bytes]:
    key, value, timestamp, step = row_arg(row)
    return key_arg(key), format_line(timestamp, value, step)


def _grouped(lines: Iterable[tuple[str, bytes]]) -> dict[str, bytes]:
    """``(key, line)`` pairs joined per key, in order."""
    groups: dict[str, list[bytes]] = {}
    for key, line in lines:
        group = groups.get(key)
        if group is None:
            groups[key] = [line]
        else:
            group.append(line)
    return {key: b"".join(lines) for key, lines in groups.items()}


def count_plain(metrics: Sequence[Any], known_keys: Container[str]) -> int:
    """How many leading items are *plain*: a ``float`` value, ``int`` timestamp in
    0..2**63-1 and ``int`` step in int64, a ``str`` key in *known_keys*, no dataset.

    The store's validation checks plain metrics this fast and the rest one by one (with
    MLflow's messages); exact types only, so subclasses take the slow path.
    """
    count = 0
    for m in metrics:
        ts, step, key = m.timestamp, m.step, m.key
        if not (type(m.value) is float and type(ts) is int and type(step) is int
                and type(key) is str and 0 <= ts <= INT64_MAX
                and INT64_MIN <= step <= INT64_MAX and m.dataset_name is None
                and m.dataset_digest is None and key in known_keys):
            break
        count += 1
    return count


def from_json_plain(items: list[Any], start: int, out: list[Any]) -> int:
    """Decoded JSON metric entries of a request, from ``items[start]`` on, as ``Metric``
    objects appended to *out*, up to the first entry that is not *plain*; its index (or
    ``len(items)``) is returned.

    A plain entry is a ``dict`` of exactly ``key`` (a non-empty ``str``), ``value`` (an
    ``int`` or ``float``, made a ``float``), ``timestamp`` (an ``int``) and optionally
    ``step`` (an ``int``, 0 when absent), both integers in int64; exact types only (``bool``
    is not an integer here), and an integer value within the range of doubles. Anything
    else is left to the caller's per-field checks, which give the error messages.
    """
    from .entities import Metric

    if type(items) is not list or type(out) is not list:
        raise TypeError("from_json_plain takes lists")
    i = max(start, 0)
    count = len(items)
    while i < count:
        entry = items[i]
        if type(entry) is not dict or not 3 <= len(entry) <= 4:
            break
        key = entry.get("key")
        value = entry.get("value")
        ts = entry.get("timestamp")
        step = entry.get("step", 0)
        if not (type(key) is str and key and type(ts) is int and type(step) is int
                and (type(value) is float or type(value) is int)
                and INT64_MIN <= ts <= INT64_MAX and INT64_MIN <= step <= INT64_MAX
                and len(entry) == 3 + ("step" in entry)):
            break
        try:
            value = float(value)
        except OverflowError:  # an integer beyond the doubles
            break
        out.append(Metric(key, value, ts, step))
        i += 1
    return i


def _as_list(items: Iterable[Any]) -> Sequence[Any]:
    if type(items) is list or type(items) is tuple:
        return items
    return list(items)


def _plain_int64s(items: Sequence[Any]) -> bool:
    return (
        all(type(x) is int for x in items) and min(items) >= INT64_MIN and max(items) <= INT64_MAX
    )


def format_lines(timestamps: Iterable[int], values: Iterable[float], steps: Iterable[int]) -> bytes:
    """The 3-field lines of many points, in order, as one ``bytes``."""
    ts_list = _as_list(timestamps)
    value_list = _as_list(values)
    step_list = _as_list(steps)
    if not len(ts_list) == len(value_list) == len(step_list):
        raise ValueError(
            "timestamps, values and steps must have the same length, got "
            f"{len(ts_list)}, {len(value_list)} and {len(step_list)}"
        )
    if not ts_list:
        return b""
    if (
        _plain_int64s(ts_list)
        and _plain_int64s(step_list)
        and all(type(x) is float for x in value_list)
    ):
        return "".join(map("{} {!r} {}\n".format, ts_list, value_list, step_list)).encode()
    # Slow path: convert element by element so the first offending one is the one reported.
    lines = [
        f"{int64_arg(ts, f'timestamps[{i}]')} "
        f"{float_arg(value, f'values[{i}]')!r} "
        f"{int64_arg(step, f'steps[{i}]')}\n"
        for i, (ts, value, step) in enumerate(zip(ts_list, value_list, step_list, strict=True))
    ]
    return "".join(lines).encode()
