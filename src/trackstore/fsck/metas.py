"""Checking ``meta.yaml`` files the way MLflow and trackstore read them, and rebuilding them
from what the tree proves.

MLflow 3.x builds a ``RunInfo`` or ``Experiment`` from every key it knows: a missing
required key or a value it cannot convert makes the *whole listing* fail, not just that run
(``search_runs`` and ``search_experiments`` raise). So a field is a problem here when either
reader would fail on it; legacy forms both accept (an integer ``experiment_id``, a run
without ``status``) are not.

A rebuild keeps every field that is valid, and derives only what is missing or wrong. The
rules (documented in docs/fsck.md):

* ids come from the directories (what MLflow's lookups use);
* a run's lifecycle stage is ``deleted`` in an experiment in ``.trash``, else what the file
  said, else ``active``; an experiment's follows its location;
* a run's ``start_time`` is the earliest metric timestamp, else the oldest file in the run;
  an unknown status becomes ``KILLED`` (the run cannot be running: nothing will end it, and
  nothing proves it finished), its ``end_time`` the latest metric timestamp or file;
* ``user_id`` and ``run_name`` come from the ``mlflow.user`` / ``mlflow.runName`` tags;
* ``artifact_uri`` is ``<experiment artifact_location>/<run_id>/artifacts``;
* an experiment's lost name becomes ``recovered-<experiment_id>`` (``Default`` for ``0``),
  with ``-2``, ``-3``... appended while another experiment has it, so it never collides.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import _yamlio
from ..entities import Experiment, LifecycleStage, RunInfo, RunStatus
from ..exceptions import MalformedYamlError
from ..store.file.meta import append_to_uri, experiment_meta, run_meta

_STAGES = (LifecycleStage.ACTIVE, LifecycleStage.DELETED)
_STATUS_NUMBERS = {RunStatus.to_string(n): n for n in RunStatus.all_status()}


def load_mapping(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(mapping, None) for a readable meta.yaml, else (None, what is wrong with it)."""
    if not data.strip():
        return None, "is empty"
    try:
        meta = _yamlio.load(data)
    except MalformedYamlError as exc:
        return None, f"is not valid YAML ({exc})"
    if meta is None:
        return None, "is empty"
    if not isinstance(meta, dict):
        return None, "does not hold a mapping"
    return meta, None


def salvage(data: bytes) -> dict[str, Any]:
    """The fields still readable in a damaged meta.yaml: the longest prefix of whole lines
    that loads as a mapping (a file cut short by a crash keeps its first fields)."""
    lines = data.split(b"\n")
    for end in range(len(lines) - 1, 0, -1):
        try:
            meta = _yamlio.load(b"\n".join(lines[:end]) + b"\n")
        except MalformedYamlError:
            continue
        if isinstance(meta, dict):
            return meta
    return {}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_int(value: Any) -> bool:
    return value is None or _is_int(value)


