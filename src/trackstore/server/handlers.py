"""The tracking endpoints of MLflow's REST API, one function each, over the store API.

Each handler takes the store and the request's :class:`Args` and returns the response object
(a dict in MLflow's JSON shape, see :mod:`trackstore.wire`) or, for reads whose size the
caller does not bound, an iterator of encoded chunks. Handlers are plain synchronous
functions: the application runs them on its worker threads.

Request checks follow MLflow's handler schemas (mlflow-spec §5.1, §5.4): "required" means
present, not null and not ``""``, with MLflow's message; types follow protobuf's JSON parser
(int64 as number or string, doubles with ``"NaN"``/``"Infinity"``, enums by name or number).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .. import wire
from .._version import __version__
from ..entities import ExperimentTag, LoggedModelInput, Metric, Param, RunTag
from ..exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from ..store.base import SEARCH_MAX_RESULTS_DEFAULT, AbstractStore
from ..validation import (
    API_DOCS_HINT,
    SEARCH_MAX_RESULTS_THRESHOLD,
    missing_parameter,
    wrong_type,
)

#: Page size of history reads the caller did not bound, and the cap on a bounded one: the
#: MLflow client pages with 25,000 (``GET_METRIC_HISTORY_MAX_RESULTS``) and follows tokens.
HISTORY_PAGE = 25_000
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"

Result = dict[str, Any] | Iterator[bytes]
Handler = Callable[[AbstractStore, "Args"], Result]


class Args:
    """A request's parameters: the JSON body, or the query string of a GET.

    Query values are strings (``int64`` and ``double`` readers accept strings, as protobuf
    does); a repeated field is every occurrence (``?run_ids=a&run_ids=b``).
    """

    __slots__ = ("_data", "_query")

    def __init__(self, data: Mapping[str, Any], query: Mapping[str, list[str]] | None = None):
        self._data = data
        self._query = query

    def get(self, name: str) -> Any:
        if self._query is not None:
            values = self._query.get(name)
            return values[0] if values else None
        return self._data.get(name)

    def many(self, name: str) -> list[Any]:
        if self._query is not None:
            return list(self._query.get(name, ()))
        value = self._data.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        error = wrong_type(name, value, "an array")
        raise TrackstoreError(error.message + API_DOCS_HINT, error.error_code)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None


def required(args: Args, name: str, read: Callable[[Any, str], Any] = wire.text) -> Any:
    value = args.get(name)
    if value is None or value == "":
        raise missing_parameter(name)
    return read(value, name)


def optional(args: Args, name: str, read: Callable[[Any, str], Any] = wire.text,
             default: Any = None) -> Any:
    value = args.get(name)
    if value is None:
        return default
    return read(value, name)


def _run_id(args: Args) -> str:
    """``run_id``, or the legacy ``run_uuid`` (the client sends both)."""
    value = args.get("run_id")
    if value is None or value == "":
        value = args.get("run_uuid")
    if value is None or value == "":
        raise missing_parameter("run_id")
    return wire.text(value, "run_id")


def _strings(args: Args, name: str) -> list[str]:
    return [wire.text(v, f"{name}[{i}]") for i, v in enumerate(args.many(name))]


def _positive(value: Any, name: str) -> int:
    number = wire.int64(value, name)
    if number < 1:
        raise TrackstoreError(
            f"Invalid value {number} for parameter '{name}' supplied. It must be a positive "
            "integer.", INVALID_PARAMETER_VALUE)
    return number


def _page(items: list[dict[str, Any]], field: str, token: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if items:
        body[field] = items
    if token:
        body["next_page_token"] = token
    return body


# -- experiments ---------------------------------------------------------------------------------

def create_experiment(store: AbstractStore, args: Args) -> Result:
    name = required(args, "name")
    tags = [ExperimentTag(k, v) for k, v in wire.tags_from_json(args.many("tags"))]
    experiment_id = store.create_experiment(name, optional(args, "artifact_location"), tags)
    return {"experiment_id": experiment_id}


def search_experiments(store: AbstractStore, args: Args) -> Result:
    # MLflow refuses a missing max_results here (proto2 default 0); the default is friendlier.
    max_results = optional(args, "max_results", _positive, SEARCH_MAX_RESULTS_DEFAULT)
    page = store.search_experiments(
        view_type=optional(args, "view_type", wire.run_view_type, 1),
        max_results=max_results, filter_string=optional(args, "filter") or None,
        order_by=_strings(args, "order_by"), page_token=optional(args, "page_token") or None)
    return _page([wire.experiment_to_json(e) for e in page], "experiments", page.token)


def get_experiment(store: AbstractStore, args: Args) -> Result:
    experiment = store.get_experiment(required(args, "experiment_id"))
    return {"experiment": wire.experiment_to_json(experiment)}


def get_experiment_by_name(store: AbstractStore, args: Args) -> Result:
    name = required(args, "experiment_name")
    experiment = store.get_experiment_by_name(name)
    if experiment is None:
        raise TrackstoreError(f"Could not find experiment with name '{name}'",
                              RESOURCE_DOES_NOT_EXIST)
    return {"experiment": wire.experiment_to_json(experiment)}


def delete_experiment(store: AbstractStore, args: Args) -> Result:
    store.delete_experiment(required(args, "experiment_id"))
    return {}


def restore_experiment(store: AbstractStore, args: Args) -> Result:
    store.restore_experiment(required(args, "experiment_id"))
    return {}


def update_experiment(store: AbstractStore, args: Args) -> Result:
    experiment_id = required(args, "experiment_id")
    new_name = optional(args, "new_name")
    if new_name:
        store.rename_experiment(experiment_id, new_name)
    return {}


def set_experiment_tag(store: AbstractStore, args: Args) -> Result:
    store.set_experiment_tag(required(args, "experiment_id"),
                             ExperimentTag(required(args, "key"), optional(args, "value") or ""))
    return {}


def delete_experiment_tag(store: AbstractStore, args: Args) -> Result:
    store.delete_experiment_tag(required(args, "experiment_id"), required(args, "key"))
    return {}


# -- runs ----------------------------------------------------------------------------------------

def create_run(store: AbstractStore, args: Args) -> Result:
    tags = [RunTag(k, v) for k, v in wire.tags_from_json(args.many("tags"))]
    run = store.create_run(
        experiment_id=optional(args, "experiment_id") or None,
        user_id=optional(args, "user_id") or None,
        start_time=optional(args, "start_time", wire.int64),
        tags=tags, run_name=optional(args, "run_name") or None)
    return {"run": wire.run_to_json(run)}


def update_run(store: AbstractStore, args: Args) -> Result:
    info = store.update_run_info(
        _run_id(args), optional(args, "status", wire.run_status),
        optional(args, "end_time", wire.int64), optional(args, "run_name") or None)
    return {"run_info": wire.run_info_to_json(info)}


def delete_run(store: AbstractStore, args: Args) -> Result:
    store.delete_run(required(args, "run_id"))
    return {}


def restore_run(store: AbstractStore, args: Args) -> Result:
    store.restore_run(required(args, "run_id"))
    return {}


def get_run(store: AbstractStore, args: Args) -> Result:
    return {"run": wire.run_to_json(store.get_run(_run_id(args)))}


def search_runs(store: AbstractStore, args: Args) -> Result:
    max_results = optional(args, "max_results", _positive, SEARCH_MAX_RESULTS_DEFAULT)
    if max_results > SEARCH_MAX_RESULTS_THRESHOLD:
        raise TrackstoreError(
            "Invalid value for request parameter max_results. It must be at most "
            f"{SEARCH_MAX_RESULTS_THRESHOLD}, but got value {max_results}",
            INVALID_PARAMETER_VALUE)
    page = store.search_runs(
        experiment_ids=_strings(args, "experiment_ids"),
        filter_string=optional(args, "filter") or "",
        run_view_type=optional(args, "run_view_type", wire.run_view_type, 1),
        max_results=max_results, order_by=_strings(args, "order_by"),
        page_token=optional(args, "page_token") or None)
    return _page([wire.run_to_json(r) for r in page], "runs", page.token)


def log_metric(store: AbstractStore, args: Args) -> Result:
    run_id = _run_id(args)
    for name in ("key", "value", "timestamp"):
        if args.get(name) is None or args.get(name) == "":
            raise missing_parameter(name)
    store.log_metric(run_id, Metric(
        wire.text(args.get("key"), "key"), wire.double(args.get("value"), "value"),
        wire.int64(args.get("timestamp"), "timestamp"), optional(args, "step", wire.int64, 0),
        model_id=optional(args, "model_id") or None,
        dataset_name=optional(args, "dataset_name") or None,
        dataset_digest=optional(args, "dataset_digest") or None))
    return {}


def log_param(store: AbstractStore, args: Args) -> Result:
    store.log_param(_run_id(args), Param(required(args, "key"),
                                         optional(args, "value", wire.text, "")))
    return {}


def set_tag(store: AbstractStore, args: Args) -> Result:
    store.set_tag(_run_id(args), RunTag(required(args, "key"),
                                        optional(args, "value", wire.text, "")))
    return {}


def delete_tag(store: AbstractStore, args: Args) -> Result:
    store.delete_tag(required(args, "run_id"), required(args, "key"))
    return {}


def log_batch(store: AbstractStore, args: Args) -> Result:
    run_id = required(args, "run_id")
    metrics = wire.metrics_from_json(args.many("metrics"))
    params = [Param(k, v) for k, v in _keyed(args, "params")]
    tags = [RunTag(k, v) for k, v in _keyed(args, "tags")]
    store.log_batch(run_id, metrics, params, tags)
    return {}


def _keyed(args: Args, name: str) -> list[tuple[str, str]]:
    pairs = wire.tags_from_json(args.many(name), name)
    for i, (key, _) in enumerate(pairs):
        if not key:
            raise missing_parameter(f"{name}[{i}].key")
    return pairs


def log_model(store: AbstractStore, args: Args) -> Result:
    """Append ``model_json`` to the run's ``mlflow.log-model.history`` tag, as MLflow does."""
    run_id = required(args, "run_id")
    model_json = required(args, "model_json")
    try:
        model = json.loads(model_json)
    except ValueError:
        raise TrackstoreError(f"Malformed model info. \n {model_json} \n is not a valid JSON.",
                              INVALID_PARAMETER_VALUE) from None
    if not isinstance(model, dict) or not {"artifact_path", "utc_time_created"} <= model.keys():
        raise TrackstoreError(f"Model json is missing mandatory fields: {model_json}",
                              INVALID_PARAMETER_VALUE)
    current = store.get_run(run_id).data.tags.get(LOG_MODEL_HISTORY_TAG)
    history = json.loads(current) if current else []
    history.append(model)
    store.set_tag(run_id, RunTag(LOG_MODEL_HISTORY_TAG, json.dumps(history)))
    return {}


