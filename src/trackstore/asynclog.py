"""Asynchronous logging: ``synchronous=False`` and ``MLFLOW_ENABLE_ASYNC_LOGGING``.

A logging call made asynchronously is validated in the caller (bad input is refused at the
call, as in synchronous mode) and appended to its store's queue; that is all the caller pays.
One background thread per store takes everything queued at once, merges it into
``log_batch`` calls per run, and stores them. See ``docs/durability.md`` for what survives
what.

The contract:

* **Order.** One thread applies submissions in the order they were queued, so what is logged
  to a run is written in submission order (points merged into batches, each stored exactly
  once). A synchronous write of params or tags through :class:`TrackingClient` first waits
  for the queued work, so mixing the modes keeps the order too.
* **Bounded.** At most ``TRACKSTORE_ASYNC_LOGGING_MAX_QUEUE`` points (default 100,000) wait in
  the queue. A call that would exceed it blocks until the thread takes the queue; after
  ``TRACKSTORE_ASYNC_LOGGING_PUT_TIMEOUT`` seconds (default 120) it raises
  ``RESOURCE_EXHAUSTED`` with nothing of that call queued. Nothing is ever dropped silently.
* **Errors reach the caller**: through the :class:`RunOperations` handle each call returns
  (``wait()`` raises), else at the next asynchronous call to that store, at :func:`flush`, or
  at ``end_run``; each failure is raised once. At interpreter exit, with no caller left, it
  goes to stderr.
* **Flushed** by :func:`flush`, ``end_run`` / ``set_terminated`` (before the run is marked
  ended), at interpreter exit, and on SIGTERM: once asynchronous logging has started in the
  main thread, a SIGTERM whose handler is the default one becomes ``SystemExit(143)``, so the
  process exits through the normal path that stores the queue. SIGINT already does so
  (``KeyboardInterrupt``).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from ._pointq import PointQueue, PointRow
from .entities import Metric, Param, RunTag
from .exceptions import (
    BAD_REQUEST,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    MALFORMED_REQUEST,
    RESOURCE_DOES_NOT_EXIST,
    RESOURCE_EXHAUSTED,
    TrackstoreError,
)
from .validation import (
    MAX_ENTITIES_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    VALID_KEYS,
    validate_run_id,
)

if TYPE_CHECKING:
    from .store.base import AbstractStore

ENV_ENABLE = "MLFLOW_ENABLE_ASYNC_LOGGING"
ENV_BUFFERING = "MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"
ENV_MAX_QUEUE = "TRACKSTORE_ASYNC_LOGGING_MAX_QUEUE"
ENV_PUT_TIMEOUT = "TRACKSTORE_ASYNC_LOGGING_PUT_TIMEOUT"

DEFAULT_MAX_QUEUE = 100_000
DEFAULT_PUT_TIMEOUT = 120.0

#: Error codes with which a store refuses a batch having changed nothing (design §5): a merged
#: batch refused so is retried submission by submission, and only the culprit fails.
_REFUSALS = frozenset({INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, INVALID_STATE,
                       BAD_REQUEST, MALFORMED_REQUEST})

#: ``enable_async_logging()``'s choice, which overrides what each client read from the
#: environment; None until it is called.
forced: bool | None = None


def env_enabled() -> bool:
    """``MLFLOW_ENABLE_ASYNC_LOGGING`` as MLflow reads a boolean variable."""
    return os.environ.get(ENV_ENABLE, "false").strip().lower() in ("true", "1")


def enable_async_logging(enable: bool = True) -> None:
    """Make logging calls that do not say ``synchronous=`` asynchronous (or not), in every
    client of this process at once and in child processes (through the environment)."""
    global forced
    forced = bool(enable)
    os.environ[ENV_ENABLE] = "true" if enable else "false"


class RunOperations:
    """What a logging call made asynchronously returns.

    :meth:`wait` blocks until what the call queued is stored, and raises the
    :class:`TrackstoreError` that storing it met, if any.
    """

    __slots__ = ("_error", "_logger", "_seq")

    def __init__(self, logger: AsyncLogger | None = None, seq: int = 0) -> None:
        self._logger = logger
        self._seq = seq
        self._error: TrackstoreError | None = None

    def wait(self) -> None:
        if self._logger is not None:
            self._logger.wait_for(self)

    @staticmethod
    def of(handles: list[RunOperations]) -> RunOperations:
        """One handle for several (a ``log_batch`` cut into store-sized batches)."""
        return _Several(handles)

    def __repr__(self) -> str:
        return f"<RunOperations #{self._seq}>"


class _Several(RunOperations):
    __slots__ = ("_handles",)

    def __init__(self, handles: list[RunOperations]) -> None:
        super().__init__()
        self._handles = handles

    def wait(self) -> None:
        errors = []
        for handle in self._handles:
            try:
                handle.wait()
            except TrackstoreError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


class _Points(RunOperations):
    """The handle shared by the single points queued for one run until the thread takes
    the queue (or a batch for the run is queued after them): they are stored together."""

    __slots__ = ("_rows",)

    def __init__(self, logger: AsyncLogger, seq: int) -> None:
        super().__init__(logger, seq)
        self._rows: list[PointRow] = []


#: The handle of a call with nothing to wait for.
DONE = RunOperations()

# A queued submission: its handle, the run, then its (metrics, params, tags); all three None
# for a _Points handle, whose rows are the submission.
_Item = tuple[RunOperations, str, "list[Metric] | None", "list[Param] | None",
              "list[RunTag] | None"]


class AsyncLogger:
    """The queue and the background thread of one store."""

    def __init__(self, store: AbstractStore) -> None:
        self._store = store
        self._max_points = _env_number(ENV_MAX_QUEUE, DEFAULT_MAX_QUEUE, int, 1)
        self._put_timeout = _env_number(ENV_PUT_TIMEOUT, DEFAULT_PUT_TIMEOUT, float, 0)
        self._linger = _env_number(ENV_BUFFERING, 0.0, float, 0)
        self._reset()
        _loggers.add(self)

    def _reset(self) -> None:
        max_points = self._max_points
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the thread waits here for work
        self._progress = threading.Condition(self._lock)  # callers wait here for room or work done
        self._items: list[_Item] = []
        # Single points, the training-loop case, cost no object of their own: a row in the
        # run's open _Points handle, which was queued with the run's first point. The store
        # queues them straight into `points` (see _pointq_py); a call it cannot queue there
        # comes to submit_points.
        self.points = PointQueue(VALID_KEYS)
        self.points.reset(max_points)
        self._points = 0  # queued in items, not yet taken by the thread
        self._submitted = 0  # sequence number of the newest submission
        self._done = 0  # every submission up to this one is stored (or failed)
        self._waiting = 0  # callers waiting on _progress
        self._idle = False
        self._unreported: list[RunOperations] = []  # failed, and nobody has been told
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- the callers' side ------------------------------------------------------------------

    def submit_points(self, run_id: str, rows: list[PointRow]) -> RunOperations:
        """Queue validated points of one run that ``points.put`` / ``points.put_many`` did
        not: the run has no open handle, the queue is full, or a failure is unreported.
        Everything besides the append happens here, once per run per batch: the run id's
        check, the queue's bound, waking the thread."""
        with self._lock:
            return self._queue_rows(run_id, rows)

    def _queue_rows(self, run_id: str, rows: list[PointRow]) -> RunOperations:
        # With the lock held.
        if self._unreported:
            self._raise_unreported()
        self._wait_for_room(len(rows))
        if run_id not in self.points:
            validate_run_id(run_id)
            ops = _Points(self, self._submitted + 1)
            self._enqueue((ops, run_id, None, None, None))
            self.points.open(run_id, ops, ops._rows)
        self.points.room = self._max_points - self._points
        return self.points.add(run_id, rows)  # type: ignore[no-any-return]

    def submit(self, run_id: str, metrics: list[Metric], params: list[Param],
               tags: list[RunTag]) -> RunOperations:
        """Queue one validated batch (within MLflow's batch limits)."""
        points = len(metrics) + len(params) + len(tags)
        if not points:
            return DONE
        with self._lock:
            if self._unreported:
                self._raise_unreported()
            self._wait_for_room(points)
            ops = RunOperations(self, self._submitted + 1)
            self._enqueue((ops, run_id, metrics, params, tags))
            self.points.close(run_id)  # later points queue after this batch
            self._points += points
            self.points.room = self._max_points - self._points
        return ops

    @property
    def pending(self) -> bool:
        """Whether something submitted is not stored yet."""
        return self._done < self._submitted

    def settle(self) -> None:
        """Wait until everything submitted so far is stored (or failed); raise nothing."""
        with self._lock:
            self._wait_done(self._submitted)

    def wait_for(self, ops: RunOperations) -> None:
        with self._lock:
            self._wait_done(ops._seq)
            error = ops._error
            if error is not None:
                if ops in self._unreported:
                    self._unreported.remove(ops)
                raise error

    def flush(self) -> None:
        """Wait until everything submitted so far is stored, then raise what failed."""
        with self._lock:
            self._wait_done(self._submitted)
            if self._unreported:
                self._raise_unreported(at_call=False)

    def shut_down(self) -> None:
        """Flush, then stop the thread (it starts again on the next submission)."""
        try:
            self.flush()
        finally:
            with self._lock:
                thread, self._stopping = self._thread, True
                self._wake.notify()
            if thread is not None and thread is not threading.current_thread():
                thread.join()
            with self._lock:
                if self._thread is thread:
                    self._thread = None
                self._stopping = False

    # Called with the lock held. A signal handler (KeyboardInterrupt, Terminated) may raise
    # between any two steps of the main thread: every state it can leave behind must still
    # be stored by the thread and waited for correctly.

    def _enqueue(self, item: _Item) -> None:
        self._items.append(item)  # queued: from here on the thread will store it
        self._submitted = item[0]._seq
        if self._idle or self._thread is None or not self._thread.is_alive():
            self._idle = False
            if self._thread is None or not self._thread.is_alive():
                self._start()
            else:
                self._wake.notify()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trackstore-async-logging",
                                        daemon=True)
        self._thread.start()
        _on_first_start()

    def _wait_for_room(self, points: int) -> None:
        """Wait until *points* fit in the queue (or it is empty: a call bigger than the
        whole queue is taken alone)."""
        deadline = None
        while self._points + self.points.count \
                and self._points + self.points.count + points > self._max_points:
            if deadline is None:
                deadline = time.monotonic() + self._put_timeout
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TrackstoreError(
                    f"Asynchronous logging could not queue {points} item(s) within "
                    f"{self._put_timeout:g} s ({ENV_PUT_TIMEOUT}): "
                    f"{self._points + self.points.count} queued items "
                    f"wait for the store, and the queue holds at most {self._max_points} "
                    f"({ENV_MAX_QUEUE}). The store is not keeping up, or not answering. Nothing "
                    "of this call was queued.", RESOURCE_EXHAUSTED)
            self._waiting += 1
            self._wake.notify()  # cut a buffering wait short: a full queue is stored now
            try:
                self._progress.wait(remaining)
            finally:
                self._waiting -= 1

    def _wait_done(self, seq: int) -> None:
        self._waiting += 1
        try:
            while self._done < seq:
                if self._thread is None or not self._thread.is_alive():
                    self._start()  # stopped by shut_down, or gone: the queue is still there
                self._wake.notify()  # cut a buffering wait short
                self._progress.wait(1.0)
        finally:
            self._waiting -= 1

    def _raise_unreported(self, at_call: bool = True) -> None:
        """Raise the failures nobody was told of; *at_call*: from a logging call, whose own
        data is then not queued (the message says so)."""
        failed, self._unreported = self._unreported, []
        errors = list(dict.fromkeys(ops._error for ops in failed if ops._error is not None))
        if len(errors) == 1:
            message = errors[0].message
        else:
            message = (f"{len(errors)} asynchronous logging operations failed: "
                       + "; ".join(e.message for e in errors[:10])
                       + (f"; and {len(errors) - 10} more" if len(errors) > 10 else ""))
        if at_call:
            message += " (reported at this later logging call, whose own data was not queued)"
        error = TrackstoreError(message, errors[0].error_code)
        error.__cause__ = errors[0].__cause__
        raise error

    # -- the thread's side ------------------------------------------------------------------

    def _run(self) -> None:
        items: list[_Item] = []
        try:
            while True:
                with self._lock:
                    while not self._items:
                        if self._stopping:
                            return
                        self._idle = True
                        self._wake.wait(1.0)  # woken by a submission; the timeout is a backstop
                    self._idle = False
                    if self._linger and not self._waiting:
                        self._wake.wait(self._linger)
                    items, self._items = self._items, []
                    self.points.reset(self._max_points)
                    self._points = 0
                    if self._waiting:
                        self._progress.notify_all()
                self._apply(items)
                with self._lock:
                    self._done = items[-1][0]._seq
                    items = []
                    if self._waiting:
                        self._progress.notify_all()
        except BaseException as exc:  # a defect here must fail the callers, never hang them
            error = _failure("", exc)
            with self._lock:
                items += self._items
                self._items = []
                self.points.reset(self._max_points)
                self._points = 0
                for item in items:
                    if item[0]._error is None:
                        item[0]._error = error
                        self._unreported.append(item[0])
                self._done = self._submitted
                self._thread = None
                self._progress.notify_all()
            raise

    def _apply(self, items: list[_Item]) -> None:
        runs: dict[str, list[_Item]] = {}
        for item in items:
            group = runs.get(item[1])
            if group is None:
                runs[item[1]] = [item]
            else:
                group.append(item)
        for run_id, group in runs.items():
            self._apply_run(run_id, group)

    def _apply_run(self, run_id: str, group: list[_Item]) -> None:
        """Store one run's submissions in submission order, in as few batches as the limits
        allow: a run of single points in one call, other submissions merged while they fit
        (see :class:`_Merged`)."""
        merged = _Merged()
        for item in group:
            ops = item[0]
            if isinstance(ops, _Points):
                if merged.members:
                    self._store_batch(run_id, merged)
                    merged = _Merged()
                try:
                    self._store._log_point_rows(run_id, ops._rows)
                except Exception as exc:
                    self._fail(run_id, exc, [item])
                ops._rows = []
                continue
            if merged.members and not merged.fits(item):
                self._store_batch(run_id, merged)
                merged = _Merged()
            merged.add(item)
        if merged.members:
            self._store_batch(run_id, merged)

    def _store_batch(self, run_id: str, merged: _Merged) -> None:
        try:
            self._store._log_batch(run_id, merged.metrics, merged.params, merged.tags)
        except Exception as exc:
            if len(merged.members) > 1 and isinstance(exc, TrackstoreError) \
                    and exc.error_code in _REFUSALS:
                # Nothing of the batch was stored: find the submission(s) at fault.
                for item in merged.members:
                    alone = _Merged()
                    alone.add(item)
                    self._store_batch(run_id, alone)
                return
            self._fail(run_id, exc, merged.members)

    def _fail(self, run_id: str, exc: Exception, members: list[_Item]) -> None:
        error = _failure(run_id, exc)
        with self._lock:
            for item in members:
                item[0]._error = error
                self._unreported.append(item[0])
            self.points.room = 0  # the next point takes the slow path, which raises it


