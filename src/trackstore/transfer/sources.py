"""Sources of an import: an ``mlruns`` tree, an MLflow SQL database, any trackstore store.

A source lists experiments, lists the runs of each cheaply (the progress bar's total), reads
one run at a time without its points (:meth:`Source.read_run`, safe to call from several
threads at once), and streams a metric's points in chunks (:meth:`Source.points`), and reads
its model registry whole (:meth:`Source.registered_models`: small, even for thousands of
versions). What it cannot read is reported through the ``report(where, reason)`` callback and
skipped; what no trackstore store holds (traces, logged models) is counted by
:meth:`Source.uncarried`.
"""

from __future__ import annotations

import abc
import array
import os
from collections.abc import Callable, Iterator
from typing import Any

from .. import _metrics
from ..entities import LifecycleStage, ViewType
from ..exceptions import TrackstoreError
from ..store.file.layout import (
    META,
    METRICS,
    PARAMS,
    RESERVED_EXPERIMENT_FOLDERS,
    TAGS,
    TRASH,
    list_dirs,
    read_bytes,
    walk_keys,
)
from ..store.file.meta import BadMeta, int_or_none, load_meta, parse_meta, run_info_from_meta
from ..store.file.reading import RunReader, recently_written
from .records import (
    ExperimentRecord,
    MetricSeries,
    PointChunk,
    Problem,
    RegisteredModelRecord,
    RunRecord,
)
from .registry import MODELS, VERSIONS, RawVersion, model_record

#: Bytes of a metric file read at a time (about 350k points of a typical file).
CHUNK_BYTES = 8 << 20
#: Bytes of a run's small metric files read with the run, on the read-ahead threads: the
#: writing thread then parses them from memory, without a system call of its own (each one
#: can cost it the GIL for a switch interval while a reader holds it).
PREFETCH_BYTES = 512 << 10


class Source(abc.ABC):
    """Where an import reads from (see the module doc)."""

    #: Shown to the user.
    description: str
    #: Names the source in the destination's import state: stable across runs of the import.
    identity: str
    #: Why :meth:`registered_models` is None (the registry is then counted as not carried).
    registry_note: str = ""

    def __init__(self, report: Problem) -> None:
        self.report = report
        #: ``unchanged(run_id, fingerprint)``: the import will skip that run (set by the
        #: importer): a source need not read ahead what will not be imported.
        self.unchanged: Callable[[str, str], bool] | None = None

    @abc.abstractmethod
    def experiments(self) -> list[ExperimentRecord]:
        """Every experiment, deleted ones included."""

    @abc.abstractmethod
    def run_locators(self, experiment: ExperimentRecord) -> list[str]:
        """What :meth:`read_run` takes, one per run of *experiment* (cheap: no run is read)."""

    @abc.abstractmethod
    def read_run(self, experiment: ExperimentRecord, locator: str) -> RunRecord | None:
        """The run without its points; None (after a report) when it cannot be used."""

    @abc.abstractmethod
    def points(self, run: RunRecord, series: MetricSeries, offset: int) -> Iterator[PointChunk]:
        """The points of *series* in chunks, from *offset* (0: all of them; only a resumable
        series is given another offset)."""

    def uncarried(self) -> dict[str, int]:
        """What the source holds that no trackstore store can: ``{what: count}``."""
        return {}

    def registered_models(self) -> list[RegisteredModelRecord] | None:
        """The model registry, every model with its versions (see :mod:`.registry`); None
        when this source cannot read it (then :meth:`uncarried` counts it)."""
        return []

    def close(self) -> None:  # noqa: B027 - most sources hold nothing open
        """Release what the source holds open."""


# -- mlruns trees ----------------------------------------------------------------------------


