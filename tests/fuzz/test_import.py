"""Fuzzing the importer with corrupted ``mlruns`` trees (``trackstore.transfer.run_import``).

Each trial copies one of the fixture trees MLflow wrote and damages it, drawn from the trial's
seed: files cut short, bytes flipped, files deleted, ``meta.yaml`` emptied or replaced with
invalid YAML, invalid UTF-8, a run id that is not its folder's, symlinks (to files outside the
tree, to directories, dangling, to themselves), a huge line, a directory where a file belongs.
Then it imports the tree into a fresh SQLite store, with a time bound.

Properties: the import ends (within the bound) and raises nothing but ``TrackstoreError``; the
store holds exactly the runs the summary says were imported, all of them runs of the source;
every run whose folder and experiment were not touched is imported intact (equal to the
untouched tree's import); the points of every imported metric are the valid lines of its
(damaged) file; a damaged part that was not imported is reported as a problem.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests._figures import record, scaled
from tests.transfer.conftest import snapshot_of
from trackstore import _metrics_py
from trackstore.exceptions import TrackstoreError
from trackstore.store.sql.engine import dispose_engines
from trackstore.transfer import run_import

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TREES = [FIXTURES / "mlruns-mlflow-3.17", FIXTURES / "mlruns-mlflow-2.22",
         *sorted(Path("/work/shared/fixtures").glob("mlruns-*"))]
#: The most one import of a (small, damaged) fixture tree may take on a loaded machine.
IMPORT_SECONDS = 60.0
TRIALS = 24

ACTIONS = ["truncate", "flip", "delete", "empty_meta", "invalid_meta", "bad_utf8", "wrong_id",
           "symlink_outside", "symlink_dir", "dangling_symlink", "symlink_loop", "huge_line",
           "dir_for_file", "metric_garbage"]


def _runs_of(tree: Path) -> dict[str, Path]:
    """Run folders of *tree* by run id (folder name), the trash's included."""
    return {run.name: run for run in tree.rglob("*")
            if _is_run_id(run.name) and run.is_dir() and not run.is_symlink()}


def _is_run_id(name: str) -> bool:
    return len(name) == 32 and all(c in "0123456789abcdef" for c in name)


def _owner(tree: Path, target: Path) -> Path:
    """The run folder *target* belongs to, else its experiment folder."""
    rel = target.relative_to(tree).parts
    for i, part in enumerate(rel[:-1]):
        if _is_run_id(part):
            return tree.joinpath(*rel[:i + 1])
    return tree.joinpath(*rel[:2]) if rel[0] == ".trash" and len(rel) > 2 else tree / rel[0]


