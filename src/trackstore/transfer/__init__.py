"""Bulk import and export: ``trackstore import SOURCE DEST`` and ``trackstore export``.

Sources (:mod:`.sources`): an ``mlruns`` tree (read directly, in parallel, with the compiled
parsers), an MLflow SQL database of any schema from MLflow 2.x on (:mod:`.mlflow_sql`; read
only), or any trackstore store URI. Destinations: any trackstore store; each writes through its
own bulk path (:mod:`trackstore.store.sql.imports`, :mod:`trackstore.store.file.imports`) and
keeps the import state that makes a second import incremental and an interrupted one resume.

The model registry (:mod:`.registry`) goes into a SQL destination only
(:mod:`trackstore.store.sql.registry_import`: its rows as the source has them, one transaction
per registered model); a directory or a server destination counts it as not carried.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from .._progress import TerminalLine, bar, clock, human, progress_stream
from ..exceptions import (
    INVALID_PARAMETER_VALUE,
    TEMPORARILY_UNAVAILABLE,
    TrackstoreError,
    database_unavailable,
)
from ..store.file.meta import file_uri_to_path
from ..store.registry import uri_scheme
from .importer import (
    REGISTRY_NEEDS_A_DATABASE,
    Importer,
    ImportProblem,
    ImportSummary,
    strict_report,
)
from .records import Problem
from .registry import MODELS, VERSIONS
from .sources import MlrunsSource, Source, StoreSource
from .verify import VerifyResult, verify

__all__ = ["ImportProblem", "ImportSummary", "VerifyResult", "open_source", "run_import"]

#: The interpreter's switch interval while an import runs (see :func:`run_import`).
_SWITCH_SECONDS = 0.0005
_SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "mssql")



def _is_mlflow_database(uri: str) -> bool:
    """The database at *uri* has MLflow's schema (``runs.run_uuid`` and ``metrics.is_nan``)."""
    import sqlalchemy as sa

    from ..store.sql.engine import resolve_url

    engine = sa.create_engine(resolve_url(uri))
    try:
        inspector = sa.inspect(engine)
        tables = set(inspector.get_table_names())
        if "metric_keys" in tables or not {"runs", "metrics", "experiments"} <= tables:
            return False
        return "is_nan" in {c["name"] for c in inspector.get_columns("metrics")}
    except sa.exc.DBAPIError as exc:
        shown = sa.engine.make_url(uri).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise TrackstoreError(f"Cannot open the database {shown}: {reason}",
                              TEMPORARILY_UNAVAILABLE if database_unavailable(exc)
                              else INVALID_PARAMETER_VALUE) from None
    finally:
        engine.dispose()


def _sqlite_file(uri: str) -> str | None:
    """The database file of a ``sqlite:`` URI (None for an in-memory database)."""
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    return database if database and database != ":memory:" else None


def _database_exists(uri: str) -> bool:
    if uri_scheme(uri) != "sqlite":
        return True
    database = _sqlite_file(uri)
    return database is not None and os.path.exists(database)


def _place(spec: str) -> str:
    """Where *spec* keeps its data, comparably: a real path for a directory or SQLite file,
    the URL without its password otherwise."""
    scheme = uri_scheme(spec)
    if not scheme or scheme == "file":
        return "dir:" + os.path.realpath(file_uri_to_path(spec))
    if scheme == "sqlite":
        return "sqlite:" + os.path.realpath(_sqlite_file(spec) or ":memory:")
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(spec).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy reads: compare it as written
        return spec.rstrip("/")


def open_source(spec: str, report: Problem) -> Source:
    """The source *spec* names: a directory (an ``mlruns`` tree), an MLflow database URI,
    or any trackstore store URI."""
    scheme = uri_scheme(spec)
    if not scheme or scheme == "file":
        path = file_uri_to_path(spec)
        if not os.path.isdir(path):
            raise TrackstoreError(f"Source {spec!r} is not a directory: an mlruns tree is a "
                                  "directory, a database a URI such as sqlite:///mlflow.db",
                                  INVALID_PARAMETER_VALUE)
        return MlrunsSource(path, report)
    if scheme in _SQL_SCHEMES:
        if not _database_exists(spec):
            raise TrackstoreError(f"Source database {spec!r} does not exist",
                                      INVALID_PARAMETER_VALUE)
        if _is_mlflow_database(spec):
            from .mlflow_sql import MlflowSqlSource

            return MlflowSqlSource(spec, report)
    from ..store.registry import factory_for

    return StoreSource(factory_for(spec)(spec, None), spec, report)


def _writer(dest: str, source: Source, report: Problem, batch_points: int) -> tuple[Any, Any]:
    scheme = uri_scheme(dest)
    if scheme in _SQL_SCHEMES and _database_exists(dest) and _is_mlflow_database(dest):
        raise TrackstoreError(
            f"Destination {dest!r} is an MLflow database: trackstore imports from MLflow "
            "databases but never writes into them. Give a new database (or a trackstore one) "
            "as the destination.", INVALID_PARAMETER_VALUE)
    from ..store.registry import factory_for

    store = factory_for(dest)(dest, None)
    from ..store.file.store import FileStore
    from ..store.sql.store import SqlStore

    if isinstance(store, SqlStore):
        from ..store.sql.imports import SqlImportWriter

        return store, SqlImportWriter(store, source.identity, source.description, report,
                                      batch_points)
    if isinstance(store, FileStore):
        from ..store.file.imports import FileImportWriter

        return store, FileImportWriter(store, source.identity, source.description, report)
    from ..store.rest import RestStore

    if isinstance(store, RestStore):
        from .rest import RestImportWriter

        try:
            return store, RestImportWriter(store, source.identity, source.description, report,
                                           batch_points)
        except BaseException:
            store.close()
            raise
    store.close()
    raise TrackstoreError(
        f"Destination {dest!r}: importing into this kind of store is not supported; import "
        "into its database or directory instead", INVALID_PARAMETER_VALUE)


