"""``meta.yaml`` of runs and experiments: what MLflow writes and reads, both ways.

Run files carry both ``run_id`` (MLflow 3.x) and ``run_uuid`` (required by MLflow 2.x
readers); the legacy ``source_*``/``entry_point_name``/``tags`` fields are written as MLflow
writes them. Keys trackstore does not know are kept when a file is rewritten, so a newer
MLflow's additions survive our updates.
"""

from __future__ import annotations

import os
import pathlib
import urllib.parse
import urllib.request
from typing import Any

from ... import _yamlio
from ...entities import Experiment, LifecycleStage, RunInfo, RunStatus, SourceType
from ...exceptions import MalformedYamlError
from .layout import read_bytes

#: Fields MLflow 3.x writes into a new experiment's meta.yaml besides ours.
_EXPERIMENT_EXTRAS: dict[str, Any] = {
    "effective_trace_archival_retention": None,
    "trace_location": None,
    "workspace": "default",
}


class BadMeta(Exception):
    """A meta.yaml that is missing, empty or not what it should be (reported, then skipped)."""


def load_meta(path: str) -> dict[str, Any]:
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        raise BadMeta(f"{path} does not exist") from None
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise BadMeta(f"{path} cannot be read: {exc.strerror}") from None
    return parse_meta(data, path)


def parse_meta(data: bytes, path: str) -> dict[str, Any]:
    """The mapping in a meta.yaml's bytes; BadMeta if there is none."""
    try:
        meta = _yamlio.load(data)
    except MalformedYamlError as exc:
        raise BadMeta(f"{path} is not valid YAML ({exc}: {exc.detail})") from None
    if meta is None:
        raise BadMeta(f"{path} is empty")
    if not isinstance(meta, dict):
        raise BadMeta(f"{path} does not hold a mapping")
    return meta


def dump_meta(meta: dict[str, Any]) -> bytes:
    return _yamlio.dump(meta)


# -- runs ----------------------------------------------------------------------------------


#: meta.yaml status (the number, or a name from hand-edited files) -> RunInfo.status.
_STATUS_NAMES: dict[int | str, str] = {n: RunStatus.to_string(n) for n in RunStatus.all_status()}
_STATUS_NAMES.update({name: name for name in list(_STATUS_NAMES.values())})
_STAGES = frozenset({LifecycleStage.ACTIVE, LifecycleStage.DELETED})


def run_info_from_meta(meta: dict[str, Any], path: str) -> RunInfo:
    get = meta.get
    run_id = get("run_id") or get("run_uuid")
    experiment_id = get("experiment_id")
    if not isinstance(run_id, str) or experiment_id is None:
        raise BadMeta(f"{path} lacks run_id or experiment_id")
    status = get("status", RunStatus.RUNNING)
    status_name = _STATUS_NAMES.get(status) if isinstance(status, (int, str)) else None
    if status_name is None:
        raise BadMeta(f"{path} has an unknown status {status!r}")
    stage = get("lifecycle_stage") or LifecycleStage.ACTIVE
    if stage not in _STAGES:
        raise BadMeta(f"{path} has an unknown lifecycle_stage {stage!r}")
    user_id = get("user_id")
    start, end = get("start_time"), get("end_time")
    return RunInfo(
        run_id,
        experiment_id if type(experiment_id) is str else str(experiment_id),
        user_id if type(user_id) is str else ("unknown" if user_id is None else str(user_id)),
        status_name,
        start if type(start) is int else int_or_none(start),
        end if type(end) is int else int_or_none(end),
        stage,
        get("artifact_uri"),
        get("run_name") or None,
    )


def run_meta(info: RunInfo, previous: dict[str, Any] | None = None,
             deleted_time: int | None = None) -> dict[str, Any]:
    """The meta.yaml mapping of *info*, keeping unknown keys of *previous*."""
    meta = dict(previous or {})
    meta.pop("deleted_time", None)
    meta.update(
        artifact_uri=info.artifact_uri,
        end_time=info.end_time,
        entry_point_name="",
        experiment_id=info.experiment_id,
        lifecycle_stage=info.lifecycle_stage,
        run_id=info.run_id,
        run_uuid=info.run_id,
        run_name=info.run_name or "",
        source_name="",
        source_type=SourceType.LOCAL,
        source_version="",
        start_time=info.start_time,
        status=RunStatus.from_string(info.status),
        tags=[],
        user_id=info.user_id,
    )
    if deleted_time is not None:
        meta["deleted_time"] = deleted_time
    return meta


# -- experiments ---------------------------------------------------------------------------


def experiment_from_meta(meta: dict[str, Any], path: str,
                         tags: dict[str, str]) -> Experiment:
    experiment_id = meta.get("experiment_id")
    name = meta.get("name")
    if experiment_id is None or not isinstance(name, str):
        raise BadMeta(f"{path} lacks experiment_id or name")
    stage = meta.get("lifecycle_stage") or LifecycleStage.ACTIVE
    return Experiment(
        experiment_id=str(experiment_id),
        name=name,
        artifact_location=meta.get("artifact_location") or "",
        lifecycle_stage=stage,
        tags=tags,
        creation_time=int_or_none(meta.get("creation_time")),
        last_update_time=int_or_none(meta.get("last_update_time")),
    )


def experiment_meta(experiment: Experiment,
                    previous: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = dict(previous) if previous is not None else dict(_EXPERIMENT_EXTRAS)
    # MLflow rewrites a stale "tags" mapping here; tags live in tags/ files, so drop it.
    meta.pop("tags", None)
    meta.update(
        artifact_location=experiment.artifact_location,
        creation_time=experiment.creation_time,
        experiment_id=experiment.experiment_id,
        last_update_time=experiment.last_update_time,
        lifecycle_stage=experiment.lifecycle_stage,
        name=experiment.name,
    )
    return meta


def int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- URIs ----------------------------------------------------------------------------------


def path_to_file_uri(path: str) -> str:
    return pathlib.Path(os.path.abspath(path)).as_uri()


def file_uri_to_path(uri: str) -> str:
    """A local path from a ``file:`` URI or a plain path (other strings are returned as is)."""
    if uri.startswith("file:"):
        return urllib.request.url2pathname(urllib.parse.urlparse(uri).path)
    return uri


def resolve_local_uri(uri: str) -> str:
    """A relative local path or ``file:`` URI made absolute; anything else unchanged."""
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme == "" or len(scheme) == 1:
        return uri if os.path.isabs(uri) else os.path.abspath(uri)
    if scheme == "file":
        path = file_uri_to_path(uri)
        return uri if os.path.isabs(path) else path_to_file_uri(path)
    return uri


def append_to_uri(uri: str, *parts: str) -> str:
    """``uri`` with POSIX *parts* appended to its path, query and fragment kept."""
    parsed = urllib.parse.urlparse(uri)
    suffix = "/".join(p.strip("/") for p in parts if p.strip("/"))
    if not parsed.scheme or len(parsed.scheme) == 1:
        return uri.rstrip("/") + "/" + suffix
    path = parsed.path.rstrip("/") + "/" + suffix
    return urllib.parse.urlunparse(parsed._replace(path=path))
