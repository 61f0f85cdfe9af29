"""Canaries: every compiled topic is registered, and ``TRACKSTORE_IMPL`` is obeyed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import trackstore
from trackstore import _speedups

EXT = Path(__file__).resolve().parents[2] / "ext" / "trackstore"


def test_every_pyx_is_a_registered_topic() -> None:
    topics = {p.stem.removeprefix("_").removesuffix("_c") for p in EXT.glob("_*_c.pyx")}
    assert topics == set(_speedups.TOPICS)


def test_setup_py_builds_every_topic() -> None:
    setup = (EXT.parents[1] / "setup.py").read_text()
    for topic in _speedups.TOPICS:
        assert f'"trackstore._{topic}_c"' in setup


def test_status_matches_the_switch() -> None:
    status = trackstore.speedups()
    assert set(status) == set(_speedups.TOPICS)
    impl = _speedups.impl()
    if impl == "c":
        assert all(v == "c" for v in status.values()), status
    elif impl == "python":
        assert all(v == "py (TRACKSTORE_IMPL=python)" for v in status.values()), status
    else:
        assert all(v == "c" or v.startswith("py (") for v in status.values()), status


def _status_in_subprocess(value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACKSTORE_IMPL": value}
    code = "import trackstore; print(sorted(trackstore.speedups().items()))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=False)


def test_python_switch_never_loads_compiled_twins() -> None:
    result = _status_in_subprocess("python")
    assert result.returncode == 0, result.stderr
    assert "'c'" not in result.stdout


def test_invalid_switch_is_a_clear_error() -> None:
    result = _status_in_subprocess("fast")
    assert result.returncode != 0
    assert "TRACKSTORE_IMPL must be one of auto, c, python; got 'fast'" in result.stderr


def test_c_switch_fails_loudly_when_a_twin_is_missing(tmp_path: Path) -> None:
    """A stand-in package whose compiled twins are absent: ``c`` refuses, ``auto`` degrades."""
    pkg = tmp_path / "trackstore"
    pkg.mkdir()
    src = Path(trackstore.__file__).parent
    for name in ("_speedups.py", "_metrics.py", "_metrics_py.py"):
        (pkg / name).write_text((src / name).read_text())
    (pkg / "__init__.py").write_text("")
    code = ("import trackstore._metrics as m, trackstore._speedups as s; "
            "print(s.STATUS['metrics'])")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    strict = subprocess.run([sys.executable, "-c", code], env={**env, "TRACKSTORE_IMPL": "c"},
                            capture_output=True, text=True, check=False, cwd=tmp_path)
    assert strict.returncode != 0
    assert "TRACKSTORE_IMPL=c but the compiled twin of 'metrics' is unavailable" in strict.stderr
    lenient = subprocess.run([sys.executable, "-c", code],
                             env={**env, "TRACKSTORE_IMPL": "auto"}, capture_output=True,
                             text=True, check=False, cwd=tmp_path)
    assert lenient.returncode == 0, lenient.stderr
    assert lenient.stdout.startswith("py (No module named 'trackstore._metrics_c')")
