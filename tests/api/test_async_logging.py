"""Asynchronous logging (``synchronous=False``, ``MLFLOW_ENABLE_ASYNC_LOGGING``): what is queued
is stored exactly once, params and tags in submission order, and every failure reaches the
caller. Process kills are in ``test_durability.py``."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import trackstore
from tests._live_server import serve_in_thread
from trackstore import RunOperations, TrackingClient, TrackstoreError, asynclog
from trackstore.entities import Metric, Param, RunTag
from trackstore.store import registry


@pytest.fixture(params=["file", "sqlite", "rest"])
def uri(request: pytest.FixtureRequest, isolated: Path) -> Iterator[str]:
    if request.param == "file":
        yield (isolated / "mlruns").as_uri()
    elif request.param == "sqlite":
        yield f"sqlite:///{isolated / 'db.sqlite'}"
    else:
        backend = registry.get_store(f"sqlite:///{isolated / 'served.sqlite'}")
        with serve_in_thread(backend) as url:
            yield url
            registry.clear_cache()  # stores what is queued while the server still answers


@pytest.fixture(autouse=True)
def _no_forced_mode() -> Iterator[None]:
    saved = os.environ.pop(asynclog.ENV_ENABLE, None)
    yield
    asynclog.forced = None
    os.environ.pop(asynclog.ENV_ENABLE, None)
    if saved is not None:
        os.environ[asynclog.ENV_ENABLE] = saved


def new_run(client: TrackingClient) -> str:
    experiment_id = client.create_experiment(f"async-{time.monotonic_ns()}")
    return client.create_run(experiment_id).info.run_id


def steps(client: TrackingClient, run_id: str, key: str) -> Counter[int]:
    return Counter(m.step for m in client.get_metric_history(run_id, key))


def test_every_queued_point_is_stored_exactly_once(uri: str) -> None:
    client = TrackingClient(uri)
    run_id = new_run(client)
    handles = [client.log_metric(run_id, "loss", float(i), step=i, synchronous=False)
               for i in range(3000)]
    assert all(isinstance(h, RunOperations) for h in handles)
    batch = [Metric("acc", i / 10, 1_700_000_000_000 + i, i) for i in range(2500)]
    several = client.log_batch(run_id, metrics=batch, synchronous=False)  # cut in three
    for i in range(50):
        client.log_batch(run_id, metrics=[Metric("lr", 0.1, 1, i), Metric("lr", 0.2, 1, i)],
                         synchronous=False)
    assert several is not None
    several.wait()
    handles[-1].wait()
    client.flush()
    assert steps(client, run_id, "loss") == Counter(range(3000))
    assert steps(client, run_id, "acc") == Counter(range(2500))
    lr = sorted(m.value for m in client.get_metric_history(run_id, "lr"))
    assert lr == [0.1] * 50 + [0.2] * 50
    metrics = client.get_run(run_id).data.metrics
    assert metrics == {"loss": 2999.0, "acc": 249.9, "lr": 0.2}


def test_fluent_api_queues_and_end_run_stores_before_ending(uri: str) -> None:
    trackstore.set_tracking_uri(uri)
    with trackstore.start_run() as run:
        handle = trackstore.log_metric("loss", 0.5, step=0, synchronous=False)
        for i in range(1, 500):
            trackstore.log_metric("loss", 0.5, step=i, synchronous=False)
        trackstore.log_metrics({"a": 1.0, "b": 2.0}, step=3, synchronous=False)
        trackstore.log_param("p", 7, synchronous=False)
        trackstore.log_params({"q": 8}, synchronous=False)
        trackstore.set_tag("t", "x", synchronous=False)
        trackstore.set_tags({"u": "y"}, synchronous=False)
        assert isinstance(handle, RunOperations)
    client = TrackingClient(uri)
    finished = client.get_run(run.info.run_id)
    assert finished.info.status == "FINISHED" and finished.info.end_time
    assert steps(client, run.info.run_id, "loss") == Counter(range(500))
    assert finished.data.metrics == {"loss": 0.5, "a": 1.0, "b": 2.0}
    assert finished.data.params == {"p": "7", "q": "8"}
    assert finished.data.tags["t"] == "x" and finished.data.tags["u"] == "y"


def test_points_are_stored_in_submission_order(uri: str) -> None:
    client = TrackingClient(uri)
    run_id = new_run(client)
    # A new key's first point takes the general path, the next ones the rows; batches and
    # log_metrics in between: the history keeps the order of the calls.
    for step in range(3):
        client.log_metric(run_id, "fresh", 1.0, timestamp=100 + step, step=step,
                          synchronous=False)
    client.log_batch(run_id, metrics=[Metric("fresh", 2.0, 103, 3)], synchronous=False)
    client.log_metric(run_id, "fresh", 1.0, timestamp=104, step=4, synchronous=False)
    client.log_metrics(run_id, {"fresh": 3.0, "other": 1.0}, step=5, timestamp=105,
                       synchronous=False)
    client.log_metric(run_id, "fresh", 1.0, timestamp=106, step=6, synchronous=False)
    client.flush()
    history = client.get_metric_history(run_id, "fresh")
    assert [(m.step, m.timestamp) for m in history] == [(i, 100 + i) for i in range(7)]
    assert [m.value for m in history] == [1.0, 1.0, 1.0, 2.0, 1.0, 3.0, 1.0]


def test_params_and_tags_apply_in_submission_order(uri: str) -> None:
    client = TrackingClient(uri)
    run_id = new_run(client)
    for value in ("a", "b", "c"):
        client.set_tag(run_id, "t", value, synchronous=False)
    client.log_param(run_id, "p", "1", synchronous=False)
    conflict = client.log_param(run_id, "p", "2", synchronous=False)
    after = client.set_tag(run_id, "after", "yes", synchronous=False)
    client.log_batch(run_id, tags=[RunTag("t", "d")], params=[Param("p", "1")],
                     synchronous=False)
    with pytest.raises(TrackstoreError) as caught:
        conflict.wait()
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in caught.value.message
    after.wait()  # merged with the refused one at first: retried alone, stored
    client.flush()  # the conflict was reported by wait(), not again
    data = client.get_run(run_id).data
    assert data.params == {"p": "1"}
    assert data.tags["t"] == "d" and data.tags["after"] == "yes"


def test_a_synchronous_write_waits_for_the_queue(uri: str) -> None:
    client = TrackingClient(uri)
    run_id = new_run(client)
    for i in range(200):
        client.set_tag(run_id, "t", f"async-{i}", synchronous=False)
    client.set_tag(run_id, "t", "sync")  # must land after every queued write of "t"
    assert client.get_run(run_id).data.tags["t"] == "sync"
    client.log_metric(run_id, "m", 1.0, step=1, synchronous=False)
    # Reads through the client see what was queued before them.
    assert client.get_run(run_id).data.metrics == {"m": 1.0}
    assert [m.step for m in client.get_metric_history(run_id, "m")] == [1]


def test_a_failure_reaches_the_next_call_then_is_not_raised_again(uri: str) -> None:
    client = TrackingClient(uri)
    run_id = new_run(client)
    missing = "0" * 32
    lost = client.log_metric(missing, "m", 1.0, synchronous=False)
    assert isinstance(lost, RunOperations)
    # The thread stores the queue soon: the failure waits for the next asynchronous call.
    deadline = time.monotonic() + 10
    while client.store._async_logger is not None and client.store._async_logger.pending:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(TrackstoreError) as caught:
        client.log_metric(run_id, "m", 2.0, synchronous=False)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert missing in caught.value.message and "Asynchronous logging" in caught.value.message
    assert "whose own data was not queued" in caught.value.message
    client.log_metric(run_id, "m", 3.0, step=1, synchronous=False)  # reported once only
    client.flush()
    assert [m.value for m in client.get_metric_history(run_id, "m")] == [3.0]
    with pytest.raises(TrackstoreError):  # the handle still tells its own outcome
        lost.wait()


def test_flush_raises_what_failed_and_end_run_still_ends_the_run(uri: str) -> None:
    trackstore.set_tracking_uri(uri)
    client = TrackingClient(uri)
    run = trackstore.start_run()
    trackstore.log_metric("ok", 1.0, synchronous=False)
    client.log_param("f" * 32, "p", "v", synchronous=False)  # no such run
    with pytest.raises(TrackstoreError) as caught:
        trackstore.end_run()
    assert trackstore.active_run() is None
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "FINISHED" and ended.data.metrics == {"ok": 1.0}
    trackstore.flush()  # nothing left to report


def test_bad_input_is_refused_at_the_call_and_nothing_is_queued(uri: str) -> None:
    client = TrackingClient(uri)
    run_id = new_run(client)
    client.log_metric(run_id, "m", 1.0, step=0, synchronous=False)
    client.flush()
    for call in (lambda: client.log_metric(run_id, "m", "high", synchronous=False),
                 lambda: client.log_metric(run_id, "../x", 1.0, synchronous=False),
                 lambda: client.log_metric("bad id!", "m", 1.0, synchronous=False),
                 lambda: client.log_metric(run_id, "m", 1.0, step=2**64, synchronous=False),
                 lambda: client.log_batch(run_id, params=[Param("p", "1"), Param("p", "2")],
                                          synchronous=False)):
        with pytest.raises(TrackstoreError) as caught:
            call()
        assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    logger = client.store._async_logger
    assert logger is not None and not logger.pending
    client.flush()
    assert [m.step for m in client.get_metric_history(run_id, "m")] == [0]


def test_integer_values_and_datasets_take_the_general_path(uri: str) -> None:
    client = TrackingClient(uri)
    run_id = new_run(client)
    client.log_metric(run_id, "m", 3, step=1, synchronous=False)  # an int value
    client.log_metric(run_id, "m", 4.0, step=2, synchronous=False, dataset_name="train",
                      dataset_digest="abc")
    client.flush()
    history = client.get_metric_history(run_id, "m")
    assert [(m.step, m.value, type(m.value)) for m in history] == [(1, 3.0, float),
                                                                   (2, 4.0, float)]


def test_environment_and_enable_async_logging_choose_the_default(isolated: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    uri = (isolated / "mlruns").as_uri()
    run_id = new_run(TrackingClient(uri))
    assert TrackingClient(uri).log_metric(run_id, "m", 1.0) is None
    monkeypatch.setenv(asynclog.ENV_ENABLE, "true")
    client = TrackingClient(uri)
    assert isinstance(client.log_metric(run_id, "m", 1.0, step=1), RunOperations)
    assert client.log_metric(run_id, "m", 1.0, step=2, synchronous=True) is None
    assert client.log_param(run_id, "p", "v", synchronous=True) == "v"  # as MLflow
    trackstore.enable_async_logging(False)  # every client, at once
    assert client.log_metric(run_id, "m", 1.0, step=3) is None
    assert os.environ[asynclog.ENV_ENABLE] == "false"
    trackstore.enable_async_logging()
    assert isinstance(TrackingClient(uri).set_tag(run_id, "t", "v"), RunOperations)
    trackstore.flush_async_logging()
    assert steps(client, run_id, "m") == Counter(range(4))


def test_fluent_runs_read_the_environment_when_they_start(isolated: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    with trackstore.start_run():
        assert trackstore.log_metric("m", 1.0) is None
    monkeypatch.setenv(asynclog.ENV_ENABLE, "true")
    with trackstore.start_run() as run:
        assert isinstance(trackstore.log_metric("m", 1.0), RunOperations)
    assert TrackingClient().get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_a_full_queue_blocks_then_refuses_without_dropping(isolated: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv(asynclog.ENV_MAX_QUEUE, "50")
    monkeypatch.setenv(asynclog.ENV_PUT_TIMEOUT, "0.3")
    path = isolated / "db.sqlite"
    client = TrackingClient(f"sqlite:///{path}")
    run_id = new_run(client)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the store's writes now wait for this lock
    try:
        client.log_metric(run_id, "m", 0.0, step=0, synchronous=False)
        time.sleep(0.2)  # the thread took that point and waits for the database
        for i in range(1, 51):  # fills the queue
            client.log_metric(run_id, "m", float(i), step=i, synchronous=False)
        started = time.monotonic()
        with pytest.raises(TrackstoreError) as caught:
            client.log_metric(run_id, "m", 99.0, step=99, synchronous=False)
        assert time.monotonic() - started >= 0.25  # it waited for room first
        assert caught.value.error_code == "RESOURCE_EXHAUSTED"
        assert "Nothing of this call was queued" in caught.value.message
        with pytest.raises(TrackstoreError):  # a batch does not fit either
            client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 100)], synchronous=False)
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    client.flush()
    assert steps(client, run_id, "m") == Counter(range(51))


def test_a_full_queue_ends_a_buffering_wait(isolated: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS longer than the put timeout: a caller waiting
    # for room must not wait out the buffering (and be refused) while the store is idle.
    monkeypatch.setenv(asynclog.ENV_BUFFERING, "60")
    monkeypatch.setenv(asynclog.ENV_MAX_QUEUE, "20")
    monkeypatch.setenv(asynclog.ENV_PUT_TIMEOUT, "10")
    client = TrackingClient((isolated / "mlruns").as_uri())
    run_id = new_run(client)
    started = time.monotonic()
    for i in range(200):
        client.log_metric(run_id, "m", float(i), step=i, synchronous=False)
    client.log_batch(run_id, metrics=[Metric("b", 1.0, 1, i) for i in range(30)],
                     synchronous=False)  # bigger than the queue: taken alone
    client.flush()
    assert time.monotonic() - started < 5
    assert steps(client, run_id, "m") == Counter(range(200))
    assert steps(client, run_id, "b") == Counter(range(30))


def test_closing_the_store_stores_the_queue(isolated: Path) -> None:
    uri = f"sqlite:///{isolated / 'db.sqlite'}"
    client = TrackingClient(uri)
    run_id = new_run(client)
    for i in range(1000):
        client.log_metric(run_id, "m", 1.0, step=i, synchronous=False)
    registry.clear_cache()  # closes the store
    assert steps(TrackingClient(uri), run_id, "m") == Counter(range(1000))


def test_many_threads_logging_at_once(uri: str) -> None:
    client = TrackingClient(uri)
    run_ids = [new_run(client) for _ in range(3)]
    errors: list[BaseException] = []

    def log(thread: int) -> None:
        try:
            for i in range(600):
                run_id = run_ids[(thread + i) % 3]
                client.log_metric(run_id, f"t{thread}", float(i), step=i, synchronous=False)
                if i % 100 == 0:
                    client.set_tag(run_id, f"tag{thread}", str(i), synchronous=False)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    client.flush()
    for thread in range(4):
        stored: Counter[int] = Counter()
        for run_id in run_ids:
            stored += steps(client, run_id, f"t{thread}")
        assert stored == Counter(range(600))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_forked_child_does_not_store_the_parents_queue(isolated: Path) -> None:
    uri = (isolated / "mlruns").as_uri()
    client = TrackingClient(uri)
    run_id = new_run(client)
    logger = client.store._async_logger
    assert logger is None
    client.log_metric(run_id, "m", 0.0, step=0, synchronous=False)
    client.flush()
    logger = client.store._async_logger
    assert logger is not None
    with logger._lock:  # hold the thread off so that points are queued at the fork
        handle = logger._queue_rows(run_id, [("m", float(i), 1, i) for i in range(1, 100)])
        pid = os.fork()
        if pid == 0:  # the child: its own queue, empty
            status = 0
            try:
                client.log_metric(run_id, "child", 1.0, synchronous=False)
                client.flush()
            except BaseException:
                status = 1
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    handle.wait()
    assert steps(client, run_id, "m") == Counter(range(100))
    assert len(client.get_metric_history(run_id, "child")) == 1


@pytest.mark.parametrize("where", ["points", "batch"])
def test_a_signal_inside_a_submission_leaves_nothing_to_hang_on(
        isolated: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    # SIGINT and SIGTERM raise in the main thread between any two steps; here, deterministically,
    # while the handle of a submission is being made: the call fails, nothing of it is queued,
    # and a flush (the one at exit too) still returns.
    client = TrackingClient((isolated / "mlruns").as_uri())
    run_id = new_run(client)
    client.log_metric(run_id, "m", 0.0, step=0, synchronous=False)
    client.flush()
    handle_type = asynclog._Points if where == "points" else asynclog.RunOperations
    made = handle_type.__init__

    def interrupted(self: RunOperations, *args: object) -> None:
        monkeypatch.setattr(handle_type, "__init__", made)
        raise KeyboardInterrupt

    def submit() -> object:
        if where == "points":
            return client.log_metric(run_id, "m", 1.0, step=1, synchronous=False)
        return client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 1)], synchronous=False)

    monkeypatch.setattr(handle_type, "__init__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        submit()
    done = threading.Event()
    threading.Thread(target=lambda: (client.flush(), done.set()), daemon=True).start()
    assert done.wait(10), "flush hangs after an interrupted submission"
    client.log_metric(run_id, "m", 2.0, step=2, synchronous=False).wait()  # still working
    assert [m.step for m in client.get_metric_history(run_id, "m")] == [0, 2]
