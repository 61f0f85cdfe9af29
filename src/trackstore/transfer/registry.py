"""The model registry of an import's source, as :class:`RegisteredModelRecord` objects.

Each source reads its own storage (:meth:`Source.registered_models`: an ``mlruns`` tree's
``models/`` folder, an MLflow database's registry tables, a trackstore database's) into plain
values and hands them to :func:`model_record`, which applies the rules every source shares:

* a version whose stage is ``Deleted_Internal`` (MLflow keeps a deleted version so, to keep its
  number from being handed out again) is not a version of the record; its number (and creation
  time) goes into ``used_versions`` with the live ones, so the destination never reuses it;
* stages are MLflow's spelling (matched case-insensitively; none is ``None``), statuses
  ``READY`` when the source has none; a version with a stage or status MLflow does not know is
  reported and skipped (its number stays used);
* an alias that points at no live version, or whose name MLflow would refuse, is reported and
  dropped; a tag value the source holds as NULL is the empty string (as MLflow reads it).

Which destinations carry the records, and the rule that makes a second import incremental, are
in :mod:`trackstore.store.sql.registry_import`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import TrackstoreError
from ..model_registry import (
    MAX_ALIAS_LENGTH,
    MAX_REGISTRY_TAG_KEY_LENGTH,
    MODEL_VERSION_STATUSES,
    READY,
    STAGE_DELETED_INTERNAL,
    STAGE_NONE,
    canonical_stage,
    validate_alias,
    validate_model_name,
)
from .records import ModelVersionRecord, Problem, RegisteredModelRecord

#: What the summary calls the registry's entities (``not carried`` and ``--json``).
MODELS, VERSIONS = "registered models", "model versions"


@dataclass(slots=True)
class RawVersion:
    """A version as a source stores it, before :func:`model_record` checks it."""

    version: int
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    user_id: str | None
    current_stage: Any
    source: str | None
    storage_location: str | None
    run_id: str | None
    run_link: str | None
    model_id: str | None
    status: Any
    status_message: str | None
    tags: dict[str, str]
    where: str = ""
    #: False: the source could not read it (reported); only its number is known to be used.
    usable: bool = True


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _tags(tags: Mapping[str, Any], where: str, what: str, report: Problem) -> dict[str, str]:
    out = {}
    for key, value in sorted(tags.items()):
        if len(key) > MAX_REGISTRY_TAG_KEY_LENGTH:
            report(where, f"{what} tag {key[:40]!r}... skipped: its key is {len(key)} "
                          f"characters long (the most is {MAX_REGISTRY_TAG_KEY_LENGTH})")
            continue
        out[key] = "" if value is None else str(value)
    return out


def _version(raw: RawVersion, model: str, report: Problem) -> ModelVersionRecord | None:
    """*raw* as a record; None when it is deleted (silently) or unusable (reported)."""
    stage = raw.current_stage
    if stage == STAGE_DELETED_INTERNAL or not raw.usable:
        return None
    where = raw.where or f"{model} version {raw.version}"
    try:
        stage = STAGE_NONE if stage is None else canonical_stage(stage)
    except TrackstoreError:
        report(where, f"model version {raw.version} of {model!r} skipped: unknown stage "
                      f"{stage!r}")
        return None
    status = READY if raw.status is None else raw.status
    if status not in MODEL_VERSION_STATUSES:
        report(where, f"model version {raw.version} of {model!r} skipped: unknown status "
                      f"{status!r}")
        return None
    return ModelVersionRecord(
        version=raw.version, creation_time=raw.creation_time,
        last_updated_time=raw.last_updated_time, description=_text(raw.description),
        user_id=_text(raw.user_id), current_stage=stage, source=_text(raw.source) or "",
        storage_location=_text(raw.storage_location), run_id=_text(raw.run_id),
        run_link=_text(raw.run_link), model_id=_text(raw.model_id), status=status,
        status_message=_text(raw.status_message),
        tags=_tags(raw.tags, where, f"model version {raw.version} of {model!r}:", report))


def model_record(name: Any, creation_time: int | None, last_updated_time: int | None,
                 description: Any, deployment_job_id: Any, tags: Mapping[str, Any],
                 aliases: Mapping[str, Any], versions: Iterable[RawVersion], where: str,
                 report: Problem) -> RegisteredModelRecord | None:
    """The record of a registered model read by a source (see the module doc); None, after a
    report, when its name is one MLflow refuses."""
    try:
        validate_model_name(name)
    except TrackstoreError as exc:
        report(where, f"registered model {name!r} skipped: {exc.message}")
        return None
    live: list[ModelVersionRecord] = []
    used: dict[int, int | None] = {}
    for raw in sorted(versions, key=lambda v: v.version):
        used[raw.version] = raw.creation_time
        record = _version(raw, name, report)
        if record is not None:
            live.append(record)
    numbers = {v.version for v in live}
    kept_aliases: dict[str, int] = {}
    for alias, target in sorted(aliases.items()):
        try:
            version = int(str(target).strip())
        except ValueError:
            version = -1
        problem = None
        if version not in numbers:
            problem = f"it points at {target!r}, which is no version of the model"
        elif len(alias) > MAX_ALIAS_LENGTH:
            problem = f"it is {len(alias)} characters long (the most is {MAX_ALIAS_LENGTH})"
        else:
            try:
                validate_alias(alias)
            except TrackstoreError as exc:
                problem = exc.message
        if problem is not None:
            report(where, f"alias {alias!r} of registered model {name!r} skipped: {problem}")
            continue
        kept_aliases[alias] = version
    return RegisteredModelRecord(
        name=name, creation_time=creation_time, last_updated_time=last_updated_time,
        description=_text(description), deployment_job_id=_text(deployment_job_id) or None,
        tags=_tags(tags, where, f"registered model {name!r}:", report), aliases=kept_aliases,
        versions=live, used_versions=used, where=where)


def registry_counts(models: Iterable[RegisteredModelRecord]) -> dict[str, int]:
    """``{MODELS: n, VERSIONS: m}`` (live versions), without zeros."""
    found = list(models)
    counts = {MODELS: len(found), VERSIONS: sum(len(m.versions) for m in found)}
    return {k: v for k, v in counts.items() if v}
