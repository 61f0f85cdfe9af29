"""``trackstore gc``: remove deleted runs and experiments for good, artifacts included.

Deleting a run or an experiment is soft (it can be restored); garbage collection is what
removes it: its metadata from the backend store and its artifacts from their repository.
:func:`plan` decides what goes (and refuses, changing nothing, anything that may not), and
:func:`collect` removes it.

What goes
---------
* Given neither ``run_ids`` nor ``experiment_ids``: every deleted run, and every deleted
  experiment with all its runs.
* ``run_ids``: those runs only. Each must exist and be deleted.
* ``experiment_ids``: those experiments, with all their runs. Each must exist and be
  deleted. With both, both.
* ``older_than``: only what was deleted at least that long ago, the boundary included (a run
  by its ``deleted_time``, an experiment by its ``last_update_time``, which deleting it set).
  A run deleted without a recorded time (by an MLflow older than 1.x's ``deleted_time``)
  counts as old enough on every backend. Named runs or experiments that are too recent are
  refused. A collected experiment takes all its runs, whatever their own age.

MLflow's ``mlflow gc`` differs (``docs/lifecycle.md``): ``--run-ids`` alone also collects
every deleted experiment and ``--experiment-ids`` alone also every deleted run, and its SQL
store never collects a run without ``deleted_time`` where its file store always does.

How
---
Runs go in chunks (:data:`CHUNK` runs): first the artifacts of each run of the chunk, then the
metadata of the whole chunk in a few set-based statements (one transaction on a SQL store).
Experiments go last. Artifacts already gone are fine. So an interrupted collection (a crash,
Ctrl-C, a kill) leaves every run either whole, or deleted and without some of its artifacts,
and running ``gc`` again finishes it. A run whose artifacts cannot be removed (no repository
for its URI, a permission error) is kept, with its metadata, and reported: nothing is left
behind without a record of it.
"""

from __future__ import annotations

import datetime
import os
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from ._progress import TerminalLine, bar, clock, progress_stream
from .entities import Experiment, LifecycleStage, ViewType, now_ms
from .exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from .store.base import AbstractStore, GcRun

#: Runs whose artifacts and metadata are removed together (one transaction on a SQL store).
CHUNK = 500

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_OLDER_THAN = re.compile(
    rf"^(?:(?P<days>{_NUMBER})d)?(?:(?P<hours>{_NUMBER})h)?"
    rf"(?:(?P<minutes>{_NUMBER})m)?(?:(?P<seconds>{_NUMBER})s)?$")


def parse_older_than(text: str) -> int:
    """``--older-than`` (``#d#h#m#s``, each part optional, numbers may be decimals, as in
    ``1.5d`` or ``2d8h5m20s``) in milliseconds."""
    match = _OLDER_THAN.match(text.strip())
    if match is None or not any(match.groupdict().values()):
        raise TrackstoreError(
            f"Could not parse any time information from '{text}'. Examples of valid strings: "
            "'8h', '2d8h5m20s', '2m4s'", INVALID_PARAMETER_VALUE)
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return round(datetime.timedelta(**parts).total_seconds() * 1000)


@dataclass
class GcPlan:
    """What :func:`collect` will remove."""

    #: Every run to remove: the deleted runs named or found, then all runs of the experiments.
    runs: list[GcRun]
    #: Deleted experiments to remove, after their runs.
    experiments: list[Experiment]


@dataclass
class GcSummary:
    """What a collection did (or, dry, would do)."""

    dry_run: bool = False
    runs: int = 0
    experiments: int = 0
    runs_total: int = 0
    experiments_total: int = 0
    artifact_locations: int = 0
    artifacts_missing: int = 0
    #: Folders an earlier gc, killed half-way, had begun to remove (finished now).
    interrupted_removed: int = 0
    seconds: float = 0.0
    #: (run or experiment id, why it was kept): artifacts that could not be removed.
    kept: list[tuple[str, str]] = field(default_factory=list)
    reclaimed: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kept"] = [{"id": i, "reason": r} for i, r in self.kept]
        return data


