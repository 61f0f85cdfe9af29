"""Turn the saved pytest-benchmark JSON into ``benches/RESULTS.md`` and its plots.

    python benches/report.py

The saved runs are the pytest-benchmark storage ``benches/results/``, committed with the
repository (``tox -e bench`` measures every module and saves there; one module alone:
``python -m pytest benches/bench_x.py --benchmark-only --benchmark-group-by=func
--benchmark-autosave --benchmark-storage=benches/results``). Each benchmark module is
taken from the newest saved run that has it, by the time the run was measured (so a run of
one module updates its sections and keeps the others'); a saved run all of whose modules
have newer results is deleted (``--keep`` keeps it). Then ``benches/RESULTS.md`` is written,
``benches/results-notes.md`` appended, with the PNG plots it shows in ``benches/plots/``
(plots no longer drawn are deleted). ``--json FILE`` (repeatable) reads those files instead,
the first to have a module winning, and deletes nothing.

Store benchmarks are paired by name with the ``lib`` parameter dropped (``[trackstore]`` vs
``[mlflow]``, ``[sqlite-trackstore]`` vs ``[sqlite-mlflow]``; in the server benchmarks the
parameter names the server); twin benchmarks by the ``impl`` parameter (``[c]`` vs ``[py]``).
Ratios are of medians: the machine is shared and noisy. Where both sides say how many points a
timed call holds (``extra_info["points_per_call"]``), the ratio is per point: the asynchronous
logging benchmarks time 10,000 of trackstore's calls in a round and 20 of MLflow's.

The plots: per section, each benchmark's ratio to MLflow (with its target, where it is a
ratio); per compiled module, each twin benchmark's ``[c]`` speedup over ``[py]``; and for each
benchmark run at several sizes (the first number among its parameters: points, versions, ...),
its throughput against the size. The sections and the design's targets are in
``_sections.py``; the figures are drawn by ``_plots.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _plots
from _sections import (
    BASELINE_OF,
    DIALECT_VALUES,
    FLOOR_PREFIX,
    IMPL_VALUES,
    LIB_VALUES,
    SECTIONS,
    SQL_TARGETS,
    STORE_MODULES,
    Row,
    Section,
    Target,
)

HERE = Path(__file__).resolve().parent
STORAGE = HERE / "results"
OUTPUT = HERE / "RESULTS.md"
NOTES = HERE / "results-notes.md"
PLOTS = HERE / "plots"


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


# -- the saved runs ---------------------------------------------------------------------------


@dataclass
class SavedRun:
    """One saved pytest-benchmark JSON file."""

    path: Path
    data: dict[str, Any]

    @property
    def measured(self) -> str:
        """When it was measured (ISO 8601, UTC): what "newer" means, not the file's time,
        which every checkout changes."""
        return str(self.data.get("datetime") or "")

    @property
    def modules(self) -> set[str]:
        return {_module(b) for b in self.data.get("benchmarks", [])}


def read_runs(storage: Path) -> list[SavedRun]:
    """Every saved run under *storage*, the newest first."""
    runs = [SavedRun(path, json.loads(path.read_text()))
            for path in sorted(storage.rglob("*.json"))]
    return sorted(runs, key=lambda run: (run.measured, run.path.name), reverse=True)


def select(runs: Sequence[SavedRun]) -> tuple[dict[str, Any], list[SavedRun]]:
    """The benchmarks of each module from the first of *runs* that has it; and the runs that
    give nothing (all of their modules are in an earlier one of *runs*, or they are empty)."""
    merged: dict[str, Any] = {"benchmarks": [], "sources": []}
    covered: set[str] = set()
    superseded = []
    for run in runs:
        modules = sorted(run.modules - covered)
        if not modules:
            superseded.append(run)
            continue
        covered.update(modules)
        merged["benchmarks"] += [b for b in run.data["benchmarks"] if _module(b) in modules]
        merged["sources"].append({"modules": modules, **{
            k: run.data.get(k) for k in ("datetime", "commit_info", "machine_info")}})
    merged["missing"] = sorted({p.stem for p in HERE.glob("bench_*.py")} - covered)
    return merged, superseded


# -- rows -------------------------------------------------------------------------------------


def store_rows(benchmarks: list[dict[str, Any]], module: str = "bench_file_store",
               baseline_of: Mapping[str, str] | None = None) -> list[Row]:
    baseline_of = BASELINE_OF if baseline_of is None else baseline_of
    ours: dict[str, dict[str, Any]] = {}
    theirs: dict[str, dict[str, Any]] = {}
    for b in benchmarks:
        name, lib = _strip_param(b["name"], LIB_VALUES)
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
    """Points (or runs, or model versions, or registered models) per timed call, as the
    benchmark recorded it."""
    info = benchmark.get("extra_info") or {}
    return next((info[k] for k in ("points_per_call", "runs_per_call", "versions_per_call",
                                   "models_per_call") if info.get(k)), None)


def _twin_name(name: str) -> tuple[str, str | None]:
    """A twin benchmark's name without its implementation, and the label of its column:
    ``py``/``c``, ``MLflow`` (``test_x_mlflow_baseline[...]``) or ``PyYAML <Loader>``
    (``test_x_pyyaml[<Loader>]``), or None."""
    name, impl = _strip_param(name, IMPL_VALUES)
    label = impl
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
    return name, label


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
        name, label = _twin_name(b["name"])
        rows.setdefault(f"{module}::{name}", {})[label or "-"] = b["stats"]["median"]
    return sorted(rows.items())


@dataclass
class SizeFamily:
    """Benchmarks of one operation at several sizes: per series, size -> throughput (/s)."""

    key: str  # module::name, the size and the series' parameters left out
    series: dict[str, dict[int, float]] = field(default_factory=dict)


def size_families(benchmarks: list[dict[str, Any]]) -> list[SizeFamily]:
    """Benchmarks run at two sizes or more, the size being the first parameter that is a
    number. Series: the library or twin (and the database); throughput: the points a call
    holds (or, not recorded, the size) ÷ the median."""
    found: dict[str, SizeFamily] = {}
    for b in benchmarks:
        module = _module(b)
        name = str(b["name"])
        if name.startswith(FLOOR_PREFIX):
            continue
        if module in STORE_MODULES:
            name, lib = _strip_param(name, LIB_VALUES)
            label = "MLflow" if lib == "mlflow" else "trackstore"
        else:
            name, twin = _twin_name(name)
            label = twin or "trackstore"
        match = re.fullmatch(r"(.*?)\[(.*)\]", name)
        if not match:
            continue
        base, params = match.group(1), match.group(2).split("-")
        size = next((int(p) for p in params if p.isdigit()), None)
        if size is None:
            continue
        params.remove(str(size))
        dialect = next((p for p in params if p in DIALECT_VALUES), None)
        if dialect:
            params.remove(dialect)
            label = f"{label} {dialect}"
        key = f"{module}::{base}" + (f"[{'-'.join(params)}]" if params else "")
        family = found.setdefault(key, SizeFamily(key))
        family.series.setdefault(label, {})[size] = \
            (_per_call(b) or size) / float(b["stats"]["median"])
    order = ["trackstore", "c", "MLflow", "py", *DIALECT_VALUES]
    families = []
    for key in sorted(found):
        series = found[key].series
        if len({size for points in series.values() for size in points}) > 1:
            labels = sorted(series, key=lambda label: (tuple(
                order.index(w) if w in order else len(order) for w in label.split()), label))
            families.append(SizeFamily(key, {label: series[label] for label in labels}))
    return families


# -- the tables -------------------------------------------------------------------------------


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


def _target(row: Row, targets: Mapping[str, Target]) -> tuple[str, str]:
    """(target text, met) of *row*; both empty for a row without a target."""
    target = targets.get(row.name)
    if target is None:
        return "", ""
    return target.text, "yes" if target.met(row) else "**no**"


def _store_table(rows: list[Row], targets: Mapping[str, Target]) -> list[str]:
    lines = ["| benchmark | trackstore | MLflow | ratio | throughput | target | met |",
             "|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: r.name):
        target, met = _target(row, targets)
        lines.append(f"| `{row.name}` | {_time(row.ours)} | {_time(row.theirs)} | "
                     f"{_ratio(row)} | {_rate(row.rate)} | {target} | {met} |")
    return lines


def async_table(rows: list[Row], targets: Mapping[str, Target]) -> list[str]:
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
        target = SQL_TARGETS.get(name)
        lines.append(f"| `{name}` | {_time(floor)} | {_time(row.ours if row else None)} | "
                     f"{_time(theirs)} | {best} | {ratio} | {target.text if target else ''} |")
    return lines if len(lines) > 2 else []


def latency_table(benchmarks: list[dict[str, Any]]) -> list[str]:
    """Server benchmarks: the requests' latency (median, p99, max) on each server."""
    found: dict[str, dict[str, str]] = {}
    for b in benchmarks:
        info = b.get("extra_info") or {}
        if _module(b) != "bench_server" or "latency_ms_median" not in info:
            continue
        name, lib = _strip_param(b["name"], LIB_VALUES)
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


