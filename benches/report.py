"""Turn saved pytest-benchmark JSON into ``benches/RESULTS.md``: medians and ratios to MLflow.

    python benches/report.py --storage .benchmarks --output benches/RESULTS.md

Takes the newest saved run (or ``--json FILE``). Store benchmarks are paired by name with the
``lib`` parameter dropped (``[trackstore]`` vs ``[mlflow]``); twin benchmarks by the ``impl``
parameter (``[c]`` vs ``[py]``). Ratios are of medians: the machine is shared and noisy.
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

    @property
    def ratio(self) -> float | None:
        return None if self.theirs is None else self.theirs / self.ours

    @property
    def rate(self) -> float | None:
        return None if not self.per_call else self.per_call / self.ours


# name (lib dropped) -> (target text, check); names without a target are reported only.
TARGETS: dict[str, tuple[str, Check]] = {
    "test_log_metric_one_point_per_call": (
        "≥ 100× MLflow", lambda r: (r.ratio or 0) >= 100),
    "test_log_batch_1000_points": (
        "≥ 1M points/s", lambda r: (r.rate or 0) >= 1e6),
    "test_get_metric_history[1000000]": (
        "≥ 20× MLflow (entities)", lambda r: (r.ratio or 0) >= 20),
    "test_get_metric_history_columns[1000000]": (
        "≥ 100× MLflow's entity read", lambda r: (r.ratio or 0) >= 100),
    "test_search_runs_first_page[warm-order_by_metric-5000]": (
        "≤ 0.2 s", lambda r: r.ours <= 0.2),
    "test_search_runs_first_page[cold-order_by_metric-5000]": (
        "≤ 0.2 s", lambda r: r.ours <= 0.2),
    "test_create_runs": (
        "≥ 20× MLflow (design §6; not an M1 target)", lambda r: (r.ratio or 0) >= 20),
}
# Benchmarks of ours whose MLflow counterpart has another name.
BASELINE_OF = {
    "test_get_metric_history_columns[100000]": "test_get_metric_history[100000]",
    "test_get_metric_history_columns[1000000]": "test_get_metric_history[1000000]",
}


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


def _load(args: argparse.Namespace) -> dict[str, Any]:
    if args.json:
        return json.loads(Path(args.json).read_text())
    files = sorted(Path(args.storage).rglob("*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise SystemExit(f"no saved benchmark JSON under {args.storage}")
    return json.loads(files[-1].read_text())


def store_rows(benchmarks: list[dict[str, Any]]) -> list[Row]:
    ours: dict[str, dict[str, Any]] = {}
    theirs: dict[str, float] = {}
    for b in benchmarks:
        name, lib = _strip_param(b["name"], ("trackstore", "mlflow"))
        if "bench_file_store" not in b["fullname"]:
            continue
        if lib == "mlflow":
            theirs[name] = b["stats"]["median"]
        else:
            ours[name] = b
    rows = []
    for name, b in ours.items():
        per_call = b.get("extra_info", {}).get("points_per_call") or \
            b.get("extra_info", {}).get("runs_per_call")
        rows.append(Row(name, b["stats"]["median"], theirs.get(BASELINE_OF.get(name, name)),
                        per_call))
    return rows


def twin_rows(benchmarks: list[dict[str, Any]]) -> list[tuple[str, dict[str, float]]]:
    """Benchmarks of the compiled topics: per benchmark, the median of each implementation.

    ``test_x[py]``/``test_x[c]`` are the twins; ``test_x_mlflow_baseline[...]`` and
    ``test_x_pyyaml[Loader]`` are baselines for ``test_x``.
    """
    rows: dict[str, dict[str, float]] = {}
    for b in benchmarks:
        if "bench_file_store" in b["fullname"]:
            continue
        module = b["fullname"].split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
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


def render(data: dict[str, Any], command: str) -> str:
    machine = data.get("machine_info", {})
    commit = data.get("commit_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw") or platform.processor() or "?"
    lines = [
        "# Benchmark results",
        "",
        f"* date: {data.get('datetime', '?')[:19].replace('T', ' ')} UTC",
        f"* machine: {machine.get('node', '?')}, {cpu}, "
        f"{machine.get('cpu', {}).get('count', '?')} cores, "
        f"{machine.get('system', '?')} {machine.get('release', '?')}, "
        f"Python {machine.get('python_version', '?')}",
        f"* commit: {commit.get('id', '?')[:12]}{' (dirty)' if commit.get('dirty') else ''}",
        f"* command: `{command}`",
        "",
        "Medians of pytest-benchmark rounds, trackstore and MLflow measured in the same run on",
        "the same machine (MLflow's file store, `MLFLOW_ALLOW_FILE_STORE=true`). The machine is",
        "a shared 2-core VM: absolute numbers move by ±30 %, the ratios much less.",
        "",
        "## File store, end to end (through `TrackingClient` / `MlflowClient`)",
        "",
        "| benchmark | trackstore | MLflow | ratio | throughput | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sorted(store_rows(data["benchmarks"]), key=lambda r: r.name):
        target, check = TARGETS.get(row.name, ("", lambda r: True))
        met = ("yes" if check(row) else "**no**") if target else ""
        ratio = f"{row.ratio:.0f}×" if row.ratio and row.ratio >= 10 else (
            f"{row.ratio:.2f}×" if row.ratio else "—")
        lines.append(f"| `{row.name}` | {_time(row.ours)} | {_time(row.theirs)} | {ratio} | "
                     f"{_rate(row.rate)} | {target} | {met} |")
    twins = twin_rows(data["benchmarks"])
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
    parser.add_argument("--json", help="a pytest-benchmark JSON file (default: newest saved)")
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
