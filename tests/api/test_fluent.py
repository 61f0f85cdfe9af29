"""The fluent API behaves as MLflow's: experiments, runs, nesting, resuming, auto tags."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import pytest

import trackstore
from tests._databases import SQL_KINDS, fresh_database
from trackstore import TrackingClient, TrackstoreError
from trackstore.store import registry
from trackstore.store.sql.engine import dispose_engines


def test_default_store_is_mlruns_in_the_working_directory(isolated: Path) -> None:
    assert trackstore.get_tracking_uri() == (isolated / "mlruns").as_uri()
    with trackstore.start_run() as run:
        trackstore.log_metric("loss", 0.5)
    assert (isolated / "mlruns" / "0" / run.info.run_id / "metrics" / "loss").is_file()


def test_uri_resolution_order(isolated: Path) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = str(isolated / "from-env")
    assert trackstore.get_tracking_uri() == str(isolated / "from-env")
    trackstore.set_tracking_uri(isolated / "from-set")
    assert trackstore.get_tracking_uri() == (isolated / "from-set").as_uri()
    assert os.environ["MLFLOW_TRACKING_URI"] == (isolated / "from-set").as_uri()  # children see it
    with trackstore.start_run():
        trackstore.log_param("p", 1)
    assert (isolated / "from-set" / "0").is_dir() and not (isolated / "from-env").exists()


def test_run_lifecycle_params_metrics_tags(isolated: Path) -> None:
    exp = trackstore.set_experiment("fluent")
    assert exp.name == "fluent" and trackstore.set_experiment("fluent").experiment_id == \
        exp.experiment_id
    with trackstore.start_run(run_name="r1", tags={"team": "cv"},
                              description="notes") as run:
        assert trackstore.active_run() is run
        trackstore.log_params({"lr": 0.1, "layers": 3})
        trackstore.log_param("opt", "adam")
        trackstore.log_metrics({"loss": 1.0, "acc": 0.5}, step=0)
        trackstore.log_metric("loss", 0.5, step=1)
        trackstore.set_tags({"a": 1})
        trackstore.set_tag("b", "x")
        trackstore.delete_tag("b")
    assert trackstore.active_run() is None
    stored = TrackingClient().get_run(run.info.run_id)
    assert stored.info.experiment_id == exp.experiment_id
    assert stored.info.status == "FINISHED" and stored.info.end_time is not None
    assert stored.info.run_name == "r1"
    assert stored.data.params == {"lr": "0.1", "layers": "3", "opt": "adam"}
    assert stored.data.metrics == {"loss": 0.5, "acc": 0.5}
    tags = stored.data.tags
    assert tags["team"] == "cv" and tags["a"] == "1" and "b" not in tags
    assert tags["mlflow.note.content"] == "notes"
    assert tags["mlflow.runName"] == "r1"
    assert tags["mlflow.user"] == getpass.getuser() == stored.info.user_id
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"] == sys.argv[0]


def test_failure_and_interrupt_statuses(isolated: Path) -> None:
    with pytest.raises(ValueError), trackstore.start_run() as failed:
        raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt), trackstore.start_run() as killed:
        raise KeyboardInterrupt
    client = TrackingClient()
    assert client.get_run(failed.info.run_id).info.status == "FAILED"
    assert client.get_run(killed.info.run_id).info.status == "KILLED"


def test_nested_runs_and_the_active_run_rule(isolated: Path) -> None:
    with trackstore.start_run() as parent:
        with pytest.raises(TrackstoreError) as e:
            trackstore.start_run()
        assert "is already active" in e.value.message
        with trackstore.start_run(nested=True) as child:
            assert trackstore.active_run() is child
        assert trackstore.active_run() is parent
    got = TrackingClient().get_run(child.info.run_id)
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert TrackingClient().get_parent_run(child.info.run_id).info.run_id == parent.info.run_id


def test_resume_a_run(isolated: Path) -> None:
    with trackstore.start_run() as first:
        trackstore.log_metric("m", 1.0, step=0)
    with trackstore.start_run(run_id=first.info.run_id, tags={"resumed": "yes"}) as again:
        assert again.info.run_id == first.info.run_id
        assert again.info.status == "RUNNING"
        trackstore.log_metric("m", 2.0, step=1)
    got = TrackingClient().get_run(first.info.run_id)
    assert got.info.status == "FINISHED" and got.data.tags["resumed"] == "yes"
    assert [m.value for m in TrackingClient().get_metric_history(first.info.run_id, "m")] == [
        1.0, 2.0]
    TrackingClient().delete_run(first.info.run_id)
    with pytest.raises(TrackstoreError) as e:
        trackstore.start_run(run_id=first.info.run_id)
    assert "deleted" in e.value.message


def test_logging_without_a_run_starts_one(isolated: Path) -> None:
    trackstore.log_metric("m", 1.0)
    run = trackstore.active_run()
    assert run is not None
    trackstore.end_run()
    assert TrackingClient().get_run(run.info.run_id).info.status == "FINISHED"


def test_environment_variables_pick_experiment_and_context(isolated: Path) -> None:
    exp_id = TrackingClient().create_experiment("env-exp")
    os.environ["MLFLOW_EXPERIMENT_NAME"] = "env-exp"
    os.environ["MLFLOW_RUN_CONTEXT"] = '{"ci.job": "42"}'
    with trackstore.start_run() as run:
        pass
    got = TrackingClient().get_run(run.info.run_id)
    assert got.info.experiment_id == exp_id and got.data.tags["ci.job"] == "42"


def test_deleted_experiment_cannot_be_set(isolated: Path) -> None:
    exp_id = TrackingClient().create_experiment("gone")
    TrackingClient().delete_experiment(exp_id)
    with pytest.raises(TrackstoreError) as e:
        trackstore.set_experiment("gone")
    assert "Cannot set a deleted experiment" in e.value.message
    with pytest.raises(TrackstoreError):
        trackstore.set_experiment()


def test_log_input_records_dataset_and_context(isolated: Path) -> None:
    ds = trackstore.Dataset("train", "d1g3st", "local", '{"uri": "x"}')
    with trackstore.start_run() as run:
        trackstore.log_input(ds, context="training", tags={"split": "a"})
    (got,) = TrackingClient().get_run(run.info.run_id).inputs.dataset_inputs
    assert got.dataset == ds
    assert {t.key: t.value for t in got.tags} == {"split": "a", "mlflow.data.context": "training"}


def test_git_commit_tag_when_the_script_is_in_a_repository(isolated: Path) -> None:
    repo = isolated / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://example.com/r.git"], check=True)
    script = repo / "train.py"
    script.write_text("import trackstore\nwith trackstore.start_run() as r:\n"
                      "    print(r.info.run_id)\n")
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True,
                         text=True, cwd=isolated).stdout.strip()
    tags = TrackingClient().get_run(out).data.tags
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/r.git"
    assert tags["mlflow.source.name"] == str(script)
    subprocess.run([*git, "pack-refs", "--all"], check=True)  # commit found in packed-refs too
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True,
                         text=True, cwd=isolated).stdout.strip()
    assert TrackingClient().get_run(out).data.tags["mlflow.source.git.commit"] == commit


def test_no_git_tags_outside_a_repository(isolated: Path) -> None:
    script = isolated / "plain.py"
    script.write_text("import trackstore\nwith trackstore.start_run() as r:\n"
                      "    print(r.info.run_id)\n")
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True,
                         text=True, cwd=isolated).stdout.strip()
    tags = TrackingClient().get_run(out).data.tags
    assert not any(k.startswith("mlflow.source.git") for k in tags)


def test_run_left_active_is_ended_at_exit(isolated: Path) -> None:
    code = ("import trackstore\nr = trackstore.start_run()\ntrackstore.log_metric('m', 1.0)\n"
            "print(r.info.run_id)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=isolated).stdout.strip()
    assert TrackingClient().get_run(out).info.status == "FINISHED"


@pytest.mark.parametrize(("ending", "status"), [("raise ValueError('x')", "FAILED"),
                                                 ("raise KeyboardInterrupt", "KILLED"),
                                                 ("raise SystemExit(3)", "FINISHED")])
def test_the_status_at_exit_tells_how_the_script_ended(isolated: Path, ending: str,
                                                       status: str) -> None:
    code = ("import trackstore\nr = trackstore.start_run()\n"
            "print(r.info.run_id, flush=True)\n" + ending + "\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, cwd=isolated)
    assert done.returncode != 0
    assert TrackingClient().get_run(done.stdout.strip()).info.status == status


@pytest.mark.parametrize("kind", SQL_KINDS)
def test_the_fluent_api_on_a_database(isolated: Path, kind: str) -> None:
    with fresh_database(kind, isolated) as uri:
        os.environ["MLFLOW_TRACKING_URI"] = uri
        exp = trackstore.set_experiment("on sql")
        with trackstore.start_run(run_name="r1") as run:
            trackstore.log_params({"lr": 0.1})
            trackstore.log_metrics({"loss": 1.0}, step=0)
            trackstore.log_metric("loss", 0.25, step=1)
            with trackstore.start_run(nested=True) as child:
                trackstore.set_tag("t", "child")
        stored = TrackingClient(uri).get_run(run.info.run_id)
        assert stored.info.experiment_id == exp.experiment_id
        assert (stored.info.status, stored.info.run_name) == ("FINISHED", "r1")
        assert stored.data.params == {"lr": "0.1"} and stored.data.metrics == {"loss": 0.25}
        assert stored.data.tags["mlflow.user"] == getpass.getuser()
        found = TrackingClient(uri).search_runs([exp.experiment_id], "tags.t = 'child'")
        assert [r.info.run_id for r in found] == [child.info.run_id]
        assert found[0].data.tags["mlflow.parentRunId"] == run.info.run_id
        registry.clear_cache()
        dispose_engines()


def test_an_active_run_keeps_logging_to_the_store_it_started_in(isolated: Path) -> None:
    # Logging to the active run does not resolve the tracking URI again (that costs more than
    # storing a point): a URI changed mid-run applies to the next run, not to this one.
    first = (isolated / "first").as_uri()
    trackstore.set_tracking_uri(first)
    with trackstore.start_run() as run:
        os.environ["MLFLOW_TRACKING_URI"] = (isolated / "second").as_uri()
        trackstore.tracking_uri._reset()
        trackstore.log_metric("loss", 0.5, step=1)
        trackstore.log_metric("loss", 0.25, step=2, synchronous=False)
        trackstore.set_tag("t", "v")
    stored = TrackingClient(first).get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.metrics == {"loss": 0.25} and stored.data.tags["t"] == "v"
    assert not (isolated / "second").exists()
