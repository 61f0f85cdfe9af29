"""Value objects of the tracking API: the same names, fields and constructors as MLflow's.

They are small slotted classes with value equality and no behaviour beyond conversion helpers
that MLflow users rely on (``RunStatus.to_string``, ``Run.data.metrics`` as a dict, ...).
Conversion to and from MLflow's JSON shape lives with the server, not here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar


def now_ms() -> int:
    """Now, in milliseconds since the epoch: MLflow's timestamps."""
    return time.time_ns() // 1_000_000


T = TypeVar("T")


class RunStatus:
    """Run states; ``meta.yaml`` stores the number, SQL and JSON the name."""

    RUNNING, SCHEDULED, FINISHED, FAILED, KILLED = range(1, 6)
    _TO_STRING = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
    _FROM_STRING = {name: number for number, name in _TO_STRING.items()}
    _TERMINATED = frozenset({FINISHED, FAILED, KILLED})

    @classmethod
    def to_string(cls, status: int) -> str:
        try:
            return cls._TO_STRING[status]
        except (KeyError, TypeError):
            raise ValueError(f"Could not get string corresponding to run status {status}") from None

    @classmethod
    def from_string(cls, status: str) -> int:
        try:
            return cls._FROM_STRING[status]
        except (KeyError, TypeError):
            raise ValueError(
                f"Could not get run status corresponding to string {status}. Valid run status "
                f"strings: {list(cls._FROM_STRING)}"
            ) from None

    @classmethod
    def is_terminated(cls, status: int) -> bool:
        return status in cls._TERMINATED

    @classmethod
    def all_status(cls) -> list[int]:
        return list(cls._TO_STRING)


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"

    @classmethod
    def view_type_to_stages(cls, view_type: int) -> list[str]:
        stages = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            stages.append(cls.ACTIVE)
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            stages.append(cls.DELETED)
        return stages

    @classmethod
    def matches_view_type(cls, view_type: int, lifecycle_stage: str) -> bool:
        if view_type == ViewType.ALL:
            return lifecycle_stage in (cls.ACTIVE, cls.DELETED)
        if view_type == ViewType.ACTIVE_ONLY:
            return lifecycle_stage == cls.ACTIVE
        if view_type == ViewType.DELETED_ONLY:
            return lifecycle_stage == cls.DELETED
        return False


class ViewType:
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY, DELETED_ONLY, ALL = range(1, 4)
    _TO_STRING = {1: "active_only", 2: "deleted_only", 3: "all"}
    _FROM_STRING = {name: number for number, name in _TO_STRING.items()}

    @classmethod
    def from_string(cls, view_str: str) -> int:
        try:
            return cls._FROM_STRING[view_str.lower()]
        except (KeyError, AttributeError):
            raise ValueError(
                f"Could not get valid view type corresponding to string {view_str}. "
                f"Valid view types are {list(cls._FROM_STRING)}"
            ) from None

    @classmethod
    def to_string(cls, view_type: int) -> str:
        try:
            return cls._TO_STRING[view_type]
        except KeyError:
            raise ValueError(f"Invalid view type {view_type}") from None


class SourceType:
    NOTEBOOK, JOB, PROJECT, LOCAL = range(1, 5)
    UNKNOWN = 1000


