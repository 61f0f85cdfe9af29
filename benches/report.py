"""Turn saved pytest-benchmark JSON into ``benches/RESULTS.md``: medians and ratios to MLflow.

    python benches/report.py --storage .benchmarks --output benches/RESULTS.md

Takes, for each benchmark module, the newest saved run that has it (so a run of one module
updates its sections and keeps the others'), or the given ``--json FILE`` s (the first to
have a module wins). Store benchmarks are paired by name with the ``lib`` parameter dropped
(``[trackstore]`` vs ``[mlflow]``, ``[sqlite-trackstore]`` vs ``[sqlite-mlflow]``; in the
server benchmarks the parameter names the server); twin benchmarks by the ``impl`` parameter
(``[c]`` vs ``[py]``). Ratios are of medians: the machine is shared and noisy. Where both
sides say how many points a timed call holds (``extra_info["points_per_call"]``), the ratio
is per point: the asynchronous logging benchmarks time 10,000 of trackstore's calls in a
round and 20 of MLflow's.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Check = Callable[["Row"], bool]


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


def ratio_at_least(times: float) -> Check:
    return lambda row: (row.ratio or 0) >= times


def rate_at_least(per_second: float) -> Check:
    return lambda row: (row.rate or 0) >= per_second


def at_most(seconds: float) -> Check:
    return lambda row: row.ours <= seconds


def per_point_at_most(seconds: float) -> Check:
    return lambda row: row.per_point is not None and row.per_point <= seconds


# name (lib dropped) -> (target text, check); names without a target are reported only.
TARGETS: dict[str, tuple[str, Check]] = {
    "test_log_metric_one_point_per_call": ("≥ 100× MLflow", ratio_at_least(100)),
    "test_log_batch_1000_points": ("≥ 1M points/s", rate_at_least(1e6)),
    "test_get_metric_history[1000000]": ("≥ 20× MLflow (entities)", ratio_at_least(20)),
    "test_get_metric_history_columns[1000000]": (
        "≥ 100× MLflow's entity read", ratio_at_least(100)),
    "test_search_runs_first_page[5000-warm-order_by_metric]": ("≤ 0.2 s", at_most(0.2)),
    "test_search_runs_first_page[5000-cold-order_by_metric]": ("≤ 0.2 s", at_most(0.2)),
    "test_create_runs": ("≥ 20× MLflow (design §6; not an M1 target)", ratio_at_least(20)),
}
# Benchmarks of ours whose MLflow counterpart has another name.
BASELINE_OF = {
    "test_get_metric_history_columns[100000]": "test_get_metric_history[100000]",
    "test_get_metric_history_columns[1000000]": "test_get_metric_history[1000000]",
}

# The SQL store (design §6), by name with the lib dropped.
SQL_TARGETS: dict[str, tuple[str, Check]] = {
    "test_log_metric_one_point_per_call[sqlite]": ("≥ 50× MLflow", ratio_at_least(50)),
    # trackstore with an fsync per commit, as MLflow's SQLite commits (see results-notes.md)
    "test_log_metric_one_point_per_call_fsync": (
        "≥ 50× MLflow, at MLflow's durability", ratio_at_least(50)),
    "test_log_metric_one_point_per_call[postgresql]": ("≥ 20× MLflow", ratio_at_least(20)),
    "test_log_batch_1000_points[sqlite]": ("≥ 500k points/s", rate_at_least(5e5)),
    "test_log_batch_1000_points[postgresql]": ("≥ 300k points/s", rate_at_least(3e5)),
    "test_search_runs_first_page[5000-sqlite-order_by_metric]": ("≤ 0.05 s", at_most(0.05)),
    "test_search_runs_first_page[5000-sqlite-filter_and_order]": ("≤ 0.05 s", at_most(0.05)),
    "test_get_metric_history[100000]": ("≥ 20× MLflow", ratio_at_least(20)),
    "test_create_runs[sqlite]": ("≥ 20× MLflow", ratio_at_least(20)),
}
SQL_BASELINE_OF = {
    **BASELINE_OF,
    # the same durability as MLflow's SQLite: an fsync per commit
    "test_log_metric_one_point_per_call_fsync": "test_log_metric_one_point_per_call[sqlite]",
}
# Through the server (design §6), by name with the server dropped: ratios of throughput with
# the same concurrent load on both (a timed call is a round of requests).
SERVER_TARGETS: dict[str, tuple[str, Check]] = {
    f"test_{op}[{dialect}]": (f"≥ {times}× MLflow", ratio_at_least(times))
    for op, times in (("log_metric_calls", 10), ("log_batch_1000_points", 20))
    for dialect in ("sqlite", "postgresql")
}
# Asynchronous logging (``synchronous=False``), by name with the lib dropped: the caller's
# time per point, and end-to-end points/s (the final flush included). The SQL stores and the
# server have no number: their ratio to MLflow is reported.
ASYNC_TARGETS: dict[str, tuple[str, Check]] = {
    "test_async_log_metric_caller_cost": ("≤ 2 µs per point", per_point_at_most(2e-6)),
    "test_async_log_metrics_caller_cost": ("≤ 2 µs per point", per_point_at_most(2e-6)),
    **{f"test_async_sustained_file_store[{shape}]": ("≥ 1M points/s", rate_at_least(1e6))
       for shape in ("log_batch_1000", "log_metrics_100")},
}
IMPORT_TARGETS: dict[str, tuple[str, Check]] = {
    "test_import_mlruns_sqlite": ("≥ 20× `mlflow migrate-filestore`", ratio_at_least(20)),
}
STORE_MODULES = ("bench_file_store", "bench_sql_store", "bench_server", "bench_async",
                 "bench_import", "bench_gc")
#: ``test_floor_<op>[<dialect>]``: the database alone doing the writes of ``test_<op>[<dialect>]``.
FLOOR_PREFIX = "test_floor_"


def _strip_param(name: str, values: tuple[str, ...]) -> tuple[str, str | None]:
    """``test_x[trackstore-1000]`` -> (``test_x[1000]``, ``trackstore``)."""
    match = re.fullmatch(r"(.*?)\[(.*)\]", name)
    if not match:
        return name, None
    base, params = match.groups()
    parts = params.split("-")
    found = next((p for p in parts if p in values), None)
    rest = [p for p in parts if p != found]
    return (f"{base}[{'-'.join(rest)}]" if rest else base), found


def _module(benchmark: dict[str, Any]) -> str:
    return str(benchmark["fullname"]).split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")


def _load(args: argparse.Namespace) -> dict[str, Any]:
    """The benchmarks of each module from the newest run that has it (or the first --json)."""
    if args.json:
        files = [Path(f) for f in args.json]
    else:
        files = sorted(Path(args.storage).rglob("*.json"), key=lambda p: p.stat().st_mtime,
                       reverse=True)
    if not files:
        raise SystemExit(f"no saved benchmark JSON under {args.storage}")
    merged: dict[str, Any] = {"benchmarks": [], "sources": []}
    covered: set[str] = set()
    for file in files:
        data = json.loads(file.read_text())
        modules = sorted({_module(b) for b in data.get("benchmarks", [])} - covered)
        if not modules:
            continue
        covered.update(modules)
        merged["benchmarks"] += [b for b in data["benchmarks"] if _module(b) in modules]
        merged["sources"].append({"modules": modules, **{
            k: data.get(k) for k in ("datetime", "commit_info", "machine_info")}})
    return merged


def store_rows(benchmarks: list[dict[str, Any]], module: str = "bench_file_store",
               baseline_of: dict[str, str] | None = None) -> list[Row]:
    baseline_of = BASELINE_OF if baseline_of is None else baseline_of
    ours: dict[str, dict[str, Any]] = {}
    theirs: dict[str, dict[str, Any]] = {}
    for b in benchmarks:
        name, lib = _strip_param(b["name"], ("trackstore", "mlflow"))
        if _module(b) != module or name.startswith(FLOOR_PREFIX):
            continue
        if lib == "mlflow":
            theirs[name] = b
        else:
            ours[name] = b
    rows = []
    for name, b in ours.items():
        baseline = theirs.get(baseline_of.get(name, name))
        rows.append(Row(name, b["stats"]["median"],
                        None if baseline is None else baseline["stats"]["median"],
                        _per_call(b), None if baseline is None else _per_call(baseline)))
    return rows


def _per_call(benchmark: dict[str, Any]) -> int | None:
    """Points (or runs) per timed call, as the benchmark recorded it."""
    info = benchmark.get("extra_info") or {}
    return info.get("points_per_call") or info.get("runs_per_call")


def twin_rows(benchmarks: list[dict[str, Any]]) -> list[tuple[str, dict[str, float]]]:
    """Benchmarks of the compiled topics: per benchmark, the median of each implementation.

    ``test_x[py]``/``test_x[c]`` are the twins; ``test_x_mlflow_baseline[...]`` and
    ``test_x_pyyaml[Loader]`` are baselines for ``test_x``.
    """
    rows: dict[str, dict[str, float]] = {}
    for b in benchmarks:
        module = _module(b)
        if module in STORE_MODULES:
            continue
        name, impl = _strip_param(b["name"], ("c", "py"))
        label = impl or "-"
        for suffix, prefix in (("_mlflow_baseline", "MLflow"), ("_pyyaml", "PyYAML")):
            base = re.sub(rf"{suffix}(\[|$)", r"\1", name)
            if base != name:
                match = re.search(r"\[(.*)\]$", name)
                variant = match.group(1) if match else ""
                if prefix == "PyYAML":
                    base, label = re.sub(r"\[.*\]$", "", base), f"PyYAML {variant}"
                else:
                    label = prefix
                name = base
        rows.setdefault(f"{module}::{name}", {})[label] = b["stats"]["median"]
    return sorted(rows.items())


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _rate(rate: float | None) -> str:
    if rate is None:
        return "—"
    return f"{rate / 1e6:.2f} M/s" if rate >= 1e6 else f"{rate / 1e3:.1f} k/s"


def _sources(data: dict[str, Any]) -> list[str]:
    """One line per saved run the report draws on: its modules, date and commit."""
    lines = []
    for source in data.get("sources", []):
        commit = source.get("commit_info") or {}
        dirty = " (dirty)" if commit.get("dirty") else ""
        modules = ", ".join(f"`{m}`" for m in source["modules"])
        lines.append(f"* {modules}: {str(source.get('datetime') or '?')[:19].replace('T', ' ')} "
                     f"UTC, commit {str(commit.get('id') or '?')[:12]}{dirty}")
    return lines


def _ratio(row: Row) -> str:
    return f"{row.ratio:.0f}×" if row.ratio and row.ratio >= 10 else (
        f"{row.ratio:.2f}×" if row.ratio else "—")


def _target(row: Row, targets: dict[str, tuple[str, Check]]) -> tuple[str, str]:
    """(target text, met) of *row*; both empty for a row without a target."""
    target, check = targets.get(row.name, ("", lambda r: True))
    return target, ("yes" if check(row) else "**no**") if target else ""


def _store_table(rows: list[Row], targets: dict[str, tuple[str, Check]]) -> list[str]:
    lines = ["| benchmark | trackstore | MLflow | ratio | throughput | target | met |",
             "|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: r.name):
        target, met = _target(row, targets)
        lines.append(f"| `{row.name}` | {_time(row.ours)} | {_time(row.theirs)} | "
                     f"{_ratio(row)} | {_rate(row.rate)} | {target} | {met} |")
    return lines


def async_table(rows: list[Row], targets: dict[str, tuple[str, Check]]) -> list[str]:
    """Per point, not per timed round: the two libraries' rounds hold different numbers of
    points (trackstore's calls cost a thousandth of MLflow's)."""
    lines = ["| benchmark | trackstore per point | MLflow per point | ratio | trackstore | "
             "MLflow | target | met |", "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: r.name):
        target, met = _target(row, targets)
        theirs = row.theirs_per_point
        lines.append(f"| `{row.name}` | {_time(row.per_point)} | {_time(theirs)} | "
                     f"{_ratio(row)} | {_rate(row.rate)} | {_rate(1 / theirs if theirs else None)}"
                     f" | {target} | {met} |")
    return lines


def floor_table(benchmarks: list[dict[str, Any]], sql_rows: list[Row]) -> list[str]:
    """Each floor beside the end-to-end benchmark it bounds, and MLflow's time divided by it:
    the largest ratio any library could reach on this machine with trackstore's schema."""
    ours = {row.name: row for row in sql_rows}
    targets = {name: text for name, (text, _) in SQL_TARGETS.items()}
    lines = ["| operation | database alone | trackstore | MLflow | MLflow ÷ floor | "
             "trackstore ratio | target |", "|---|---|---|---|---|---|---|"]
    for b in sorted(benchmarks, key=lambda b: str(b["name"])):
        if _module(b) != "bench_sql_store" or not str(b["name"]).startswith(FLOOR_PREFIX):
            continue
        name = "test_" + str(b["name"]).removeprefix(FLOOR_PREFIX)
        floor = float(b["stats"]["median"])
        row = ours.get(name)
        theirs = row.theirs if row else None
        best = f"{theirs / floor:.0f}×" if theirs else "—"
        ratio = f"{row.ratio:.0f}×" if row and row.ratio else "—"
        lines.append(f"| `{name}` | {_time(floor)} | {_time(row.ours if row else None)} | "
                     f"{_time(theirs)} | {best} | {ratio} | {targets.get(name, '')} |")
    return lines if len(lines) > 2 else []


