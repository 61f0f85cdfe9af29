"""The sections of ``benches/RESULTS.md`` and the design's targets (design §6) they check.

A row pairs one of trackstore's benchmarks with MLflow's (:class:`Row`); a :class:`Target` is
what the design asks of it, by the row's name (the library dropped); a :class:`Section` is one
benchmark module's table, its introduction and its targets, in the report's order. Only data
and the checks: ``report.py`` reads the runs and writes the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class Row:
    name: str
    ours: float  # median seconds
    theirs: float | None
    per_call: int | None  # points (or runs) per call
    theirs_per_call: int | None = None  # MLflow's, when its timed calls hold another number

    @property
    def ratio(self) -> float | None:
        """MLflow's time ÷ ours: per point when both sides say how many a call holds."""
        if self.theirs is None:
            return None
        if self.per_call and self.theirs_per_call:
            return (self.theirs / self.theirs_per_call) / (self.ours / self.per_call)
        return self.theirs / self.ours

    @property
    def rate(self) -> float | None:
        return None if not self.per_call else self.per_call / self.ours

    @property
    def per_point(self) -> float | None:
        return None if not self.per_call else self.ours / self.per_call

    @property
    def theirs_per_point(self) -> float | None:
        if self.theirs is None or not self.theirs_per_call:
            return None
        return self.theirs / self.theirs_per_call


@dataclass(frozen=True)
class Target:
    """A design target: *text* as the tables show it, and its bound on one measure."""

    text: str
    kind: str  # "ratio" (to MLflow), "rate" (per second), "seconds", "per_point" (seconds)
    bound: float

    def met(self, row: Row) -> bool:
        if self.kind == "ratio":
            return (row.ratio or 0) >= self.bound
        if self.kind == "rate":
            return (row.rate or 0) >= self.bound
        if self.kind == "seconds":
            return row.ours <= self.bound
        return row.per_point is not None and row.per_point <= self.bound


def ratio_at_least(times: float, text: str | None = None) -> Target:
    return Target(text or f"≥ {times:g}× MLflow", "ratio", times)


def rate_at_least(per_second: float, text: str) -> Target:
    return Target(text, "rate", per_second)


def at_most(seconds: float) -> Target:
    return Target(f"≤ {seconds:g} s", "seconds", seconds)


def per_point_at_most(seconds: float, text: str) -> Target:
    return Target(text, "per_point", seconds)


# name (lib dropped) -> target; names without a target are reported only.
TARGETS: dict[str, Target] = {
    "test_log_metric_one_point_per_call": ratio_at_least(100),
    "test_log_batch_1000_points": rate_at_least(1e6, "≥ 1M points/s"),
    "test_get_metric_history[1000000]": ratio_at_least(20, "≥ 20× MLflow (entities)"),
    "test_get_metric_history_columns[1000000]": ratio_at_least(
        100, "≥ 100× MLflow's entity read"),
    "test_search_runs_first_page[5000-warm-order_by_metric]": at_most(0.2),
    "test_search_runs_first_page[5000-cold-order_by_metric]": at_most(0.2),
    "test_create_runs_one_per_call": ratio_at_least(
        20, "≥ 20× MLflow (design §6; not an M1 target)"),
}
# Benchmarks of ours whose MLflow counterpart has another name.
BASELINE_OF = {
    "test_get_metric_history_columns[100000]": "test_get_metric_history[100000]",
    "test_get_metric_history_columns[1000000]": "test_get_metric_history[1000000]",
}

# The SQL store (design §6), by name with the lib dropped.
SQL_TARGETS: dict[str, Target] = {
    "test_log_metric_one_point_per_call[sqlite]": ratio_at_least(50),
    # trackstore with an fsync per commit, as MLflow's SQLite commits (see results-notes.md)
    "test_log_metric_one_point_per_call_fsync": ratio_at_least(
        50, "≥ 50× MLflow, at MLflow's durability"),
    "test_log_metric_one_point_per_call[postgresql]": ratio_at_least(20),
    "test_log_batch_1000_points[sqlite]": rate_at_least(5e5, "≥ 500k points/s"),
    "test_log_batch_1000_points[postgresql]": rate_at_least(3e5, "≥ 300k points/s"),
    "test_search_runs_first_page[5000-sqlite-order_by_metric]": at_most(0.05),
    "test_search_runs_first_page[5000-sqlite-filter_and_order]": at_most(0.05),
    "test_get_metric_history[100000]": ratio_at_least(20),
    "test_create_runs_one_per_call[sqlite]": ratio_at_least(20),
}
SQL_BASELINE_OF = {
    **BASELINE_OF,
    # the same durability as MLflow's SQLite: an fsync per commit
    "test_log_metric_one_point_per_call_fsync": "test_log_metric_one_point_per_call[sqlite]",
}
# Through the server (design §6), by name with the server dropped: ratios of throughput with
# the same concurrent load on both (a timed call is a round of requests: 4 clients x 50
# log-metric calls, or x 2 log-batch calls).
SERVER_TARGETS: dict[str, Target] = {
    f"test_{op}[{dialect}-{load}]": ratio_at_least(times)
    for op, load, times in (("log_metric_calls", "4_clients_x_50", 10),
                            ("log_batch_1000_points", "4_clients_x_2", 20))
    for dialect in ("sqlite", "postgresql")
}
# Asynchronous logging (``synchronous=False``), by name with the lib dropped: the caller's
# time per point, and end-to-end points/s (the final flush included). The SQL stores and the
# server have no number: their ratio to MLflow is reported.
ASYNC_TARGETS: dict[str, Target] = {
    "test_async_log_metric_caller_cost": per_point_at_most(2e-6, "≤ 2 µs per point"),
    "test_async_log_metrics_caller_cost": per_point_at_most(2e-6, "≤ 2 µs per point"),
    **{f"test_async_sustained_file_store[{shape}]": rate_at_least(1e6, "≥ 1M points/s")
       for shape in ("log_batch_1000", "log_metrics_100")},
}
IMPORT_TARGETS: dict[str, Target] = {
    "test_import_mlruns_sqlite[200000]": ratio_at_least(20, "≥ 20× `mlflow migrate-filestore`"),
}
#: ``test_floor_<op>[<dialect>]``: the database alone doing the writes of ``test_<op>[<dialect>]``.
FLOOR_PREFIX = "test_floor_"
LIB_VALUES = ("trackstore", "mlflow")
IMPL_VALUES = ("c", "py")
DIALECT_VALUES = ("sqlite", "postgresql", "mysql")


