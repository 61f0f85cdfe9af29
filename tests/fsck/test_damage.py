"""Every finding kind, planted into MLflow-written and trackstore-written trees: the check
reports exactly what was planted, the repair fixes what it can without losing a byte, leaves
the rest untouched, is idempotent, and trackstore reads the repaired tree."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fsck.conftest import (
    TREE_KINDS,
    age,
    assert_nothing_lost,
    dead_pid,
    files,
    quarantined,
)
from trackstore import fsck
from trackstore.entities import ViewType
from trackstore.store.file import FileStore

E_ID = "222222222222222222"


@dataclass
class Planted:
    """What was damaged, and what the repaired tree must show."""

    root: Path
    expected: set[tuple[str, str, bool]] = field(default_factory=set)
    originals: dict[str, bytes] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, path: Path, repairable: bool) -> None:
        self.expected.add((kind, path.relative_to(self.root).as_posix(), repairable))


def _runs(experiment: Path) -> list[Path]:
    """The experiment's runs, those with metric histories first."""
    def poor(run: Path) -> bool:
        return not any(m.read_bytes().count(b"\n") >= 3 for m in _metric_files(run))
    return sorted((p.parent for p in experiment.glob("*/meta.yaml")),
                  key=lambda run: (poor(run), run.name))


def _metric_files(run: Path) -> list[Path]:
    return sorted(p for p in (run / "metrics").rglob("*") if p.is_file())


def _points(data: bytes) -> list[tuple[int, float, int]]:
    """The points of a well-formed metric file, parsed independently of trackstore."""
    out = []
    for line in data.decode().splitlines():
        ts, value, step = line.split(" ")[:3]
        out.append((int(ts), float(value), int(step)))
    return out


def _field(meta: bytes, key: str) -> bytes:
    found = re.search(rb"^" + key.encode() + rb": (.*)$", meta, re.M)
    assert found is not None, key
    return found.group(1)


