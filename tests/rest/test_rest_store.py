"""RestStore speaks MLflow's REST API as MLflow's client does: methods, paths, fields, paging."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Any

import pytest

from tests.rest.conftest import Reply, ScriptedServer, Seen, experiment_json, run_json
from trackstore import TrackingClient, __version__
from trackstore.entities import (
    Dataset,
    DatasetInput,
    ExperimentTag,
    InputTag,
    LoggedModelInput,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from trackstore.exceptions import TrackstoreError
from trackstore.store import registry
from trackstore.store.rest import RestStore

Serve = Callable[..., ScriptedServer]
RUN_ID = "a" * 32
API = "/api/2.0/mlflow"


def answering(replies: dict[str, Any]) -> Callable[[Seen], Reply]:
    """A responder answering each path with its body from *replies* (default ``{}``)."""
    def respond(seen: Seen) -> Reply:
        return Reply(body=replies.get(seen.path.removeprefix(API), {}))
    return respond


def test_reads_are_gets_with_query_parameters(serve: Serve) -> None:
    server = serve(answering({"/runs/get": {"run": run_json()},
                              "/experiments/get": {"experiment": experiment_json("7")},
                              "/experiments/get-by-name": {"experiment": experiment_json()}}))
    store = RestStore(server.url)
    run = store.get_run(RUN_ID)
    experiment = store.get_experiment("7")
    by_name = store.get_experiment_by_name("exp one")
    assert run.info.run_id == RUN_ID and run.info.status == "RUNNING"
    assert experiment is not None and experiment.experiment_id == "7"
    assert by_name is not None and by_name.name == "exp"
    get_run, get_experiment, get_by_name = server.seen
    assert (get_run.method, get_run.path) == ("GET", f"{API}/runs/get")
    assert get_run.query == {"run_id": [RUN_ID], "run_uuid": [RUN_ID]} and get_run.body == b""
    assert "content-type" not in get_run.headers
    assert (get_experiment.method, get_experiment.query) == ("GET", {"experiment_id": ["7"]})
    assert get_by_name.query == {"experiment_name": ["exp one"]}
    assert get_run.headers["user-agent"] == f"trackstore/{__version__}"


def test_get_experiment_by_name_is_none_only_for_a_missing_experiment(serve: Serve) -> None:
    missing = serve(lambda seen: Reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                                             "message": "Could not find experiment"}))
    assert RestStore(missing.url).get_experiment_by_name("nope") is None
    # A 404 that is not MLflow's JSON error (a proxy, a wrong prefix) is not "no experiment".
    wrong_path = serve(lambda seen: Reply(404, "<html><h1>Not Found</h1></html>"))
    with pytest.raises(TrackstoreError) as e:
        RestStore(wrong_path.url).get_experiment_by_name("nope")
    assert e.value.error_code == "ENDPOINT_NOT_FOUND"


def test_writes_post_json_bodies_like_mlflow(serve: Serve) -> None:
    server = serve(answering({
        "/experiments/create": {"experiment_id": "12"},
        "/runs/create": {"run": run_json()},
        "/runs/update": {"run_info": run_json()["info"] | {"status": "FINISHED",
                                                           "end_time": 1700000000500}},
    }))
    store = RestStore(server.url)
    assert store.create_experiment("e", "s3://b/x", [ExperimentTag("k", "v")]) == "12"
    run = store.create_run("12", "bob", 1700000000000, [RunTag("t", "1")], "r")
    info = store.update_run_info(RUN_ID, RunStatus.FINISHED, 1700000000500, None)
    store.rename_experiment("12", "f")
    store.set_experiment_tag("12", ExperimentTag("a", "b"))
    store.delete_experiment_tag("12", "a")
    store.delete_experiment("12")
    store.restore_experiment("12")
    store.delete_tag(RUN_ID, "t")
    store.delete_run(RUN_ID)
    store.restore_run(RUN_ID)
    assert run.info.run_id == RUN_ID and info.status == "FINISHED"
    assert info.end_time == 1700000000500
    bodies = [(s.method, s.path.removeprefix(API), s.json) for s in server.seen]
    assert bodies == [
        ("POST", "/experiments/create", {"name": "e", "artifact_location": "s3://b/x",
                                         "tags": [{"key": "k", "value": "v"}]}),
        ("POST", "/runs/create", {"experiment_id": "12", "user_id": "bob",
                                  "start_time": 1700000000000,
                                  "tags": [{"key": "t", "value": "1"}], "run_name": "r"}),
        ("POST", "/runs/update", {"run_id": RUN_ID, "run_uuid": RUN_ID, "status": "FINISHED",
                                  "end_time": 1700000000500}),
        ("POST", "/experiments/update", {"experiment_id": "12", "new_name": "f"}),
        ("POST", "/experiments/set-experiment-tag",
         {"experiment_id": "12", "key": "a", "value": "b"}),
        ("POST", "/experiments/delete-experiment-tag", {"experiment_id": "12", "key": "a"}),
        ("POST", "/experiments/delete", {"experiment_id": "12"}),
        ("POST", "/experiments/restore", {"experiment_id": "12"}),
        ("POST", "/runs/delete-tag", {"run_id": RUN_ID, "key": "t"}),
        ("POST", "/runs/delete", {"run_id": RUN_ID}),
        ("POST", "/runs/restore", {"run_id": RUN_ID}),
    ]
    assert all(s.headers["content-type"] == "application/json" for s in server.seen)


def test_logging_sends_int64_as_numbers_and_non_finite_values_as_strings(serve: Serve) -> None:
    server = serve(answering({}))
    store = RestStore(server.url)
    big = 2**62 + 1  # not representable as a double: must travel as an exact JSON integer
    store.log_batch(RUN_ID, [Metric("m", math.nan, big, -big), Metric("m", math.inf, 1, 2),
                             Metric("m", -math.inf, 1, 3, dataset_name="d",
                                    dataset_digest="x1")],
                    [Param("p", "1")], [RunTag("t", "v")])
    store.log_metric(RUN_ID, Metric("loss", 0.25, 5, 6))
    store.log_param(RUN_ID, Param("q", "2"))
    store.set_tag(RUN_ID, RunTag("u", "w"))
    batch, metric, param, tag = server.seen
    assert batch.path == f"{API}/runs/log-batch"
    assert f'"timestamp":{big}'.encode() in batch.body  # a number, not a string
    assert batch.json == {"run_id": RUN_ID, "metrics": [
        {"key": "m", "value": "NaN", "timestamp": big, "step": -big},
        {"key": "m", "value": "Infinity", "timestamp": 1, "step": 2},
        {"key": "m", "value": "-Infinity", "timestamp": 1, "step": 3, "dataset_name": "d",
         "dataset_digest": "x1"}],
        "params": [{"key": "p", "value": "1"}], "tags": [{"key": "t", "value": "v"}]}
    assert (metric.path, metric.json) == (f"{API}/runs/log-metric", {
        "key": "loss", "value": 0.25, "timestamp": 5, "step": 6, "run_id": RUN_ID,
        "run_uuid": RUN_ID})
    assert (param.path, param.json) == (f"{API}/runs/log-batch",
                                        {"run_id": RUN_ID, "params": [{"key": "q", "value": "2"}]})
    assert tag.json == {"run_id": RUN_ID, "tags": [{"key": "u", "value": "w"}]}


def test_log_inputs(serve: Serve) -> None:
    server = serve(answering({}))
    RestStore(server.url).log_inputs(
        RUN_ID, [DatasetInput(Dataset("d", "dg", "local", "/data", '{"s": 1}'),
                              [InputTag("mlflow.data.context", "train")])],
        [LoggedModelInput("m-1")])
    (seen,) = server.seen
    assert (seen.method, seen.path) == ("POST", f"{API}/runs/log-inputs")
    assert seen.json == {"run_id": RUN_ID, "datasets": [{
        "tags": [{"key": "mlflow.data.context", "value": "train"}],
        "dataset": {"name": "d", "digest": "dg", "source_type": "local", "source": "/data",
                    "schema": '{"s": 1}'}}], "models": [{"model_id": "m-1"}]}


def test_tracking_client_splits_a_large_batch_as_mlflow_client_does(serve: Serve) -> None:
    server = serve(answering({}))
    client = TrackingClient(server.url)
    try:
        client.log_batch(RUN_ID, metrics=[Metric("m", i, 1, i) for i in range(2500)],
                         params=[Param(f"p{i}", "v") for i in range(150)])
    finally:
        registry.clear_cache()
    sizes = [(len(s.json.get("metrics", [])), len(s.json.get("params", [])))
             for s in server.seen]
    assert sizes == [(900, 100), (950, 50), (650, 0)]
    steps = [m["step"] for s in server.seen for m in s.json.get("metrics", [])]
    assert steps == list(range(2500))


def test_searches_are_posts_and_return_the_server_page_token(serve: Serve) -> None:
    server = serve(answering({
        "/experiments/search": {"experiments": [experiment_json("1"), experiment_json("2")],
                                "next_page_token": "tok2"},
        "/runs/search": {"runs": [run_json()]},
    }))
    store = RestStore(server.url)
    experiments = store.search_experiments(ViewType.ALL, 2, "name LIKE 'e%'",
                                           ["name ASC"], "tok1")
    runs = store.search_runs(["1", "2"], "metrics.m > 1", ViewType.DELETED_ONLY, 10,
                             ["metrics.m DESC"], "p")
    assert [e.experiment_id for e in experiments] == ["1", "2"]
    assert experiments.token == "tok2"
    assert [r.info.run_id for r in runs] == [RUN_ID] and runs.token is None
    search_experiments, search_runs = server.seen
    assert (search_experiments.method, search_experiments.json) == ("POST", {
        "max_results": 2, "view_type": "ALL", "filter": "name LIKE 'e%'",
        "order_by": ["name ASC"], "page_token": "tok1"})
    assert (search_runs.method, search_runs.json) == ("POST", {
        "experiment_ids": ["1", "2"], "run_view_type": "DELETED_ONLY", "max_results": 10,
        "filter": "metrics.m > 1", "order_by": ["metrics.m DESC"], "page_token": "p"})


def _history_server(serve: Serve, pages: list[list[dict[str, Any]]]) -> ScriptedServer:
    """Answers metrics/get-history with *pages*, chained by tokens "1", "2", ..."""
    def respond(seen: Seen) -> Reply:
        index = int(seen.query.get("page_token", ["0"])[0])
        body: dict[str, Any] = {"metrics": pages[index]} if pages[index] else {}
        if index + 1 < len(pages):
            body["next_page_token"] = str(index + 1)
        return Reply(body=body)
    return serve(respond)


PAGES = [[{"key": "m", "value": 1.5, "timestamp": 10, "step": 0},
          {"key": "m", "value": "NaN", "timestamp": "11", "step": 1}],
         [{"key": "m", "value": "-Infinity", "timestamp": 12}],  # step omitted: 0
         [{"key": "m", "value": 7, "timestamp": 13, "step": 2**40}]]


def test_full_metric_history_follows_every_page(serve: Serve) -> None:
    server = _history_server(serve, PAGES)
    history = RestStore(server.url).get_metric_history(RUN_ID, "m")
    assert [(m.timestamp, m.step) for m in history] == [(10, 0), (11, 1), (12, 0), (13, 2**40)]
    assert math.isnan(history[1].value) and history[2].value == -math.inf
    assert history.token is None
    first = server.seen[0]
    assert (first.method, first.path) == ("GET", f"{API}/metrics/get-history")
    assert first.query == {"run_id": [RUN_ID], "run_uuid": [RUN_ID], "metric_key": ["m"],
                           "max_results": ["25000"]}
    assert [s.query.get("page_token") for s in server.seen] == [None, ["1"], ["2"]]


def test_a_page_of_metric_history_is_one_request(serve: Serve) -> None:
    server = _history_server(serve, PAGES)
    page = RestStore(server.url).get_metric_history(RUN_ID, "m", max_results=2,
                                                    page_token="1")
    assert [m.timestamp for m in page] == [12] and page.token == "2"
    (seen,) = server.seen
    assert seen.query["max_results"] == ["2"] and seen.query["page_token"] == ["1"]


def test_metric_history_columns_are_arrays_over_every_page(serve: Serve) -> None:
    server = _history_server(serve, PAGES)
    columns = RestStore(server.url).get_metric_history_columns(RUN_ID, "m")
    assert columns.key == "m" and len(server.seen) == 3
    assert (columns.timestamps.typecode, columns.values.typecode,
            columns.steps.typecode) == ("q", "d", "q")
    assert columns.timestamps == array("q", [10, 11, 12, 13])
    assert columns.steps == array("q", [0, 1, 0, 2**40])
    assert columns.values[0] == 1.5 and math.isnan(columns.values[1])
    assert list(columns.values)[2:] == [-math.inf, 7.0]


def test_an_empty_history_is_empty(serve: Serve) -> None:
    server = _history_server(serve, [[]])
    store = RestStore(server.url)
    assert store.get_metric_history(RUN_ID, "m") == []
    assert len(store.get_metric_history_columns(RUN_ID, "m")) == 0


def test_a_path_prefix_in_the_uri_prefixes_every_endpoint(serve: Serve) -> None:
    server = serve(answering({}))
    RestStore(server.url + "/team/mlflow/").delete_run(RUN_ID)
    assert server.seen[0].path == f"/team/mlflow{API}/runs/delete"


@pytest.mark.parametrize("call", ["deleted_run_ids", "gc_runs", "hard_delete_run",
                                  "hard_delete_runs", "hard_delete_experiment"])
def test_permanent_deletion_is_not_part_of_the_protocol(serve: Serve, call: str) -> None:
    server = serve(answering({}))
    store = RestStore(server.url)
    args = {"deleted_run_ids": (), "gc_runs": (), "hard_delete_runs": ([RUN_ID],)}.get(
        call, (RUN_ID,))
    with pytest.raises(TrackstoreError) as e:
        getattr(store, call)(*args)
    assert e.value.error_code == "NOT_IMPLEMENTED"
    assert "no endpoint" in e.value.message and server.url in e.value.message
    assert server.seen == []


def test_tracking_uris_pick_the_rest_store(serve: Serve) -> None:
    server = serve(answering({"/experiments/get": {"experiment": experiment_json()}}))
    try:
        client = TrackingClient(server.url)
        assert isinstance(client.store, RestStore)
        assert client.get_experiment("1").name == "exp"
        assert isinstance(registry.get_store(server.url.replace("http", "HTTP", 1)), RestStore)
    finally:
        registry.clear_cache()


@pytest.mark.parametrize("uri", ["databricks-uc", "uc", "databricks-uc://profile",
                                 "uc:http://localhost:8080"])
def test_unity_catalog_uris_are_refused_as_tracking_uris(uri: str) -> None:
    with pytest.raises(TrackstoreError) as e:
        registry.get_store(uri)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Unity Catalog" in e.value.message and "'databricks'" in e.value.message


def test_bare_databricks_is_databricks_not_a_directory() -> None:
    with pytest.raises(TrackstoreError) as e:
        registry.get_store("databricks")
    assert "DATABRICKS_HOST" in e.value.message


def test_unsupported_scheme_lists_the_rest_schemes() -> None:
    with pytest.raises(TrackstoreError) as e:
        registry.get_store("ftp://x")
    assert "databricks, file, http, https" in e.value.message
