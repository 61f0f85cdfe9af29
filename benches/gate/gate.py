"""trackstore's performance-regression gate, run by ``.ci/run``: repeatable on a noisy machine.

    python benches/gate/gate.py check               # exit 1 on a regression
    python benches/gate/gate.py record              # write a new baseline.json (deliberately)
    python benches/gate/gate.py build --out DIR     # build the kernels of ext/ into DIR

Two kinds of signal, because wall-clock time on a shared 2-core VM moves by ±30 %:

* **CPU-bound compiled kernels** (``workloads.py``) are gated on the number of instructions
  they execute, counted by ``valgrind --tool=callgrind`` with collection on only inside the
  measured module's entry points. The count does not depend on the machine's load: it repeats
  to within a few instructions in a thousand, so a 5 % threshold flags real regressions (an
  injected 20 % slowdown fails) and never noise. Counts are only comparable between builds
  made by the same toolchain (Python, Cython, compiler, LibYAML, valgrind), so the baseline
  records it. When the toolchain has changed, the gate builds the baseline's kernel sources
  (``git archive`` of the commit it was recorded at) and the current ones with the local
  toolchain and compares those two instead; ``record`` then refreshes the baseline.
* **I/O-bound store operations** (``io_checks.py``) are gated on medians, as ratios to the
  same I/O done by nothing but the OS or the driver, measured alternately in the same
  process, against a wide (50 %) threshold.

``--kernels DIR`` measures the kernels built in *DIR* (``build``) instead of the installed ones.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BASELINE = HERE / "baseline.json"
WORKLOADS = HERE / "workloads.py"
TOPICS = ["metrics", "pointq", "sqlbatch", "yamlio"]
THRESHOLD = 0.05  # instructions: 5 % more is a regression
IO_THRESHOLD = 0.50  # I/O ratios: 50 % more is a regression


# -- instruction counts --------------------------------------------------------------------


def _mangled(name: str) -> str:
    """Cython's length-prefixed spelling of a dotted name part."""
    return f"{len(name)}{name}"


def entry_symbol(topic: str, entry: str) -> re.Pattern[str]:
    """The C function that CPython calls for *entry* (``parse`` or ``Class.method``)."""
    prefix = f"__pyx_pw_{_mangled('trackstore')}_{_mangled(f'_{topic}_c')}_"
    if "." in entry:
        cls, method = entry.split(".")
        return re.compile(re.escape(prefix + _mangled(cls)) + r"_\d+" + re.escape(method) + "$")
    return re.compile(re.escape(prefix) + r"\d+" + re.escape(entry) + "$")


def inclusive_costs(profile: str) -> dict[str, int]:
    """Instructions per function, callees included, from a callgrind output file.

    Written with ``--compress-strings=no --compress-pos=no``: ``fn=`` names the function the
    following cost lines belong to; a cost line right after ``calls=`` is the inclusive cost of
    that call, any other one is the function's own cost.
    """
    costs: dict[str, int] = {}
    fn = ""
    after_call = False
    for line in profile.splitlines():
        if line.startswith("fn="):
            fn = line[3:]
            costs.setdefault(fn, 0)
            after_call = False
        elif line.startswith("calls="):
            after_call = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            fields = line.split()
            if len(fields) >= 2 and fn:
                costs[fn] += int(fields[1])
            after_call = False
        elif after_call and not line.startswith(("cfn=", "cfi=", "cfl=", "cob=")):
            after_call = False
    return costs


@dataclass
class Count:
    instructions: int
    items: int

    @property
    def per_item(self) -> float:
        return self.instructions / self.items