class ProgressBar(TerminalLine):
    """Runs, points, rate and ETA on one terminal line, redrawn in place."""

    def __call__(self, s: ImportSummary) -> None:
        done = s.runs_imported + s.runs_unchanged + s.runs_skipped
        rate = s.points / s.seconds if s.seconds > 0 else 0.0
        runs_rate = done / s.seconds if s.seconds > 0 else 0.0
        eta = (s.runs_total - done) / runs_rate if runs_rate > 0 else 0.0
        self.draw(f"{bar(done, s.runs_total)}  runs {done}/{s.runs_total}"
                  f"  points {human(s.points)}  {human(rate)} pts/s  ETA {clock(eta)}")


def run_import(source_spec: str, dest_spec: str, *, strict: bool = False, full: bool = False,
               jobs: int | None = None, batch_points: int = 50_000,
               progress: Callable[[ImportSummary], None] | None = None,
               check: bool = False) -> tuple[ImportSummary, VerifyResult | None]:
    """Import *source_spec* into *dest_spec* (see the module doc); with *check*, compare
    them afterwards (``--verify``). The interpreter's switch interval is 0.5 ms while it runs
    (restored after)."""
    switch = sys.getswitchinterval()
    # The writing thread releases the GIL in every database call; with the default 5 ms
    # switch interval it then waits that long for a reader thread to give it back.
    sys.setswitchinterval(min(switch, _SWITCH_SECONDS))
    try:
        return _run_import(source_spec, dest_spec, strict, full, jobs, batch_points, progress,
                           check)
    finally:
        sys.setswitchinterval(switch)


def _run_import(source_spec: str, dest_spec: str, strict: bool, full: bool, jobs: int | None,
                batch_points: int, progress: Callable[[ImportSummary], None] | None,
                check: bool) -> tuple[ImportSummary, VerifyResult | None]:
    if _place(source_spec) == _place(dest_spec):
        raise TrackstoreError(f"SOURCE and DEST are the same store ({dest_spec!r})",
                              INVALID_PARAMETER_VALUE)
    summary = ImportSummary(source=source_spec, destination=dest_spec)
    report = strict_report(summary, strict)
    source = open_source(source_spec, report)
    try:
        store, writer = _writer(dest_spec, source, report, batch_points)
        try:
            importer = Importer(source, writer, full=full,
                                jobs=jobs or min(8, (os.cpu_count() or 1) * 2),
                                progress=progress, summary=summary)
            importer.run()
            result = None
            if check:
                result = verify(source, store, summary.remapped, importer.registered_models)
        finally:
            store.close()
    finally:
        source.close()
    return summary, result


def format_summary(summary: ImportSummary, result: VerifyResult | None,
                   most_problems: int = 20) -> str:
    s = summary
    lines = [
        f"Imported {s.source} into {s.destination} in {s.seconds:.2f} s",
        f"  experiments  {s.experiments}"
        + (f" ({len(s.remapped)} under another id: "
           + ", ".join(f"{a} -> {b}" for a, b in sorted(s.remapped.items())[:5])
           + (" ..." if len(s.remapped) > 5 else "") + ")" if s.remapped else ""),
        f"  runs         {s.runs_imported} imported, {s.runs_unchanged} unchanged since the "
        f"last import, {s.runs_skipped} skipped (of {s.runs_total})",
        f"  points       {s.points} read ({s.points / s.seconds if s.seconds else 0:,.0f}/s)"
        + (f", {s.duplicate_points} exact duplicates stored once" if s.duplicate_points
           else ""),
    ]
    if s.models:
        lines.append(f"  registry     {sum(s.models.values())} registered models: "
                     + ", ".join(f"{s.models.get(k, 0)} {label}" for k, label in (
                         ("created", "new"), ("updated", "updated"),
                         ("unchanged", "unchanged"), ("conflict", "skipped (name taken)")))
                     + f"; {s.model_versions} versions")
    registry = {k: n for k, n in s.uncarried.items() if k in (MODELS, VERSIONS)}
    other = {k: n for k, n in s.uncarried.items() if k not in registry}
    if other:
        lines.append("  not carried  " + ", ".join(f"{n} {what}" for what, n in
                                                  sorted(other.items()))
                     + " (trackstore stores do not hold them)")
    if registry:
        lines.append("  not carried  " + ", ".join(f"{registry[k]} {k}" for k in
                                                  (MODELS, VERSIONS) if k in registry)
                     + f" ({s.registry_note or REGISTRY_NEEDS_A_DATABASE})")
    if s.problems:
        lines.append(f"  problems     {len(s.problems)} (skipped):")
        lines += [f"    {where}: {reason}" for where, reason in s.problems[:most_problems]]
        if len(s.problems) > most_problems:
            lines.append(f"    ... {len(s.problems) - most_problems} more")
    if result is not None:
        if result.ok:
            models = (f", {result.models} registered models with {result.model_versions} "
                      "versions" if result.models else "")
            lines.append(f"  verify       OK: {result.runs} runs, {result.series} metrics, "
                         f"{result.points} distinct points{models}; checksum "
                         f"{result.source_checksum}")
        else:
            lines.append(f"  verify       {len(result.differences)} DIFFERENCES "
                         f"(source checksum {result.source_checksum}, destination "
                         f"{result.destination_checksum}):")
            lines += [f"    {w}: {d}" for w, d in result.differences[:most_problems]]
    return "\n".join(lines)


def default_progress(quiet: bool) -> ProgressBar | None:
    out = progress_stream(quiet)
    return None if out is None else ProgressBar(out)

