"""Fuzzing the metric-file parser and the ``meta.yaml`` loader, both twins against each other.

* hypothesis: real files of the fixture trees, corrupted (bytes flipped, inserted and deleted,
  cut short, lines duplicated and spliced across files, invalid UTF-8, control characters);
  the twins give the same result, or the same documented error (``MalformedYamlError`` with
  the same message; the metric parser never raises for bytes), never another exception.
  ``tests/speedups`` already crosses the twins on generated input; these inputs start from
  files MLflow wrote.
* atheris (libFuzzer, coverage-guided): ``atheris_twins.py`` runs the same comparison in a
  subprocess, seeded with the fixture files; the test asserts exit status 0 and reads the
  number of inputs from libFuzzer's ``Done N runs`` line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._figures import record, scale, scaled
from trackstore import _metrics_py, _yamlio_py

from ._twins import compare

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
TREES = [FIXTURES / "mlruns-mlflow-3.17", FIXTURES / "mlruns-mlflow-2.22",
         *sorted(Path("/work/shared/fixtures").glob("mlruns-*"))]


def _files(kind: str) -> list[bytes]:
    found: dict[bytes, None] = {}
    for tree in TREES:
        paths = (tree.rglob("meta.yaml") if kind == "yamlio"
                 else (p for p in tree.rglob("*") if p.is_file() and "metrics" in p.parts))
        for path in sorted(paths):
            found[path.read_bytes()[:4000]] = None
    return list(found)


SEEDS = {"metrics": _files("metrics"), "yamlio": _files("yamlio")}


def compiled_twin(target: str) -> ModuleType:
    """The compiled twin; a missing one skips only where TRACKSTORE_IMPL allows it."""
    from tests.conftest import load_twin

    return load_twin(target, "c")


@st.composite
def corrupted(draw: st.DrawFn, target: str) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS[target])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut", "line", "splice"]))
        if action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(st.sampled_from([
                b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x85", b"\r", b"\n", b"\t", b" ",
                b": ", b"- ", b"'", b'"', b"\\", b"&a ", b"*a", b"!!str ", b"<<: ", b"{", b"[",
                b"---\n", b"...\n", b"%YAML 1.1\n", b"nan", b"-inf", b"1e999", b"9" * 30,
                b"\xef\xbb\xbf", b"  ", b"#", b"|-\n", b">+\n"]))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        elif action == "cut":
            del data[at:]
        elif action == "line":
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
        else:
            other = draw(st.sampled_from(SEEDS[target]))
            data[at:] = other[draw(st.integers(0, len(other))):]
    return bytes(data)


@pytest.mark.c_ext
@pytest.mark.parametrize("target", ["metrics", "yamlio"])
def test_twins_agree_on_corrupted_real_files(target: str) -> None:
    c = compiled_twin(target)
    py = _metrics_py if target == "metrics" else _yamlio_py
    tried = 0
    started = time.perf_counter()

    @settings(max_examples=scaled(800), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=corrupted(target))
    def check(data: bytes) -> None:
        nonlocal tried
        tried += 1
        compare(py, c, target, data)

    for seed in SEEDS[target]:  # the real files themselves, intact
        compare(py, c, target, seed)
    check()
    record("fuzz", f"{target}_twins", inputs=tried + len(SEEDS[target]), tool="hypothesis",
           seconds=round(time.perf_counter() - started, 1))


@pytest.mark.parametrize("target", ["metrics", "yamlio"])
def test_pure_twin_raises_only_the_documented_error(target: str) -> None:
    """In the pure-Python pass there is no compiled twin to compare with: the pure twin alone
    must still give a result or the documented error."""
    from ._twins import metrics_outcome, yaml_outcome

    run = metrics_outcome if target == "metrics" else yaml_outcome
    py = _metrics_py if target == "metrics" else _yamlio_py
    tried = 0

    @settings(max_examples=scaled(200), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.one_of(corrupted(target), st.binary(max_size=200)))
    def check(data: bytes) -> None:
        nonlocal tried
        tried += 1
        run(py, data)

    check()
    record("fuzz", f"{target}_pure", inputs=tried, tool="hypothesis")


DONE = re.compile(r"^Done (\d+) runs in (\d+) second", re.MULTILINE)


@pytest.mark.c_ext
@pytest.mark.parametrize("target", ["metrics", "yamlio"])
def test_atheris_finds_no_difference_between_the_twins(target: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris is an optional fuzzing tool")
    compiled_twin(target)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(SEEDS[target]):
        (corpus / f"seed-{i}").write_bytes(seed)
    runs = scaled(15_000, minimum=200)
    seconds = max(5, round(15 * scale()))
    command = [sys.executable, str(HERE / "atheris_twins.py"), target, f"-runs={runs}",
               f"-max_total_time={seconds}", "-seed=20260601", "-rss_limit_mb=1024",
               "-timeout=10", f"-artifact_prefix={tmp_path}/", str(corpus)]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120,
                            cwd=tmp_path, env=env, check=False)
    elapsed = time.perf_counter() - started
    log = result.stderr + result.stdout
    crashes = sorted(p.name for p in tmp_path.glob("crash-*")) + sorted(
        p.name for p in tmp_path.glob("timeout-*"))
    assert result.returncode == 0 and not crashes, (
        f"exit {result.returncode}, {crashes}:\n{log[-4000:]}")
    done = DONE.search(log)
    assert done is not None, log[-2000:]
    inputs = int(done.group(1))
    assert inputs > 0
    record("fuzz", f"{target}_atheris", inputs=inputs, tool="atheris",
           seconds=round(elapsed, 1), corpus_after=len(list(corpus.iterdir())))
    shutil.rmtree(corpus)


def test_the_seed_files_are_there() -> None:
    """A fuzz target without seeds would fuzz from nothing and prove much less."""
    assert len(SEEDS["metrics"]) >= 20 and len(SEEDS["yamlio"]) >= 20
