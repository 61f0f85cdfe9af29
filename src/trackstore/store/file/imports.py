"""``trackstore import`` / ``export`` into an ``mlruns`` tree, in the layout MLflow reads.

A run is written as MLflow would have left it: params, tags and inputs first, each metric
file streamed into a temporary file in the run's ``.trackstore-import/`` folder and renamed
over its place when complete, and
``meta.yaml`` last, so a crash leaves either the run as it was or the run as imported, never a
torn metric file. A metric file that was already there keeps its points: those the source does
not have are appended to the new file before the rename.

The import state is a log at the tree's root, ``.trackstore-import-<digest>`` (MLflow lists
directories only, so it never sees it): one JSON line per experiment mapped and per run
imported, written after the run is complete. An import killed half-way writes the runs it had
not logged again, whole; nothing is duplicated.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ... import _metrics
from ...entities import Experiment, ExperimentTag, LifecycleStage, LoggedModelInput
from ...transfer.records import ExperimentRecord, PointChunk, Problem, RunRecord
from ..base import RUN_NAME_TAG
from .layout import (
    ARTIFACTS,
    META,
    METRICS,
    PARAMS,
    RESERVED_EXPERIMENT_FOLDERS,
    TAGS,
    key_path,
    list_dirs,
    new_experiment_id,
    read_bytes,
    write_atomic,
)
from .meta import BadMeta, append_to_uri, dump_meta, load_meta, run_meta
from .reading import read_one
from .store import write_inputs

if TYPE_CHECKING:
    from .store import FileStore

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: Where a run's metric files are written before they are renamed into ``metrics/`` (inside
#: the run's folder, so on its file system; MLflow reads only the folders it knows).
_TMP_DIR = ".trackstore-import"


@dataclass(slots=True)
class FileRunTarget:
    run_id: str
    run_dir: str
    #: key -> (temporary file descriptor, temporary path, final path)
    open_files: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)


class FileImportWriter:
    """Writes what an import reads into the tree of *store* (see the module doc)."""

    def __init__(self, store: FileStore, identity: str, description: str, report: Problem,
                 batch_points: int = 0) -> None:
        self.store = store
        self.report = report
        self.root = store.root_directory
        digest = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"),
                                 digest_size=8).hexdigest()
        self.log_path = os.path.join(self.root, f".trackstore-import-{digest}")
        self.fingerprints: dict[str, str] = {}
        self._mapped: dict[str, tuple[str, bool]] = {}
        self._load_log()
        self._log = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_CLOEXEC,
                            0o644)
        if os.fstat(self._log).st_size == 0:
            self._append({"source": description})

    def _load_log(self) -> None:
        try:
            data = read_bytes(self.log_path)
        except FileNotFoundError:
            return
        for line in data.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line: its run is written again
            if "run" in entry:
                self.fingerprints[entry["run"]] = entry["fingerprint"]
            elif "experiment" in entry:
                self._mapped[entry["experiment"]] = (entry["to"], bool(entry["created"]))

    def _append(self, entry: dict[str, Any]) -> None:
        os.write(self._log, json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")

    # -- experiments ----------------------------------------------------------------------------

    def _experiment_path(self, experiment_id: str) -> str | None:
        return self.store._experiment_dir(experiment_id)

    def experiment(self, rec: ExperimentRecord) -> str:
        """The destination experiment of *rec*, by the rule of
        :meth:`trackstore.store.sql.imports.SqlImportWriter.experiment`."""
        mapped = self._mapped.get(rec.experiment_id)
        target: str | None = None
        created = False
        if mapped is not None and self._experiment_path(mapped[0]) is not None:
            target, created = mapped
        if target is None:
            existing = self.store.get_experiment_by_name(rec.name)
            if existing is not None:
                target = existing.experiment_id
                path = self._experiment_path(target)
                created = path is not None and not any(  # empty: adopted
                    name not in RESERVED_EXPERIMENT_FOLDERS for name in list_dirs(path))
            else:
                created = True
                wanted = rec.experiment_id
                if not (wanted.isdigit() and self._experiment_path(wanted) is None):
                    wanted = new_experiment_id()
                    while self._experiment_path(wanted) is not None:
                        wanted = new_experiment_id()
                target = wanted
        if created:
            self._write_experiment(target, rec)
        else:
            path = self._experiment_path(target)
            assert path is not None
            for k, v in rec.tags.items():
                self.store._write_experiment_tag(path, ExperimentTag(k, v))
        if mapped != (target, created):
            self._append({"experiment": rec.experiment_id, "to": target, "created": created})
            self._mapped[rec.experiment_id] = (target, created)
        return target

    def _write_experiment(self, experiment_id: str, rec: ExperimentRecord) -> None:
        store = self.store
        name = rec.name
        holder = store.get_experiment_by_name(name)
        if holder is not None and holder.experiment_id != experiment_id:
            self.report(rec.where, f"experiment {name!r} keeps its earlier name in the "
                                   "destination: another experiment has that name there")
            name = store.get_experiment(experiment_id).name
        deleted = rec.lifecycle_stage == LifecycleStage.DELETED
        path = os.path.join(store.trash_folder if deleted else self.root, experiment_id)
        other = os.path.join(self.root if deleted else store.trash_folder, experiment_id)
        if os.path.isdir(other):  # its lifecycle changed in the source since the last import
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.rename(other, path)
        os.makedirs(path, exist_ok=True)
        for k, v in rec.tags.items():
            store._write_experiment_tag(path, ExperimentTag(k, v))
        location = rec.artifact_location or append_to_uri(store.artifact_root_uri, experiment_id)
        experiment = Experiment(experiment_id, name, location, rec.lifecycle_stage,
                                creation_time=rec.creation_time,
                                last_update_time=rec.last_update_time)
        store._rewrite_experiment_meta(path, experiment)
        store._forget_dir(path)

    # -- runs -----------------------------------------------------------------------------------

    def begin_run(self, rec: RunRecord, experiment_id: str) -> FileRunTarget:
        path = self._experiment_path(experiment_id)
        assert path is not None
        info = rec.info
        run_dir = os.path.join(path, info.run_id)
        # What an interrupted import left: its metric files were never renamed into place.
        shutil.rmtree(os.path.join(run_dir, _TMP_DIR), ignore_errors=True)
        # MLflow (>= 3.x) only finds a run whose folder has metrics/, params/ and artifacts/.
        for sub in (METRICS, PARAMS, TAGS, ARTIFACTS):
            os.makedirs(os.path.join(run_dir, sub), exist_ok=True)
        params_dir = os.path.join(run_dir, PARAMS)
        for k, v in sorted(rec.params.items()):
            old = read_one(params_dir, k)
            if old is None:
                self.store._write_key(run_dir, PARAMS, k, v)
            elif old != v:
                self.report(rec.where, f"param '{k}' keeps the destination's value {old!r}, "
                                       f"not the source's {v!r}")
        tags = dict(rec.tags)
        if info.run_name and RUN_NAME_TAG not in tags:
            tags[RUN_NAME_TAG] = info.run_name
        for k, v in tags.items():
            self.store._write_key(run_dir, TAGS, k, v)
        write_inputs(run_dir, path, info.run_id, rec.datasets,
                     [LoggedModelInput(m) for m in rec.model_inputs])
        return FileRunTarget(info.run_id, run_dir)

    def write_points(self, target: FileRunTarget, chunk: PointChunk, resumable: bool) -> int:
        opened = target.open_files.get(chunk.key)
        if opened is None:
            final = key_path(os.path.join(target.run_dir, METRICS), chunk.key)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            tmp_dir = os.path.join(target.run_dir, _TMP_DIR)
            os.makedirs(tmp_dir, exist_ok=True)
            tmp = os.path.join(tmp_dir, f"{len(target.open_files)}-{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_CLOEXEC, 0o644)
            opened = target.open_files[chunk.key] = (fd, tmp, final)
        fd = opened[0]
        _write_all(fd, _lines(chunk))
        if chunk.final:
            self._complete(target, chunk.key)
        return 0

    def _complete(self, target: FileRunTarget, key: str) -> None:
        fd, tmp, final = target.open_files.pop(key)
        try:
            try:
                existing = read_bytes(final)
            except FileNotFoundError:
                existing = b""
            if existing:
                _write_all(fd, _missing_lines(existing, tmp))
        finally:
            os.close(fd)
        os.replace(tmp, final)

    def end_run(self, target: FileRunTarget, rec: RunRecord) -> None:
        for key in list(target.open_files):
            self._complete(target, key)
        shutil.rmtree(os.path.join(target.run_dir, _TMP_DIR), ignore_errors=True)
        meta_path = os.path.join(target.run_dir, META)
        try:
            previous = load_meta(meta_path)
        except BadMeta:
            previous = None
        deleted_time = (rec.deleted_time if rec.info.lifecycle_stage == LifecycleStage.DELETED
                        else None)
        write_atomic(meta_path, dump_meta(run_meta(rec.info, previous, deleted_time)))
        self.store._forget_dir(target.run_dir)
        self.store._runs.pop(rec.info.run_id, None)
        self.store._index.remember(rec.info.run_id, os.path.basename(os.path.dirname(
            target.run_dir)))
        self._append({"run": rec.info.run_id, "fingerprint": rec.fingerprint})
        self.fingerprints[rec.info.run_id] = rec.fingerprint

    # -- the import's end -------------------------------------------------------------------------

    def commit(self) -> None:
        """Nothing is pending: every run is complete when its log line is written."""

    def rollback(self, exc: BaseException) -> None:
        """Nothing to undo: a run's files become visible whole, when it is complete."""

    def finish(self) -> None:
        """Nothing is pending (see :meth:`commit`)."""

    def close(self) -> None:
        if self._log >= 0:
            os.close(self._log)
            self._log = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _lines(chunk: PointChunk) -> bytes:
    if not chunk.datasets:
        return _metrics.format_lines(chunk.timestamps, chunk.values, chunk.steps)
    named = {row: (name, digest) for row, name, digest in chunk.datasets}
    parts = []
    for i in range(len(chunk)):
        name, digest = named.get(i, (None, None))
        parts.append(_metrics.format_line(chunk.timestamps[i], chunk.values[i], chunk.steps[i],
                                          name, digest))
    return b"".join(parts)


def _point_set(parsed: _metrics.ParsedMetrics) -> list[tuple[int, bytes, int, Any, Any]]:
    named = {row: (name, digest) for row, name, digest in parsed.datasets}
    return [(parsed.timestamps[i], parsed.values[i].hex().encode(), parsed.steps[i],
             *named.get(i, (None, None))) for i in range(len(parsed.timestamps))]


def _missing_lines(existing: bytes, written_path: str) -> bytes:
    """The lines of *existing* (a metric file being replaced) whose points the new file at
    *written_path* lacks: appending them keeps every point the destination had."""
    old = _metrics.parse(existing)
    old_points = _point_set(old)
    new_points = set(_point_set(_metrics.parse(read_bytes(written_path))))
    out = []
    for point in old_points:
        if point not in new_points:
            ts, value_hex, step, name, digest = point
            out.append(_metrics.format_line(ts, float.fromhex(value_hex.decode()), step, name,
                                            digest))
    return b"".join(out)
