"""The one tracking API every backend implements.

Backends implement the primitives (the abstract ``_``-prefixed methods and the reads); the
public methods validate arguments once, here, with MLflow's rules and messages, and derive the
conveniences (``log_metric``, ``log_param`` and ``set_tag`` are one-item ``log_batch`` calls).
"""

from __future__ import annotations

import abc
import bisect
import heapq
import operator
import threading
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import compress, pairwise, starmap
from math import isnan
from typing import NamedTuple

from .._pointq import PointRow
from ..asynclog import AsyncLogger, RunOperations
from ..entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    LifecycleStage,
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
    now_ms,
)
from ..exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)
from ..validation import (
    API_DOCS_HINT,
    MAX_ENTITIES_PER_BATCH,
    SEARCH_MAX_RESULTS_THRESHOLD,
    invalid_value,
    missing_parameter,
    plain_metric,
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
from .model_registry import RegistryCalls

_async_start_lock = threading.Lock()

SEARCH_MAX_RESULTS_DEFAULT = 1000
RUN_NAME_TAG = "mlflow.runName"

#: MLflow's server limits on the multi-run history reads (``mlflow/server/handlers.py``): at
#: most this many runs per request, ...
HISTORY_BULK_MAX_RUNS = 100
#: ... at most this many points per run from ``get_metric_history_bulk_interval`` (the
#: default, and the most a request may ask for) ...
HISTORY_BULK_INTERVAL_MAX_RESULTS = 2500
#: ... and at most this many points in all from ``get_metric_history_bulk`` (a larger
#: ``max_results`` is lowered to it, not refused).
HISTORY_BULK_MAX_RESULTS = 25000
#: How many points of the runs' columns ``get_metric_history_bulk_interval`` keeps between
#: its two passes (~24 MB); the histories of runs beyond it are read again instead.
_RETAINED_POINTS = 1_000_000


class GcRun(NamedTuple):
    """A run as garbage collection sees it: enough to decide and to find its artifacts."""

    run_id: str
    experiment_id: str
    lifecycle_stage: str
    #: When it was deleted (ms); None for an active run, or one deleted by an MLflow too old
    #: to record the time.
    deleted_time: int | None
    artifact_uri: str


def not_deleted(run_id: str) -> TrackstoreError:
    return TrackstoreError(f"Run {run_id} is not deleted; only deleted runs can be removed "
                           "permanently (delete it first)", INVALID_PARAMETER_VALUE)


@lru_cache(maxsize=4096)
def _checked_run_id(run_id: str) -> str:
    return validate_run_id(run_id)


def checked_run_id(run_id: object) -> str:
    """Validate a run id; cached because one run receives millions of calls."""
    if type(run_id) is not str:
        return validate_run_id(run_id)
    return _checked_run_id(run_id)


class AbstractStore(RegistryCalls, abc.ABC):
    """The tracking store API (experiments, runs, metrics, params, tags, inputs), and the
    model registry's (:class:`~trackstore.store.model_registry.RegistryCalls`)."""

    #: The queue and thread of asynchronous logging (:mod:`trackstore.asynclog`), made on
    #: first use.
    _async_logger: AsyncLogger | None = None

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

    def _log_point_rows(self, run_id: str, rows: list[PointRow]) -> None:
        """Store points queued by asynchronous logging, validated, as ``(key, value,
        timestamp, step)`` rows of this run. Stores that can take them without a ``Metric``
        object per point override it."""
        metrics = [Metric(key, value, timestamp, step) for key, value, timestamp, step in rows]
        for start in range(0, len(metrics), MAX_ENTITIES_PER_BATCH):
            self._log_batch(run_id, metrics[start:start + MAX_ENTITIES_PER_BATCH], [], [])

    def log_param(self, run_id: str, param: Param) -> None:
        self._log_batch(checked_run_id(run_id), [], [validate_param(param)], [])

    # Asynchronous logging: validated here, in the caller; stored by a background thread.

    def log_metric_async(self, run_id: str, metric: Metric) -> RunOperations:
        return self.log_batch_async(run_id, [metric])

    def log_param_async(self, run_id: str, param: Param) -> RunOperations:
        return self.log_batch_async(run_id, params=[param])

    def set_tag_async(self, run_id: str, tag: RunTag) -> RunOperations:
        return self.log_batch_async(run_id, tags=[tag])

    def log_point_async(self, run_id: str, key: str, value: float, timestamp: int | None,
                        step: int | None) -> RunOperations:
        """One point, the training-loop case (a None timestamp is now, a None step 0): queued
        as a row of the run's open handle when it is plain (see ``_pointq_py``), with no
        object made but the row; otherwise as a batch, validated here."""
        logger = self._async_logger or self._start_async_logging()
        ops = logger.points.put(run_id, key, value, timestamp, step)
        if ops is not None:
            return ops  # type: ignore[no-any-return]
        metric = Metric(key, value, now_ms() if timestamp is None else timestamp, step or 0)
        if type(run_id) is str and plain_metric(metric):  # the run has no open handle yet
            return logger.submit_points(run_id, [(key, value, metric.timestamp, metric.step)])
        return self.log_batch_async(run_id, [metric])

    def log_points_async(self, run_id: str, values: Mapping[str, float],
                         timestamp: int | None, step: int | None) -> RunOperations | None:
        """Several metrics at one step (``log_metrics``), queued as rows if every one is
        plain (a float value, a key seen valid before); otherwise None, and nothing queued."""
        logger = self._async_logger or self._start_async_logging()
        ops = logger.points.put_many(run_id, values, timestamp, step)
        if ops is not None:
            return ops  # type: ignore[no-any-return]
        if type(run_id) is not str or not values:
            return None
        timestamp = now_ms() if timestamp is None else timestamp
        metrics = [Metric(key, value, timestamp, step or 0) for key, value in values.items()]
        if not all(map(plain_metric, metrics)):
            return None
        return logger.submit_points(run_id, [(m.key, m.value, m.timestamp, m.step)
                                             for m in metrics])

    def log_batch_async(self, run_id: str, metrics: Sequence[Metric] = (),
                        params: Sequence[Param] = (), tags: Sequence[RunTag] = ()
                        ) -> RunOperations:
        run_id = checked_run_id(run_id)
        checked = validate_batch(metrics, params, tags)
        return (self._async_logger or self._start_async_logging()).submit(run_id, *checked)

    def flush_async_logging(self) -> None:
        """Wait until everything logged asynchronously to this store is stored; raise what
        failed."""
        if self._async_logger is not None:
            self._async_logger.flush()

    def settle_async_logging(self) -> None:
        """Wait until everything logged asynchronously so far is stored (errors stay queued
        for the caller who logged it)."""
        logger = self._async_logger
        if logger is not None and logger.pending:
            logger.settle()

    def _start_async_logging(self) -> AsyncLogger:
        with _async_start_lock:
            if self._async_logger is None:
                self._async_logger = AsyncLogger(self)
            return self._async_logger

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

    def get_metric_history_bulk_interval(
            self, run_ids: Sequence[str], metric_key: str,
            max_results: int | None = HISTORY_BULK_INTERVAL_MAX_RESULTS,
            start_step: int | None = None, end_step: int | None = None) -> list[Metric]:
        """A metric of several runs, sampled to about *max_results* steps: what charts draw.

        MLflow 3.17's ``GetMetricHistoryBulkInterval`` as its file store serves it (the
        algorithm of MLflow's ``AbstractStore``), checked with its server's limits and
        messages: 1 to 100 run ids (one id as a plain string counts as a list of one),
        *max_results* 1 to 2500 (None: 2500), *start_step* and *end_step* both or neither,
        ``start_step <= end_step``.

        The steps are sampled once for all the runs, so that runs line up on the same steps:
        the distinct steps of every run in ``[start_step, end_step]`` (without a range,
        ``[0, the largest step]``: negative steps are left out, as MLflow does) are kept
        whole when there are at most *max_results* of them, else *max_results* evenly spaced
        ones plus the last; each run's own first and last step in the range are added. Of
        each run, the points at those steps are ordered by (step, timestamp, value) and, when
        there are more than ``max(max_results, number of sampled steps)`` of them (many
        points at one step), that many evenly spaced ones are kept, the first and the last
        among them. The answer is the runs in the order given (a repeated id is answered
        twice, as MLflow does), each Metric carrying its ``run_id``.

        Points at one step and timestamp are ordered by value (NaN < -inf < finite < +inf,
        trackstore's order everywhere) as MLflow's SQL store orders them, not in logging
        order as MLflow's file store leaves them: the answer is then the same on every
        backend. An unknown run is ``RESOURCE_DOES_NOT_EXIST``, as from
        :meth:`get_metric_history`.
        """
        ids = _history_bulk_interval_run_ids(run_ids)
        if metric_key is None or metric_key == "":
            raise missing_parameter("metric_key")
        if max_results is None:
            max_results = HISTORY_BULK_INTERVAL_MAX_RESULTS
        for name, value in (("start_step", start_step), ("end_step", end_step),
                            ("max_results", max_results)):
            if value is not None and not _is_int(value):
                raise TrackstoreError(
                    invalid_value(name, value, f" Hint: Value was of type "
                                               f"'{type(value).__name__}'.") + API_DOCS_HINT,
                    INVALID_PARAMETER_VALUE)
        if not 1 <= max_results <= HISTORY_BULK_INTERVAL_MAX_RESULTS:
            raise TrackstoreError(
                f"max_results must be between 1 and {HISTORY_BULK_INTERVAL_MAX_RESULTS}."
                + API_DOCS_HINT, INVALID_PARAMETER_VALUE)
        if start_step is None or end_step is None:
            if start_step is not None or end_step is not None:
                raise TrackstoreError("If either start step or end step are specified, both "
                                      "must be specified.", INVALID_PARAMETER_VALUE)
        elif start_step > end_step:
            raise TrackstoreError(
                "end_step must be greater than start_step. "
                f"Found start_step={start_step} and end_step={end_step}.",
                INVALID_PARAMETER_VALUE)
        validate_key(metric_key, "metric_key", "Metric")
        checked = [checked_run_id(run_id) for run_id in ids]
        return self._get_metric_history_bulk_interval(checked, metric_key, max_results,
                                                      start_step, end_step)

    def _get_metric_history_bulk_interval(self, run_ids: list[str], metric_key: str,
                                          max_results: int, start_step: int | None,
                                          end_step: int | None) -> list[Metric]:
        """The sampling of :meth:`get_metric_history_bulk_interval` over validated arguments.

        Derived from :meth:`_get_metric_history_columns` in two passes (the steps to keep
        depend on every run): only the kept points become Metric objects. A backend that can
        sample where the data lives may override it.
        """
        # First pass: the distinct steps of all runs and each run's first and last step.
        held: list[MetricHistory | None] = []
        room = _RETAINED_POINTS
        distinct: set[int] = set()
        bounds: set[int] = set()
        for run_id in run_ids:
            history = self._get_metric_history_columns(run_id, metric_key)
            n = len(history)
            if n:
                distinct.update(history.steps)
                bounds.update((min(history.steps), max(history.steps)))
            held.append(history if n <= room else None)
            room -= n if n <= room else 0
        all_steps = sorted(distinct)
        del distinct
        if start_step is None or end_step is None:
            start_step, end_step = 0, all_steps[-1] if all_steps else 0
        wanted = _sample_steps(all_steps, max_results, start_step, end_step)
        wanted.update(s for s in bounds if start_step <= s <= end_step)
        per_run = max(max_results, len(wanted))
        del all_steps

        # Second pass: each run's points at the kept steps, thinned evenly when too many.
        out: list[Metric] = []
        for position, run_id in enumerate(run_ids):
            kept, held[position] = held[position], None
            history = (kept if kept is not None
                       else self._get_metric_history_columns(run_id, metric_key))
            steps, timestamps, values = history.steps, history.timestamps, history.values
            at_wanted = array("q", compress(range(len(steps)), map(wanted.__contains__, steps)))
            order = _in_order(at_wanted, _step_order_key(steps, timestamps, values))
            for i in _evenly_spaced(len(order), per_run):
                j = order[i]
                out.append(Metric(metric_key, values[j], timestamps[j], steps[j],
                                  run_id=run_id))
        return out

    def get_metric_history_bulk(self, run_ids: Sequence[str], metric_key: str,
                                max_results: int = HISTORY_BULK_MAX_RESULTS) -> list[Metric]:
        """The whole history of a metric in several runs, as MLflow's web UI fetches it.

        MLflow's ajax-only ``GET /ajax-api/2.0/mlflow/metrics/get-history-bulk``, with its
        limits and messages: 1 to 100 run ids (one id as a plain string counts as a list of
        one); *max_results* above 25000 is lowered to 25000
        (a *max_results* below 1 is refused, where MLflow answers nonsense). The answer is
        what MLflow's SQL store gives: the runs by run id (each once), each run's points by
        (timestamp, step, value), at most *max_results* points in all, each Metric carrying
        its ``run_id``. Values at one timestamp and step are ordered NaN < -inf < finite <
        +inf. An unknown run is ``RESOURCE_DOES_NOT_EXIST``, as from
        :meth:`get_metric_history` (MLflow's file store does the same; its SQL store
        leaves the run out).
        """
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids or ())
        if not ids:
            raise TrackstoreError("GetMetricHistoryBulk request must specify at least one "
                                  "run_id.", INVALID_PARAMETER_VALUE)
        if len(ids) > HISTORY_BULK_MAX_RUNS:
            raise TrackstoreError(
                f"GetMetricHistoryBulk request cannot specify more than {HISTORY_BULK_MAX_RUNS}"
                f" run_ids. Received {len(ids)} run_ids.", INVALID_PARAMETER_VALUE)
        if metric_key is None:
            raise TrackstoreError("GetMetricHistoryBulk request must specify a metric_key.",
                                  INVALID_PARAMETER_VALUE)
        if not _is_int(max_results) or max_results < 1:
            raise TrackstoreError(
                f"Invalid value {max_results} for parameter 'max_results' supplied. It must be "
                "a positive integer", INVALID_PARAMETER_VALUE)
        validate_key(metric_key, "metric_key", "Metric")
        checked = sorted({checked_run_id(run_id) for run_id in ids})
        return self._get_metric_history_bulk(checked, metric_key,
                                             min(max_results, HISTORY_BULK_MAX_RESULTS))

    def _get_metric_history_bulk(self, run_ids: list[str], metric_key: str,
                                 max_results: int) -> list[Metric]:
        """:meth:`get_metric_history_bulk` over validated, sorted, distinct run ids.

        Derived from :meth:`_get_metric_history_columns`; only the points returned become
        Metric objects. A backend that can do it in one query may override it.
        """
        out: list[Metric] = []
        for run_id in run_ids:
            room = max_results - len(out)
            if room <= 0:
                # The answer is full, but an unknown run is still an error: ask for the
                # least the backend can answer it with.
                self._get_metric_history(run_id, metric_key, 1, None)
                continue
            history = self._get_metric_history_columns(run_id, metric_key)
            steps, timestamps, values = history.steps, history.timestamps, history.values
            for j in _first_in_order(len(steps), room,
                                     _time_order_key(steps, timestamps, values)):
                out.append(Metric(metric_key, values[j], timestamps[j], steps[j],
                                  run_id=run_id))
        return out

    # -- permanent deletion (used by gc) ------------------------------------------------------

    @abc.abstractmethod
    def gc_runs(self, run_ids: Sequence[str] | None = None,
                experiment_ids: Sequence[str] | None = None) -> list[GcRun]:
        """The runs named by *run_ids* (those that exist, in any stage), or every run of
        *experiment_ids* (in any stage), or, given neither, every deleted run."""

    @abc.abstractmethod
    def hard_delete_runs(self, run_ids: Sequence[str]) -> int:
        """Remove deleted runs and everything stored for them, for good (set-based: a few
        statements per chunk of runs, not per run); how many were removed.

        A run that no longer exists is skipped (a repeated or resumed collection is not an
        error); a run that is not deleted stops the call with ``INVALID_PARAMETER_VALUE``
        before its chunk is touched.
        """

    @abc.abstractmethod
    def hard_delete_experiment(self, experiment_id: str) -> None:
        """Remove a deleted experiment and everything stored for it (its runs included),
        for good."""

    def finish_interrupted_gc(self) -> int:
        """Finish what a garbage collection killed half-way left outside the store's own
        transactions (the file store's folders); how many it removed. Nothing to do here."""
        return 0

    def deleted_run_ids(self, older_than_ms: int = 0) -> list[str]:
        """Ids of deleted runs whose deletion is at least *older_than_ms* old (a run deleted
        without a recorded time counts as old enough, whatever the backend)."""
        cutoff = now_ms() - older_than_ms
        return [r.run_id for r in self.gc_runs()
                if r.deleted_time is None or r.deleted_time <= cutoff]

    def hard_delete_run(self, run_id: str) -> None:
        """Remove one deleted run for good (see :meth:`hard_delete_runs`)."""
        run_id = _checked_run_id(run_id)
        found = self.gc_runs(run_ids=[run_id])
        if not found:
            raise TrackstoreError(f"Run '{run_id}' not found", RESOURCE_DOES_NOT_EXIST)
        if found[0].lifecycle_stage != LifecycleStage.DELETED:
            raise not_deleted(run_id)
        self.hard_delete_runs([run_id])

    def close(self) -> None:
        """Store what was logged asynchronously, then release what the store holds open
        (descriptors, connections); raises what failed to be stored, after releasing."""
        try:
            if self._async_logger is not None:
                self._async_logger.shut_down()
        finally:
            self._release()

    def _release(self) -> None:
        """Close descriptors and connections (stores that hold some override it)."""


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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _history_bulk_interval_run_ids(run_ids: Sequence[str] | None) -> list[str]:
    """The run ids of a bulk-interval read, with the checks and messages of MLflow's server."""
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids or ())
    if not ids:
        raise missing_parameter("run_ids")
    if len(ids) > HISTORY_BULK_MAX_RUNS:
        raise TrackstoreError(
            f"GetMetricHistoryBulkInterval request must specify at most {HISTORY_BULK_MAX_RUNS}"
            f" run_ids. Received {len(ids)} run_ids." + API_DOCS_HINT, INVALID_PARAMETER_VALUE)
    return ids