def latency_table(benchmarks: list[dict[str, Any]]) -> list[str]:
    """Server benchmarks: the requests' latency (median, p99, max) on each server."""
    found: dict[str, dict[str, str]] = {}
    for b in benchmarks:
        info = b.get("extra_info") or {}
        if _module(b) != "bench_server" or "latency_ms_median" not in info:
            continue
        name, lib = _strip_param(b["name"], ("trackstore", "mlflow"))
        found.setdefault(name, {})[lib or "trackstore"] = " / ".join(
            _time(info[f"latency_ms_{stat}"] / 1e3) for stat in ("median", "p99", "max"))
    lines = ["| benchmark | trackstore: median / p99 / max | MLflow: median / p99 / max |",
             "|---|---|---|"]
    lines += [f"| `{name}` | {row.get('trackstore', '—')} | {row.get('mlflow', '—')} |"
              for name, row in sorted(found.items())]
    return lines if len(lines) > 2 else []


def memory_table(benchmarks: list[dict[str, Any]]) -> list[str]:
    """The import's peak resident memory against the size of the tree it imported."""
    lines = ["| points in the tree | peak resident memory | time | points/s |", "|---|---|---|---|"]
    found = sorted((b for b in benchmarks if _module(b) == "bench_import"
                    and "peak_rss_mb" in (b.get("extra_info") or {})),
                   key=lambda b: int(b["extra_info"].get("points_per_call") or 0))
    for b in found:
        info, median = b["extra_info"], float(b["stats"]["median"])
        points = int(info.get("points_per_call") or 0)
        lines.append(f"| {points:,} | {info['peak_rss_mb']:.0f} MB | {_time(median)} | "
                     f"{_rate(points / median if points else None)} |")
    return lines if found else []


