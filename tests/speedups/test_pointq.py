"""The ``pointq`` trio: what ``put`` / ``put_many`` accept as plain, the entries' life cycle, both
twins alike, and every point queued exactly once while threads race the logger's reset."""

from __future__ import annotations

import sys
import threading
import time
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T0 = 1_700_000_000_000
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


class Text(str):
    pass


class Number(float):
    pass


class Whole(int):
    pass


def queue(impl: ModuleType, room: int = 100, keys: tuple[str, ...] = ("loss", "acc")) -> Any:
    q = impl.PointQueue(set(keys))
    q.reset(room)
    return q


def test_put_needs_an_open_entry_with_room(pointq_impl: ModuleType) -> None:
    q = queue(pointq_impl, room=2)
    assert q.put("r1", "loss", 0.5, T0, 1) is None  # no entry: the logger's slow path
    assert q.count == 0
    rows: list[Any] = []
    handle = object()
    q.open("r1", handle, rows)
    assert "r1" in q and "r2" not in q
    assert q.put("r1", "loss", 0.5, T0, 1) is handle
    assert q.put("r1", "acc", float("nan"), 0, -3) is handle
    assert q.put("r1", "loss", 1.5, T0, 2) is None  # full
    assert rows == [("loss", 0.5, T0, 1), ("acc", rows[1][1], 0, -3)]
    assert rows[1][1] != rows[1][1]  # nan, as given
    assert q.count == 2
    assert q.add("r1", [("loss", 2.5, T0, 3)]) is handle  # the slow path: whatever the room
    assert q.count == 3 and rows[-1] == ("loss", 2.5, T0, 3)
    with pytest.raises(KeyError):
        q.add("r2", [("loss", 1.0, T0, 0)])
    q.close("r1")
    q.close("r1")  # closing a run without an entry does nothing
    assert "r1" not in q
    assert q.put("r1", "loss", 0.5, T0, 4) is None
    q.reset(10)
    assert q.count == 0 and q.room == 10 and "r1" not in q
    assert rows == [("loss", 0.5, T0, 1), ("acc", rows[1][1], 0, -3), ("loss", 2.5, T0, 3)]


def test_room_is_writable_and_zero_sends_every_call_to_the_slow_path(
        pointq_impl: ModuleType) -> None:
    q = queue(pointq_impl)
    rows: list[Any] = []
    q.open("r", "h", rows)
    q.room = 0
    assert q.put("r", "loss", 0.5, T0, 1) is None
    assert q.put_many("r", {"loss": 0.5}, T0, 1) is None
    assert rows == [] and q.count == 0


@pytest.mark.parametrize("args", [
    (1, "loss", 0.5, T0, 0),  # run id not a str
    (Text("r"), "loss", 0.5, T0, 0),
    ("r", "unknown", 0.5, T0, 0),  # a key not yet found valid
    ("r", Text("loss"), 0.5, T0, 0),
    ("r", b"loss", 0.5, T0, 0),
    ("r", "loss", 1, T0, 0),  # an int value: converted by the general path
    ("r", "loss", True, T0, 0),
    ("r", "loss", Number(0.5), T0, 0),
    ("r", "loss", "0.5", T0, 0),
    ("r", "loss", 0.5, -1, 0),  # timestamp out of range
    ("r", "loss", 0.5, INT64_MAX + 1, 0),
    ("r", "loss", 0.5, 2**100, 0),
    ("r", "loss", 0.5, float(T0), 0),
    ("r", "loss", 0.5, True, 0),
    ("r", "loss", 0.5, Whole(T0), 0),
    ("r", "loss", 0.5, T0, INT64_MAX + 1),  # step out of range
    ("r", "loss", 0.5, T0, INT64_MIN - 1),
    ("r", "loss", 0.5, T0, -(2**100)),
    ("r", "loss", 0.5, T0, 1.0),
    ("r", "loss", 0.5, T0, False),
    ("r", "loss", 0.5, T0, Whole(1)),
])
def test_anything_not_plain_is_refused_and_nothing_queued(pointq_impl: ModuleType,
                                                          args: tuple[Any, ...]) -> None:
    q = queue(pointq_impl)
    rows: list[Any] = []
    for run_id in ("r", Text("r")):
        q.open(str(run_id), "h", rows)
    assert q.put(*args) is None
    run_id, key, value, timestamp, step = args
    assert q.put_many(run_id, {key: value}, timestamp, step) is None
    if run_id == "r" and type(run_id) is str:  # the point is at fault: all or none
        assert q.put_many("r", {"acc": 1.0, key: value}, timestamp, step) is None
    assert rows == [] and q.count == 0


