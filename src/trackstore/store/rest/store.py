"""``RestStore``: the tracking API as a client of a tracking server, over MLflow's REST API.

Each operation is one call of the endpoint MLflow's own client calls for it, with the same HTTP
method, path and fields (mlflow-spec §5.4, §5.8): reads are GETs with query parameters,
everything else POSTs a JSON body; ``run_id`` and ``run_uuid`` are both sent where MLflow sends
both. So the store works against ``trackstore server``, ``mlflow server`` and Databricks alike.
The JSON shape, both ways, is :mod:`trackstore.wire`; the transport is :mod:`._http`.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ...entities import (
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
from ...exceptions import (
    INTERNAL_ERROR,
    NOT_IMPLEMENTED,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)
from ...wire import (
    dataset_input_to_json,
    double,
    experiment_from_json,
    int64,
    metric_from_json,
    metric_to_json,
    pairs_to_json,
    run_from_json,
    run_info_from_json,
)
from ..base import AbstractStore, GcRun
from ..model_registry import RegistryBackend
from ..registry import uri_scheme
from ._http import HttpClient, HttpSettings
from .credentials import mlflow_credentials
from .databricks import databricks_credentials

API_PREFIX = "/api/2.0/mlflow"
#: The page size MLflow's client reads a metric history with (GET_METRIC_HISTORY_MAX_RESULTS).
METRIC_HISTORY_PAGE = 25_000

_NO_PERMANENT_DELETE = (
    "MLflow's REST API has no endpoint for {what}: a tracking server only marks runs and "
    "experiments deleted. Run garbage collection against the server's backend store itself "
    "(its database or mlruns directory URI), not against {url}.")


class RestStore(AbstractStore):
    """A client of a tracking server at an ``http[s]://host[:port][/prefix]`` URI, or of
    Databricks (``databricks``, ``databricks://<profile>``).

    Credentials, TLS, timeouts and retries come from MLflow's environment variables
    (:mod:`.credentials`, :mod:`.databricks`, :mod:`._http`). *artifact_uri* is accepted for
    the store-factory signature only: the server decides where artifacts go. *sleep* waits
    between retries (injectable, so tests observe backoff and ``Retry-After`` without waiting).

    The model registry's calls go to the server's registry endpoints (:mod:`.registry`).

    Permanent deletion (:meth:`gc_runs`, :meth:`hard_delete_runs`,
    :meth:`hard_delete_experiment`) raises ``NOT_IMPLEMENTED``: MLflow's REST protocol has no
    such endpoints (``mlflow gc`` refuses HTTP URIs for the same reason), so garbage collection
    runs against the server's own backend store.
    """

    def __init__(self, store_uri: str, artifact_uri: str | None = None, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        credentials = (databricks_credentials(store_uri) if uri_scheme(store_uri) == "databricks"
                       else mlflow_credentials(store_uri))
        self._http = HttpClient(credentials.url, authorization=credentials.authorization,
                                ssl_context=credentials.ssl_context,
                                settings=HttpSettings.from_env(), sleep=sleep)
        self._registry: RegistryBackend | None = None

    def __repr__(self) -> str:
        return f"RestStore({self._http.url!r})"

    def _get(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._http.call("GET", API_PREFIX + endpoint, params, retry_safe=True)

    def _post(self, endpoint: str, body: dict[str, Any], *,
              retry_safe: bool = True) -> dict[str, Any]:
        """POST *body*; every POST but the two creates is safe to repeat (searches, and
        writes whose repetition leaves the same state: MLflow's retry-safe list)."""
        return self._http.call("POST", API_PREFIX + endpoint, body, retry_safe=retry_safe)

    def _release(self) -> None:
        self._http.close()

    def registry_backend(self) -> RegistryBackend:
        """The server's model registry (:mod:`.registry`), over this store's connections."""
        registry = self._registry
        if registry is None:
            from .registry import RestRegistry  # (it imports this module)

            registry = self._registry = RestRegistry(self._http)
        return registry

    # -- experiments ------------------------------------------------------------------------

    def _create_experiment(self, name: str, artifact_location: str | None,
                           tags: list[ExperimentTag]) -> str:
        body: dict[str, Any] = {"name": name}
        if artifact_location:
            body["artifact_location"] = artifact_location
        if tags:
            body["tags"] = pairs_to_json((t.key, t.value) for t in tags)
        return str(_field(self._post("/experiments/create", body, retry_safe=False),
                          "experiment_id"))

    def get_experiment(self, experiment_id: str) -> Experiment:
        response = self._get("/experiments/get", {"experiment_id": str(experiment_id)})
        return experiment_from_json(_field(response, "experiment"))

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        try:
            response = self._get("/experiments/get-by-name", {"experiment_name": experiment_name})
        except TrackstoreError as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                return None
            raise
        return experiment_from_json(_field(response, "experiment"))

    def _search_experiments(self, view_type: int, max_results: int, filter_string: str | None,
                            order_by: list[str], page_token: str | None
                            ) -> PagedList[Experiment]:
        response = self._search("/experiments/search", {
            "max_results": max_results, "view_type": ViewType.to_string(view_type).upper()},
            filter_string, order_by, page_token)
        return PagedList([experiment_from_json(e) for e in _list(response, "experiments")],
                         response.get("next_page_token") or None)

    def _search(self, endpoint: str, body: dict[str, Any], filter_string: str | None,
                order_by: list[str], page_token: str | None) -> dict[str, Any]:
        """POST a search with the optional fields MLflow's client omits when unset."""
        if filter_string:
            body["filter"] = filter_string
        if order_by:
            body["order_by"] = order_by
        if page_token:
            body["page_token"] = page_token
        return self._post(endpoint, body)

    def _rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._post("/experiments/update", {"experiment_id": experiment_id, "new_name": new_name})

    def delete_experiment(self, experiment_id: str) -> None:
        self._post("/experiments/delete", {"experiment_id": str(experiment_id)})

    def restore_experiment(self, experiment_id: str) -> None:
        self._post("/experiments/restore", {"experiment_id": str(experiment_id)})

    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag) -> None:
        self._post("/experiments/set-experiment-tag",
                   {"experiment_id": experiment_id, "key": tag.key, "value": tag.value})

    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._post("/experiments/delete-experiment-tag",
                   {"experiment_id": experiment_id, "key": key})

    # -- runs -------------------------------------------------------------------------------

    def _create_run(self, experiment_id: str | None, user_id: str | None,
                    start_time: int | None, tags: list[RunTag], run_name: str | None) -> Run:
        body: dict[str, Any] = {}
        if experiment_id is not None:
            body["experiment_id"] = experiment_id
        if user_id is not None:
            body["user_id"] = user_id
        if start_time is not None:
            body["start_time"] = start_time
        if tags:
            body["tags"] = pairs_to_json((t.key, t.value) for t in tags)
        if run_name is not None:
            body["run_name"] = run_name
        return run_from_json(_field(self._post("/runs/create", body, retry_safe=False), "run"))

    def get_run(self, run_id: str) -> Run:
        return run_from_json(_field(self._get("/runs/get", {"run_id": run_id, "run_uuid": run_id}),
                                    "run"))

    def _update_run_info(self, run_id: str, status: int | None, end_time: int | None,
                         run_name: str | None) -> RunInfo:
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id}
        if status is not None:
            body["status"] = RunStatus.to_string(status)
        if end_time is not None:
            body["end_time"] = end_time
        if run_name is not None:
            body["run_name"] = run_name
        return run_info_from_json(_field(self._post("/runs/update", body), "run_info"))

    def delete_run(self, run_id: str) -> None:
        self._post("/runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._post("/runs/restore", {"run_id": run_id})

    def _search_runs(self, experiment_ids: list[str], filter_string: str, run_view_type: int,
                     max_results: int, order_by: list[str], page_token: str | None
                     ) -> PagedList[Run]:
        response = self._search("/runs/search", {
            "experiment_ids": experiment_ids,
            "run_view_type": ViewType.to_string(run_view_type).upper(),
            "max_results": max_results}, filter_string, order_by, page_token)
        return PagedList([run_from_json(r) for r in _list(response, "runs")],
                         response.get("next_page_token") or None)

    # -- logging ----------------------------------------------------------------------------

    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param],
                   tags: list[RunTag]) -> None:
        """One ``runs/log-batch`` request: :meth:`AbstractStore.log_batch` has already held the
        batch to MLflow's limits (1000 entries, 100 params, 100 tags), the server's own, and
        ``TrackingClient.log_batch`` splits larger ones as ``MlflowClient`` does."""
        body: dict[str, Any] = {"run_id": run_id}
        if metrics:
            body["metrics"] = [metric_to_json(m) for m in metrics]
        if params:
            body["params"] = pairs_to_json((p.key, p.value) for p in params)
        if tags:
            body["tags"] = pairs_to_json((t.key, t.value) for t in tags)
        self._post("/runs/log-batch", body)

    def _log_metric(self, run_id: str, metric: Metric) -> None:
        self._post("/runs/log-metric",
                   {**metric_to_json(metric), "run_id": run_id, "run_uuid": run_id})

    def _delete_tag(self, run_id: str, key: str) -> None:
        self._post("/runs/delete-tag", {"run_id": run_id, "key": key})

    def _log_inputs(self, run_id: str, datasets: list[DatasetInput],
                    models: list[LoggedModelInput]) -> None:
        body: dict[str, Any] = {"run_id": run_id}
        if datasets:
            body["datasets"] = [dataset_input_to_json(d) for d in datasets]
        if models:
            body["models"] = [{"model_id": m.model_id} for m in models]
        self._post("/runs/log-inputs", body)

    # -- metric history ---------------------------------------------------------------------

    def _history_page(self, run_id: str, metric_key: str, max_results: int | None,
                      page_token: str | None) -> tuple[list[Any], str | None]:
        params: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id, "metric_key": metric_key}
        if max_results is not None:
            params["max_results"] = max_results
        if page_token:
            params["page_token"] = page_token
        response = self._get("/metrics/get-history", params)
        return _list(response, "metrics"), response.get("next_page_token") or None

    def _history_pages(self, run_id: str, metric_key: str,
                       page_token: str | None) -> Iterator[list[Any]]:
        """Every page of a history, in pages of MLflow's client size, from *page_token* on."""
        while True:
            points, page_token = self._history_page(run_id, metric_key, METRIC_HISTORY_PAGE,
                                                     page_token)
            yield points
            if not page_token:
                return

    def _get_metric_history(self, run_id: str, metric_key: str, max_results: int | None,
                            page_token: str | None) -> PagedList[Metric]:
        if max_results is not None:
            points, token = self._history_page(run_id, metric_key, max_results, page_token)
            return PagedList([metric_from_json(p, "metrics") for p in points], token)
        return PagedList([metric_from_json(p, "metrics")
                          for points in self._history_pages(run_id, metric_key, page_token)
                          for p in points], None)

    def _get_metric_history_columns(self, run_id: str, metric_key: str) -> MetricHistory:
        """The history's pages straight into arrays: no :class:`Metric` per point."""
        timestamps, values, steps = array("q"), array("d"), array("q")
        for points in self._history_pages(run_id, metric_key, None):
            for point in points:
                timestamps.append(int64(point.get("timestamp"), "metrics.timestamp"))
                values.append(double(point.get("value"), "metrics.value"))
                step = point.get("step")
                steps.append(0 if step is None else int64(step, "metrics.step"))
        return MetricHistory(metric_key, timestamps, values, steps)

    # -- permanent deletion -----------------------------------------------------------------

    def gc_runs(self, run_ids: Sequence[str] | None = None,
                experiment_ids: Sequence[str] | None = None) -> list[GcRun]:
        """Not available over REST (see the class docstring)."""
        raise self._no_permanent_delete("listing deleted runs for garbage collection")

    def hard_delete_runs(self, run_ids: Sequence[str]) -> int:
        """Not available over REST (see the class docstring)."""
        raise self._no_permanent_delete("deleting runs permanently")

    def hard_delete_experiment(self, experiment_id: str) -> None:
        """Not available over REST (see the class docstring)."""
        raise self._no_permanent_delete("deleting an experiment permanently")

    def _no_permanent_delete(self, what: str) -> TrackstoreError:
        return TrackstoreError(_NO_PERMANENT_DELETE.format(what=what, url=self._http.url),
                               NOT_IMPLEMENTED)


def _field(response: Mapping[str, Any], name: str) -> Any:
    value = response.get(name)
    if value is None:
        raise TrackstoreError(f"The tracking server's response lacks '{name}': {response!r:.300}",
                              INTERNAL_ERROR)
    return value


def _list(response: Mapping[str, Any], name: str) -> list[Any]:
    value = response.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TrackstoreError(f"The tracking server's response has a non-list '{name}'",
                              INTERNAL_ERROR)
    return value
