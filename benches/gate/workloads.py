"""The compiled kernels' workloads that the regression gate counts instructions of.

Run by ``gate.py`` under ``valgrind --tool=callgrind``::

    python benches/gate/workloads.py [--module-file TOPIC=PATH ...] [--workloads A,B] [--list]

The inputs are frozen here (not shared with ``benches/_data.py``): an instruction count is
only comparable with the baseline's if the work is exactly the same, so changing an input
means recording a new baseline. Each workload calls exactly one entry point of the compiled
module (a ``def`` function or method), so the inclusive cost of that entry point in the
callgrind profile is the workload's cost; the set-up calls other entry points (a queue's
``__init__``, ``reset``, ``open``), whose costs are not read. Everything is built, and every
workload run once, before instrumentation starts (only the second call is measured), and the
garbage collector is off, so a collection triggered by earlier allocations never lands inside
a kernel.

Prints one JSON object: ``{"modules": {topic: file of the measured module}, "workloads":
{name: {"topic": t, "entry": function name, "calls": n, "items": m}}}``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import importlib.util
import json
import math
import os
import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

T0 = 1_700_000_000_000
KEYS = [f"loss/{i}" for i in range(10)]


@dataclass
class Workload:
    entry: str  # the entry point's name: a function, or Class.method
    items: int  # points, lines or documents per call, to report a cost per item
    calls: int
    run: Callable[[], object]  # one call


def _values(count: int, seed: int) -> list[float]:
    # Full-precision doubles (repr needs 16-17 digits: the slow formatting case), with a NaN
    # and infinities in the mix as training loops produce them.
    rng = random.Random(seed)
    out = [rng.random() * 10 ** rng.randint(-3, 3) for _ in range(count)]
    for i in range(97, count, 997):
        out[i] = math.nan
    for i in range(501, count, 4999):
        out[i] = math.inf
    return out


def _metric_file(count: int, dataset: bool = False) -> bytes:
    suffix = " train 3f2a9c" if dataset else ""
    return "".join(f"{T0 + i * 7} {v!r} {i}{suffix}\n"
                   for i, v in enumerate(_values(count, seed=1))).encode()


def _metric_entities(count: int) -> list[Any]:
    from trackstore.entities import Metric

    return [Metric(KEYS[i % len(KEYS)], v, T0 + i, i // len(KEYS))
            for i, v in enumerate(_values(count, seed=2))]


def metrics_workloads(mod: ModuleType) -> dict[str, Workload]:
    plain = _metric_file(20_000)
    with_dataset = _metric_file(5_000, dataset=True)
    entities = _metric_entities(1000)
    ts = [T0 + i for i in range(1000)]
    values = _values(1000, seed=3)
    steps = list(range(1000))
    rows = [(m.key, m.value, m.timestamp, m.step) for m in entities]
    known = set(KEYS)
    json_items = [{"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}
                  for m in entities]
    line_args = [(T0 + i, v, i) for i, v in enumerate(_values(200, seed=4))]

    def format_line_200() -> None:
        for a in line_args:
            mod.format_line(*a)

    return {
        "metrics.parse[20000 lines]": Workload("parse", 20_000, 1, lambda: mod.parse(plain)),
        "metrics.parse[5000 dataset lines]": Workload(
            "parse", 5000, 1, lambda: mod.parse(with_dataset)),
        "metrics.latest[20000 lines]": Workload("latest", 20_000, 1, lambda: mod.latest(plain)),
        "metrics.format_line[200 points]": Workload("format_line", 200, 200, format_line_200),
        "metrics.format_lines[1000 points]": Workload(
            "format_lines", 1000, 1, lambda: mod.format_lines(ts, values, steps)),
        "metrics.format_batch[1000 points]": Workload(
            "format_batch", 1000, 1, lambda: mod.format_batch(entities)),
        "metrics.format_rows[1000 points]": Workload(
            "format_rows", 1000, 1, lambda: mod.format_rows(rows)),
        "metrics.count_plain[1000 points]": Workload(
            "count_plain", 1000, 1, lambda: mod.count_plain(entities, known)),
        "metrics.from_json_plain[1000 points]": Workload(
            "from_json_plain", 1000, 1, lambda: mod.from_json_plain(json_items, 0, [])),
    }


RUN_META = {
    "artifact_uri": "file:///home/user/mlruns/1/0123456789abcdef0123456789abcdef/artifacts",
    "end_time": 1_700_000_123_456,
    "entry_point_name": "",
    "experiment_id": "1",
    "lifecycle_stage": "active",
    "run_id": "0123456789abcdef0123456789abcdef",
    "run_name": "bright-owl-42",
    "run_uuid": "0123456789abcdef0123456789abcdef",
    "source_name": "",
    "source_type": 4,
    "source_version": "",
    "start_time": 1_700_000_000_000,
    "status": 3,
    "tags": [],
    "user_id": "user",
}


def yamlio_workloads(mod: ModuleType) -> dict[str, Workload]:
    # The document MLflow writes for a run, as the store reads it back.
    text = "".join(f"{k}: {json.dumps(v) if isinstance(v, str) and v == '' else v}\n"
                   if not isinstance(v, list) else f"{k}: []\n"
                   for k, v in RUN_META.items()).encode()
    docs = [text] * 200
    metas = [dict(RUN_META, run_name=f"run-{i}") for i in range(200)]

    def load_200() -> None:
        for doc in docs:
            mod.load(doc)

    def dump_200() -> None:
        for meta in metas:
            mod.dump(meta)

    return {
        "yamlio.load[200 run meta.yaml]": Workload("load", 200, 200, load_200),
        "yamlio.dump[200 run meta.yaml]": Workload("dump", 200, 200, dump_200),
    }


def sqlbatch_workloads(mod: ModuleType) -> dict[str, Workload]:
    count = 10_000
    entities = _metric_entities(count)
    key_ids = {k: i + 1 for i, k in enumerate(KEYS)}
    # The rows the store builds (run key 7), made by the pure twin: a set-up call of the
    # measured module's metric_rows would count as that workload's cost.
    from trackstore import _sqlbatch_py

    rows = _sqlbatch_py.metric_rows(7, entities, key_ids, {})
    fetched = [(r[2], r[3], r[4], r[5]) for r in rows]  # (step, timestamp, value, kind)
    fetched_full = [(*r, None, None) for r in fetched]  # with the dataset columns
    timestamps = array("q", (T0 + i for i in range(count)))
    values = array("d", _values(count, seed=5))
    steps = array("q", range(count))
    return {
        "sqlbatch.metric_rows[10000 points]": Workload(
            "metric_rows", count, 1, lambda: mod.metric_rows(7, entities, key_ids, {})),
        "sqlbatch.series_rows[10000 points]": Workload(
            "series_rows", count, 1,
            lambda: mod.series_rows(7, 3, timestamps, values, steps, None)),
        "sqlbatch.latest_rows[10000 points]": Workload(
            "latest_rows", count, 1, lambda: mod.latest_rows(rows)),
        "sqlbatch.copy_text[10000 points]": Workload(
            "copy_text", count, 1, lambda: mod.copy_text(rows)),
        "sqlbatch.copy_binary[10000 points]": Workload(
            "copy_binary", count, 1, lambda: mod.copy_binary(rows)),
        "sqlbatch.values_sql[10000 points]": Workload(
            "values_sql", count, 1, lambda: mod.values_sql(rows)),
        "sqlbatch.bind_params[10000 points]": Workload(
            "bind_params", count, 1, lambda: mod.bind_params(rows)),
        "sqlbatch.history_columns[10000 points]": Workload(
            "history_columns", count, 1, lambda: mod.history_columns(fetched)),
        "sqlbatch.history_metrics[10000 points]": Workload(
            "history_metrics", count, 1, lambda: mod.history_metrics("loss", fetched_full)),
    }


def pointq_workloads(mod: ModuleType) -> dict[str, Workload]:
    count = 10_000
    run_id = "0123456789abcdef0123456789abcdef"
    keys = set(KEYS)
    values = _values(count, seed=6)
    per_call = {k: 0.5 for k in KEYS}
    put_queue = mod.PointQueue(keys)
    many_queue = mod.PointQueue(keys)
    for queue in (put_queue, many_queue):
        queue.reset(10 * count + 1)
        queue.open(run_id, object(), [])

    def put_10000() -> None:
        put = put_queue.put
        for i in range(count):
            put(run_id, KEYS[i % 10], values[i], T0 + i, i)

    def put_many_1000() -> None:
        put_many = many_queue.put_many
        for i in range(count // 10):
            put_many(run_id, per_call, T0 + i, i)

    return {
        "pointq.put[10000 points]": Workload("PointQueue.put", count, count, put_10000),
        "pointq.put_many[1000 x 10 points]": Workload(
            "PointQueue.put_many", count, count // 10, put_many_1000),
    }


TOPICS: dict[str, Callable[[ModuleType], dict[str, Workload]]] = {
    "metrics": metrics_workloads,
    "yamlio": yamlio_workloads,
    "sqlbatch": sqlbatch_workloads,
    "pointq": pointq_workloads,
}


def _topic(workload: str) -> str:
    return workload.split(".", 1)[0]  # workloads are named "<topic>.<entry>[<scale>]"


def load_module(topic: str, module_file: str | None) -> ModuleType:
    """The compiled module of *topic*: the installed one, or the one built at *module_file*."""
    name = f"trackstore._{topic}_c"
    if module_file is None:
        return importlib.import_module(name)
    # The package (and its selector of this topic, which imports the installed build) first:
    # the module imports from it while it initialises, and must not be found half-made.
    importlib.import_module(f"trackstore._{topic}")
    spec = importlib.util.spec_from_file_location(name, module_file)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {name} from {module_file}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module-file", action="append", default=[], metavar="TOPIC=PATH",
                        help="measure this build of a topic's module (repeatable)")
    parser.add_argument("--workloads", help="comma-separated names (default: all)")
    parser.add_argument("--list", action="store_true", help="only print the workloads")
    args = parser.parse_args(argv)
    files = dict(item.split("=", 1) for item in args.module_file)
    modules = {topic: load_module(topic, files.get(topic)) for topic in TOPICS}
    workloads = {name: w for topic, make in TOPICS.items()
                 for name, w in make(modules[topic]).items()}
    chosen = args.workloads.split(",") if args.workloads else list(workloads)
    unknown = set(chosen) - set(workloads)
    if unknown:
        raise SystemExit(f"unknown workloads: {sorted(unknown)}")
    if not args.list:
        entries = [(_topic(name), workloads[name].entry) for name in chosen]
        if len(set(entries)) != len(entries):
            raise SystemExit("two chosen workloads share an entry point: measure them apart")
        # A warm-up call of each first, uninstrumented: the allocator's pools and free lists
        # are then the ones the measured call reuses, whatever the set-up, the interpreter's
        # path or the environment left behind (without it, counts of the object-heavy kernels
        # moved by up to 3 % between a checkout and a clone of it).
        for name in chosen:
            workloads[name].run()
        gc.collect()
        gc.disable()
        # Under callgrind started with --instr-atstart=no, the interpreter's start-up and the
        # set-up above ran uninstrumented (seconds instead of a minute); instrument from here.
        control = os.environ.get("GATE_CALLGRIND_CONTROL")
        instrument = ctypes.CDLL(control) if control else None
        if instrument:
            instrument.gate_start_instrumentation()
        for name in chosen:
            workloads[name].run()
        if instrument:
            instrument.gate_stop_instrumentation()
    print(json.dumps({
        "modules": {topic: mod.__file__ for topic, mod in modules.items()},
        "workloads": {name: {"topic": _topic(name), "entry": workloads[name].entry,
                             "calls": workloads[name].calls, "items": workloads[name].items}
                      for name in chosen},
    }))


if __name__ == "__main__":
    main()
