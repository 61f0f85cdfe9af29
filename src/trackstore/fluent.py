"""The fluent API (``trackstore.start_run``, ``trackstore.log_metric``, ...), as in MLflow.

Active runs are a per-thread stack (nested runs); the active experiment is process-wide.
Like MLflow, ``MLFLOW_EXPERIMENT_NAME``/``MLFLOW_EXPERIMENT_ID`` pick the default experiment,
``MLFLOW_RUN_ID`` resumes a run, and a run left active at interpreter exit is ended.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from . import asynclog, context
from .artifacts import clean_artifact_path
from .asynclog import RunOperations
from .client import TrackingClient
from .entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    LifecycleStage,
    LoggedModelInput,
    Param,
    Run,
    RunStatus,
    RunTag,
)
from .exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from .tracking_uri import get_tracking_uri

_local = threading.local()
_lock = threading.Lock()
_active_experiment_id: str | None = None
_client: TrackingClient | None = None
_atexit_registered = False


def _tracking_client() -> TrackingClient:
    global _client
    uri = get_tracking_uri()
    client = _client
    if client is None or client.tracking_uri != uri:
        client = _client = TrackingClient(uri)
    return client


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


class ActiveRun(Run):
    """The run returned by :func:`start_run`; ending the ``with`` block ends the run
    (FINISHED, or FAILED if an exception escaped, KILLED on KeyboardInterrupt or SIGTERM).

    The run keeps the client of the store it was started in: logging to it never resolves
    the tracking URI again (which costs more than storing a point).
    """

    __slots__ = ("_client",)
    _client: TrackingClient

    def __init__(self, run: Run, client: TrackingClient) -> None:
        super().__init__(run.info, run.data, run.inputs)
        self._client = client

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, (KeyboardInterrupt, asynclog.Terminated)):
            status = "KILLED"
        else:
            status = "FAILED"
        stack = _stack()
        if any(r.info.run_id == self.info.run_id for r in stack):
            while stack:
                run = stack[-1]
                end_run(status)
                if run.info.run_id == self.info.run_id:
                    break


# -- experiments --------------------------------------------------------------------------------


def set_experiment(experiment_name: str | None = None,
                   experiment_id: str | None = None) -> Experiment:
    """Make an experiment active (created if a name is given and it does not exist)."""
    global _active_experiment_id
    if (experiment_name is None) == (experiment_id is None):
        raise TrackstoreError("Must specify exactly one of: `experiment_id` or "
                              "`experiment_name`.", INVALID_PARAMETER_VALUE)
    client = _tracking_client()
    if experiment_id is None:
        assert experiment_name is not None
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None:
            new_id = client.create_experiment(experiment_name)
            experiment = client.get_experiment(new_id)
    else:
        try:
            experiment = client.get_experiment(str(experiment_id))
        except TrackstoreError as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                raise TrackstoreError(f"Experiment with ID '{experiment_id}' does not exist.",
                                      RESOURCE_DOES_NOT_EXIST) from None
            raise
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise TrackstoreError(
            f"Cannot set a deleted experiment {experiment.name!r} as the active experiment. "
            "You can restore the experiment, or permanently delete the experiment to create a "
            "new one.", INVALID_PARAMETER_VALUE)
    _active_experiment_id = experiment.experiment_id
    os.environ["MLFLOW_EXPERIMENT_ID"] = experiment.experiment_id
    return experiment


def _experiment_id() -> str:
    if _active_experiment_id is not None:
        return _active_experiment_id
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if name:
        experiment = _tracking_client().get_experiment_by_name(name)
        if experiment is None:
            raise TrackstoreError(f"Experiment with name '{name}' (MLFLOW_EXPERIMENT_NAME) does "
                                  "not exist", RESOURCE_DOES_NOT_EXIST)
        return experiment.experiment_id
    return os.environ.get("MLFLOW_EXPERIMENT_ID") or "0"


# -- runs ---------------------------------------------------------------------------------------


def start_run(run_id: str | None = None, experiment_id: str | None = None,
              run_name: str | None = None, nested: bool = False,
              parent_run_id: str | None = None, tags: dict[str, Any] | None = None,
              description: str | None = None,
              log_system_metrics: bool | None = None) -> ActiveRun:
    """Start a new run, or resume *run_id*, and make it the active run of this thread."""
    global _atexit_registered
    stack = _stack()
    if stack and not nested:
        raise TrackstoreError(
            f"Run with UUID {stack[0].info.run_id} is already active. To start a new run, first "
            "end the current run with trackstore.end_run(). To start a nested run, call "
            "start_run with nested=True", INVALID_PARAMETER_VALUE)
    client = _tracking_client()
    client.async_logging = asynclog.env_enabled()  # MLFLOW_ENABLE_ASYNC_LOGGING, read per run
    if parent_run_id is not None:
        parent = client.get_run(parent_run_id)
        if stack and stack[-1].info.run_id != parent_run_id:
            raise TrackstoreError(
                f"Current run with UUID {stack[-1].info.run_id} does not match the specified "
                f"parent_run_id {parent_run_id}. To start a new nested run under the parent run "
                f"with UUID {stack[-1].info.run_id}, first end the current run with "
                "trackstore.end_run().", INVALID_PARAMETER_VALUE)
        parent_id: str | None = parent.info.run_id
    else:
        parent_id = stack[-1].info.run_id if stack and nested else None
    user_tags = {k: str(v) for k, v in (tags or {}).items()}
    resume_id = run_id or os.environ.get("MLFLOW_RUN_ID")
    if resume_id:
        run = _resume(client, resume_id, experiment_id, run_name, user_tags, description)
    else:
        all_tags = context.run_context_tags()
        if parent_id:
            all_tags[context.PARENT_RUN_ID] = parent_id
        if description:
            all_tags[context.NOTE] = description
        all_tags.update(user_tags)
        run = client.create_run(experiment_id or _experiment_id(), tags=all_tags,
                                run_name=run_name)
    active = ActiveRun(run, client)
    stack.append(active)
    with _lock:
        if not _atexit_registered:
            atexit.register(_end_runs_at_exit)
            _atexit_registered = True
    return active


def _resume(client: TrackingClient, run_id: str, experiment_id: str | None,
            run_name: str | None, tags: dict[str, str], description: str | None) -> Run:
    existing = client.get_run(run_id)
    if experiment_id is not None and str(experiment_id) != existing.info.experiment_id:
        raise TrackstoreError(
            f"The run {run_id} belongs to experiment {existing.info.experiment_id}, not to "
            f"experiment {experiment_id}", INVALID_PARAMETER_VALUE)
    if existing.info.lifecycle_stage != LifecycleStage.ACTIVE:
        raise TrackstoreError(f"Cannot start run with ID {run_id} because it is in the deleted "
                              "state.", INVALID_PARAMETER_VALUE)
    if description:
        tags[context.NOTE] = description
    if tags:
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    client.store.update_run_info(run_id, RunStatus.RUNNING, None, run_name)
    return client.get_run(run_id)


def end_run(status: str = "FINISHED") -> None:
    """End the active run of this thread (if any) with *status*, after storing what was
    logged to its store asynchronously (a failure of that is raised, the run still ends)."""
    stack = _stack()
    if not stack:
        return
    run = stack.pop()
    run._client.set_terminated(run.info.run_id, status)


def _end_runs_at_exit() -> None:
    stack: list[ActiveRun] = getattr(_local, "stack", None) or []
    status = _exit_status(getattr(sys, "last_value", None))
    while stack:
        run = stack[-1]
        try:
            end_run(status)
        except Exception as exc:  # no caller is left to raise it to
            print(f"trackstore: ending run {run.info.run_id} at exit: {exc}", file=sys.stderr)
            if stack and stack[-1] is run:
                stack.pop()


def _exit_status(unhandled: BaseException | None) -> str:
    """How a run left active at exit ended, as a ``with start_run()`` block would say it:
    KILLED by SIGTERM or an unhandled KeyboardInterrupt (SIGINT), FAILED by another unhandled
    exception (the interpreter keeps it in ``sys.last_value``), else FINISHED."""
    if asynclog.terminated() or isinstance(unhandled, (KeyboardInterrupt, asynclog.Terminated)):
        return "KILLED"
    if unhandled is not None and not isinstance(unhandled, SystemExit):
        return "FAILED"
    return "FINISHED"


def active_run() -> ActiveRun | None:
    """The active run of this thread, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    run = active_run()
    return run._client.get_run(run.info.run_id) if run is not None else None