def log_inputs(store: AbstractStore, args: Args) -> Result:
    run_id = required(args, "run_id")
    datasets = [wire.dataset_input_from_json(d, f"datasets[{i}]")
                for i, d in enumerate(args.many("datasets"))]
    models = []
    for i, m in enumerate(args.many("models")):
        model_id = m.get("model_id") if isinstance(m, dict) else None
        models.append(LoggedModelInput(wire.text(model_id, f"models[{i}].model_id")))
    store.log_inputs(run_id, datasets, models)
    return {}


# -- metric history ------------------------------------------------------------------------------

def get_metric_history(store: AbstractStore, args: Args) -> Result:
    run_id = _run_id(args)
    key = required(args, "metric_key")
    token = optional(args, "page_token") or None
    max_results = optional(args, "max_results", _positive)
    if max_results is not None:
        # A bounded read is one page, capped so one request cannot exhaust memory; the
        # client follows next_page_token for the rest.
        page = store.get_metric_history(run_id, key, min(max_results, HISTORY_PAGE), token)
        return _page([wire.metric_to_json(m) for m in page], "metrics", page.token)
    # Unbounded (MLflow returns everything): stream it page by page. The first page is read
    # before any byte is sent, so a bad run id or key is still a proper error response.
    first = store.get_metric_history(run_id, key, HISTORY_PAGE, token)
    return _stream_history(store, run_id, key, first)


