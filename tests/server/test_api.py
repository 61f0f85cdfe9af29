"""The REST API as MLflow's client sees it: shapes, parameters, errors, limits, paging.

Every test talks HTTP to a live server (``api`` fixture: on SQLite and on the file store).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._live_server import serve_in_thread
from tests.server.conftest import Api
from tests.store.conftest import make_store
from trackstore._version import __version__
from trackstore.exceptions import TrackstoreError
from trackstore.server import handlers
from trackstore.server.app import classify

MISSING = ("Missing value for required parameter '{}'. See the API docs for more information "
           "about request parameters.")


def test_health_version_and_server_info(api: Api) -> None:
    status, _, raw = api.request("GET", "/health")
    assert (status, raw) == (200, b"OK")
    status, _, raw = api.request("GET", "/version")
    assert (status, raw.decode()) == (200, __version__)
    for prefix in ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow"):
        status, info = api.get("/server-info", prefix=prefix)
        assert status == 200
        assert info["store_type"] in ("SqlStore", "FileStore")
        assert info["artifact_serving_enabled"] is False


def test_run_json_shape(api: Api) -> None:
    experiment_id = api.ok("/experiments/create", {
        "name": "shape", "tags": [{"key": "team", "value": "ml"}]})["experiment_id"]
    assert isinstance(experiment_id, str)
    run = api.ok("/runs/create", {"experiment_id": experiment_id, "user_id": "bob",
                                  "start_time": 1700000000000, "run_name": "r1",
                                  "tags": [{"key": "t", "value": "1"}]})["run"]
    info = run["info"]
    assert info["run_id"] == info["run_uuid"] and len(info["run_id"]) == 32
    assert info["experiment_id"] == experiment_id
    assert (info["status"], info["lifecycle_stage"], info["user_id"]) == (
        "RUNNING", "active", "bob")
    assert info["start_time"] == 1700000000000  # int64 as a JSON number
    assert "end_time" not in info  # unset fields are omitted
    assert run["inputs"] == {} and run["outputs"] == {}
    assert {"key": "mlflow.runName", "value": "r1"} in run["data"]["tags"]
    assert "metrics" not in run["data"] and "params" not in run["data"]

    run_id = info["run_id"]
    api.ok("/runs/log-batch", {"run_id": run_id,
                               "metrics": [{"key": "m", "value": 1.5, "timestamp": 7, "step": 2}],
                               "params": [{"key": "p", "value": "1"}]})
    done = api.ok("/runs/update", {"run_id": run_id, "status": "FINISHED",
                                   "end_time": 1700000000500})["run_info"]
    assert (done["status"], done["end_time"]) == ("FINISHED", 1700000000500)
    status, got = api.get("/runs/get", {"run_id": run_id})
    assert status == 200
    data = got["run"]["data"]
    assert data["metrics"] == [{"key": "m", "value": 1.5, "timestamp": 7, "step": 2}]
    assert data["params"] == [{"key": "p", "value": "1"}]
    status, exp = api.get("/experiments/get", {"experiment_id": experiment_id})
    assert status == 200
    assert exp["experiment"]["name"] == "shape"
    assert exp["experiment"]["tags"] == [{"key": "team", "value": "ml"}]
    assert isinstance(exp["experiment"]["creation_time"], int)


def test_non_finite_values_travel_as_strings(api: Api) -> None:
    run_id = api.new_run()
    for step, value in enumerate(["NaN", "Infinity", "-Infinity"]):
        api.ok("/runs/log-metric", {"run_id": run_id, "run_uuid": run_id, "key": "x",
                                    "value": value, "timestamp": 10, "step": step})
    status, _, raw = api.request(
        "GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=x")
    assert status == 200
    assert b"NaN" in raw and b'"NaN"' in raw and b'"-Infinity"' in raw
    values = [m["value"] for m in json.loads(raw)["metrics"]]
    # The SQL store keeps +-inf exactly; values come back in their step order here.
    assert sorted(values) == sorted(["NaN", "Infinity", "-Infinity"])


def test_int64_and_enum_accept_protobuf_spellings(api: Api) -> None:
    run_id = api.new_run()
    api.ok("/runs/log-metric", {"run_id": run_id, "key": "m", "value": "2.5",
                                "timestamp": "1700000000001", "step": "3"})
    info = api.ok("/runs/update", {"run_id": run_id, "status": 3, "end_time": "9"})["run_info"]
    assert (info["status"], info["end_time"]) == ("FINISHED", 9)
    _, history = api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "m"})
    point = history["metrics"][0]
    assert (point["value"], point["timestamp"], point["step"]) == (2.5, 1700000000001, 3)


@pytest.mark.parametrize(("endpoint", "body", "missing"), [
    ("/experiments/create", {}, "name"),
    ("/experiments/create", {"name": ""}, "name"),
    ("/runs/log-metric", {"run_id": "a" * 32, "key": "m", "timestamp": 1}, "value"),
    ("/runs/log-metric", {"key": "m", "value": 1, "timestamp": 1}, "run_id"),
    ("/runs/log-batch", {}, "run_id"),
    ("/runs/set-tag", {"run_id": "a" * 32}, "key"),
    ("/experiments/delete", {}, "experiment_id"),
])
def test_required_parameters(api: Api, endpoint: str, body: dict[str, object],
                             missing: str) -> None:
    status, error = api.post(endpoint, body)
    assert status == 400
    assert error == {"error_code": "INVALID_PARAMETER_VALUE", "message": MISSING.format(missing)}


@pytest.mark.parametrize(("body", "field"), [
    ({"key": "m", "value": "fast", "timestamp": 1}, "value"),
    ({"key": "m", "value": 1.0, "timestamp": "soon"}, "timestamp"),
    ({"key": "m", "value": 1.0, "timestamp": 1, "step": 1.5}, "step"),
    ({"key": 5, "value": 1.0, "timestamp": 1}, "key"),
    ({"key": "m", "value": 1.0, "timestamp": 1 << 63}, "timestamp"),
])
def test_wrong_types_are_refused_and_nothing_is_stored(api: Api, body: dict[str, object],
                                                       field: str) -> None:
    run_id = api.new_run()
    status, error = api.post("/runs/log-metric", {"run_id": run_id, **body})
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert f"parameter '{field}'" in error["message"]
    _, run = api.get("/runs/get", {"run_id": run_id})
    assert "metrics" not in run["run"]["data"]


def test_a_bad_point_in_a_batch_stores_none_of_it(api: Api) -> None:
    run_id = api.new_run()
    metrics = [{"key": "m", "value": float(i), "timestamp": 1, "step": i} for i in range(50)]
    metrics[37] = {"key": "m", "value": "oops", "timestamp": 1, "step": 37}
    status, error = api.post("/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    assert status == 400 and "metrics[37].value" in error["message"]
    _, history = api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "m"})
    assert history == {}


def test_store_errors_keep_mlflow_codes_and_statuses(api: Api) -> None:
    status, error = api.get("/runs/get", {"run_id": "0" * 32})
    assert status == 404 and error["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    status, error = api.get("/experiments/get-by-name", {"experiment_name": "nope"})
    assert status == 404
    assert error == {"error_code": "RESOURCE_DOES_NOT_EXIST",
                     "message": "Could not find experiment with name 'nope'"}
    api.ok("/experiments/create", {"name": "dup"})
    status, error = api.post("/experiments/create", {"name": "dup"})
    assert status == 400 and error["error_code"] == "RESOURCE_ALREADY_EXISTS"
    run_id = api.new_run()
    api.ok("/runs/delete", {"run_id": run_id})
    status, error = api.post("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "v"})
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"
    status, error = api.post("/runs/search", {"experiment_ids": ["0"], "filter": "metrics.m >> 1"})
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"


def test_content_type_and_body_checks(api: Api) -> None:
    path = "/api/2.0/mlflow/experiments/create"
    status, error, _ = api.request("POST", path, b'{"name": "x"}')
    assert status == 400
    assert error["message"] == "Bad Request. Content-Type header is missing."
    status, error, _ = api.request("POST", path, b'{"name": "x"}', {"Content-Type": "text/plain"})
    assert status == 400
    assert error["message"] == "Bad Request. Content-Type must be one of ['application/json']."
    status, error, _ = api.request("POST", path, b'{"name": ', {
        "Content-Type": "application/json; charset=utf-8"})
    assert status == 400 and error["error_code"] == "MALFORMED_REQUEST"
    status, error, _ = api.request("POST", path, b"[1, 2]", {"Content-Type": "application/json"})
    assert status == 400 and error["error_code"] == "BAD_REQUEST"
    # Legacy clients double-encode the body: decoded twice.
    twice = json.dumps(json.dumps({"name": "legacy"})).encode()
    status, created, _ = api.request("POST", path, twice, {"Content-Type": "application/json"})
    assert status == 200 and created["experiment_id"]
    # Unknown fields are ignored, as protobuf's parser ignores them.
    assert api.ok("/experiments/create", {"name": "extra", "colour": "blue"})["experiment_id"]


def test_delete_requests_carry_json_bodies_without_content_type(api: Api) -> None:
    experiment_id = api.ok("/experiments/create", {"name": "tagged"})["experiment_id"]
    api.ok("/experiments/set-experiment-tag", {"experiment_id": experiment_id, "key": "k",
                                               "value": "v"})
    status, _, _ = api.request("POST", "/api/2.0/mlflow/experiments/delete-experiment-tag",
                               json.dumps({"experiment_id": experiment_id, "key": "k"}).encode(),
                               {"Content-Type": "application/json"})
    assert status == 200
    _, got = api.get("/experiments/get", {"experiment_id": experiment_id})
    assert "tags" not in got["experiment"]


def test_unknown_paths_and_methods(api: Api) -> None:
    status, error = api.get("/runs/nothing-here")
    assert status == 404 and error["error_code"] == "ENDPOINT_NOT_FOUND"
    status, error = api.get("/runs/create")
    assert status == 405 and api.headers["allow"] == "POST"
    status, _, _ = api.request("GET", "/not-an-api")
    assert status == 404


def test_ajax_prefix_serves_the_same_api(api: Api) -> None:
    experiment_id = api.ok("/experiments/create", {"name": "ajax"})["experiment_id"]
    status, got = api.get("/experiments/get", {"experiment_id": experiment_id},
                          prefix="/ajax-api/2.0/mlflow")
    assert status == 200 and got["experiment"]["name"] == "ajax"


def test_body_size_limit(tmp_path: Path) -> None:
    with make_store("sqlite", tmp_path) as store, \
            serve_in_thread(store, max_request_bytes=4096) as url:
        api = Api(url)
        run_id = api.new_run()
        metrics = [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(200)]
        status, error = api.post("/runs/log-batch", {"run_id": run_id, "metrics": metrics})
        assert status == 413 and error["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert "4096" in error["message"]
        assert store.get_metric_history(run_id, "m") == []
        api.conn.close()
        api = Api(url)  # a small batch still works
        api.ok("/runs/log-batch", {"run_id": run_id, "metrics": metrics[:3]})
        assert len(store.get_metric_history(run_id, "m")) == 3


def test_search_runs_paging_and_filters(api: Api) -> None:
    experiment_id = api.ok("/experiments/create", {"name": "paged"})["experiment_id"]
    for i in range(7):
        run_id = api.new_run(experiment_id)
        api.ok("/runs/log-metric", {"run_id": run_id, "key": "acc", "value": i / 10,
                                    "timestamp": 1})
    seen: list[float] = []
    token = None
    pages = 0
    while True:
        body = {"experiment_ids": [experiment_id], "filter": "metrics.acc >= 0.2",
                "order_by": ["metrics.acc DESC"], "max_results": 2}
        if token:
            body["page_token"] = token
        page = api.ok("/runs/search", body)
        pages += 1
        seen += [r["data"]["metrics"][0]["value"] for r in page.get("runs", [])]
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == [0.6, 0.5, 0.4, 0.3, 0.2] and pages == 3
    status, error = api.post("/runs/search", {"experiment_ids": [experiment_id],
                                              "max_results": 50001})
    assert status == 400 and "at most 50000" in error["message"]
    empty = api.ok("/runs/search", {"experiment_ids": [experiment_id], "filter": "params.x = 'y'"})
    assert empty == {}


def test_search_experiments_get_and_post(api: Api) -> None:
    for name in ("a1", "a2", "b1"):
        api.ok("/experiments/create", {"name": name})
    page = api.ok("/experiments/search", {"filter": "name LIKE 'a%'", "max_results": 10,
                                          "order_by": ["name DESC"]})
    assert [e["name"] for e in page["experiments"]] == ["a2", "a1"]
    status, got = api.get("/experiments/search", {"filter": "name = 'b1'", "max_results": 5})
    assert status == 200 and [e["name"] for e in got["experiments"]] == ["b1"]
    status, got = api.get("/experiments/search", {"view_type": "ALL", "max_results": "100"})
    assert status == 200 and {"Default", "a1", "a2", "b1"} <= {e["name"] for e in
                                                               got["experiments"]}


def test_history_paged_and_streamed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "HISTORY_PAGE", 40)  # several pages from a small history
    run_id = api.new_run()
    points = [{"key": "loss", "value": 1 / (i + 1), "timestamp": 1000 + i, "step": i}
              for i in range(101)]
    api.ok("/runs/log-batch", {"run_id": run_id, "metrics": points})
    # Unbounded: one response, streamed page by page, holding every point in order.
    status, whole = api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "loss"})
    assert status == 200 and "next_page_token" not in whole
    assert [m["step"] for m in whole["metrics"]] == list(range(101))
    assert api.headers.get("transfer-encoding") == "chunked"
    # Bounded: pages the client follows; a page larger than the cap is cut to the cap.
    steps: list[int] = []
    token = None
    while True:
        params = {"run_id": run_id, "metric_key": "loss", "max_results": 1000}
        if token:
            params["page_token"] = token
        status, page = api.get("/metrics/get-history", params)
        assert status == 200 and len(page["metrics"]) <= 40
        steps += [m["step"] for m in page["metrics"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert steps == list(range(101))
    status, error = api.get("/metrics/get-history", {"run_id": run_id, "metric_key": "loss",
                                                     "max_results": 0})
    assert status == 400 and "max_results" in error["message"]
    status, error = api.get("/metrics/get-history", {"run_id": "0" * 32, "metric_key": "loss"})
    assert status == 404


def test_log_inputs_and_model_history(api: Api) -> None:
    run_id = api.new_run()
    dataset = {"name": "train", "digest": "abc123", "source_type": "local",
               "source": '{"uri": "/data/train.csv"}', "schema": "{}"}
    api.ok("/runs/log-inputs", {"run_id": run_id, "datasets": [
        {"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": dataset}]})
    _, got = api.get("/runs/get", {"run_id": run_id})
    inputs = got["run"]["inputs"]["dataset_inputs"]
    assert inputs == [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
                       "dataset": dataset}]
    model = {"artifact_path": "model", "utc_time_created": "2026-11-28 10:00:00.000000",
             "flavors": {}}
    api.ok("/runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)})
    api.ok("/runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)})
    _, got = api.get("/runs/get", {"run_id": run_id})
    tags = {t["key"]: t["value"] for t in got["run"]["data"]["tags"]}
    assert json.loads(tags["mlflow.log-model.history"]) == [model, model]
    status, error = api.post("/runs/log-model", {"run_id": run_id, "model_json": "{nope"})
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"


def test_delete_restore_and_tags(api: Api) -> None:
    experiment_id = api.ok("/experiments/create", {"name": "life"})["experiment_id"]
    run_id = api.new_run(experiment_id)
    api.ok("/runs/set-tag", {"run_id": run_id, "key": "k", "value": "v"})
    api.ok("/runs/delete-tag", {"run_id": run_id, "key": "k"})
    api.ok("/experiments/update", {"experiment_id": experiment_id, "new_name": "life2"})
    api.ok("/experiments/delete", {"experiment_id": experiment_id})
    _, got = api.get("/runs/get", {"run_id": run_id})
    assert got["run"]["info"]["lifecycle_stage"] == "deleted"
    assert "k" not in {t["key"] for t in got["run"]["data"].get("tags", [])}
    api.ok("/experiments/restore", {"experiment_id": experiment_id})
    _, got = api.get("/experiments/get", {"experiment_id": experiment_id})
    assert (got["experiment"]["name"], got["experiment"]["lifecycle_stage"]) == ("life2",
                                                                                 "active")
    api.ok("/runs/delete", {"run_id": run_id})
    api.ok("/runs/restore", {"run_id": run_id})
    _, got = api.get("/runs/get", {"run_id": run_id})
    assert got["run"]["info"]["lifecycle_stage"] == "active"


def test_static_prefix(tmp_path: Path) -> None:
    with make_store("sqlite", tmp_path) as store, \
            serve_in_thread(store, static_prefix="/mlflow") as url:
        api = Api(url)
        status, got = api.get("/experiments/get", {"experiment_id": "0"},
                              prefix="/mlflow/api/2.0/mlflow")
        assert status == 200 and got["experiment"]["name"] == "Default"
        status, _ = api.get("/experiments/get", {"experiment_id": "0"})
        assert status == 404
        status, _, raw = api.request("GET", "/mlflow/health")
        assert (status, raw) == (200, b"OK")


def test_internal_errors_hide_details() -> None:
    error = classify(ValueError("secret detail /etc/passwd"))
    assert error.error_code == "INTERNAL_ERROR" and "secret" not in error.message
    import sqlalchemy.exc

    down = classify(sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("gone")))
    assert down.error_code == "TEMPORARILY_UNAVAILABLE" and down.http_status == 503
    ours = TrackstoreError("x", "RESOURCE_DOES_NOT_EXIST")
    assert classify(ours) is ours


def test_a_broken_database_is_a_503_not_a_traceback(tmp_path: Path) -> None:
    import sqlite3

    with make_store("sqlite", tmp_path) as store, serve_in_thread(store) as url:
        api = Api(url)
        run_id = api.new_run()
        database = store.engine.url.database  # type: ignore[attr-defined]
        with sqlite3.connect(database) as conn:
            conn.execute("DROP TABLE run_params")
        status, error = api.post("/runs/log-parameter", {"run_id": run_id, "key": "p",
                                                         "value": "v"})
        assert status == 503 and error["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert "Traceback" not in error["message"]


def test_history_bulk_reads_over_http(api: Api) -> None:
    runs = [api.new_run() for _ in range(2)]
    for n, run_id in enumerate(runs):
        api.ok("/runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": "loss", "value": step + n / 10, "timestamp": 100 + step, "step": step}
            for step in range(0, 20 + 10 * n)]})
    status, got = api.get("/metrics/get-history-bulk-interval", {
        "run_ids": runs, "metric_key": "loss", "start_step": 5, "end_step": 7})
    assert status == 200
    assert [(m["run_id"], m["step"], m["value"]) for m in got["metrics"]] == [
        (runs[0], 5, 5.0), (runs[0], 6, 6.0), (runs[0], 7, 7.0),
        (runs[1], 5, 5.1), (runs[1], 6, 6.1), (runs[1], 7, 7.1)]
    status, got = api.get("/metrics/get-history-bulk-interval", {
        "run_ids": runs, "metric_key": "loss", "max_results": 3})
    assert status == 200
    steps = {r: [m["step"] for m in got["metrics"] if m["run_id"] == r] for r in runs}
    # A few sampled steps, always with each run's own first and last.
    assert steps[runs[0]][0] == 0 and steps[runs[0]][-1] == 19 and len(steps[runs[0]]) < 8
    assert steps[runs[1]][0] == 0 and steps[runs[1]][-1] == 29 and len(steps[runs[1]]) < 8
    status, error = api.get("/metrics/get-history-bulk-interval", {
        "run_ids": runs, "metric_key": "loss", "start_step": 5})
    assert status == 400 and "both must be specified" in error["message"]
    status, error = api.get("/metrics/get-history-bulk-interval", {
        "run_ids": [runs[0]] * 101, "metric_key": "loss"})
    assert status == 400 and "100" in error["message"]
    status, error = api.get("/metrics/get-history-bulk-interval", {"metric_key": "loss"})
    assert status == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE"
    status, got = api.get("/metrics/get-history-bulk", {"run_id": runs, "metric_key": "loss"},
                          prefix="/ajax-api/2.0/mlflow")
    assert status == 200 and len(got["metrics"]) == 20 + 30
    assert {m["run_id"] for m in got["metrics"]} == set(runs)
    status, _ = api.get("/metrics/get-history-bulk", {"run_id": runs, "metric_key": "loss"})
    assert status == 404  # the UI's route exists under /ajax-api only, as in MLflow