@dataclass(frozen=True)
class Section:
    """A section of trackstore-vs-MLflow benchmarks: one module's table (and ratio plot)."""

    slug: str  # plots/ratios-<slug>.png
    module: str
    title: str
    intro: tuple[str, ...]
    targets: Mapping[str, Target] = field(default_factory=dict)
    baseline_of: Mapping[str, str] = field(default_factory=dict)
    per_point: bool = False  # the asynchronous logging table: per point, not per call
    leave_out: str = ""  # a name prefix whose rows have a table of their own


SECTIONS = (
    Section("file-store", "bench_file_store",
            "File store, end to end (through `TrackingClient` / `MlflowClient`)",
            ("MLflow's file store, `MLFLOW_ALLOW_FILE_STORE=true`.",), TARGETS, BASELINE_OF),
    Section("sql-store", "bench_sql_store",
            "SQL store, end to end (through `TrackingClient` / `MlflowClient`)",
            ("trackstore's `SqlStore` against MLflow's `SqlAlchemyStore`, each in a fresh",
             "database of its own; `[sqlite]`, `[postgresql]`, `[mysql]` (MariaDB) name the",
             "dialect. Rows without an MLflow time are trackstore only."),
            SQL_TARGETS, SQL_BASELINE_OF),
    Section("registry", "bench_registry",
            "Model registry, end to end (through `TrackingClient` / `MlflowClient`)",
            ("trackstore's SQL store against MLflow's `SqlAlchemyStore` (`MlflowClient` with",
             "the database as tracking and registry URI), each in a database of its own.",
             "Reads at a scale, `[<versions>-<dialect>]`: a registry of that many model",
             "versions, 10 per registered model; writes: one call per timed call on a model",
             "of 10 versions. See `bench_registry.py`. Design §6 sets no registry target."),),
    Section("server", "bench_server", "Through the server (`trackstore server` vs `mlflow server`)",
            ("Both servers with 2 workers, each on a fresh database of its own, in the same",
             "run; `test_log_*`: client processes logging at once (`[4_clients_x_50]`: 4",
             "clients sending 50 requests each), a timed call is a round of their requests (see",
             "`bench_server.py`); `test_mlflow_client_*`: the `mlflow` client, one process, one",
             "call at a time."),
            SERVER_TARGETS),
    Section("async", "bench_async", "Asynchronous logging (`synchronous=False`)",
            ("Per point, both libraries in the same run (see `bench_async.py`). *Caller",
             "cost*: the fluent call's time in a loop, the library's logging thread",
             "storing the points meanwhile. *Sustained*: asynchronous calls, then the wait",
             "until every point is stored, timed together; points/s in the last columns.",
             "`[sqlite]`, `[postgresql]`, `[mysql]` (MariaDB): the SQL stores; `server`:",
             "each library's client to its own server (2 workers, SQLite). The SQL stores",
             "and the server have no numeric target: their ratio to MLflow is the result."),
            ASYNC_TARGETS, per_point=True),
    Section("import", "bench_import", "Bulk import (`trackstore import`)",
            ("`test_import_mlruns_sqlite`: one `mlruns` tree into a new SQLite database,",
             "trackstore's import against `mlflow migrate-filestore` (both in-process, both",
             "creating their schema). `test_import_mlruns_server`: trackstore's import into",
             "PostgreSQL and MariaDB (`[mysql]`); MLflow's command writes only SQLite. The",
             "first parameter is the number of points in the tree.",
             "`test_import_peak_memory`: the command in a child process; its peak resident",
             "memory is in the last table. See `bench_import.py` for the trees."),
            IMPORT_TARGETS, leave_out="test_import_peak_memory"),
    Section("gc", "bench_gc", "Garbage collection (`trackstore gc`)",
            ("Each command removing the same deleted runs (each with params, tags, 2",
             "metrics and an artifact file; their number is the first parameter) and their",
             "artifacts, on a fresh copy of the data every round: `test_gc_file_store` on one",
             "`mlruns` tree, `test_gc_sqlite` on each library's own SQLite database holding",
             "the tree's runs. Throughput in runs/s; the ratio is per run removed (one `mlflow",
             "gc` removes at most 1000 runs of a file store: its time is for those). See",
             "`bench_gc.py`.")),
)
STORE_MODULES = tuple(section.module for section in SECTIONS)