def _stream_history(store: AbstractStore, run_id: str, key: str, page: Any) -> Iterator[bytes]:
    if not page:
        yield b"{}"
        return
    opener = b'{"metrics":['
    while True:
        # The page as a JSON array, without its brackets: one encoder call a page.
        yield opener + wire.dumps([wire.metric_to_json(m) for m in page])[1:-1]
        opener = b","
        if not page.token:
            break
        page = store.get_metric_history(run_id, key, HISTORY_PAGE, page.token)
    yield b"]}"


def get_metric_history_bulk_interval(store: AbstractStore, args: Args) -> Result:
    # The store checks the run ids (count, presence) with MLflow's server messages.
    run_ids = _strings(args, "run_ids")
    metrics = store.get_metric_history_bulk_interval(
        run_ids, optional(args, "metric_key", wire.text, ""),
        max_results=optional(args, "max_results", wire.int64, 2500),
        start_step=optional(args, "start_step", wire.int64),
        end_step=optional(args, "end_step", wire.int64))
    return _page([wire.metric_to_json(m) for m in metrics], "metrics", None)


def get_metric_history_bulk(store: AbstractStore, args: Args) -> Result:
    """The UI's ``/ajax-api/2.0/mlflow/metrics/get-history-bulk`` (``run_id`` repeated)."""
    run_ids = _strings(args, "run_id")
    metrics = store.get_metric_history_bulk(
        run_ids, optional(args, "metric_key", wire.text, ""),
        max_results=optional(args, "max_results", wire.int64, HISTORY_PAGE))
    return _page([wire.metric_to_json(m) for m in metrics], "metrics", None)