def _target(run_id: str | None = None) -> tuple[TrackingClient, str]:
    """The client and run to log to: the active run (started on demand) or *run_id*."""
    stack = _stack()
    if stack and (run_id is None or run_id == stack[-1].info.run_id):
        run = stack[-1]
    elif run_id is None:
        run = start_run()
    else:
        return _tracking_client(), run_id
    return run._client, run.info.run_id


# -- logging ------------------------------------------------------------------------------------


def log_metric(key: str, value: float, step: int | None = None,
               synchronous: bool | None = None, timestamp: int | None = None,
               run_id: str | None = None, model_id: str | None = None,
               dataset: Any = None) -> RunOperations | None:
    """Log one metric point to the active run (started on demand) or to *run_id*."""
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if run_id is None and stack:  # the training loop: no lookup beyond the run's own client
        run = stack[-1]
        client, run_id = run._client, run.info.run_id
    else:
        client, run_id = _target(run_id)
    if dataset is None:
        if model_id is None:
            return client.log_metric(run_id, key, value, timestamp, step, synchronous)
        return client.log_metric(run_id, key, value, timestamp, step, synchronous,
                                 model_id=model_id)
    name, digest = _dataset_fields(dataset)
    return client.log_metric(run_id, key, value, timestamp, step, synchronous, name, digest,
                             model_id)


