"""Trees for the fsck tests: MLflow-written fixtures and a trackstore-written tree, copied
fresh for each test, plus helpers to damage them and to prove nothing was lost."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from trackstore.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag
from trackstore.store.file import FileStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
#: The fixture trees MLflow wrote (the shared copy is used too when this machine has it).
MLFLOW_TREES = {"mlflow-3.17": FIXTURES / "mlruns-mlflow-3.17",
                "mlflow-2.22": FIXTURES / "mlruns-mlflow-2.22"}
_SHARED = Path("/work/shared/fixtures")
for _name in ("mlruns-mlflow-3.17", "mlruns-mlflow-2.22"):
    if (_SHARED / _name).is_dir():
        MLFLOW_TREES[f"shared-{_name[7:]}"] = _SHARED / _name
#: The trees the damage tests use; the pristine test also checks the shared copies.
TREE_KINDS = ["mlflow-3.17", "mlflow-2.22", "trackstore"]
PRISTINE_KINDS = [*MLFLOW_TREES, "trackstore"]
T0 = 1_700_000_000_000


def copy_tree(src: Path, dst: Path) -> Path:
    """A writable copy of an MLflow fixture as MLflow left it: git does not keep the empty
    ``metrics/``, ``params/`` and ``artifacts/`` folders every MLflow run has."""
    shutil.copytree(src, dst)
    for dirpath, _, _ in os.walk(dst):
        os.chmod(dirpath, 0o755)
    for meta in [*dst.glob("*/*/meta.yaml"), *dst.glob(".trash/*/*/meta.yaml")]:
        if b"\nrun_id: " not in meta.read_bytes():
            continue  # .trash/<experiment>/meta.yaml matches the first pattern too
        for sub in ("metrics", "params", "artifacts"):
            (meta.parent / sub).mkdir(exist_ok=True)
    return dst


def write_trackstore_tree(root: Path) -> None:
    """A tree written by trackstore's FileStore: two experiments of 12 runs (params, tags,
    4 metrics, a dataset input), deleted runs, a deleted experiment, and the side files a
    search leaves (run index, summaries)."""
    store = FileStore(str(root))
    try:
        experiment_ids = []
        for e, name in enumerate(["vision ☃", "text"]):
            experiment_id = store.create_experiment(name, tags=[])
            experiment_ids.append(experiment_id)
            for r in range(12):
                run = store.create_run(experiment_id, "alice", T0 + r * 1000,
                                       [RunTag("mlflow.user", "alice")], f"run-{e}-{r}")
                run_id = run.info.run_id
                metrics = [Metric(key, 0.5 * s + r, T0 + r * 1000 + s, s)
                           for key in ("loss", "acc", "train/lr", "m4") for s in range(10)]
                store.log_batch(run_id, metrics, [Param(f"p{i}", f"v{i}-λ") for i in range(4)],
                                [RunTag("t0", "x"), RunTag("note", "multi\nline")])
                if r == 0:
                    dataset = Dataset("ds", "abc123", "local", '{"uri": "x"}')
                    store.log_inputs(run_id, [DatasetInput(dataset, [
                        InputTag("mlflow.data.context", "train")])])
                if r != 11:
                    store.update_run_info(run_id, RunStatus.FINISHED, T0 + r * 1000 + 500, None)
                if r in (3, 7):
                    store.delete_run(run_id)
        store.search_runs(experiment_ids, "", 3, 1000)  # reads enough to leave summaries
        doomed = store.create_experiment("doomed", tags=[])
        run = store.create_run(doomed, "bob", T0, [], "gone")
        store.log_batch(run.info.run_id, [Metric("x", 1.0, T0, 0)], [], [])
        store.delete_experiment(doomed)
    finally:
        store.close()


@pytest.fixture(scope="session")
def _trackstore_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trackstore-tree") / "mlruns"
    write_trackstore_tree(root)
    return root


@pytest.fixture
def make_tree(tmp_path: Path, _trackstore_tree: Path) -> Callable[[str], Path]:
    """``make_tree(kind)``: a fresh copy of the tree of that kind (see TREE_KINDS)."""
    def make(kind: str) -> Path:
        dst = tmp_path / kind / "mlruns"
        if kind == "trackstore":
            shutil.copytree(_trackstore_tree, dst)
            return dst
        return copy_tree(MLFLOW_TREES[kind], dst)
    return make


def age(path: Path, seconds: float = 7200) -> None:
    """Make *path* look last written *seconds* ago (a torn tail is torn once it is old)."""
    st = path.stat()
    os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def files(root: Path) -> dict[str, bytes]:
    """Every file of the tree (quarantine archives aside) by path, with its bytes."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if not rel.startswith(".fsck-quarantine-"):
                out[rel] = path.read_bytes()
    return out


def quarantined(root: Path, archives: list[str]) -> dict[str, bytes]:
    """What the quarantine archives hold, by path in the tree."""
    out = {}
    for name in archives:
        with tarfile.open(root / name) as tar:
            for member in tar.getmembers():
                if member.name.startswith("files/"):
                    fh = tar.extractfile(member)
                    assert fh is not None
                    out[member.name[len("files/"):]] = fh.read()
    return out


def manifest(root: Path, name: str) -> bytes:
    with tarfile.open(root / name) as tar:
        fh = tar.extractfile("manifest.json")
        assert fh is not None
        return io.BytesIO(fh.read()).getvalue()


def assert_nothing_lost(before: dict[str, bytes], root: Path, archives: list[str]) -> None:
    """Every file that a repair changed or removed is in a quarantine, byte for byte."""
    after = files(root)
    saved = quarantined(root, archives)
    changed = [rel for rel, data in before.items() if after.get(rel) != data]
    for rel in changed:
        moved = [r for r, d in after.items() if d == before[rel] and r.endswith(
            "/" + rel.split("/", 1)[-1]) and r not in before]
        if moved:
            continue  # a run moved into its experiment: the same bytes, elsewhere
        assert rel in saved, f"{rel} changed but is not in the quarantine"
        assert saved[rel] == before[rel], f"the quarantine's copy of {rel} differs"
