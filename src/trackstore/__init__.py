"""trackstore: a fast, crash-safe backend store for ML experiment tracking.

The API mirrors MLflow's tracking API: ``TrackingClient`` has the tracking methods of
``mlflow.MlflowClient``, and the module-level functions are MLflow's fluent API.
"""

from __future__ import annotations

from ._speedups import speedups
from ._version import __version__
from .asynclog import RunOperations, enable_async_logging, flush
from .client import TrackingClient
from .entities import (
    Dataset,
    DatasetInput,
    Experiment,
    ExperimentTag,
    InputTag,
    LifecycleStage,
    Metric,
    MetricHistory,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from .exceptions import TrackstoreError
from .fluent import (
    ActiveRun,
    active_run,
    delete_tag,
    end_run,
    get_artifact_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_experiment,
    set_tag,
    set_tags,
    start_run,
)
from .model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from .tracking_uri import get_tracking_uri, set_tracking_uri

#: MLflow's name for :func:`flush`.
flush_async_logging = flush

__all__ = [
    "ActiveRun",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "InputTag",
    "LifecycleStage",
    "Metric",
    "MetricHistory",
    "ModelVersion",
    "ModelVersionTag",
    "Param",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelTag",
    "Run",
    "RunData",
    "RunInfo",
    "RunOperations",
    "RunStatus",
    "RunTag",
    "TrackingClient",
    "TrackstoreError",
    "ViewType",
    "__version__",
    "active_run",
    "delete_tag",
    "enable_async_logging",
    "end_run",
    "flush",
    "flush_async_logging",
    "get_artifact_uri",
    "get_tracking_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "speedups",
    "start_run",
]
