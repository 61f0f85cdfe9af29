"""What the load and restart tests share: writer processes, and checking a database's content.

:class:`Writers` starts ``tests/load/_writer.py`` processes, waits until every one has opened
its store, starts them together and collects their reports (a writer that does not finish in
time is killed and fails the test). :func:`expected_points` turns the reports into the points
that must be stored (acknowledged) and those that may be (failed calls); :func:`check_database`
reads the database directly (SQLAlchemy) and checks the contract: every acknowledged point,
param and tag stored exactly once, nothing stored that was never sent, no call stored in part,
``latest_metrics`` agreeing with the history.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests._server_process import clean_env
from tests.load._writer import KEYS, SINGLE_KEY, value_of

WRITER = Path(__file__).with_name("_writer.py")
#: Seconds for every writer to import, open its store and say ``ready`` (32 processes on a
#: loaded 2-core machine).
READY_TIMEOUT = 120.0

Point = tuple[str, str, int]  # (run id, metric key, step)


class Writers:
    """Writer processes (see ``_writer.py``), one per entry of *runs_per_writer*, numbered
    from *first_index* (writers of different groups logging together need different numbers:
    a writer's number makes its steps its own)."""

    def __init__(self, uri: str, runs_per_writer: Sequence[Sequence[str]], seconds: float,
                 out_dir: Path, *, first_index: int = 0, retry_failed: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.seconds = seconds
        self.out_dir = out_dir
        self.reports: list[dict[str, Any]] = []
        self.procs: list[subprocess.Popen[str]] = []
        out_dir.mkdir(parents=True, exist_ok=True)
        for index, runs in enumerate(runs_per_writer):
            command = [sys.executable, str(WRITER), uri, str(first_index + index),
                       ",".join(runs),
                       "--seconds", str(seconds), "--out", str(self._out(index))]
            if retry_failed:
                command.append("--retry-failed")
            with open(self._err(index), "w") as err:
                self.procs.append(subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                    text=True, env=clean_env(env), start_new_session=True))
        self.started_at = 0.0

    def _out(self, index: int) -> Path:
        return self.out_dir / f"writer-{index}.json"

    def _err(self, index: int) -> Path:
        return self.out_dir / f"writer-{index}.stderr"

    def describe(self, index: int) -> str:
        return f"writer {index} stderr:\n{self._err(index).read_text(errors='replace')[-3000:]}"

    def _line(self, index: int, deadline: float) -> str:
        proc = self.procs[index]
        assert proc.stdout is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
            return ""
        return proc.stdout.readline().strip()

    def start(self) -> None:
        """Wait until every writer is ready, then let them all log."""
        deadline = time.monotonic() + READY_TIMEOUT
        for index in range(len(self.procs)):
            line = self._line(index, deadline)
            if line != "ready":
                self.kill()
                raise AssertionError(f"writer {index} not ready ({line!r}): "
                                     f"{self.describe(index)}")
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        self.started_at = time.monotonic()

    def finish(self, grace: float) -> float:
        """Wait for every writer (until *seconds* + *grace* after the start; a writer still
        running then is hung: all are killed, AssertionError); read their reports. Returns
        the seconds from the start until the last writer finished."""
        deadline = self.started_at + self.seconds + grace
        last = self.started_at
        for index, proc in enumerate(self.procs):
            try:
                code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"writer {index} still running {self.seconds + grace:.0f} s after the "
                    f"start (hung, killed): {self.describe(index)}") from None
            last = max(last, time.monotonic())
            assert code == 0, f"writer {index} exited with {code}: {self.describe(index)}"
            self.reports.append(json.loads(self._out(index).read_text()))
        return last - self.started_at

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
            proc.wait()


@dataclass
class Expected:
    """What the writers' reports say must (acked) or may (failed calls) be stored."""

    points: dict[Point, int] = field(default_factory=dict)  # -> timestamp
    uncertain: dict[Point, int] = field(default_factory=dict)
    uncertain_calls: list[dict[str, Any]] = field(default_factory=list)
    params: dict[tuple[str, str], str] = field(default_factory=dict)
    uncertain_params: set[tuple[str, str]] = field(default_factory=set)
    last_tags: dict[tuple[str, str], str] = field(default_factory=dict)  # (run, key) -> value
    shared_tag_values: dict[str, set[str]] = field(default_factory=dict)  # run -> values


def _call_points(call: dict[str, Any]) -> Iterable[Point]:
    keys = KEYS if call["kind"] == "batch" else (SINGLE_KEY,)
    for step in call["steps"]:
        for key in keys:
            yield call["run"], key, step


def expected_points(reports: Iterable[dict[str, Any]]) -> Expected:
    expected = Expected()
    for report in reports:
        for call in report["acked"]:
            for point in _call_points(call):
                assert point not in expected.points, f"{point} sent twice by the writers"
                expected.points[point] = call["timestamp"]
            for key, value in call["params"]:
                expected.params[(call["run"], key)] = value
            for key, value in call["tags"]:
                expected.last_tags[(call["run"], key)] = value  # calls are in order
                if key == "last_writer":
                    expected.shared_tag_values.setdefault(call["run"], set()).add(value)
        for call in report["failed"]:
            expected.uncertain_calls.append(call)
            for point in _call_points(call):
                expected.uncertain[point] = call["timestamp"]
            for key, _ in call["params"]:
                expected.uncertain_params.add((call["run"], key))
            for key, value in call["tags"]:
                if key == "last_writer":
                    expected.shared_tag_values.setdefault(call["run"], set()).add(value)
    return expected


