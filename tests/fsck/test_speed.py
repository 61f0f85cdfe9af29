"""How fast a check reads a big tree: ~10,000 runs (scaled by TRACKSTORE_RELIABILITY_SCALE),
each with meta.yaml, 3 metric files of 20 points, a param and a tag, as MLflow lays them
out."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests._figures import record, scaled
from trackstore import fsck

RUNS = 10_000
EXPERIMENTS = 10
T0 = 1_700_000_000_000


def _put(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.close(fd)


def _write_tree(root: Path, runs: int) -> None:
    """A tree written directly, with the fewest syscalls (a store would take far longer)."""
    os.makedirs(root / ".trash")
    history = "".join(f"{T0 + s} {0.5 * s} {s}\n" for s in range(20)).encode()
    for e in range(EXPERIMENTS):
        experiment_id = str(100_000_000_000_000_000 + e)
        exp_dir = os.path.join(root, experiment_id)
        os.mkdir(exp_dir)
        _put(os.path.join(exp_dir, "meta.yaml"), (
            f"artifact_location: file:///data/mlruns/{experiment_id}\ncreation_time: {T0}\n"
            f"experiment_id: '{experiment_id}'\nlast_update_time: {T0}\n"
            f"lifecycle_stage: active\nname: experiment {e}\n").encode())
        for r in range(e, runs, EXPERIMENTS):
            run_id = f"{r:032x}"
            run_dir = os.path.join(exp_dir, run_id)
            os.mkdir(run_dir)
            for sub in ("metrics", "params", "tags", "artifacts"):
                os.mkdir(os.path.join(run_dir, sub))
            _put(os.path.join(run_dir, "meta.yaml"), (
                f"artifact_uri: file:///data/mlruns/{experiment_id}/{run_id}/artifacts\n"
                f"end_time: {T0 + 99}\nentry_point_name: ''\nexperiment_id: '{experiment_id}'\n"
                f"lifecycle_stage: active\nrun_id: '{run_id}'\nrun_name: run-{r}\n"
                f"run_uuid: '{run_id}'\nsource_name: ''\nsource_type: 4\nsource_version: ''\n"
                f"start_time: {T0}\nstatus: 3\ntags: []\nuser_id: alice\n").encode())
            for key in ("loss", "acc", "lr"):
                _put(os.path.join(run_dir, "metrics", key), history)
            _put(os.path.join(run_dir, "params", "lr"), b"0.001")
            _put(os.path.join(run_dir, "tags", "mlflow.runName"), f"run-{r}".encode())


def test_check_of_a_big_tree(tmp_path: Path) -> None:
    runs = scaled(RUNS, minimum=200)
    root = tmp_path / "mlruns"
    _write_tree(root, runs)
    # One bad line in the middle of the last run's history: the check must find it.
    last = root / str(100_000_000_000_000_000 + (runs - 1) % EXPERIMENTS) / f"{runs - 1:032x}"
    data = (last / "metrics" / "loss").read_bytes()
    (last / "metrics" / "loss").write_bytes(data[:40] + b"\n1 x 2\n" + data[40:])
    started = time.perf_counter()
    report = fsck.check(str(root))
    seconds = time.perf_counter() - started
    assert [(f.kind, f.path) for f in report.findings] == [
        ("metric-bad-lines", last.relative_to(root).as_posix() + "/metrics/loss")]
    assert (report.runs, report.metric_files, report.experiments) == (runs, 3 * runs,
                                                                      EXPERIMENTS)
    record("fsck", "check", runs=runs, metric_files=3 * runs, files=6 * runs,
           seconds=round(seconds, 3), runs_per_s=round(runs / seconds, 1))
    assert runs / seconds > 200  # a loose floor: ~1,000/s measured on a loaded 2-core box