def corrupt(tree: Path, rng: random.Random, outside: Path) -> tuple[set[Path], list[str]]:
    """Damage *tree*; returns the folders touched (a run folder, or an experiment folder when
    its own files were) and what was done."""
    touched: set[Path] = set()
    done: list[str] = []
    files = sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
    for _ in range(rng.randint(1, 4)):
        action = rng.choice(ACTIONS)
        if action in ("empty_meta", "invalid_meta", "wrong_id"):
            candidates = [p for p in files if p.name == "meta.yaml" and p.exists()]
        elif action in ("huge_line", "metric_garbage"):
            candidates = [p for p in files if "metrics" in p.parts and p.exists()]
        else:
            candidates = [p for p in files if p.exists()]
        if not candidates:
            continue
        target = rng.choice(candidates)
        data = target.read_bytes()
        if action == "truncate":
            target.write_bytes(data[:rng.randint(0, max(0, len(data) - 1))])
        elif action == "flip" and data:
            at = rng.randrange(len(data))
            target.write_bytes(data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))])
                               + data[at + 1:])
        elif action == "delete":
            target.unlink()
        elif action == "empty_meta":
            target.write_bytes(b"")
        elif action == "invalid_meta":
            target.write_bytes(rng.choice([b"a: [\n", b"- 1\n- 2\n", b"&x a: *x\n", b"\x00\x01",
                                           b"name: !!python/object:os.system x\n",
                                           b"experiment_id: {}\nname: []\n", b"---\n---\n"]))
        elif action == "bad_utf8":
            target.write_bytes(data[:len(data) // 2] + b"\xff\xfe\xc3" + data[len(data) // 2:])
        elif action == "wrong_id":
            run_id = target.parent.name
            target.write_bytes(data.replace(run_id.encode(), b"f" * 32)
                               .replace(b"experiment_id: '", b"experiment_id: '9"))
        elif action in ("symlink_outside", "symlink_dir", "dangling_symlink", "symlink_loop"):
            target.unlink()
            link = {"symlink_outside": outside / "secret.txt", "symlink_dir": outside,
                    "dangling_symlink": outside / "missing", "symlink_loop": target}[action]
            os.symlink(link, target)
        elif action == "huge_line":
            target.write_bytes(data + b"1700000000000 " + b"9" * 2_000_000 + b" 0\n")
        elif action == "dir_for_file":
            target.unlink()
            target.mkdir()
            (target / "inner").write_bytes(b"x")
        elif action == "metric_garbage":
            target.write_bytes(data + rng.choice([b"nan nan nan\n", b"1 2 3 4\n", b"1 x 2\n",
                                                  b"\n\n", b"1 1e999 1\n", b"-1 -0.0 -1\n",
                                                  b"1 2 3 ds \xff\n", b"12 0.5"]))
        else:
            continue
        done.append(f"{action} {target.relative_to(tree)}")
        touched.add(_owner(tree, target))
    return touched, done


def _points(path: Path) -> set[tuple[Any, ...]] | None:
    """The valid points of a metric file as the snapshot shows them (None: not a plain file)."""
    if path.is_symlink() or not path.is_file():
        return None
    parsed = _metrics_py.parse(path.read_bytes())
    datasets = {row: (name, digest) for row, name, digest in parsed.datasets}
    return {(step, ts, repr("NaN" if math.isnan(value) else value), *datasets.get(i, ("", "")))
            for i, (ts, value, step) in enumerate(zip(parsed.timestamps, parsed.values,
                                                      parsed.steps, strict=True))}


def _import(source: Path, uri: str) -> Any:
    """run_import in a thread, so that a hang fails the test instead of stalling it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(run_import, str(source), uri, jobs=2)
        try:
            return future.result(timeout=IMPORT_SECONDS)
        except concurrent.futures.TimeoutError:
            raise AssertionError(f"the import of {source} hangs") from None


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, dict[str, Any]]:
    """Each fixture tree imported intact: what an untouched run must look like."""
    root = tmp_path_factory.mktemp("import-originals")
    found = {}
    for i, tree in enumerate(TREES):
        uri = f"sqlite:///{root / f'original-{i}.db'}"
        summary, _ = run_import(str(tree), uri, jobs=2)
        assert summary.problems == [] and summary.runs_imported == summary.runs_total
        found[tree] = snapshot_of(uri)
    dispose_engines()
    return found


def _runs(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {run_id: (name, run) for name, e in snapshot.items()
            for run_id, run in e["runs"].items()}


def test_corrupted_trees_import_what_is_sound_and_report_the_rest(
        originals: dict[Path, dict[str, Any]], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"1700000000000 4242.4242 0\n")
    trials = scaled(TRIALS, minimum=4)
    refused = problems = intact_runs = damaged_imported = metrics_compared = 0
    started = time.perf_counter()
    for trial in range(trials):
        rng = random.Random(f"trackstore-import-{trial}")
        fixture = TREES[trial % len(TREES)]
        source = tmp_path / f"src-{trial}"
        shutil.copytree(fixture, source, symlinks=True)
        touched, done = corrupt(source, rng, outside)
        uri = f"sqlite:///{tmp_path / f'dest-{trial}.db'}"
        where = f"trial {trial} ({fixture.name}): {done}"
        try:
            summary, _ = _import(source, uri)
        except TrackstoreError:
            refused += 1
            shutil.rmtree(source)
            continue
        problems += len(summary.problems)
        imported = _runs(snapshot_of(uri))
        original = _runs(originals[fixture])
        source_runs = _runs_of(source)
        assert len(imported) == summary.runs_imported, where
        assert set(imported) <= set(original), where
        reported = "\n".join(f"{w}: {r}" for w, r in summary.problems)
        for run_id, (experiment, run) in original.items():
            run_dir = source_runs.get(run_id)
            damaged = run_dir is None or run_dir in touched or run_dir.parent in touched
            if not damaged:
                assert run_id in imported, f"{where}: untouched run {run_id} not imported"
                assert imported[run_id] == (experiment, run), f"{where}: run {run_id} differs"
                intact_runs += 1
                continue
            if run_id not in imported:
                assert run_dir is None or str(run_dir) in reported or \
                    str(run_dir.parent) in reported, f"{where}: {run_id} dropped silently"
                continue
            # a damaged run that was imported: each metric holds its file's valid points
            damaged_imported += 1
            for key, history in imported[run_id][1]["history"].items():
                points = _points(run_dir / "metrics" / key)
                if points is not None:
                    assert set(map(tuple, history)) == points, f"{where}: {run_id} {key}"
                    metrics_compared += 1
            # and nothing was read through a symlink out of the tree
            assert "4242.4242" not in repr(imported[run_id]), where
        shutil.rmtree(source)
        dispose_engines()
    assert refused < trials, "every damaged tree was refused whole"
    assert damaged_imported > 0 and metrics_compared > 0
    record("fuzz", "import_corrupted_trees", inputs=trials, refused=refused, problems=problems,
           intact_runs=intact_runs, damaged_runs_imported=damaged_imported,
           damaged_metrics_compared=metrics_compared, tool="seeded random", seconds=round(
               time.perf_counter() - started, 1))