# -- server ----------------------------------------------------------------------------------------

def server_info(store: AbstractStore, args: Args, *, artifact_serving: bool = False) -> Result:
    # Multipart uploads and presigned downloads need a cloud artifact destination: the proxy
    # of a local one (server/artifacts.py) has neither, and MLflow's client then does without.
    return {"store_type": type(store).__name__, "artifact_serving_enabled": artifact_serving,
            "artifacts_presigned_only": False, "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False, "workspaces_enabled": False,
            "trace_archival_enabled": False, "server": "trackstore", "version": __version__}


API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"

# The model registry's endpoints build on this module's Args and checks, so they are imported
# once those are defined (``trackstore.server`` always loads this module first).
from .registry import REGISTRY, REGISTRY_SCANS  # noqa: E402

#: (methods, path under /api/2.0/mlflow and /ajax-api/2.0/mlflow, handler)
TRACKING: list[tuple[tuple[str, ...], str, Handler]] = [
    (("POST",), "/experiments/create", create_experiment),
    (("GET", "POST"), "/experiments/search", search_experiments),
    (("GET",), "/experiments/get", get_experiment),
    (("GET",), "/experiments/get-by-name", get_experiment_by_name),
    (("POST",), "/experiments/delete", delete_experiment),
    (("POST",), "/experiments/restore", restore_experiment),
    (("POST",), "/experiments/update", update_experiment),
    (("POST",), "/experiments/set-experiment-tag", set_experiment_tag),
    (("POST",), "/experiments/delete-experiment-tag", delete_experiment_tag),
    (("POST",), "/runs/create", create_run),
    (("POST",), "/runs/update", update_run),
    (("POST",), "/runs/delete", delete_run),
    (("POST",), "/runs/restore", restore_run),
    (("POST",), "/runs/log-metric", log_metric),
    (("POST",), "/runs/log-parameter", log_param),
    (("POST",), "/runs/set-tag", set_tag),
    (("POST",), "/runs/delete-tag", delete_tag),
    (("GET",), "/runs/get", get_run),
    (("POST",), "/runs/search", search_runs),
    (("POST",), "/runs/log-batch", log_batch),
    (("POST",), "/runs/log-model", log_model),
    (("POST",), "/runs/log-inputs", log_inputs),
    (("GET",), "/metrics/get-history", get_metric_history),
    (("GET",), "/metrics/get-history-bulk-interval", get_metric_history_bulk_interval),
]


#: The reads whose cost grows with what is stored: they run on the application's threads, so
#: that a long one never holds up the worker's other connections. Every other handler is a
#: bounded piece of work (one run, one batch) and runs on the event loop itself, as in a sync
#: worker: handing it to a thread and back cost about 200 µs of CPU per request (GIL and
#: wake-ups), a third of a ``log-metric`` request.
SCANS: tuple[Handler, ...] = (search_experiments, search_runs, get_metric_history,
                              get_metric_history_bulk_interval, get_metric_history_bulk,
                              *REGISTRY_SCANS)


def routes(artifact_serving: bool = False) -> dict[str, dict[str, Handler]]:
    """Every path the server answers, each with its methods (``/health`` etc. are the app's,
    the artifact proxy's paths are routed by :mod:`.artifacts`)."""
    table: dict[str, dict[str, Handler]] = {}
    for methods, path, handler in (*TRACKING, *REGISTRY):
        for prefix in (API, AJAX):
            table.setdefault(prefix + path, {}).update(dict.fromkeys(methods, handler))
    table[AJAX + "/metrics/get-history-bulk"] = {"GET": get_metric_history_bulk}
    for prefix in ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow"):
        table[prefix + "/server-info"] = {"GET": functools.partial(
            server_info, artifact_serving=artifact_serving)}
    from .imports import IMPORT_ROUTES

    for path, handler in IMPORT_ROUTES.items():
        table[path] = {"POST": handler}
    return table