def run_field_problems(meta: dict[str, Any]) -> list[str]:
    """What MLflow or trackstore cannot read in a run meta.yaml (ids are compared with the
    directories elsewhere)."""
    problems = []
    for key in ("run_id", "run_uuid"):
        if key in meta and not isinstance(meta[key], str):
            problems.append(f"{key} is not a string")
    if "run_id" not in meta:
        problems.append("run_id is missing")
    experiment_id = meta.get("experiment_id")
    if experiment_id is None:
        problems.append("experiment_id is missing")
    elif not (isinstance(experiment_id, str) or _is_int(experiment_id)):
        problems.append("experiment_id is neither a string nor an integer")
    if meta.get("user_id") is None:
        problems.append("user_id is missing")
    if "status" in meta and not (_is_int(meta["status"]) and meta["status"] in range(1, 6)):
        problems.append(f"status {meta['status']!r} is not a run status number (1-5)")
    if "lifecycle_stage" in meta and meta["lifecycle_stage"] not in _STAGES:
        problems.append(f"lifecycle_stage {meta['lifecycle_stage']!r} is not active or deleted")
    for key in ("start_time", "end_time"):
        if key not in meta:
            problems.append(f"{key} is missing")
        elif not _optional_int(meta[key]):
            problems.append(f"{key} {meta[key]!r} is not a number of milliseconds")
    if not _optional_int(meta.get("deleted_time")):
        problems.append("deleted_time is not a number of milliseconds")
    for key in ("artifact_uri", "run_name"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            problems.append(f"{key} is not a string")
    return problems


def experiment_field_problems(meta: dict[str, Any]) -> list[str]:
    """What MLflow or trackstore cannot read in an experiment meta.yaml."""
    problems = []
    experiment_id = meta.get("experiment_id")
    if experiment_id is None:
        problems.append("experiment_id is missing")
    elif not (isinstance(experiment_id, str) or _is_int(experiment_id)):
        problems.append("experiment_id is neither a string nor an integer")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        problems.append("name is missing" if name is None else f"name {name!r} is not a string")
    if not isinstance(meta.get("artifact_location"), str):
        problems.append("artifact_location is missing")
    if meta.get("lifecycle_stage") not in _STAGES:
        problems.append(f"lifecycle_stage {meta.get('lifecycle_stage')!r} is not active or "
                        "deleted")
    for key in ("creation_time", "last_update_time"):
        if not _optional_int(meta.get(key)):
            problems.append(f"{key} {meta[key]!r} is not a number of milliseconds")
    return problems


@dataclasses.dataclass(slots=True)
class RunEvidence:
    """What a run's files prove about it, for rebuilding its meta.yaml."""

    first_timestamp: int | None = None
    last_timestamp: int | None = None
    oldest_file_ms: int | None = None
    newest_file_ms: int | None = None
    run_name_tag: str | None = None
    user_tag: str | None = None

    def saw_points(self, first: int, last: int) -> None:
        if self.first_timestamp is None or first < self.first_timestamp:
            self.first_timestamp = first
        if self.last_timestamp is None or last > self.last_timestamp:
            self.last_timestamp = last

    def saw_file(self, mtime_ns: int) -> None:
        ms = mtime_ns // 1_000_000
        if self.oldest_file_ms is None or ms < self.oldest_file_ms:
            self.oldest_file_ms = ms
        if self.newest_file_ms is None or ms > self.newest_file_ms:
            self.newest_file_ms = ms


def rebuild_run(old: dict[str, Any], run_id: str, experiment_id: str,
                artifact_location: str, in_trash: bool, trash_time: int | None,
                evidence: RunEvidence) -> dict[str, Any]:
    """A valid run meta.yaml mapping: *old*'s valid fields, the rest derived (module doc)."""
    valid = {k: v for k, v in old.items()
             if not run_field_problems({**_RUN_PLACEHOLDER, k: v})}
    status = valid.get("status")
    if status is None and isinstance(old.get("status"), str):
        status = _STATUS_NUMBERS.get(old["status"])  # a hand-edited name: MLflow needs the number
    start = valid.get("start_time")
    if not _is_int(start):
        start = evidence.first_timestamp
        if start is None:
            start = evidence.oldest_file_ms
    end = valid.get("end_time")
    if status is None:
        status = RunStatus.KILLED
        if not _is_int(end):
            end = evidence.last_timestamp
            if end is None:
                end = evidence.newest_file_ms
            if end is not None and start is not None:
                end = max(end, start)
    stage = valid.get("lifecycle_stage", LifecycleStage.ACTIVE)
    deleted_time = valid.get("deleted_time")
    if in_trash:
        stage = LifecycleStage.DELETED
        if deleted_time is None:
            deleted_time = trash_time
    user = valid.get("user_id")
    run_name = valid.get("run_name") or evidence.run_name_tag or ""
    info = RunInfo(
        run_id=run_id, experiment_id=experiment_id,
        user_id=str(user) if user is not None else (evidence.user_tag or "unknown"),
        status=RunStatus.to_string(status), start_time=start, end_time=end,
        lifecycle_stage=stage,
        artifact_uri=valid.get("artifact_uri") or append_to_uri(artifact_location, run_id,
                                                                "artifacts"),
        run_name=run_name)
    extras = {k: v for k, v in old.items() if k not in _RUN_PLACEHOLDER}
    meta = run_meta(info, extras, deleted_time if stage == LifecycleStage.DELETED else None)
    return meta


#: A run meta.yaml with every field valid: a field of a damaged file is kept when it is
#: valid in place of the placeholder's.
_RUN_PLACEHOLDER: dict[str, Any] = {
    "run_id": "0", "run_uuid": "0", "experiment_id": "0", "user_id": "u", "status": 1,
    "lifecycle_stage": LifecycleStage.ACTIVE, "start_time": None, "end_time": None,
    "deleted_time": None, "artifact_uri": None, "run_name": None,
}
_EXPERIMENT_PLACEHOLDER: dict[str, Any] = {
    "experiment_id": "0", "name": "n", "artifact_location": "a",
    "lifecycle_stage": LifecycleStage.ACTIVE, "creation_time": None, "last_update_time": None,
}


def recovered_name(experiment_id: str, taken: set[str]) -> str:
    """The name given to an experiment whose name is lost (never one in *taken*)."""
    base = "Default" if experiment_id == "0" else f"recovered-{experiment_id}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def rebuild_experiment(old: dict[str, Any], experiment_id: str, in_trash: bool,
                       taken_names: set[str], artifact_location: str,
                       first_start: int | None) -> dict[str, Any]:
    """A valid experiment meta.yaml mapping: *old*'s valid fields, the rest derived."""
    valid = {k: v for k, v in old.items()
             if not experiment_field_problems({**_EXPERIMENT_PLACEHOLDER, k: v})}
    name = valid.get("name")
    if name is None and _is_int(old.get("name")):
        name = str(old["name"])  # "name: 2024" loads as a number: the name is still 2024
    if name is None:
        name = recovered_name(experiment_id, taken_names)
    created = valid.get("creation_time", first_start)
    updated = valid.get("last_update_time", created)
    experiment = Experiment(
        experiment_id=experiment_id, name=name,
        artifact_location=valid.get("artifact_location", artifact_location),
        lifecycle_stage=LifecycleStage.DELETED if in_trash else LifecycleStage.ACTIVE,
        creation_time=created, last_update_time=updated)
    extras = {k: v for k, v in old.items() if k not in _EXPERIMENT_PLACEHOLDER}
    return experiment_meta(experiment, extras or None)
