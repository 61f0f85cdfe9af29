"""Fixtures of the benchmarking tests: real pytest sessions (pytester), a clean environment,
stores, and the real ``trackstore`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from trackstore import TrackingClient
from trackstore.benchmarking import ci, pytest_plugin

#: Plugins the inner sessions do without: they cost seconds of start-up (hypothesis) and
#: nothing here uses them. pytest-benchmark, pytest-xdist and trackstore's plugin stay.
INNER_SESSION_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                         "-p", "no:anyio")

#: The real command, as installed next to this interpreter (a venv's bin/, a tox env's).
TRACKSTORE = str(Path(sys.executable).with_name("trackstore"))


def pytest_configure(config: pytest.Config) -> None:
    # pytester, for running real pytest sessions; a conftest below the rootdir may not
    # declare pytest_plugins, so the plugin is registered here, for this directory's tests.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(scope="session", autouse=True)
def sql_store_in_use(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every module a SQLite store uses, imported before any test runs.

    pytester drops, after each test, the modules first imported during it; SQLAlchemy's
    compiled parts cannot be imported a second time in a process (the next test's first query
    then fails with "'InternalTraversal' object is not callable"). So the tests' own store
    calls are all made here once: record a run, search, read it back.
    """
    directory = tmp_path_factory.mktemp("warm-up")
    uri = sqlite_uri(directory / "warm-up.db")
    old = os.getcwd()
    os.chdir(directory)  # the SQLite store's artifacts go to ./mlruns
    try:
        run_id = record_run(uri, {"a.py::t[1]": 1.0}, start_ms=1, tags={"b": "main"})
        client = TrackingClient(uri)
        found = client.search_runs([client.get_run(run_id).info.experiment_id],
                                   "tags.b = 'main' AND attributes.status = 'FINISHED'",
                                   order_by=["attributes.start_time DESC"])
        assert [run.info.run_id for run in found] == [run_id]
        client.get_metric_history(run_id, "a.py::t/1/median")
    finally:
        os.chdir(old)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No CI, no tracking URI, no recording settings from the machine running the tests, and
    no pytest-xdist worker's variables (in an inner session, pytest-benchmark would take
    them for its own and disable the benchmarks)."""
    for name in (*ci.ENV_VARS, "MLFLOW_TRACKING_URI", "MLFLOW_ENABLE_ASYNC_LOGGING",
                 "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID",
                 pytest_plugin.ENV_RECORD, pytest_plugin.ENV_URI,
                 pytest_plugin.ENV_EXPERIMENT, pytest_plugin.ENV_RUN_NAME,
                 pytest_plugin.ENV_TAGS, pytest_plugin.ENV_RUN_ID_FILE):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def sqlite_uri(path: Path) -> str:
    return f"sqlite:///{path}"


def run_session(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A real pytest session in a subprocess, in pytester's directory."""
    return pytester.runpytest_subprocess(*INNER_SESSION_OPTIONS, *args, timeout=180)


def run_cli(args: Sequence[str], cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``trackstore`` command."""
    return subprocess.run([TRACKSTORE, *args], capture_output=True, text=True, cwd=cwd,
                          env=env if env is not None else dict(os.environ), timeout=180,
                          check=False)


def record_run(uri: str, seconds: Mapping[str, float], *, start_ms: int,
               tags: Mapping[str, str] | None = None, status: str = "FINISHED",
               experiment: str = "benchmarks") -> str:
    """A run as the plugin records it, through the same recorder: each benchmark of
    *seconds* takes that long by every time statistic, and does 1/that ops."""
    from trackstore.benchmarking.recording import BenchmarkRecorder, BenchmarkResult

    results = [BenchmarkResult(name, name, stats={
        **dict.fromkeys(("min", "max", "mean", "median", "q1", "q3", "ld15iqr", "hd15iqr"),
                        value),
        "ops": 1 / value, "rounds": 5.0, "iterations": 1.0}) for name, value in seconds.items()]
    recorded = BenchmarkRecorder(uri, experiment).record(
        results, params={}, tags=dict(tags or {}), run_name=None, start_ms=start_ms,
        end_ms=start_ms + 1000, status=status)
    return recorded.run_id
