"""``trackstore report``: Markdown and HTML with PNG history plots, from recorded runs."""

from __future__ import annotations

import html.parser
import os
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from trackstore import TrackingClient
from trackstore.benchmarking import keys
from trackstore.benchmarking.report import name_pattern
from trackstore.cli import main

from .conftest import record_run, run_cli, sqlite_uri

DAY = 86_400_000
JAN_1 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Three runs on main, oldest first; "b.py::u" is not in the last one. A FAILED run and
    a run of another experiment must stay out of the report."""
    monkeypatch.chdir(tmp_path)  # the SQLite store's artifacts go to ./mlruns
    uri = sqlite_uri(tmp_path / "bench.db")
    for day, commit, values in [(0, "1", {"a.py::t[x]": 0.001, "b.py::u": 0.5}),
                                (1, "2", {"a.py::t[x]": 0.0015, "b.py::u": 0.25}),
                                (2, "3", {"a.py::t[x]": 0.002})]:
        record_run(uri, values, start_ms=JAN_1 + day * DAY,
                   tags={"mlflow.source.git.commit": commit * 40,
                         "mlflow.source.git.branch": "main"})
    record_run(uri, {"a.py::t[x]": 9.0}, start_ms=JAN_1 + 3 * DAY, status="FAILED")
    record_run(uri, {"a.py::t[x]": 9.0}, start_ms=JAN_1 + 3 * DAY, experiment="other")
    return uri


def report(store: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["report", "--tracking-uri", store, *args])


def png_size(path: Path) -> tuple[int, int]:
    """The (width, height) a PNG file's header gives, after checking it is a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_valid_plot(path: Path) -> None:
    from matplotlib.image import imread

    assert png_size(path) == (800, 360)
    assert imread(path).shape[:2] == (360, 800)  # decodes whole


class Images(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.values: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "img":
            self.sources.append(found["src"] or "")
        if "data-value" in found:
            self.values.append(found["data-value"] or "")


def test_markdown_report(store: str, tmp_path: Path) -> None:
    output = tmp_path / "out" / "report.md"
    result = report(store, "--output", str(output))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Wrote {output} (markdown): 2 benchmarks over 3 runs, "
                                    "2 plots in ")
    text = output.read_text()
    assert text.startswith("# Benchmarks: benchmarks\n")
    assert "- **Statistic:** median (lower is better)" in text
    assert "- **Runs:** the 3 most recent FINISHED runs of experiment 'benchmarks', " \
           "11111111 2024-01-01 to 33333333 2024-01-03" in text
    # The latest recorded values, the previous ones, and the change between them.
    assert "| `a.py::t[x]` | 2.00 ms | 1.50 ms | +33.3% | 1.00 ms | 2.00 ms | 3 |" in text
    assert "| `b.py::u` | 250 ms | 500 ms | -50.0% | 250 ms | 500 ms | 2 |" in text
    assert "9.00 s" not in text  # neither the FAILED run nor the other experiment
    plots = sorted((tmp_path / "out" / "report_plots").iterdir())
    assert len(plots) == 2
    for plot in plots:
        assert f"](report_plots/{plot.name})" in text
        assert_valid_plot(plot)


def test_html_report(store: str, tmp_path: Path) -> None:
    output = tmp_path / "report.html"
    result = report(store, "--output", str(output), "--stat", "ops", "--metric", "a.py::t[x]")
    assert result.exit_code == 0, result.output
    page = output.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<code>a.py::t[x]</code>" in page and "b.py::u" not in page
    assert ">500 ops/s</td>" in page  # 1 / 2 ms
    found = Images()
    found.feed(page)
    # The table's value is the one recorded, to the last digit.
    latest = TrackingClient(store).search_runs(["1"], "attributes.status = 'FINISHED'",
                                               max_results=1,
                                               order_by=["attributes.start_time DESC"])[0]
    assert found.values == [repr(latest.data.metrics[keys.metric_key("a.py::t[x]", "ops")])]
    assert len(found.sources) == 1 and found.sources[0].startswith("report_plots/")
    assert_valid_plot(tmp_path / found.sources[0])


def test_runs_and_formats(store: str, tmp_path: Path) -> None:
    output = tmp_path / "two.txt"
    result = report(store, "--output", str(output), "--format", "markdown", "--max-runs", "2",
                    "--filter", "tags.`mlflow.source.git.branch` = 'main'")
    assert result.exit_code == 0, result.output
    text = output.read_text()
    assert "| `a.py::t[x]` | 2.00 ms | 1.50 ms | +33.3% | 1.50 ms | 2.00 ms | 2 |" in text
    assert "| `b.py::u` | 250 ms | - | - | 250 ms | 250 ms | 1 |" in text
    assert (tmp_path / "two_plots").is_dir()


@pytest.mark.parametrize(("args", "message"), [
    (["--output", "report.pdf"], "Cannot tell the report's format from 'report.pdf'"),
    (["--output", "r.md", "--experiment", "nope"], "No experiment named 'nope'"),
    (["--output", "r.md", "--filter", "tags.x = 'y'"],
     "No FINISHED run of experiment 'benchmarks' matches"),
    (["--output", "r.md", "--metric", "c.py::*"], "No benchmark with a 'median' value"),
])
def test_reports_that_cannot_be_made(store: str, args: list[str], message: str) -> None:
    result = report(store, *args)
    assert result.exit_code == 1
    assert message in result.stderr


@pytest.mark.parametrize(("pattern", "name", "matches"), [
    ("a.py::t[x]", "a.py::t[x]", True), ("*[x]", "a.py::t[x]", True),
    ("a.py::t[?]", "a.py::t[x]", True), ("a.py::*", "b.py::u", False),
    ("*[x]", "a.py::t[y]", False), ("a.py", "a.py::t", False),
])
def test_name_patterns(pattern: str, name: str, matches: bool) -> None:
    assert bool(name_pattern(pattern).match(name)) is matches


def test_without_matplotlib(store: str, tmp_path: Path) -> None:
    # A real run of the command in an interpreter where matplotlib cannot be imported.
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import sys\nsys.modules['matplotlib'] = None  # as if it were not installed\n")
    env = {**os.environ, "PYTHONPATH": str(shim)}
    done = run_cli(["report", "--tracking-uri", store, "--output", "r.md"], cwd=tmp_path,
                   env=env)
    assert done.returncode == 1
    assert "trackstore report draws its plots with matplotlib, which cannot be imported" \
        in done.stderr
    assert "pip install 'trackstore[report]'" in done.stderr
    assert not (tmp_path / "r.md").exists()
