"""Bulk import: ``trackstore import`` against ``mlflow migrate-filestore`` on the same tree.

* ``test_import_mlruns_sqlite[<points>-trackstore]`` / ``[<points>-mlflow]``: an ``mlruns``
  tree into a new SQLite database: trackstore's import (``trackstore.transfer.run_import``)
  and MLflow's ``migrate-filestore`` (``mlflow.store.fs2db.migrate``), both in this process,
  both from an empty database file (each creates its schema, as its command does). Design
  §6: ≥ 20×.
* ``test_import_mlruns_server[<points>-postgresql]``, ``[<points>-mysql]`` (MariaDB):
  trackstore's import into the servers of ``.ci/databases`` (MLflow's command only writes
  SQLite): points/s.
* ``test_import_peak_memory[<points>]``: the command line importing a tree of that many
  points into SQLite in a child process, its peak resident memory in ``extra_info``
  (``peak_rss_mb``): it stays flat from 1M to 10M points (memory is bounded by the batch).

Trees are made once per session by ``_data.build_import_tree`` (runs through the file store,
metric files as MLflow formats them). Timed: 200 runs × 10 metrics × 100 points (200k points)
for the MLflow comparison, 1M points into the servers, 1M and 10M points for memory; the
number of points of its tree is the first parameter of each benchmark (``[200000-...]``).
Untimed (CI runs the benchmarks as tests) the trees are small (and so are the parameters).

    .ci/databases start; eval "$(.ci/databases env)"
    python -m pytest benches/bench_import.py --benchmark-only --benchmark-group-by=func \
        --benchmark-autosave --benchmark-storage=benches/results
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _data import build_import_tree, mlflow_env, timed
from _databases import fresh_database, release

#: (runs, metric keys, points per key) of each tree.
COMPARE = {True: (200, 10, 100), False: (6, 2, 20)}
SERVERS = {True: (500, 10, 200), False: (6, 2, 20)}
MEMORY = {True: [(1000, 10, 100), (1000, 10, 1000)], False: [(20, 2, 100), (20, 2, 1000)]}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The trees' shapes, named by their number of points (``[200000]``): the real ones when
    timed, small ones when run as tests."""
    full = timed(metafunc.config)
    for name, shapes in (("compare_tree", [COMPARE[full]]), ("server_tree", [SERVERS[full]]),
                         ("memory_tree", MEMORY[full])):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, shapes, ids=[str(r * k * s) for r, k, s in shapes],
                                 scope="session")


_trees: dict[tuple[int, int, int], tuple[Path, int]] = {}


@pytest.fixture(scope="session")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Any:
    def tree(shape: tuple[int, int, int]) -> tuple[Path, int]:
        if shape not in _trees:
            root = tmp_path_factory.mktemp("import-tree") / "mlruns"
            runs, keys, steps = shape
            _trees[shape] = (root, build_import_tree(root, 1, runs, keys, steps))
        return _trees[shape]
    return tree


def _import(source: Path, uri: str) -> Any:
    from trackstore.transfer import run_import

    summary, _ = run_import(str(source), uri)
    return summary


def _migrate(source: Path, uri: str) -> None:
    mlflow_env()
    from mlflow.store.fs2db import migrate

    migrate(source, uri, progress=False)


@pytest.mark.parametrize("lib", ["trackstore", "mlflow"])
def test_import_mlruns_sqlite(benchmark: Any, lib: str, compare_tree: tuple[int, int, int],
                              trees: Any, tmp_path: Path) -> None:
    """The tree into a new SQLite database."""
    if lib == "mlflow":
        pytest.importorskip("mlflow")
    source, total = trees(compare_tree)
    made = iter(range(1_000_000))

    def setup() -> tuple[tuple[Path, str], dict[str, Any]]:
        return (source, f"sqlite:///{tmp_path / f'{lib}-{next(made)}.db'}"), {}

    benchmark.extra_info["points_per_call"] = total
    rounds = 5 if lib == "trackstore" else 1
    result = benchmark.pedantic(_import if lib == "trackstore" else _migrate, setup=setup,
                                rounds=rounds, iterations=1)
    if lib == "trackstore":
        assert result.points == total and result.problems == []
    _check_points(f"sqlite:///{tmp_path / f'{lib}-0.db'}", total, lib)


def _check_points(uri: str, total: int, lib: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM metrics")).scalar() == total, lib
    finally:
        engine.dispose()


@pytest.fixture(params=["postgresql", "mysql"])
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    with fresh_database(request.param, tmp_path, "import") as uri:
        yield request.param, uri


def test_import_mlruns_server(benchmark: Any, server_db: tuple[str, str],
                              server_tree: tuple[int, int, int], trees: Any) -> None:
    """The tree into a database server. Each round imports into a database emptied first
    (trackstore's tables dropped and made again, empty)."""
    dialect, uri = server_db
    source, total = trees(server_tree)

    def setup() -> tuple[tuple[Path, str], dict[str, Any]]:
        _empty(uri)
        return (source, uri), {}

    benchmark.extra_info["points_per_call"] = total
    result = benchmark.pedantic(_import, setup=setup, rounds=2, iterations=1)
    assert result.points == total and result.runs_imported == result.runs_total
    _check_points(uri, total, dialect)
    release(uri)


def _empty(uri: str) -> None:
    """Drop trackstore's tables and make them again, empty."""
    import sqlalchemy as sa

    from trackstore.store.sql import migrate
    from trackstore.store.sql.engine import dispose_engines

    dispose_engines()
    engine = sa.create_engine(uri)
    try:
        if migrate.current_revision(engine) is not None:
            migrate.downgrade(engine, "base")
        migrate.upgrade(engine)
    finally:
        engine.dispose()


# The peak of this process's own address space (VmHWM): getrusage's ru_maxrss survives exec
# on Linux, so a child forked from a large pytest process would report the parent's size.
_CHILD = """
import sys
from trackstore.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print("PEAK_RSS_KB", peak, file=sys.stderr)
"""


def test_import_peak_memory(benchmark: Any, memory_tree: tuple[int, int, int], trees: Any,
                            tmp_path: Path) -> None:
    """``trackstore import`` of the tree in a child process; its peak RSS in extra_info."""
    source, total = trees(memory_tree)
    made = iter(range(1_000_000))
    peaks: list[int] = []

    def run() -> None:
        db = tmp_path / f"memory-{next(made)}.db"
        done = subprocess.run([sys.executable, "-c", _CHILD, "import", "-q", "--json",
                               str(source), f"sqlite:///{db}"],
                              capture_output=True, text=True, check=True)
        summary = json.loads(done.stdout)
        assert summary["points"] == total and summary["problems"] == []
        peaks.append(int(done.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0]))

    benchmark.extra_info["points_per_call"] = total
    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["peak_rss_mb"] = round(max(peaks) / 1024, 1)
