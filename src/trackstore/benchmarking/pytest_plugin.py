"""pytest plugin: a session's pytest-benchmark results, recorded as one trackstore run.

Registered through the ``pytest11`` entry point, so it is loaded in every pytest session of
an environment where trackstore is installed. Until recording is asked for
(``--trackstore-record`` or ``TRACKSTORE_BENCHMARK_RECORD=1``) it only adds its options: no
hook of its runs, and this module imports nothing but pytest and the standard library (the
``trackstore`` package itself imports its names lazily, so loading the plugin costs a few
milliseconds; ``-p no:trackstore`` disables it altogether). When recording:

* at the start of the session (on pytest-xdist's controller only) it opens the store and the
  experiment, so that a bad URI fails at once (pytest's usage error, exit status 4);
* at its end it writes the benchmarks that ran as one run (:mod:`.recording`), prints the run
  id in the terminal summary, and makes the exit status non-zero (3, unless the tests already
  made it so) if the run could not be written;
* when no benchmark ran (``--benchmark-disable``, ``--benchmark-skip``, pytest-xdist, which
  makes pytest-benchmark disable them, or none selected) it records nothing and says why.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .recording import BenchmarkRecorder, RecordedRun

ENV_RECORD = "TRACKSTORE_BENCHMARK_RECORD"
ENV_URI = "TRACKSTORE_BENCHMARK_URI"
ENV_EXPERIMENT = "TRACKSTORE_BENCHMARK_EXPERIMENT"
ENV_RUN_NAME = "TRACKSTORE_BENCHMARK_RUN_NAME"
ENV_TAGS = "TRACKSTORE_BENCHMARK_TAGS"
ENV_RUN_ID_FILE = "TRACKSTORE_BENCHMARK_RUN_ID_FILE"
DEFAULT_EXPERIMENT = "benchmarks"
PLUGIN_NAME = "trackstore-benchmark-recorder"

_TRUE = ("1", "true", "yes", "on")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("trackstore", "record pytest-benchmark results in a trackstore store")
    group.addoption(
        "--trackstore-record", action="store_true", default=False,
        help=f"Record this session's benchmarks as one run ({ENV_RECORD}=1).")
    group.addoption(
        "--trackstore-uri", metavar="URI", default=None,
        help=f"Store to record into ({ENV_URI}; default: MLFLOW_TRACKING_URI, else ./mlruns).")
    group.addoption(
        "--trackstore-experiment", metavar="NAME", default=None,
        help=f"Experiment of the run, created if missing ({ENV_EXPERIMENT}; default: "
             f"{DEFAULT_EXPERIMENT}).")
    group.addoption(
        "--trackstore-run-name", metavar="NAME", default=None,
        help=f"Name of the run ({ENV_RUN_NAME}; default: <branch>@<short commit>).")
    group.addoption(
        "--trackstore-tag", metavar="KEY=VALUE", action="append", default=None,
        help=f"Tag the run (repeatable; {ENV_TAGS} takes comma-separated pairs); overrides "
             "the git and CI tags.")
    group.addoption(
        "--trackstore-run-id-file", metavar="PATH", default=None,
        help=f"Write the recorded run's id to PATH ({ENV_RUN_ID_FILE}).")


@dataclass(frozen=True)
class RecordingSettings:
    """What was asked for, options first, then environment variables, then defaults."""

    tracking_uri: str | None
    experiment: str
    run_name: str | None
    tags: dict[str, str]
    run_id_file: str | None


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a dict; a malformed pair is a usage error."""
    tags = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise pytest.UsageError(f"--trackstore-tag expects KEY=VALUE, got {pair!r}")
        tags[key.strip()] = value
    return tags


def _setting(config: pytest.Config, option: str, env: str) -> str | None:
    value = config.getoption(option)
    return value if value else (os.environ.get(env) or None)


def settings_from(config: pytest.Config) -> RecordingSettings | None:
    """The recording settings of *config*, or None when recording is not asked for."""
    if not config.getoption("trackstore_record") and \
            os.environ.get(ENV_RECORD, "").strip().lower() not in _TRUE:
        return None
    env_tags = [p.strip() for p in os.environ.get(ENV_TAGS, "").split(",") if p.strip()]
    return RecordingSettings(
        tracking_uri=_setting(config, "trackstore_uri", ENV_URI),
        experiment=_setting(config, "trackstore_experiment", ENV_EXPERIMENT)
        or DEFAULT_EXPERIMENT,
        run_name=_setting(config, "trackstore_run_name", ENV_RUN_NAME),
        tags=parse_tags(env_tags + list(config.getoption("trackstore_tag") or [])),
        run_id_file=_setting(config, "trackstore_run_id_file", ENV_RUN_ID_FILE))


def pytest_configure(config: pytest.Config) -> None:
    # On a pytest-xdist worker nothing is recorded: the controller writes the one run.
    if hasattr(config, "workerinput"):
        return
    settings = settings_from(config)
    if settings is not None:
        config.pluginmanager.register(BenchmarkRecording(config, settings), PLUGIN_NAME)


