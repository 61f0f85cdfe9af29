"""The ``trackstore`` command line."""

from __future__ import annotations

import datetime
import json
import math
import os
import pathlib
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._version import __version__
from .benchmarking.keys import COMPARABLE_STATS, STATS
from .client import TrackingClient
from .entities import Experiment, Run, ViewType
from .exceptions import (
    INTERNAL_ERROR,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
    TrackstoreError,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

F = TypeVar("F", bound=Callable[..., Any])

_VIEWS = {"active_only": ViewType.ACTIVE_ONLY, "deleted_only": ViewType.DELETED_ONLY,
          "all": ViewType.ALL}

tracking_uri_option = click.option(
    "--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None, metavar="URI",
    help="Tracking store (default: MLFLOW_TRACKING_URI, else ./mlruns).")
view_option = click.option(
    "--view", "view", type=click.Choice(list(_VIEWS)), default="active_only", show_default=True,
    help="Which lifecycle stages to list.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _errors_to_exit(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TrackstoreError as exc:
            click.echo(f"Error ({exc.error_code}): {exc.message}", err=True)
            sys.exit(1)
    return wrapper  # type: ignore[return-value]


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    """NaN and infinities as MLflow's JSON spells them: strict JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_json_safe(value), indent=2, allow_nan=False)


def _experiment_dict(e: Experiment) -> dict[str, Any]:
    return e.to_dictionary()


def _run_dict(run: Run) -> dict[str, Any]:
    d = run.to_dictionary()
    d["inputs"] = [
        {"name": i.dataset.name, "digest": i.dataset.digest,
         "tags": {t.key: t.value for t in i.tags}} for i in run.inputs.dataset_inputs]
    return d


def _print_run(run: Run) -> None:
    info = run.info
    click.echo(f"Run {info.run_id}  ({info.run_name})")
    for label, value in (("experiment", info.experiment_id), ("status", info.status),
                         ("lifecycle", info.lifecycle_stage), ("user", info.user_id),
                         ("start", _time(info.start_time)), ("end", _time(info.end_time)),
                         ("artifacts", info.artifact_uri or "-")):
        click.echo(f"  {label:<10} {value}")
    for title, values in (("params", run.data.params), ("metrics (latest)", run.data.metrics),
                          ("tags", run.data.tags)):
        click.echo(f"  {title}:")
        for key in sorted(values):
            click.echo(f"    {key} = {values[key]}")
    if run.inputs.dataset_inputs:
        click.echo("  inputs:")
        for i in run.inputs.dataset_inputs:
            tags = ", ".join(f"{t.key}={t.value}" for t in i.tags)
            click.echo(f"    dataset {i.dataset.name} ({i.dataset.digest}) {tags}".rstrip())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trackstore")
def main() -> None:
    """trackstore: a fast, crash-safe tracking store compatible with MLflow."""


@main.command()
@tracking_uri_option
@click.option("--experiment", default="trackstore-demo", show_default=True)
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--steps-per-epoch", default=100, show_default=True, type=click.IntRange(1))
@_errors_to_exit
def demo(tracking_uri: str | None, experiment: str, epochs: int, steps_per_epoch: int) -> None:
    """Log a short training-like run and show what was stored."""
    from .demo import run_demo
    from .tracking_uri import get_tracking_uri

    result = run_demo(tracking_uri, experiment, epochs, steps_per_epoch)
    uri = tracking_uri or get_tracking_uri()
    click.echo(f"Logged {result.points} metric points in {result.seconds * 1000:.1f} ms "
               f"to {uri}\n")
    _print_run(result.run)
    history = TrackingClient(tracking_uri).get_metric_history_columns(
        result.run.info.run_id, "train/loss")
    click.echo(f"\n  train/loss history: {len(history)} points, steps "
               f"{history.steps[0]}..{history.steps[-1]}, first {history.values[0]:.4f}, "
               f"last {history.values[-1]:.4f}")
    click.echo(f"\nSee it again with: trackstore runs show {result.run.info.run_id}")


@main.group()
def experiments() -> None:
    """List and show experiments."""


@experiments.command("list")
@tracking_uri_option
@view_option
@json_option
@_errors_to_exit
def experiments_list(tracking_uri: str | None, view: str, as_json: bool) -> None:
    """List experiments, newest first."""
    found = TrackingClient(tracking_uri).search_experiments(view_type=_VIEWS[view],
                                                            max_results=None)
    if as_json:
        click.echo(_dumps([_experiment_dict(e) for e in found]))
        return
    click.echo(_table(["ID", "NAME", "STAGE", "CREATED"],
                      [[e.experiment_id, e.name, e.lifecycle_stage, _time(e.creation_time)]
                       for e in found]))


@experiments.command("show")
@click.argument("experiment_id")
@tracking_uri_option
@json_option
@_errors_to_exit
def experiments_show(experiment_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show one experiment."""
    e = TrackingClient(tracking_uri).get_experiment(experiment_id)
    if as_json:
        click.echo(_dumps(_experiment_dict(e)))
        return
    click.echo(f"Experiment {e.experiment_id}  ({e.name})")
    click.echo(f"  lifecycle  {e.lifecycle_stage}\n  artifacts  {e.artifact_location}")
    click.echo(f"  created    {_time(e.creation_time)}\n  updated    {_time(e.last_update_time)}")
    for key in sorted(e.tags):
        click.echo(f"  tag {key} = {e.tags[key]}")


@main.group()
def runs() -> None:
    """List and show runs."""


@runs.command("list")
@click.option("--experiment-id", "experiment_ids", multiple=True, required=True,
              help="Experiment to search (repeatable).")
@click.option("--filter", "filter_string", default="", help="MLflow search filter.")
@click.option("--order-by", multiple=True, help='e.g. "metrics.loss ASC" (repeatable).')
@click.option("--max-results", default=100, show_default=True, type=click.IntRange(1, 50000))
@tracking_uri_option
@view_option
@json_option
@_errors_to_exit
def runs_list(experiment_ids: tuple[str, ...], filter_string: str, order_by: tuple[str, ...],
              max_results: int, tracking_uri: str | None, view: str, as_json: bool) -> None:
    """Search runs (default order: newest first)."""
    found = TrackingClient(tracking_uri).search_runs(
        list(experiment_ids), filter_string, _VIEWS[view], max_results, list(order_by))
    if as_json:
        click.echo(_dumps([_run_dict(r) for r in found]))
        return
    click.echo(_table(["RUN ID", "NAME", "STATUS", "START", "METRICS"],
                      [[r.info.run_id, r.info.run_name or "", r.info.status,
                        _time(r.info.start_time), str(len(r.data.metrics))] for r in found]))


@runs.command("show")
@click.argument("run_id")
@tracking_uri_option
@json_option
@_errors_to_exit
def runs_show(run_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show a run: info, params, latest metrics, tags, inputs."""
    run = TrackingClient(tracking_uri).get_run(run_id)
    if as_json:
        click.echo(_dumps(_run_dict(run)))
        return
    _print_run(run)


@main.command()
def speedups() -> None:
    """Show which compiled twins are loaded (TRACKSTORE_IMPL)."""
    from ._speedups import impl
    from ._speedups import speedups as report

    click.echo(f"TRACKSTORE_IMPL={impl()}")
    for topic, how in report().items():
        click.echo(f"  {topic}: {how}")


@main.group()
def db() -> None:
    """Create, upgrade and check the schema of a SQL tracking database.

    URI is SQLAlchemy's form, e.g. sqlite:///mlflow.db or
    postgresql://user:password@host:5432/database.
    """


@contextmanager
def _database(uri: str, create: bool = False) -> Iterator[Engine]:
    """A one-off engine for *uri*; a database error becomes a one-line TrackstoreError."""
    import sqlalchemy as sa

    from .store.sql.engine import create_engine, resolve_url
    from .store.sql.migrate import display_url

    url = resolve_url(uri)
    path = url.database or ""
    if url.get_backend_name() == "sqlite" and not create and not os.path.exists(path):
        raise TrackstoreError(f"No SQLite database at {path}", RESOURCE_DOES_NOT_EXIST)
    engine = create_engine(uri)
    try:
        yield engine
    except sa.exc.SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [repr(exc)]
        code = (TEMPORARILY_UNAVAILABLE if isinstance(exc, sa.exc.OperationalError)
                else INTERNAL_ERROR)
        raise TrackstoreError(f"Database error on {display_url(url)}: {detail[0]}",
                              code) from None
    finally:
        engine.dispose()


@db.command("upgrade")
@click.argument("uri")
@_errors_to_exit
def db_upgrade(uri: str) -> None:
    """Create or upgrade the schema of the database at URI to the latest revision.

    An empty database gets the whole schema. Take a backup before upgrading a database that
    holds data.
    """
    from .store.sql import migrate

    with _database(uri, create=True) as engine:
        before, after = migrate.upgrade(engine)
    where = migrate.display_url(engine.url)
    if before == after:
        click.echo(f"{where} is already at revision {after} (head): nothing to do")
    elif before is None:
        click.echo(f"Created the schema in {where}: (empty) -> {after} (head)")
    else:
        click.echo(f"Upgraded {where}: {before} -> {after} (head)")


@db.command("current")
@click.argument("uri")
@_errors_to_exit
def db_current(uri: str) -> None:
    """Show the schema revision of the database at URI."""
    from .store.sql import migrate

    with _database(uri) as engine:
        found = migrate.status(engine)
    where, head = migrate.display_url(engine.url), migrate.head_revision()
    if found.state == "current":
        click.echo(f"{found.revision} (head)")
    elif found.state == "out_of_date":
        click.echo(f"{found.revision} (out of date: the head is {head}; take a backup, then "
                   f"run 'trackstore db upgrade {where}')")
    elif found.state == "newer":
        click.echo(f"{found.revision} (unknown: written by a newer trackstore; this one knows "
                   f"revisions up to {head})")
    elif found.state == "empty":
        click.echo(f"none: the database is empty; 'trackstore db upgrade {where}' or the "
                   "first store that opens it creates the schema")
    else:
        click.echo(f"none: {migrate.refusal(found, engine.url)}")


@db.command("check")
@click.argument("uri")
@_errors_to_exit
def db_check(uri: str) -> None:
    """Compare the database at URI with this trackstore's schema (exit code 1 if it differs)."""
    from .store.sql import migrate

    with _database(uri) as engine:
        problems = migrate.check(engine)
    if problems:
        for problem in problems:
            click.echo(problem)
        click.echo(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found")
        sys.exit(1)
    click.echo(f"schema OK at {migrate.head_revision()}")


@main.command()
@click.option("--backend-store-uri", envvar="MLFLOW_BACKEND_STORE_URI", default=None,
              metavar="URI", help="Store to serve: a path, file:, sqlite:, postgresql:, mysql: "
              "or mssql: URI (default: MLFLOW_BACKEND_STORE_URI, else ./mlruns).")
@click.option("--default-artifact-root", default=None, metavar="URI",
              help="Where new experiments keep their artifacts (default: mlflow-artifacts:/, "
              "the artifact proxy, when artifacts are served; else next to the store).")
@click.option("--serve-artifacts/--no-serve-artifacts", envvar="MLFLOW_SERVE_ARTIFACTS",
              default=True, show_default=True, help="Proxy artifact uploads, downloads and "
              "listings to --artifacts-destination (MLflow's mlflow-artifacts endpoints).")
@click.option("--artifacts-destination", envvar="MLFLOW_ARTIFACTS_DESTINATION",
              default="./mlartifacts", show_default=True, metavar="URI",
              help="Directory (a path or file: URI) the artifact proxy keeps artifacts in.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=min(4, os.cpu_count() or 1), show_default="min(4, cores)",
              type=click.IntRange(1), help="Worker processes.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1),
              help="Request threads per worker (store calls run on them).")
@click.option("--static-prefix", default="", metavar="PREFIX",
              help="Serve every route under this path prefix (e.g. /mlflow).")
@click.option("--auth", "auth", multiple=True, type=click.Choice(["basic", "token"]),
              help="Require HTTP Basic and/or bearer-token authentication (repeatable).")
@click.option("--auth-file", envvar="TRACKSTORE_AUTH_FILE", default=None,
              type=click.Path(dir_okay=False), help="INI file with [users] name = password "
              "and [tokens] name = token sections (mode 600).")
@click.option("--max-request-bytes", default=16 << 20, show_default=True,
              type=click.IntRange(1024), help="Largest request body accepted (413 beyond).")
@click.option("--rate-limit", envvar="TRACKSTORE_SERVER_RATE_LIMIT", default=None,
              metavar="RATE", help="Requests each client (its user or token, else its "
              "address) may make, e.g. 50/s or 3000/min, per worker (429 beyond).")
@click.option("--rate-limit-burst", envvar="TRACKSTORE_SERVER_RATE_LIMIT_BURST", default=None,
              type=click.IntRange(1), metavar="N", help="Requests a client may make at once "
              "before --rate-limit applies (default: one second's worth).")
@click.option("--graceful-timeout", default=30.0, show_default=True, type=float,
              help="Seconds requests in flight may take to finish after SIGTERM.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--no-access-log", is_flag=True, help="Do not log each request.")
@_errors_to_exit
def server(backend_store_uri: str | None, default_artifact_root: str | None,
           serve_artifacts: bool, artifacts_destination: str, host: str,
           port: int, workers: int, threads: int, static_prefix: str, auth: tuple[str, ...],
           auth_file: str | None, max_request_bytes: int, rate_limit: str | None,
           rate_limit_burst: int | None, graceful_timeout: float, log_level: str,
           no_access_log: bool) -> None:
    """Serve a tracking store over MLflow's REST API (the unmodified mlflow client logs to it)."""
    from .server.app import ServerConfig
    from .server.artifacts import PROXY_ROOT, local_destination
    from .server.auth import parse_rate
    from .server.run import serve

    if static_prefix and not static_prefix.startswith("/"):
        raise click.BadParameter("must start with '/'", param_hint="--static-prefix")
    uri = backend_store_uri or pathlib.Path(os.path.abspath("mlruns")).as_uri()
    destination = None
    if serve_artifacts:  # as MLflow: new experiments' artifacts then go through the proxy
        try:
            destination = local_destination(artifacts_destination)
        except TrackstoreError as exc:
            raise click.BadParameter(exc.message, param_hint="--artifacts-destination") from None
        default_artifact_root = default_artifact_root or PROXY_ROOT
    try:
        rate = parse_rate(rate_limit) if rate_limit else None
    except TrackstoreError as exc:
        raise click.BadParameter(exc.message, param_hint="--rate-limit") from None
    if rate_limit_burst is not None and rate is None:
        raise click.BadParameter("needs --rate-limit", param_hint="--rate-limit-burst")
    config = ServerConfig(
        backend_store_uri=uri, default_artifact_root=default_artifact_root,
        artifacts_destination=destination,
        static_prefix=static_prefix, max_request_bytes=max_request_bytes, threads=threads,
        auth=tuple(dict.fromkeys(auth)), auth_file=auth_file, rate_limit=rate,
        rate_limit_burst=rate_limit_burst, access_log=not no_access_log, log_level=log_level)
    serve(config, host, port, workers, graceful_timeout)


def _transfer_options(func: F) -> F:
    for option in reversed([
        click.option("--verify", "check", is_flag=True,
                     help="Compare source and destination afterwards (counts and checksums "
                          "of every run's metrics, params, tags, inputs); exit 3 on any "
                          "difference."),
        click.option("--strict", is_flag=True,
                     help="Stop at the first malformed run or file (default: report it, skip "
                          "it, go on)."),
        click.option("--full", is_flag=True,
                     help="Read every run again, even those unchanged since the last import "
                          "of this source (nothing is stored twice either way)."),
        click.option("--jobs", type=click.IntRange(1, 64), default=None,
                     help="Threads reading the source (default: 2 per core, at most 8)."),
        click.option("--batch-points", type=click.IntRange(1000), default=50_000,
                     show_default=True, help="Metric points per transaction: what memory "
                     "and an interrupted import's lost work are bounded by."),
        click.option("-q", "--quiet", is_flag=True,
                     help="No progress bar (it is only drawn on a terminal anyway)."),
        click.option("--json", "as_json", is_flag=True,
                     help="Print the summary as JSON (for CI)."),
    ]):
        func = option(func)
    return func


def _transfer(source: str, dest: str, strict: bool, full: bool, jobs: int | None,
              batch_points: int, quiet: bool, as_json: bool, check: bool) -> None:
    from .transfer import default_progress, format_summary, run_import

    bar = default_progress(quiet)
    try:
        summary, result = run_import(source, dest, strict=strict, full=full, jobs=jobs,
                                     batch_points=batch_points, progress=bar, check=check)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        data = summary.as_dict()
        if result is not None:
            data["verify"] = result.as_dict()
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif not quiet or (result is not None and not result.ok) or summary.problems:
        click.echo(format_summary(summary, result))
    if result is not None and not result.ok:
        sys.exit(3)


@main.command("import")
@click.argument("source")
@click.argument("dest")
@_transfer_options
@_errors_to_exit
def import_(source: str, dest: str, strict: bool, full: bool, jobs: int | None,
            batch_points: int, quiet: bool, as_json: bool, check: bool) -> None:
    """Import SOURCE into DEST, keeping ids, times and every point.

    SOURCE is an mlruns directory, an MLflow SQL database (any schema from MLflow 2.x on; only
    read) or any trackstore store URI; DEST is any trackstore store (a SQL URI or a
    directory). Running it again imports only what is new or changed, and continues an
    interrupted import. Experiments are matched by name: a source experiment goes to the
    destination experiment of the same name, else keeps its id if free, else gets a new one
    (the summary lists those).
    """
    _transfer(source, dest, strict, full, jobs, batch_points, quiet, as_json, check)


@main.command("export")
@click.argument("source")
@click.argument("directory", type=click.Path(file_okay=False))
@_transfer_options
@_errors_to_exit
def export(source: str, directory: str, strict: bool, full: bool, jobs: int | None,
           batch_points: int, quiet: bool, as_json: bool, check: bool) -> None:
    """Export SOURCE (any store or MLflow database) into DIRECTORY as an mlruns tree that
    MLflow reads (MLFLOW_ALLOW_FILE_STORE=true with MLflow >= 3.13)."""
    _transfer(source, os.path.abspath(directory), strict, full, jobs, batch_points, quiet,
              as_json, check)


@main.command()
@click.option("--backend-store-uri", default=None, metavar="URI",
              help="The store to collect: a path, file:, sqlite:, postgresql:, mysql: or "
                   "mssql: URI (default: --tracking-uri, else ./mlruns).")
@click.option("--older-than", default=None, metavar="#d#h#m#s",
              help="Only what was deleted at least this long ago, e.g. 30d, 1d2h3m4s, 1.5h.")
@click.option("--run-ids", default=None, metavar="ID,ID",
              help="Only these deleted runs (each must exist and be deleted).")
@click.option("--experiment-ids", default=None, metavar="ID,ID",
              help="Only these deleted experiments, with all their runs.")
@click.option("--artifacts-destination", envvar="MLFLOW_ARTIFACTS_DESTINATION", default=None,
              metavar="URI", help="Where a tracking server keeps proxied artifacts: resolves "
              "runs' mlflow-artifacts: URIs (as the server's --artifacts-destination).")
@click.option("--dry-run", is_flag=True, help="List what would be removed; change nothing.")
@click.option("--batch-runs", type=click.IntRange(1), default=500, show_default=True,
              help="Runs removed per transaction (artifacts first, then their metadata).")
@click.option("--vacuum", is_flag=True,
              help="Then give the space back: SQLite VACUUM, PostgreSQL VACUUM ANALYZE, "
                   "MySQL OPTIMIZE TABLE (see docs/lifecycle.md).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no list of ids.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None, metavar="URI",
              help="The store when --backend-store-uri is not given; a tracking server's URL "
                   "here resolves mlflow-artifacts: URIs through it (as with mlflow gc).")
@_errors_to_exit
def gc(backend_store_uri: str | None, older_than: str | None, run_ids: str | None,
       experiment_ids: str | None, artifacts_destination: str | None, dry_run: bool,
       batch_runs: int, vacuum: bool, quiet: bool, as_json: bool,
       tracking_uri: str | None) -> None:
    """Permanently remove deleted runs and experiments, with their metadata and artifacts.

    Without --run-ids or --experiment-ids, every deleted run and experiment (older than
    --older-than, if given) is removed. A named run or experiment that does not exist, is not
    deleted or is too recent stops the command before anything is removed. An interrupted
    gc is completed by running it again. Exit status 1 if some run's artifacts could not be
    removed (that run is kept and listed).
    """
    from . import gc as collector
    from .tracking_uri import get_tracking_uri

    uri = backend_store_uri or tracking_uri or get_tracking_uri()
    store = collector.store_for_gc(uri)
    try:
        found = collector.plan(store, older_than=older_than,
                               run_ids=collector.split_ids(run_ids),
                               experiment_ids=collector.split_ids(experiment_ids))
        bar = None if dry_run else collector.default_progress(quiet or as_json)
        try:
            summary = collector.collect(store, found, artifacts_destination=artifacts_destination,
                                        tracking_uri=tracking_uri, dry_run=dry_run,
                                        batch_runs=batch_runs, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        if vacuum and not dry_run:
            summary.reclaimed = collector.reclaim_space(store)
    finally:
        store.close()
    if as_json:
        data = summary.as_dict()
        if dry_run:
            data["run_ids"] = [r.run_id for r in found.runs]
            data["experiment_ids"] = [e.experiment_id for e in found.experiments]
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(collector.format_summary(summary, found, verbose=not quiet and dry_run))
    if summary.kept:
        sys.exit(1)


@main.command()
@click.argument("path", type=click.Path())
@click.option("--repair", is_flag=True,
              help="Repair what can be repaired without losing data; every byte removed or "
                   "replaced is first archived in PATH/.fsck-quarantine-<time>-....tar.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def fsck(path: str, repair: bool, as_json: bool) -> None:
    """Check an mlruns tree (torn metric lines, invalid meta.yaml, orphans, id mismatches,
    leftovers...) and, with --repair, repair it (see docs/fsck.md).

    Exit status: 0 clean (or everything repaired), 1 problems remain, 2 PATH is not an
    mlruns tree or the command line is wrong.
    """
    from . import fsck as checker

    try:
        result = checker.repair(path) if repair else checker.check(path)
    except TrackstoreError as exc:
        click.echo(f"Error ({exc.error_code}): {exc.message}", err=True)
        sys.exit(2)
    click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) if as_json
               else result.text())
    sys.exit(0 if result.clean else 1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _threshold(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from .benchmarking.compare import parse_threshold

    try:
        return parse_threshold(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.option("--baseline", required=True, metavar="RUN_ID|FILTER",
              help="A run id, or an MLflow search filter over --experiment: the baseline is "
                   "then each benchmark's median over the most recent FINISHED matching runs, "
                   "e.g. \"tags.`mlflow.source.git.branch` = 'main'\".")
@click.option("--candidate", required=True, metavar="RUN_ID", help="The run to judge.")
@click.option("--experiment", default="benchmarks", show_default=True,
              help="Experiment a baseline filter searches.")
@click.option("--baseline-runs", default=5, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the most recent runs matching a baseline filter to take.")
@click.option("--stat", type=click.Choice(COMPARABLE_STATS), default="median",
              show_default=True, help="The statistic compared (ops: higher is better; the "
                                      "times: lower is better).")
@click.option("--threshold", default="5%", show_default=True, callback=_threshold,
              metavar="PERCENT", help="A change beyond it is a regression or an improvement "
                                      "(5% or 5).")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)
@tracking_uri_option
def compare(baseline: str, candidate: str, experiment: str, baseline_runs: int, stat: str,
            threshold: float, output_format: str, tracking_uri: str | None) -> None:
    """Compare a candidate run's benchmarks with a baseline (see docs/benchmarking.md).

    Exit status: 0 no regression, 1 a regression, 2 no comparison could be made (an unknown
    run or experiment, a bad filter, no baseline run, no benchmark in common).
    """
    from .benchmarking.compare import HEADERS, compare_runs, markdown

    # Not _errors_to_exit: here exit status 1 means "a regression", and a comparison that
    # could not be made must not read as one in CI.
    try:
        result = compare_runs(TrackingClient(tracking_uri), baseline=baseline,
                              candidate=candidate, experiment=experiment, stat=stat,
                              threshold=threshold, baseline_count=baseline_runs)
    except TrackstoreError as exc:
        click.echo(f"Error ({exc.error_code}): {exc.message}", err=True)
        sys.exit(2)
    if output_format == "json":
        click.echo(_dumps(result.as_dict()))
    elif output_format == "markdown":
        click.echo(markdown(result), nl=False)
    else:
        click.echo("\n".join([*result.text(), "", _table(HEADERS, result.display_rows()), "",
                              result.summary()]))
    if result.regressions:
        sys.exit(1)


@main.command()
@click.option("--experiment", default="benchmarks", show_default=True)
@click.option("--filter", "filter_string", default="", metavar="FILTER",
              help="MLflow search filter choosing the runs (FINISHED ones only).")
@click.option("--metric", "patterns", multiple=True, metavar="PATTERN",
              help="Only benchmarks whose name matches PATTERN, where * is any text and ? "
                   "one character, e.g. 'benches/bench_sql*' (repeatable).")
@click.option("--stat", type=click.Choice(STATS), default="median", show_default=True)
@click.option("--max-runs", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the most recent runs to show.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="The report: .md or .html (plots go to <stem>_plots/ beside it).")
@click.option("--format", "report_format", type=click.Choice(["markdown", "html"]),
              default=None, help="Default: from the --output extension.")
@tracking_uri_option
@_errors_to_exit
def report(experiment: str, filter_string: str, patterns: tuple[str, ...], stat: str,
           max_runs: int, output: str, report_format: str | None,
           tracking_uri: str | None) -> None:
    """Write a Markdown or HTML report of recorded benchmarks with PNG history plots.

    Needs matplotlib: pip install 'trackstore[report]'.
    """
    from .benchmarking.report import build_report

    written = build_report(TrackingClient(tracking_uri), output=pathlib.Path(output),
                           report_format=report_format, experiment=experiment,
                           filter_string=filter_string, patterns=patterns, stat=stat,
                           max_runs=max_runs)
    click.echo(f"Wrote {written.path} ({written.format}): "
               f"{_count(written.benchmarks, 'benchmark')} over {_count(written.runs, 'run')}, "
               f"{_count(len(written.plots), 'plot')} in "
               f"{written.path.parent / (written.path.stem + '_plots')}")
