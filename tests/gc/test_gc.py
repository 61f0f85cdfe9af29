"""``trackstore gc`` on every backend: what it removes, what it leaves, what it refuses.

Each test builds a store with runs that are kept (active, restored, in another experiment)
and runs to collect (deleted; in a deleted experiment), each with params, tags, metrics, a
dataset input and artifacts, runs the command line in-process, and compares everything the
store and the artifact folders hold before and after: the collected runs leave no row, file
or artifact behind, and nothing else changes by a byte.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests._databases import SQL_KINDS, fresh_database
from trackstore import gc
from trackstore.artifacts import LocalArtifactRepository
from trackstore.cli import main
from trackstore.entities import Metric
from trackstore.exceptions import TrackstoreError
from trackstore.store.file import FileStore
from trackstore.store.sql import SqlStore

from .conftest import T0, World, assert_no_trace, build, state, without

# -- the tests ----------------------------------------------------------------------------------


def test_delete_restore_delete_then_gc_removes_exactly_the_collected(world: World) -> None:
    w = world
    build(w)
    before = state(w)
    assert sorted(w.store.deleted_run_ids()) == sorted(w.collect)
    result = w.gc("--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["runs"], summary["experiments"], summary["kept"]) == (3, 1, [])
    assert summary["artifact_locations"] == 3 and summary["artifacts_missing"] == 0
    assert state(w) == without(before, w)
    assert_no_trace(w)
    with pytest.raises(TrackstoreError) as e:
        w.store.get_experiment(w.experiments["B"])
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    for run_id in w.keep:  # still whole, still writable
        run = w.store.get_run(run_id)
        assert run.data.params["lr"] and len(w.store.get_metric_history(run_id, "loss")) == 5
        w.store.log_metric(run_id, Metric("after", 1.0, T0, 0))
    # the name of a collected experiment is free again
    assert w.store.get_experiment(w.store.create_experiment("B")).name == "B"
    # nothing left to collect: a second run is a no-op
    again = w.gc("--json")
    assert again.exit_code == 0 and json.loads(again.output)["runs"] == 0


def test_dry_run_changes_nothing(world: World) -> None:
    w = world
    build(w)
    before = state(w)
    result = w.gc("--dry-run", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["dry_run"] and sorted(summary["run_ids"]) == sorted(w.collect)
    assert summary["experiment_ids"] == [w.experiments["B"]]
    text = CliRunner().invoke(main, ["gc", "--backend-store-uri", w.uri, "--dry-run"])
    assert "would remove 3 run(s) and 1 experiment(s)" in text.output
    assert all(run_id in text.output for run_id in w.collect)
    assert state(w) == before


def test_refusals_change_nothing(world: World) -> None:
    w = world
    build(w)
    before = state(w)
    cases = [
        (["--run-ids", f"{w.collect[0]},{w.keep[0]}"], "INVALID_PARAMETER_VALUE", "not deleted"),
        (["--run-ids", "0" * 32], "RESOURCE_DOES_NOT_EXIST", "No run with ID"),
        (["--experiment-ids", w.experiments["A"]], "INVALID_PARAMETER_VALUE", "not deleted"),
        (["--experiment-ids", "987654"], "RESOURCE_DOES_NOT_EXIST", ""),
        (["--older-than", "3x"], "INVALID_PARAMETER_VALUE", "Could not parse"),
        (["--run-ids", w.collect[0], "--older-than", "1d"], "INVALID_PARAMETER_VALUE",
         "deleted less than 1d ago"),
        (["--experiment-ids", w.experiments["B"], "--older-than", "1h"],
         "INVALID_PARAMETER_VALUE", "deleted less than 1h ago"),
        (["--run-ids", " , "], "INVALID_PARAMETER_VALUE", "No id"),
    ]
    for args, code, words in cases:
        result = w.gc(*args)
        assert result.exit_code == 1, (args, result.output)
        assert f"Error ({code})" in result.output and words in result.output, result.output
    assert state(w) == before


def test_selected_runs_and_experiments_only(world: World) -> None:
    """--run-ids takes those runs and nothing else (MLflow would also take every deleted
    experiment); --experiment-ids takes the experiment with all its runs."""
    w = world
    build(w)
    doomed, b1, b2 = w.collect
    result = w.gc("--run-ids", doomed)
    assert result.exit_code == 0, result.output
    assert "removed 1 run(s) and 0 experiment(s)" in result.output
    assert sorted(w.store.deleted_run_ids()) == sorted([b1, b2])
    assert w.store.get_experiment(w.experiments["B"]).lifecycle_stage == "deleted"
    result = w.gc("--experiment-ids", w.experiments["B"])
    assert result.exit_code == 0, result.output
    assert "removed 2 run(s) and 1 experiment(s)" in result.output
    assert_no_trace(w)


def test_older_than_boundaries(world: World) -> None:
    """A run (experiment) deleted exactly --older-than ago is collected; a millisecond less
    is not."""
    w = world
    build(w)
    deleted = {r.run_id: r.deleted_time for r in w.store.gc_runs()}
    doomed = w.collect[0]
    at = deleted[doomed]
    assert isinstance(at, int)
    day = 86_400_000

    def planned(now: int, **kw: Any) -> tuple[list[str], list[str]]:
        p = gc.plan(w.store, older_than="1d", now=now, **kw)
        return sorted(r.run_id for r in p.runs), [e.experiment_id for e in p.experiments]

    assert doomed in planned(at + day)[0]
    assert doomed not in planned(at + day - 1)[0]
    assert planned(at + day, run_ids=[doomed]) == ([doomed], [])
    with pytest.raises(TrackstoreError, match="deleted less than 1d ago"):
        planned(at + day - 1, run_ids=[doomed])
    b = w.experiments["B"]
    b_time = w.store.get_experiment(b).last_update_time
    assert planned(b_time + day, experiment_ids=[b])[1] == [b]
    with pytest.raises(TrackstoreError, match="deleted less than 1d ago"):
        planned(b_time + day - 1, experiment_ids=[b])
    # all of a collected experiment's runs go with it, whatever their own age
    assert set(w.collect[1:]) <= set(planned(b_time + day)[0])
    # and now, through the command line: everything was deleted moments ago
    before = state(w)
    result = w.gc("--older-than", "1h")
    assert result.exit_code == 0 and "removed 0 run(s) and 0 experiment(s)" in result.output
    assert state(w) == before


@pytest.mark.parametrize(("text", "ms"), [
    ("1d2h3m4s", ((24 + 2) * 60 + 3) * 60_000 + 4000), ("8h", 8 * 3_600_000), ("2m4s", 124_000),
    ("1.5h", 5_400_000), (".5s", 500), ("1.2d3h4m5s", round((1.2 * 86400 + 3 * 3600 + 245) * 1000)),
    ("0s", 0), ("10d", 864_000_000),
])
def test_older_than_syntax(text: str, ms: int) -> None:
    assert gc.parse_older_than(text) == ms


@pytest.mark.parametrize("text", ["", "3", "1x", "d", "1..2d", "1s2m", "-1d", "1 d", "1e3s"])
def test_older_than_refused(text: str) -> None:
    with pytest.raises(TrackstoreError, match="Could not parse any time information"):
        gc.parse_older_than(text)


def test_missing_and_unremovable_artifacts(world: World) -> None:
    """Artifacts already gone are fine; a run whose artifacts cannot be removed is kept, with
    all its metadata, and reported (exit status 1)."""
    w = world
    build(w)
    doomed = w.collect[0]
    gone = LocalArtifactRepository(w.store.get_run(doomed).info.artifact_uri).root
    shutil.rmtree(gone)
    elsewhere = w.store.create_experiment("remote", artifact_location="s3://bucket/remote")
    remote = w.store.create_run(elsewhere, "u", T0, [], "remote").info.run_id
    w.store.delete_run(remote)
    result = w.gc("--json")
    assert result.exit_code == 1
    summary = json.loads(result.output)
    assert summary["runs"] == 3 and summary["artifacts_missing"] == 1
    assert [k["id"] for k in summary["kept"]] == [remote]
    assert "s3://bucket/remote" in summary["kept"][0]["reason"]
    assert w.store.get_run(remote).info.lifecycle_stage == "deleted"
    assert_no_trace(w)


def test_store_refused_or_missing(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["gc", "--backend-store-uri", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "RESOURCE_DOES_NOT_EXIST" in result.output
    assert not (tmp_path / "nowhere").exists()
    result = runner.invoke(main, ["gc", "--backend-store-uri",
                                  f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 1 and not (tmp_path / "none.db").exists()
    result = runner.invoke(main, ["gc", "--backend-store-uri", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "not a tracking server" in result.output


def test_tracking_uri_picks_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "mlruns"
    store = FileStore(str(root))
    exp = store.create_experiment("x")
    run_id = store.create_run(exp, "u", T0, [], "r").info.run_id
    store.delete_run(run_id)
    store.close()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", root.as_uri())
    result = CliRunner().invoke(main, ["gc"])
    assert result.exit_code == 0 and "removed 1 run(s)" in result.output, result.output
    assert not (root / exp / run_id).exists()


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_vacuum_gives_space_back(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as uri:
        store = SqlStore(uri, str(tmp_path / "a"))
        exp = store.create_experiment("big")
        ids = []
        for n in range(20):
            run_id = store.create_run(exp, "u", T0, [], f"r{n}").info.run_id
            store.log_batch(run_id, metrics=[Metric("m", float(i), T0 + i, i)
                                             for i in range(1000)])
            store.delete_run(run_id)
            ids.append(run_id)
        store.close()
        result = CliRunner().invoke(main, ["gc", "--backend-store-uri", uri, "--vacuum", "-q"])
        assert result.exit_code == 0, result.output
        assert "removed 20 run(s)" in result.output
        expected = {"sqlite": "SQLite: VACUUM", "postgresql": "PostgreSQL: VACUUM (ANALYZE)",
                    "mysql": "OPTIMIZE TABLE"}[kind]
        assert expected in result.output
        if kind == "sqlite":
            numbers = result.output.split("VACUUM: ")[1].split(" bytes")[0]
            before, after = (int(x.replace(",", "")) for x in numbers.split(" -> "))
            assert after < before / 4, result.output
        from trackstore.store.sql.engine import dispose_engines

        dispose_engines()


def test_deleting_an_experiment_keeps_earlier_deletion_times(world: World) -> None:
    """Every backend, as MLflow's file store (its SQL store re-stamps them): a run deleted
    before its experiment keeps its own ``deleted_time``, so ``--older-than`` still sees how
    long ago it went; restoring the experiment revives every run and clears the times."""
    store = world.store
    exp = store.create_experiment("stamps")
    early, late = (store.create_run(exp, "u", T0, [], name).info.run_id
                   for name in ("early", "late"))
    store.delete_run(early)
    first = store.gc_runs(run_ids=[early])[0].deleted_time
    assert isinstance(first, int)
    time.sleep(0.01)
    store.delete_experiment(exp)
    times = {r.run_id: r.deleted_time for r in store.gc_runs(experiment_ids=[exp])}
    assert times[early] == first and times[late] is not None and times[late] > first
    with pytest.raises(TrackstoreError) as e:  # the name stays taken while it is deleted
        store.create_experiment("stamps")
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    store.restore_experiment(exp)
    assert [(r.lifecycle_stage, r.deleted_time) for r in store.gc_runs(experiment_ids=[exp])] \
        == [("active", None)] * 2
