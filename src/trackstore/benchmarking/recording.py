"""One run from a session's pytest-benchmark results.

The run holds, at step 0, one metric per statistic of each benchmark and per numeric
``extra_info`` value (keys: :mod:`.keys`); params describing the machine and the measurement;
tags for the commit, branch and CI job (:mod:`.ci`), the names behind hashed keys and
:data:`~.keys.FORMAT_TAG`; and the artifact ``benchmarks.json``, every benchmark as recorded
(names, group, parameters, statistics, all of ``extra_info``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from ..client import TrackingClient
from ..entities import LifecycleStage, Metric, Param, RunTag
from ..exceptions import INVALID_STATE, RESOURCE_ALREADY_EXISTS, TrackstoreError
from . import keys

ARTIFACT_NAME = "benchmarks.json"


@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark's outcome, as pytest-benchmark measured it."""

    fullname: str
    name: str
    group: str | None = None
    param: str | None = None
    params: Mapping[str, Any] | None = None
    stats: Mapping[str, float] = field(default_factory=dict)
    extra_info: Mapping[str, Any] = field(default_factory=dict)


def results_from_pytest_benchmark(benchmarks: Iterable[Any]) -> list[BenchmarkResult]:
    """The results in pytest-benchmark's session (``config._benchmarksession.benchmarks``,
    ``Metadata`` objects): those that measured something without failing. A name measured
    twice (a rerun of a flaky test) keeps its last measurement."""
    found: dict[str, BenchmarkResult] = {}
    for bench in benchmarks:
        # A Metadata is false until it holds a timing; has_error: the benchmarked code raised.
        if not bench or bench.has_error or getattr(bench.fixture, "skipped", False):
            continue
        stats = {stat: float(getattr(bench.stats, stat)) for stat in keys.STATS
                 if stat != "iterations"}
        stats["iterations"] = float(bench.iterations)
        found.pop(bench.fullname, None)
        found[bench.fullname] = BenchmarkResult(
            fullname=bench.fullname, name=bench.name, group=bench.group, param=bench.param,
            params=bench.params, stats=stats, extra_info=dict(bench.extra_info or {}))
    return list(found.values())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_metrics(results: Sequence[BenchmarkResult], timestamp: int) -> list[Metric]:
    """One metric per statistic and numeric ``extra_info`` value, at step 0.

    Raises if two of them would share a key (only a 40-bit hash collision can do that).
    """
    metrics: list[Metric] = []
    owners: dict[str, tuple[str, str]] = {}
    for result in results:
        entries = [(keys.metric_key(result.fullname, stat), stat, result.stats[stat])
                   for stat in keys.STATS if stat in result.stats]
        entries += [(keys.extra_metric_key(result.fullname, name), f"extra_info[{name!r}]",
                     value) for name, value in result.extra_info.items() if _is_number(value)]
        for key, what, value in entries:
            previous = owners.setdefault(key, (result.fullname, what))
            if previous != (result.fullname, what):
                raise TrackstoreError(
                    f"The benchmark statistics {previous[0]} {previous[1]} and "
                    f"{result.fullname} {what} map to the same metric key {key!r}")
            metrics.append(Metric(key, float(value), timestamp, 0))
    return metrics


def _json_value(value: Any) -> Any:
    """*value* as JSON holds it: non-finite floats as MLflow spells them, objects as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return repr(value)


def run_document(results: Sequence[BenchmarkResult], params: Mapping[str, str]) -> dict[str, Any]:
    """The content of ``benchmarks.json``."""
    return {
        "format": keys.FORMAT_VERSION,
        "machine": dict(params),
        "benchmarks": [{
            "fullname": r.fullname, "name": r.name, "group": r.group, "param": r.param,
            "params": _json_value(r.params), "stats": _json_value(dict(r.stats)),
            "extra_info": _json_value(dict(r.extra_info)),
            "metric_prefix": keys.benchmark_segment(r.fullname),
        } for r in results],
    }


def cpu_model() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                name, colon, value = line.partition(":")
                if colon and name.strip() in ("model name", "Model", "Hardware"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_params() -> dict[str, str]:
    """Where the benchmarks ran: Python, the platform, the processor."""
    return {
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": str(os.cpu_count() or "unknown"),
        "host": platform.node(),
        "trackstore_version": __version__,
    }


@dataclass(frozen=True)
class RecordedRun:
    """Where a session's benchmarks went."""

    run_id: str
    experiment_id: str
    experiment_name: str
    tracking_uri: str
    benchmarks: int
    metrics: int


class BenchmarkRecorder:
    """Writes a session's benchmarks to one experiment of one store.

    Made at the start of the session: the store and the experiment (created if missing) are
    opened then, so a bad URI or an unreachable store fails before the benchmarks run.
    """

    def __init__(self, tracking_uri: str | None, experiment_name: str) -> None:
        self.client = TrackingClient(tracking_uri)
        self.experiment_name = experiment_name
        self.experiment_id = self._experiment_id(experiment_name)

    def _experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is None:
            try:
                return self.client.create_experiment(name)
            except TrackstoreError as exc:
                # Another job created it meanwhile.
                if exc.error_code != RESOURCE_ALREADY_EXISTS:
                    raise
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage == LifecycleStage.DELETED:
            raise TrackstoreError(
                f"The experiment {name!r} (id {found.experiment_id}) is deleted: restore it, "
                "or record into another experiment", INVALID_STATE)
        return found.experiment_id

    def record(self, results: Sequence[BenchmarkResult], *, params: Mapping[str, str],
               tags: Mapping[str, str], run_name: str | None, start_ms: int, end_ms: int,
               status: str = "FINISHED") -> RecordedRun:
        """Write *results* as one run ended with *status*; a run that could not be written
        whole is ended FAILED (so no comparison takes it as a baseline) and the error raised."""
        if not results:
            raise ValueError("no benchmark results to record")
        metrics = run_metrics(results, end_ms)
        extras = {name for r in results for name, value in r.extra_info.items()
                  if _is_number(value)}
        name_tags = keys.name_tags((r.fullname for r in results), sorted(extras))
        run = self.client.create_run(self.experiment_id, start_time=start_ms, tags=dict(tags),
                                     run_name=run_name)
        run_id = run.info.run_id
        try:
            # The client cuts this into batches of MLflow's limits (1000 metrics, 100 params,
            # 100 tags per call).
            self.client.log_batch(
                run_id, metrics=metrics,
                params=[Param(key, value) for key, value in params.items()],
                tags=[RunTag(key, value) for key, value in name_tags.items()],
                synchronous=True)
            with tempfile.TemporaryDirectory(prefix="trackstore-benchmarks-") as directory:
                path = os.path.join(directory, ARTIFACT_NAME)
                with open(path, "w", encoding="utf-8") as out:
                    json.dump(run_document(results, params), out, indent=2, allow_nan=False)
                self.client.log_artifact(run_id, path)
        except BaseException:
            try:
                self.client.set_terminated(run_id, "FAILED", end_ms)
            except Exception:  # the first error is the one to report
                pass
            raise
        self.client.set_terminated(run_id, status, end_ms)
        return RecordedRun(run_id, self.experiment_id, self.experiment_name,
                           self.client.tracking_uri, len(results), len(metrics))