def _groups(workloads: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Workloads split so that no two in a group share an entry point (one process each)."""
    groups: list[list[str]] = []
    def key(name: str) -> tuple[str, str]:
        return workloads[name]["topic"], workloads[name]["entry"]

    for name in workloads:
        for group in groups:
            if all(key(other) != key(name) for other in group):
                group.append(name)
                break
        else:
            groups.append([name])
    return groups


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"  # str hashes, set and dict layouts: the same every run
    env.pop("PYTHONDEVMODE", None)
    env.pop("PYTHONMALLOC", None)
    env["TRACKSTORE_IMPL"] = "c"
    return env


def _workload_cmd(python: str, kernels: Path | None) -> list[str]:
    cmd = [python, str(WORKLOADS)]
    for topic, path in built_modules(kernels).items():
        cmd += ["--module-file", f"{topic}={path}"]
    return cmd


CONTROL_C = """
#include <valgrind/callgrind.h>
void gate_start_instrumentation(void) { CALLGRIND_START_INSTRUMENTATION; }
void gate_stop_instrumentation(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""


def callgrind_control(directory: Path) -> Path:
    """A tiny library that turns callgrind's instrumentation on and off from Python.

    Client requests are machine-code sequences in ``valgrind/callgrind.h`` macros, so they
    need a C compiler; the interpreter's start-up is then not instrumented at all.
    """
    lib = directory / "gate_callgrind.so"
    if not lib.exists():
        source = directory / "gate_callgrind.c"
        source.write_text(CONTROL_C)
        compiler = sysconfig.get_config_var("CC") or "cc"
        subprocess.run([*compiler.split(), "-shared", "-fPIC", "-O1", "-o", str(lib),
                        str(source)], check=True, capture_output=True)
    return lib


def count_all(python: str, kernels: Path | None = None,
              only: Callable[[str], bool] | None = None) -> dict[str, Count]:
    """Instructions of each workload (or of those *only* accepts), under callgrind: collected
    only inside the entry points of trackstore's compiled modules (``__pyx_pw_10trackstore_*``).
    """
    listed = subprocess.run([*_workload_cmd(python, kernels), "--list"], env=_child_env(),
                            capture_output=True, text=True, check=True)
    workloads = {name: info for name, info in json.loads(listed.stdout)["workloads"].items()
                 if only is None or only(name)}
    counts: dict[str, Count] = {}
    with tempfile.TemporaryDirectory(prefix="gate-") as tmp:
        env = _child_env()
        env["GATE_CALLGRIND_CONTROL"] = str(callgrind_control(Path(tmp)))
        for i, group in enumerate(_groups(workloads)):
            out = Path(tmp, f"callgrind.{i}")
            cmd = ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}",
                   "--instr-atstart=no", "--collect-atstart=no",
                   "--compress-strings=no", "--compress-pos=no",
                   f"--toggle-collect=__pyx_pw_{_mangled('trackstore')}_*",
                   *_workload_cmd(python, kernels), "--workloads", ",".join(group)]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}")
            costs = inclusive_costs(out.read_text())
            for name in group:
                info = workloads[name]
                pattern = entry_symbol(info["topic"], info["entry"])
                found = [cost for fn, cost in costs.items() if pattern.search(fn)]
                if len(found) != 1 or not found[0]:
                    raise RuntimeError(f"{name}: no single profile entry for {pattern.pattern} "
                                       f"(found {len(found)})")
                counts[name] = Count(found[0], info["items"])
    return counts


# -- the toolchain that made the counts ----------------------------------------------------


def _binary_facts(path: Path) -> dict[str, str]:
    data = path.read_bytes()
    cython = re.search(rb"_cython_(\d+)_(\d+)_(\d+)", data)
    compiler = re.search(rb"GCC: \([^)]*\) [0-9.]+|clang version [0-9.]+", data)
    return {
        "cython": ".".join(g.decode() for g in cython.groups()) if cython else "unknown",
        "compiler": compiler.group().decode() if compiler else "unknown",
    }


def _libyaml_version() -> str:
    name = ctypes.util.find_library("yaml")
    if not name:
        return "none"
    lib = ctypes.CDLL(name)
    lib.yaml_get_version_string.restype = ctypes.c_char_p
    return str(lib.yaml_get_version_string().decode())


