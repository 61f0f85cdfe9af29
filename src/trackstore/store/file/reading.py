"""Reading runs from a run directory: whole runs, and lazy records for search.

Reads never raise because of a damaged entry: a torn or malformed metric line, an unreadable
param file or input is reported through the store's ``report`` callback and skipped, and
everything else is served. What was parsed is kept (see :mod:`.cache`) while the files are
unchanged, so repeated reads cost a ``stat`` per file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

from ... import _metrics
from ..._metrics_py import LatestPoint
from ...entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelInput,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
)
from .appender import SETTLE
from .cache import LatestPoints, ParsedFiles, signature
from .layout import (
    DATASETS,
    INPUTS,
    META,
    METRICS,
    PARAMS,
    TAGS,
    key_path,
    read_bytes,
    read_with_stat,
    walk_keys,
)
from .meta import BadMeta, load_meta, parse_meta, run_info_from_meta

Report = Callable[[str, str], None]
_META_SUFFIX = os.sep + META
_METRICS_PREFIX = os.sep + METRICS + os.sep


def dataset_id(name: str, digest: str) -> str:
    md5 = hashlib.md5(name.encode("utf-8"), usedforsecurity=False)
    md5.update(digest.encode("utf-8"))
    return md5.hexdigest()


def input_id(source_id: str, run_id: str) -> str:
    return hashlib.md5((source_id + run_id).encode("utf-8"), usedforsecurity=False).hexdigest()


def report_metric_damage(report: Report, path: str, key: str, parsed_torn: bool,
                         bad_lines: list[tuple[int, str]]) -> None:
    """Report what a read of a metric file skipped.

    An unterminated last line of a file written to within the last :data:`SETTLE` seconds is
    most likely a write still in progress (see :mod:`.appender`): it is skipped silently.
    """
    if parsed_torn and not recently_written(path):
        report(path, f"metric '{key}': torn last line (a writer was interrupted); skipped")
    for line_no, reason in bad_lines[:3]:
        report(path, f"metric '{key}': line {line_no} is malformed ({reason}); skipped")
    if len(bad_lines) > 3:
        report(path, f"metric '{key}': {len(bad_lines) - 3} more malformed lines skipped")


def recently_written(path: str) -> bool:
    """Whether *path* changed within the last :data:`SETTLE` seconds (a write may be under
    way)."""
    try:
        return time.time() - os.stat(path).st_mtime < SETTLE
    except OSError:
        return False


def read_one(folder: str, key: str) -> str | None:
    """The value of one param or tag, or None if absent (or unreadable)."""
    try:
        return read_bytes(key_path(folder, key)).decode("utf-8", "replace")
    except OSError:
        return None


def copy_info(info: RunInfo) -> RunInfo:
    """A RunInfo the caller may change without touching a cached one."""
    return dataclasses.replace(info)


class RunReader:
    """Reads runs and their parts, reporting damage and reusing what is unchanged."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self._latest = LatestPoints()
        self._infos = ParsedFiles()
        #: The parsed run infos and latest points, for the summary side files.
        self.infos = self._infos
        self.latest_points = self._latest.files

    def forget(self, *prefixes: str) -> None:
        self._latest.forget(*prefixes)
        self._infos.forget(*prefixes)

    # -- run info -------------------------------------------------------------------------------

    def run_info(self, run_dir: str) -> RunInfo | None:
        """The RunInfo in *run_dir*'s meta.yaml; None if there is none (not a run).

        Raises BadMeta for a meta.yaml that exists but cannot be used. The result is shared:
        copy it (:func:`copy_info`) before handing it out.
        """
        meta_path = run_dir + _META_SUFFIX
        cached = self._infos.peek(meta_path)
        try:
            if cached is not None:  # warm: one stat() says whether the parse still holds
                sig = signature(os.stat(meta_path))
                if sig == cached[0]:
                    return cached[1]  # type: ignore[no-any-return]
            data, st = read_with_stat(meta_path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise BadMeta(f"{meta_path} cannot be read: {exc.strerror}") from None
        info = run_info_from_meta(parse_meta(data, meta_path), meta_path)
        self._infos.put(meta_path, signature(st), info)
        return info

    # -- metrics --------------------------------------------------------------------------------

    def latest_metric(self, path: str, key: str) -> Metric | None:
        """The point MLflow shows as the metric's value; None if absent or holding no point."""
        point = self.latest_point(path, key)
        if point is None:
            return None
        return Metric(key, point.value, point.timestamp, point.step,
                      dataset_name=point.dataset_name, dataset_digest=point.dataset_digest)

    def latest_point(self, path: str, key: str) -> LatestPoint | None:
        """:meth:`latest_metric` without building a Metric (search reads only the value)."""
        for attempt in (1, 2):
            try:
                point, damaged = self._latest.latest(path)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None
            except OSError as exc:
                self.report(path, f"metric '{key}' cannot be read: {exc.strerror}")
                return None
            if damaged is None:
                break
            parsed = _metrics.parse(damaged)
            if attempt == 1 and parsed.torn and not parsed.bad_lines:
                continue  # maybe a write in progress, not a crash: look once more
            report_metric_damage(self.report, path, key, parsed.torn, parsed.bad_lines)
            break
        return point

    def metrics(self, run_dir: str) -> list[Metric]:
        out = []
        for key, path in walk_keys(os.path.join(run_dir, METRICS)):
            metric = self.latest_metric(path, key)
            if metric is not None:
                out.append(metric)
        return out

    # -- params, tags, inputs -------------------------------------------------------------------

    def key_values(self, folder: str) -> list[tuple[str, str]]:
        out = []
        for key, path in walk_keys(folder):
            try:
                data = read_bytes(path)
            except OSError as exc:
                self.report(path, f"cannot be read: {exc.strerror}")
                continue
            try:
                out.append((key, data.decode("utf-8")))
            except UnicodeDecodeError:
                self.report(path, "is not valid UTF-8; undecodable bytes replaced")
                out.append((key, data.decode("utf-8", "replace")))
        return out

    def inputs(self, run_dir: str, experiment_dir: str) -> RunInputs:
        inputs_dir = os.path.join(run_dir, INPUTS)
        try:
            names = sorted(os.listdir(inputs_dir))
        except (FileNotFoundError, NotADirectoryError):
            return RunInputs()
        datasets: list[DatasetInput] = []
        models: list[LoggedModelInput] = []
        for name in names:
            path = os.path.join(inputs_dir, name, META)
            try:
                meta = load_meta(path)
            except BadMeta as exc:
                self.report(path, str(exc))
                continue
            source_type, source_id = meta.get("source_type"), meta.get("source_id")
            if source_type == "MODEL" and isinstance(source_id, str):
                models.append(LoggedModelInput(source_id))
            elif source_type == "DATASET" and isinstance(source_id, str):
                dataset = self.dataset(experiment_dir, source_id)
                if dataset is not None:
                    tags = meta.get("tags") or {}
                    datasets.append(DatasetInput(
                        dataset, [InputTag(str(k), str(v)) for k, v in dict(tags).items()]))
        return RunInputs(datasets, models)

    def dataset(self, experiment_dir: str, ds_id: str) -> Dataset | None:
        path = os.path.join(experiment_dir, DATASETS, ds_id, META)
        try:
            meta = load_meta(path)
        except BadMeta as exc:
            self.report(path, f"dataset referenced by a run input is unusable: {exc}")
            return None
        try:
            return Dataset(name=meta["name"], digest=meta["digest"],
                           source_type=meta["source_type"], source=meta["source"],
                           schema=meta.get("schema"), profile=meta.get("profile"))
        except KeyError as exc:
            self.report(path, f"dataset lacks {exc}")
            return None

    # -- whole runs -----------------------------------------------------------------------------

    def run(self, info: RunInfo, run_dir: str, experiment_dir: str) -> Run:
        info = copy_info(info)
        tags = [RunTag(k, v) for k, v in self.key_values(os.path.join(run_dir, TAGS))]
        if not info.run_name:
            info.run_name = next((t.value for t in tags if t.key == "mlflow.runName"), None)
        params = [Param(k, v) for k, v in self.key_values(os.path.join(run_dir, PARAMS))]
        return Run(info, RunData(self.metrics(run_dir), params, tags),
                   self.inputs(run_dir, experiment_dir))


class RunRecord:
    """A run as search sees it: info from ``meta.yaml``, everything else read on demand once."""

    __slots__ = ("_cache", "_datasets", "_reader", "experiment_dir", "info", "run_dir")

    def __init__(self, info: RunInfo, run_dir: str, experiment_dir: str,
                 reader: RunReader) -> None:
        self.info = info
        self.run_dir = run_dir
        self.experiment_dir = experiment_dir
        self._reader = reader
        self._cache: dict[tuple[str, str], Any] = {}
        self._datasets: list[tuple[str, str, str | None]] | None = None

    # attributes, named as the search grammar names them
    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def run_name(self) -> str | None:
        return self.info.run_name

    @property
    def user_id(self) -> str | None:
        return self.info.user_id

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def start_time(self) -> int | None:
        return self.info.start_time

    @property
    def end_time(self) -> int | None:
        return self.info.end_time

    @property
    def artifact_uri(self) -> str | None:
        return self.info.artifact_uri

    @property
    def lifecycle_stage(self) -> str:
        return self.info.lifecycle_stage

    def metric(self, key: str) -> float | None:
        found = self._cache.get(("m", key), self)
        if found is self:
            path = self.run_dir + _METRICS_PREFIX + key  # keys are validated: "/" is the sep
            point = self._reader.latest_point(path, key)
            found = self._cache[("m", key)] = None if point is None else point.value
        return found  # type: ignore[no-any-return]

    def param(self, key: str) -> str | None:
        return self._value("p", PARAMS, key)

    def tag(self, key: str) -> str | None:
        return self._value("t", TAGS, key)

    def _value(self, kind: str, folder: str, key: str) -> str | None:
        found = self._cache.get((kind, key), self)
        if found is self:
            found = self._cache[(kind, key)] = read_one(os.path.join(self.run_dir, folder), key)
        return found  # type: ignore[no-any-return]

    def datasets(self) -> list[tuple[str, str, str | None]]:
        if self._datasets is None:
            inputs = self._reader.inputs(self.run_dir, self.experiment_dir)
            self._datasets = [
                (d.dataset.name, d.dataset.digest,
                 next((t.value for t in d.tags if t.key == "mlflow.data.context"), None))
                for d in inputs.dataset_inputs
            ]
        return self._datasets

    def load(self) -> Run:
        return self._reader.run(self.info, self.run_dir, self.experiment_dir)
