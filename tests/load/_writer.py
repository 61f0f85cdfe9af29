"""A writer process of the load and restart tests: logs through one store until a deadline.

Run by path, in a process of its own (``tests/load/test_load.py`` and
``tests/load/test_db_restart.py`` start it)::

    python tests/load/_writer.py URI INDEX RUN_ID[,RUN_ID...] --seconds S --out FILE
        [--retry-failed]

*URI* is a tracking server's URL (the REST client, :class:`trackstore.store.rest.RestStore`,
its retries counted) or a database URI (:class:`trackstore.store.sql.SqlStore` directly).
The writer opens the store, writes ``ready`` on stdout, waits for a line on stdin, then logs
for *S* seconds, iteration ``i = 0, 1, ...`` (see :func:`plan`):

* a ``log_batch`` to run ``RUN_IDS[i % len(RUN_IDS)]``: the points of :data:`KEYS` (shared by
  every writer of the run: they contend on the same ``latest_metrics`` rows) at
  :data:`STEPS_PER_BATCH` steps of the writer's own (``step = seq * STEP_STRIDE + INDEX``, so no
  two writers ever log the same (run, key, step)), in a shuffled order, one timestamp, values
  ``step + key_index / 64`` (exact in a double); the tags ``last_writer`` (shared) and
  ``w<INDEX>``; every fifth batch the params ``shared`` (the same value from every writer) and
  ``w<INDEX>.<i>``;
* every third iteration also one ``log_metric`` of the shared key ``single``.

Every call's outcome goes to *FILE* (JSON, written at the end): the calls acknowledged
(returned without error) and the ones that failed, with the error code (``TrackstoreError``)
or the exception's type (anything else: a contract violation the test reports), each with
the ``time.monotonic()`` at which it ended (one clock for every process of the machine). With
``--retry-failed`` a failed call is repeated (the same points, the same timestamp) until it
succeeds, as a careful client would; otherwise the writer moves on and the failed call's
points are *uncertain* (stored or not, but never half).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from trackstore.entities import Metric, Param, RunTag
from trackstore.exceptions import TrackstoreError
from trackstore.store.base import AbstractStore

KEYS = ("loss", "accuracy", "lr", "grad_norm", "m4", "m5", "m6", "m7", "m8", "m9")
SINGLE_KEY = "single"
STEPS_PER_BATCH = 5
#: Steps of different writers interleave: writer w logs w, w + STRIDE, w + 2 * STRIDE, ...
STEP_STRIDE = 64
PARAM_EVERY = 5
SINGLE_EVERY = 3
SHARED_PARAM = ("shared", "same-for-everyone")
#: Seconds between two attempts of a failed call (--retry-failed).
RETRY_PAUSE = 0.05


def value_of(step: int, key: str) -> float:
    """The value every writer logs for *key* at *step* (the test recomputes it)."""
    if key == SINGLE_KEY:
        return step + 0.5
    return step + KEYS.index(key) / 64


@dataclass
class Call:
    """One logging call: what it sends (JSON-able, see :meth:`record`)."""

    kind: str  # "batch" or "metric"
    run: str
    timestamp: int
    steps: list[int]
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)

    def keys(self) -> tuple[str, ...]:
        return KEYS if self.kind == "batch" else (SINGLE_KEY,)

    def send(self, store: AbstractStore, rng: random.Random) -> None:
        if self.kind == "metric":
            step = self.steps[0]
            store.log_metric(self.run, Metric(SINGLE_KEY, value_of(step, SINGLE_KEY),
                                              self.timestamp, step))
            return
        metrics = [Metric(key, value_of(step, key), self.timestamp, step)
                   for step in self.steps for key in KEYS]
        rng.shuffle(metrics)  # the store must order its locks itself
        store.log_batch(self.run, metrics, [Param(k, v) for k, v in self.params],
                        [RunTag(k, v) for k, v in self.tags])

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "run": self.run, "timestamp": self.timestamp,
                "steps": self.steps, "params": self.params, "tags": self.tags}


def plan(index: int, runs: list[str], iteration: int, seq: int) -> list[Call]:
    """The calls of one iteration (*seq*: the writer's first step sequence number unused)."""
    now = int(time.time() * 1000)
    run = runs[iteration % len(runs)]
    steps = [(seq + j) * STEP_STRIDE + index for j in range(STEPS_PER_BATCH)]
    params = ([SHARED_PARAM, (f"w{index}.{iteration}", str(iteration))]
              if iteration % PARAM_EVERY == 0 else [])
    tags = [("last_writer", str(index)), (f"w{index}", str(iteration))]
    calls = [Call("batch", run, now, steps, params, tags)]
    if iteration % SINGLE_EVERY == 0:
        single = (seq + STEPS_PER_BATCH) * STEP_STRIDE + index
        calls.append(Call("metric", run, now, [single]))
    return calls


class CountingSleep:
    """The REST client's pause between retries, counted (each retry is one pause)."""

    def __init__(self) -> None:
        self.retries = 0
        self.seconds = 0.0

    def __call__(self, seconds: float) -> None:
        self.retries += 1
        self.seconds += seconds
        time.sleep(seconds)


def open_store(uri: str, sleep: CountingSleep) -> AbstractStore:
    if uri.startswith(("http://", "https://")):
        from trackstore.store.rest import RestStore

        return RestStore(uri, sleep=sleep)
    from trackstore.store.sql import SqlStore

    return SqlStore(uri)


def describe(exc: BaseException) -> str:
    """The error code of a TrackstoreError, else ``raw:<type>`` (never allowed)."""
    if isinstance(exc, TrackstoreError):
        return exc.error_code
    return f"raw:{type(exc).__module__}.{type(exc).__qualname__}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("uri")
    parser.add_argument("index", type=int)
    parser.add_argument("runs")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--retry-failed", action="store_true")
    args = parser.parse_args(argv)
    runs = args.runs.split(",")
    sleep = CountingSleep()
    store = open_store(args.uri, sleep)
    store.get_run(runs[0])  # connections open before the clock starts
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if not sys.stdin.readline():
        return 1  # the parent went away
    rng = random.Random(args.index)
    acked: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    errors: dict[str, int] = {}
    messages: list[str] = []
    calls = 0
    started = time.monotonic()
    deadline = started + args.seconds
    iteration = seq = 0
    while time.monotonic() < deadline:
        for call in plan(args.index, runs, iteration, seq):
            while True:
                calls += 1
                try:
                    call.send(store, rng)
                except Exception as exc:  # recorded: the test decides what was allowed
                    code = describe(exc)
                    errors[code] = errors.get(code, 0) + 1
                    if len(messages) < 20:
                        messages.append(f"{code}: {exc}"[:500])
                    failed.append({**call.record(), "error": code, "at": time.monotonic()})
                    if args.retry_failed and time.monotonic() < deadline + 60:
                        time.sleep(RETRY_PAUSE)
                        continue
                    break
                acked.append({**call.record(), "at": time.monotonic()})
                break
        iteration += 1
        seq += STEPS_PER_BATCH + 1
    elapsed = time.monotonic() - started
    store.close()
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"index": args.index, "calls": calls, "retries": sleep.retries,
                   "retry_seconds": round(sleep.seconds, 3), "seconds": round(elapsed, 3),
                   "acked": acked, "failed": failed, "errors": errors,
                   "messages": messages}, fh)
    sys.stdout.write("done\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