def plant(root: Path) -> Planted:
    p = Planted(root)
    exp_a, exp_b = sorted(d.name for d in root.iterdir()
                          if d.is_dir() and d.name.isdigit() and d.name != "0")[:2]
    A, B = root / exp_a, root / exp_b
    a, b = _runs(A), _runs(B)
    dead = dead_pid()
    p.names.update(A=exp_a, B=exp_b, a0=a[0].name, a1=a[1].name, a3=a[3].name,
                   a4=a[4].name, a6=a[6].name, a7=a[7].name, a8=a[8].name, a9=a[9].name,
                   b1=b[1].name, b4=b[4].name, b5=b[5].name)
    # Metric files: a torn tail, malformed lines in the middle, an empty file.
    torn = next(m for m in _metric_files(a[0]) if m.read_bytes().count(b"\n") >= 3)
    p.originals["torn"] = torn.read_bytes()
    torn.write_bytes(torn.read_bytes() + b"1700000009999 0.2")
    age(torn)
    p.add("metric-torn-tail", torn, True)
    p.names["torn"] = torn.relative_to(a[0] / "metrics").as_posix()
    bad = next(m for m in _metric_files(a[1]) if m.read_bytes().count(b"\n") >= 3)
    p.originals["bad"] = bad.read_bytes()
    first, rest = bad.read_bytes().split(b"\n", 1)
    bad.write_bytes(first + b"\ngarbage\n1700000000001 abc 3\n1700000000001 0.5 x\n1 2 3 4\n\n"
                    + rest)
    p.add("metric-bad-lines", bad, True)
    p.names["bad"] = bad.relative_to(a[1] / "metrics").as_posix()
    empty = a[2] / "metrics" / "empty_metric"
    empty.write_bytes(b"")
    p.add("metric-empty", empty, True)
    # Run meta.yaml: empty, cut short by a crash, not a mapping, wrong fields, missing.
    (a[3] / "meta.yaml").write_bytes(b"")
    p.add("run-meta-invalid", a[3] / "meta.yaml", True)
    meta4 = (a[4] / "meta.yaml").read_bytes()
    p.originals["a4"] = meta4
    (a[4] / "meta.yaml").write_bytes(meta4[: meta4.index(b"\nend_time: ") + 8])
    p.add("run-meta-invalid", a[4] / "meta.yaml", True)
    (a[5] / "meta.yaml").write_bytes(b"- just\n- a list\n")
    p.add("run-meta-invalid", a[5] / "meta.yaml", True)
    meta6 = (a[6] / "meta.yaml").read_bytes()
    p.originals["a6"] = meta6
    damaged = re.sub(rb"\nstatus: \d+", b"\nstatus: done", meta6)
    (a[6] / "meta.yaml").write_bytes(re.sub(rb"\nstart_time: [^\n]*", b"", damaged))
    p.add("run-meta-invalid", a[6] / "meta.yaml", True)
    p.originals["a7-name"] = (a[7] / "tags" / "mlflow.runName").read_bytes()
    p.originals["a7-metrics"] = b"".join(m.read_bytes() for m in _metric_files(a[7]))
    (a[7] / "meta.yaml").unlink()
    p.add("run-meta-missing", a[7] / "meta.yaml", True)
    # Ids: a run copied under a new id, a run at the root, runs moved between experiments.
    copy = A / ("f" * 32)
    shutil.copytree(a[8], copy)
    p.add("run-id-mismatch", copy / "meta.yaml", True)
    shutil.move(a[9], root / a[9].name)
    p.add("misplaced-run", root / a[9].name, True)
    shutil.move(b[0], A / b[0].name)
    p.add("run-experiment-mismatch", A / b[0].name / "meta.yaml", True)
    shutil.copytree(b[1], A / b[1].name)
    p.add("run-experiment-mismatch", A / b[1].name / "meta.yaml", True)
    p.add("duplicate-run-id", A / b[1].name, False)
    p.add("duplicate-run-id", b[1], False)
    E = root / E_ID
    E.mkdir()
    for run in (b[4], b[5]):
        shutil.move(run, E / run.name)
        p.add("run-experiment-mismatch", E / run.name / "meta.yaml", True)
    p.add("experiment-meta-missing", E / "meta.yaml", True)
    # Keys and values only a person can fix.
    (a[10] / "params" / "bad!key").write_bytes(b"1")
    p.add("bad-key-name", a[10] / "params" / "bad!key", False)
    (a[10] / "params" / "latin").write_bytes(b"caf\xe9")
    p.add("value-not-utf8", a[10] / "params" / "latin", False)
    inputs = b[2] / "inputs" / ("0" * 32)
    inputs.mkdir(parents=True)
    (inputs / "meta.yaml").write_bytes(b"")
    p.add("yaml-invalid", inputs / "meta.yaml", False)
    # Folders: a run without artifacts/, orphans, an empty run folder, a stray root folder.
    shutil.rmtree(a[11] / "artifacts")
    p.add("run-dirs-missing", a[11], True)
    (B / "notes").mkdir()
    (B / "notes" / "readme.txt").write_text("keep me")
    p.add("orphan-dir", B / "notes", False)
    (B / ("e" * 32) / "metrics").mkdir(parents=True)
    p.add("empty-dir", B / ("e" * 32), True)
    (root / ".ipynb_checkpoints").mkdir()
    (root / ".ipynb_checkpoints" / "x.txt").write_text("not mine")
    p.add("stray-dir", root / ".ipynb_checkpoints", False)
    # Experiment meta.yaml: wrong id, a name taken, wrong stage, empty, missing.
    meta_a = (A / "meta.yaml").read_bytes()
    p.originals["B-location"] = _field((B / "meta.yaml").read_bytes(), "artifact_location")
    name_line = re.search(rb"^name: [^\n]*$", meta_a, re.M)
    assert name_line is not None
    meta_b = re.sub(rb"^experiment_id: [^\n]*$", b"experiment_id: '999'",
                    (B / "meta.yaml").read_bytes(), flags=re.M)
    (B / "meta.yaml").write_bytes(re.sub(rb"^name: [^\n]*$", name_line.group(0), meta_b,
                                         flags=re.M))
    p.add("experiment-id-mismatch", B / "meta.yaml", True)
    p.add("duplicate-experiment-name", A, False)
    p.add("duplicate-experiment-name", B, False)
    (A / "meta.yaml").write_bytes(meta_a.replace(b"lifecycle_stage: active",
                                                 b"lifecycle_stage: deleted"))
    p.add("experiment-stage-mismatch", A / "meta.yaml", True)
    trashed = sorted((root / ".trash").iterdir())[0]
    p.names["T"] = trashed.name
    (trashed / "meta.yaml").write_bytes(b"")
    p.add("experiment-meta-invalid", trashed / "meta.yaml", True)
    (root / "0" / "meta.yaml").unlink()
    p.add("experiment-meta-missing", root / "0" / "meta.yaml", True)
    # Leftovers and side files.
    temp = a[11] / f".meta.yaml.{dead}.0badc0de.tmp"
    temp.write_bytes(b"artifact_uri: fi")
    p.add("temp-file", temp, True)
    mlflow_temp = A / "tmpab12cd34file.yaml"
    mlflow_temp.write_bytes(b"name: x\n")
    age(mlflow_temp)
    p.add("temp-file", mlflow_temp, True)
    root_temp = root / f".trackstore-run-index.{dead}.0badc0de.tmp"
    root_temp.write_bytes(b"x")
    p.add("temp-file", root_temp, True)
    with open(root / ".trackstore-run-index", "ab") as index:
        index.write(b"d" * 32 + b" 123\n")
    p.add("stale-side-file", root / ".trackstore-run-index", True)
    (root / ".trackstore-summary-424242").write_bytes(b"{}")
    p.add("stale-side-file", root / ".trackstore-summary-424242", True)
    (root / f".trackstore-gc-{dead}-abcd").write_bytes(b"x/y\n")
    p.add("gc-journal", root / f".trackstore-gc-{dead}-abcd", False)
    return p


