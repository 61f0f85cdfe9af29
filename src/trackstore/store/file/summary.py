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
VERSION = 1
_META = os.sep + "meta.yaml"
_STATUSES = frozenset(RunStatus.to_string(s) for s in RunStatus.all_status())
_STAGES = frozenset({LifecycleStage.ACTIVE, LifecycleStage.DELETED})
_INFO_FIELDS = ("run_id", "experiment_id", "user_id", "status", "start_time", "end_time",
                "lifecycle_stage", "artifact_uri", "run_name")


def _run_info(fields: list[Any]) -> RunInfo:
    run_id, experiment_id, user_id, status, start, end, stage, artifact_uri, name = fields
    if (type(run_id) is not str or type(experiment_id) is not str or type(user_id) is not str
            or status not in _STATUSES or stage not in _STAGES
            or (start is not None and type(start) is not int)
            or (end is not None and type(end) is not int)
            or (artifact_uri is not None and type(artifact_uri) is not str)
            or (name is not None and type(name) is not str)):
        raise TypeError("not a run info")
    return RunInfo(run_id, experiment_id, user_id, status, start, end, stage, artifact_uri,
                   name)


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
            if doc.get("v") != VERSION:
                return
            prefix = experiment_dir + os.sep
            infos, latest = self._reader.infos, self._reader.latest_points
            for run, (ino, size, mtime, *fields) in doc["meta"].items():
                infos.seed(prefix + run + _META, (ino, size, mtime), _run_info(fields))
            for rel, (ino, size, mtime, *point) in doc["latest"].items():
                latest.seed(prefix + rel, (ino, size, mtime),
                            LatestPoint(*point) if point else None)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return  # no summary, or one we cannot use: the tree answers, as always

    def save(self, experiment_id: str, experiment_dir: str) -> None:
        """Write what the caches hold for the experiment (atomically; best effort)."""
        prefix = experiment_dir + os.sep
        meta: dict[str, list[Any]] = {}
        for path, sig, info in self._reader.infos.under(prefix):
            if path.endswith(_META):
                run = path[len(prefix):-len(_META)]
                meta[run] = [*sig, *(getattr(info, f) for f in _INFO_FIELDS)]
        latest: dict[str, list[Any]] = {}
        for path, sig, point in self._reader.latest_points.under(prefix):
            latest[path[len(prefix):]] = [*sig, *(point or ())]
        doc = {"v": VERSION, "meta": meta, "latest": latest}
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