class MlrunsSource(Source):
    """An ``mlruns`` tree as MLflow's file store writes it, read directly (no store cache):
    ``meta.yaml`` through the compiled YAML loader, metric files through the compiled parser
    in chunks of :data:`CHUNK_BYTES` (small ones read with their run, see
    :data:`PREFETCH_BYTES`)."""

    def __init__(self, root: str, report: Problem, chunk_bytes: int = CHUNK_BYTES,
                 prefetch_bytes: int = PREFETCH_BYTES) -> None:
        super().__init__(report)
        self.root = os.path.abspath(root)
        self.description = self.root
        self.identity = "mlruns:" + os.path.realpath(self.root)
        self.chunk_bytes = chunk_bytes
        self.prefetch_bytes = prefetch_bytes
        self._uncarried: dict[str, int] = {}
        # The file store's readers of params, tags and inputs (their caches are not used).
        self._reader = RunReader(report)

    def experiments(self) -> list[ExperimentRecord]:
        found = []
        for folder, stage in ((self.root, LifecycleStage.ACTIVE),
                              (os.path.join(self.root, TRASH), LifecycleStage.DELETED)):
            for name in sorted(list_dirs(folder)):
                if folder == self.root and name in (TRASH, "models"):
                    continue
                record = self._experiment(os.path.join(folder, name), name, stage)
                if record is not None:
                    found.append(record)
        return found

    def _experiment(self, path: str, name: str, stage: str) -> ExperimentRecord | None:
        meta_path = os.path.join(path, META)
        try:
            meta = load_meta(meta_path)
        except BadMeta as exc:
            self.report(meta_path, f"experiment skipped: {_why(exc, meta_path)}")
            return None
        experiment_id = meta.get("experiment_id")
        if str(experiment_id) != name:
            self.report(meta_path, f"experiment skipped: its experiment_id {experiment_id!r} is "
                                   f"not its folder's name {name!r}")
            return None
        exp_name = meta.get("name")
        if not isinstance(exp_name, str) or not exp_name:
            self.report(meta_path, "experiment skipped: it has no name")
            return None
        tags = dict(self._reader.key_values(os.path.join(path, TAGS)))
        for folder, what in (("traces", "traces"), ("models", "logged models")):
            count = len(list_dirs(os.path.join(path, folder)))
            if count:
                self._count(what, count)
        return ExperimentRecord(
            experiment_id=name, name=exp_name,
            artifact_location=meta.get("artifact_location") or None,
            lifecycle_stage=stage,
            creation_time=int_or_none(meta.get("creation_time")),
            last_update_time=int_or_none(meta.get("last_update_time")),
            tags=tags, where=path)

    def _count(self, what: str, n: int) -> None:
        self._uncarried[what] = self._uncarried.get(what, 0) + n

    def uncarried(self) -> dict[str, int]:
        return dict(self._uncarried)

    def registered_models(self) -> list[RegisteredModelRecord]:
        """The tree's ``models/`` folder, as MLflow's file registry writes it: ``<name>/
        meta.yaml``, ``tags/``, ``aliases/<alias>`` (the version's number), and
        ``version-<n>/meta.yaml`` with ``tags/``."""
        folder = os.path.join(self.root, "models")
        found = []
        for name in sorted(list_dirs(folder)):
            record = self._registered_model(os.path.join(folder, name), name)
            if record is not None:
                found.append(record)
        return found

    def _registered_model(self, path: str, folder: str) -> RegisteredModelRecord | None:
        meta_path = os.path.join(path, META)
        try:
            meta = load_meta(meta_path)
        except BadMeta as exc:
            self.report(meta_path, f"registered model skipped: {_why(exc, meta_path)}")
            return None
        name = meta.get("name")
        if name != folder:
            self.report(meta_path, f"registered model skipped: its name {name!r} is not its "
                                   f"folder's name {folder!r}")
            return None
        versions = []
        for entry in sorted(list_dirs(path)):
            number = entry[len("version-"):]
            if not entry.startswith("version-") or not number.isdigit():
                continue
            versions.append(self._model_version(os.path.join(path, entry), int(number), name))
        aliases = dict(self._reader.key_values(os.path.join(path, "aliases")))
        return model_record(
            name, int_or_none(meta.get("creation_timestamp")),
            int_or_none(meta.get("last_updated_timestamp")), meta.get("description"),
            meta.get("deployment_job_id"),
            dict(self._reader.key_values(os.path.join(path, TAGS))), aliases, versions,
            path, self.report)

    def _model_version(self, path: str, number: int, model: str) -> RawVersion:
        meta_path = os.path.join(path, META)
        problem = None
        try:
            meta = load_meta(meta_path)
        except BadMeta as exc:
            problem, meta = _why(exc, meta_path), {}
        if problem is None and int_or_none(meta.get("version")) != number:
            problem = f"its version {meta.get('version')!r} is not its folder's number"
        if problem is not None:  # its number stays taken
            self.report(meta_path, f"model version {number} of {model!r} skipped: {problem}")
            return RawVersion(number, None, None, None, None, None, None, None, None, None,
                              None, None, None, {}, meta_path, usable=False)
        return RawVersion(
            version=number, creation_time=int_or_none(meta.get("creation_timestamp")),
            last_updated_time=int_or_none(meta.get("last_updated_timestamp")),
            description=meta.get("description"), user_id=meta.get("user_id"),
            current_stage=meta.get("current_stage"), source=meta.get("source"),
            storage_location=meta.get("storage_location"), run_id=meta.get("run_id"),
            run_link=meta.get("run_link"), model_id=meta.get("model_id"),
            status=meta.get("status"), status_message=meta.get("status_message"),
            tags=dict(self._reader.key_values(os.path.join(path, TAGS))), where=path)

    def run_locators(self, experiment: ExperimentRecord) -> list[str]:
        return [os.path.join(experiment.where, name)
                for name in sorted(list_dirs(experiment.where))
                if name not in RESERVED_EXPERIMENT_FOLDERS]

    def read_run(self, experiment: ExperimentRecord, locator: str) -> RunRecord | None:
        run_dir = locator
        meta_path = os.path.join(run_dir, META)
        try:
            meta_bytes = read_bytes(meta_path)
            meta = parse_meta(meta_bytes, meta_path)
            info = run_info_from_meta(meta, meta_path)
        except FileNotFoundError:
            self.report(run_dir, "run skipped: it has no meta.yaml")
            return None
        except OSError as exc:
            self.report(meta_path, f"run skipped: cannot be read ({exc.strerror})")
            return None
        except BadMeta as exc:
            self.report(meta_path, f"run skipped: {_why(exc, meta_path)}")
            return None
        folder = os.path.basename(run_dir)
        if info.run_id != folder:
            self.report(meta_path, f"run skipped: its run_id {info.run_id!r} is not its "
                                   f"folder's name {folder!r}")
            return None
        if info.experiment_id != experiment.experiment_id:
            self.report(meta_path, f"run skipped: its experiment_id {info.experiment_id!r} is "
                                   f"not its experiment's {experiment.experiment_id!r}")
            return None
        tags = dict(self._reader.key_values(os.path.join(run_dir, TAGS)))
        if not info.run_name:
            info.run_name = tags.get("mlflow.runName") or None
        params = dict(self._reader.key_values(os.path.join(run_dir, PARAMS)))
        inputs = self._reader.inputs(run_dir, experiment.where)
        metrics = []
        for key, path in walk_keys(os.path.join(run_dir, METRICS)):
            try:
                st = os.stat(path)
            except OSError as exc:
                self.report(path, f"metric '{key}' skipped: cannot be read ({exc.strerror})")
                continue
            metrics.append(MetricSeries(
                key=key, signature=f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}",
                size=st.st_size, resumable=True, locator=path))
        outputs = len(list_dirs(os.path.join(run_dir, "outputs")))
        if outputs:
            self._count("logged model outputs of runs", outputs)
        record = RunRecord(info=info, deleted_time=int_or_none(meta.get("deleted_time")),
                           params=params, tags=tags, datasets=inputs.dataset_inputs,
                           model_inputs=[m.model_id for m in inputs.model_inputs],
                           metrics=metrics, where=run_dir)
        record.compute_fingerprint(meta_bytes)
        if self.unchanged is None or not self.unchanged(info.run_id, record.fingerprint):
            self._prefetch(metrics)
        return record

    def _prefetch(self, metrics: list[MetricSeries]) -> None:
        """Read the small metric files of a run that will be imported (see
        :data:`PREFETCH_BYTES`); a file that cannot be read now is read later, and reported
        then."""
        budget = self.prefetch_bytes
        for series in metrics:
            if 0 < series.size <= budget:
                try:
                    series.data = read_bytes(series.locator)
                except OSError:
                    continue
                budget -= len(series.data)

    def points(self, run: RunRecord, series: MetricSeries, offset: int) -> Iterator[PointChunk]:
        path = series.locator
        data, series.data = series.data, None
        if data is not None and offset <= len(data):  # read ahead with the run
            yield from self._parse(series, iter((data[offset:],)), offset)
            return
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            self.report(path, f"metric '{series.key}' skipped: cannot be read ({exc.strerror})")
            return
        try:
            if offset:
                os.lseek(fd, offset, os.SEEK_SET)
            yield from self._parse(series, iter(lambda: os.read(fd, self.chunk_bytes), b""),
                                   offset)
        finally:
            os.close(fd)

    def _parse(self, series: MetricSeries, blocks: Iterator[bytes],
               offset: int) -> Iterator[PointChunk]:
        """The points of a metric file's bytes from *offset*, one chunk per block read (a line
        cut by a block's end is completed by the next)."""
        path = series.locator
        line = 0 if offset else 1  # line numbers are unknown after a resume: relative then
        position = offset
        carry = b""
        while True:
            data = next(blocks, b"")
            at_end = not data
            block = carry + data if carry else data
            cut = block.rfind(b"\n") + 1
            if not cut and not at_end:
                carry = block
                continue
            parsed = _metrics.parse(block[:cut] if cut < len(block) else block)
            for number, reason in parsed.bad_lines:
                where = (f"line {line + number - 1}" if line
                         else f"line {number} after byte {position}")
                self.report(path, f"metric '{series.key}': {where} is malformed ({reason}); "
                                  "skipped")
            if line:
                line += block.count(b"\n", 0, cut)
            position += cut
            carry = block[cut:]
            if at_end and carry and not recently_written(path):
                self.report(path, f"metric '{series.key}': torn last line (a writer was "
                                  "interrupted); skipped")
            if len(parsed.timestamps) or at_end:
                yield PointChunk(series.key, parsed.timestamps, parsed.values, parsed.steps,
                                 parsed.datasets, end=position, final=at_end)
            if at_end:
                return


