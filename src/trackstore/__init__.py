"""trackstore: a fast, crash-safe backend store for ML experiment tracking.

The API mirrors MLflow's tracking API: ``TrackingClient`` has the tracking methods of
``mlflow.MlflowClient``, and the module-level functions are MLflow's fluent API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# Importing the package loads nothing else (about 1 ms instead of 0.4 s): a name is imported
# from its module when first used. pytest loads the benchmark recorder plugin, a submodule, in
# every session of an environment where trackstore is installed; that must cost nothing.
_EXPORTS: dict[str, tuple[str, str]] = {
    "active_run": (".fluent", "active_run"),
    "ActiveRun": (".fluent", "ActiveRun"),
    "Dataset": (".entities", "Dataset"),
    "DatasetInput": (".entities", "DatasetInput"),
    "delete_tag": (".fluent", "delete_tag"),
    "enable_async_logging": (".asynclog", "enable_async_logging"),
    "end_run": (".fluent", "end_run"),
    "Experiment": (".entities", "Experiment"),
    "ExperimentTag": (".entities", "ExperimentTag"),
    "flush": (".asynclog", "flush"),
    "flush_async_logging": (".asynclog", "flush"),
    "get_artifact_uri": (".fluent", "get_artifact_uri"),
    "get_tracking_uri": (".tracking_uri", "get_tracking_uri"),
    "InputTag": (".entities", "InputTag"),
    "last_active_run": (".fluent", "last_active_run"),
    "LifecycleStage": (".entities", "LifecycleStage"),
    "log_artifact": (".fluent", "log_artifact"),
    "log_artifacts": (".fluent", "log_artifacts"),
    "log_input": (".fluent", "log_input"),
    "log_metric": (".fluent", "log_metric"),
    "log_metrics": (".fluent", "log_metrics"),
    "log_param": (".fluent", "log_param"),
    "log_params": (".fluent", "log_params"),
    "Metric": (".entities", "Metric"),
    "MetricHistory": (".entities", "MetricHistory"),
    "ModelVersion": (".model_registry", "ModelVersion"),
    "ModelVersionTag": (".model_registry", "ModelVersionTag"),
    "Param": (".entities", "Param"),
    "RegisteredModel": (".model_registry", "RegisteredModel"),
    "RegisteredModelAlias": (".model_registry", "RegisteredModelAlias"),
    "RegisteredModelTag": (".model_registry", "RegisteredModelTag"),
    "Run": (".entities", "Run"),
    "RunData": (".entities", "RunData"),
    "RunInfo": (".entities", "RunInfo"),
    "RunOperations": (".asynclog", "RunOperations"),
    "RunStatus": (".entities", "RunStatus"),
    "RunTag": (".entities", "RunTag"),
    "set_experiment": (".fluent", "set_experiment"),
    "set_tag": (".fluent", "set_tag"),
    "set_tags": (".fluent", "set_tags"),
    "set_tracking_uri": (".tracking_uri", "set_tracking_uri"),
    "speedups": ("._speedups", "speedups"),
    "start_run": (".fluent", "start_run"),
    "TrackingClient": (".client", "TrackingClient"),
    "TrackstoreError": (".exceptions", "TrackstoreError"),
    "ViewType": (".entities", "ViewType"),
}

if TYPE_CHECKING:  # what type checkers and IDEs see: the names, from their modules
    from ._speedups import speedups
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

else:  # (hidden from type checkers: a module __getattr__ would make any name type-check)

    def __getattr__(name: str) -> Any:
        try:
            module, attribute = _EXPORTS[name]
        except KeyError:
            raise AttributeError(f"module 'trackstore' has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module, __name__), attribute)
        globals()[name] = value  # looked up once
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(_EXPORTS))


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
