"""No false positives: trees as MLflow and trackstore write them are clean, and a check
reads without writing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fsck.conftest import PRISTINE_KINDS, files
from trackstore import fsck


@pytest.mark.parametrize("kind", PRISTINE_KINDS)
def test_pristine_tree_is_clean_and_untouched(kind: str,
                                              make_tree: Callable[[str], Path]) -> None:
    root = make_tree(kind)
    before = files(root)
    report = fsck.check(str(root))
    assert report.findings == []
    assert report.clean
    assert report.experiments >= 4 and report.runs >= 25 and report.metric_files >= 90
    repaired = fsck.repair(str(root))
    assert repaired.clean and repaired.repaired == [] and repaired.quarantine == []
    assert files(root) == before  # neither check nor a repair with nothing to do writes


def test_trackstore_tree_has_its_side_files(make_tree: Callable[[str], Path]) -> None:
    """The trackstore tree really carries the side files the check must accept."""
    root = make_tree("trackstore")
    names = {p.name for p in root.iterdir()}
    assert ".trackstore-run-index" in names
    assert any(n.startswith(".trackstore-summary-") for n in names)
    assert list(root.glob("*/*/inputs/*/meta.yaml")) and list(root.glob("*/datasets/*/meta.yaml"))


def test_tree_copied_without_empty_folders_is_repaired(tmp_path: Path) -> None:
    """A tree copied through git (the fixtures as stored) lacks the empty artifacts/
    folders: MLflow >= 3.8 cannot get those runs by id; the repair creates the folders."""
    import shutil

    from tests.fsck.conftest import MLFLOW_TREES

    root = tmp_path / "mlruns"
    shutil.copytree(MLFLOW_TREES["mlflow-3.17"], root)
    report = fsck.check(str(root))
    assert report.findings and {f.kind for f in report.findings} == {"run-dirs-missing"}
    assert all(f.repairable for f in report.findings)
    repaired = fsck.repair(str(root))
    assert repaired.clean and len(repaired.repaired) == len(report.findings)
    assert all((root / f.path / "artifacts").is_dir() for f in report.findings)