def log_metrics(metrics: Mapping[str, float], step: int | None = None,
                synchronous: bool | None = None, run_id: str | None = None,
                timestamp: int | None = None, model_id: str | None = None,
                dataset: Any = None) -> RunOperations | None:
    """Log several metrics at one step and timestamp, in one batch."""
    name, digest = _dataset_fields(dataset)
    client, run_id = _target(run_id)
    return client.log_metrics(run_id, metrics, step, timestamp, synchronous, name, digest,
                              model_id)


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    client, run_id = _target()
    return client.log_param(run_id, key, value, synchronous)


def log_params(params: Mapping[str, Any], synchronous: bool | None = None,
               run_id: str | None = None) -> RunOperations | None:
    batch = [Param(k, str(v)) for k, v in params.items()]
    client, run_id = _target(run_id)
    return client.log_batch(run_id, params=batch, synchronous=synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
    client, run_id = _target()
    return client.set_tag(run_id, key, value, synchronous)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    batch = [RunTag(k, str(v)) for k, v in tags.items()]
    client, run_id = _target()
    return client.log_batch(run_id, tags=batch, synchronous=synchronous)


def delete_tag(key: str) -> None:
    client, run_id = _target()
    client.delete_tag(run_id, key)


def log_input(dataset: Any = None, context: str | None = None,
              tags: Mapping[str, str] | None = None, model: LoggedModelInput | None = None
              ) -> None:
    """Record a dataset (a trackstore ``Dataset`` or an MLflow dataset) or a model as input."""
    datasets = []
    if dataset is not None:
        input_tags = [InputTag(k, str(v)) for k, v in (tags or {}).items()]
        if context is not None:
            input_tags.append(InputTag("mlflow.data.context", context))
        datasets.append(DatasetInput(_dataset_entity(dataset), input_tags))
    client, run_id = _target()
    client.log_inputs(run_id, datasets, [model] if model is not None else None)


def log_artifact(local_path: str, artifact_path: str | None = None,
                 run_id: str | None = None) -> None:
    """Copy a local file into the active run's artifacts (``mlflow.log_artifact``)."""
    client, run = _target(run_id)
    client.log_artifact(run, local_path, artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None,
                  run_id: str | None = None) -> None:
    """Copy a local directory's content into the active run's artifacts."""
    client, run = _target(run_id)
    client.log_artifacts(run, local_dir, artifact_path)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The URI of the active run's artifacts, or of *artifact_path* among them."""
    client, run = _target()
    uri = client.get_run(run).info.artifact_uri or ""
    path = clean_artifact_path(artifact_path)
    return uri if not path else uri.rstrip("/") + "/" + path


def _dataset_entity(dataset: Any) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    to_entity = getattr(dataset, "_to_mlflow_entity", None)
    entity = to_entity() if callable(to_entity) else dataset
    try:
        return Dataset(entity.name, entity.digest, entity.source_type, entity.source,
                       getattr(entity, "schema", None), getattr(entity, "profile", None))
    except AttributeError:
        raise TrackstoreError(f"Cannot log {type(dataset).__name__} as a dataset: expected a "
                              "trackstore.entities.Dataset or an MLflow dataset",
                              INVALID_PARAMETER_VALUE) from None


def _dataset_fields(dataset: Any) -> tuple[str | None, str | None]:
    if dataset is None:
        return None, None
    entity = _dataset_entity(dataset)
    return entity.name, entity.digest


def _reset() -> None:
    """Forget the active experiment, runs and client of this process (tests)."""
    global _active_experiment_id, _client
    _active_experiment_id = None
    _client = None
    _local.stack = []
