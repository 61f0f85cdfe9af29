"""Points queued for asynchronous logging: the pure twin (the reference) of the ``pointq`` topic.

The training-loop call, ``log_metric(key, value, step=i, synchronous=False)``, is a point that
must cost the caller only its checks and an append. A :class:`PointQueue` belongs to one
:class:`trackstore.asynclog.AsyncLogger` and holds, for each run, the *entry* that the run's
points are appended to: ``(handle, rows)``, the run's open handle and its list of
``(key, value, timestamp, step)`` rows, which the logger queued as one item when it opened
the entry. When the logging thread takes the queue it calls :meth:`PointQueue.reset`, and the
next point of a run finds no entry: :meth:`PointQueue.put` says so by returning None, and the
logger's slow path (the run id's check, the queue's bound, waking the thread) opens a new one.

``PointQueue(valid_keys)``
    an empty queue (no room); *valid_keys* is the ``set`` of keys already found valid
    (:data:`trackstore.validation.VALID_KEYS`, which grows as keys are validated): a key
    outside it is not plain.
``put(run_id, key, value, timestamp, step) -> handle | None``
    queue one point and return its run's handle if the point is *plain* and its run has an
    open entry with room (:attr:`count` below :attr:`room`); else return None with nothing
    queued. Plain: an exact ``str`` run id, an exact ``str`` key in *valid_keys*, an exact
    ``float`` value, a timestamp that is None (now, in milliseconds since the epoch) or an
    exact ``int`` in ``[0, 2**63)``, and a step that is None (0) or an exact ``int`` in the
    int64 range.
``put_many(run_id, values, timestamp, step) -> handle | None``
    the same for every item of the dict *values* (``log_metrics``: each key with its value, at
    one timestamp and step), all of them or none; an empty or non-``dict`` *values* is not
    plain.
``open(run_id, handle, rows)``
    make ``(handle, rows)`` the open entry of *run_id* (which has none).
``add(run_id, rows) -> handle``
    append *rows* (already checked) to the open entry of *run_id*, whatever the room; return
    its handle. ``KeyError`` if the run has no open entry.
``close(run_id)``
    drop the open entry of *run_id*, if any (a batch queued for the run: its later points
    must queue after it).
``reset(room)``
    drop every entry (the thread took them), set :attr:`count` to 0 and :attr:`room` to
    *room*.
``count``, ``room``
    rows queued since the last reset, and how many may be before :meth:`put` says None
    (the logger lowers ``room`` to 0 to send every call to its slow path, where a failure
    is raised).

The logger calls :meth:`open`, :meth:`add`, :meth:`close` and :meth:`reset` with its own lock
held; callers call :meth:`put` and :meth:`put_many` without it. Each method is atomic with
respect to the others: here with a lock of the queue's own, taken after the logger's (never
the other way round); in the compiled twin with the GIL, each critical section being C code
that neither runs Python code nor lets the GIL go.
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["PointQueue", "PointRow"]

#: A queued point: (key, value, timestamp in ms, step).
PointRow = tuple[str, float, int, int]

_TS_MAX = 0x7FFF_FFFF_FFFF_FFFF
_STEP_MIN = -0x8000_0000_0000_0000
_STEP_MAX = 0x7FFF_FFFF_FFFF_FFFF


def _moment(timestamp: int | None, step: int | None) -> tuple[int, int] | None:
    """A point's (timestamp, step), or None if either is not plain."""
    if timestamp is None:
        timestamp = time.time_ns() // 1_000_000
    elif type(timestamp) is not int or not 0 <= timestamp <= _TS_MAX:
        return None
    if step is None:
        step = 0
    elif type(step) is not int or not _STEP_MIN <= step <= _STEP_MAX:
        return None
    return timestamp, step


class PointQueue:
    """The open entries of one logger's runs."""

    __slots__ = ("_handles", "_lock", "_valid_keys", "count", "room")

    def __init__(self, valid_keys: set[str]) -> None:
        if not isinstance(valid_keys, set):
            raise TypeError(f"valid_keys must be a set, not {type(valid_keys).__name__}")
        self._valid_keys = valid_keys
        self._handles: dict[str, tuple[Any, list[PointRow]]] = {}
        self._lock = threading.Lock()
        self.count = 0
        self.room = 0

    def put(self, run_id: str, key: str, value: float, timestamp: int | None,
            step: int | None) -> Any:
        if type(run_id) is not str or type(key) is not str or type(value) is not float \
                or key not in self._valid_keys:
            return None
        moment = _moment(timestamp, step)
        if moment is None:
            return None
        row = (key, value, *moment)
        with self._lock:
            entry = self._handles.get(run_id)
            if entry is None or self.count >= self.room:
                return None
            entry[1].append(row)
            self.count += 1
        return entry[0]

    def put_many(self, run_id: str, values: Any, timestamp: int | None,
                 step: int | None) -> Any:
        if type(run_id) is not str or type(values) is not dict or not values:
            return None
        moment = _moment(timestamp, step)
        if moment is None:
            return None
        valid_keys = self._valid_keys
        rows = []
        for key, value in values.items():
            if type(key) is not str or type(value) is not float or key not in valid_keys:
                return None
            rows.append((key, value, *moment))
        with self._lock:
            entry = self._handles.get(run_id)
            if entry is None or self.count + len(rows) > self.room:
                return None
            entry[1].extend(rows)
            self.count += len(rows)
        return entry[0]

    def open(self, run_id: str, handle: Any, rows: list[PointRow]) -> None:
        with self._lock:
            self._handles[run_id] = (handle, rows)

    def add(self, run_id: str, rows: list[PointRow]) -> Any:
        with self._lock:
            entry = self._handles[run_id]
            entry[1].extend(rows)
            self.count += len(rows)
        return entry[0]

    def close(self, run_id: str) -> None:
        with self._lock:
            self._handles.pop(run_id, None)

    def reset(self, room: int) -> None:
        with self._lock:
            self._handles = {}
            self.count = 0
            self.room = room

    def __contains__(self, run_id: object, /) -> bool:
        """Whether *run_id* has an open entry."""
        return run_id in self._handles
