"""A candidate run judged against a baseline, benchmark by benchmark (``trackstore compare``).

The baseline is one run (given by id), or the N most recent FINISHED runs of an experiment
that match an MLflow search filter, the candidate excluded: each benchmark's baseline value is
then the median of its values in those runs that have it (the median, so that one noisy or
broken run does not move it). Each benchmark present on both sides gets a verdict from its
relative change, ``(candidate - baseline) / baseline``:

* ``regression``: worse by more than the threshold (slower; for ``ops``, fewer per second);
* ``improvement``: better by more than the threshold;
* ``unchanged``: within the threshold either way;
* ``new``: only in the candidate; ``missing``: only in the baseline.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..client import TrackingClient
from ..entities import Run
from ..exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from . import keys
from .results import benchmark_names, short_commit, stat_values
from .tables import code_span, markdown_escape, markdown_table
from .units import format_change, format_value

REGRESSION, IMPROVEMENT, UNCHANGED, NEW, MISSING = (
    "regression", "improvement", "unchanged", "new", "missing")
VERDICTS = (REGRESSION, IMPROVEMENT, UNCHANGED, NEW, MISSING)
HEADERS = ("BENCHMARK", "BASELINE", "CANDIDATE", "CHANGE", "VERDICT")

DEFAULT_THRESHOLD = 0.05
DEFAULT_BASELINE_RUNS = 5

_RUN_ID = re.compile(r"^[A-Za-z0-9][\w\-]*$")
_THRESHOLD = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*$")


def parse_threshold(text: str) -> float:
    """``"5%"`` or ``"5"`` (percent) → 0.05; raises ValueError for anything else."""
    found = _THRESHOLD.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a percentage (e.g. 5% or 2.5)")
    return float(found.group(1)) / 100


def format_threshold(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def is_run_id(text: str) -> bool:
    """Whether a ``--baseline`` is a run id (a filter has spaces, quotes, operators)."""
    return _RUN_ID.match(text) is not None


def judge(baseline: float, candidate: float, threshold: float,
          higher_is_better: bool) -> tuple[float, str]:
    """(relative change, verdict) of *candidate* against *baseline*."""
    if baseline == 0:
        change = 0.0 if candidate == 0 else math.copysign(math.inf, candidate)
    else:
        change = (candidate - baseline) / abs(baseline)
    worse = -change if higher_is_better else change
    # A change exactly at the threshold (1.05 against 1.0 at 5%) is not beyond it, whatever
    # the last bit of the float division.
    margin = threshold + 1e-9
    if worse > margin:
        return change, REGRESSION
    if worse < -margin:
        return change, IMPROVEMENT
    return change, UNCHANGED


@dataclass(frozen=True)
class Row:
    """One benchmark's comparison."""

    benchmark: str  # its name (the pytest node id)
    segment: str  # its metric-key segment
    baseline: float | None
    candidate: float | None
    change: float | None
    verdict: str
    baseline_values: tuple[float, ...]


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare_runs`."""

    stat: str
    threshold: float
    candidate: Run
    baseline_runs: tuple[Run, ...]
    baseline_description: str
    rows: tuple[Row, ...]

    @property
    def regressions(self) -> list[Row]:
        return [row for row in self.rows if row.verdict == REGRESSION]

    def counts(self) -> dict[str, int]:
        return {verdict: sum(row.verdict == verdict for row in self.rows)
                for verdict in VERDICTS}

    @property
    def direction(self) -> str:
        return "higher is better" if self.stat in keys.HIGHER_IS_BETTER else "lower is better"

    def display_rows(self) -> list[list[str]]:
        """The table's rows as text, values with their units."""
        return [[row.benchmark, format_value(self.stat, row.baseline),
                 format_value(self.stat, row.candidate), format_change(row.change),
                 row.verdict] for row in self.rows]

    def summary(self) -> str:
        """``"1 regression, 3 unchanged"``: the verdicts that occur."""
        counts = self.counts()
        parts = [f"{n} {verdict}" + ("s" if n > 1 and verdict in (REGRESSION, IMPROVEMENT)
                                     else "")
                 for verdict, n in counts.items() if n]
        return ", ".join(parts) if parts else "nothing compared"

    def heading(self) -> list[tuple[str, str]]:
        """(label, text) lines saying what was compared with what, and how."""
        commit = short_commit(self.candidate)
        return [("Baseline", self.baseline_description),
                ("Candidate", f"run {self.candidate.info.run_id}"
                 + (f" (commit {commit})" if commit else "")),
                ("Statistic", f"{self.stat} ({self.direction}); threshold "
                 f"{format_threshold(self.threshold)}")]

    def text(self) -> list[str]:
        """The heading as plain text lines."""
        return [f"{label + ':':<11}{text}" for label, text in self.heading()]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stat": self.stat,
            "higher_is_better": self.stat in keys.HIGHER_IS_BETTER,
            "threshold": self.threshold,
            "candidate_run_id": self.candidate.info.run_id,
            "baseline": {"description": self.baseline_description,
                         "run_ids": [r.info.run_id for r in self.baseline_runs]},
            "rows": [{"benchmark": r.benchmark, "metric_prefix": r.segment,
                      "baseline": r.baseline, "candidate": r.candidate, "change": r.change,
                      "verdict": r.verdict, "baseline_values": list(r.baseline_values)}
                     for r in self.rows],
            "counts": self.counts(),
            "regression": bool(self.regressions),
        }


def _get_run(client: TrackingClient, run_id: str, role: str) -> Run:
    try:
        return client.get_run(run_id)
    except TrackstoreError as exc:
        if exc.error_code == RESOURCE_DOES_NOT_EXIST:
            raise TrackstoreError(f"Unknown {role} run {run_id!r} in {client.tracking_uri}",
                                  RESOURCE_DOES_NOT_EXIST) from None
        raise


def baseline_runs(client: TrackingClient, spec: str, candidate_id: str, experiment: str,
                  count: int) -> tuple[list[Run], str]:
    """The runs the baseline *spec* (a run id or a filter) names, and a description of it."""
    if is_run_id(spec):
        if spec == candidate_id:
            raise TrackstoreError("The baseline and the candidate are the same run "
                                  f"({spec})", INVALID_PARAMETER_VALUE)
        return [_get_run(client, spec, "baseline")], f"run {spec}"
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise TrackstoreError(f"No experiment named {experiment!r} in {client.tracking_uri}",
                              RESOURCE_DOES_NOT_EXIST)
    finished = "attributes.status = 'FINISHED'"
    # One more than needed: the candidate may be among the most recent matches.
    matches = client.search_runs(
        [found.experiment_id], f"{spec} AND {finished}" if spec.strip() else finished,
        max_results=count + 1, order_by=["attributes.start_time DESC"])
    runs = [run for run in matches if run.info.run_id != candidate_id][:count]
    if not runs:
        raise TrackstoreError(
            f"No FINISHED run of experiment {experiment!r} matches the baseline filter "
            f"{spec!r} (the candidate aside)", RESOURCE_DOES_NOT_EXIST)
    ids = ", ".join(run.info.run_id[:8] for run in runs)
    which = (f"median of the {len(runs)} most recent FINISHED runs" if len(runs) > 1
             else "the most recent FINISHED run")
    matching = f" matching {spec!r}" if spec.strip() else ""
    return runs, f"{which} of experiment {experiment!r}{matching} ({ids})"


def compare_values(baseline: Mapping[str, Sequence[float]], candidate: Mapping[str, float],
                   names: Mapping[str, str], stat: str, threshold: float) -> list[Row]:
    """The rows for per-benchmark *baseline* values (several runs' each) and *candidate*
    values, keyed by metric-key segment; sorted by benchmark name."""
    higher_is_better = stat in keys.HIGHER_IS_BETTER
    rows = []
    for segment in baseline.keys() | candidate.keys():
        values = tuple(baseline.get(segment, ()))
        base = statistics.median(values) if values else None
        cand = candidate.get(segment)
        if base is None:
            change, verdict = None, NEW
        elif cand is None:
            change, verdict = None, MISSING
        else:
            change, verdict = judge(base, cand, threshold, higher_is_better)
        rows.append(Row(keys.display_name(segment, names), segment, base, cand, change,
                        verdict, values))
    return sorted(rows, key=lambda row: (row.benchmark, row.segment))


def compare_runs(client: TrackingClient, *, baseline: str, candidate: str,
                 experiment: str = "benchmarks", stat: str = "median",
                 threshold: float = DEFAULT_THRESHOLD,
                 baseline_count: int = DEFAULT_BASELINE_RUNS) -> Comparison:
    """Judge the run *candidate* against *baseline* (a run id or a search filter).

    Raises TrackstoreError when the comparison cannot be made: an unknown run or experiment,
    a bad filter, no baseline run matched, or no benchmark with *stat* on both sides.
    """
    if stat not in keys.STATS:
        raise TrackstoreError(f"Unknown statistic {stat!r}: one of {', '.join(keys.STATS)}",
                              INVALID_PARAMETER_VALUE)
    candidate_run = _get_run(client, candidate, "candidate")
    runs, description = baseline_runs(client, baseline, candidate, experiment, baseline_count)
    base_values: dict[str, list[float]] = {}
    for run in runs:
        for segment, value in stat_values(run, stat).items():
            base_values.setdefault(segment, []).append(value)
    cand_values = stat_values(candidate_run, stat)
    if not base_values.keys() & cand_values.keys():
        raise TrackstoreError(
            f"Nothing to compare: no benchmark has a {stat!r} value in both the candidate "
            f"({len(cand_values)} benchmarks) and the baseline ({len(base_values)})",
            INVALID_PARAMETER_VALUE)
    names = benchmark_names([*runs, candidate_run])
    rows = compare_values(base_values, cand_values, names, stat, threshold)
    return Comparison(stat, threshold, candidate_run, tuple(runs), description, tuple(rows))


def markdown(comparison: Comparison) -> str:
    """The comparison as GitHub-flavoured Markdown (a job summary, a pull-request comment)."""
    rows = [[code_span(cells[0]), *cells[1:4],
             f"**{cells[4]}**" if cells[4] == REGRESSION else cells[4]]
            for cells in comparison.display_rows()]
    return "\n".join([
        "## Benchmark comparison", "",
        *(f"- **{label}:** {markdown_escape(text)}" for label, text in comparison.heading()),
        "", markdown_table(["Benchmark", "Baseline", "Candidate", "Change", "Verdict"], rows,
                           align="lrrrl"),
        "", f"**{comparison.summary()}**", ""])