class Metric:
    """One observation of a metric; ``value`` is a float (NaN and +-inf included)."""

    __slots__ = ("dataset_digest", "dataset_name", "key", "model_id", "run_id", "step",
                 "timestamp", "value")

    def __init__(
        self,
        key: str,
        value: float,
        timestamp: int,
        step: int,
        model_id: str | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
        self.model_id = model_id
        self.dataset_name = dataset_name
        self.dataset_digest = dataset_digest
        self.run_id = run_id

    def _identity(self) -> tuple[Any, ...]:
        return (self.key, self.timestamp, self.step, self.model_id, self.dataset_name,
                self.dataset_digest, self.run_id)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Metric:
            return NotImplemented
        # NaN equals NaN here: two NaN observations at the same point are the same observation.
        a, b = self.value, other.value
        if not (a == b or (_isnan(a) and _isnan(b))):
            return False
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash((self.key, self.timestamp, self.step))

    def __repr__(self) -> str:
        return (f"<Metric: key={self.key!r}, value={self.value!r}, timestamp={self.timestamp}, "
                f"step={self.step}>")

    def to_dictionary(self) -> dict[str, Any]:
        d: dict[str, Any] = {"key": self.key, "value": self.value,
                             "timestamp": self.timestamp, "step": self.step}
        for name in ("model_id", "dataset_name", "dataset_digest", "run_id"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        return d


@dataclass(slots=True)
class Param:
    key: str
    value: str


@dataclass(slots=True)
class RunTag:
    key: str
    value: str


@dataclass(slots=True)
class ExperimentTag:
    key: str
    value: str


@dataclass(slots=True)
class InputTag:
    key: str
    value: str


@dataclass(slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class DatasetInput:
    dataset: Dataset
    tags: list[InputTag] = field(default_factory=list)


@dataclass(slots=True)
class LoggedModelInput:
    model_id: str


@dataclass(slots=True)
class RunInputs:
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[LoggedModelInput] = field(default_factory=list)


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str | None = None
    run_name: str | None = None

    @property
    def run_uuid(self) -> str:
        return self.run_id


class RunData:
    """Params, tags and the latest value of each metric (max by ``(step, timestamp, value)``)."""

    __slots__ = ("_metric_objs", "metrics", "params", "tags")

    def __init__(
        self,
        metrics: Iterable[Metric] | None = None,
        params: Iterable[Param] | None = None,
        tags: Iterable[RunTag] | None = None,
    ) -> None:
        self._metric_objs: list[Metric] = list(metrics or ())
        self.metrics: dict[str, float] = {m.key: m.value for m in self._metric_objs}
        self.params: dict[str, str] = {p.key: p.value for p in params or ()}
        self.tags: dict[str, str] = {t.key: t.value for t in tags or ()}

    @property
    def metric_objs(self) -> list[Metric]:
        """The latest :class:`Metric` of each key, with its timestamp and step."""
        return self._metric_objs

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunData):
            return NotImplemented
        return (sorted(self._metric_objs, key=lambda m: m.key)
                == sorted(other._metric_objs, key=lambda m: m.key)
                and self.params == other.params and self.tags == other.tags)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<RunData: metrics={self.metrics!r}, params={self.params!r}, tags={self.tags!r}>"

    def to_dictionary(self) -> dict[str, Any]:
        return {"metrics": dict(self.metrics), "params": dict(self.params), "tags": dict(self.tags)}


class Run:
    """A run: ``info``, ``data`` (params, tags, latest metrics) and ``inputs``."""

    __slots__ = ("data", "info", "inputs")

    def __init__(self, run_info: RunInfo, run_data: RunData,
                 run_inputs: RunInputs | None = None) -> None:
        self.info = run_info
        self.data = run_data
        self.inputs = run_inputs if run_inputs is not None else RunInputs()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        return (self.info, self.data, self.inputs) == (other.info, other.data, other.inputs)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Run: info={self.info!r}, data={self.data!r}>"

    def to_dictionary(self) -> dict[str, Any]:
        return {"info": _fields(self.info), "data": self.data.to_dictionary()}


class Experiment:
    """An experiment; ``tags`` is a dict, as in MLflow."""

    __slots__ = ("artifact_location", "creation_time", "experiment_id", "last_update_time",
                 "lifecycle_stage", "name", "tags")

    DEFAULT_EXPERIMENT_NAME = "Default"

    def __init__(
        self,
        experiment_id: str,
        name: str,
        artifact_location: str,
        lifecycle_stage: str,
        tags: Iterable[ExperimentTag] | dict[str, str] | None = None,
        creation_time: int | None = None,
        last_update_time: int | None = None,
    ) -> None:
        self.experiment_id = experiment_id
        self.name = name
        self.artifact_location = artifact_location
        self.lifecycle_stage = lifecycle_stage
        if isinstance(tags, dict):
            self.tags: dict[str, str] = dict(tags)
        else:
            self.tags = {t.key: t.value for t in tags or ()}
        self.creation_time = creation_time
        self.last_update_time = last_update_time

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Experiment):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"<Experiment: experiment_id={self.experiment_id!r}, name={self.name!r}, "
                f"lifecycle_stage={self.lifecycle_stage!r}>")

    def to_dictionary(self) -> dict[str, Any]:
        return {s: getattr(self, s) for s in self.__slots__}


class PagedList(list[T], Generic[T]):
    """A page of results; ``token`` fetches the next page (``None`` on the last one)."""

    def __init__(self, items: Iterable[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token

    def to_list(self) -> list[T]:
        return list(self)


@dataclass(slots=True)
class MetricHistory:
    """A metric's history as columns: no Python object per point.

    ``timestamps`` and ``steps`` are ``array('q')``, ``values`` is ``array('d')``; they support
    the buffer protocol (``numpy.frombuffer(h.values)`` costs nothing).
    """

    key: str
    timestamps: Any
    values: Any
    steps: Any

    def __len__(self) -> int:
        return len(self.timestamps)

    def __iter__(self) -> Iterator[tuple[int, float, int]]:
        return zip(self.timestamps, self.values, self.steps, strict=True)


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}