def test_the_int64_bounds_are_plain(pointq_impl: ModuleType) -> None:
    q = queue(pointq_impl)
    rows: list[Any] = []
    q.open("r", "h", rows)
    assert q.put("r", "loss", 0.5, 0, INT64_MIN) == "h"
    assert q.put("r", "loss", 0.5, INT64_MAX, INT64_MAX) == "h"
    assert q.put("r", "loss", float("-inf"), T0, 0) == "h"
    assert rows == [("loss", 0.5, 0, INT64_MIN), ("loss", 0.5, INT64_MAX, INT64_MAX),
                    ("loss", float("-inf"), T0, 0)]


def test_none_is_now_and_step_zero(pointq_impl: ModuleType) -> None:
    q = queue(pointq_impl)
    rows: list[Any] = []
    q.open("r", "h", rows)
    before = time.time_ns() // 1_000_000
    assert q.put("r", "loss", 0.5, None, None) == "h"
    assert q.put_many("r", {"loss": 1.5, "acc": 2.5}, None, 7) == "h"
    after = time.time_ns() // 1_000_000
    assert [(k, v, s) for k, v, _, s in rows] == [("loss", 0.5, 0), ("loss", 1.5, 7),
                                                  ("acc", 2.5, 7)]
    assert all(before <= row[2] <= after for row in rows)
    assert rows[1][2] == rows[2][2]  # one timestamp for the whole call
    assert all(type(row[2]) is int for row in rows)


def test_put_many_is_all_or_nothing_and_needs_a_dict(pointq_impl: ModuleType) -> None:
    q = queue(pointq_impl, room=3)
    rows: list[Any] = []
    q.open("r", "h", rows)
    assert q.put_many("r", {}, T0, 0) is None
    assert q.put_many("r", [("loss", 0.5)], T0, 0) is None
    assert q.put_many("r", {"loss": 0.5, "acc": 1.0}, T0, 0) == "h"
    assert q.put_many("r", {"loss": 0.5, "acc": 1.0}, T0, 1) is None  # 4 > room 3
    assert q.put_many("r", {"loss": 0.5}, T0, 1) == "h"
    assert rows == [("loss", 0.5, T0, 0), ("acc", 1.0, T0, 0), ("loss", 0.5, T0, 1)]
    assert q.count == 3


def test_keys_found_valid_later_become_plain(pointq_impl: ModuleType) -> None:
    keys: set[str] = set()
    q = pointq_impl.PointQueue(keys)
    q.reset(10)
    q.open("r", "h", [])
    assert q.put("r", "new", 0.5, T0, 0) is None
    keys.add("new")  # validation.VALID_KEYS grows as keys are validated
    assert q.put("r", "new", 0.5, T0, 0) == "h"


