"""The pytest plugin in real pytest sessions (subprocesses), with real pytest-benchmark runs."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from trackstore import TrackingClient
from trackstore.benchmarking import keys
from trackstore.benchmarking.pytest_plugin import displayed_uri, parse_tags
from trackstore.benchmarking.recording import ARTIFACT_NAME

from .conftest import run_session, sqlite_uri

pytestmark = pytest.mark.usefixtures("clean_env")

# Real benchmarks, kept short: pedantic mode fixes the rounds (no calibration, no max-time).
BENCHMARKS = '''
import time

import pytest


@pytest.mark.parametrize("size", [10, 1000])
def test_sum(benchmark, size):
    benchmark.extra_info["size"] = size
    benchmark.extra_info["label"] = "not a number"
    benchmark.pedantic(sum, args=(range(size),), rounds=5, iterations=2)


@pytest.mark.parametrize("case", ["a[1]"])  # brackets: a name that keys cannot spell
def test_odd_name(benchmark, case):
    benchmark.pedantic(len, args=(case,), rounds=3)


def test_sleep(benchmark):
    benchmark.pedantic(time.sleep, args=(0.001,), rounds=3)


def test_not_a_benchmark():
    pass
'''

NAMES = ["test_benchmarks.py::test_sum[10]", "test_benchmarks.py::test_sum[1000]",
         "test_benchmarks.py::test_odd_name[a[1]]", "test_benchmarks.py::test_sleep"]

RECORDED = re.compile(r"trackstore: recorded (\d+) benchmarks? \((\d+) metrics\) as run (\w+) "
                      r"in experiment '(.*)' \(id (\w+)\) of (.*)")


def recorded_run_id(result: pytest.RunResult) -> str:
    found = [m for m in map(RECORDED.match, result.outlines) if m]
    assert len(found) == 1, result.stdout.str()
    return found[0].group(3)


def only_run(uri: str, experiment: str = "benchmarks") -> str:
    client = TrackingClient(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    (run,) = client.search_runs([found.experiment_id])
    return run.info.run_id


def test_one_run_per_session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                             tmp_path: Path) -> None:
    pytester.makepyfile(test_benchmarks=BENCHMARKS)
    uri = sqlite_uri(tmp_path / "bench.db")
    monkeypatch.setenv("TRACKSTORE_BENCHMARK_TAGS", "team=perf, suite=nightly")
    before = int(time.time() * 1000)
    result = run_session(
        pytester, "--trackstore-record", "--trackstore-uri", uri, "--trackstore-experiment",
        "perf", "--trackstore-run-name", "nightly", "--trackstore-tag", "suite=weekly",
        "--trackstore-tag", "mlflow.source.git.branch=release", "--trackstore-run-id-file",
        "run-id.txt", "--benchmark-json", "pytest-benchmark.json")
    after = int(time.time() * 1000)
    result.assert_outcomes(passed=5)
    assert result.ret == 0
    run_id = recorded_run_id(result)
    assert (pytester.path / "run-id.txt").read_text() == run_id + "\n"
    assert run_id == only_run(uri, "perf")
    client = TrackingClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "nightly"
    assert before <= run.info.start_time <= run.info.end_time <= after  # type: ignore[operator]

    # One metric per statistic, with the values pytest-benchmark itself reports.
    reported = json.loads((pytester.path / "pytest-benchmark.json").read_text())
    assert sorted(b["fullname"] for b in reported["benchmarks"]) == sorted(NAMES)
    names = keys.names_from_tags(run.data.tags)
    for bench in reported["benchmarks"]:
        for stat in keys.STATS:
            key = keys.metric_key(bench["fullname"], stat)
            assert run.data.metrics[key] == pytest.approx(bench["stats"][stat]), key
        assert keys.display_name(keys.benchmark_segment(bench["fullname"]), names) == \
            bench["fullname"]
    assert run.data.metrics["test_benchmarks.py::test_sum/1000/extra.size"] == 1000
    assert run.data.metrics["test_benchmarks.py::test_sum/10/rounds"] == 5
    assert run.data.metrics["test_benchmarks.py::test_sum/10/iterations"] == 2
    assert len(run.data.metrics) == 4 * len(keys.STATS) + 2
    history = client.get_metric_history(run_id, "test_benchmarks.py::test_sleep/median")
    assert [(m.step, m.timestamp) for m in history] == [(0, run.info.end_time)]
    assert keys.benchmark_segment(NAMES[2]) not in (NAMES[2], keys.readable_benchmark(NAMES[2]))

    params = run.data.params
    assert params["benchmark_count"] == "4"
    assert params["python_version"] == reported["machine_info"]["python_version"]
    assert params["python_implementation"] == reported["machine_info"]["python_implementation"]
    assert params["pytest_benchmark_version"] == reported["version"]
    assert params["timer"] == "time.perf_counter"
    assert {"platform", "machine", "cpu", "cpu_count", "pytest_version"} <= params.keys()

    tags = run.data.tags
    assert tags["team"] == "perf" and tags["suite"] == "weekly"  # the option wins over env
    assert tags["mlflow.source.git.branch"] == "release"
    assert tags[keys.FORMAT_TAG] == keys.FORMAT_VERSION
    assert tags["mlflow.source.type"] == "JOB" and tags["mlflow.user"]
    assert "mlflow.source.git.commit" not in tags  # not in CI, not in a git repository

    document = json.loads(Path(client.download_artifacts(run_id, ARTIFACT_NAME)).read_text())
    by_name = {b["fullname"]: b for b in document["benchmarks"]}
    assert by_name["test_benchmarks.py::test_sum[10]"]["extra_info"] == {
        "size": 10, "label": "not a number"}
    assert by_name["test_benchmarks.py::test_sum[10]"]["params"] == {"size": 10}


def test_inert_unless_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_benchmarks=BENCHMARKS, test_inert='''
import sys


def test_nothing_heavy_loaded(request):
    manager = request.config.pluginmanager
    assert manager.has_plugin("trackstore")  # loaded through its entry point...
    assert not manager.has_plugin("trackstore-benchmark-recorder")  # ...and idle
    loaded = set(sys.modules)
    assert not loaded & {"trackstore.benchmarking.recording", "trackstore.benchmarking.ci",
                         "trackstore.benchmarking.compare", "sqlalchemy", "matplotlib"}
''')
    result = run_session(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=6)
    assert not [line for line in result.outlines if "trackstore" in line
                and not line.startswith("plugins:")]
    assert not (pytester.path / "mlruns").exists()


def test_inert_without_pytest_benchmark(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_a():\n    pass\n")
    result = run_session(pytester, "-p", "no:benchmark")
    result.assert_outcomes(passed=1)
    # Asked to record without pytest-benchmark: a usage error that says so.
    result = run_session(pytester, "-p", "no:benchmark", "--trackstore-record")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--trackstore-record records pytest-benchmark's results, "
                                 "but pytest-benchmark is not installed or is disabled*"])


def test_file_store_from_the_environment(pytester: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # The usual tracking-URI resolution: no URI given, no MLFLOW_TRACKING_URI: ./mlruns.
    pytester.makepyfile(test_benchmarks=BENCHMARKS)
    monkeypatch.setenv("TRACKSTORE_BENCHMARK_RECORD", "1")
    result = run_session(pytester, "-k", "sleep")
    result.assert_outcomes(passed=1, deselected=4)
    run_id = recorded_run_id(result)
    mlruns = pytester.path / "mlruns"
    assert run_id == only_run(str(mlruns))
    run = TrackingClient(str(mlruns)).get_run(run_id)
    assert set(run.data.metrics) == {f"test_benchmarks.py::test_sleep/{s}" for s in keys.STATS}
    assert run.data.metrics["test_benchmarks.py::test_sleep/min"] >= 0.001
    # MLFLOW_TRACKING_URI chooses the store when no URI is given.
    uri = sqlite_uri(pytester.path / "env.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = run_session(pytester, "-k", "sleep")
    assert recorded_run_id(result) == only_run(uri)


def test_nothing_to_record(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_benchmarks=BENCHMARKS)
    uri = sqlite_uri(pytester.path / "bench.db")
    result = run_session(pytester, "--trackstore-record", "--trackstore-uri", uri,
                         "--benchmark-disable")
    result.assert_outcomes(passed=5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["trackstore: nothing recorded: benchmarks are disabled (--benchmark-disable)"])
    assert not (pytester.path / "bench.db").exists()  # the store was not even opened

    result = run_session(pytester, "--trackstore-record", "--trackstore-uri", uri,
                         "-k", "not_a_benchmark")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["trackstore: nothing recorded: no benchmark ran in this "
                                 "session"])
    experiment = TrackingClient(uri).get_experiment_by_name("benchmarks")
    assert experiment is not None
    assert not TrackingClient(uri).search_runs([experiment.experiment_id])


def test_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_benchmarks=BENCHMARKS)
    uri = sqlite_uri(pytester.path / "bench.db")
    result = run_session(pytester, "-n", "1", "--trackstore-record", "--trackstore-uri", uri)
    result.assert_outcomes(passed=5)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["trackstore: nothing recorded: pytest-benchmark disables "
                                 "benchmarks when pytest-xdist runs the tests (-n, --dist)*"])
    assert not (pytester.path / "bench.db").exists()


def test_unusable_store_fails_before_the_benchmarks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_benchmarks=BENCHMARKS)
    result = run_session(pytester, "--trackstore-record", "--trackstore-uri",
                         "nosuch://host/db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*--trackstore-record: cannot record into nosuch://host/db (experiment 'benchmarks'):"
        " Unsupported tracking URI 'nosuch://host/db'*"])
    assert "passed" not in result.stdout.str()

    (pytester.path / "a-file").write_text("")
    result = run_session(pytester, "--trackstore-record", "--trackstore-uri",
                         sqlite_uri(pytester.path / "a-file" / "bench.db"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--trackstore-record: cannot record into sqlite:///*"
                                 "a-file/bench.db*"])


def test_a_failed_recording_fails_the_session(pytester: pytest.Pytester) -> None:
    uri = sqlite_uri(pytester.path / "bench.db")
    # The store works when the session starts; a test deletes the experiment meanwhile.
    pytester.makepyfile(test_benchmarks=BENCHMARKS, test_sabotage=f'''
from trackstore import TrackingClient


def test_delete_the_experiment():
    client = TrackingClient({uri!r})
    client.delete_experiment(client.get_experiment_by_name("benchmarks").experiment_id)
''')
    result = run_session(pytester, "--trackstore-record", "--trackstore-uri", uri, "-p",
                         "no:randomly")
    result.assert_outcomes(passed=6)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines([
        f"ERROR: could not record the benchmarks into {uri}: Could not create run under "
        "non-active experiment*"])


def test_failing_tests_make_a_failed_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_benchmarks=BENCHMARKS, test_broken="def test_x():\n    1 / 0\n")
    uri = sqlite_uri(pytester.path / "bench.db")
    result = run_session(pytester, "--trackstore-record", "--trackstore-uri", uri)
    result.assert_outcomes(passed=5, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the tests' status, not recording's
    run = TrackingClient(uri).get_run(recorded_run_id(result))
    assert run.info.status == "FAILED"  # so that no comparison takes it as a baseline


def test_bad_tag_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_benchmarks=BENCHMARKS)
    result = run_session(pytester, "--trackstore-record", "--trackstore-tag", "no-equals")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--trackstore-tag expects KEY=VALUE, got 'no-equals'*"])


@pytest.mark.parametrize(("uri", "shown"), [
    ("postgresql://bench:s3cret@db:5432/runs", "postgresql://bench:***@db:5432/runs"),
    ("https://user:token@tracking.example", "https://user:***@tracking.example"),
    ("https://tracking.example", "https://tracking.example"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"), ("/tmp/mlruns", "/tmp/mlruns"),
])
def test_passwords_are_not_printed(uri: str, shown: str) -> None:
    assert displayed_uri(uri) == shown


def test_tag_pairs() -> None:
    assert parse_tags(["a=1", " b =x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    for bad in ("a", "=1", " =1"):
        with pytest.raises(pytest.UsageError, match="expects KEY=VALUE"):
            parse_tags([bad])
