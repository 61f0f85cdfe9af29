"""What the fuzz targets compare between the twins of a compiled parser (no test imports).

Used by the hypothesis tests (``tests.fuzz._twins``) and by the atheris scripts, which run as
``python tests/fuzz/atheris_<target>.py`` and import it as ``_twins``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from types import ModuleType
from typing import Any

from trackstore.exceptions import MalformedYamlError


def _comparable(value: Any) -> Any:
    """A form of a parse result that tells 1, 1.0 and True apart and makes NaN equal NaN."""
    if isinstance(value, dict):
        return ("dict", tuple((_comparable(k), _comparable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_comparable(item) for item in value))
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if hasattr(value, "tobytes"):  # array.array columns
        return ("array", value.typecode, value.tobytes())
    return (type(value).__name__, repr(value))


def outcome(call: Callable[[], Any], expected: tuple[type[BaseException], ...]) -> Any:
    """The comparable result of *call*, or the type and message of an *expected* error;
    any other exception propagates (that is the bug a fuzzer is after)."""
    try:
        return ("ok", _comparable(call()))
    except expected as exc:
        return ("error", type(exc).__name__, str(exc))


def metrics_outcome(twin: ModuleType, data: bytes) -> Any:
    """``parse`` and ``latest`` of a metric file: they never raise for bytes."""
    return (outcome(lambda: twin.parse(data), ()), outcome(lambda: twin.latest(data), ()))


def yaml_outcome(twin: ModuleType, data: bytes) -> Any:
    """``load`` of a ``meta.yaml``: a value or MalformedYamlError, nothing else."""
    return outcome(lambda: twin.load(data), (MalformedYamlError,))


def compare(py: ModuleType, c: ModuleType, target: str, data: bytes) -> None:
    """Raise AssertionError when the twins differ on *data* for *target*."""
    run = metrics_outcome if target == "metrics" else yaml_outcome
    expected, found = run(py, data), run(c, data)
    if expected != found:
        raise AssertionError(f"{target} twins differ on {data[:300]!r}:\n"
                             f"  py: {str(expected)[:500]}\n  c:  {str(found)[:500]}")
