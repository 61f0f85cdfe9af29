"""Recorded benchmark runs read back: which benchmarks a run holds, under which names."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable

from ..entities import Run
from . import keys
from .ci import GIT_COMMIT_TAG


def stat_values(run: Run, stat: str) -> dict[str, float]:
    """Benchmark segment → the value of *stat* in *run* (NaN values left out)."""
    found = {}
    for key, value in run.data.metrics.items():
        parts = keys.split_metric_key(key)
        if parts is not None and parts[1] == stat and not math.isnan(value):
            found[parts[0]] = value
    return found


def benchmark_names(runs: Iterable[Run]) -> dict[str, str]:
    """Name hash → name, from the ``trackstore.benchmark.name.*`` tags of all *runs*."""
    names: dict[str, str] = {}
    for run in runs:
        names.update(keys.names_from_tags(run.data.tags))
    return names


def short_commit(run: Run) -> str | None:
    commit = run.data.tags.get(GIT_COMMIT_TAG)
    return commit[:8] if commit else None


def run_label(run: Run, separator: str = "\n") -> str:
    """A run as a report shows it: short commit (else run name), *separator*, UTC date."""
    name = short_commit(run) or run.info.run_name or run.info.run_id[:8]
    if run.info.start_time is None:
        return name
    date = datetime.datetime.fromtimestamp(run.info.start_time / 1000, datetime.timezone.utc)
    return f"{name}{separator}{date:%Y-%m-%d}"