def _valgrind_version() -> str:
    return subprocess.run(["valgrind", "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def toolchain(python: str, kernels: Path | None = None) -> dict[str, str]:
    """What an instruction count depends on besides the sources."""
    probe = ("import json, sys, sysconfig, importlib.util as u; print(json.dumps({"
             "'python': sys.version.split()[0], 'cflags': sysconfig.get_config_var('OPT'),"
             "'module': u.find_spec('trackstore._metrics_c').origin}))")
    facts = json.loads(subprocess.run([python, "-c", probe], capture_output=True, text=True,
                                      check=True, env=_child_env()).stdout)
    module = next(iter(built_modules(kernels).values()), Path(facts["module"]))
    return {
        "python": facts["python"],
        "python_opt": facts["cflags"],
        **_binary_facts(module),
        "libyaml": _libyaml_version(),
        "valgrind": _valgrind_version(),
    }


# -- building kernels from sources (toolchain changes, and the slowdown test) --------------


def built_modules(kernels: Path | None) -> dict[str, Path]:
    """The modules built in *kernels* (``build``), by topic; the others are the installed ones."""
    if kernels is None:
        return {}
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    found = {topic: kernels / "trackstore" / f"_{topic}_c{suffix}" for topic in TOPICS}
    found = {topic: path for topic, path in found.items() if path.exists()}
    if not found:
        raise FileNotFoundError(f"no compiled module was built in {kernels}")
    return found


def build_kernels(ext: Path, out: Path, python: str = sys.executable,
                  topics: list[str] = TOPICS) -> None:
    """Build the compiled modules of *topics* from the sources in *ext* (a copy of ``ext/``)
    into *out*.

    The flags are setup.py's defaults (setuptools and Python's own), as ``pip install``
    builds them, so counts compare with the installed modules' when the toolchain is the same.
    """
    script = f"""
import sys
from setuptools import setup
from Cython.Build import build_ext
from Cython.Distutils.extension import Extension
ext = {str(ext)!r}
mods = [Extension(f"trackstore._{{t}}_c", [f"{{ext}}/trackstore/_{{t}}_c.pyx"],
                  include_dirs=[ext], libraries=["yaml"] if t == "yamlio" else [],
                  cython_directives={{"language_level": 3, "embedsignature": True}})
        for t in {topics!r}]
setup(name="trackstore-gate-build", ext_modules=mods, cmdclass={{"build_ext": build_ext}},
      script_args=["build_ext", "--build-lib", {str(out)!r},
                   "--build-temp", {str(out / "build")!r}, "-j", "2"])
"""
    done = subprocess.run([python, "-c", script], cwd=out, capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise RuntimeError(f"building the kernels of {ext} failed:\n{done.stderr[-4000:]}")


@contextmanager
def sources_at(commit: str) -> Iterator[Path]:
    """A temporary copy of ``ext/`` as it was at *commit*."""
    with tempfile.TemporaryDirectory(prefix="gate-src-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "ext"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp, "ext")


# -- comparing and reporting ---------------------------------------------------------------


@dataclass
class Verdict:
    name: str
    baseline: float
    current: float
    unit: str
    threshold: float

    @property
    def change(self) -> float:
        return self.current / self.baseline - 1

    @property
    def regressed(self) -> bool:
        return self.change > self.threshold


def compare(baseline: Mapping[str, float], current: Mapping[str, float], unit: str,
            threshold: float) -> list[Verdict]:
    missing = sorted(set(baseline) ^ set(current))
    if missing:
        raise SystemExit(f"the baseline and this run measure different things: {missing}; "
                         "record a new baseline (python benches/gate/gate.py record)")
    return [Verdict(name, baseline[name], current[name], unit, threshold)
            for name in sorted(baseline)]


def render(verdicts: list[Verdict]) -> str:
    lines = [f"{'measure':<48} {'baseline':>16} {'now':>16} {'change':>8}  verdict"]
    for v in verdicts:
        fmt = "{:,.0f}" if v.unit == "instructions" else "{:.3f}"
        verdict = (f"REGRESSION (> +{v.threshold:.0%})" if v.regressed
                   else "faster" if v.change < -v.threshold else "ok")
        lines.append(f"{v.name:<48} {fmt.format(v.baseline):>16} {fmt.format(v.current):>16} "
                     f"{v.change:>+8.1%}  {verdict}")
    return "\n".join(lines)


def _instructions(counts: Mapping[str, Count]) -> dict[str, float]:
    return {name: float(c.instructions) for name, c in counts.items()}


def check_instructions(base: Mapping[str, Any], python: str, kernels: Path | None,
                       threshold: float) -> list[Verdict]:
    now = toolchain(python, kernels)
    if now == base["toolchain"]:
        current = count_all(python, kernels)
        return compare(base["instructions"], _instructions(current), "instructions", threshold)
    changed = {k: (base["toolchain"].get(k), v) for k, v in now.items()
               if base["toolchain"].get(k) != v}
    print(f"toolchain differs from the baseline's {changed}: building the baseline's kernels "
          f"(commit {base['recorded']['commit'][:12]}) and these with it", flush=True)
    with tempfile.TemporaryDirectory(prefix="gate-build-") as tmp:
        old, new = Path(tmp, "baseline"), Path(tmp, "current")
        old.mkdir()
        new.mkdir()
        with sources_at(base["recorded"]["commit"]) as ext:
            build_kernels(ext, old, python)
        build_kernels(ROOT / "ext", new, python)
        for path in built_modules(kernels).values():  # measure these builds instead
            shutil.copy2(path, new / "trackstore" / path.name)
        before = count_all(python, old)
        after = count_all(python, new)
    return compare(_instructions(before), _instructions(after), "instructions", threshold)


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def record(path: Path, python: str, kernels: Path | None, rounds: int) -> None:
    from io_checks import measure_all

    dirty = bool(_git("status", "--porcelain", "--", "ext"))
    counts = count_all(python, kernels)
    data = {
        "recorded": {
            "commit": _git("rev-parse", "HEAD"),
            "ext_dirty": dirty,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": "python benches/gate/gate.py record",
        },
        "toolchain": toolchain(python, kernels),
        "threshold": THRESHOLD,
        "instructions": {name: c.instructions for name, c in sorted(counts.items())},
        "instructions_per_item": {name: round(c.per_item, 1)
                                  for name, c in sorted(counts.items())},
        "io_threshold": IO_THRESHOLD,
        "io_ratios": {name: round(r, 3) for name, r in sorted(measure_all(rounds).items())},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")
    if dirty:
        print("warning: ext/ has uncommitted changes; commit them with the baseline, or a "
              "toolchain change will rebuild sources that differ from what was counted")


def _fraction(text: str) -> float:
    text = text.strip()
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 < value < 10:
        raise argparse.ArgumentTypeError(f"not a threshold: {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gate.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "record", "build"])
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter whose trackstore is measured")
    parser.add_argument("--kernels", type=Path, help="measure the kernels built in this dir")
    parser.add_argument("--only", choices=["instructions", "io"])
    parser.add_argument("--threshold", type=_fraction, help="instructions (default: baseline's)")
    parser.add_argument("--io-threshold", type=_fraction, help="I/O ratios (default: baseline's)")
    parser.add_argument("--io-rounds", type=int, default=200)
    parser.add_argument("--baseline", type=Path, default=BASELINE,
                        help="the baseline file (default: benches/gate/baseline.json)")
    parser.add_argument("--json", type=Path, help="check: also write the verdicts here")
    parser.add_argument("--out", type=Path, help="build: where the modules go")
    parser.add_argument("--ext", type=Path, default=ROOT / "ext",
                        help="build: the sources (default: ext/)")
    parser.add_argument("--topic", action="append", choices=TOPICS,
                        help="build: only these modules (repeatable; default: all)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))

    if shutil.which("valgrind") is None and args.command != "build":
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.command == "build":
        if args.out is None:
            parser.error("build needs --out")
        args.out.mkdir(parents=True, exist_ok=True)
        build_kernels(args.ext.resolve(), args.out.resolve(), args.python,
                      args.topic or TOPICS)
        print(f"built into {args.out}")
        return 0
    if args.command == "record":
        record(args.baseline, args.python, args.kernels, args.io_rounds)
        return 0

    base = json.loads(args.baseline.read_text())
    verdicts: list[Verdict] = []
    if args.only != "io":
        verdicts += check_instructions(base, args.python, args.kernels,
                                       args.threshold or base["threshold"])
    if args.only != "instructions":
        from io_checks import measure_all

        verdicts += compare(base["io_ratios"], measure_all(args.io_rounds), "ratio",
                            args.io_threshold or base["io_threshold"])
    print(render(verdicts))
    bad = [v.name for v in verdicts if v.regressed]
    if args.json:
        args.json.write_text(json.dumps([
            {"measure": v.name, "unit": v.unit, "baseline": v.baseline, "current": v.current,
             "change": v.change, "threshold": v.threshold, "regressed": v.regressed}
            for v in verdicts], indent=2))
    if bad:
        print(f"\n{len(bad)} regression(s): {', '.join(bad)}. If the cost is deliberate, record "
              "a new baseline (python benches/gate/gate.py record) and commit it.")
        return 1
    print(f"\nno regression ({len(verdicts)} measures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