@dataclass
class Stored:
    """What the database holds, read directly."""

    counts: Counter[Point]
    rows: dict[Point, tuple[int, float]]  # -> (timestamp, value) of one stored copy
    latest: dict[tuple[str, str], tuple[int, int, float]]  # (run, key) -> (step, ts, value)
    params: dict[tuple[str, str], str]
    tags: dict[tuple[str, str], str]


def read_database(uri: str, run_ids: Sequence[str]) -> Stored:
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    runs = ",".join(f"'{r}'" for r in run_ids)  # uuid hex strings made by the store
    try:
        with engine.connect() as conn:
            counts: Counter[Point] = Counter()
            rows: dict[Point, tuple[int, float]] = {}
            result = conn.execute(sa.text(
                "SELECT r.run_uuid, k.key, m.step, m.timestamp, m.value FROM metrics m "
                "JOIN runs r ON r.run_key = m.run_key JOIN metric_keys k ON k.key_id = m.key_id "
                f"WHERE r.run_uuid IN ({runs})"))
            for run, key, step, timestamp, value in result:
                point = (run, key, int(step))
                counts[point] += 1
                rows[point] = (int(timestamp), float(value))
            latest = {(run, key): (int(step), int(ts), float(value))
                      for run, key, step, ts, value in conn.execute(sa.text(
                          "SELECT r.run_uuid, k.key, l.step, l.timestamp, l.value "
                          "FROM latest_metrics l JOIN runs r ON r.run_key = l.run_key "
                          "JOIN metric_keys k ON k.key_id = l.key_id "
                          f"WHERE r.run_uuid IN ({runs})"))}
            params, tags = ({(run, key): value for run, key, value in conn.execute(sa.text(
                f"SELECT r.run_uuid, t.{conn.dialect.identifier_preparer.quote('key')}, t.value "
                f"FROM {table} t JOIN runs r ON r.run_key = t.run_key "
                f"WHERE r.run_uuid IN ({runs})"))} for table in ("run_params", "run_tags"))
    finally:
        engine.dispose()
    return Stored(counts, rows, latest, params, tags)


@dataclass
class Verdict:
    """What :func:`check_database` counted (its assertions passed)."""

    stored_points: int
    uncertain_calls_stored: int  # failed calls, never repeated, found stored


def check_database(uri: str, run_ids: Sequence[str], expected: Expected,
                   writer_prefixes: Iterable[str]) -> Verdict:
    """Assert the contract on the database's content (see the module doc)."""
    stored = read_database(uri, run_ids)
    twice = {p: n for p, n in stored.counts.items() if n != 1}
    assert not twice, f"{len(twice)} points stored more than once, e.g. {list(twice.items())[:5]}"
    missing = [p for p in expected.points if p not in stored.counts]
    assert not missing, (f"{len(missing)} of {len(expected.points)} acknowledged points lost, "
                         f"e.g. {missing[:5]}")
    unsent = [p for p in stored.counts if p not in expected.points
              and p not in expected.uncertain]
    assert not unsent, f"{len(unsent)} points stored that were never sent, e.g. {unsent[:5]}"
    wrong = [(p, stored.rows[p]) for p in stored.counts
             if stored.rows[p] != (expected.points.get(p, expected.uncertain.get(p)),
                                   value_of(p[2], p[1]))]
    assert not wrong, f"{len(wrong)} points stored with another timestamp or value: {wrong[:5]}"
    # A call is one transaction: all its points stored, or none.
    partial, uncertain_stored = [], 0
    for call in expected.uncertain_calls:
        points = list(_call_points(call))
        found = sum(1 for p in points if p in stored.counts)
        if found and found != len(points):
            partial.append((call, found, len(points)))
        elif found and not all(p in expected.points for p in points):
            uncertain_stored += 1
            for key, _ in call["params"]:
                assert (call["run"], key) in stored.params, f"{call}: points without params"
    assert not partial, f"{len(partial)} failed calls stored in part: {partial[:3]}"
    # latest_metrics: the greatest (step, timestamp, value) of each stored history.
    best: dict[tuple[str, str], tuple[int, int, float]] = {}
    for (run, key, step), (ts, value) in stored.rows.items():
        candidate = (step, ts, value)
        if best.get((run, key), (-1, 0, 0.0)) < candidate:
            best[(run, key)] = candidate
    assert stored.latest == best, (
        "latest_metrics disagrees with the history: "
        f"{[(k, stored.latest.get(k), best.get(k)) for k in set(best) | set(stored.latest) if stored.latest.get(k) != best.get(k)][:5]}")  # noqa: E501
    lost_params = {k: v for k, v in expected.params.items() if stored.params.get(k) != v}
    assert not lost_params, f"acknowledged params lost or changed: {list(lost_params)[:5]}"
    prefixes = tuple(writer_prefixes)
    unsent_params = [k for k in stored.params if k[1].startswith(prefixes)
                     and k not in expected.params and k not in expected.uncertain_params]
    assert not unsent_params, f"params stored that were never sent: {unsent_params[:5]}"
    for (run, key), value in expected.last_tags.items():
        if key == "last_writer":
            assert stored.tags.get((run, key)) in expected.shared_tag_values[run], (run, key)
        else:  # one writer's own tag: its last call's value (or a later failed call's)
            assert stored.tags.get((run, key)) is not None, f"tag {key} of {run} lost"
            if not expected.uncertain_calls:
                assert stored.tags[(run, key)] == value, (run, key, stored.tags[(run, key)])
    return Verdict(len(stored.counts), uncertain_stored)