def _age_error(what: str, ids: Sequence[str], older_than: str) -> TrackstoreError:
    return TrackstoreError(
        f"{what} {_listed(ids)} {'was' if len(ids) == 1 else 'were'} deleted less than "
        f"{older_than} ago; only what was deleted at least --older-than ago is removed",
        INVALID_PARAMETER_VALUE)


def _listed(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:10])
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def plan(store: AbstractStore, *, older_than: str | None = None,
         run_ids: Sequence[str] | None = None, experiment_ids: Sequence[str] | None = None,
         now: int | None = None) -> GcPlan:
    """What to remove (see the module doc); raises, before anything is removed, for a named
    run or experiment that does not exist, is not deleted, or is too recent."""
    cutoff = (now if now is not None else now_ms()) - (
        parse_older_than(older_than) if older_than is not None else 0)

    def old(ms: int | None) -> bool:
        return older_than is None or ms is None or ms <= cutoff

    runs: list[GcRun] = []
    if run_ids:
        wanted = list(dict.fromkeys(run_ids))
        found = {r.run_id: r for r in store.gc_runs(run_ids=wanted)}
        missing = [r for r in wanted if r not in found]
        if missing:
            raise TrackstoreError(f"No run with ID {_listed(missing)}", RESOURCE_DOES_NOT_EXIST)
        active = [r for r in wanted if found[r].lifecycle_stage != LifecycleStage.DELETED]
        if active:
            raise TrackstoreError(
                f"Run {_listed(active)} {'is' if len(active) == 1 else 'are'} not deleted; "
                "only deleted runs can be removed permanently (delete them first)",
                INVALID_PARAMETER_VALUE)
        recent = [r for r in wanted if not old(found[r].deleted_time)]
        if recent:
            raise _age_error("Run", recent, str(older_than))
        runs = [found[r] for r in wanted]
    elif not experiment_ids:
        runs = [r for r in store.gc_runs() if old(r.deleted_time)]

    experiments: list[Experiment] = []
    if experiment_ids:
        wanted = list(dict.fromkeys(str(e) for e in experiment_ids))
        chosen = [store.get_experiment(e) for e in wanted]  # RESOURCE_DOES_NOT_EXIST if none
        active = [e.experiment_id for e in chosen
                  if e.lifecycle_stage != LifecycleStage.DELETED]
        if active:
            raise TrackstoreError(
                f"Experiment {_listed(active)} {'is' if len(active) == 1 else 'are'} not "
                "deleted; only deleted experiments can be removed permanently (delete them "
                "first)", INVALID_PARAMETER_VALUE)
        recent = [e.experiment_id for e in chosen if not old(e.last_update_time)]
        if recent:
            raise _age_error("Experiment", recent, str(older_than))
        experiments = chosen
    elif not run_ids:
        experiments = [e for e in _deleted_experiments(store) if old(e.last_update_time)]

    if experiments:
        seen = {r.run_id for r in runs}
        runs.extend(r for r in store.gc_runs(experiment_ids=[e.experiment_id
                                                             for e in experiments])
                    if r.run_id not in seen)
    return GcPlan(runs, experiments)


