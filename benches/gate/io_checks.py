"""The regression gate's I/O-bound measures: store writes as ratios to the bare I/O.

An instruction count says little about a call that waits for the disk or the database, and a
wall-clock time on a shared machine moves with the neighbours' load. So each measure times a
store call and the same I/O done with nothing but the OS or the ``sqlite3`` driver (the
*floor*), alternately in one process — a burst of load slows both — and reports the ratio of
the medians. The gate allows these ratios a wide margin (50 %): they catch a store that starts
doing much more per call (an extra fsync, a query per point), not a few percent.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

T0 = 1_700_000_000_000
KEYS = [f"m{i}" for i in range(10)]


def _alternate(store_call: Callable[[int], object], floor_call: Callable[[int], object],
               rounds: int, warmup: int = 5) -> float:
    """Median time of *store_call* ÷ median time of *floor_call*, taken in turns."""
    ours: list[float] = []
    floor: list[float] = []
    clock = time.perf_counter
    for i in range(warmup + rounds):
        t0 = clock()
        store_call(i)
        t1 = clock()
        floor_call(i)
        t2 = clock()
        if i >= warmup:
            ours.append(t1 - t0)
            floor.append(t2 - t1)
    return statistics.median(ours) / statistics.median(floor)


def _batch(i: int) -> list[tuple[str, float, int, int]]:
    """The 1000 points of call *i*: 10 keys, 100 steps each."""
    return [(KEYS[j % 10], 0.5 + (i * 1000 + j) * 1e-7, T0 + i * 1000 + j, i * 100 + j // 10)
            for j in range(1000)]


def file_store_log_batch(tmp: Path, rounds: int) -> float:
    """``FileStore.log_batch`` of 1000 points ÷ appending the same lines to the same files."""
    from trackstore.entities import Metric
    from trackstore.store.file import FileStore

    store = FileStore(str(tmp / "mlruns"))
    run_id = store.create_run("0", "gate", T0, [], "io").info.run_id
    batches = [[Metric(*p) for p in _batch(i)] for i in range(rounds + 5)]
    floor_dir = tmp / "floor"
    floor_dir.mkdir()
    lines = [{key: "".join(f"{ts} {v!r} {step}\n" for k, v, ts, step in _batch(i) if k == key)
              .encode() for key in KEYS} for i in range(rounds + 5)]

    def store_call(i: int) -> None:
        store.log_batch(run_id, batches[i], [], [])

    def floor_call(i: int) -> None:
        for key, data in lines[i].items():
            fd = os.open(floor_dir / key, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    try:
        return _alternate(store_call, floor_call, rounds)
    finally:
        store.close()


def _floor_db(path: Path) -> sqlite3.Connection:
    """A bare SQLite database set up as trackstore sets its own (WAL, synchronous=NORMAL)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE TABLE metrics (run INTEGER, key INTEGER, step INTEGER, ts INTEGER, "
               "value REAL, PRIMARY KEY (run, key, step, ts, value))")
    return db


def sqlite_log_batch(tmp: Path, rounds: int) -> float:
    """``SqlStore.log_batch`` of 1000 points on SQLite ÷ ``executemany`` of the rows."""
    from trackstore.entities import Metric
    from trackstore.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp / 'store.db'}")
    experiment = store.create_experiment("gate")
    run_id = store.create_run(experiment, "gate", T0, [], "io").info.run_id
    batches = [[Metric(*p) for p in _batch(i)] for i in range(rounds + 5)]
    rows = [[(1, KEYS.index(k), step, ts, v) for k, v, ts, step in _batch(i)]
            for i in range(rounds + 5)]
    db = _floor_db(tmp / "floor.db")

    def store_call(i: int) -> None:
        store.log_batch(run_id, batches[i], [], [])

    def floor_call(i: int) -> None:
        db.execute("BEGIN")
        db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows[i])
        db.execute("COMMIT")

    try:
        return _alternate(store_call, floor_call, rounds)
    finally:
        db.close()
        store.close()


def sqlite_log_metric(tmp: Path, rounds: int) -> float:
    """``SqlStore.log_metric`` (one point, committed) ÷ one ``INSERT`` committed."""
    from trackstore.entities import Metric
    from trackstore.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp / 'store.db'}")
    experiment = store.create_experiment("gate")
    run_id = store.create_run(experiment, "gate", T0, [], "io").info.run_id
    db = _floor_db(tmp / "floor.db")

    def store_call(i: int) -> None:
        store.log_metric(run_id, Metric("loss", 0.5 + i * 1e-6, T0 + i, i))

    def floor_call(i: int) -> None:
        db.execute("BEGIN")
        db.execute("INSERT INTO metrics VALUES (1, 0, ?, ?, ?)", (i, T0 + i, 0.5 + i * 1e-6))
        db.execute("COMMIT")

    try:
        return _alternate(store_call, floor_call, rounds * 5)
    finally:
        db.close()
        store.close()


MEASURES: dict[str, Callable[[Path, int], float]] = {
    "io.file_store.log_batch[1000 points] / appends": file_store_log_batch,
    "io.sqlite.log_batch[1000 points] / executemany": sqlite_log_batch,
    "io.sqlite.log_metric[1 point] / insert+commit": sqlite_log_metric,
}


def measure_all(rounds: int) -> dict[str, float]:
    out: dict[str, Any] = {}
    for name, measure in MEASURES.items():
        with tempfile.TemporaryDirectory(prefix="gate-io-") as tmp:
            out[name] = measure(Path(tmp), rounds)
    return out


if __name__ == "__main__":
    for name, ratio in measure_all(200).items():
        print(f"{name}: {ratio:.3f}")
