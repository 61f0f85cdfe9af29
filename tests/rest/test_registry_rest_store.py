"""The model registry through RestStore: every call against a live trackstore server (on SQLite)
gives what the SQL store gives, errors keep their codes, and the requests are MLflow's client's
(methods, paths, query parameters, JSON bodies, the get-latest-versions fallback), checked
against a scripted server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live_server import serve_in_thread
from tests.rest.conftest import Reply, ScriptedServer, Seen
from trackstore.exceptions import TrackstoreError
from trackstore.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from trackstore.registry_wire import (
    model_version_from_json,
    model_version_to_json,
    registered_model_from_json,
    registered_model_to_json,
)
from trackstore.store.file import FileStore
from trackstore.store.rest import RestStore
from trackstore.store.rest.registry import RestRegistry
from trackstore.store.sql import SqlStore

Serve = Callable[..., ScriptedServer]
API = "/api/2.0/mlflow"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[RestStore, SqlStore]]:
    """A RestStore talking to a live server, and the SQL store behind that server."""
    backing = SqlStore(f"sqlite:///{tmp_path}/db.sqlite", str(tmp_path / "art"))
    try:
        with serve_in_thread(backing) as url:
            client = RestStore(url)
            yield client, backing
            client.close()
    finally:
        backing.close()


# -- against a live server ------------------------------------------------------------------------

def test_registry_backend_is_cached(stores: tuple[RestStore, SqlStore]) -> None:
    rest, _ = stores
    backend = rest.registry_backend()
    assert isinstance(backend, RestRegistry) and rest.registry_backend() is backend


def test_registered_models_round_trip(stores: tuple[RestStore, SqlStore]) -> None:
    rest, sql = stores
    created = rest.create_registered_model("m", tags={"team": "ml", "empty": ""},
                                           description="first")
    assert created == sql.get_registered_model("m")
    assert (created.name, created.description, created.tags) == (
        "m", "first", {"team": "ml", "empty": ""})
    assert isinstance(created.creation_timestamp, int)
    bare = rest.create_registered_model("bare", [RegisteredModelTag("k", "v")])
    assert bare == sql.get_registered_model("bare") and bare.tags == {"k": "v"}

    updated = rest.update_registered_model("m", description="second")
    assert updated.description == "second" and updated == sql.get_registered_model("m")
    rest.set_registered_model_tag("m", RegisteredModelTag("stage", "beta"))
    rest.delete_registered_model_tag("m", "team")
    got = rest.get_registered_model("m")
    assert got.tags == {"empty": "", "stage": "beta"} and got == sql.get_registered_model("m")

    renamed = rest.rename_registered_model("m", "n")
    assert renamed.name == "n" and renamed == sql.get_registered_model("n")
    rest.delete_registered_model("bare")
    assert [m.name for m in rest.search_registered_models()] == ["n"]


def test_model_versions_round_trip(stores: tuple[RestStore, SqlStore]) -> None:
    rest, sql = stores
    rest.create_registered_model("m")
    run = sql.create_run("0", "alice", 1, [], None)
    source = run.info.artifact_uri + "/model"
    first = rest.create_model_version("m", source, run_id=run.info.run_id,
                                      tags=[ModelVersionTag("k", "v")], run_link="http://run",
                                      description="one")
    assert first == sql.get_model_version("m", 1)
    assert (first.version, first.source, first.run_id, first.tags, first.current_stage,
            first.status) == ("1", source, run.info.run_id, {"k": "v"}, "None", "READY")
    second = rest.create_model_version("m", "s3://bucket/two")
    assert second.version == "2" and second == sql.get_model_version("m", "2")

    assert rest.update_model_version("m", 2, "two").description == "two"
    staged = rest.transition_model_version_stage("m", "1", "production")
    assert staged.current_stage == "Production" and staged == sql.get_model_version("m", 1)
    promoted = rest.transition_model_version_stage("m", 2, "Production",
                                                   archive_existing_versions=True)
    assert promoted.current_stage == "Production"
    assert rest.get_model_version("m", 1).current_stage == "Archived"

    latest = rest.get_latest_versions("m")
    assert latest == sql.get_latest_versions("m")
    assert [v.version for v in rest.get_latest_versions("m", ["Production"])] == ["2"]
    assert rest.get_latest_versions("m", ["Staging"]) == []
    assert rest.get_registered_model("m") == sql.get_registered_model("m")

    assert rest.get_model_version_download_uri("m", 1) == source
    rest.set_model_version_tag("m", 2, ModelVersionTag("t", "x"))
    assert rest.get_model_version("m", "2").tags == {"t": "x"}
    rest.delete_model_version_tag("m", 2, "t")
    assert rest.get_model_version("m", 2).tags == {}

    rest.delete_model_version("m", 1)
    assert [v.version for v in rest.search_model_versions("name = 'm'")] == ["2"]
    with pytest.raises(TrackstoreError) as e:
        rest.get_model_version("m", 1)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_aliases_round_trip(stores: tuple[RestStore, SqlStore]) -> None:
    rest, sql = stores
    rest.create_registered_model("m")
    rest.create_model_version("m", "s3://bucket/one")
    rest.create_model_version("m", "s3://bucket/two")
    rest.set_registered_model_alias("m", "champion", 2)
    rest.set_registered_model_alias("m", "challenger", "1")
    by_alias = rest.get_model_version_by_alias("m", "champion")
    assert by_alias.version == "2" and by_alias.aliases == ["champion"]
    assert by_alias == sql.get_model_version_by_alias("m", "champion")
    model = rest.get_registered_model("m")
    assert model.aliases == {"champion": "2", "challenger": "1"}
    rest.delete_registered_model_alias("m", "champion")
    assert rest.get_registered_model("m").aliases == {"challenger": "1"}
    assert rest.get_model_version("m", 2).aliases == []


def test_searches_page_with_the_server_token(stores: tuple[RestStore, SqlStore]) -> None:
    rest, _ = stores
    for name in ("a", "b", "c"):
        rest.create_registered_model(name)
        rest.create_model_version(name, f"s3://bucket/{name}")
    first = rest.search_registered_models(max_results=2, order_by=["name DESC"])
    assert [m.name for m in first] == ["c", "b"] and first.token
    rest_page = rest.search_registered_models(max_results=2, order_by=["name DESC"],
                                              page_token=first.token)
    assert [m.name for m in rest_page] == ["a"] and rest_page.token is None
    assert [m.name for m in rest.search_registered_models("name LIKE 'b%'")] == ["b"]

    versions = rest.search_model_versions(max_results=2, order_by=["name ASC"])
    assert [v.name for v in versions] == ["a", "b"] and versions.token
    rest_versions = rest.search_model_versions(max_results=2, order_by=["name ASC"],
                                               page_token=versions.token)
    assert [v.name for v in rest_versions] == ["c"] and rest_versions.token is None


@pytest.mark.parametrize(("call", "code"), [
    (lambda s: s.get_registered_model("nope"), "RESOURCE_DOES_NOT_EXIST"),
    (lambda s: s.delete_registered_model("nope"), "RESOURCE_DOES_NOT_EXIST"),
    (lambda s: s.rename_registered_model("nope", "x"), "RESOURCE_DOES_NOT_EXIST"),
    (lambda s: s.get_latest_versions("nope"), "RESOURCE_DOES_NOT_EXIST"),
    (lambda s: s.create_model_version("nope", "s3://b/m"), "RESOURCE_DOES_NOT_EXIST"),
    (lambda s: s.get_model_version("m", 9), "RESOURCE_DOES_NOT_EXIST"),
    (lambda s: s.delete_model_version("m", 9), "RESOURCE_DOES_NOT_EXIST"),
    (lambda s: s.get_model_version_download_uri("m", 9), "RESOURCE_DOES_NOT_EXIST"),
    (lambda s: s.create_registered_model("m"), "RESOURCE_ALREADY_EXISTS"),
    (lambda s: s.get_model_version_by_alias("m", "nope"), "INVALID_PARAMETER_VALUE"),
    (lambda s: s.search_registered_models("bogus = 1"), "INVALID_PARAMETER_VALUE"),
    (lambda s: s.search_model_versions(page_token="garbage"), "INVALID_PARAMETER_VALUE"),
])
def test_server_errors_keep_their_codes(stores: tuple[RestStore, SqlStore],
                                        call: Callable[[RestStore], Any], code: str) -> None:
    rest, sql = stores
    sql.create_registered_model("m")
    with pytest.raises(TrackstoreError) as e:
        call(rest)
    assert e.value.error_code == code
    assert [m.name for m in sql.search_registered_models()] == ["m"]


def test_a_file_store_server_says_a_database_is_needed(tmp_path: Path) -> None:
    backing = FileStore(str(tmp_path / "mlruns"))
    try:
        with serve_in_thread(backing) as url:
            rest = RestStore(url)
            for call in (lambda: rest.create_registered_model("m"),
                         rest.search_model_versions,
                         lambda: rest.get_latest_versions("m")):
                with pytest.raises(TrackstoreError) as e:
                    call()
                assert e.value.error_code == "FEATURE_DISABLED"
                assert "needs a database-backed store" in e.value.message
            rest.close()
    finally:
        backing.close()
    assert not (tmp_path / "mlruns" / "models").exists()


# -- what goes over the wire (a scripted server) --------------------------------------------------

MODEL = {"name": "m", "creation_timestamp": 1700000000000,
         "last_updated_timestamp": 1700000000001, "description": "d",
         "latest_versions": [{"name": "m", "version": "3", "current_stage": "Staging",
                              "status": "READY", "creation_timestamp": 5}],
         "tags": [{"key": "k", "value": "v"}], "aliases": [{"alias": "a", "version": "3"}]}
VERSION = {"name": "m", "version": "3", "creation_timestamp": 1700000000000,
           "last_updated_timestamp": 1700000000002, "current_stage": "None",
           "description": "", "source": "s3://b/m", "run_id": "r" * 32, "status": "READY",
           "tags": [{"key": "k", "value": "v"}], "run_link": "", "aliases": ["a", "b"]}


def answering(seen_calls: list[Seen]) -> Callable[[Seen], Reply]:
    """A responder giving each registry path a plausible answer, recording the requests."""
    bodies: dict[str, Any] = {
        "/registered-models/create": {"registered_model": MODEL},
        "/registered-models/rename": {"registered_model": MODEL},
        "/registered-models/update": {"registered_model": MODEL},
        "/registered-models/get": {"registered_model": MODEL},
        "/registered-models/search": {"registered_models": [MODEL], "next_page_token": "tok"},
        "/registered-models/get-latest-versions": {"model_versions": [VERSION]},
        "/model-versions/create": {"model_version": VERSION},
        "/model-versions/update": {"model_version": VERSION},
        "/model-versions/transition-stage": {"model_version": VERSION},
        "/model-versions/get": {"model_version": VERSION},
        "/model-versions/search": {"model_versions": [VERSION]},
        "/model-versions/get-download-uri": {"artifact_uri": "s3://b/m"},
    }

    def respond(seen: Seen) -> Reply:
        seen_calls.append(seen)
        path = seen.path.removeprefix(API)
        if path == "/registered-models/alias" and seen.method == "GET":
            return Reply(body={"model_version": VERSION})
        return Reply(body=bodies.get(path, {}))
    return respond


def test_requests_are_mlflow_clients(serve: Serve) -> None:
    calls: list[Seen] = []
    server = serve(answering(calls))
    rest = RestStore(server.url)

    model = rest.create_registered_model("m", {"k": "v"}, "d")
    assert model.aliases == {"a": "3"} and model.latest_versions[0].current_stage == "Staging"
    rest.create_registered_model("bare")
    rest.update_registered_model("m", "new")
    rest.update_registered_model("m")
    rest.rename_registered_model("m", "n")
    rest.delete_registered_model("m")
    rest.get_registered_model("m")
    page = rest.search_registered_models("name = 'm'", 10, ["name"], "tok0")
    assert page.token == "tok" and page[0].tags == {"k": "v"}
    rest.search_registered_models()
    rest.set_registered_model_tag("m", RegisteredModelTag("k", "v"))
    rest.delete_registered_model_tag("m", "k")
    version = rest.create_model_version("m", "s3://b/m", "r" * 32, {"t": "1"}, "http://run",
                                        "desc", "m-1")
    # "" on the wire (MLflow's server's unset description) reads as None, as the stores say
    assert (version.version, version.aliases, version.description) == ("3", ["a", "b"], None)
    rest.create_model_version("m", "s3://b/m")
    rest.update_model_version("m", 3, "x")
    rest.transition_model_version_stage("m", 3, "staging", True)
    rest.delete_model_version("m", 3)
    rest.get_model_version("m", 3)
    assert rest.get_model_version_download_uri("m", 3) == "s3://b/m"
    rest.search_model_versions("name = 'm'", 5, ["version_number DESC"])
    rest.set_model_version_tag("m", 3, ModelVersionTag("k", "v"))
    rest.delete_model_version_tag("m", 3, "k")
    rest.set_registered_model_alias("m", "champ", 3)
    rest.delete_registered_model_alias("m", "champ")
    assert rest.get_model_version_by_alias("m", "champ").version == "3"
    rest.get_latest_versions("m", ["production", "None"])

    def json_call(method: str, path: str, body: dict[str, Any]) -> Any:
        return (method, API + path, {}, body)

    def query_call(path: str, query: dict[str, list[str]]) -> Any:
        return ("GET", API + path, query, None)

    expected = [
        json_call("POST", "/registered-models/create",
                  {"name": "m", "description": "d", "tags": [{"key": "k", "value": "v"}]}),
        json_call("POST", "/registered-models/create", {"name": "bare"}),
        json_call("PATCH", "/registered-models/update", {"name": "m", "description": "new"}),
        json_call("PATCH", "/registered-models/update", {"name": "m"}),
        json_call("POST", "/registered-models/rename", {"name": "m", "new_name": "n"}),
        json_call("DELETE", "/registered-models/delete", {"name": "m"}),
        query_call("/registered-models/get", {"name": ["m"]}),
        query_call("/registered-models/search", {
            "filter": ["name = 'm'"], "max_results": ["10"], "order_by": ["name"],
            "page_token": ["tok0"]}),
        query_call("/registered-models/search", {"max_results": ["100"]}),
        json_call("POST", "/registered-models/set-tag", {"name": "m", "key": "k", "value": "v"}),
        json_call("DELETE", "/registered-models/delete-tag", {"name": "m", "key": "k"}),
        json_call("POST", "/model-versions/create", {
            "name": "m", "source": "s3://b/m", "run_id": "r" * 32, "run_link": "http://run",
            "description": "desc", "model_id": "m-1", "tags": [{"key": "t", "value": "1"}]}),
        json_call("POST", "/model-versions/create", {"name": "m", "source": "s3://b/m"}),
        json_call("PATCH", "/model-versions/update",
                  {"name": "m", "version": "3", "description": "x"}),
        json_call("POST", "/model-versions/transition-stage", {
            "name": "m", "version": "3", "stage": "Staging",
            "archive_existing_versions": True}),
        json_call("DELETE", "/model-versions/delete", {"name": "m", "version": "3"}),
        query_call("/model-versions/get", {"name": ["m"], "version": ["3"]}),
        query_call("/model-versions/get-download-uri", {"name": ["m"], "version": ["3"]}),
        query_call("/model-versions/search", {
            "filter": ["name = 'm'"], "max_results": ["5"],
            "order_by": ["version_number DESC"]}),
        json_call("POST", "/model-versions/set-tag",
                  {"name": "m", "version": "3", "key": "k", "value": "v"}),
        json_call("DELETE", "/model-versions/delete-tag",
                  {"name": "m", "version": "3", "key": "k"}),
        json_call("POST", "/registered-models/alias",
                  {"name": "m", "alias": "champ", "version": "3"}),
        json_call("DELETE", "/registered-models/alias", {"name": "m", "alias": "champ"}),
        query_call("/registered-models/alias", {"name": ["m"], "alias": ["champ"]}),
        json_call("POST", "/registered-models/get-latest-versions",
                  {"name": "m", "stages": ["Production", "None"]}),
    ]
    got = [(c.method, c.path, c.query, c.json if c.body else None) for c in calls]
    assert got == expected
    for call in calls:
        if call.method != "GET":
            assert call.headers["content-type"] == "application/json"


def test_invalid_arguments_are_refused_before_sending(serve: Serve) -> None:
    calls: list[Seen] = []
    rest = RestStore(serve(answering(calls)).url)
    for call in (lambda: rest.transition_model_version_stage("m", 1, "Live"),
                 lambda: rest.get_model_version("m", "one"),
                 lambda: rest.create_registered_model("a/b"),
                 lambda: rest.set_registered_model_alias("m", "latest", 1),
                 lambda: rest.search_registered_models(max_results=1001),
                 lambda: rest.create_model_version("m", "")):
        with pytest.raises(TrackstoreError) as e:
            call()
        assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert calls == []


def _latest_versions_server(serve: Serve, post_reply: Reply) -> ScriptedServer:
    def respond(seen: Seen) -> Reply:
        if seen.method == "POST":
            return post_reply
        return Reply(body={"model_versions": [VERSION]})
    return serve(respond)


@pytest.mark.parametrize("post_reply", [
    Reply(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": "No endpoint"}),
    Reply(404, "<html>Not Found</html>"),  # a server without the route: no JSON error
])
def test_get_latest_versions_falls_back_to_get(serve: Serve, post_reply: Reply) -> None:
    server = _latest_versions_server(serve, post_reply)
    versions = RestStore(server.url).get_latest_versions("m", ["Staging", "production"])
    assert [v.version for v in versions] == ["3"]
    post, get = server.seen
    assert (post.method, get.method) == ("POST", "GET")
    assert post.json == {"name": "m", "stages": ["Staging", "Production"]}
    assert get.path == API + "/registered-models/get-latest-versions"
    assert get.query == {"name": ["m"], "stages": ["Staging", "Production"]}


@pytest.mark.parametrize(("post_reply", "code"), [
    (Reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no model m"}),
     "RESOURCE_DOES_NOT_EXIST"),
    (Reply(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad"}),
     "INVALID_PARAMETER_VALUE"),
    (Reply(403, {"error_code": "PERMISSION_DENIED", "message": "no"}), "PERMISSION_DENIED"),
])
def test_get_latest_versions_falls_back_only_for_a_missing_endpoint(
        serve: Serve, post_reply: Reply, code: str) -> None:
    server = _latest_versions_server(serve, post_reply)
    with pytest.raises(TrackstoreError) as e:
        RestStore(server.url).get_latest_versions("m")
    assert e.value.error_code == code
    assert [s.method for s in server.seen] == ["POST"]


@pytest.mark.parametrize(("call", "sent"), [
    (lambda s: s.create_registered_model("m"), 1),
    (lambda s: s.create_model_version("m", "s3://b/m"), 1),
    (lambda s: s.rename_registered_model("m", "n"), 1),
    (lambda s: s.delete_registered_model("m"), 1),
    (lambda s: s.delete_model_version("m", 1), 1),
    (lambda s: s.get_registered_model("m"), 3),
    (lambda s: s.set_registered_model_tag("m", RegisteredModelTag("k", "v")), 3),
    (lambda s: s.update_model_version("m", 1, "d"), 3),
])
def test_only_repeatable_calls_are_retried(serve: Serve, monkeypatch: pytest.MonkeyPatch,
                                           call: Callable[[RestStore], Any], sent: int) -> None:
    """A 503 may come after the server acted: creating, renaming or deleting again would not
    give the same state, so those calls are not resent (reads and idempotent writes are)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    server = serve(lambda seen: Reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE",
                                            "message": "busy"}))
    with pytest.raises(TrackstoreError) as e:
        call(RestStore(server.url, sleep=lambda s: None))
    assert e.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert len(server.seen) == sent


