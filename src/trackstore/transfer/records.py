"""What an import carries from a source to a destination: plain records, no store objects.

A source yields :class:`ExperimentRecord` and :class:`RunRecord` objects (small: everything
but the metric points), and streams each metric's points as :class:`PointChunk` columns, so
that memory holds at most a few chunks whatever the size of the tree or of one history. Its
model registry comes as :class:`RegisteredModelRecord` objects, each with its versions
(:class:`ModelVersionRecord`).
"""

from __future__ import annotations

import array
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from ..entities import DatasetInput, RunInfo


@dataclass(slots=True)
class ExperimentRecord:
    experiment_id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: dict[str, str]
    #: Where the source keeps it (a path or a table row), for reports.
    where: str = ""


@dataclass(slots=True)
class MetricSeries:
    """One metric of a run as the source holds it (its points are read on demand)."""

    key: str
    #: Changes whenever the series does (a file's inode, size and mtime; a row count and sum).
    signature: str
    #: How much there is to read: bytes of a metric file, or points of a database.
    size: int
    #: The points can be read from an offset where an earlier read stopped (an append-only
    #: metric file): an import that was interrupted, or a run still being logged, continues
    #: there instead of reading the series again.
    resumable: bool = False
    #: Source-private locator (a file path).
    locator: str = ""
    #: The series' bytes when the source read them with the run (small metric files).
    data: bytes | None = None


@dataclass(slots=True)
class RunRecord:
    info: RunInfo
    deleted_time: int | None
    params: dict[str, str]
    tags: dict[str, str]
    datasets: list[DatasetInput]
    model_inputs: list[str]
    metrics: list[MetricSeries]
    where: str = ""
    #: A digest of everything above: equal fingerprints mean nothing to import again.
    fingerprint: str = ""

    def compute_fingerprint(self, extra: bytes = b"") -> str:
        """Set and return :attr:`fingerprint` from the record's content."""
        h = hashlib.blake2b(digest_size=16)
        info = self.info
        for part in (info.run_id, info.experiment_id, info.user_id, info.status,
                     info.start_time, info.end_time, info.lifecycle_stage, info.artifact_uri,
                     info.run_name, self.deleted_time):
            h.update(repr(part).encode("utf-8", "surrogatepass"))
            h.update(b"\0")
        for mapping in (self.params, self.tags):
            for k in sorted(mapping):
                h.update(k.encode("utf-8", "surrogatepass") + b"\0"
                         + mapping[k].encode("utf-8", "surrogatepass") + b"\0")
            h.update(b"\1")
        for d in self.datasets:
            ds = d.dataset
            h.update(repr((ds.name, ds.digest, ds.source_type, ds.source, ds.schema, ds.profile,
                           sorted((t.key, t.value) for t in d.tags))).encode())
        h.update(repr(self.model_inputs).encode())
        for m in sorted(self.metrics, key=lambda m: m.key):
            h.update(m.key.encode("utf-8", "surrogatepass") + b"\0" + m.signature.encode()
                     + b"\0")
        h.update(extra)
        self.fingerprint = h.hexdigest()
        return self.fingerprint


@dataclass(slots=True)
class PointChunk:
    """Consecutive points of one metric, as columns (the metric-file parser's)."""

    key: str
    timestamps: array.array[int]
    values: array.array[float]
    steps: array.array[int]
    #: ``(row, dataset_name, dataset_digest)`` for the points that name a dataset.
    datasets: list[tuple[int, str, str]] = field(default_factory=list)
    #: Where the next read of the series starts (a byte offset of a resumable series).
    end: int = 0
    #: The last chunk of the series.
    final: bool = True

    def __len__(self) -> int:
        return len(self.timestamps)


@dataclass(slots=True)
class ModelVersionRecord:
    """A live version of a registered model, every field as the source stores it (the stage
    and status in MLflow's spelling)."""

    version: int
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    user_id: str | None
    current_stage: str
    source: str
    storage_location: str | None
    run_id: str | None
    run_link: str | None
    model_id: str | None
    status: str
    status_message: str | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RegisteredModelRecord:
    """A registered model with its live versions (by number) and aliases (alias -> version).

    ``used_versions`` holds every version number the source ever gave the model, its deleted
    (``Deleted_Internal``) versions included, with each one's creation time: the destination
    never hands those numbers out again, and a destination version that is not among them
    was not imported from this model.
    """

    name: str
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    deployment_job_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[ModelVersionRecord] = field(default_factory=list)
    used_versions: dict[int, int | None] = field(default_factory=dict)
    #: The number the source would give the next version, where it keeps a counter (a
    #: trackstore database; 0: it does not, its numbers are ``used_versions``).
    next_version: int = 0
    #: Where the source keeps it, for reports.
    where: str = ""

    @property
    def highest_version(self) -> int:
        """The highest version number the source used (0: none)."""
        return max(max(self.used_versions, default=0), self.next_version - 1)

    def content(self) -> tuple[object, ...]:
        """Everything a destination copy must equal (not the version counter)."""
        return (self.name, self.creation_time, self.last_updated_time, self.description,
                self.deployment_job_id, sorted(self.tags.items()), sorted(self.aliases.items()),
                sorted(self.versions, key=lambda v: v.version))


#: ``report(where, reason)``: how sources and writers report what they skip.
Problem = Callable[[str, str], None]