def _sample_steps(all_steps: list[int], max_results: int, start_step: int,
                  end_step: int) -> set[int]:
    """The distinct steps in ``[start_step, end_step]``, thinned to *max_results* plus the last.

    The positions are ``int(i * (count / max_results))``, in floating point as MLflow
    computes them: another rounding would pick other steps than an MLflow server does.
    """
    lo = bisect.bisect_left(all_steps, start_step)
    hi = bisect.bisect_right(all_steps, end_step)
    if hi - lo <= max_results:
        return set(all_steps[lo:hi])
    interval = (hi - lo) / max_results
    picked = {all_steps[idx] for idx in (lo + int(i * interval) for i in range(max_results))
              if idx < hi}
    picked.add(all_steps[hi - 1])
    return picked


def _evenly_spaced(total: int, limit: int) -> Iterable[int]:
    """At most *limit* evenly spaced positions in ``range(total)``, the first and the last
    among them (only the last when *limit* is 1), rounded as MLflow rounds them."""
    if total <= limit:
        return range(total)
    if limit == 1:
        return (total - 1,)
    spacing = (total - 1) / (limit - 1)
    return sorted({round(i * spacing) for i in range(limit)})


PointKey = Callable[[int], tuple[int, int, int, float]]


def _step_order_key(steps: Sequence[int], timestamps: Sequence[int],
                    values: Sequence[float]) -> PointKey:
    """Point *i*'s place in (step, timestamp, value) order; NaN < -inf < finite < +inf."""
    def key(i: int) -> tuple[int, int, int, float]:
        v = values[i]
        return (steps[i], timestamps[i], 0, 0.0) if isnan(v) else (steps[i], timestamps[i], 1, v)
    return key