def section_rows(section: Section, benchmarks: list[dict[str, Any]]) -> list[Row]:
    rows = store_rows(benchmarks, section.module, section.baseline_of)
    return [r for r in rows if not (section.leave_out and r.name.startswith(section.leave_out))]


def _image(images: Mapping[str, str], key: str, alt: str) -> list[str]:
    return ["", f"![{alt.replace('`', '')}]({images[key]})"] if key in images else []


def render(data: dict[str, Any], command: str, images: Mapping[str, str] | None = None) -> str:
    """RESULTS.md: *command* is how the numbers were measured; *images* the plots to show,
    by key (``ratios-<section>``, ``speedups-<module>``, ``size-<family>``) -> their path."""
    images = images or {}
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
        f"* measured with: `{command}` (timed, saved into `benches/results/`)",
        "* this file and its plots (`benches/plots/`) are regenerated from the saved runs by "
        "`python benches/report.py`",
        "* runs (each module from the newest saved run that has it):",
        *(f"  {line}" for line in _sources(data)),
    ]
    if data.get("missing"):
        lines.append("* no saved results yet: " + ", ".join(f"`{m}`" for m in data["missing"]))
    lines += [
        "",
        "Medians of pytest-benchmark rounds, trackstore and MLflow measured in the same run on",
        "the same machine. The machine is a shared 2-core VM: absolute numbers move by ±30 %,",
        "the ratios much less.",
    ]
    benchmarks = data["benchmarks"]
    for section in SECTIONS:
        rows = section_rows(section, benchmarks)
        if not rows:
            continue
        table = async_table if section.per_point else _store_table
        lines += ["", f"## {section.title}", "", *section.intro, "",
                  *table(rows, section.targets),
                  *_image(images, f"ratios-{section.slug}", f"{section.title}: ratios to MLflow")]
        if section.slug == "sql-store" and (floors := floor_table(benchmarks, rows)):
            lines += ["", "## SQL store: the database alone (floors)", "",
                      "The same rows written with nothing but the driver (`test_floor_*`: rows",
                      "built beforehand, no validation, run check or latest-value upsert), into",
                      "trackstore's `metrics` table, in the same run. MLflow ÷ floor is the most",
                      "any library could reach here with this schema (its dedup key included).",
                      "", *floors]
        if section.slug == "server" and (latencies := latency_table(benchmarks)):
            lines += ["", "Latency of the requests of the concurrent clients:", "", *latencies]
        if section.slug == "import" and (memory := memory_table(benchmarks)):
            lines += ["", *memory]
    twins = twin_rows(benchmarks)
    if twins:
        baselines = sorted({label for _, row in twins for label in row} - {"py", "c", "-"})
        lines += ["", "## Compiled twins: `[py]` vs `[c]` (and baselines)", "",
                  "| " + " | ".join(["benchmark", "py", "c", "c vs py", *baselines]) + " |",
                  "|---" * (4 + len(baselines)) + "|"]
        for name, row in twins:
            py, c = row.get("py"), row.get("c")
            speedup = f"{py / c:.1f}×" if py and c else "—"
            cells = [f"`{name}`", _time(py), _time(c), speedup,
                     *(_time(row.get(label)) for label in baselines)]
            lines.append("| " + " | ".join(cells) + " |")
        for module in sorted({name.split("::")[0] for name, _ in twins}):
            lines += _image(images, f"speedups-{module}", f"{module}: c vs py")
    families = [f for f in size_families(benchmarks) if f"size-{f.key}" in images]
    if families:
        lines += ["", "## Throughput against size", "",
                  "The benchmarks run at several sizes (the number among their parameters:",
                  "points, rows, runs, model versions): what a timed call handles (its points,",
                  "or the versions or models it returns; else the size) ÷ its median time,",
                  "against the size, both on log scales."]
        for family in families:
            lines += ["", f"`{family.key}`:", *_image(images, f"size-{family.key}", family.key)]
    return "\n".join(lines) + "\n"