def displayed_uri(uri: str) -> str:
    """*uri* with its password masked, to be printed in CI logs."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
    return uri


def _run_status(exitstatus: int) -> str:
    """The run's status for the session's: failing tests make a FAILED run (never a
    baseline), an interrupted session a KILLED one."""
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        return "FINISHED"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "KILLED"
    return "FAILED"


class BenchmarkRecording:
    """The session hooks, registered only when recording is asked for."""

    def __init__(self, config: pytest.Config, settings: RecordingSettings) -> None:
        self.config = config
        self.settings = settings
        self.recorder: BenchmarkRecorder | None = None
        self.start = time.time()
        self.nothing_recorded: str | None = None  # why, when nothing was
        self.recorded: RecordedRun | None = None
        self.error: str | None = None

    def _benchmark_session(self) -> Any:
        return getattr(self.config, "_benchmarksession", None)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.start = time.time()
        benchmarks = self._benchmark_session()
        if benchmarks is None:
            raise pytest.UsageError(
                "--trackstore-record records pytest-benchmark's results, but pytest-benchmark "
                "is not installed or is disabled (-p no:benchmark): install pytest-benchmark "
                "or stop asking for the recording")
        if getattr(benchmarks, "xdist_warning", False):
            self.nothing_recorded = (
                "pytest-benchmark disables benchmarks when pytest-xdist runs the tests (-n, "
                "--dist); run the benchmarks without -n (or with -p no:xdist) to record them")
        elif benchmarks.disabled:
            self.nothing_recorded = "benchmarks are disabled (--benchmark-disable)"
        elif benchmarks.skip:
            self.nothing_recorded = "benchmarks are skipped (--benchmark-skip)"
        if self.nothing_recorded is not None:
            return
        from .recording import BenchmarkRecorder

        uri = self.settings.tracking_uri
        try:
            self.recorder = BenchmarkRecorder(uri, self.settings.experiment)
        except Exception as exc:  # whatever the store raised: the user must read it
            raise pytest.UsageError(
                f"--trackstore-record: cannot record into "
                f"{displayed_uri(uri) if uri else 'the default store'} (experiment "
                f"{self.settings.experiment!r}): {_describe(exc)}") from exc

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.recorder is None:
            return
        # pytest-benchmark's own sessionfinish (a wrapper) has run: its results are final.
        from .recording import results_from_pytest_benchmark

        results = results_from_pytest_benchmark(self._benchmark_session().benchmarks)
        if not results:
            self.nothing_recorded = "no benchmark ran in this session"
            return
        try:
            self.recorded = self._record(results, exitstatus)
            if self.settings.run_id_file:
                with open(self.settings.run_id_file, "w", encoding="utf-8") as out:
                    out.write(self.recorded.run_id + "\n")
        except Exception as exc:  # whatever the store raised: the user must read it
            self.error = (f"could not record the benchmarks into "
                          f"{displayed_uri(self.recorder.client.tracking_uri)}: "
                          f"{_describe(exc)}")
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            if self.config.pluginmanager.get_plugin("terminalreporter") is None:
                print(f"trackstore: ERROR: {self.error}", file=sys.stderr)

    def _record(self, results: list[Any], exitstatus: int) -> RecordedRun:
        from . import ci
        from .keys import FORMAT_TAG, FORMAT_VERSION
        from .recording import machine_params

        assert self.recorder is not None
        source = ci.detect_source(os.environ, str(self.config.rootpath))
        tags = ci.run_tags(source)
        if ci.USER_TAG not in tags:
            tags[ci.USER_TAG] = _local_user()
        tags[FORMAT_TAG] = FORMAT_VERSION
        tags.update(self.settings.tags)
        params = machine_params()
        params.update(self._measurement_params(len(results)))
        run_name = self.settings.run_name
        if run_name is None and source.commit:
            short = source.commit[:8]
            run_name = f"{source.branch}@{short}" if source.branch else short
        return self.recorder.record(
            results, params=params, tags=tags, run_name=run_name,
            start_ms=int(self.start * 1000), end_ms=int(time.time() * 1000),
            status=_run_status(exitstatus))

    def _measurement_params(self, count: int) -> dict[str, str]:
        """pytest-benchmark's version and its session-wide measurement options."""
        from importlib import metadata

        benchmarks = self._benchmark_session()
        options = benchmarks.options
        params = {
            "pytest_version": pytest.__version__,
            "pytest_benchmark_version": metadata.version("pytest-benchmark"),
            "timer": str(options.get("timer")),
            "benchmark_count": str(count),
        }
        for name in ("min_rounds", "min_time", "max_time", "warmup", "disable_gc"):
            if name in options:
                params[f"benchmark_{name}"] = str(options[name])
        return params

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter
        if self.error is not None:
            write.write_sep("-", "trackstore", red=True)
            write.write_line(f"ERROR: {self.error}", red=True)
        elif self.recorded is not None:
            run = self.recorded
            write.write_sep("-", "trackstore")
            write.write_line(
                f"trackstore: recorded {run.benchmarks} benchmark"
                f"{'s' if run.benchmarks != 1 else ''} ({run.metrics} metrics) as run "
                f"{run.run_id} in experiment {run.experiment_name!r} (id {run.experiment_id}) "
                f"of {displayed_uri(run.tracking_uri)}")
        elif self.nothing_recorded is not None:
            write.write_sep("-", "trackstore")
            write.write_line(f"trackstore: nothing recorded: {self.nothing_recorded}",
                             yellow=True)


def _describe(exc: BaseException) -> str:
    from ..exceptions import TrackstoreError

    message = getattr(exc, "message", None) or str(exc) or repr(exc)
    if isinstance(exc, TrackstoreError):
        return f"{message} ({exc.error_code})"
    return f"{type(exc).__name__}: {message}"


def _local_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "unknown"