class _Merged:
    """Submissions of one run merged into one ``log_batch``. A submission fits while the
    batch stays within MLflow's limits and repeats no param or tag key (so a conflict, or
    the last write of a tag, stays where it was submitted)."""

    __slots__ = ("members", "metrics", "param_keys", "params", "tag_keys", "tags")

    def __init__(self) -> None:
        self.metrics: list[Metric] = []
        self.params: list[Param] = []
        self.tags: list[RunTag] = []
        self.members: list[_Item] = []
        self.param_keys: set[str] = set()
        self.tag_keys: set[str] = set()

    def fits(self, item: _Item) -> bool:
        metrics, params, tags = item[2] or [], item[3] or [], item[4] or []
        return (len(self.metrics) + len(self.params) + len(self.tags) + len(metrics)
                + len(params) + len(tags) <= MAX_ENTITIES_PER_BATCH
                and len(self.params) + len(params) <= MAX_PARAMS_TAGS_PER_BATCH
                and len(self.tags) + len(tags) <= MAX_PARAMS_TAGS_PER_BATCH
                and not any(p.key in self.param_keys for p in params)
                and not any(t.key in self.tag_keys for t in tags))

    def add(self, item: _Item) -> None:
        self.metrics += item[2] or []
        self.params += item[3] or []
        self.tags += item[4] or []
        self.param_keys.update(p.key for p in item[3] or [])
        self.tag_keys.update(t.key for t in item[4] or [])
        self.members.append(item)


