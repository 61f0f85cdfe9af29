"""The one tracking API every backend implements.

Backends implement the primitives (the abstract ``_``-prefixed methods and the reads); the
public methods validate arguments once, here, with MLflow's rules and messages, and derive the
conveniences (``log_metric``, ``log_param`` and ``set_tag`` are one-item ``log_batch`` calls).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from functools import lru_cache

from ..entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    LoggedModelInput,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from ..exceptions import INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS, TrackstoreError
from ..validation import (
    SEARCH_MAX_RESULTS_THRESHOLD,
    validate_artifact_location,
    validate_batch,
    validate_dataset_input,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
    validate_metric,
    validate_param,
    validate_run_id,
    validate_tag,
)

SEARCH_MAX_RESULTS_DEFAULT = 1000
RUN_NAME_TAG = "mlflow.runName"


@lru_cache(maxsize=4096)
def _checked_run_id(run_id: str) -> str:
    return validate_run_id(run_id)


def checked_run_id(run_id: object) -> str:
    """Validate a run id; cached because one run receives millions of calls."""
    if type(run_id) is not str:
        return validate_run_id(run_id)
    return _checked_run_id(run_id)


class AbstractStore(abc.ABC):
    """The tracking store API (experiments, runs, metrics, params, tags, inputs)."""

    # -- experiments ------------------------------------------------------------------------

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: Sequence[ExperimentTag] | None = None) -> str:
        validate_experiment_name(name)
        if artifact_location:
            validate_artifact_location(artifact_location)
        checked = [ExperimentTag(*validate_experiment_tag(t.key, t.value)) for t in tags or ()]
        return self._create_experiment(name, artifact_location or None, checked)

    @abc.abstractmethod
    def _create_experiment(self, name: str, artifact_location: str | None,
                           tags: list[ExperimentTag]) -> str: ...

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abc.abstractmethod
    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None: ...

    def search_experiments(self, view_type: int = ViewType.ACTIVE_ONLY,
                           max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                           filter_string: str | None = None, order_by: Sequence[str] | None = None,
                           page_token: str | None = None) -> PagedList[Experiment]:
        if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
            raise TrackstoreError(
                f"Invalid value {max_results} for parameter 'max_results' supplied. It must be "
                "a positive integer", INVALID_PARAMETER_VALUE)
        if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
            raise TrackstoreError(
                f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at "
                f"most {SEARCH_MAX_RESULTS_THRESHOLD}", INVALID_PARAMETER_VALUE)
        _check_view_type(view_type)
        return self._search_experiments(view_type, max_results, filter_string,
                                        list(order_by or ()), page_token)

    @abc.abstractmethod
    def _search_experiments(self, view_type: int, max_results: int, filter_string: str | None,
                            order_by: list[str], page_token: str | None
                            ) -> PagedList[Experiment]: ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        validate_experiment_name(new_name)
        self._rename_experiment(str(experiment_id), new_name)

    @abc.abstractmethod
    def _rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None: ...

    @abc.abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None:
        key, value = validate_experiment_tag(tag.key, tag.value)
        self._set_experiment_tag(str(experiment_id), ExperimentTag(key, value))

    @abc.abstractmethod
    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None: ...

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        validate_key(key, "key", "Tag")
        self._delete_experiment_tag(str(experiment_id), key)

    @abc.abstractmethod
    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, experiment_id: str | None, user_id: str | None, start_time: int | None,
                   tags: Sequence[RunTag] | None, run_name: str | None) -> Run:
        checked = [validate_tag(t, f"tags[{i}]") for i, t in enumerate(tags or ())]
        name_tags = [t.value for t in checked if t.key == RUN_NAME_TAG]
        if run_name and name_tags and run_name != name_tags[-1]:
            raise TrackstoreError(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
                f"different values (run_name='{run_name}', mlflow.runName='{name_tags[-1]}').",
                INVALID_PARAMETER_VALUE)
        if start_time is not None and (not isinstance(start_time, int) or start_time < 0):
            raise TrackstoreError(f"Invalid start_time {start_time!r}: expected milliseconds "
                                  "since the epoch", INVALID_PARAMETER_VALUE)
        return self._create_run(str(experiment_id) if experiment_id is not None else None,
                                user_id, start_time, checked, run_name or None)

    @abc.abstractmethod
    def _create_run(self, experiment_id: str | None, user_id: str | None,
                    start_time: int | None, tags: list[RunTag], run_name: str | None) -> Run: ...

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    def update_run_info(self, run_id: str, run_status: int | str | None, end_time: int | None,
                        run_name: str | None) -> RunInfo:
        status: int | None
        if run_status is None or isinstance(run_status, int):
            status = run_status
            if status is not None:
                RunStatus.to_string(status)
        else:
            try:
                status = RunStatus.from_string(run_status)
            except ValueError as exc:
                raise TrackstoreError(str(exc), INVALID_PARAMETER_VALUE) from None
        if end_time is not None and (not isinstance(end_time, int) or end_time < 0):
            raise TrackstoreError(f"Invalid end_time {end_time!r}: expected milliseconds "
                                  "since the epoch", INVALID_PARAMETER_VALUE)
        if run_name is not None:
            validate_tag(RunTag(RUN_NAME_TAG, run_name))
        return self._update_run_info(checked_run_id(run_id), status, end_time, run_name or None)

    @abc.abstractmethod
    def _update_run_info(self, run_id: str, status: int | None, end_time: int | None,
                         run_name: str | None) -> RunInfo: ...

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    def search_runs(self, experiment_ids: Sequence[str], filter_string: str = "",
                    run_view_type: int = ViewType.ACTIVE_ONLY,
                    max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
                    order_by: Sequence[str] | None = None,
                    page_token: str | None = None) -> PagedList[Run]:
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
            raise TrackstoreError(
                "Invalid value for request parameter max_results. It must be at most "
                f"{SEARCH_MAX_RESULTS_THRESHOLD}, but got value {max_results}",
                INVALID_PARAMETER_VALUE)
        _check_view_type(run_view_type)
        return self._search_runs([str(e) for e in experiment_ids], filter_string or "",
                                 run_view_type, max_results, list(order_by or ()), page_token)

    @abc.abstractmethod
    def _search_runs(self, experiment_ids: list[str], filter_string: str, run_view_type: int,
                     max_results: int, order_by: list[str], page_token: str | None
                     ) -> PagedList[Run]: ...

    # -- logging ----------------------------------------------------------------------------

    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (),
                  params: Sequence[Param] = (), tags: Sequence[RunTag] = ()) -> None:
        """Log metrics, params and tags; all-or-nothing where the backend allows it."""
        run_id = checked_run_id(run_id)
        checked_metrics, checked_params, checked_tags = validate_batch(metrics, params, tags)
        if checked_metrics or checked_params or checked_tags:
            self._log_batch(run_id, checked_metrics, checked_params, checked_tags)

    @abc.abstractmethod
    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param],
                   tags: list[RunTag]) -> None: ...

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self._log_metric(checked_run_id(run_id), validate_metric(metric))

    def _log_metric(self, run_id: str, metric: Metric) -> None:
        """One validated point; backends with a cheaper single-point path override it."""
        self._log_batch(run_id, [metric], [], [])

    def log_param(self, run_id: str, param: Param) -> None:
        self._log_batch(checked_run_id(run_id), [], [validate_param(param)], [])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self._log_batch(checked_run_id(run_id), [], [], [validate_tag(tag)])

    def delete_tag(self, run_id: str, key: str) -> None:
        validate_key(key, "key", "Tag")
        self._delete_tag(checked_run_id(run_id), key)

    @abc.abstractmethod
    def _delete_tag(self, run_id: str, key: str) -> None: ...

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None,
                   models: Sequence[LoggedModelInput] | None = None) -> None:
        for dataset_input in datasets or ():
            validate_dataset_input(dataset_input)
        for model in models or ():
            if not isinstance(getattr(model, "model_id", None), str) or not model.model_id:
                raise TrackstoreError("Model input must have a model_id", INVALID_PARAMETER_VALUE)
        self._log_inputs(checked_run_id(run_id), list(datasets or ()), list(models or ()))

    @abc.abstractmethod
    def _log_inputs(self, run_id: str, datasets: list[DatasetInput],
                    models: list[LoggedModelInput]) -> None: ...

    # -- metric history ---------------------------------------------------------------------

    def get_metric_history(self, run_id: str, metric_key: str, max_results: int | None = None,
                           page_token: str | None = None) -> PagedList[Metric]:
        """Every point of a metric (paged when ``max_results`` is given), as entities."""
        validate_key(metric_key, "metric_key", "Metric")
        if max_results is not None and (not isinstance(max_results, int) or max_results < 1):
            raise TrackstoreError(
                f"Invalid value {max_results} for parameter 'max_results' supplied. It must be "
                "a positive integer", INVALID_PARAMETER_VALUE)
        return self._get_metric_history(checked_run_id(run_id), metric_key, max_results,
                                        page_token)

    @abc.abstractmethod
    def _get_metric_history(self, run_id: str, metric_key: str, max_results: int | None,
                            page_token: str | None) -> PagedList[Metric]: ...

    def get_metric_history_columns(self, run_id: str, metric_key: str) -> MetricHistory:
        """Every point of a metric as three arrays (steps, timestamps, values), file order."""
        validate_key(metric_key, "metric_key", "Metric")
        return self._get_metric_history_columns(checked_run_id(run_id), metric_key)

    @abc.abstractmethod
    def _get_metric_history_columns(self, run_id: str, metric_key: str) -> MetricHistory: ...

    # -- permanent deletion (used by gc) ------------------------------------------------------

    @abc.abstractmethod
    def deleted_run_ids(self, older_than_ms: int = 0) -> list[str]:
        """Ids of deleted runs whose deletion is at least *older_than_ms* old."""

    @abc.abstractmethod
    def hard_delete_run(self, run_id: str) -> None:
        """Remove a deleted run and everything stored for it, for good."""

    @abc.abstractmethod
    def hard_delete_experiment(self, experiment_id: str) -> None:
        """Remove a deleted experiment and everything stored for it, for good."""

    def close(self) -> None:  # noqa: B027 - optional hook: most stores hold nothing open
        """Release what the store holds open (descriptors, connections)."""


def name_taken(existing: Experiment, how_to_free: str) -> TrackstoreError:
    """The error for creating or renaming to the name of *existing* (MLflow's messages).

    *how_to_free* says how this store deletes an experiment for good, so its name is free.
    """
    if existing.lifecycle_stage == "deleted":
        return TrackstoreError(
            f"Experiment {existing.name!r} already exists in deleted state. You can restore "
            f"the experiment, or permanently delete {how_to_free} in order to use this "
            "experiment name again.", RESOURCE_ALREADY_EXISTS)
    return TrackstoreError(f"Experiment '{existing.name}' already exists.",
                           RESOURCE_ALREADY_EXISTS)


def _check_view_type(view_type: int) -> None:
    if view_type not in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        raise TrackstoreError(f"Invalid view type {view_type!r}: expected 1 (ACTIVE_ONLY), "
                              "2 (DELETED_ONLY) or 3 (ALL)", INVALID_PARAMETER_VALUE)
