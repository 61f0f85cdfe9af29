"""``trackstore compare``: thresholds, verdicts, baselines by run id and by filter, exit codes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from trackstore.benchmarking.compare import (
    IMPROVEMENT,
    MISSING,
    NEW,
    REGRESSION,
    UNCHANGED,
    compare_runs,
    judge,
    parse_threshold,
)
from trackstore.cli import main
from trackstore.client import TrackingClient
from trackstore.exceptions import TrackstoreError

from .conftest import record_run, sqlite_uri

MAIN = "tags.`mlflow.source.git.branch` = 'main'"


@pytest.mark.parametrize(("text", "fraction"), [
    ("5%", 0.05), ("5", 0.05), ("2.5%", 0.025), (" 10 % ", 0.10), ("0", 0.0), (".5", 0.005),
    ("150%", 1.5),
])
def test_thresholds(text: str, fraction: float) -> None:
    assert parse_threshold(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["", "%", "-5%", "5x", "five", "5%%", "0.05.1", "nan", "1e3"])
def test_bad_thresholds(text: str) -> None:
    with pytest.raises(ValueError, match="is not a percentage"):
        parse_threshold(text)


@pytest.mark.parametrize(("baseline", "candidate", "higher_is_better", "verdict"), [
    (1.0, 1.2, False, REGRESSION), (1.0, 0.8, False, IMPROVEMENT),
    (1.0, 1.04, False, UNCHANGED), (1.0, 0.96, False, UNCHANGED),
    (1.0, 1.05, False, UNCHANGED),  # at the threshold is not beyond it
    (100.0, 80.0, True, REGRESSION), (100.0, 120.0, True, IMPROVEMENT),
    (0.0, 0.0, False, UNCHANGED), (0.0, 1.0, False, REGRESSION),
])
def test_verdicts(baseline: float, candidate: float, higher_is_better: bool,
                  verdict: str) -> None:
    change, found = judge(baseline, candidate, 0.05, higher_is_better)
    assert found == verdict
    if baseline:
        assert change == pytest.approx((candidate - baseline) / baseline)
    else:
        assert change == 0 or math.isinf(change)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # the SQLite store's artifacts go to ./mlruns
    return sqlite_uri(tmp_path / "bench.db")


def branch(name: str, commit: str) -> dict[str, str]:
    return {"mlflow.source.git.branch": name, "mlflow.source.git.commit": commit * 40}


@pytest.fixture
def history(store: str) -> dict[str, str]:
    """Runs on main, oldest first, and others that a baseline on main must leave out."""
    ids = {}
    # main: "a" takes 1, 2, 3, 100 (one broken run), 4 ms: its median is 3 ms. An older run
    # beyond the 5 most recent would pull it to 2.5 ms.
    for i, value in enumerate([0.5, 1, 2, 3, 100, 4], start=1):
        ids[f"main{i}"] = record_run(store, {"a.py::t[a]": value / 1000, "a.py::t[b]": 0.010},
                                     start_ms=i * 10_000, tags=branch("main", str(i)))
    ids["failed"] = record_run(store, {"a.py::t[a]": 1.0}, start_ms=70_000,
                               tags=branch("main", "f"), status="FAILED")
    ids["other"] = record_run(store, {"a.py::t[a]": 1.0}, start_ms=80_000,
                              tags=branch("dev", "d"))
    return ids


def test_baseline_is_the_median_of_the_most_recent_matching_runs(
        store: str, history: dict[str, str]) -> None:
    candidate = record_run(store, {"a.py::t[a]": 0.0036, "a.py::t[b]": 0.0102,
                                   "a.py::t[c]": 0.001},
                           start_ms=90_000, tags=branch("feature", "c"))
    result = compare_runs(TrackingClient(store), baseline=MAIN, candidate=candidate,
                          stat="median", threshold=0.1)
    assert [r.info.run_id for r in result.baseline_runs] == [
        history[f"main{i}"] for i in (6, 5, 4, 3, 2)]
    rows = {row.benchmark: row for row in result.rows}
    assert rows["a.py::t[a]"].baseline == pytest.approx(0.003)
    assert sorted(rows["a.py::t[a]"].baseline_values) == pytest.approx(
        [0.001, 0.002, 0.003, 0.004, 0.1])
    assert rows["a.py::t[a]"].change == pytest.approx(0.2)
    assert rows["a.py::t[a]"].verdict == REGRESSION
    assert rows["a.py::t[b]"].verdict == UNCHANGED
    assert rows["a.py::t[c]"].verdict == NEW and rows["a.py::t[c]"].baseline is None
    assert [row.benchmark for row in result.rows] == ["a.py::t[a]", "a.py::t[b]",
                                                      "a.py::t[c]"]
    assert result.summary() == "1 regression, 1 unchanged, 1 new"


def test_the_candidate_is_never_its_own_baseline(store: str,
                                                 history: dict[str, str]) -> None:
    result = compare_runs(TrackingClient(store), baseline=MAIN, candidate=history["main6"],
                          stat="median", baseline_count=2)
    assert [r.info.run_id for r in result.baseline_runs] == [history["main5"],
                                                             history["main4"]]


def test_baseline_by_run_id_and_missing_benchmarks(store: str) -> None:
    base = record_run(store, {"a.py::t[a]": 0.002, "a.py::t[gone]": 0.001}, start_ms=1000)
    cand = record_run(store, {"a.py::t[a]": 0.001}, start_ms=2000)
    result = compare_runs(TrackingClient(store), baseline=base, candidate=cand, stat="ops")
    rows = {row.benchmark: row for row in result.rows}
    # 500 ops/s before, 1000 now: better, for a statistic where higher is better.
    assert (rows["a.py::t[a]"].baseline, rows["a.py::t[a]"].candidate) == (500, 1000)
    assert rows["a.py::t[a]"].verdict == IMPROVEMENT
    assert rows["a.py::t[gone]"].verdict == MISSING
    assert result.baseline_description == f"run {base}"


@pytest.mark.parametrize(("case", "message"), [
    ("unknown candidate", "Unknown candidate run 'feedface'"),
    ("unknown baseline", "Unknown baseline run 'feedface'"),
    ("same run", "are the same run"),
    ("no match", "No FINISHED run of experiment 'benchmarks' matches"),
    ("bad filter", "Invalid clause"),
    ("unknown experiment", "No experiment named 'nope'"),
    ("nothing in common", "Nothing to compare"),
])
def test_comparisons_that_cannot_be_made(store: str, history: dict[str, str], case: str,
                                         message: str) -> None:
    args = {"baseline": history["main6"], "candidate": history["other"]}
    if case == "unknown candidate":
        args["candidate"] = "feedface"
    elif case == "unknown baseline":
        args["baseline"] = "feedface"
    elif case == "same run":
        args["baseline"] = history["other"]
    elif case == "no match":
        args["baseline"] = "tags.`mlflow.source.git.branch` = 'nowhere'"
    elif case == "bad filter":
        args["baseline"] = "branch is main"
    elif case == "unknown experiment":
        args["baseline"] = MAIN
    elif case == "nothing in common":
        args["candidate"] = record_run(store, {"z.py::t": 1.0}, start_ms=1)
    with pytest.raises(TrackstoreError, match=message):
        compare_runs(TrackingClient(store), **args,
                     experiment="nope" if case == "unknown experiment" else "benchmarks")
    # The command says the same, with exit status 2 (1 would read as a regression).
    command = ["compare", "--tracking-uri", store, "--baseline", args["baseline"],
               "--candidate", args["candidate"]]
    if case == "unknown experiment":
        command += ["--experiment", "nope"]
    outcome = CliRunner().invoke(main, command)
    assert outcome.exit_code == 2, outcome.output
    assert message in outcome.stderr


def test_command_exit_status_and_formats(store: str, history: dict[str, str]) -> None:
    slower = record_run(store, {"a.py::t[a]": 0.0036, "a.py::t[b]": 0.010}, start_ms=90_000)
    base = ["compare", "--tracking-uri", store, "--baseline", MAIN]
    outcome = CliRunner().invoke(main, [*base, "--candidate", slower, "--threshold", "10%"])
    assert outcome.exit_code == 1
    lines = outcome.stdout.splitlines()
    assert lines[0].startswith("Baseline:  median of the 5 most recent FINISHED runs of "
                               "experiment 'benchmarks' matching")
    assert lines[2] == "Statistic: median (lower is better); threshold 10%"
    assert lines[4].split() == ["BENCHMARK", "BASELINE", "CANDIDATE", "CHANGE", "VERDICT"]
    assert lines[6].split() == ["a.py::t[a]", "3.00", "ms", "3.60", "ms", "+20.0%",
                                "regression"]
    assert lines[7].split() == ["a.py::t[b]", "10.0", "ms", "10.0", "ms", "+0.0%",
                                "unchanged"]
    assert lines[-1] == "1 regression, 1 unchanged"
    # A generous threshold: no regression, exit status 0.
    outcome = CliRunner().invoke(main, [*base, "--candidate", slower, "--threshold", "25"])
    assert outcome.exit_code == 0 and outcome.stdout.endswith("2 unchanged\n")

    outcome = CliRunner().invoke(main, [*base, "--candidate", slower, "--format", "json"])
    data = json.loads(outcome.stdout)
    assert outcome.exit_code == 1 and data["regression"] is True
    assert data["rows"][0]["verdict"] == "regression"
    assert data["rows"][0]["baseline"] == pytest.approx(0.003)
    assert len(data["baseline"]["run_ids"]) == 5
    assert data["counts"] == {"regression": 1, "improvement": 0, "unchanged": 1, "new": 0,
                              "missing": 0}

    outcome = CliRunner().invoke(main, [*base, "--candidate", slower, "--format", "markdown"])
    assert outcome.exit_code == 1
    assert "| `a.py::t[a]` | 3.00 ms | 3.60 ms | +20.0% | **regression** |" in outcome.stdout
    assert "- **Baseline:** median of the 5 most recent" in outcome.stdout


def test_usage_errors_exit_2(store: str) -> None:
    outcome = CliRunner().invoke(main, ["compare", "--tracking-uri", store, "--baseline", "x",
                                        "--candidate", "y", "--threshold", "5 percent"])
    assert outcome.exit_code == 2 and "is not a percentage" in outcome.stderr
    outcome = CliRunner().invoke(main, ["compare", "--tracking-uri", store, "--baseline", "x",
                                        "--candidate", "y", "--stat", "rounds"])
    assert outcome.exit_code == 2 and "Invalid value for '--stat'" in outcome.stderr
