"""``trackstore fsck`` as a command: exit status 0 clean / 1 problems left / 2 not a tree or
bad usage, text and --json output, --repair."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from tests.fsck.conftest import age, files
from trackstore.cli import main


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _fsck(*args: str) -> _Result:
    """The command, run in this process (click's runner: exit status and both streams)."""
    result = CliRunner().invoke(main, ["fsck", *args])
    return _Result(result.exit_code, result.stdout, result.stderr)


def _fsck_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: a new process."""
    return subprocess.run([sys.executable, "-c", "from trackstore.cli import main; main()",
                           "fsck", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_exit_codes_text_and_json(make_tree: Callable[[str], Path], tmp_path: Path) -> None:
    root = make_tree("mlflow-3.17")
    clean = _fsck(str(root))
    assert clean.returncode == 0, clean.stderr
    assert "clean" in clean.stdout and clean.stderr == ""

    metric = sorted(root.glob("*/*/metrics/m1"))[0]
    metric.write_bytes(metric.read_bytes() + b"1700000000000 0.")
    age(metric)
    (root / "stray dir").mkdir()
    before = files(root)
    found = _fsck_process("--json", str(root))
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["clean"] is False and report["repaired"] == []
    kinds = {(f["kind"], f["repairable"]) for f in report["findings"]}
    assert kinds == {("metric-torn-tail", True), ("stray-dir", False)}
    assert report["checked"]["runs"] == 27
    assert files(root) == before  # a check writes nothing

    text = _fsck(str(root))
    assert text.returncode == 1
    assert "metric-torn-tail" in text.stdout and "can be repaired with --repair" in text.stdout

    repaired = _fsck("--repair", "--json", str(root))
    assert repaired.returncode == 1  # the stray directory is left for a person
    out = json.loads(repaired.stdout)
    assert [f["kind"] for f in out["repaired"]] == ["metric-torn-tail"]
    assert [f["kind"] for f in out["findings"]] == ["stray-dir"]
    assert len(out["quarantine"]) == 1 and (root / out["quarantine"][0]).is_file()

    (root / "stray dir").rmdir()
    assert _fsck("--repair", str(root)).returncode == 0
    assert _fsck(str(root)).returncode == 0


def test_not_a_tree_and_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = _fsck_process(str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "RESOURCE_DOES_NOT_EXIST" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    not_tree = _fsck("--repair", str(tmp_path / "empty"))
    assert not_tree.returncode == 2 and "not an mlruns tree" in not_tree.stderr
    assert [p.name for p in (tmp_path / "empty").iterdir()] == ["notes.txt"]
    a_file = _fsck(str(tmp_path / "empty" / "notes.txt"))
    assert a_file.returncode == 2 and "INVALID_PARAMETER_VALUE" in a_file.stderr
    assert _fsck().returncode == 2
    assert _fsck("--bogus", str(tmp_path)).returncode == 2