def _failure(run_id: str, exc: BaseException) -> TrackstoreError:
    where = f" to run {run_id}" if run_id else ""
    if isinstance(exc, TrackstoreError):
        error = TrackstoreError(f"Asynchronous logging{where} failed: {exc.message}",
                                exc.error_code)
    else:
        error = TrackstoreError(
            f"Asynchronous logging{where} failed: {type(exc).__name__}: {exc}", INTERNAL_ERROR)
    error.__cause__ = exc
    return error


def _env_number(name: str, default: Any, kind: type, minimum: float) -> Any:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise TrackstoreError(f"{name}={text!r}: expected a number >= {minimum}",
                              INVALID_PARAMETER_VALUE)
    return value


# -- every logger of the process: exit, fork, SIGTERM --------------------------------------------

_loggers: weakref.WeakSet[AsyncLogger] = weakref.WeakSet()
_exiting = False
_handler_installed = False
_exit_hook_registered = False


def flush() -> None:
    """Store everything queued by asynchronous logging calls, in every store of this process;
    raise what failed."""
    errors = []
    for logger in list(_loggers):
        try:
            logger.flush()
        except TrackstoreError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise TrackstoreError("; ".join(e.message for e in errors), errors[0].error_code)


class Terminated(SystemExit):
    """What SIGTERM raises in the main thread once asynchronous logging has started."""


_terminated = False


def terminated() -> bool:
    """Whether the process is on its way out because of SIGTERM."""
    return _terminated


def _on_sigterm(signum: int, frame: object) -> None:
    global _terminated
    if _exiting or _terminated:  # already on the way out, storing the queue: let it finish
        return
    _terminated = True
    raise Terminated(128 + signum)


def _on_first_start() -> None:
    """Hook the exit path, once: registered late, the exit hook runs before the fluent API's
    (which ends the runs left active); then take SIGTERM if nobody else has."""
    global _exit_hook_registered, _handler_installed
    if not _exit_hook_registered:
        atexit.register(_flush_at_exit)
        _exit_hook_registered = True
    if _handler_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main interpreter
        return
    _handler_installed = True


def _flush_at_exit() -> None:
    global _exiting
    _exiting = True
    for logger in list(_loggers):
        try:
            logger.flush()
        except TrackstoreError as exc:
            print(f"trackstore: {exc.message}", file=sys.stderr)


def _after_fork_in_child() -> None:
    # The queue belongs to the parent, which stores it; the child starts empty.
    for logger in list(_loggers):
        logger._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
