"""TrackingClient's MlflowClient-shaped API, URI schemes and store plugins."""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path

import pytest

import trackstore
from trackstore import Metric, Param, RunTag, TrackingClient, TrackstoreError
from trackstore.store import registry
from trackstore.store.file import FileStore

T0 = 1_700_000_000_000


def test_uri_forms_select_the_file_store(isolated: Path) -> None:
    for uri in (str(isolated / "a"), (isolated / "b").as_uri(), "c"):
        store = TrackingClient(uri).store
        assert isinstance(store, FileStore)
    assert TrackingClient("c").store.root_directory == str(isolated / "c")
    assert TrackingClient(str(isolated / "a")).store is TrackingClient(str(isolated / "a")).store


def test_unknown_scheme_is_a_clear_error(isolated: Path) -> None:
    with pytest.raises(TrackstoreError) as e:
        TrackingClient("nosuch://host/x")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "no store handles the scheme 'nosuch'" in e.value.message
    assert "file" in e.value.message and "trackstore.stores" in e.value.message
    assert registry.uri_scheme("postgresql+psycopg2://u@h/db") == "postgresql"
    assert registry.uri_scheme("C:\\mlruns") == ""


def test_plugin_schemes_come_from_entry_points(isolated: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    site = isolated / "site"
    (site / "demo_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "demo_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (site / "demo_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[trackstore.stores]\nmemo = demo_plugin:make_store\n")
    (site / "demo_plugin.py").write_text(textwrap.dedent("""
        from trackstore.store.file import FileStore

        def make_store(store_uri, artifact_uri):
            store = FileStore(store_uri.split("://", 1)[1])
            store.made_by_plugin = store_uri
            return store
    """))
    monkeypatch.syspath_prepend(str(site))
    client = TrackingClient(f"memo://{isolated / 'plugged'}")
    assert client.store.made_by_plugin == f"memo://{isolated / 'plugged'}"  # type: ignore[attr-defined]
    assert (isolated / "plugged" / "0" / "meta.yaml").is_file()
    with pytest.raises(TrackstoreError) as e:
        TrackingClient("other://x")
    assert "memo" in e.value.message


def test_client_signatures_match_mlflow_client() -> None:
    mlflow = pytest.importorskip("mlflow")
    names = ["create_experiment", "get_experiment", "get_experiment_by_name",
             "search_experiments", "rename_experiment", "delete_experiment",
             "restore_experiment", "set_experiment_tag", "delete_experiment_tag", "create_run",
             "get_run", "update_run", "set_terminated", "delete_run", "restore_run",
             "search_runs", "log_metric", "log_param", "set_tag", "delete_tag", "log_batch",
             "log_inputs", "get_metric_history"]
    for name in names:
        ours = list(inspect.signature(getattr(TrackingClient, name)).parameters)
        theirs = list(inspect.signature(getattr(mlflow.MlflowClient, name)).parameters)
        assert ours == theirs, name
    for name in ["set_tracking_uri", "get_tracking_uri", "set_experiment", "start_run",
                 "end_run", "active_run", "log_metric", "log_metrics", "log_param",
                 "log_params", "set_tag", "set_tags", "log_input", "delete_tag"]:
        ours = list(inspect.signature(getattr(trackstore, name)).parameters)
        theirs = list(inspect.signature(getattr(mlflow, name)).parameters)
        if name == "set_experiment":
            theirs = [p for p in theirs if p != "trace_location"]  # tracing: out of scope
        assert ours == theirs, name


def test_client_conveniences(isolated: Path) -> None:
    client = TrackingClient()
    exp = client.create_experiment("c", tags={"n": 1})
    assert client.get_experiment(exp).tags == {"n": "1"}
    run = client.create_run(exp, tags={"mlflow.user": "carol"})
    rid = run.info.run_id
    assert run.info.user_id == "carol"
    assert client.log_param(rid, "p", 3) == 3
    assert client.log_metric(rid, "m", 1.0, synchronous=False) is not None
    client.log_metric(rid, "m", 2.0, timestamp=T0, step=4)
    client.update_run(rid, status="KILLED")
    assert client.get_run(rid).info.status == "KILLED"
    client.update_run(rid, name="renamed")
    assert client.get_run(rid).info.run_name == "renamed"
    client.set_terminated(rid, end_time=T0 + 1)
    assert (client.get_run(rid).info.status, client.get_run(rid).info.end_time) == (
        "FINISHED", T0 + 1)
    with pytest.raises(TrackstoreError):
        client.set_terminated(rid, status="DONE")


def test_client_log_batch_splits_large_batches(isolated: Path) -> None:
    client = TrackingClient()
    rid = client.create_run("0").info.run_id
    client.log_batch(rid, metrics=[Metric("m", float(i), T0, i) for i in range(2500)],
                     params=[Param(f"p{i}", str(i)) for i in range(250)],
                     tags=[RunTag(f"t{i}", "v") for i in range(150)])
    run = client.get_run(rid)
    assert len(run.data.params) == 250 and len(run.data.tags) == 151  # + mlflow.runName
    assert [m.step for m in client.get_metric_history(rid, "m")] == list(range(2500))
    cols = client.get_metric_history_columns(rid, "m")
    assert cols.values.typecode == "d" and list(cols.steps) == list(range(2500))


def test_search_experiments_without_limit_returns_everything(isolated: Path) -> None:
    client = TrackingClient()
    for i in range(12):
        client.create_experiment(f"e{i}")
    assert len(client.search_experiments(max_results=None)) == 13
    page = client.search_experiments(max_results=5)
    assert len(page) == 5 and page.token


def test_errors_pickle(isolated: Path) -> None:
    import pickle

    err = TrackstoreError("nope", "RESOURCE_DOES_NOT_EXIST")
    back = pickle.loads(pickle.dumps(err))
    assert (back.message, back.error_code, back.http_status) == ("nope",
                                                                  "RESOURCE_DOES_NOT_EXIST", 404)
    assert sys.modules["trackstore"].TrackstoreError is TrackstoreError
