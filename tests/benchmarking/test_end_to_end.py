"""The whole story, as CI runs it: benchmark jobs on main recorded through the plugin into a
SQLite store, then a job with an injected regression, judged by the real ``trackstore compare``
command."""

from __future__ import annotations

import json
import re

import pytest

from trackstore import TrackingClient

from .conftest import run_cli, run_session, sqlite_uri

pytestmark = pytest.mark.usefixtures("clean_env")

# Why this cannot flake on a shared, noisy 2-core machine:
# * the work is time.sleep: a sleep never ends early, and noise (other processes on the
#   cores, a late wake-up) only ever makes a round longer;
# * the statistic is --stat min: the fastest of 8 rounds. For noise to pass for a regression,
#   every one of the 8 rounds of a clean run would have to wake up more than 5 ms (half the
#   10 ms sleep) late; for it to hide one, the baseline's fastest rounds would have to be
#   inflated by more than 16 ms in both baseline runs;
# * the injected slowdown is 4x (10 ms -> 40 ms, +300%) against a 50% threshold.
SLEEP = 0.010
SLOWDOWN = 4
THRESHOLD = "50%"

BENCHMARKS = f'''
import os
import time

import pytest

# The regression under test: CI sets SLOWDOWN when it wants the "render" step slower.
SLOWDOWN = float(os.environ.get("SLOWDOWN", "1"))


@pytest.mark.parametrize("step", ["parse", "render"])
def test_pipeline(benchmark, step):
    seconds = {SLEEP} * (SLOWDOWN if step == "render" else 1)
    benchmark.pedantic(time.sleep, args=(seconds,), rounds=8, iterations=1)
'''

RUN_ID = re.compile(r"trackstore: recorded 2 benchmarks \(\d+ metrics\) as run (\w+) ")


def github_job(monkeypatch: pytest.MonkeyPatch, sha: str, branch: str, run_id: str) -> None:
    """The variables GitHub Actions sets in a job."""
    for name, value in {"GITHUB_ACTIONS": "true", "GITHUB_SHA": sha * 40,
                        "GITHUB_REF_NAME": branch, "GITHUB_REF_TYPE": "branch",
                        "GITHUB_WORKFLOW": "CI", "GITHUB_JOB": "benchmarks",
                        "GITHUB_RUN_ID": run_id, "GITHUB_REPOSITORY": "acme/widgets",
                        "GITHUB_SERVER_URL": "https://github.com"}.items():
        monkeypatch.setenv(name, value)


def ci_benchmark_job(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, uri: str,
                     sha: str, branch: str, run_id: str, slowdown: int = 1) -> str:
    github_job(monkeypatch, sha, branch, run_id)
    monkeypatch.setenv("SLOWDOWN", str(slowdown))
    result = run_session(pytester, "--trackstore-record", "--trackstore-uri", uri)
    result.assert_outcomes(passed=2)
    found = [m.group(1) for m in map(RUN_ID.match, result.outlines) if m]
    assert len(found) == 1, result.stdout.str()
    return found[0]


def compare(uri: str, baseline: str, candidate: str, *options: str) -> tuple[int, str]:
    done = run_cli(["compare", "--tracking-uri", uri, "--baseline", baseline,
                    "--candidate", candidate, "--stat", "min", "--threshold", THRESHOLD,
                    *options])
    assert not done.stderr, done.stderr
    return done.returncode, done.stdout


def row(text: str, benchmark: str) -> list[str]:
    (line,) = [line for line in text.splitlines() if line.startswith(benchmark + " ")]
    return line.split()


def test_an_injected_regression_is_flagged_and_a_clean_run_passes(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_pipeline=BENCHMARKS)
    uri = sqlite_uri(pytester.path / "benchmarks.db")
    first = ci_benchmark_job(pytester, monkeypatch, uri, "a", "main", "101")
    second = ci_benchmark_job(pytester, monkeypatch, uri, "b", "main", "102")
    regressed = ci_benchmark_job(pytester, monkeypatch, uri, "c", "feature", "103",
                                 slowdown=SLOWDOWN)
    on_main = "tags.`mlflow.source.git.branch` = 'main'"

    # The clean run, against main's other run (a run is never its own baseline): exit 0.
    status, text = compare(uri, on_main, second)
    assert status == 0, text
    assert row(text, "test_pipeline.py::test_pipeline[parse]")[-1] == "unchanged"
    assert row(text, "test_pipeline.py::test_pipeline[render]")[-1] == "unchanged"
    assert text.splitlines()[-1] == "2 unchanged"
    assert "the most recent FINISHED run of experiment 'benchmarks' matching" in text
    assert f"({first[:8]})" in text

    # The regressed run, against the median of main's two runs: exit 1, the row says so.
    status, text = compare(uri, on_main, regressed)
    assert status == 1, text
    render = row(text, "test_pipeline.py::test_pipeline[render]")
    assert render[-1] == "regression"
    assert float(render[-2].rstrip("%")) > 200  # about +300%
    assert row(text, "test_pipeline.py::test_pipeline[parse]")[-1] == "unchanged"
    assert "median of the 2 most recent FINISHED runs" in text
    assert text.splitlines()[-1] == "1 regression, 1 unchanged"

    # The same through a run id baseline, as JSON.
    status, text = compare(uri, first, regressed, "--format", "json")
    assert status == 1
    data = json.loads(text)
    verdicts = {r["benchmark"]: r["verdict"] for r in data["rows"]}
    assert verdicts == {"test_pipeline.py::test_pipeline[parse]": "unchanged",
                        "test_pipeline.py::test_pipeline[render]": "regression"}
    render_row = next(r for r in data["rows"] if r["verdict"] == "regression")
    assert render_row["candidate"] >= SLEEP * SLOWDOWN  # a sleep never ends early
    assert SLEEP <= render_row["baseline"] < SLEEP * SLOWDOWN

    # And the runs carry what CI told about them.
    tags = TrackingClient(uri).get_run(regressed).data.tags
    assert tags["mlflow.source.git.commit"] == "c" * 40
    assert tags["mlflow.source.git.branch"] == "feature"
    assert tags["trackstore.ci.provider"] == "github-actions"
    assert tags["trackstore.ci.job"] == "CI / benchmarks"
    assert tags["trackstore.ci.url"] == "https://github.com/acme/widgets/actions/runs/103"