# -- the plots --------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")


def write_plots(data: dict[str, Any], directory: Path, relative_to: Path) -> dict[str, str]:
    """Draw every plot of *data* into *directory* (deleting the PNGs there it did not draw);
    return their paths relative to *relative_to*, by key (see :func:`render`)."""
    benchmarks = data["benchmarks"]
    drawn: dict[str, Path] = {}
    for section in SECTIONS:
        bars = []
        for row in sorted(section_rows(section, benchmarks), key=lambda r: r.name):
            if row.ratio is None:
                continue
            target = section.targets.get(row.name)
            state = "none" if target is None else "met" if target.met(row) else "missed"
            bars.append(_plots.Bar(row.name.removeprefix("test_"), row.ratio,
                                   target.bound if target and target.kind == "ratio" else None,
                                   state))
        if bars:
            path = directory / f"ratios-{section.slug}.png"
            _plots.bar_chart(path, f"{section.title.split(' (')[0].split(',')[0]}: "
                             "MLflow's time ÷ trackstore's", bars,
                             "ratio to MLflow (log scale; right of 1: trackstore faster)")
            drawn[f"ratios-{section.slug}"] = path
    by_module: dict[str, list[_plots.Bar]] = {}
    for name, medians in twin_rows(benchmarks):
        py, c = medians.get("py"), medians.get("c")
        if py and c:
            module, test = name.split("::")
            by_module.setdefault(module, []).append(_plots.Bar(test.removeprefix("test_"),
                                                               py / c))
    for module, bars in sorted(by_module.items()):
        path = directory / f"speedups-{module.removeprefix('bench_')}.png"
        _plots.bar_chart(path, f"{module}: [c] speedup over [py]", bars,
                         "py time ÷ c time (log scale)")
        drawn[f"speedups-{module}"] = path
    for family in size_families(benchmarks):
        path = directory / f"size-{_slug(family.key.removeprefix('bench_'))}.png"
        _plots.size_chart(path, family.key, family.series,
                          "size: the number in the name (log scale)",
                          "throughput per second (log scale)")
        drawn[f"size-{family.key}"] = path
    for stale in set(directory.glob("*.png")) - set(drawn.values()):
        stale.unlink()
    return {key: Path(os.path.relpath(path, relative_to)).as_posix()
            for key, path in drawn.items()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--storage", type=Path, default=STORAGE,
                        help="the pytest-benchmark storage to read (default: %(default)s)")
    parser.add_argument("--json", type=Path, action="append",
                        help="a pytest-benchmark JSON file to read instead; repeat for several")
    parser.add_argument("--keep", action="store_true",
                        help="keep the saved runs that newer ones supersede")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--plots", type=Path, default=PLOTS,
                        help="where the PNG plots go (default: %(default)s)")
    parser.add_argument("--no-plots", action="store_true", help="no plots, none deleted")
    parser.add_argument("--notes", default=str(NOTES),
                        help="a Markdown file appended to the report ('' for none)")
    parser.add_argument("--command", default="tox -e bench",
                        help="how the numbers were measured, as the report states it")
    args = parser.parse_args(argv)
    runs = [SavedRun(f, json.loads(f.read_text())) for f in args.json] if args.json \
        else read_runs(args.storage)
    if not runs:
        raise SystemExit(f"no saved benchmark JSON under {args.storage}")
    data, superseded = select(runs)
    if not args.json and not args.keep:
        for run in superseded:
            run.path.unlink()
            print(f"deleted {run.path} (every module of it has a newer saved run)")
    try:
        images = {} if args.no_plots else write_plots(data, args.plots, args.output.parent)
    except ModuleNotFoundError as exc:
        raise SystemExit(f"the plots need {exc.name} (pip install matplotlib), "
                         "or pass --no-plots") from exc
    text = render(data, args.command, images)
    if args.notes:
        text += "\n" + Path(args.notes).read_text()
    args.output.write_text(text)
    print(f"wrote {args.output} and {len(images)} plots in {args.plots}")


if __name__ == "__main__":
    main()
