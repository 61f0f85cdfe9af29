"""An import killed half-way (SIGKILL), then run again, equals an import never interrupted.

The import runs in a child process (the installed command line), is killed at a random moment
once it has committed some of its work, and is run again to the end. The destination must then
hold exactly what an uninterrupted import of the same source holds: no point lost, none stored
twice, no run half-written. Seeds are random and printed on failure (``TRACKSTORE_SEED=n``
replays one).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests._databases import SQL_KINDS, fresh_database
from trackstore import _metrics
from trackstore.entities import Metric, Param, RunStatus, RunTag
from trackstore.store.file import FileStore
from trackstore.transfer import run_import

from .conftest import snapshot_of

T0 = 1_700_000_000_000


def make_tree(root: Path, runs: int, keys: int, steps: int, seed: int) -> int:
    """A tree of *runs* runs with *keys* metrics of *steps* points each (and one much longer
    history, read in several chunks); returns the number of points."""
    rng = random.Random(seed)
    store = FileStore(str(root))
    exp = store.create_experiment("resume")
    total = 0
    for r in range(runs):
        run = store.create_run(exp, "u", T0 + r, [], f"run-{r}")
        rid = run.info.run_id
        store.log_batch(rid, params=[Param("p", str(r))], tags=[RunTag("t", "x")],
                        metrics=[Metric("nan", float("nan"), T0, 0)])
        total += 1
        for k in range(keys):
            n = steps * 20 if (r, k) == (0, 0) else steps
            (root / exp / rid / "metrics" / f"m{k}").write_bytes(_metrics.format_lines(
                [T0 + s for s in range(n)], [rng.random() for _ in range(n)], range(n)))
            total += n
        store.update_run_info(rid, RunStatus.FINISHED, T0 + r + 1, None)
    store.close()
    return total


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from trackstore.cli import main; main()", *args]


def _rows(uri: str) -> int:
    """The metric rows in the database at *uri* (0 before the import made its tables)."""
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT COUNT(*) FROM metrics")).scalar_one())
    except sa.exc.DBAPIError:
        return 0
    finally:
        engine.dispose()


@pytest.fixture(params=SQL_KINDS)
def killed_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the environment serves, for the killed import."""
    with fresh_database(request.param, tmp_path) as uri:
        yield uri
    from trackstore.store.sql.engine import dispose_engines

    dispose_engines()


def _kill_midway(args: list[str], progressed: object, seed: int) -> None:
    rng = random.Random(seed)
    child = subprocess.Popen(_cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while not progressed() and child.poll() is None:  # type: ignore[operator]
            assert time.monotonic() < deadline, "the import made no progress"
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.15))
        assert child.poll() is None, f"finished before it was killed (seed {seed})"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        if child.stderr is not None:
            child.stderr.close()


def _seed() -> int:
    """A fresh seed per test (printed by every assertion), or ``TRACKSTORE_SEED``'s."""
    return int(os.environ.get("TRACKSTORE_SEED") or random.randrange(1 << 30))


def test_killed_import_resumes_to_the_same_result(tmp_path: Path, killed_db: str) -> None:
    seed = _seed()
    tree = tmp_path / "tree"
    total = make_tree(tree, runs=30, keys=4, steps=3000, seed=seed)
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    run_import(str(tree), reference)

    _kill_midway(["import", "-q", "--batch-points", "2000", "--jobs", "2", str(tree),
                  killed_db], lambda: _rows(killed_db) > 20_000, seed)
    stored = _rows(killed_db)
    assert 0 < stored < total - 30, f"seed {seed}: {stored} of {total}"
    summary, result = run_import(str(tree), killed_db, check=True)
    assert result is not None and result.ok, (seed, result.differences)
    assert summary.runs_unchanged < 30  # it resumed: what was complete was not read again
    assert snapshot_of(killed_db) == snapshot_of(reference), f"seed {seed}"
    assert _rows(killed_db) == _rows(reference)


def test_killed_export_resumes_to_the_same_tree(tmp_path: Path) -> None:
    seed = _seed()
    tree = tmp_path / "tree"
    make_tree(tree, runs=30, keys=4, steps=3000, seed=seed)
    db = f"sqlite:///{tmp_path / 'source.db'}"
    run_import(str(tree), db)
    reference = tmp_path / "reference"
    run_import(db, str(reference))

    out = tmp_path / "killed"

    def exported_runs() -> bool:
        return len(list(out.glob("*/*/meta.yaml"))) >= 5

    _kill_midway(["export", "-q", "--jobs", "2", db, str(out)], exported_runs, seed)
    summary, result = run_import(db, str(out), check=True)
    assert result is not None and result.ok, (seed, result.differences)
    assert summary.runs_unchanged >= 5
    assert snapshot_of(str(out)) == snapshot_of(str(reference)), f"seed {seed}"
    assert not list(out.glob("*/*/.trackstore-import"))  # no temporary files left
    # every metric file equals the uninterrupted export's, byte for byte
    for path in reference.glob("*/*/metrics/**/*"):
        if path.is_file():
            twin = out / path.relative_to(reference)
            assert twin.read_bytes() == path.read_bytes(), (seed, str(path))

