"""``TrackingClient``: the tracking and model registry methods of ``mlflow.MlflowClient``, same
names and arguments.

Code written against ``MlflowClient`` switches by changing the import::

    from trackstore import TrackingClient as MlflowClient
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import asynclog
from .artifacts import ArtifactRepository, FileInfo, artifact_repository, resolve_proxied_uri
from .asynclog import RunOperations
from .entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    LoggedModelInput,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
    now_ms,
)
from .exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)
from .model_registry import (
    ALL_STAGES,
    IS_PROMPT_TAG,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from .store.base import SEARCH_MAX_RESULTS_DEFAULT, AbstractStore
from .store.registry import get_store
from .tracking_uri import get_tracking_uri
from .validation import MAX_ENTITIES_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH

USER_TAG = "mlflow.user"


class TrackingClient:
    """A client of one tracking store, chosen by *tracking_uri* (default: the one in force)."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self._tracking_uri = tracking_uri or get_tracking_uri()
        self._store = get_store(self._tracking_uri)
        #: ``MLFLOW_ENABLE_ASYNC_LOGGING`` as it was when the client was made (reading the
        #: environment costs more than a logged point); ``trackstore.enable_async_logging()``
        #: overrides it for every client.
        self.async_logging = asynclog.env_enabled()

    @property
    def tracking_uri(self) -> str:
        return self._tracking_uri

    @property
    def store(self) -> AbstractStore:
        return self._store

    # -- experiments ------------------------------------------------------------------------

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, Any] | None = None) -> str:
        return self._store.create_experiment(
            name, artifact_location, [ExperimentTag(k, _text(v)) for k, v in (tags or {}).items()])

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._store.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._store.get_experiment_by_name(name)

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY,
                           max_results: int | None = SEARCH_MAX_RESULTS_DEFAULT,
                           filter_string: str | None = None, order_by: list[str] | None = None,
                           page_token: str | None = None) -> PagedList[Experiment]:
        if max_results is None:
            return _all_pages(lambda token: self._store.search_experiments(
                view_type, 50000, filter_string, order_by, token), page_token)
        return self._store.search_experiments(view_type, max_results, filter_string, order_by,
                                              page_token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._store.rename_experiment(experiment_id, new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._store.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self._store.restore_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._store.set_experiment_tag(experiment_id, ExperimentTag(key, _text(value)))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._store.delete_experiment_tag(experiment_id, key)

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, experiment_id: str, start_time: int | None = None,
                   tags: dict[str, Any] | None = None, run_name: str | None = None) -> Run:
        tags = tags or {}
        return self._store.create_run(
            experiment_id=experiment_id,
            user_id=_text(tags.get(USER_TAG, "unknown")),
            start_time=start_time or now_ms(),
            tags=[RunTag(k, _text(v)) for k, v in tags.items()],
            run_name=run_name)

    def get_run(self, run_id: str) -> Run:
        self._store.settle_async_logging()
        return self._store.get_run(run_id)

    def get_parent_run(self, run_id: str) -> Run | None:
        parent_id = self.get_run(run_id).data.tags.get("mlflow.parentRunId")
        return self.get_run(parent_id) if parent_id else None

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        if status is None and name is None:
            return
        run = self.get_run(run_id)
        self._store.update_run_info(run_id, _status(status or run.info.status),
                                    run.info.end_time, name)

    def set_terminated(self, run_id: str, status: str | None = None,
                       end_time: int | None = None) -> None:
        """End the run, after storing what was logged to it asynchronously; a failure of
        that is raised once the run is ended."""
        code = _status(status or "FINISHED")
        failure = None
        try:
            self._store.flush_async_logging()
        except TrackstoreError as exc:
            failure = exc
        self._store.update_run_info(run_id, code, end_time or now_ms(), None)
        if failure is not None:
            raise failure

    def delete_run(self, run_id: str) -> None:
        self._store.settle_async_logging()
        self._store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self._store.restore_run(run_id)

    def search_runs(self, experiment_ids: list[str], filter_string: str = "",
                    run_view_type: int = ViewType.ACTIVE_ONLY,
                    max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                    order_by: list[str] | None = None,
                    page_token: str | None = None) -> PagedList[Run]:
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [str(experiment_ids)]
        self._store.settle_async_logging()
        return self._store.search_runs(experiment_ids, filter_string, run_view_type, max_results,
                                       order_by, page_token)

    # -- logging ----------------------------------------------------------------------------
    #
    # ``synchronous=False`` (or None with asynchronous logging enabled) queues the call and
    # returns a RunOperations handle; see trackstore.asynclog. Synchronous writes of params
    # and tags first wait for what is queued, so the two modes keep submission order.

    def _asynchronous(self, synchronous: bool | None) -> bool:
        if synchronous is None:
            forced = asynclog.forced
            return self.async_logging if forced is None else forced
        return not synchronous

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None, synchronous: bool | None = None,
                   dataset_name: str | None = None, dataset_digest: str | None = None,
                   model_id: str | None = None) -> RunOperations | None:
        if synchronous is False or (synchronous is None and (
                self.async_logging if asynclog.forced is None else asynclog.forced)):
            if model_id is None and dataset_name is None and dataset_digest is None:
                return self._store.log_point_async(run_id, key, value, timestamp, step)
            return self._store.log_metric_async(run_id, Metric(
                key, value, now_ms() if timestamp is None else timestamp, step or 0, model_id,
                dataset_name, dataset_digest))
        if timestamp is None:
            timestamp = now_ms()
        self._store.log_metric(run_id, Metric(key, value, timestamp, step or 0, model_id,
                                              dataset_name, dataset_digest))
        return None

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int | None = None,
                    timestamp: int | None = None, synchronous: bool | None = None,
                    dataset_name: str | None = None, dataset_digest: str | None = None,
                    model_id: str | None = None) -> RunOperations | None:
        """Several metrics at one step and timestamp (the fluent ``log_metrics``)."""
        if self._asynchronous(synchronous) and model_id is None and dataset_name is None \
                and dataset_digest is None:
            ops = self._store.log_points_async(run_id, metrics, timestamp, step)
            if ops is not None:
                return ops
        if timestamp is None:
            timestamp = now_ms()
        batch = [Metric(k, v, timestamp, step or 0, model_id, dataset_name, dataset_digest)
                 for k, v in metrics.items()]
        return self.log_batch(run_id, metrics=batch, synchronous=synchronous)

    def log_param(self, run_id: str, key: str, value: Any,
                  synchronous: bool | None = None) -> Any:
        param = Param(key, _text(value))
        if self._asynchronous(synchronous):
            return self._store.log_param_async(run_id, param)
        self._store.settle_async_logging()
        self._store.log_param(run_id, param)
        return value

    def set_tag(self, run_id: str, key: str, value: Any,
                synchronous: bool | None = None) -> RunOperations | None:
        tag = RunTag(key, _text(value))
        if self._asynchronous(synchronous):
            return self._store.set_tag_async(run_id, tag)
        self._store.settle_async_logging()
        self._store.set_tag(run_id, tag)
        return None

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.settle_async_logging()
        self._store.delete_tag(run_id, key)

    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (),
                  params: Sequence[Param] = (), tags: Sequence[RunTag] = (),
                  synchronous: bool | None = None) -> RunOperations | None:
        """Log everything given; split into store batches of MLflow's size limits."""
        params = [Param(p.key, _text(p.value)) for p in params]
        tags = [RunTag(t.key, _text(t.value)) for t in tags]
        metrics = list(metrics)
        if self._asynchronous(synchronous):
            handles = [self._store.log_batch_async(run_id, *batch)
                       for batch in _store_batches(metrics, params, tags)]
            return handles[0] if len(handles) == 1 else RunOperations.of(handles)
        self._store.settle_async_logging()
        for batch in _store_batches(metrics, params, tags):
            self._store.log_batch(run_id, *batch)
        return None

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None,
                   models: Sequence[LoggedModelInput] | None = None) -> None:
        self._store.settle_async_logging()
        self._store.log_inputs(run_id, datasets, models)

    def flush(self) -> None:
        """Store everything logged asynchronously through this client's store; raise what
        failed (``mlflow.flush_async_logging`` for one store)."""
        self._store.flush_async_logging()

    # -- artifacts --------------------------------------------------------------------------

    def _artifacts(self, run_id: str) -> ArtifactRepository:
        """The run's artifact repository; an ``mlflow-artifacts:`` location is the artifact
        proxy of this client's tracking server."""
        uri = self.get_run(run_id).info.artifact_uri
        if not uri:
            raise TrackstoreError(f"Run '{run_id}' has no artifact location",
                                  INVALID_PARAMETER_VALUE)
        return artifact_repository(resolve_proxied_uri(uri, self._tracking_uri))

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts (under *artifact_path*)."""
        with self._artifacts(run_id) as repository:
            repository.log_artifact(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str,
                      artifact_path: str | None = None) -> None:
        """Copy a local directory's content into the run's artifacts."""
        with self._artifacts(run_id) as repository:
            repository.log_artifacts(local_dir, artifact_path)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The run's artifacts directly under *path* (the root by default)."""
        with self._artifacts(run_id) as repository:
            return repository.list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Copy an artifact file or directory of the run to *dst_path* (a new temporary
        directory by default); returns the local path."""
        with self._artifacts(run_id) as repository:
            return repository.download_artifacts(path, dst_path)

    # -- metric history ---------------------------------------------------------------------

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point logged for *key*, as :class:`Metric` objects."""
        self._store.settle_async_logging()
        return list(self._store.get_metric_history(run_id, key))

    def get_metric_history_columns(self, run_id: str, key: str) -> MetricHistory:
        """Every point logged for *key* as arrays: ``steps``, ``timestamps``, ``values``.

        No Python object per point: use this for long series (``numpy.frombuffer`` views the
        arrays without a copy).
        """
        self._store.settle_async_logging()
        return self._store.get_metric_history_columns(run_id, key)

    # -- model registry (database-backed stores) --------------------------------------------

    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        if tags and IS_PROMPT_TAG in tags:
            raise TrackstoreError("Prompts cannot be registered as models.",
                                  INVALID_PARAMETER_VALUE)
        return self._store.create_registered_model(name, _registry_tags(tags), description,
                                                   deployment_job_id)

    def _raise_if_prompt(self, name: str) -> None:
        """MlflowClient's rule: its registry calls do not see prompts (registered models
        tagged ``mlflow.prompt.is_prompt``); a prompt's name is "not found"."""
        if IS_PROMPT_TAG in self._store.get_registered_model(name).tags:
            raise _model_not_found(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        if isinstance(new_name, str) and new_name.strip() == "":
            raise TrackstoreError("The name must not be an empty string.",
                                  INVALID_PARAMETER_VALUE)
        self._raise_if_prompt(name)
        return self._store.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None = None,
                                deployment_job_id: str | None = None) -> RegisteredModel:
        self._raise_if_prompt(name)
        return self._store.update_registered_model(name, description, deployment_job_id)

    def delete_registered_model(self, name: str) -> None:
        self._raise_if_prompt(name)
        self._store.delete_registered_model(name)

    def search_registered_models(
        self, filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None, page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        return self._store.search_registered_models(filter_string, max_results, order_by,
                                                    page_token)

    def get_registered_model(self, name: str) -> RegisteredModel:
        model = self._store.get_registered_model(name)
        if IS_PROMPT_TAG in model.tags:
            raise _model_not_found(name)
        return model

    def get_latest_versions(self, name: str, stages: list[str] | None = None
                            ) -> list[ModelVersion]:
        self._raise_if_prompt(name)
        return self._store.get_latest_versions(name, stages)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._raise_if_prompt(name)
        self._store.set_registered_model_tag(name, RegisteredModelTag(key, _text(value)))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._raise_if_prompt(name)
        self._store.delete_registered_model_tag(name, key)

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None, run_link: str | None = None,
                             description: str | None = None,
                             await_creation_for: int = 300,
                             model_id: str | None = None) -> ModelVersion:
        """A new version of model *name*. Versions are created READY (nothing is copied), so
        ``await_creation_for`` has nothing to wait for; it is accepted for compatibility."""
        if tags and IS_PROMPT_TAG in tags:
            raise TrackstoreError("Prompts cannot be registered as models.",
                                  INVALID_PARAMETER_VALUE)
        return self._store.create_model_version(name, source, run_id, _registry_tags(tags),
                                                run_link, description, model_id)

    def copy_model_version(self, src_model_uri: str, dst_name: str) -> ModelVersion:
        """A new version of *dst_name* (created if missing) from the version that
        *src_model_uri* (``models:/<name>/<version>``, ``.../<stage>`` or ``<name>@<alias>``)
        names, with its run, tags, run link and description."""
        source = self._store.get_model_version(*self._model_uri_version(src_model_uri))
        if IS_PROMPT_TAG in source.tags:  # a prompt is not a model to copy
            raise TrackstoreError(f"Model with uri '{src_model_uri}' not found",
                                  RESOURCE_DOES_NOT_EXIST)
        try:
            self._store.create_registered_model(dst_name)
        except TrackstoreError as exc:
            if exc.error_code != RESOURCE_ALREADY_EXISTS:
                raise
        return self._store.create_model_version(
            dst_name, f"models:/{source.name}/{source.version}", source.run_id,
            dict(source.tags), source.run_link, source.description, source.model_id)

    def _model_uri_version(self, model_uri: str) -> tuple[str, str]:
        """(name, version) of a registered model version URI."""
        if not model_uri.startswith("models:"):
            raise TrackstoreError(
                f"Unsupported source model URI: '{model_uri}'. The `copy_model_version` API "
                "only copies models stored in the 'models:/' scheme.", INVALID_PARAMETER_VALUE)
        path = model_uri[len("models:"):].lstrip("/")
        if "@" in path and "/" not in path:
            name, alias = path.rsplit("@", 1)
            return name, self._store.get_model_version_by_alias(name, alias).version
        name, _, which = path.partition("/")
        if which.isdigit():
            return name, which
        if name and which and "/" not in which:
            if which.lower() == "latest":
                return name, self._store.get_model_version_by_alias(name, "latest").version
            found = self._store.get_latest_versions(name, [which])
            if found:
                return name, found[0].version
            raise TrackstoreError(f"No versions of model with name '{name}' and stage "
                                  f"'{which}' found", RESOURCE_DOES_NOT_EXIST)
        raise TrackstoreError(f"Failed to fetch model version from source model URI: "
                              f"'{model_uri}'. Expected models:/<name>/<version>, "
                              "models:/<name>/<stage> or models:/<name>@<alias>.",
                              INVALID_PARAMETER_VALUE)

    def update_model_version(self, name: str, version: str,
                             description: str | None = None) -> ModelVersion:
        self._raise_if_prompt(name)
        return self._store.update_model_version(name, version, description)

    def transition_model_version_stage(self, name: str, version: str, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersion:
        if isinstance(stage, str) and stage.strip() == "":
            raise TrackstoreError("The stage must not be an empty string.",
                                  INVALID_PARAMETER_VALUE)
        self._raise_if_prompt(name)
        return self._store.transition_model_version_stage(name, version, stage,
                                                          archive_existing_versions)

    def delete_model_version(self, name: str, version: str) -> None:
        self._raise_if_prompt(name)
        self._store.delete_model_version(name, version)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        found = self._store.get_model_version(name, version)
        if IS_PROMPT_TAG in found.tags:
            raise _model_not_found(name)
        return found

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        self._raise_if_prompt(name)
        return self._store.get_model_version_download_uri(name, version)

    def search_model_versions(
        self, filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None, page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self._store.search_model_versions(filter_string, max_results, order_by,
                                                 page_token)

    def get_model_version_stages(self, name: str, version: str) -> list[str]:
        """The stages a version may be in (the same for every version)."""
        return list(ALL_STAGES)

    def _version_or_stage(self, name: str, version: str | None, stage: str | None) -> str:
        if version and stage:
            raise TrackstoreError("version and stage cannot be set together",
                                  INVALID_PARAMETER_VALUE)
        if not (version or stage):
            raise TrackstoreError("version or stage must be set", INVALID_PARAMETER_VALUE)
        if version:
            return version
        assert stage is not None
        latest = self._store.get_latest_versions(name, [stage])
        if not latest:
            raise TrackstoreError(f"Could not find any model version for {stage} stage",
                                  RESOURCE_DOES_NOT_EXIST)
        return latest[0].version

    def set_model_version_tag(self, name: str, version: str | None = None,
                              key: str | None = None, value: Any = None,
                              stage: str | None = None) -> None:
        number = self._version_or_stage(name, version, stage)
        self._raise_if_prompt(name)
        self._store.set_model_version_tag(name, number, ModelVersionTag(
            key, _text(value)))  # type: ignore[arg-type]  # checked by the store

    def delete_model_version_tag(self, name: str, version: str | None = None,
                                 key: str | None = None, stage: str | None = None) -> None:
        number = self._version_or_stage(name, version, stage)
        self._raise_if_prompt(name)
        self._store.delete_model_version_tag(name, number, key)  # type: ignore[arg-type]

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self._raise_if_prompt(name)
        self._store.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._raise_if_prompt(name)
        self._store.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        found = self._store.get_model_version_by_alias(name, alias)
        if IS_PROMPT_TAG in found.tags:
            raise _model_not_found(name)
        return found


def _store_batches(metrics: list[Metric], params: list[Param], tags: list[RunTag]
                   ) -> Iterator[tuple[list[Metric], list[Param], list[RunTag]]]:
    """Cut a batch to MLflow's limits per ``log_batch`` (params and tags go first)."""
    if len(params) <= MAX_PARAMS_TAGS_PER_BATCH and len(tags) <= MAX_PARAMS_TAGS_PER_BATCH \
            and len(params) + len(tags) + len(metrics) <= MAX_ENTITIES_PER_BATCH:
        yield metrics, params, tags
        return
    while params or tags or metrics:
        batch_params, params = params[:MAX_PARAMS_TAGS_PER_BATCH], \
            params[MAX_PARAMS_TAGS_PER_BATCH:]
        batch_tags, tags = tags[:MAX_PARAMS_TAGS_PER_BATCH], tags[MAX_PARAMS_TAGS_PER_BATCH:]
        room = MAX_ENTITIES_PER_BATCH - len(batch_params) - len(batch_tags)
        batch_metrics, metrics = metrics[:room], metrics[room:]
        yield batch_metrics, batch_params, batch_tags


def _all_pages(fetch: Any, token: str | None) -> PagedList[Any]:
    items: list[Any] = []
    while True:
        page = fetch(token)
        items.extend(page)
        token = page.token
        if not token:
            return PagedList(items, None)


def _model_not_found(name: str) -> TrackstoreError:
    return TrackstoreError(f"Registered Model with name={name!r} not found.",
                           RESOURCE_DOES_NOT_EXIST)


def _registry_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: _text(v) for k, v in (tags or {}).items()}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _status(status: str) -> int:
    try:
        return RunStatus.from_string(status)
    except ValueError as exc:
        raise TrackstoreError(str(exc), INVALID_PARAMETER_VALUE) from None
