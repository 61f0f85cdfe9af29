"""MLflow 2.x reads trees trackstore writes (thanks to ``run_uuid`` in run ``meta.yaml``).

MLflow 2.22 (``mlflow-skinny``, the last 2.x) runs in a virtualenv of its own (created once
and kept in the user's cache directory) and prints what it reads as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path
from typing import Any

import pytest

import trackstore
from trackstore.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

READER = r"""
import json, math, sys
from mlflow.entities import ViewType
from mlflow.store.tracking.file_store import FileStore
store = FileStore(sys.argv[1])
exps = store.search_experiments(view_type=ViewType.ALL, max_results=50000)
runs = store.search_runs([e.experiment_id for e in exps], "", ViewType.ALL, 50000)
def num(v):
    return "nan" if isinstance(v, float) and math.isnan(v) else v
out = {"experiments": sorted((e.experiment_id, e.name, e.lifecycle_stage, dict(e.tags))
                             for e in exps),
       "runs": {}}
for r in runs:
    got = store.get_run(r.info.run_id)
    out["runs"][r.info.run_id] = {
        "status": got.info.status, "stage": got.info.lifecycle_stage,
        "start": got.info.start_time, "end": got.info.end_time, "name": got.info.run_name,
        "params": got.data.params, "tags": got.data.tags,
        "metrics": {k: num(v) for k, v in got.data.metrics.items()},
        "history": {k: [[num(m.value), m.timestamp, m.step]
                        for m in store.get_metric_history(r.info.run_id, k)]
                    for k in got.data.metrics},
        "inputs": sorted(d.dataset.name for d in got.inputs.dataset_inputs)}
print(json.dumps(out, sort_keys=True))
"""


@pytest.fixture(scope="session")
def mlflow2_python() -> str:
    """A virtualenv with mlflow-skinny 2.22.0, kept in the user's cache between sessions."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    env_dir = cache / "trackstore-tests" / "mlflow-skinny-2.22.0"
    python = str(env_dir / "bin" / "python")
    ready = subprocess.run([python, "-c", "import mlflow; assert mlflow.__version__ == '2.22.0'"],
                           capture_output=True, check=False) if os.path.exists(python) else None
    if ready is not None and ready.returncode == 0:
        return python
    venv.create(env_dir, with_pip=True, clear=True)
    result = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "mlflow-skinny==2.22.0"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        if os.environ.get("TRACKSTORE_REQUIRE_MLFLOW") == "1":
            raise AssertionError(f"cannot install mlflow-skinny 2.22.0:\n{result.stderr}")
        pytest.skip(f"cannot install mlflow-skinny 2.22.0: {result.stderr.strip()[-300:]}")
    return python


def test_mlflow_2_reads_what_trackstore_wrote(mlflow2_python: str, tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    client = trackstore.TrackingClient(str(root))
    exp = client.create_experiment("two-ex ☃", tags={"team": "a"})
    run = client.create_run(exp, run_name="r1")
    rid = run.info.run_id
    client.log_batch(rid, metrics=[Metric("loss", 1.0 / (s + 1), 1700000000000 + s, s)
                                   for s in range(50)] + [Metric("nan", float("nan"), 1, 0)],
                     params=[Param("lr", "0.1")], tags=[RunTag("note", "ünïcode")])
    client.log_inputs(rid, [DatasetInput(Dataset("ds", "d1", "local", "{}"),
                                         [InputTag("mlflow.data.context", "train")])])
    client.set_terminated(rid)
    deleted = client.create_run(exp).info.run_id
    client.delete_run(deleted)
    client.store.close()

    result = subprocess.run([mlflow2_python, "-c", READER, str(root)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    seen: dict[str, Any] = json.loads(result.stdout)
    assert ["0", "Default", "active", {}] in seen["experiments"]
    assert [exp, "two-ex ☃", "active", {"team": "a"}] in seen["experiments"]
    got = seen["runs"][rid]
    assert (got["status"], got["stage"], got["name"]) == ("FINISHED", "active", "r1")
    assert got["params"] == {"lr": "0.1"} and got["tags"]["note"] == "ünïcode"
    assert got["metrics"] == {"loss": 1.0 / 50, "nan": "nan"}
    assert got["history"]["loss"] == [[1.0 / (s + 1), 1700000000000 + s, s] for s in range(50)]
    assert got["inputs"] == ["ds"]
    assert seen["runs"][deleted]["stage"] == "deleted"
