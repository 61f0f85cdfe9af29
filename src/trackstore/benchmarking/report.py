"""A benchmark report (``trackstore report``): the latest value of each benchmark and its
history across the recent runs of an experiment, as Markdown or HTML with PNG plots.

The plots are written to ``<stem>_plots/`` next to the report, one per benchmark, named after
its metric-key segment (so a regenerated report overwrites its own plots), and linked from it.
"""

from __future__ import annotations

import datetime
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .._version import __version__
from ..client import TrackingClient
from ..entities import Experiment, Run
from ..exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from . import keys
from .plots import load_matplotlib, plot_history
from .results import benchmark_names, run_label, short_commit, stat_values
from .tables import code_span, markdown_escape, markdown_table
from .units import format_change, format_value

FORMATS = ("markdown", "html")
_EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
DEFAULT_MAX_RUNS = 20
_UNSAFE_FILE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def name_pattern(pattern: str) -> re.Pattern[str]:
    """A ``--metric`` pattern: ``*`` matches any text and ``?`` one character; everything
    else stands for itself (brackets too: benchmark names are full of them)."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def output_format(output: Path, explicit: str | None) -> str:
    """The format asked for, else the one *output*'s extension names."""
    if explicit is not None:
        return explicit
    found = _EXTENSIONS.get(output.suffix.lower())
    if found is None:
        raise TrackstoreError(
            f"Cannot tell the report's format from {output.name!r}: name it .md or .html, or "
            "give --format", INVALID_PARAMETER_VALUE)
    return found


@dataclass(frozen=True)
class BenchmarkHistory:
    """One benchmark's values across the report's runs (None where a run lacks it)."""

    name: str
    segment: str
    values: tuple[float | None, ...]

    def present(self) -> list[float]:
        return [v for v in self.values if v is not None]


@dataclass(frozen=True)
class ReportData:
    experiment: Experiment
    filter_string: str
    stat: str
    runs: tuple[Run, ...]  # oldest first
    histories: tuple[BenchmarkHistory, ...]  # by name


def collect(client: TrackingClient, *, experiment: str, filter_string: str = "",
            patterns: Sequence[str] = (), stat: str = "median",
            max_runs: int = DEFAULT_MAX_RUNS) -> ReportData:
    """The *max_runs* most recent FINISHED runs of *experiment* matching *filter_string*, and
    the history of each benchmark whose name (or key segment) matches one of *patterns*
    (see :func:`name_pattern`; all benchmarks without patterns)."""
    if stat not in keys.STATS:
        raise TrackstoreError(f"Unknown statistic {stat!r}: one of {', '.join(keys.STATS)}",
                              INVALID_PARAMETER_VALUE)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise TrackstoreError(f"No experiment named {experiment!r} in {client.tracking_uri}",
                              RESOURCE_DOES_NOT_EXIST)
    finished = "attributes.status = 'FINISHED'"
    where = f"{filter_string} AND {finished}" if filter_string.strip() else finished
    newest_first = client.search_runs([found.experiment_id], where, max_results=max_runs,
                                      order_by=["attributes.start_time DESC"])
    runs = tuple(reversed(newest_first))
    if not runs:
        raise TrackstoreError(
            f"No FINISHED run of experiment {experiment!r}"
            + (f" matches {filter_string!r}" if filter_string.strip() else ""),
            RESOURCE_DOES_NOT_EXIST)
    names = benchmark_names(runs)
    per_run = [stat_values(run, stat) for run in runs]
    segments = {segment for values in per_run for segment in values}
    wanted = [name_pattern(p) for p in patterns]
    histories = []
    for segment in segments:
        name = keys.display_name(segment, names)
        if wanted and not any(p.match(name) or p.match(segment) for p in wanted):
            continue
        histories.append(BenchmarkHistory(name, segment,
                                          tuple(values.get(segment) for values in per_run)))
    if not histories:
        raise TrackstoreError(
            f"No benchmark with a {stat!r} value in the {len(runs)} runs"
            + (f" matches {' or '.join(map(repr, patterns))}" if patterns else ""),
            RESOURCE_DOES_NOT_EXIST)
    histories.sort(key=lambda h: (h.name, h.segment))
    return ReportData(found, filter_string, stat, runs, tuple(histories))


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    format: str
    plots: tuple[Path, ...]
    runs: int
    benchmarks: int


def plot_stem(segment: str) -> str:
    """A benchmark's plot file name without ``.png`` (also its HTML anchor): readable, and
    unique by the segment's hash."""
    readable = _UNSAFE_FILE_CHARACTERS.sub("-", segment).strip("-.")[:80]
    return f"{readable}-{keys.name_hash(segment)[:8]}"


def _summary_rows(data: ReportData) -> list[tuple[BenchmarkHistory, list[str], float | None]]:
    """Per benchmark: its cells after the name (latest, previous, change, min, max, runs) and
    the latest value."""
    rows = []
    for history in data.histories:
        present = history.present()
        latest = present[-1] if present else None
        previous = present[-2] if len(present) > 1 else None
        change = None
        if latest is not None and previous is not None and previous != 0:
            change = (latest - previous) / abs(previous)
        cells = [format_value(data.stat, latest), format_value(data.stat, previous),
                 format_change(change), format_value(data.stat, min(present, default=None)),
                 format_value(data.stat, max(present, default=None)), str(len(present))]
        rows.append((history, cells, latest))
    return rows


