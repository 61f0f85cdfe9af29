"""Garbage collection: ``trackstore gc`` against ``mlflow gc`` on the same deleted runs.

The data: one experiment of deleted runs (10,000 timed; 20 untimed, when CI runs the
benchmarks as tests), each with 4 params, 2 tags, 2 metrics of 10 points and one artifact
file, deleted with a ``deleted_time``, and one active run that must survive. It is made once
per session as an ``mlruns`` tree (MLflow's layout, by trackstore's file store), then:

* ``test_gc_file_store[<runs>-trackstore]`` / ``[<runs>-mlflow]``: each command on a fresh
  copy of the tree. One ``mlflow gc`` removes at most 1000 runs of a file store (it lists them
  with ``search_runs``' default page size): its row is per run removed (``runs_per_call``);
* ``test_gc_sqlite[<runs>-trackstore]`` / ``[<runs>-mlflow]``: each command on a fresh copy of
  its own library's SQLite database holding the same runs (trackstore's made by ``trackstore
  import`` from the tree, MLflow's by ``mlflow migrate-filestore``); the artifacts are in the
  tree.

Each round restores the data first (untimed); the timed call is the command line in-process
(``mlflow gc`` with ``MLFLOW_TRACKING_URI`` set, as it demands). After the call every deleted
run must be gone, metadata and artifacts, and the active run still there.

    python -m pytest benches/bench_gc.py --benchmark-only --benchmark-group-by=func \
        --benchmark-autosave --benchmark-storage=benches/results
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from _data import T0, mlflow_env, timed

#: Deleted runs, timed and untimed.
RUNS = {True: 10_000, False: 20}


class Data:
    """The tree (at its working place, restored before each round) and its templates."""

    def __init__(self, base: Path, runs: int) -> None:
        self.base = base
        self.runs = runs
        self.tree = base / "mlruns"  # where every round works: artifact URIs point here
        self.template = base / "template-mlruns"
        self.databases: dict[str, Path] = {}
        self._build()

    def _build(self) -> None:
        from trackstore import entities
        from trackstore.store.file import FileStore

        store = FileStore(str(self.tree))
        experiment = store.create_experiment("gc-bench")
        self.kept = store.create_run(experiment, "bench", T0, [], "kept").info.run_id
        for r in range(self.runs):
            run = store.create_run(experiment, "bench", T0 + r, [], f"run-{r}")
            run_id = run.info.run_id
            store.log_batch(
                run_id,
                metrics=[entities.Metric(k, float(s), T0 + s, s) for k in ("loss", "acc")
                         for s in range(10)],
                params=[entities.Param(f"p{j}", str(r)) for j in range(4)],
                tags=[entities.RunTag(f"t{j}", "x") for j in range(2)])
            folder = self.tree / experiment / run_id / "artifacts"
            folder.mkdir(exist_ok=True)
            (folder / "model.txt").write_text(run_id)
            store.delete_run(run_id)
        store.close()
        shutil.copytree(self.tree, self.template, symlinks=True)

    def restore_tree(self) -> None:
        shutil.rmtree(self.tree, ignore_errors=True)
        subprocess.run(["cp", "-a", str(self.template), str(self.tree)], check=True)

    def database(self, lib: str) -> Path:
        """*lib*'s SQLite template holding the tree's runs (made once)."""
        if lib not in self.databases:
            path = self.base / f"template-{lib}.db"
            if lib == "trackstore":
                from trackstore.transfer import run_import

                run_import(str(self.template), f"sqlite:///{path}")
            else:
                mlflow_env()
                from mlflow.store.fs2db import migrate

                migrate(self.template, f"sqlite:///{path}", progress=False)
                import sqlalchemy as sa
                from mlflow.store.db.utils import _upgrade_db

                engine = sa.create_engine(f"sqlite:///{path}")
                # migrate-filestore leaves an older revision
                _upgrade_db(engine)  # type: ignore[no-untyped-call]
                engine.dispose()
            from trackstore.store.sql.engine import dispose_engines

            dispose_engines()
            self.databases[lib] = path
        return self.databases[lib]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The number of deleted runs, first in the benchmarks' names (``[10000-trackstore]``)."""
    if "runs" in metafunc.fixturenames:
        metafunc.parametrize("runs", [RUNS[timed(metafunc.config)]], scope="session")


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory, runs: int) -> Data:
    return Data(tmp_path_factory.mktemp("gc"), runs)


def _run_gc(lib: str, uri: str) -> None:
    if lib == "trackstore":
        from trackstore.cli import main

        main(["gc", "--backend-store-uri", uri, "-q"], standalone_mode=False)
        from trackstore.store.sql.engine import dispose_engines

        dispose_engines()
        return
    mlflow_env()
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        from mlflow.cli import gc

        gc.main(["--backend-store-uri", uri], standalone_mode=False)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


def _left(data: Data, runs_too: bool) -> list[Path]:
    """Artifacts of deleted runs left in the tree (and, for the file store, the runs)."""
    left = list(data.tree.rglob("model.txt"))
    if runs_too:
        left += [p for p in data.tree.rglob("*") if p.is_dir() and len(p.name) == 32
                 and p.name != data.kept]
    return left


@pytest.mark.parametrize("lib", ["trackstore", "mlflow"])
def test_gc_file_store(benchmark: Any, lib: str, data: Data) -> None:
    """gc of the tree's deleted runs, in place."""
    if lib == "mlflow":
        pytest.importorskip("mlflow")

    def setup() -> tuple[tuple[str, str], dict[str, Any]]:
        data.restore_tree()
        return (lib, str(data.tree)), {}

    benchmark.pedantic(_run_gc, setup=setup, rounds=3 if lib == "trackstore" else 1,
                       iterations=1)
    left = _left(data, runs_too=True)
    if lib == "trackstore":
        assert left == [], left[:3]
        benchmark.extra_info["runs_per_call"] = data.runs
    else:
        # MLflow's file store lists deleted runs with search_runs' default page, 1000 runs:
        # one `mlflow gc` removes at most 1000 of them. Its time is for the runs it removed.
        removed = data.runs - len([p for p in left if p.is_dir()])
        assert 0 < removed <= data.runs
        benchmark.extra_info["runs_per_call"] = removed
    assert (data.tree / _experiment(data) / data.kept / "meta.yaml").exists()


def _experiment(data: Data) -> str:
    return next(p.name for p in data.template.iterdir()
                if p.is_dir() and (p / data.kept).is_dir())


@pytest.mark.parametrize("lib", ["trackstore", "mlflow"])
def test_gc_sqlite(benchmark: Any, lib: str, data: Data, tmp_path: Path) -> None:
    """gc of the same runs in each library's own SQLite database."""
    if lib == "mlflow":
        pytest.importorskip("mlflow")
    template = data.database(lib)
    db = tmp_path / f"{lib}.db"

    def setup() -> tuple[tuple[str, str], dict[str, Any]]:
        data.restore_tree()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        # SQLite's backup API: the template's committed state, its WAL included
        with sqlite3.connect(template) as source, sqlite3.connect(db) as target:
            source.backup(target)
        target.close()
        source.close()
        return (lib, f"sqlite:///{db}"), {}

    benchmark.extra_info["runs_per_call"] = data.runs
    benchmark.pedantic(_run_gc, setup=setup, rounds=3 if lib == "trackstore" else 1,
                       iterations=1)
    assert _left(data, runs_too=False) == []
    with sqlite3.connect(db) as conn:
        runs = [row[0] for row in conn.execute("SELECT run_uuid FROM runs")]
    assert runs == [data.kept], runs[:3]
