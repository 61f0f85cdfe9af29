"""MLflow's JSON shape for the model registry's entities, both ways (the server's answers and
what the REST client reads back).

The shape is what ``mlflow server`` sends (the entities' ``to_proto`` printed with MLflow's
JSON printer, mlflow-spec §5.2, §5.5): proto field names, int64 timestamps as JSON numbers,
``version`` as a string, enums by name, tags as ``[{key, value}]``, a registered model's
aliases as ``[{alias, version}]`` and a version's as a list of names, and unset fields left
out. Which fields count as unset follows MLflow's ``to_proto`` field by field:

* a registered model leaves out an empty ``description``, a zero ``last_updated_timestamp``
  and an empty ``deployment_job_id``;
* a model version writes ``user_id`` whenever it is not ``None`` and leaves out an empty
  ``status_message``.

Three fields differ from ``to_proto`` so that the answers match what ``mlflow server`` sends
for the versions created through it:

* ``run_id``, ``description`` and ``run_link`` are always written, ``""`` when unset: MLflow's
  server stores the proto default ``""`` when a request leaves them out (and shows it), where
  trackstore's stores keep ``None``; the reader turns ``""`` back into ``None``;
* ``model_id`` (a field of the proto that MLflow's ``to_proto`` does not fill in yet) is
  written when set, so that a client reads back what it registered.

Readers accept what protobuf's parser accepts (int64 as a number or a decimal string, enums
by name or number) and refuse a value of the wrong type with ``INVALID_PARAMETER_VALUE``,
naming the field, as :mod:`trackstore.wire` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model_registry import (
    MODEL_VERSION_STATUSES,
    READY,
    STAGE_NONE,
    ModelVersion,
    RegisteredModel,
)
from .validation import wrong_type
from .wire import _items as _array
from .wire import _obj as _object
from .wire import int64, pairs_to_json, tags_from_json, text

__all__ = [
    "model_version_from_json", "model_version_status", "model_version_to_json",
    "registered_model_from_json", "registered_model_to_json", "version_text",
]

#: ``ModelVersionStatus`` by its proto number.
_STATUS_BY_NUMBER = dict(enumerate(MODEL_VERSION_STATUSES, start=1))


def model_version_status(value: Any, field: str = "status") -> str:
    """A ``ModelVersionStatus`` enum: by name (``"READY"``) or by number (``3``)."""
    if isinstance(value, str) and value in MODEL_VERSION_STATUSES:
        return value
    if type(value) is int and value in _STATUS_BY_NUMBER:
        return _STATUS_BY_NUMBER[value]
    raise wrong_type(field, value, "one of " + ", ".join(MODEL_VERSION_STATUSES))


def version_text(value: Any, field: str = "version") -> str:
    """A version number as the string the JSON carries; a JSON integer (which some servers
    and hand-written clients send) is taken as its decimal string."""
    if type(value) is int:
        return str(value)
    return text(value, field)


# -- writers -------------------------------------------------------------------------------------

def model_version_to_json(mv: ModelVersion) -> dict[str, Any]:
    """A model version as ``mlflow server`` prints one (see the module doc)."""
    d: dict[str, Any] = {"name": mv.name, "version": str(mv.version)}
    if mv.creation_timestamp is not None:
        d["creation_timestamp"] = mv.creation_timestamp
    if mv.last_updated_timestamp is not None:
        d["last_updated_timestamp"] = mv.last_updated_timestamp
    if mv.user_id is not None:
        d["user_id"] = mv.user_id
    d["current_stage"] = mv.current_stage
    # MLflow's server stores a version's unset description and run link as "" (the proto
    # default) and always prints them; the stores keep None.
    d["description"] = mv.description or ""
    if mv.source is not None:
        d["source"] = mv.source
    d["run_id"] = mv.run_id or ""
    d["status"] = mv.status
    if mv.status_message:
        d["status_message"] = mv.status_message
    if mv.tags:
        d["tags"] = pairs_to_json(mv.tags.items())
    d["run_link"] = mv.run_link or ""
    if mv.aliases:
        d["aliases"] = list(mv.aliases)
    if mv.model_id:
        d["model_id"] = mv.model_id
    return d


def registered_model_to_json(rm: RegisteredModel) -> dict[str, Any]:
    """A registered model as ``mlflow server`` prints one (see the module doc)."""
    d: dict[str, Any] = {"name": rm.name}
    if rm.creation_timestamp is not None:
        d["creation_timestamp"] = rm.creation_timestamp
    if rm.last_updated_timestamp:
        d["last_updated_timestamp"] = rm.last_updated_timestamp
    if rm.description:
        d["description"] = rm.description
    if rm.latest_versions:
        d["latest_versions"] = [model_version_to_json(mv) for mv in rm.latest_versions]
    if rm.tags:
        d["tags"] = pairs_to_json(rm.tags.items())
    if rm.aliases:
        d["aliases"] = [{"alias": alias, "version": str(version)}
                        for alias, version in rm.aliases.items()]
    if rm.deployment_job_id:
        d["deployment_job_id"] = rm.deployment_job_id
    if rm.deployment_job_state:
        d["deployment_job_state"] = rm.deployment_job_state
    return d


# -- readers -------------------------------------------------------------------------------------

def _opt_text(d: Mapping[str, Any], name: str, field: str) -> str | None:
    value = d.get(name)
    return None if value is None else text(value, f"{field}.{name}")


def _opt_int(d: Mapping[str, Any], name: str, field: str) -> int | None:
    value = d.get(name)
    return None if value is None else int64(value, f"{field}.{name}")


def _tags(d: Mapping[str, Any], field: str) -> dict[str, str]:
    return dict(tags_from_json(d.get("tags"), f"{field}.tags"))


def model_version_from_json(value: Any, field: str = "model_version") -> ModelVersion:
    """A model version from its JSON; fields left out take the entity's defaults (``None``,
    stage ``"None"``, status ``READY``)."""
    d = _object(value, field)
    status = d.get("status")
    aliases = [text(a, f"{field}.aliases[{i}]")
               for i, a in enumerate(_array(d.get("aliases"), f"{field}.aliases"))]
    return ModelVersion(
        name=text(d.get("name", ""), f"{field}.name"),
        version=version_text(d.get("version", ""), f"{field}.version"),
        creation_timestamp=_opt_int(d, "creation_timestamp", field),
        last_updated_timestamp=_opt_int(d, "last_updated_timestamp", field),
        # MLflow's server fills an unset description or run link with "" (the proto
        # default): read as None, what the stores return for them.
        description=_opt_text(d, "description", field) or None,
        user_id=_opt_text(d, "user_id", field),
        current_stage=_opt_text(d, "current_stage", field) or STAGE_NONE,
        source=_opt_text(d, "source", field),
        run_id=_opt_text(d, "run_id", field) or None,
        status=READY if status is None else model_version_status(status, f"{field}.status"),
        status_message=_opt_text(d, "status_message", field),
        tags=_tags(d, field),
        run_link=_opt_text(d, "run_link", field) or None,
        aliases=aliases,
        model_id=_opt_text(d, "model_id", field) or None,
    )


def registered_model_from_json(value: Any,
                               field: str = "registered_model") -> RegisteredModel:
    """A registered model from its JSON; fields left out are ``None`` or empty."""
    d = _object(value, field)
    aliases: dict[str, str] = {}
    for i, item in enumerate(_array(d.get("aliases"), f"{field}.aliases")):
        entry = _object(item, f"{field}.aliases[{i}]")
        aliases[text(entry.get("alias", ""), f"{field}.aliases[{i}].alias")] = version_text(
            entry.get("version", ""), f"{field}.aliases[{i}].version")
    versions = [model_version_from_json(mv, f"{field}.latest_versions[{i}]")
                for i, mv in enumerate(_array(d.get("latest_versions"),
                                              f"{field}.latest_versions"))]
    state = d.get("deployment_job_state")
    return RegisteredModel(
        name=text(d.get("name", ""), f"{field}.name"),
        creation_timestamp=_opt_int(d, "creation_timestamp", field),
        last_updated_timestamp=_opt_int(d, "last_updated_timestamp", field),
        description=_opt_text(d, "description", field),
        latest_versions=versions,
        tags=_tags(d, field),
        aliases=aliases,
        deployment_job_id=_opt_text(d, "deployment_job_id", field) or None,
        deployment_job_state=None if state is None else str(state),
    )
