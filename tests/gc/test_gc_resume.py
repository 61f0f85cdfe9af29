"""A ``trackstore gc`` killed half-way (SIGKILL), then run again, ends as if never interrupted.

The collection runs in a child process (the command line) over a few hundred deleted runs
with artifacts, in small batches, and is killed at a random moment once it has begun removing
artifacts. The store must then still be consistent (each run either whole, or deleted with
some of its artifacts gone), and a second ``gc`` must finish the job: no row, file or artifact
of the collected runs left, nothing else changed. Seeds are random and printed on failure
(``TRACKSTORE_SEED=n`` replays one).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from trackstore.cli import main
from trackstore.entities import Metric, Param

from .conftest import T0, World, assert_no_trace, state, without

RUNS = 240


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from trackstore.cli import main; main()", *args]


def test_killed_gc_completes_when_run_again(world: World) -> None:
    seed = int(os.environ.get("TRACKSTORE_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    w = world
    store = w.store
    a, b = store.create_experiment("kept"), store.create_experiment("doomed")
    w.experiments = {"A": a, "B": b}
    kept = store.create_run(a, "u", T0, [], "kept").info.run_id
    store.log_batch(kept, metrics=[Metric("m", 1.0, T0, 0)], params=[Param("p", "1")])
    folders = []
    for n in range(RUNS):
        run = store.create_run(a if n % 2 else b, "u", T0 + n, [], f"r{n}")
        run_id = run.info.run_id
        store.log_batch(run_id, metrics=[Metric("m", float(s), T0 + s, s) for s in range(20)],
                        params=[Param("p", str(n))])
        folder = Path(run.info.artifact_uri.removeprefix("file://"))
        (folder / "model").mkdir(parents=True)
        for k in range(3):
            (folder / "model" / f"part-{k}").write_bytes(rng.randbytes(256))
        folders.append(folder)
        w.collect.append(run_id)
        if n % 2:
            store.delete_run(run_id)
    store.delete_experiment(b)
    w.keep = [kept]
    before = state(w)

    child = subprocess.Popen(_cli("gc", "--backend-store-uri", w.uri, "-q", "--batch-runs",
                                  "20"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    delay = rng.uniform(0, 0.02)
    watched = folders[1::2]  # the runs deleted in experiment A (B's moved, in a file store)
    deadline = time.monotonic() + 120
    while all(f.exists() for f in watched[:40]):
        assert child.poll() is None, child.communicate()[0].decode()
        assert time.monotonic() < deadline, "gc never started removing artifacts"
        time.sleep(0.001)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    output = child.communicate()[0].decode()
    assert child.returncode == -signal.SIGKILL, (seed, output)
    left = store.gc_runs()
    assert left, f"seed {seed}: gc finished before the kill; nothing was interrupted"
    for run in left:  # whatever is left is a deleted run, still readable
        found = store.get_run(run.run_id)
        assert found.info.lifecycle_stage == "deleted"
        if w.kind != "file":  # a SQL run's rows go in one transaction: all there, or none
            assert found.data.params["p"]

    result = CliRunner().invoke(main, ["gc", "--backend-store-uri", w.uri, "-q", "--json"])
    assert result.exit_code == 0, (seed, result.output)
    after, expected = state(w), without(before, w)
    assert after == expected, (seed, sorted(set(after["files"]) ^ set(expected["files"]))[:10])
    assert_no_trace(w)
    assert store.get_run(kept).data.params == {"p": "1"}


def test_journal_of_a_killed_gc_is_finished(tmp_path: Path) -> None:
    """The file store's removal journal: what a killed gc was removing is removed by the next
    gc (a leftover empty folder, a deleted run), never a run restored since; the journal and
    the temporary files of a dead writer go too, a live process's stay."""
    from trackstore.store.file import FileStore

    root = tmp_path / "mlruns"
    store = FileStore(str(root))
    exp = store.create_experiment("j")
    deleted, restored = (store.create_run(exp, "u", T0, [], n).info.run_id for n in "ab")
    store.delete_run(deleted)
    store.delete_run(restored)
    store.restore_run(restored)
    store.close()
    leftover = root / exp / ("f" * 32)
    leftover.mkdir()  # what remains after meta.yaml went and before the folder did
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = [f"{exp}/{leftover.name}", f"{exp}/{deleted}", f"{exp}/{restored}", "..", exp]
    (root / f".trackstore-gc-{dead.pid}-0a1b").write_text("\n".join(names))
    (root / f"..trackstore-run-index.{dead.pid}.0a1b2c3d.tmp").write_text(deleted)
    alive = root / f".trackstore-gc-{os.getpid()}-0a1b"
    alive.write_text(f"{exp}/{restored}")
    result = CliRunner().invoke(main, ["gc", "--backend-store-uri", str(root), "--json",
                                       "--experiment-ids", "0", "--dry-run"])
    assert result.exit_code == 1  # experiment 0 is not deleted: refused, nothing done
    assert (root / f".trackstore-gc-{dead.pid}-0a1b").exists()
    result = CliRunner().invoke(main, ["gc", "--backend-store-uri", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["interrupted_removed"] == 2
    assert not leftover.exists() and not (root / exp / deleted).exists()
    assert (root / exp / restored / "meta.yaml").exists() and (root / exp).is_dir()
    assert sorted(p.name for p in root.iterdir() if p.is_file()) == sorted([
        ".trackstore-run-index", alive.name])