def test_malformed_answers_are_errors(serve: Serve) -> None:
    server = serve(lambda seen: Reply(body={"registered_model": {"name": 5}}))
    with pytest.raises(TrackstoreError) as e:
        RestStore(server.url).get_registered_model("m")
    # The server's fault, not the caller's: INTERNAL_ERROR, naming the field.
    assert e.value.error_code == "INTERNAL_ERROR"
    assert "malformed 'registered_model'" in e.value.message
    assert "registered_model.name" in e.value.message
    server = serve(lambda seen: Reply(body={}))
    with pytest.raises(TrackstoreError) as e:
        RestStore(server.url).get_model_version("m", 1)
    assert e.value.error_code == "INTERNAL_ERROR" and "model_version" in e.value.message


# -- the JSON shape, both ways ---------------------------------------------------------------------

def test_json_round_trip() -> None:
    version = ModelVersion(
        "m", "3", creation_timestamp=1, last_updated_timestamp=2, description=None, user_id="u",
        current_stage="Staging", source="s3://b/m", run_id="r" * 32, status="READY",
        status_message="ok", tags={"k": "v"}, run_link=None, aliases=["a"], model_id="m-1")
    model = RegisteredModel("m", 1, 2, "d", [version], {"t": "1"}, {"a": "3"}, "job",
                            "CONNECTED")
    assert model_version_from_json(model_version_to_json(version)) == version
    assert registered_model_from_json(registered_model_to_json(model)) == model
    bare = ModelVersion("m", "1")
    assert model_version_to_json(bare) == {"name": "m", "version": "1", "current_stage": "None",
                                           "description": "", "run_id": "", "status": "READY",
                                           "run_link": ""}
    assert model_version_from_json(model_version_to_json(bare)) == bare
    assert registered_model_to_json(RegisteredModel("m", 5, 0, "")) == {
        "name": "m", "creation_timestamp": 5}


def test_json_readers_take_protobuf_spellings_and_name_bad_fields() -> None:
    read = model_version_from_json({"name": "m", "version": 2, "status": 1,
                                    "creation_timestamp": "17"})
    assert (read.version, read.status, read.creation_timestamp) == ("2", "PENDING_REGISTRATION",
                                                                    17)
    for bad, field in (({"name": "m", "status": "DONE"}, "model_version.status"),
                       ({"name": "m", "tags": {"k": "v"}}, "model_version.tags"),
                       ({"name": "m", "aliases": [1]}, "model_version.aliases[0]"),
                       ({"name": "m", "last_updated_timestamp": 1.5},
                        "model_version.last_updated_timestamp")):
        with pytest.raises(TrackstoreError) as e:
            model_version_from_json(bad)
        assert e.value.error_code == "INVALID_PARAMETER_VALUE" and f"'{field}'" in e.value.message
    with pytest.raises(TrackstoreError) as e:
        registered_model_from_json({"name": "m", "aliases": [{"alias": "a", "version": []}]})
    assert "'registered_model.aliases[0].version'" in e.value.message
