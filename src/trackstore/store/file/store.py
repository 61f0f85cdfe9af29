"""The file store: MLflow's ``mlruns`` layout, read and written compatibly, much faster.

What it adds to the layout is in :mod:`.layout` (atomic writes, the run index side file);
how metric points are appended is in :mod:`.appender`.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ... import _metrics
from ..._pointq import PointRow
from ...entities import (
    DatasetInput,
    LifecycleStage,
    LoggedModelInput,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
    now_ms,
)
from ...exceptions import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)
from ...search import create_page_token, parse_page_token, search_runs
from ...validation import validate_experiment_id, validate_run_id
from ..base import RUN_NAME_TAG, AbstractStore, GcRun, not_deleted
from ..naming import random_run_name
from .appender import MetricAppender
from .cache import signature
from .experiments import ExperimentsMixin
from .index import RunIndex
from .layout import (
    ARTIFACTS,
    DATASETS,
    GC_JOURNAL,
    INPUTS,
    META,
    METRICS,
    PARAMS,
    RESERVED_EXPERIMENT_FOLDERS,
    TAGS,
    TRASH,
    create_exclusive,
    create_new,
    key_path,
    list_dirs,
    new_run_id,
    process_gone,
    read_bytes,
    remove_tree,
    stale_temp_pid,
    write_atomic,
)
from .meta import (
    BadMeta,
    append_to_uri,
    dump_meta,
    file_uri_to_path,
    load_meta,
    path_to_file_uri,
    resolve_local_uri,
    run_info_from_meta,
    run_meta,
)
from .reading import (
    RunReader,
    RunRecord,
    copy_info,
    dataset_id,
    input_id,
    read_one,
    report_metric_damage,
)
from .summary import Summaries

logger = logging.getLogger("trackstore.file")


class _RunNameReader(RunReader):
    """Runs as :class:`RunReader` reads them, with the ``mlflow.runName`` tag shown as
    ``meta.yaml`` names the run.

    A rename writes the tag file, then ``meta.yaml``: two files, so a writer killed between
    the two left the tag renamed and the run not. ``meta.yaml`` is the one that counts (its
    atomic replacement is the rename's commit point), so the tag is read from it: a rename
    is seen whole or not at all.
    """

    def run(self, info: RunInfo, run_dir: str, experiment_dir: str) -> Run:
        run = super().run(info, run_dir, experiment_dir)
        if run.info.run_name:
            run.data.tags[RUN_NAME_TAG] = run.info.run_name
        return run


@dataclass(slots=True)
class _RunState:
    """What this process knows about a run; revalidated with one ``stat`` per use."""

    run_dir: str
    experiment_dir: str
    meta_path: str
    metrics_dir: str
    signature: tuple[int, int, int]
    meta: dict[str, Any]
    info: RunInfo
    checked_at: float = 0.0


class FileStore(ExperimentsMixin, AbstractStore):
    """A tracking store in an ``mlruns`` directory, as MLflow lays it out.

    Args:
        root_directory: the ``mlruns`` directory (path or ``file:`` URI); default
            ``MLFLOW_TRACKING_DIR`` or ``./mlruns``. Created with experiment 0 if absent.
        artifact_root_uri: where new experiments keep artifacts; default the root itself.
    """

    #: Seconds a run's cached state is trusted by writes before ``meta.yaml`` is checked again.
    revalidate_after = 0.1

    def __init__(self, root_directory: str | None = None,
                 artifact_root_uri: str | None = None) -> None:
        root = root_directory or os.environ.get("MLFLOW_TRACKING_DIR") or "mlruns"
        self.root_directory = os.path.abspath(file_uri_to_path(root))
        self.artifact_root_uri = (resolve_local_uri(artifact_root_uri) if artifact_root_uri
                                  else path_to_file_uri(self.root_directory))
        self.trash_folder = os.path.join(self.root_directory, TRASH)
        self._lock = threading.RLock()
        self._runs: dict[str, _RunState] = {}
        self._appender = MetricAppender()
        self._index = RunIndex(self.root_directory)
        self._problems: collections.deque[tuple[str, str]] = collections.deque(maxlen=1000)
        self._reported: set[tuple[str, str]] = set()
        self._reader = _RunNameReader(self._report)
        self._summaries = Summaries(self.root_directory, self._reader)
        if os.path.exists(self.root_directory) and not os.path.isdir(self.root_directory):
            raise TrackstoreError(f"'{self.root_directory}' is not a directory.",
                                  INVALID_PARAMETER_VALUE)
        if not os.path.exists(self.root_directory):
            self._create_root()
        try:
            os.makedirs(self.trash_folder, exist_ok=True)
        except OSError:
            pass  # a read-only tree can still be read

    def _create_root(self) -> None:
        """Make a new tree with its default experiment, published at once: it is built in a
        hidden sibling directory, then renamed into place, so that another process never
        sees the root without ``0/meta.yaml`` (and so skips making the default experiment
        while the first one is still writing it). The first process to rename wins."""
        parent, name = os.path.split(self.root_directory)
        os.makedirs(parent, exist_ok=True)
        # Not tempfile.mkdtemp: its 0o700 would become the tree's; os.mkdir follows the umask.
        staging = os.path.join(parent, f".{name}-new-{os.getpid()}-{secrets.token_hex(4)}")
        os.mkdir(staging)
        try:
            self.create_default_experiment(staging)
            os.mkdir(os.path.join(staging, TRASH))
            os.rename(staging, self.root_directory)
        except OSError:
            if not os.path.isdir(self.root_directory):
                raise
            # Another process published the tree first (rename onto a non-empty directory
            # fails): theirs is the tree.
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def __repr__(self) -> str:
        return f"FileStore({self.root_directory!r})"

    # -- problems -----------------------------------------------------------------------------

    def _report(self, path: str, problem: str) -> None:
        """Record a damaged entry that was skipped; logged once per (path, problem)."""
        item = (path, problem)
        self._problems.append(item)
        if item not in self._reported:
            if len(self._reported) > 10000:
                self._reported.clear()
            self._reported.add(item)
            logger.warning("%s: %s", path, problem)

    def problems(self) -> list[tuple[str, str]]:
        """Damaged entries met recently (path, what was wrong); each was skipped."""
        return list(self._problems)

    # -- locating runs --------------------------------------------------------------------------

    def _locate_run(self, run_id: str) -> tuple[str, str] | None:
        """(run_dir, experiment_dir) of *run_id*, from the index or by probing experiments."""
        experiment_id = self._index.get(run_id)
        if experiment_id is not None:
            for parent in (self.root_directory, self.trash_folder):
                experiment_dir = os.path.join(parent, experiment_id)
                run_dir = os.path.join(experiment_dir, run_id)
                if os.path.exists(os.path.join(run_dir, META)):
                    return run_dir, experiment_dir
        for experiment_id, experiment_dir in self._experiment_ids(ViewType.ALL):
            run_dir = os.path.join(experiment_dir, run_id)
            if os.path.exists(os.path.join(run_dir, META)):
                self._index.remember(run_id, experiment_id)
                return run_dir, experiment_dir
        return None

    def _run_state(self, run_id: str) -> _RunState:
        state = self._runs.get(run_id)
        if state is not None:
            try:
                if signature(os.stat(state.meta_path)) == state.signature:
                    return state
            except OSError:
                pass
            self._drop_run(run_id, state)
        located = self._locate_run(run_id)
        if located is None:
            raise TrackstoreError(f"Run '{run_id}' not found", RESOURCE_DOES_NOT_EXIST)
        return self._load_state(run_id, *located)

    def _load_state(self, run_id: str, run_dir: str, experiment_dir: str) -> _RunState:
        meta_path = os.path.join(run_dir, META)
        try:
            st = os.stat(meta_path)
            meta = load_meta(meta_path)
            info = run_info_from_meta(meta, meta_path)
        except (OSError, BadMeta) as exc:
            self._report(meta_path, str(exc))
            raise TrackstoreError(f"Run '{run_id}' metadata is in invalid state.",
                                  INVALID_STATE) from None
        if info.run_id != run_id or info.experiment_id != os.path.basename(experiment_dir):
            self._report(meta_path, "run_id or experiment_id does not match the directory")
            raise TrackstoreError(f"Run '{run_id}' metadata is in invalid state.", INVALID_STATE)
        state = _RunState(run_dir, experiment_dir, meta_path, os.path.join(run_dir, METRICS),
                          signature(st), meta, info)
        self._runs[run_id] = state
        return state

    def _drop_run(self, run_id: str, state: _RunState) -> None:
        self._runs.pop(run_id, None)
        self._appender.forget(state.run_dir + os.sep)
        self._reader.forget(state.run_dir + os.sep)

    def _forget_dir(self, path: str) -> None:
        """Drop cached state under *path* (an experiment about to move or vanish)."""
        prefix = path + os.sep
        for run_id, state in list(self._runs.items()):
            if state.run_dir.startswith(prefix):
                self._runs.pop(run_id, None)
        self._appender.forget(prefix)
        self._reader.forget(prefix)

    def _active_run(self, run_id: str) -> _RunState:
        """The state of a run that may be written to.

        Changes made through this store are seen at once. Changes made by another process
        (a delete, the experiment moved to .trash) are seen within ``revalidate_after``
        seconds: the hot path does not touch the disk for every point.
        """
        state = self._runs.get(run_id)
        now = time.monotonic()
        if state is None or now - state.checked_at > self.revalidate_after:
            state = self._run_state(run_id)
            state.checked_at = now
        if state.info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise TrackstoreError(f"The run {run_id} must be in 'active' lifecycle_stage.",
                                  INVALID_PARAMETER_VALUE)
        return state

    def _write_run_meta(self, state: _RunState, info: RunInfo,
                        deleted_time: int | None = None) -> None:
        meta = run_meta(info, state.meta, deleted_time)
        write_atomic(state.meta_path, dump_meta(meta))
        state.meta, state.info = meta, info
        try:
            state.signature = signature(os.stat(state.meta_path))
        except OSError:
            self._runs.pop(info.run_id, None)

    # -- runs ----------------------------------------------------------------------------------

    def _create_run(self, experiment_id: str | None, user_id: str | None,
                    start_time: int | None, tags: list[RunTag], run_name: str | None) -> Run:
        experiment_id = validate_experiment_id("0" if experiment_id is None else experiment_id)
        experiment_dir = self._experiment_dir(experiment_id)
        if experiment_dir is None:
            raise TrackstoreError(
                f"Could not create run under experiment with ID {experiment_id} - no such "
                "experiment exists.", RESOURCE_DOES_NOT_EXIST)
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise TrackstoreError(
                f"Could not create run under non-active experiment with ID {experiment_id}.",
                INVALID_PARAMETER_VALUE)
        name_tag = next((t.value for t in reversed(tags) if t.key == RUN_NAME_TAG), None)
        run_name = run_name or name_tag or random_run_name()
        if name_tag is None:
            tags = [*tags, RunTag(RUN_NAME_TAG, run_name)]
        run_id = new_run_id()
        run_dir = os.path.join(experiment_dir, run_id)
        info = RunInfo(
            run_id=run_id, experiment_id=experiment_id, user_id=user_id or "unknown",
            status="RUNNING", start_time=now_ms() if start_time is None else start_time,
            end_time=None, lifecycle_stage=LifecycleStage.ACTIVE,
            artifact_uri=append_to_uri(experiment.artifact_location, run_id, ARTIFACTS),
            run_name=run_name)
        os.mkdir(run_dir)
        for sub in (METRICS, PARAMS, TAGS, ARTIFACTS):
            os.mkdir(os.path.join(run_dir, sub))
        # The run is invisible until its meta.yaml exists, so its first tags need no temp files.
        for key, value in {t.key: t.value for t in tags}.items():
            create_new(key_path(os.path.join(run_dir, TAGS), key), value.encode("utf-8"))
        meta = run_meta(info)
        meta_path = os.path.join(run_dir, META)
        # meta.yaml last: a crash before it leaves a directory every reader skips.
        write_atomic(meta_path, dump_meta(meta))
        self._index.remember(run_id, experiment_id)
        self._runs[run_id] = _RunState(run_dir, experiment_dir, meta_path,
                                       os.path.join(run_dir, METRICS),
                                       signature(os.stat(meta_path)), meta, info)
        return self._reader.run(info, run_dir, experiment_dir)

    def get_run(self, run_id: str) -> Run:
        from ..base import checked_run_id

        state = self._run_state(checked_run_id(run_id))
        return self._reader.run(state.info, state.run_dir, state.experiment_dir)

    def _update_run_info(self, run_id: str, status: int | None, end_time: int | None,
                         run_name: str | None) -> RunInfo:
        with self._lock:
            state = self._active_run(run_id)
            old = state.info
            info = dataclasses.replace(
                old, status=RunStatus.to_string(status) if status else old.status,
                end_time=end_time or old.end_time, run_name=run_name or old.run_name)
            if run_name:
                self._write_key(state.run_dir, TAGS, RUN_NAME_TAG, run_name)
            self._write_run_meta(state, info)
            return copy_info(info)

    def _set_run_stage(self, run_id: str, stage: str) -> None:
        from ..base import checked_run_id

        with self._lock:
            state = self._run_state(checked_run_id(run_id))
            info = dataclasses.replace(state.info, lifecycle_stage=stage)
            self._write_run_meta(state, info,
                                 now_ms() if stage == LifecycleStage.DELETED else None)

    def delete_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.ACTIVE)

    def _set_runs_stage(self, experiment_id: str, experiment_dir: str, stage: str,
                        deleted_time: int | None) -> None:
        """Move every run of an experiment to *stage* (delete/restore of the experiment).

        Deleting touches only active runs (earlier deletions keep their ``deleted_time``);
        restoring revives every deleted run, as MLflow does.
        """
        for record in self._run_records(experiment_id, experiment_dir, ViewType.ALL):
            info = record.info
            if info.lifecycle_stage == stage:
                continue
            state = self._load_state(info.run_id, record.run_dir, experiment_dir)
            self._write_run_meta(state, dataclasses.replace(info, lifecycle_stage=stage),
                                 deleted_time)

    def _run_records(self, experiment_id: str, experiment_dir: str,
                     view_type: int) -> Iterator[RunRecord]:
        stages = LifecycleStage.view_type_to_stages(view_type)
        self._summaries.load(experiment_id, experiment_dir)
        for name in list_dirs(experiment_dir):
            if name in RESERVED_EXPERIMENT_FOLDERS:
                continue
            run_dir = experiment_dir + os.sep + name
            try:
                info = self._reader.run_info(run_dir)
            except BadMeta as exc:
                self._report(os.path.join(run_dir, META), f"malformed run skipped: {exc}")
                continue
            if info is None:
                continue  # a directory without meta.yaml is not a run (MLflow agrees)
            if info.experiment_id != experiment_id or info.run_id != name:
                self._report(os.path.join(run_dir, META), "run skipped: its run_id or "
                             "experiment_id does not match its directory")
                continue
            if info.lifecycle_stage in stages:
                self._index.remember(info.run_id, experiment_id, persist=False)
                yield RunRecord(info, run_dir, experiment_dir, self._reader)

    def _search_runs(self, experiment_ids: list[str], filter_string: str, run_view_type: int,
                     max_results: int, order_by: list[str], page_token: str | None
                     ) -> PagedList[Run]:
        records: list[RunRecord] = []
        searched = []
        parsed_before = self._parsed_count()
        for experiment_id in dict.fromkeys(experiment_ids):
            validate_experiment_id(experiment_id)
            experiment_dir = self._experiment_dir(experiment_id)
            if experiment_dir is not None:
                searched.append((experiment_id, experiment_dir))
                records.extend(self._run_records(experiment_id, experiment_dir, run_view_type))
        page, token = search_runs(records, filter_string, order_by, max_results, page_token)
        runs = PagedList([record.load() for record in page], token)
        # Much was read from the files: keep it for the next process (see .summary).
        if self._parsed_count() - parsed_before >= max(100, len(records) // 20):
            for experiment_id, experiment_dir in searched:
                self._summaries.save(experiment_id, experiment_dir)
        return runs

    def _parsed_count(self) -> int:
        return self._reader.infos.parsed + self._reader.latest_points.parsed

    # -- logging -------------------------------------------------------------------------------

    def _write_key(self, run_dir: str, folder: str, key: str, value: str,
                   path: str | None = None) -> None:
        """Write *key*'s file (*path*: its :func:`key_path`, when the caller checked it)."""
        path = path or key_path(os.path.join(run_dir, folder), key)
        try:
            write_atomic(path, value.encode("utf-8"), tmp_dir=run_dir, fsync=False)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, value.encode("utf-8"), tmp_dir=run_dir, fsync=False)
        except (IsADirectoryError, NotADirectoryError):
            raise TrackstoreError(f"Key '{key}' conflicts with another key of this run: one "
                                  "names a file where the other needs a directory",
                                  INVALID_PARAMETER_VALUE) from None

    def _log_params(self, state: _RunState, params: list[Param],
                    paths: dict[str, str] | None = None) -> None:
        """*paths*: each param's :func:`key_path`, when the caller checked them."""
        folder = os.path.join(state.run_dir, PARAMS)
        # Check every param before writing any: a conflict changes nothing.
        fresh = []
        for param in params:
            existing = read_one(folder, param.key)
            if existing is None:
                fresh.append(param)
            elif existing != param.value:
                raise _param_conflict(param, existing, state.info.run_id)
        for param in fresh:
            path = paths[param.key] if paths else key_path(folder, param.key)
            data = param.value.encode("utf-8")
            try:
                created = create_exclusive(path, data, tmp_dir=state.run_dir)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                created = create_exclusive(path, data, tmp_dir=state.run_dir)
            except (IsADirectoryError, NotADirectoryError):
                raise TrackstoreError(f"Param key '{param.key}' conflicts with another param "
                                      "key of this run", INVALID_PARAMETER_VALUE) from None
            if not created:  # another writer got there first
                existing = read_one(folder, param.key)
                if existing != param.value:
                    raise _param_conflict(param, existing or "", state.info.run_id)

    def _log_metric(self, run_id: str, metric: Metric) -> None:
        # The training-loop path: one cached state lookup, one write().
        self._appender.append(self._active_run(run_id).metrics_dir, metric.key,
                              _metrics.format_line(metric.timestamp, metric.value, metric.step,
                                                   metric.dataset_name, metric.dataset_digest))

    def _log_point_rows(self, run_id: str, rows: list[PointRow]) -> None:
        # Asynchronous logging's single points: one write per metric key, no object per point.
        metrics_dir = self._active_run(run_id).metrics_dir
        append = self._appender.append
        for key, data in _metrics.format_rows(rows).items():
            append(metrics_dir, key, data)


    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param],
                   tags: list[RunTag]) -> None:
        state = self._active_run(run_id)
        # Every key's file is checked (its length, no link on its way: see key_path) before
        # anything is written, so a key refused there changes nothing of the batch.
        run_dir = state.run_dir
        param_paths = {p.key: key_path(os.path.join(run_dir, PARAMS), p.key) for p in params}
        values = {t.key: t.value for t in tags}
        tag_paths = {key: key_path(os.path.join(run_dir, TAGS), key) for key in values}
        lines = _metrics.format_batch(metrics) if metrics else {}  # grouped by key
        self._appender.check_keys(state.metrics_dir, lines)
        if params:
            self._log_params(state, params, param_paths)
        append, metrics_dir = self._appender.append, state.metrics_dir
        for key, data in lines.items():
            append(metrics_dir, key, data)
        if tags:
            for key, value in values.items():
                self._write_key(run_dir, TAGS, key, value, tag_paths[key])
            if RUN_NAME_TAG in values and values[RUN_NAME_TAG] != state.info.run_name:
                with self._lock:
                    self._write_run_meta(
                        state, dataclasses.replace(state.info, run_name=values[RUN_NAME_TAG]),
                        state.meta.get("deleted_time"))

    def _delete_tag(self, run_id: str, key: str) -> None:
        state = self._active_run(run_id)
        try:
            os.unlink(key_path(os.path.join(state.run_dir, TAGS), key))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise TrackstoreError(f"No tag with name: {key} in run with id {run_id}",
                                  RESOURCE_DOES_NOT_EXIST) from None

    def _log_inputs(self, run_id: str, datasets: list[DatasetInput],
                    models: list[LoggedModelInput]) -> None:
        state = self._active_run(run_id)
        write_inputs(state.run_dir, state.experiment_dir, state.info.run_id, datasets, models)

    # -- metric history ------------------------------------------------------------------------

    def _read_metric_file(self, run_id: str, key: str) -> _metrics.ParsedMetrics | None:
        state = self._run_state(run_id)
        path = key_path(os.path.join(state.run_dir, METRICS), key)
        try:
            data = read_bytes(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        parsed = _metrics.parse(data)
        if parsed.torn or parsed.bad_lines:
            report_metric_damage(self._report, path, key, parsed.torn, parsed.bad_lines)
        return parsed

    def _get_metric_history(self, run_id: str, metric_key: str, max_results: int | None,
                            page_token: str | None) -> PagedList[Metric]:
        parsed = self._read_metric_file(run_id, metric_key)
        if parsed is None:
            return PagedList([], None)
        datasets = {row: (name, digest) for row, name, digest in parsed.datasets}
        n = len(parsed.timestamps)
        start = min(parse_page_token(page_token), n)
        stop = n if max_results is None else min(n, start + max_results)
        token = create_page_token(stop) if stop < n else None
        ts, vs, ss = parsed.timestamps, parsed.values, parsed.steps
        if datasets:
            out = []
            for i in range(start, stop):
                name, digest = datasets.get(i, (None, None))
                out.append(Metric(metric_key, vs[i], ts[i], ss[i], None, name, digest, run_id))
        else:
            out = [Metric(metric_key, v, t, s, None, None, None, run_id)
                   for t, v, s in zip(ts[start:stop], vs[start:stop], ss[start:stop],
                                      strict=True)]
        return PagedList(out, token)

    def _get_metric_history_columns(self, run_id: str, metric_key: str) -> MetricHistory:
        import array

        parsed = self._read_metric_file(run_id, metric_key)
        if parsed is None:
            return MetricHistory(metric_key, array.array("q"), array.array("d"),
                                 array.array("q"))
        return MetricHistory(metric_key, parsed.timestamps, parsed.values, parsed.steps)

    # -- permanent deletion --------------------------------------------------------------------

    def gc_runs(self, run_ids: Sequence[str] | None = None,
                experiment_ids: Sequence[str] | None = None) -> list[GcRun]:
        found: list[GcRun] = []
        if run_ids is not None:
            for run_id in dict.fromkeys(run_ids):
                located = self._locate_run(run_id) if _valid(validate_run_id, run_id) else None
                if located is not None:
                    info = self._run_state(run_id).info
                    found.append(self._gc_run(info, located[0]))
            return found
        if experiment_ids is not None:
            dirs = []
            for experiment_id in dict.fromkeys(experiment_ids):
                path = (self._experiment_dir(experiment_id)
                        if _valid(validate_experiment_id, experiment_id) else None)
                if path is not None:
                    dirs.append((experiment_id, path))
            view = ViewType.ALL
        else:
            dirs, view = self._experiment_ids(ViewType.ALL), ViewType.DELETED_ONLY
        for experiment_id, experiment_dir in dirs:
            for record in self._run_records(experiment_id, experiment_dir, view):
                found.append(self._gc_run(record.info, record.run_dir))
        return found

    def _gc_run(self, info: RunInfo, run_dir: str) -> GcRun:
        deleted_time = (self._runs_meta_deleted_time(run_dir)
                        if info.lifecycle_stage == LifecycleStage.DELETED else None)
        artifact_uri = info.artifact_uri or ""
        if os.path.dirname(os.path.dirname(run_dir)) == self.trash_folder:
            # A deleted experiment's folder moved to .trash with its runs, and with their
            # artifacts where they were in MLflow's default place, inside the run's folder.
            default = os.path.join(self.root_directory, info.experiment_id, info.run_id,
                                   ARTIFACTS)
            if os.path.abspath(file_uri_to_path(artifact_uri)) == default:
                artifact_uri = path_to_file_uri(os.path.join(run_dir, ARTIFACTS))
        return GcRun(info.run_id, info.experiment_id, info.lifecycle_stage, deleted_time,
                     artifact_uri)

    def _runs_meta_deleted_time(self, run_dir: str) -> int | None:
        try:
            value = load_meta(os.path.join(run_dir, META)).get("deleted_time")
        except BadMeta:
            return None
        return int(value) if isinstance(value, int) else None

    def hard_delete_runs(self, run_ids: Sequence[str]) -> int:
        from ..base import checked_run_id

        doomed = []
        for run_id in dict.fromkeys(checked_run_id(r) for r in run_ids):
            if self._locate_run(run_id) is None:
                continue  # already gone
            state = self._run_state(run_id)
            if state.info.lifecycle_stage != LifecycleStage.DELETED:
                raise not_deleted(run_id)
            doomed.append((run_id, state))
        if not doomed:
            return 0
        prefixes = tuple(state.run_dir + os.sep for _, state in doomed)
        for run_id, _ in doomed:
            self._runs.pop(run_id, None)
        self._appender.forget(*prefixes)
        self._reader.forget(*prefixes)
        # The side files first: killed after this, gc leaves deleted runs (the next gc removes
        # them), never an index line or a summary naming a run that is gone.
        self._index.purge({run_id for run_id, _ in doomed})
        for experiment_id in {state.info.experiment_id for _, state in doomed}:
            self._summaries.remove(experiment_id)  # it names the runs; the next search rebuilds it
        with self._journal([state.run_dir for _, state in doomed]):
            for _, state in doomed:
                remove_tree(state.run_dir)
        return len(doomed)

    @contextmanager
    def _journal(self, folders: list[str]) -> Iterator[None]:
        """Record *folders* while they are removed: a removal killed between a folder's
        ``meta.yaml`` and the folder itself would leave an empty folder no reader notices,
        which the next gc removes from this record (:meth:`finish_interrupted_gc`)."""
        path = os.path.join(self.root_directory,
                            f"{GC_JOURNAL}{os.getpid()}-{secrets.token_hex(4)}")
        lines = [os.path.relpath(f, self.root_directory) for f in folders]
        write_atomic(path, "\n".join(lines).encode("utf-8"), fsync=False)
        yield
        os.unlink(path)

    def finish_interrupted_gc(self) -> int:
        """Finish what a gc process killed half-way left at the root: the folders of its
        journal (those still a deleted run's or experiment's, or no longer anything's) and
        the temporary files of side files it was rewriting. How many folders were removed."""
        removed = 0
        try:
            names = os.listdir(self.root_directory)
        except OSError:
            return 0
        for name in names:
            path = os.path.join(self.root_directory, name)
            if name.startswith(GC_JOURNAL):
                pid = name[len(GC_JOURNAL):].split("-", 1)[0]
                if not pid.isdigit() or not process_gone(int(pid)):
                    continue
                try:
                    lines = read_bytes(path).decode("utf-8").splitlines()
                except (OSError, UnicodeDecodeError):
                    continue
                for line in lines:
                    removed += self._finish_removal(line)
                os.unlink(path)
            else:
                pid_of_temp = stale_temp_pid(name)
                if pid_of_temp is not None and process_gone(pid_of_temp):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
        return removed

    def _finish_removal(self, relative: str) -> int:
        """Remove the journaled folder *relative* if it is still a deleted run's or
        experiment's (or an empty leftover); 1 if something was removed."""
        folder = os.path.normpath(os.path.join(self.root_directory, relative))
        if os.path.dirname(folder) == self.root_directory or not folder.startswith(
                self.root_directory + os.sep) or not os.path.isdir(folder):
            return 0  # a journal names run folders and .trash/<experiment> only
        try:
            stage = load_meta(os.path.join(folder, META)).get("lifecycle_stage")
        except (OSError, BadMeta):
            stage = None  # no meta.yaml left: the interrupted removal's leftover
        if stage == LifecycleStage.ACTIVE:
            return 0  # restored since: not gc's any more
        remove_tree(folder)
        return 1

    def _release(self) -> None:
        self._appender.close()
        self._index.close()
        self._runs.clear()


def _valid(check: Any, value: str) -> bool:
    """Whether *value* passes *check* (an id that does not is one no run or experiment has)."""
    try:
        check(value)
    except TrackstoreError:
        return False
    return True


def write_inputs(run_dir: str, experiment_dir: str, run_id: str,
                 datasets: Sequence[DatasetInput], models: Sequence[LoggedModelInput]) -> None:
    """Write dataset and model inputs of a run as MLflow lays them out (an input already
    there is kept as it is)."""
    for dataset_input in datasets:
        dataset = dataset_input.dataset
        ds_id = dataset_id(dataset.name, dataset.digest)
        ds_meta = {"digest": dataset.digest, "name": dataset.name,
                   "profile": dataset.profile, "schema": dataset.schema,
                   "source": dataset.source, "source_type": dataset.source_type}
        datasets_dir = os.path.join(experiment_dir, DATASETS)  # read by id, never listed
        _publish_dir(os.path.join(datasets_dir, ds_id), dump_meta(ds_meta), datasets_dir)
        tags = {t.key: t.value for t in dataset_input.tags or ()}
        _write_input(run_dir, run_id, ds_id, "DATASET", tags)
    for model in models:
        _write_input(run_dir, run_id, model.model_id, "MODEL", {})


def _write_input(run_dir: str, run_id: str, source_id: str, source_type: str,
                 tags: dict[str, str]) -> None:
    # destination_id repeats source_id: MLflow writes it so (a harmless bug readers ignore).
    meta = {"destination_id": source_id, "destination_type": "RUN",
            "source_id": source_id, "source_type": source_type, "tags": tags}
    _publish_dir(os.path.join(run_dir, INPUTS, input_id(source_id, run_id)), dump_meta(meta),
                 run_dir)


def _publish_dir(path: str, meta: bytes, staging_parent: str) -> None:
    """Create the folder *path* holding ``meta.yaml`` = *meta*, unless it is there already.

    The folder is made under a temporary name in *staging_parent* (same filesystem; a folder
    no reader lists, so a crash's leftover there is harmless) and renamed into place, so a
    writer killed half-way never leaves a folder without its ``meta.yaml``, which every
    reader would report as damage. A folder published first by another writer is kept.
    """
    if os.path.exists(os.path.join(path, META)):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = os.path.join(staging_parent, f".{os.path.basename(path)}.{os.getpid()}."
                                           f"{secrets.token_hex(4)}.tmp")
    os.mkdir(staging)
    try:
        # Atomic even here: a crash's leftover folder holds no partial meta.yaml either.
        write_atomic(os.path.join(staging, META), meta, fsync=False)
        try:
            os.rename(staging, path)  # replaces an empty folder: an older crash's leftover
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _param_conflict(param: Param, existing: str, run_id: str) -> TrackstoreError:
    return TrackstoreError(
        f"Changing param values is not allowed. Param with key='{param.key}' was already "
        f"logged with value='{existing}' for run ID='{run_id}'. Attempted logging new value "
        f"'{param.value}'.", INVALID_PARAMETER_VALUE)

