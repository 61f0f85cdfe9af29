"""MLflow's own SQL registry store (``SqlAlchemyStore``) behind trackstore's registry API.

The contract suite runs against it as one more backend, so that every expectation in it is
proven against MLflow itself: arguments arrive as trackstore's values (tag entities or a
mapping, versions as ``int`` or ``str``), results leave as trackstore's entities
(:class:`~trackstore.model_registry.RegisteredModel`, ``ModelVersion`` with ``version: str``,
tags as dicts, ``RegisteredModel.aliases`` as a dict alias -> version string) and MLflow's
exceptions as :class:`~trackstore.exceptions.TrackstoreError` with MLflow's code and message.

Two liberties are taken with what MLflow answers, both differences trackstore makes on
purpose (``trackstore/store/sql/registry.py`` lists them):

* :data:`DEVIATIONS`: errors MLflow raises without an error code (so ``INTERNAL_ERROR``, an
  HTTP 500 that clients retry) for what is a bad argument. trackstore answers
  ``INVALID_PARAMETER_VALUE`` with MLflow's message there.
* The versions in ``RegisteredModel.latest_versions`` and in ``search_model_versions``
  results carry their aliases, as every other version trackstore returns does (MLflow's SQL
  store leaves them empty there): the adapter fills them in from the model's aliases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trackstore.entities import PagedList
from trackstore.exceptions import INTERNAL_ERROR, INVALID_PARAMETER_VALUE, TrackstoreError
from trackstore.model_registry import ModelVersion, RegisteredModel

#: Messages (their beginnings) of the MLflow errors whose code the contract expects to be
#: INVALID_PARAMETER_VALUE although MLflow's store says INTERNAL_ERROR.
DEVIATIONS = (
    "Model version transition cannot archive existing model versions because",
    "`order_by` contains duplicate fields:",
)


def _tags(tags: Any, entity: type) -> list[Any] | None:
    if tags is None:
        return None
    pairs = tags.items() if isinstance(tags, Mapping) else ((t.key, t.value) for t in tags)
    return [entity(key, value) for key, value in pairs]


def model_version(mv: Any) -> ModelVersion:
    return ModelVersion(
        name=mv.name, version=str(mv.version), creation_timestamp=mv.creation_timestamp,
        last_updated_timestamp=mv.last_updated_timestamp, description=mv.description,
        user_id=mv.user_id, current_stage=mv.current_stage, source=mv.source,
        run_id=mv.run_id, status=mv.status, status_message=mv.status_message,
        tags=dict(mv.tags), run_link=mv.run_link, aliases=list(mv.aliases),
        model_id=mv.model_id)


def _with_aliases(mv: ModelVersion, aliases: dict[str, str]) -> ModelVersion:
    mv.aliases = sorted(alias for alias, number in aliases.items() if number == mv.version)
    return mv


def registered_model(rm: Any) -> RegisteredModel:
    aliases = {alias: str(version) for alias, version in rm.aliases.items()}
    return RegisteredModel(
        name=rm.name, creation_timestamp=rm.creation_timestamp,
        last_updated_timestamp=rm.last_updated_timestamp, description=rm.description,
        latest_versions=[_with_aliases(model_version(mv), aliases)
                         for mv in rm.latest_versions or []],
        # ``RegisteredModel.tags`` hides the prompt tag; the stored tags are ``_tags``.
        tags=dict(rm._tags),
        aliases=aliases,
        deployment_job_id=rm.deployment_job_id, deployment_job_state=rm.deployment_job_state)


class MlflowReference:
    """``mlflow.store.model_registry.sqlalchemy_store.SqlAlchemyStore`` on *db_uri*."""

    def __init__(self, db_uri: str) -> None:
        from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag
        from mlflow.exceptions import MlflowException
        from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

        self.db_uri = db_uri
        self._store = SqlAlchemyStore(db_uri)
        self._rm_tag, self._mv_tag = RegisteredModelTag, ModelVersionTag
        self._mlflow_exception = MlflowException

    def __repr__(self) -> str:
        return f"MlflowReference({self.db_uri!r})"

    def close(self) -> None:
        with self._store._engine_map_lock:
            engine = self._store._engine_map.pop(self.db_uri, None)
        if engine is not None:
            engine.dispose()

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._store, method)(*args, **kwargs)
        except self._mlflow_exception as exc:
            code = exc.error_code
            if code == INTERNAL_ERROR and exc.message.startswith(DEVIATIONS):
                code = INVALID_PARAMETER_VALUE
            raise TrackstoreError(exc.message, code) from None

    # -- registered models ------------------------------------------------------------------

    def create_registered_model(self, name: str, tags: Any = None,
                                description: str | None = None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        return registered_model(self._call("create_registered_model", name,
                                           _tags(tags, self._rm_tag), description,
                                           deployment_job_id))

    def update_registered_model(self, name: str, description: str | None = None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        return registered_model(self._call("update_registered_model", name, description,
                                           deployment_job_id))

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return registered_model(self._call("rename_registered_model", name, new_name))

    def delete_registered_model(self, name: str) -> None:
        self._call("delete_registered_model", name)

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int = 100,
                                 order_by: Sequence[str] | None = None,
                                 page_token: str | None = None) -> PagedList[RegisteredModel]:
        found = self._call("search_registered_models", filter_string, max_results,
                           list(order_by) if order_by is not None else None, page_token)
        return PagedList([registered_model(rm) for rm in found], found.token)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return registered_model(self._call("get_registered_model", name))

    def get_latest_versions(self, name: str,
                            stages: Sequence[str] | None = None) -> list[ModelVersion]:
        return [model_version(mv) for mv in self._call("get_latest_versions", name, stages)]

    def set_registered_model_tag(self, name: str, tag: Any) -> None:
        self._call("set_registered_model_tag", name, self._rm_tag(tag.key, tag.value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._call("delete_registered_model_tag", name, key)

    # -- model versions -----------------------------------------------------------------------

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: Any = None, run_link: str | None = None,
                             description: str | None = None,
                             model_id: str | None = None) -> ModelVersion:
        return model_version(self._call("create_model_version", name, source, run_id,
                                        _tags(tags, self._mv_tag), run_link, description,
                                        model_id=model_id))

    def update_model_version(self, name: str, version: Any,
                             description: str | None = None) -> ModelVersion:
        return model_version(self._call("update_model_version", name, version, description))

    def transition_model_version_stage(self, name: str, version: Any, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersion:
        return model_version(self._call("transition_model_version_stage", name, version, stage,
                                        archive_existing_versions))

    def delete_model_version(self, name: str, version: Any) -> None:
        self._call("delete_model_version", name, version)

    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        return model_version(self._call("get_model_version", name, version))

    def get_model_version_download_uri(self, name: str, version: Any) -> str:
        return str(self._call("get_model_version_download_uri", name, version))

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int = 10_000,
                              order_by: Sequence[str] | None = None,
                              page_token: str | None = None) -> PagedList[ModelVersion]:
        found = self._call("search_model_versions", filter_string, max_results,
                           list(order_by) if order_by is not None else None, page_token)
        aliases = {name: self.get_registered_model(name).aliases
                   for name in {mv.name for mv in found}}
        return PagedList([_with_aliases(model_version(mv), aliases[mv.name]) for mv in found],
                         found.token)

    def set_model_version_tag(self, name: str, version: Any, tag: Any) -> None:
        self._call("set_model_version_tag", name, version, self._mv_tag(tag.key, tag.value))

    def delete_model_version_tag(self, name: str, version: Any, key: str) -> None:
        self._call("delete_model_version_tag", name, version, key)

    # -- aliases ------------------------------------------------------------------------------

    def set_registered_model_alias(self, name: str, alias: str, version: Any) -> None:
        self._call("set_registered_model_alias", name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._call("delete_registered_model_alias", name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return model_version(self._call("get_model_version_by_alias", name, alias))