def _time_order_key(steps: Sequence[int], timestamps: Sequence[int],
                    values: Sequence[float]) -> PointKey:
    """Point *i*'s place in (timestamp, step, value) order; NaN < -inf < finite < +inf."""
    def key(i: int) -> tuple[int, int, int, float]:
        v = values[i]
        return (timestamps[i], steps[i], 0, 0.0) if isnan(v) else (timestamps[i], steps[i], 1, v)
    return key


def _is_ordered(indices: Iterable[int], key: PointKey) -> bool:
    # One key at a time: histories usually arrive in order (the SQL store reads them so), and
    # seeing that costs no list of keys.
    return all(starmap(operator.le, pairwise(map(key, indices))))


def _in_order(indices: Sequence[int], key: PointKey) -> Sequence[int]:
    """*indices* ordered by *key*, without sorting (or building keys) when already so."""
    return indices if _is_ordered(indices, key) else sorted(indices, key=key)


def _first_in_order(total: int, limit: int, key: PointKey) -> Sequence[int]:
    """The first *limit* of ``range(total)`` in *key* order, holding at most *limit* of them."""
    indices = range(total)
    if _is_ordered(indices, key):
        return indices[:limit]
    if limit < total:
        return heapq.nsmallest(limit, indices, key=key)
    return sorted(indices, key=key)


def _check_view_type(view_type: int) -> None:
    if view_type not in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        raise TrackstoreError(f"Invalid view type {view_type!r}: expected 1 (ACTIVE_ONLY), "
                              "2 (DELETED_ONLY) or 3 (ALL)", INVALID_PARAMETER_VALUE)