def _deleted_experiments(store: AbstractStore) -> list[Experiment]:
    found: list[Experiment] = []
    token: str | None = None
    while True:
        page = store.search_experiments(view_type=ViewType.DELETED_ONLY, max_results=50000,
                                        page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def collect(store: AbstractStore, gc_plan: GcPlan, *, artifacts_destination: str | None = None,
            tracking_uri: str | None = None, dry_run: bool = False, batch_runs: int = CHUNK,
            progress: Callable[[GcSummary], None] | None = None) -> GcSummary:
    """Remove what *gc_plan* names (see the module doc), *batch_runs* runs at a time; with
    *dry_run*, only count it. ``mlflow-artifacts:`` URIs resolve under
    *artifacts_destination* if given, else through the tracking server *tracking_uri* (else
    the current tracking URI)."""
    started = time.perf_counter()
    summary = GcSummary(dry_run=dry_run, runs_total=len(gc_plan.runs),
                        experiments_total=len(gc_plan.experiments))
    if dry_run:
        summary.runs, summary.experiments = summary.runs_total, summary.experiments_total
        summary.seconds = time.perf_counter() - started
        return summary

    def repository(uri: str) -> Any:
        return _repository(uri, artifacts_destination, tracking_uri)

    summary.interrupted_removed = store.finish_interrupted_gc()

    collecting = {e.experiment_id for e in gc_plan.experiments}
    # runs of collected experiments that are not deleted themselves go with the experiment
    with_experiment: Counter[str] = Counter()
    failed_experiments: set[str] = set()
    for start in range(0, len(gc_plan.runs), batch_runs):
        chunk = gc_plan.runs[start:start + batch_runs]
        # As they are now: a run restored (or removed by another gc) since the plan was made
        # is left alone, its artifacts included.
        now = {r.run_id: r for r in store.gc_runs(run_ids=[r.run_id for r in chunk])}
        removable = []
        for run in chunk:
            current = now.get(run.run_id)
            deleted = current is not None and current.lifecycle_stage == LifecycleStage.DELETED
            if current is None or not (deleted or run.experiment_id in collecting):
                continue
            reason = _remove_artifacts(run.artifact_uri, run.run_id, repository, summary)
            if reason is not None:
                summary.kept.append((run.run_id, reason))
                failed_experiments.add(run.experiment_id)
            elif deleted:
                removable.append(run.run_id)
            else:
                with_experiment[run.experiment_id] += 1
        summary.runs += store.hard_delete_runs(removable)
        summary.seconds = time.perf_counter() - started
        if progress is not None:
            progress(summary)
    for experiment in gc_plan.experiments:
        if experiment.experiment_id in failed_experiments:
            summary.kept.append((f"experiment {experiment.experiment_id}",
                                 "some of its runs' artifacts could not be removed"))
            continue
        store.hard_delete_experiment(experiment.experiment_id)
        _prune_empty_location(experiment.artifact_location, repository)
        summary.experiments += 1
        summary.runs += with_experiment[experiment.experiment_id]  # removed with it
        summary.seconds = time.perf_counter() - started
        if progress is not None:
            progress(summary)
    summary.seconds = time.perf_counter() - started
    return summary


def _remove_artifacts(artifact_uri: str, run_id: str, repository: Callable[[str], Any],
                      summary: GcSummary) -> str | None:
    """Remove a run's artifacts; None if they are gone (or never were), else why not."""
    if not artifact_uri:
        return None
    try:
        repo = repository(artifact_uri)
        local = getattr(repo, "root", None)
        if local is not None and not os.path.lexists(local):
            summary.artifacts_missing += 1
            _prune_empty_parent(local, run_id)
            return None
        repo.delete_artifacts()
    except TrackstoreError as exc:
        return f"artifacts at {artifact_uri} not removed: {exc.message}"
    except OSError as exc:
        return f"artifacts at {artifact_uri} not removed: {exc}"
    summary.artifact_locations += 1
    if local is not None:
        _prune_empty_parent(local, run_id)
    return None


def _repository(uri: str, destination: str | None, tracking_uri: str | None) -> Any:
    """The artifact repository of *uri*; ``mlflow-artifacts:`` URIs resolve under
    *destination* (a tracking server's ``--artifacts-destination``) when given, else through
    the tracking server *tracking_uri*."""
    from .artifacts import PROXY_SCHEME, artifact_repository, resolve_proxied_uri

    if destination is None and tracking_uri and uri.startswith(PROXY_SCHEME + ":"):
        uri = resolve_proxied_uri(uri, tracking_uri)
    return artifact_repository(uri, artifacts_destination=destination)


def _prune_empty_parent(local: str, run_id: str) -> None:
    """MLflow's layout puts a run's artifacts in ``<experiment location>/<run id>/artifacts``:
    once they are gone, the ``<run id>`` folder goes too if nothing else is in it."""
    parent = os.path.dirname(os.path.abspath(local))
    if os.path.basename(parent) == run_id:
        try:
            os.rmdir(parent)
        except OSError:
            pass  # not empty (a file store's run directory, say): not ours to remove


def _prune_empty_location(location: str | None, repository: Callable[[str], Any]) -> None:
    """A collected experiment's local artifact folder, if nothing is left in it."""
    if not location:
        return
    try:
        root = getattr(repository(location), "root", None)
    except TrackstoreError:
        return
    if root is not None:
        try:
            os.rmdir(root)
        except OSError:
            pass


def reclaim_space(store: AbstractStore) -> str:
    """Give the space of removed rows back (see ``SqlStore.reclaim_space``)."""
    reclaim = getattr(store, "reclaim_space", None)
    if reclaim is None:
        return "nothing to reclaim: removed files free their space at once"
    return str(reclaim())


class GcProgressBar(TerminalLine):
    """Runs and experiments removed, rate and ETA, on one terminal line."""

    def __call__(self, s: GcSummary) -> None:
        done = s.runs + s.experiments + len(s.kept)
        rate = s.runs / s.seconds if s.seconds > 0 else 0.0
        eta = (s.runs_total - s.runs) / rate if rate > 0 else 0.0
        self.draw(f"{bar(done, s.runs_total + s.experiments_total)}  runs {s.runs}/"
                  f"{s.runs_total}  experiments {s.experiments}/{s.experiments_total}  "
                  f"{rate:.0f} runs/s  ETA {clock(eta)}")


def format_summary(summary: GcSummary, gc_plan: GcPlan, verbose: bool = False) -> str:
    verb = "would remove" if summary.dry_run else "removed"
    lines = [f"gc {verb} {summary.runs} run(s) and {summary.experiments} experiment(s)"
             + ("" if summary.dry_run else
                f" in {summary.seconds:.2f} s; artifact locations removed: "
                f"{summary.artifact_locations}, already gone: {summary.artifacts_missing}")]
    if summary.dry_run or verbose:
        lines += [f"  run {r.run_id} (experiment {r.experiment_id})" for r in gc_plan.runs]
        lines += [f"  experiment {e.experiment_id} ({e.name})" for e in gc_plan.experiments]
    lines += [f"kept {what}: {why}" for what, why in summary.kept]
    if summary.reclaimed:
        lines.append(summary.reclaimed)
    return "\n".join(lines)


def split_ids(text: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when not given)."""
    if text is None:
        return None
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise TrackstoreError(f"No id in {text!r}", INVALID_PARAMETER_VALUE)
    return ids


def store_for_gc(uri: str) -> AbstractStore:
    """The backend store at *uri*, which must already exist (gc never creates one)."""
    from .store.registry import factory_for, uri_scheme

    scheme = uri_scheme(uri)
    if scheme in ("http", "https", "databricks"):
        raise TrackstoreError(
            f"gc needs the backend store itself (--backend-store-uri), not a tracking server "
            f"({uri}): MLflow's REST API has no permanent deletion", INVALID_PARAMETER_VALUE)
    path = None
    if scheme in ("", "file") or len(scheme) == 1:
        from .store.file.meta import file_uri_to_path

        path = file_uri_to_path(uri)
    elif scheme == "sqlite":
        database = urllib.parse.urlparse(uri).path
        path = database[1:] if database.startswith("/") else database
        if path in ("", ":memory:"):
            path = None
    if path is not None and not os.path.exists(path):
        raise TrackstoreError(f"No store at {uri}: nothing to collect",
                              RESOURCE_DOES_NOT_EXIST)
    return factory_for(uri)(uri, None)


def default_progress(quiet: bool, stream: IO[str] | None = None) -> GcProgressBar | None:
    out = progress_stream(quiet, stream)
    return None if out is None else GcProgressBar(out)

