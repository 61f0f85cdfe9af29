"""``trackstore import``: the loop that moves a source into a destination store.

Runs are read ahead by a pool of threads (:class:`_ReadAhead`: ``meta.yaml``, params, tags and
inputs, plus the bytes of small metric files), at most ``read_ahead`` runs at a time, so memory
stays bounded whatever the tree's size, and written by the calling thread in transactions of
about ``batch_points`` points. A run whose fingerprint equals the one the destination recorded
for this source is skipped: a second import of an unchanged tree writes nothing.

The model registry comes last (:meth:`Importer._registry`): a destination that can hold it
(a SQL store's writer has ``registered_model``) gets each registered model in a transaction of
its own; any other destination has it counted as not carried.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from .records import ExperimentRecord, PointChunk, RegisteredModelRecord, RunRecord
from .registry import registry_counts
from .sources import Source


class ImportProblem(TrackstoreError):
    """A malformed part of the source met with ``strict=True``."""


class Writer(Protocol):
    fingerprints: dict[str, str]

    def experiment(self, rec: ExperimentRecord) -> str: ...
    def begin_run(self, rec: RunRecord, experiment_id: str) -> Any: ...
    def write_points(self, target: Any, chunk: PointChunk, resumable: bool) -> int: ...
    def end_run(self, target: Any, rec: RunRecord) -> None: ...
    def commit(self) -> None: ...
    def rollback(self, exc: BaseException) -> None: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...


@dataclass
class ImportSummary:
    source: str = ""
    destination: str = ""
    experiments: int = 0
    runs_total: int = 0
    runs_imported: int = 0
    runs_unchanged: int = 0
    runs_skipped: int = 0
    points: int = 0
    duplicate_points: int = 0
    seconds: float = 0.0
    problems: list[tuple[str, str]] = field(default_factory=list)
    uncarried: dict[str, int] = field(default_factory=dict)
    #: Experiments that went to another id than the source's: ``{source id: destination id}``.
    remapped: dict[str, str] = field(default_factory=dict)
    #: The model registry carried: registered models by outcome (``created``, ``updated``,
    #: ``unchanged``, ``conflict``) and the live versions of those imported or unchanged.
    models: dict[str, int] = field(default_factory=dict)
    model_versions: int = 0
    #: Why the registry is in ``uncarried`` (the destination cannot hold it), if it is.
    registry_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "destination": self.destination,
            "experiments": self.experiments, "experiments_remapped": self.remapped,
            "runs": {"total": self.runs_total, "imported": self.runs_imported,
                     "unchanged": self.runs_unchanged, "skipped": self.runs_skipped},
            "points": self.points, "duplicate_points": self.duplicate_points,
            "seconds": round(self.seconds, 3),
            "problems": [{"where": w, "reason": r} for w, r in self.problems],
            "registered_models": {"total": sum(self.models.values()),
                                  **{k: self.models.get(k, 0) for k in _OUTCOMES},
                                  "versions": self.model_versions},
            "not_carried": self.uncarried,
        }


Progress = Callable[[ImportSummary], None]
_OUTCOMES = ("created", "updated", "unchanged", "conflict")
#: Why a destination without ``registered_model`` does not get the registry.
REGISTRY_NEEDS_A_DATABASE = ("the model registry is carried into a database destination "
                             "only: import into a trackstore SQL database")


class _ReadAhead:
    """Reads runs on a thread pool, in order, at most *depth* runs ahead of the writer."""

    def __init__(self, source: Source, work: list[tuple[ExperimentRecord, str]], jobs: int,
                 depth: int) -> None:
        self._source = source
        self._work = work
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="trackstore-read")
        self._depth = max(depth, jobs)

    def __iter__(self) -> Iterator[tuple[ExperimentRecord, RunRecord | None]]:
        pending: queue.SimpleQueue[tuple[ExperimentRecord, Future[RunRecord | None]]]
        pending = queue.SimpleQueue()
        work = iter(self._work)
        submitted = 0

        def submit() -> bool:
            item = next(work, None)
            if item is None:
                return False
            experiment, locator = item
            pending.put((experiment, self._pool.submit(self._source.read_run, experiment,
                                                        locator)))
            return True

        try:
            while submitted < self._depth and submit():
                submitted += 1
            while submitted:
                experiment, future = pending.get()
                submitted -= 1
                if submit():
                    submitted += 1
                yield experiment, future.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


class Importer:
    """One import of *source* through *writer* (see the module doc)."""

    def __init__(self, source: Source, writer: Writer, *, full: bool = False, jobs: int = 4,
                 read_ahead: int = 64, progress: Progress | None = None,
                 summary: ImportSummary | None = None) -> None:
        self.source = source
        self.writer = writer
        self.full = full
        self.jobs = jobs
        self.read_ahead = read_ahead
        self.progress = progress
        self.summary = summary if summary is not None else ImportSummary()
        #: The source's model registry as this import read it (for ``--verify``).
        self.registered_models: list[RegisteredModelRecord] | None = None

    def run(self) -> ImportSummary:
        summary = self.summary
        started = self._started = time.perf_counter()
        source, writer = self.source, self.writer
        if not self.full:
            fingerprints = writer.fingerprints
            source.unchanged = lambda run_id, fp: fingerprints.get(run_id) == fp
        registry_uncarried: dict[str, int] = {}
        try:
            targets: dict[str, str] = {}
            work: list[tuple[ExperimentRecord, str]] = []
            for rec in source.experiments():
                target = writer.experiment(rec)
                targets[rec.experiment_id] = target
                summary.experiments += 1
                if target != rec.experiment_id:
                    summary.remapped[rec.experiment_id] = target
                work.extend((rec, locator) for locator in source.run_locators(rec))
            writer.commit()
            summary.runs_total = len(work)
            self._tick()
            for experiment, run in _ReadAhead(source, work, self.jobs, self.read_ahead):
                if run is None:
                    summary.runs_skipped += 1
                elif not self.full and writer.fingerprints.get(run.info.run_id) == \
                        run.fingerprint:
                    summary.runs_unchanged += 1
                else:
                    self._import_run(run, targets[experiment.experiment_id])
                    summary.runs_imported += 1
                self._tick()
            registry_uncarried = self._registry()
            writer.finish()
        except BaseException as exc:
            writer.rollback(exc)
            raise
        finally:
            summary.uncarried = {**source.uncarried(), **registry_uncarried}
            summary.seconds = time.perf_counter() - started
            writer.close()
        self._tick(force=True)
        return summary

    def _registry(self) -> dict[str, int]:
        """Import the source's model registry where the destination holds one; else what
        it would have been, to count as not carried."""
        models = self.registered_models = self.source.registered_models()
        if models is None:  # counted by the source (uncarried), with its reason
            self.summary.registry_note = self.source.registry_note
            return {}
        if not models:
            return {}
        write = getattr(self.writer, "registered_model", None)
        if write is None:
            self.summary.registry_note = getattr(self.writer, "registry_note",
                                                 REGISTRY_NEEDS_A_DATABASE)
            return registry_counts(models)
        summary = self.summary
        for rec in models:
            outcome = write(rec)
            summary.models[outcome] = summary.models.get(outcome, 0) + 1
            if outcome != "conflict":
                summary.model_versions += len(rec.versions)
        return {}

    def _import_run(self, run: RunRecord, experiment_id: str) -> None:
        writer, summary = self.writer, self.summary
        target = writer.begin_run(run, experiment_id)
        offsets: dict[str, int] = target.offsets
        for series in run.metrics:
            offset = offsets.get(series.key, 0) if series.resumable and not self.full else 0
            if offset > series.size:  # the file was replaced: read it all (no duplicates)
                offset = 0
            for chunk in self.source.points(run, series, offset):
                summary.duplicate_points += writer.write_points(target, chunk,
                                                                series.resumable)
                summary.points += len(chunk)
                if len(chunk):
                    self._tick()
        writer.end_run(target, run)

    _last = 0.0
    _started = 0.0

    def _tick(self, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.perf_counter()
        if force or now - self._last >= 0.2:
            self._last = now
            self.summary.seconds = now - self._started
            self.progress(self.summary)


def strict_report(summary: ImportSummary, strict: bool) -> Callable[[str, str], None]:
    """The ``report(where, reason)`` callback of an import: noted in *summary*; with *strict*,
    the first problem stops the import."""
    lock = threading.Lock()

    def report(where: str, reason: str) -> None:
        with lock:
            summary.problems.append((where, reason))
        if strict:
            raise ImportProblem(f"{where}: {reason} (--strict: the import stopped here; what "
                                "was committed before stays, and a new run resumes)",
                                INVALID_PARAMETER_VALUE)

    return report
