"""Summary side files: what a search parsed, kept for the next process.

A search reads every run's ``meta.yaml`` and the metric files it orders or filters by; the
store keeps what it parsed while ``stat`` shows the files unchanged (:mod:`.cache`). A new
process would start from nothing and read everything again. So after a search that parsed a
lot, the store writes what it knows of that experiment to ``.trackstore-summary-<id>`` at the
tree's root (MLflow lists directories only, so it never sees the file), and a new process
seeds its caches from it. Every entry still carries the file's signature (inode, size,
modification time) and is checked with a ``stat`` before use: the summary can be stale,
deleted, copied to another machine or corrupt, and answers stay those of the tree.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..._metrics_py import LatestPoint
from ...entities import LifecycleStage, RunInfo, RunStatus
from .layout import read_bytes, write_atomic
from .reading import RunReader

PREFIX = ".trackstore-summary-"
VERSION = 2
_META = os.sep + "meta.yaml"
_METRICS = os.sep + "metrics" + os.sep
_STATUSES = frozenset(RunStatus.to_string(s) for s in RunStatus.all_status())
_STAGES = frozenset({LifecycleStage.ACTIVE, LifecycleStage.DELETED})

# The file, JSON, per experiment:
#   {"v": 2, "experiment_id": "<id>", "artifacts": "<artifact location>",
#    "runs": {"<run_id>": [<meta.yaml> | null, {"<metric key>": <metric file>, ...}]}}
#   <meta.yaml>   = [inode, size, mtime_ns, user_id, status, start_time, end_time,
#                    lifecycle_stage, artifact_uri | null, run_name]
#                   (artifact_uri null: "<artifacts>/<run_id>/artifacts", MLflow's default)
#   <metric file> = [inode, size, mtime_ns] (no point) | [..., timestamp, value, step]
#                   | [..., timestamp, value, step, dataset_name, dataset_digest]


def _run_info(run_id: str, experiment_id: str, artifacts: str, fields: list[Any]) -> RunInfo:
    user_id, status, start, end, stage, artifact_uri, name = fields
    if artifact_uri is None:
        artifact_uri = f"{artifacts}/{run_id}/artifacts"
    if (type(user_id) is not str or status not in _STATUSES or stage not in _STAGES
            or (start is not None and type(start) is not int)
            or (end is not None and type(end) is not int)
            or type(artifact_uri) is not str or (name is not None and type(name) is not str)):
        raise TypeError("not a run info")
    return RunInfo(run_id, experiment_id, user_id, status, start, end, stage, artifact_uri,
                   name)


def _point(fields: list[Any]) -> LatestPoint | None:
    if not fields:
        return None
    if len(fields) == 3:
        return LatestPoint(fields[0], float(fields[1]), fields[2], None, None)
    return LatestPoint(fields[0], float(fields[1]), fields[2], fields[3], fields[4])


class Summaries:
    """Loads and saves the summary side files of one tree for a :class:`RunReader`."""

    def __init__(self, root: str, reader: RunReader) -> None:
        self._root = root
        self._reader = reader
        self._loaded: set[str] = set()

    def path(self, experiment_id: str) -> str:
        return os.path.join(self._root, PREFIX + experiment_id)

    def load(self, experiment_id: str, experiment_dir: str) -> None:
        """Seed the reader's caches from the experiment's summary (once per store)."""
        if experiment_id in self._loaded:
            return
        self._loaded.add(experiment_id)
        try:
            doc = json.loads(read_bytes(self.path(experiment_id)))
            if doc["v"] != VERSION or doc["experiment_id"] != experiment_id:
                return
            artifacts = doc["artifacts"]
            prefix = experiment_dir + os.sep
            infos, latest = self._reader.infos, self._reader.latest_points
            for run_id, (meta, metrics) in doc["runs"].items():
                if meta is not None:
                    infos.seed(prefix + run_id + _META, (meta[0], meta[1], meta[2]),
                               _run_info(run_id, experiment_id, artifacts, meta[3:]))
                metrics_dir = prefix + run_id + _METRICS
                for key, (ino, size, mtime, *point) in metrics.items():
                    latest.seed(metrics_dir + key, (ino, size, mtime), _point(point))
        except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
            return  # no summary, or one we cannot use: the tree answers, as always

    def save(self, experiment_id: str, experiment_dir: str) -> None:
        """Write what the caches hold for the experiment (atomically; best effort)."""
        prefix = experiment_dir + os.sep
        runs: dict[str, list[Any]] = {}
        artifacts = None
        for path, sig, info in self._reader.infos.under(prefix):
            if not path.endswith(_META):
                continue
            run_id = path[len(prefix):-len(_META)]
            uri = info.artifact_uri
            if artifacts is None and uri and uri.endswith(f"/{run_id}/artifacts"):
                artifacts = uri[: -len(f"/{run_id}/artifacts")]
            if uri == f"{artifacts}/{run_id}/artifacts":
                uri = None
            runs[run_id] = [[*sig, info.user_id, info.status, info.start_time, info.end_time,
                             info.lifecycle_stage, uri, info.run_name], {}]
        for path, sig, point in self._reader.latest_points.under(prefix):
            run_id, sep, key = path[len(prefix):].partition(_METRICS)
            if not sep:
                continue
            fields: list[Any] = [*sig]
            if point is not None:
                fields += [point.timestamp, point.value, point.step]
                if point.dataset_name is not None:
                    fields += [point.dataset_name, point.dataset_digest]
            runs.setdefault(run_id, [None, {}])[1][key] = fields
        doc = {"v": VERSION, "experiment_id": experiment_id, "artifacts": artifacts or "",
               "runs": runs}
        try:
            write_atomic(self.path(experiment_id),
                         json.dumps(doc, separators=(",", ":")).encode(), fsync=False)
        except OSError:
            pass  # a read-only tree: searches still work, only slower in a new process

    def remove(self, experiment_id: str) -> None:
        try:
            os.unlink(self.path(experiment_id))
        except OSError:
            pass