def render(data: dict[str, Any], command: str) -> str:
    sources = data.get("sources") or [{}]
    machine = sources[0].get("machine_info") or {}
    cpu = machine.get("cpu", {}).get("brand_raw") or platform.processor() or "?"
    lines = [
        "# Benchmark results",
        "",
        f"* machine: {machine.get('node', '?')}, {cpu}, "
        f"{machine.get('cpu', {}).get('count', '?')} cores, "
        f"{machine.get('system', '?')} {machine.get('release', '?')}, "
        f"Python {machine.get('python_version', '?')}",
        f"* command: `{command}`",
        "* runs (each module from the newest saved run that has it):",
        *(f"  {line}" for line in _sources(data)),
        "",
        "Medians of pytest-benchmark rounds, trackstore and MLflow measured in the same run on",
        "the same machine. The machine is a shared 2-core VM: absolute numbers move by ±30 %,",
        "the ratios much less.",
    ]
    benchmarks = data["benchmarks"]
    file_rows = store_rows(benchmarks, "bench_file_store")
    if file_rows:
        lines += ["", "## File store, end to end (through `TrackingClient` / `MlflowClient`)", "",
                  "MLflow's file store, `MLFLOW_ALLOW_FILE_STORE=true`.", "",
                  *_store_table(file_rows, TARGETS)]
    sql_rows = store_rows(benchmarks, "bench_sql_store", SQL_BASELINE_OF)
    if sql_rows:
        lines += ["", "## SQL store, end to end (through `TrackingClient` / `MlflowClient`)", "",
                  "trackstore's `SqlStore` against MLflow's `SqlAlchemyStore`, each in a fresh",
                  "database of its own; `[sqlite]`, `[postgresql]`, `[mysql]` (MariaDB) name the",
                  "dialect. Rows without an MLflow time are trackstore only.", "",
                  *_store_table(sql_rows, SQL_TARGETS)]
    floors = floor_table(benchmarks, sql_rows)
    if floors:
        lines += ["", "## SQL store: the database alone (floors)", "",
                  "The same rows written with nothing but the driver (`test_floor_*`: rows built",
                  "beforehand, no validation, run check or latest-value upsert), into trackstore's",
                  "`metrics` table, in the same run. MLflow ÷ floor is the most any library could",
                  "reach here with this schema (its dedup key included).", "",
                  *floors]
    server_rows = store_rows(benchmarks, "bench_server", {})
    if server_rows:
        lines += ["", "## Through the server (`trackstore server` vs `mlflow server`)", "",
                  "Both servers with 2 workers, each on a fresh database of its own, in the same",
                  "run; `test_log_*`: 4 client processes logging at once, a timed call is a round",
                  "of their requests (see `bench_server.py`); `test_mlflow_client_*`: the `mlflow`",
                  "client, one process, one call at a time.", "",
                  *_store_table(server_rows, SERVER_TARGETS)]
        latencies = latency_table(benchmarks)
        if latencies:
            lines += ["", "Latency of the requests of the concurrent clients:", "", *latencies]
    async_rows = store_rows(benchmarks, "bench_async", {})
    if async_rows:
        lines += ["", "## Asynchronous logging (`synchronous=False`)", "",
                  "Per point, both libraries in the same run (see `bench_async.py`). *Caller",
                  "cost*: the fluent call's time in a loop, the library's logging thread",
                  "storing the points meanwhile. *Sustained*: asynchronous calls, then the wait",
                  "until every point is stored, timed together; points/s in the last columns.",
                  "`[sqlite]`, `[postgresql]`, `[mysql]` (MariaDB): the SQL stores; `server`:",
                  "each library's client to its own server (2 workers, SQLite). The SQL stores",
                  "and the server have no numeric target: their ratio to MLflow is the result.",
                  "",
                  *async_table(async_rows, ASYNC_TARGETS)]
    import_rows = store_rows(benchmarks, "bench_import", {})
    if import_rows:
        lines += ["", "## Bulk import (`trackstore import`)", "",
                  "`test_import_mlruns_sqlite`: one `mlruns` tree into a new SQLite database,",
                  "trackstore's import against `mlflow migrate-filestore` (both in-process, both",
                  "creating their schema). `test_import_mlruns_server`: trackstore's import into",
                  "PostgreSQL and MariaDB (`[mysql]`); MLflow's command writes only SQLite.",
                  "`test_import_peak_memory`: the command in a child process; its peak resident",
                  "memory is in the last table. See `bench_import.py` for the trees.", "",
                  *_store_table([r for r in import_rows
                                 if not r.name.startswith("test_import_peak_memory")],
                                IMPORT_TARGETS),
                  "", *memory_table(benchmarks)]
    gc_rows = store_rows(benchmarks, "bench_gc", {})
    if gc_rows:
        lines += ["", "## Garbage collection (`trackstore gc`)", "",
                  "Each command removing the same deleted runs (each with params, tags, 2",
                  "metrics and an artifact file) and their artifacts, on a fresh copy of the",
                  "data every round: `test_gc_file_store` on one `mlruns` tree, `test_gc_sqlite`",
                  "on each library's own SQLite database holding the tree's runs. Throughput",
                  "in runs/s; the ratio is per run removed (one `mlflow gc` removes at most",
                  "1000 runs of a file store: its time is for those). See `bench_gc.py`.", "",
                  *_store_table(gc_rows, {})]
    twins = twin_rows(benchmarks)
    if twins:
        baselines = sorted({label for _, row in twins for label in row} - {"py", "c", "-"})
        lines += ["", "## Compiled twins: `[py]` vs `[c]` (and baselines)", "",
                  "| benchmark | py | c | c vs py | " + " | ".join(baselines) + " |",
                  "|---|---|---|---|" + "---|" * len(baselines)]
        for name, row in twins:
            py, c = row.get("py"), row.get("c")
            speedup = f"{py / c:.1f}×" if py and c else "—"
            extra = " | ".join(_time(row.get(label)) for label in baselines)
            lines.append(f"| `{name}` | {_time(py)} | {_time(c)} | {speedup} | {extra} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=".benchmarks")
    parser.add_argument("--json", action="append",
                        help="a pytest-benchmark JSON file; repeat for several (default: the "
                             "newest saved run of each module)")
    parser.add_argument("--output", default="benches/RESULTS.md")
    parser.add_argument("--command", default="tox -e bench")
    parser.add_argument("--notes", help="a Markdown file appended to the report")
    args = parser.parse_args()
    text = render(_load(args), args.command)
    if args.notes:
        text += "\n" + Path(args.notes).read_text()
    Path(args.output).write_text(text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
