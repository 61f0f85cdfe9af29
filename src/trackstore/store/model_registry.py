"""The model registry's store API: checked once here, served by a backend per store kind.

:class:`RegistryCalls` is mixed into :class:`~trackstore.store.base.AbstractStore`: its public
methods have MLflow's names and arguments (``MlflowClient``'s registry calls take the same),
check their arguments with MLflow's rules and messages, and hand the checked values to the
store's :class:`RegistryBackend`:

* the SQL store's (:mod:`trackstore.store.sql.registry`), on the tables of migration 0004;
* the REST store's (:mod:`trackstore.store.rest.registry`), MLflow's registry endpoints;
* none for a file store: every call raises :func:`~trackstore.model_registry.
  registry_unsupported`, which says how to get a database-backed store.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import PagedList
from ..exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from ..model_registry import (
    ACTIVE_STAGES,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
    canonical_stage,
    registry_unsupported,
    validate_alias,
    validate_description,
    validate_model_name,
    validate_registry_tag,
    validate_version,
)
from ..validation import MAX_ENTITY_KEY_LENGTH, missing_value, validate_key

Tags = Sequence[RegisteredModelTag] | Sequence[ModelVersionTag] | Mapping[str, Any] | None


class RegistryBackend(abc.ABC):
    """What a store kind implements; arguments arrive checked (names valid, versions ``int``,
    stages canonical, tags a ``dict`` of strings, ``max_results`` within bounds)."""

    @abc.abstractmethod
    def create_registered_model(self, name: str, tags: dict[str, str], description: str | None,
                                deployment_job_id: str | None) -> RegisteredModel: ...

    @abc.abstractmethod
    def update_registered_model(self, name: str, description: str | None,
                                deployment_job_id: str | None) -> RegisteredModel: ...

    @abc.abstractmethod
    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel: ...

    @abc.abstractmethod
    def delete_registered_model(self, name: str) -> None: ...

    @abc.abstractmethod
    def search_registered_models(self, filter_string: str | None, max_results: int,
                                 order_by: list[str], page_token: str | None
                                 ) -> PagedList[RegisteredModel]: ...

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abc.abstractmethod
    def get_latest_versions(self, name: str, stages: list[str] | None) -> list[ModelVersion]:
        """``stages``: canonical names, or ``None`` for every stage."""

    @abc.abstractmethod
    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def delete_registered_model_tag(self, name: str, key: str) -> None: ...

    @abc.abstractmethod
    def create_model_version(self, name: str, source: str, run_id: str | None,
                             tags: dict[str, str], run_link: str | None,
                             description: str | None, model_id: str | None) -> ModelVersion: ...

    @abc.abstractmethod
    def update_model_version(self, name: str, version: int,
                             description: str | None) -> ModelVersion: ...

    @abc.abstractmethod
    def transition_model_version_stage(self, name: str, version: int, stage: str,
                                       archive_existing_versions: bool) -> ModelVersion: ...

    @abc.abstractmethod
    def delete_model_version(self, name: str, version: int) -> None: ...

    @abc.abstractmethod
    def get_model_version(self, name: str, version: int) -> ModelVersion: ...

    @abc.abstractmethod
    def get_model_version_download_uri(self, name: str, version: int) -> str: ...

    @abc.abstractmethod
    def search_model_versions(self, filter_string: str | None, max_results: int,
                              order_by: list[str], page_token: str | None
                              ) -> PagedList[ModelVersion]: ...

    @abc.abstractmethod
    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def delete_model_version_tag(self, name: str, version: int, key: str) -> None: ...

    @abc.abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version: int) -> None: ...

    @abc.abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...

    @abc.abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...


def _tags(tags: Tags) -> dict[str, str]:
    """Tags given as entities or as a mapping, checked; a repeated key keeps its last value."""
    if tags is None:
        return {}
    pairs = tags.items() if isinstance(tags, Mapping) else ((t.key, t.value) for t in tags)
    return dict(validate_registry_tag(k, v) for k, v in pairs)


def _max_results(value: Any, threshold: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TrackstoreError(
            f"Invalid value for max_results. It must be a positive integer, but got {value}",
            INVALID_PARAMETER_VALUE)
    if value > threshold:
        raise TrackstoreError(
            "Invalid value for request parameter max_results. It must be at most "
            f"{threshold}, but got value {value}", INVALID_PARAMETER_VALUE)
    return value


def _optional_text(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TrackstoreError(f"Invalid value {value!r} for parameter '{field}': expected a string.",
                          INVALID_PARAMETER_VALUE)


def _tag_key(key: Any) -> str:
    validate_key(key, "key", "Tag")
    if len(key) > MAX_ENTITY_KEY_LENGTH:
        raise TrackstoreError(f"'key' exceeds the maximum length of {MAX_ENTITY_KEY_LENGTH} "
                              "characters", INVALID_PARAMETER_VALUE)
    return str(key)


class RegistryCalls:
    """The registry calls of every store (see the module doc)."""

    def registry_backend(self) -> RegistryBackend:
        """This store's registry; a store without one raises FEATURE_DISABLED."""
        raise registry_unsupported()

    # -- registered models ----------------------------------------------------------------------

    def create_registered_model(self, name: str, tags: Tags = None,
                                description: str | None = None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        backend = self.registry_backend()
        return backend.create_registered_model(
            validate_model_name(name), _tags(tags), validate_description(description),
            _optional_text(deployment_job_id, "deployment_job_id"))

    def update_registered_model(self, name: str, description: str | None = None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        backend = self.registry_backend()
        return backend.update_registered_model(
            validate_model_name(name), validate_description(description),
            _optional_text(deployment_job_id, "deployment_job_id"))

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        backend = self.registry_backend()
        validate_model_name(name)
        if new_name is None or (isinstance(new_name, str) and new_name.strip() == ""):
            raise TrackstoreError(missing_value("new_name"), INVALID_PARAMETER_VALUE)
        return backend.rename_registered_model(name, validate_model_name(new_name))

    def delete_registered_model(self, name: str) -> None:
        self.registry_backend().delete_registered_model(validate_model_name(name))

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
                                 order_by: Sequence[str] | None = None,
                                 page_token: str | None = None) -> PagedList[RegisteredModel]:
        backend = self.registry_backend()
        return backend.search_registered_models(
            _optional_text(filter_string, "filter") or None,
            _max_results(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD),
            list(order_by or ()), page_token or None)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry_backend().get_registered_model(validate_model_name(name))

    def get_latest_versions(self, name: str,
                            stages: Sequence[str] | None = None) -> list[ModelVersion]:
        backend = self.registry_backend()
        validate_model_name(name)
        wanted = [canonical_stage(s) for s in stages] if stages else None
        return backend.get_latest_versions(name, wanted)

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        backend = self.registry_backend()
        validate_model_name(name)
        backend.set_registered_model_tag(name, *validate_registry_tag(tag.key, tag.value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        backend = self.registry_backend()
        backend.delete_registered_model_tag(validate_model_name(name), _tag_key(key))

    # -- model versions ---------------------------------------------------------------------------

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: Tags = None, run_link: str | None = None,
                             description: str | None = None,
                             model_id: str | None = None) -> ModelVersion:
        backend = self.registry_backend()
        validate_model_name(name)
        if not isinstance(source, str) or source == "":
            raise TrackstoreError("Missing value for required parameter 'source'.",
                                  INVALID_PARAMETER_VALUE)
        return backend.create_model_version(
            name, source, _optional_text(run_id, "run_id") or None, _tags(tags),
            _optional_text(run_link, "run_link"), validate_description(description),
            _optional_text(model_id, "model_id") or None)

    def update_model_version(self, name: str, version: str | int,
                             description: str | None = None) -> ModelVersion:
        backend = self.registry_backend()
        validate_model_name(name)
        return backend.update_model_version(name, validate_version(version),
                                            validate_description(description))

    def transition_model_version_stage(self, name: str, version: str | int, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersion:
        backend = self.registry_backend()
        validate_model_name(name)
        number = validate_version(version)
        canonical = canonical_stage(stage)
        if archive_existing_versions and canonical not in ACTIVE_STAGES:
            raise TrackstoreError(
                "Model version transition cannot archive existing model versions because "
                f"'{stage}' is not an Active stage. Valid stages are {list(ACTIVE_STAGES)}",
                INVALID_PARAMETER_VALUE)
        return backend.transition_model_version_stage(name, number, canonical,
                                                      bool(archive_existing_versions))

    def delete_model_version(self, name: str, version: str | int) -> None:
        backend = self.registry_backend()
        backend.delete_model_version(validate_model_name(name), validate_version(version))

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        backend = self.registry_backend()
        return backend.get_model_version(validate_model_name(name), validate_version(version))

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        backend = self.registry_backend()
        return backend.get_model_version_download_uri(validate_model_name(name),
                                                      validate_version(version))

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
                              order_by: Sequence[str] | None = None,
                              page_token: str | None = None) -> PagedList[ModelVersion]:
        backend = self.registry_backend()
        return backend.search_model_versions(
            _optional_text(filter_string, "filter") or None,
            _max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD),
            list(order_by or ()), page_token or None)

    def set_model_version_tag(self, name: str, version: str | int, tag: ModelVersionTag) -> None:
        backend = self.registry_backend()
        validate_model_name(name)
        number = validate_version(version)
        backend.set_model_version_tag(name, number, *validate_registry_tag(tag.key, tag.value))

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        backend = self.registry_backend()
        validate_model_name(name)
        backend.delete_model_version_tag(name, validate_version(version), _tag_key(key))

    # -- aliases ------------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        backend = self.registry_backend()
        validate_model_name(name)
        validate_alias(alias, setting=True)
        backend.set_registered_model_alias(name, alias, validate_version(version))

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        backend = self.registry_backend()
        backend.delete_registered_model_alias(validate_model_name(name), validate_alias(alias))

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        backend = self.registry_backend()
        return backend.get_model_version_by_alias(validate_model_name(name),
                                                  validate_alias(alias))