_COLUMNS = ["Benchmark", "Latest", "Previous", "Change", "Min", "Max", "Runs"]


def _facts(data: ReportData) -> list[tuple[str, str]]:
    first, last = data.runs[0], data.runs[-1]
    direction = ("higher is better" if data.stat in keys.HIGHER_IS_BETTER
                 else "lower is better" if data.stat in keys.TIME_STATS else "")
    matching = f" matching {data.filter_string}" if data.filter_string.strip() else ""
    commit = short_commit(last)
    now = datetime.datetime.now(datetime.timezone.utc)
    return [
        ("Statistic", f"{data.stat}" + (f" ({direction})" if direction else "")),
        ("Runs", f"the {len(data.runs)} most recent FINISHED runs of experiment "
                 f"{data.experiment.name!r}{matching}, "
                 f"{run_label(first, ' ')} to {run_label(last, ' ')}"),
        ("Latest run", f"{last.info.run_id}" + (f" (commit {commit})" if commit else "")),
        ("Generated", f"{now:%Y-%m-%d %H:%M} UTC by trackstore {__version__}"),
    ]


def _markdown(data: ReportData, plots: dict[str, str]) -> str:
    lines = [f"# Benchmarks: {markdown_escape(data.experiment.name)}", ""]
    lines += [f"- **{label}:** {markdown_escape(text)}" for label, text in _facts(data)]
    table_rows = [[code_span(history.name), *cells]
                  for history, cells, _latest in _summary_rows(data)]
    lines += ["", "## Latest values", "",
              markdown_table(_COLUMNS, table_rows, align="lrrrrrr"), "", "## History", ""]
    for history in data.histories:
        lines += [f"### {code_span(history.name)}", "",
                  f"![{markdown_escape(history.name)}]({plots[history.segment]})", ""]
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.9em; }
figure { margin: 1.5em 0; }
"""


def _html(data: ReportData, plots: dict[str, str]) -> str:
    e = html.escape
    facts = "".join(f"<li><strong>{e(label)}:</strong> {e(text)}</li>"
                    for label, text in _facts(data))
    header = "".join(f"<th>{e(c)}</th>" for c in _COLUMNS)
    body = []
    for history, cells, latest in _summary_rows(data):
        value = "" if latest is None else f' data-value="{latest!r}"'
        numbers = "".join(f'<td class="number">{e(cell)}</td>' for cell in cells[1:])
        body.append(f'<tr><td><a href="#{plot_stem(history.segment)}"><code>'
                    f'{e(history.name)}</code></a></td><td class="number"{value}>'
                    f'{e(cells[0])}</td>{numbers}</tr>')
    figures = "".join(
        f'<figure id="{plot_stem(h.segment)}"><figcaption><code>{e(h.name)}</code></figcaption>'
        f'<img src="{e(plots[h.segment])}" alt="{e(h.name)}: {e(data.stat)} across runs" '
        f'loading="lazy"></figure>' for h in data.histories)
    title = f"Benchmarks: {data.experiment.name}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{e(title)}</h1>\n<ul>{facts}</ul>\n<h2>Latest values</h2>\n"
            f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n" + "\n".join(body)
            + f"\n</tbody>\n</table>\n<h2>History</h2>\n{figures}\n</body>\n</html>\n")


def write_report(data: ReportData, output: Path, report_format: str) -> WrittenReport:
    """Write the report to *output* and its plots to ``<stem>_plots/`` beside it."""
    load_matplotlib()
    plot_dir = output.parent / f"{output.stem}_plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    labels = [run_label(run) for run in data.runs]
    plots: dict[str, str] = {}
    written = []
    for history in data.histories:
        path = plot_dir / f"{plot_stem(history.segment)}.png"
        plot_history(path, history.name, data.stat, labels, history.values)
        plots[history.segment] = f"{plot_dir.name}/{path.name}"
        written.append(path)
    text = _markdown(data, plots) if report_format == "markdown" else _html(data, plots)
    output.write_text(text, encoding="utf-8")
    return WrittenReport(output, report_format, tuple(written), len(data.runs),
                         len(data.histories))


def build_report(client: TrackingClient, *, output: Path, report_format: str | None = None,
                 experiment: str = "benchmarks", filter_string: str = "",
                 patterns: Sequence[str] = (), stat: str = "median",
                 max_runs: int = DEFAULT_MAX_RUNS) -> WrittenReport:
    """:func:`collect`, then :func:`write_report` (matplotlib is checked for first)."""
    chosen = output_format(output, report_format)
    load_matplotlib()
    data = collect(client, experiment=experiment, filter_string=filter_string,
                   patterns=patterns, stat=stat, max_runs=max_runs)
    return write_report(data, output, chosen)