def _why(exc: BaseException, path: str) -> str:
    """*exc*'s message without the path it starts with (the report names the path)."""
    text = str(exc)
    if text.startswith(path + " "):
        return "it " + text[len(path) + 1:] if text[len(path) + 1:].startswith(
            ("is ", "does ", "lacks ", "has ", "cannot ")) else text[len(path) + 1:]
    return text



# -- any trackstore store, through its API ------------------------------------------------------


class StoreSource(Source):
    """Any trackstore store (a trackstore SQL database, a tracking server), read through the
    store API: experiments and runs by search, each metric's history page by page.

    A run's ``deleted_time`` is read where the store can say it (a SQL store); through a
    server it is unknown (MLflow's API does not carry it). A metric's signature is its latest
    point (what the run shows as its value), so a run that
    logged more points since is imported again (the destination keeps each point once); a
    point added before the latest one is not noticed unless ``--full`` is given.
    """

    def __init__(self, store: Any, uri: str, report: Problem, page_points: int = 100_000) -> None:
        super().__init__(report)
        self.store = store
        self.description = uri
        self.identity = "store:" + uri
        self.page_points = page_points
        self._uncarried: dict[str, int] = {}

    def close(self) -> None:
        self.store.close()

    def uncarried(self) -> dict[str, int]:
        return dict(self._uncarried)

    def registered_models(self) -> list[RegisteredModelRecord] | None:
        """A trackstore database's registry, read from its tables (times, numbers and
        counters as stored); through a server the registry is not read (its API hides deleted
        versions' numbers and where versions are stored): it is only counted."""
        from ..store.sql.store import SqlStore

        if isinstance(self.store, SqlStore):
            from ..store.sql.registry_import import read_registry

            found = []
            for name, stored in sorted(read_registry(self.store).items()):
                record = stored.record
                record.next_version = stored.next_version
                record.where = f"{self.description} registered model {name}"
                found.append(record)
            return found
        self._count_registry()
        self.registry_note = ("through a server the model registry is not read: import from "
                              "the server's database to carry it")
        return None

    def _count_registry(self) -> None:
        prompts = "tags.`mlflow.prompt.is_prompt` = 'true'"
        try:
            for what, search, page_size in (
                    (MODELS, self.store.search_registered_models, 1000),
                    (VERSIONS, self.store.search_model_versions, 10_000)):
                for filter_string in (None, prompts):
                    token = None
                    while True:
                        page = search(filter_string=filter_string, max_results=page_size,
                                      page_token=token)
                        if len(page):
                            self._uncarried[what] = self._uncarried.get(what, 0) + len(page)
                        token = page.token
                        if not token:
                            break
        except TrackstoreError:  # a store without a registry (a server on a file store)
            return

    def experiments(self) -> list[ExperimentRecord]:
        found = []
        token = None
        while True:
            page = self.store.search_experiments(view_type=ViewType.ALL, max_results=1000,
                                                 page_token=token)
            for e in page:
                found.append(ExperimentRecord(
                    experiment_id=e.experiment_id, name=e.name,
                    artifact_location=e.artifact_location or None,
                    lifecycle_stage=e.lifecycle_stage, creation_time=e.creation_time,
                    last_update_time=e.last_update_time, tags=dict(e.tags),
                    where=f"{self.description} experiment {e.experiment_id}"))
            token = page.token
            if not token:
                return sorted(found, key=lambda r: (len(r.experiment_id), r.experiment_id))

    def run_locators(self, experiment: ExperimentRecord) -> list[str]:
        ids: list[str] = []
        token = None
        while True:
            page = self.store.search_runs([experiment.experiment_id], "", ViewType.ALL, 1000,
                                          None, token)
            ids.extend(r.info.run_id for r in page)
            token = page.token
            if not token:
                return ids

    def read_run(self, experiment: ExperimentRecord, locator: str) -> RunRecord | None:
        run = self.store.get_run(locator)
        metrics = [MetricSeries(key=m.key, signature=f"{m.step}:{m.timestamp}:{m.value!r}",
                                size=0)
                   for m in sorted(run.data.metric_objs, key=lambda m: m.key)]
        deleted_time = getattr(self.store, "deleted_time_of", None)
        record = RunRecord(
            info=run.info, deleted_time=deleted_time(locator) if deleted_time else None,
            params=dict(run.data.params),
            tags=dict(run.data.tags), datasets=list(run.inputs.dataset_inputs),
            model_inputs=[m.model_id for m in run.inputs.model_inputs], metrics=metrics,
            where=f"{self.description} run {locator}")
        record.compute_fingerprint()
        return record

    def points(self, run: RunRecord, series: MetricSeries, offset: int) -> Iterator[PointChunk]:
        token = None
        while True:
            page = self.store.get_metric_history(run.info.run_id, series.key,
                                                 max_results=self.page_points,
                                                 page_token=token)
            token = page.token
            datasets = [(i, m.dataset_name, m.dataset_digest) for i, m in enumerate(page)
                        if m.dataset_name is not None]
            yield PointChunk(series.key, array.array("q", [m.timestamp for m in page]),
                             array.array("d", [m.value for m in page]),
                             array.array("q", [m.step for m in page]), datasets,
                             final=not token)
            if not token:
                return