def _kinds(findings: list[fsck.Finding]) -> set[tuple[str, str, bool]]:
    return {(f.kind, f.path, f.repairable) for f in findings}


@pytest.mark.parametrize("kind", TREE_KINDS)
def test_every_kind_is_found_and_repaired_without_loss(
        kind: str, make_tree: Callable[[str], Path]) -> None:
    root = make_tree(kind)
    p = plant(root)
    assert {k for k, _, _ in p.expected} == set(fsck.KINDS) - {"bad-run-dir-name",
                                                               "duplicate-experiment-id"}
    report = fsck.check(str(root))
    assert _kinds(report.findings) == p.expected
    before = files(root)

    repaired = fsck.repair(str(root))
    unrepairable = {e for e in p.expected if not e[2]}
    assert _kinds(repaired.findings) == unrepairable
    fixed = {(k, path, True) for k, path, _ in _kinds(repaired.repaired)}
    assert fixed == p.expected - unrepairable
    assert_nothing_lost(before, root, repaired.quarantine)
    for kind_, path, _ in unrepairable:  # what only a person can fix is left as it was
        if (root / path).is_file():
            assert (root / path).read_bytes() == before[path], (kind_, path)
    assert (root / p.names["B"] / "notes" / "readme.txt").read_text() == "keep me"

    again = fsck.repair(str(root))  # idempotent: nothing left to do, nothing written
    assert again.repaired == [] and again.quarantine == []
    assert _kinds(again.findings) == unrepairable
    _check_repaired_tree(p)


def _check_repaired_tree(p: Planted) -> None:
    root, names = p.root, p.names
    A = root / names["A"]
    saved = quarantined(root, [n for n in (f.name for f in root.iterdir())
                               if n.startswith(".fsck-quarantine-")])
    store = FileStore(str(root))
    try:
        experiments = {e.experiment_id: e for e in store.search_experiments(ViewType.ALL)}
        assert experiments["0"].name == "Default"
        assert experiments[names["A"]].lifecycle_stage == "active"
        assert experiments[names["B"]].experiment_id == names["B"]
        assert experiments[E_ID].name == f"recovered-{E_ID}"
        assert experiments[E_ID].artifact_location.encode() == p.originals["B-location"]
        trashed = experiments[names["T"]]
        assert trashed.lifecycle_stage == "deleted" and trashed.name == f"recovered-{names['T']}"
        runs = store.search_runs(list(experiments), "", ViewType.ALL, 10000)
        on_disk = {m.parent.name for m in [*root.glob("*/*/meta.yaml"),
                                           *root.glob(".trash/*/*/meta.yaml")]
                   if m.parent.parent.name != ".trash"}
        assert {r.info.run_id for r in runs} == on_disk
        for run_id in on_disk:
            store.get_run(run_id)
        assert (A / names["a9"] / "meta.yaml").is_file()  # the misplaced run is home
        assert {r.info.experiment_id for r in runs
                if r.info.run_id in (names["b4"], names["b5"])} == {E_ID}

        torn = store.get_metric_history(names["a0"], names["torn"])
        assert [(m.timestamp, m.value, m.step) for m in torn] == _points(p.originals["torn"])
        bad = store.get_metric_history(names["a1"], names["bad"])
        assert [(m.timestamp, m.value, m.step) for m in bad] == _points(p.originals["bad"])

        rebuilt = store.get_run(names["a7"]).info
        stamps = [ts for ts, _, _ in _points(p.originals["a7-metrics"])]
        assert rebuilt.start_time == min(stamps) and rebuilt.end_time == max(stamps)
        assert rebuilt.status == "KILLED" and rebuilt.lifecycle_stage == "active"
        assert rebuilt.run_name == p.originals["a7-name"].decode()
        assert rebuilt.artifact_uri.endswith(f"/{names['a7']}/artifacts")
        salvaged = store.get_run(names["a4"]).info
        assert salvaged.artifact_uri.encode() == _field(p.originals["a4"], "artifact_uri")
        kept = store.get_run(names["a6"]).info
        assert kept.run_name.encode() == _field(p.originals["a6"], "run_name")
        end = _field(p.originals["a6"], "end_time")  # kept when valid, else derived
        assert str(kept.end_time).encode() == end if end != b"null" else kept.end_time
        assert kept.status == "KILLED"
        copy = store.get_run("f" * 32)
        assert copy.data.params == store.get_run(names["a8"]).data.params
    finally:
        store.close()
    assert saved[f"{names['A']}/{names['a3']}/meta.yaml"] == b""