def test_valid_keys_must_be_a_set(pointq_impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        pointq_impl.PointQueue(frozenset({"loss"}))
    with pytest.raises(TypeError):
        pointq_impl.PointQueue(None)


plain_step = st.integers(INT64_MIN, INT64_MAX)
any_step = st.one_of(plain_step, st.integers(), st.none(), st.floats(), st.booleans())
any_value = st.one_of(st.floats(), st.integers(), st.booleans(), st.text(max_size=2))
any_key = st.sampled_from(["loss", "acc", "other", ""])
operation = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(["r1", "r2"]), any_key, any_value,
              st.one_of(st.integers(0, INT64_MAX), st.integers()), any_step),
    st.tuples(st.just("put_many"), st.sampled_from(["r1", "r2"]),
              st.dictionaries(any_key, any_value, max_size=3),
              st.integers(-1, INT64_MAX), any_step),
    st.tuples(st.just("open"), st.sampled_from(["r1", "r2"])),
    st.tuples(st.just("add"), st.sampled_from(["r1", "r2"]), st.integers(0, 3)),
    st.tuples(st.just("close"), st.sampled_from(["r1", "r2"])),
    st.tuples(st.just("reset"), st.integers(0, 8)),
)


def run(impl: ModuleType, operations: list[tuple[Any, ...]]) -> list[Any]:
    """What each operation answered, and the queue's state after each one."""
    q = queue(impl, room=4)
    entries: dict[str, list[Any]] = {}
    seen: list[Any] = []
    for op in operations:
        name, args = op[0], op[1:]
        try:
            if name == "open":
                if args[0] in q:
                    continue
                entries[args[0]] = []
                answer: Any = q.open(args[0], f"handle-{args[0]}", entries[args[0]])
            elif name == "add":
                answer = q.add(args[0], [("loss", 1.0, T0, i) for i in range(args[1])])
            else:
                answer = getattr(q, name)(*args)
        except Exception as exc:
            answer = type(exc).__name__
        seen.append((answer, q.count, q.room, sorted(r for r in ("r1", "r2") if r in q),
                     {run: list(rows) for run, rows in entries.items()}))
    return seen


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, max_size=30))
def test_twins_agree_on_any_operations(pointq_twins: tuple[ModuleType, ModuleType],
                                       operations: list[tuple[Any, ...]]) -> None:
    py, c = pointq_twins
    assert repr(run(c, operations)) == repr(run(py, operations))


def test_every_point_is_queued_exactly_once_while_the_queue_is_taken(
        pointq_impl: ModuleType) -> None:
    # Producer threads put points; a "logging thread" keeps taking the queue as the logger
    # does (reset, then the taken entries are its own: nothing may be appended to them after
    # the reset); every put that answered a handle is in exactly one entry. A short switch
    # interval makes the threads interleave often.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        q = queue(pointq_impl, room=1_000_000)
        lock = threading.Lock()  # the logger's
        taken: list[list[Any]] = []
        current: dict[str, list[Any]] = {}
        accepted = [0] * 4
        stop = threading.Event()

        def reopen() -> None:  # the slow path, with the logger's lock held
            for run_id in ("a", "b"):
                if run_id not in q:
                    rows: list[Any] = []
                    current[run_id] = rows
                    taken.append(rows)
                    q.open(run_id, run_id, rows)

        with lock:
            reopen()

        def producer(n: int) -> None:
            for i in range(20_000):
                run_id = "ab"[i % 2]
                if n % 2:
                    while q.put_many(run_id, {"loss": float(n), "acc": float(n)}, T0, i) is None:
                        with lock:
                            reopen()
                    accepted[n] += 2
                else:
                    while q.put(run_id, "loss", float(n), T0, i) is None:
                        with lock:
                            reopen()
                    accepted[n] += 1

        consumed: list[tuple[list[Any], int]] = []

        def taker() -> None:
            while not stop.is_set():
                with lock:
                    before = list(current.values())
                    q.reset(1_000_000)
                    current.clear()
                    reopen()
                # What the logging thread stores of the entries it took: nothing may be
                # appended to them after the reset.
                consumed.extend((rows, len(rows)) for rows in before)

        threads = [threading.Thread(target=producer, args=(n,)) for n in range(4)]
        logging_thread = threading.Thread(target=taker)
        logging_thread.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        logging_thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert all(len(rows) == length for rows, length in consumed)
    rows = [row for entry in taken for row in entry]
    assert len(rows) == sum(accepted) == 2 * 20_000 + 2 * 40_000
    assert len(set(rows)) == len(rows)  # (key, producer, step) is a point's identity
