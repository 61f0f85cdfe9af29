"""``TrackingClient``: the tracking methods of ``mlflow.MlflowClient``, same names and arguments.

Code written against ``MlflowClient`` switches by changing the import::

    from trackstore import TrackingClient as MlflowClient
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

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
)
from .exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from .store.base import SEARCH_MAX_RESULTS_DEFAULT, AbstractStore
from .store.registry import get_store
from .tracking_uri import get_tracking_uri
from .validation import MAX_ENTITIES_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH

USER_TAG = "mlflow.user"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class RunOperations:
    """The handle returned by logging calls made with ``synchronous=False``.

    trackstore's synchronous writes are already fast, so such calls complete before they
    return and :meth:`wait` has nothing left to wait for; errors are raised at the call.
    """

    def wait(self) -> None:
        return None


_DONE = RunOperations()


class TrackingClient:
    """A client of one tracking store, chosen by *tracking_uri* (default: the one in force)."""

    def __init__(self, tracking_uri: str | None = None) -> None:
        self._tracking_uri = tracking_uri or get_tracking_uri()
        self._store = get_store(self._tracking_uri)

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
        self._store.update_run_info(run_id, _status(status or "FINISHED"),
                                    end_time or now_ms(), None)

    def delete_run(self, run_id: str) -> None:
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
        return self._store.search_runs(experiment_ids, filter_string, run_view_type, max_results,
                                       order_by, page_token)

    # -- logging ----------------------------------------------------------------------------

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None, synchronous: bool | None = None,
                   dataset_name: str | None = None, dataset_digest: str | None = None,
                   model_id: str | None = None) -> RunOperations | None:
        self._store.log_metric(run_id, Metric(
            key, value, now_ms() if timestamp is None else timestamp, step or 0, model_id,
            dataset_name, dataset_digest))
        return _DONE if synchronous is False else None

    def log_param(self, run_id: str, key: str, value: Any,
                  synchronous: bool | None = None) -> Any:
        self._store.log_param(run_id, Param(key, _text(value)))
        return _DONE if synchronous is False else value

    def set_tag(self, run_id: str, key: str, value: Any,
                synchronous: bool | None = None) -> RunOperations | None:
        self._store.set_tag(run_id, RunTag(key, _text(value)))
        return _DONE if synchronous is False else None

    def delete_tag(self, run_id: str, key: str) -> None:
        self._store.delete_tag(run_id, key)

    def log_batch(self, run_id: str, metrics: Sequence[Metric] = (),
                  params: Sequence[Param] = (), tags: Sequence[RunTag] = (),
                  synchronous: bool | None = None) -> RunOperations | None:
        """Log everything given; split into store batches of MLflow's size limits."""
        params = [Param(p.key, _text(p.value)) for p in params]
        tags = [RunTag(t.key, _text(t.value)) for t in tags]
        metrics = list(metrics)
        if len(params) <= MAX_PARAMS_TAGS_PER_BATCH and len(tags) <= MAX_PARAMS_TAGS_PER_BATCH \
                and len(params) + len(tags) + len(metrics) <= MAX_ENTITIES_PER_BATCH:
            self._store.log_batch(run_id, metrics, params, tags)
            return _DONE if synchronous is False else None
        while params or tags or metrics:
            batch_params, params = params[:MAX_PARAMS_TAGS_PER_BATCH], \
                params[MAX_PARAMS_TAGS_PER_BATCH:]
            batch_tags, tags = tags[:MAX_PARAMS_TAGS_PER_BATCH], tags[MAX_PARAMS_TAGS_PER_BATCH:]
            room = MAX_ENTITIES_PER_BATCH - len(batch_params) - len(batch_tags)
            batch_metrics, metrics = metrics[:room], metrics[room:]
            self._store.log_batch(run_id, batch_metrics, batch_params, batch_tags)
        return _DONE if synchronous is False else None

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None,
                   models: Sequence[LoggedModelInput] | None = None) -> None:
        self._store.log_inputs(run_id, datasets, models)

    # -- metric history ---------------------------------------------------------------------

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point logged for *key*, as :class:`Metric` objects."""
        return list(self._store.get_metric_history(run_id, key))

    def get_metric_history_columns(self, run_id: str, key: str) -> MetricHistory:
        """Every point logged for *key* as arrays: ``steps``, ``timestamps``, ``values``.

        No Python object per point: use this for long series (``numpy.frombuffer`` views the
        arrays without a copy).
        """
        return self._store.get_metric_history_columns(run_id, key)


def _all_pages(fetch: Any, token: str | None) -> PagedList[Any]:
    items: list[Any] = []
    while True:
        page = fetch(token)
        items.extend(page)
        token = page.token
        if not token:
            return PagedList(items, None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _status(status: str) -> int:
    try:
        return RunStatus.from_string(status)
    except ValueError as exc:
        raise TrackstoreError(str(exc), INVALID_PARAMETER_VALUE) from None
