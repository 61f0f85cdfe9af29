"""The model registry endpoints as MLflow's client and UI see them: shapes, methods, parameters,
errors, paging, both URL prefixes and both HTTP front ends.

Every test talks HTTP to a live server in this process (``registry`` fixture: a SQLite store,
through trackstore's HTTP protocol and through the ASGI interface); the last ones serve a file
store, which has no registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live_server import serve_in_thread
from tests.server.conftest import Api
from trackstore.exceptions import TrackstoreError
from trackstore.server import handlers, registry
from trackstore.store.file import FileStore
from trackstore.store.sql import SqlStore

MISSING = ("Missing value for required parameter '{}'. See the API docs for more information "
           "about request parameters.")
AJAX = "/ajax-api/2.0/mlflow"


class Registry(Api):
    """:class:`Api` plus the registry's calls, asserting success."""

    def send(self, method: str, endpoint: str, body: dict[str, Any] | None = None, *,
             prefix: str = "/api/2.0/mlflow") -> tuple[int, Any]:
        if method == "GET":
            return self.get(endpoint, body, prefix=prefix)
        return self.post(endpoint, body, prefix=prefix, method=method)

    def done(self, method: str, endpoint: str, body: dict[str, Any] | None = None, *,
             prefix: str = "/api/2.0/mlflow") -> Any:
        status, data = self.send(method, endpoint, body, prefix=prefix)
        assert status == 200, (method, endpoint, status, data)
        return data

    def model(self, name: str, **fields: Any) -> dict[str, Any]:
        return self.done("POST", "/registered-models/create",  # type: ignore[no-any-return]
                         {"name": name, **fields})["registered_model"]

    def version(self, name: str, source: str = "s3://bucket/model", **fields: Any
                ) -> dict[str, Any]:
        return self.done("POST", "/model-versions/create",  # type: ignore[no-any-return]
                         {"name": name, "source": source, **fields})["model_version"]

    def get_version(self, name: str, version: str) -> dict[str, Any]:
        return self.done("GET", "/model-versions/get",  # type: ignore[no-any-return]
                         {"name": name, "version": version})["model_version"]

    def error(self, method: str, endpoint: str, body: dict[str, Any] | None = None, *,
              status: int = 400, code: str = "INVALID_PARAMETER_VALUE") -> str:
        got, data = self.send(method, endpoint, body)
        assert got == status, (method, endpoint, got, data)
        assert data["error_code"] == code, data
        assert set(data) == {"error_code", "message"}
        return data["message"]  # type: ignore[no-any-return]


@pytest.fixture(params=["trackstore", "asgi"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """A live server on a fresh SQLite store, through each HTTP front end."""
    store = SqlStore(f"sqlite:///{tmp_path}/db.sqlite", str(tmp_path / "art"))
    try:
        with serve_in_thread(store, request.param) as url:
            client = Registry(url)
            yield client
            client.conn.close()
    finally:
        store.close()


# -- shapes ---------------------------------------------------------------------------------------

def test_registered_model_shape(api: Registry) -> None:
    bare = api.model("bare")
    assert set(bare) == {"name", "creation_timestamp", "last_updated_timestamp"}
    assert bare["name"] == "bare"
    assert isinstance(bare["creation_timestamp"], int)
    assert bare["last_updated_timestamp"] == bare["creation_timestamp"]

    full = api.model("full", description="the model",
                     tags=[{"key": "team", "value": "ml"}, {"key": "empty"}])
    assert full["description"] == "the model"
    assert sorted(full["tags"], key=str) == [{"key": "empty", "value": ""},
                                             {"key": "team", "value": "ml"}]
    # Unset fields are left out: no user_id, latest_versions, aliases or deployment job.
    assert set(full) == {"name", "creation_timestamp", "last_updated_timestamp", "description",
                         "tags"}


def test_model_version_shape(api: Registry) -> None:
    api.model("m")
    run = api.ok("/runs/create", {"experiment_id": "0", "start_time": 1})["run"]["info"]
    source = run["artifact_uri"] + "/model"
    first = api.version("m", source, run_id=run["run_id"])
    # As mlflow server answers: version as a string, stage and status by name, and the
    # description and run link MLflow stores as "" when the request leaves them out.
    assert first == {"name": "m", "version": "1",
                     "creation_timestamp": first["creation_timestamp"],
                     "last_updated_timestamp": first["creation_timestamp"],
                     "current_stage": "None", "description": "", "source": source,
                     "run_id": run["run_id"], "status": "READY", "run_link": ""}
    assert isinstance(first["creation_timestamp"], int)

    second = api.version("m", "s3://bucket/v2", description="second", run_link="http://run",
                         tags=[{"key": "k", "value": "v"}])
    assert (second["version"], second["description"], second["run_link"]) == (
        "2", "second", "http://run")
    assert second["tags"] == [{"key": "k", "value": "v"}]
    # No run: "run_id": "", as mlflow server answers (it stores the proto default).
    assert second["run_id"] == "" and "aliases" not in second

    api.done("POST", "/registered-models/alias", {"name": "m", "alias": "champion",
                                                  "version": "1"})
    assert api.get_version("m", "1")["aliases"] == ["champion"]
    model = api.done("GET", "/registered-models/get", {"name": "m"})["registered_model"]
    assert model["aliases"] == [{"alias": "champion", "version": "1"}]
    assert [v["version"] for v in model["latest_versions"]] == ["2"]  # latest of stage None
    assert model["latest_versions"][0]["tags"] == [{"key": "k", "value": "v"}]


# -- every endpoint -------------------------------------------------------------------------------

def test_registered_model_calls(api: Registry) -> None:
    api.model("m", description="old")
    updated = api.done("PATCH", "/registered-models/update",
                       {"name": "m", "description": "new"})["registered_model"]
    assert updated["description"] == "new"
    assert updated["last_updated_timestamp"] >= updated["creation_timestamp"]

    api.done("POST", "/registered-models/set-tag", {"name": "m", "key": "a", "value": "1"})
    api.done("POST", "/registered-models/set-tag", {"name": "m", "key": "b"})
    got = api.done("GET", "/registered-models/get", {"name": "m"})["registered_model"]
    assert sorted(got["tags"], key=str) == [{"key": "a", "value": "1"}, {"key": "b", "value": ""}]
    assert api.done("DELETE", "/registered-models/delete-tag", {"name": "m", "key": "a"}) == {}
    got = api.done("GET", "/registered-models/get", {"name": "m"})["registered_model"]
    assert got["tags"] == [{"key": "b", "value": ""}]

    renamed = api.done("POST", "/registered-models/rename",
                       {"name": "m", "new_name": "n"})["registered_model"]
    assert (renamed["name"], renamed["description"]) == ("n", "new")
    api.error("GET", "/registered-models/get", {"name": "m"}, status=404,
              code="RESOURCE_DOES_NOT_EXIST")

    assert api.done("DELETE", "/registered-models/delete", {"name": "n"}) == {}
    api.error("GET", "/registered-models/get", {"name": "n"}, status=404,
              code="RESOURCE_DOES_NOT_EXIST")
    assert api.done("GET", "/registered-models/search") == {}


def test_model_version_calls(api: Registry) -> None:
    api.model("m")
    api.version("m", "s3://bucket/one")
    api.version("m", "s3://bucket/two")

    updated = api.done("PATCH", "/model-versions/update",
                       {"name": "m", "version": "1", "description": "first"})["model_version"]
    assert (updated["version"], updated["description"]) == ("1", "first")

    staged = api.done("POST", "/model-versions/transition-stage", {
        "name": "m", "version": "1", "stage": "staging",
        "archive_existing_versions": False})["model_version"]
    assert staged["current_stage"] == "Staging"
    promoted = api.done("POST", "/model-versions/transition-stage", {
        "name": "m", "version": "2", "stage": "Staging",
        "archive_existing_versions": True})["model_version"]
    assert promoted["current_stage"] == "Staging"
    assert api.get_version("m", "1")["current_stage"] == "Archived"

    uri = api.done("GET", "/model-versions/get-download-uri", {"name": "m", "version": "2"})
    assert uri == {"artifact_uri": "s3://bucket/two"}

    api.done("POST", "/model-versions/set-tag", {"name": "m", "version": "2", "key": "k",
                                                 "value": "v"})
    assert api.get_version("m", "2")["tags"] == [{"key": "k", "value": "v"}]
    assert api.done("DELETE", "/model-versions/delete-tag",
                    {"name": "m", "version": "2", "key": "k"}) == {}
    assert "tags" not in api.get_version("m", "2")

    assert api.done("DELETE", "/model-versions/delete", {"name": "m", "version": "1"}) == {}
    api.error("GET", "/model-versions/get", {"name": "m", "version": "1"}, status=404,
              code="RESOURCE_DOES_NOT_EXIST")
    found = api.done("GET", "/model-versions/search", {"filter": "name = 'm'"})
    assert [v["version"] for v in found["model_versions"]] == ["2"]


def test_aliases(api: Registry) -> None:
    api.model("m")
    api.version("m")
    api.version("m")
    assert api.done("POST", "/registered-models/alias",
                    {"name": "m", "alias": "prod", "version": "2"}) == {}
    by_alias = api.done("GET", "/registered-models/alias",
                        {"name": "m", "alias": "prod"})["model_version"]
    assert (by_alias["version"], by_alias["aliases"]) == ("2", ["prod"])
    assert api.done("DELETE", "/registered-models/alias", {"name": "m", "alias": "prod"}) == {}
    assert "aliases" not in api.get_version("m", "2")
    model = api.done("GET", "/registered-models/get", {"name": "m"})["registered_model"]
    assert "aliases" not in model
    # Reserved names are refused, and nothing is set.
    for alias in ("latest", "v3"):
        api.error("POST", "/registered-models/alias", {"name": "m", "alias": alias,
                                                       "version": "1"})
    assert "aliases" not in api.get_version("m", "1")


def test_get_latest_versions_by_post_and_by_get(api: Registry) -> None:
    api.model("m")
    for _ in range(3):
        api.version("m")
    api.done("POST", "/model-versions/transition-stage",
             {"name": "m", "version": "1", "stage": "Production"})
    posted = api.done("POST", "/registered-models/get-latest-versions", {"name": "m"})
    assert sorted((v["current_stage"], v["version"]) for v in posted["model_versions"]) == [
        ("None", "3"), ("Production", "1")]
    posted = api.done("POST", "/registered-models/get-latest-versions",
                      {"name": "m", "stages": ["production"]})
    assert [v["version"] for v in posted["model_versions"]] == ["1"]
    # GET: parameters in the query string, a repeated field repeated.
    got = api.done("GET", "/registered-models/get-latest-versions",
                   {"name": "m", "stages": ["None", "Production"]})
    assert sorted(v["version"] for v in got["model_versions"]) == ["1", "3"]
    assert api.done("GET", "/registered-models/get-latest-versions",
                    {"name": "m", "stages": "Staging"}) == {}
    api.error("GET", "/registered-models/get-latest-versions", {"name": "m", "stages": "Live"})


def test_both_prefixes(api: Registry) -> None:
    created = api.done("POST", "/registered-models/create", {"name": "ui"}, prefix=AJAX)
    assert created["registered_model"]["name"] == "ui"
    api.done("POST", "/model-versions/create", {"name": "ui", "source": "s3://b/m"},
             prefix=AJAX)
    api.done("PATCH", "/registered-models/update", {"name": "ui", "description": "d"},
             prefix=AJAX)
    found = api.done("GET", "/registered-models/search", {"filter": "name = 'ui'"},
                     prefix=AJAX)
    assert [m["description"] for m in found["registered_models"]] == ["d"]
    got = api.done("GET", "/model-versions/get", {"name": "ui", "version": "1"}, prefix=AJAX)
    assert got["model_version"]["source"] == "s3://b/m"
    api.done("DELETE", "/registered-models/delete", {"name": "ui"}, prefix=AJAX)
    assert api.done("GET", "/registered-models/search") == {}


def test_routes_and_threads() -> None:
    table = handlers.routes()
    for methods, path, handler in registry.REGISTRY:
        for prefix in (handlers.API, handlers.AJAX):
            for method in methods:
                assert table[prefix + path][method] is handler
    assert set(table[handlers.API + "/registered-models/alias"]) == {"GET", "POST", "DELETE"}
    assert set(table[handlers.API + "/registered-models/get-latest-versions"]) == {"GET", "POST"}
    assert len({path for _, path, _ in registry.REGISTRY}) == 19
    assert registry.search_registered_models in handlers.SCANS
    assert registry.search_model_versions in handlers.SCANS


# -- requests -------------------------------------------------------------------------------------

def test_delete_and_patch_bodies_need_no_content_type(api: Registry) -> None:
    api.model("m")
    status, _, raw = api.request("PATCH", "/api/2.0/mlflow/registered-models/update",
                                 json.dumps({"name": "m", "description": "d"}).encode())
    assert status == 200 and json.loads(raw)["registered_model"]["description"] == "d"
    status, _, raw = api.request("DELETE", "/api/2.0/mlflow/registered-models/delete",
                                 json.dumps({"name": "m"}).encode())
    assert (status, raw) == (200, b"{}")
    # A POST still needs its JSON content type, as in MLflow.
    status, error, _ = api.request("POST", "/api/2.0/mlflow/registered-models/create",
                                   json.dumps({"name": "x"}).encode())
    assert status == 400 and error["message"] == "Bad Request. Content-Type header is missing."
    assert api.done("GET", "/registered-models/search") == {}


Call = tuple[str, str, dict[str, Any]]

REQUIRED: list[tuple[Call, str]] = [
    (("POST", "/registered-models/create", {}), "name"),
    (("POST", "/registered-models/create", {"name": ""}), "name"),
    (("POST", "/registered-models/create", {"name": None}), "name"),
    (("POST", "/registered-models/rename", {"name": "m"}), "new_name"),
    (("POST", "/registered-models/rename", {"new_name": "n"}), "name"),
    (("PATCH", "/registered-models/update", {"description": "d"}), "name"),
    (("DELETE", "/registered-models/delete", {}), "name"),
    (("GET", "/registered-models/get", {}), "name"),
    (("GET", "/registered-models/get", {"name": ""}), "name"),
    (("POST", "/registered-models/get-latest-versions", {}), "name"),
    (("GET", "/registered-models/get-latest-versions", {"stages": "None"}), "name"),
    (("POST", "/registered-models/set-tag", {"name": "m", "value": "v"}), "key"),
    (("DELETE", "/registered-models/delete-tag", {"key": "k"}), "name"),
    (("DELETE", "/registered-models/delete-tag", {"name": "m"}), "key"),
    (("POST", "/registered-models/alias", {"name": "m", "alias": "a"}), "version"),
    (("POST", "/registered-models/alias", {"name": "m", "version": "1"}), "alias"),
    (("DELETE", "/registered-models/alias", {"name": "m"}), "alias"),
    (("GET", "/registered-models/alias", {"alias": "a"}), "name"),
    (("POST", "/model-versions/create", {"name": "m"}), "source"),
    (("POST", "/model-versions/create", {"source": "s3://b/m"}), "name"),
    (("PATCH", "/model-versions/update", {"name": "m"}), "version"),
    (("POST", "/model-versions/transition-stage", {"name": "m", "version": "1"}), "stage"),
    (("POST", "/model-versions/transition-stage", {"name": "m", "stage": "Staging"}),
     "version"),
    (("DELETE", "/model-versions/delete", {"name": "m"}), "version"),
    (("DELETE", "/model-versions/delete", {"version": "1"}), "name"),
    (("GET", "/model-versions/get", {"name": "m"}), "version"),
    (("GET", "/model-versions/get-download-uri", {"version": "1"}), "name"),
    (("POST", "/model-versions/set-tag", {"name": "m", "version": "1"}), "key"),
    (("DELETE", "/model-versions/delete-tag", {"name": "m", "key": "k"}), "version"),
]

WRONG_TYPES: list[tuple[Call, str]] = [
    (("POST", "/registered-models/create", {"name": 5}), "name"),
    (("POST", "/registered-models/create", {"name": "x", "tags": {"k": "v"}}), "tags"),
    (("POST", "/registered-models/create", {"name": "x", "description": 1}), "description"),
    (("POST", "/model-versions/set-tag", {"name": "m", "version": 1, "key": "k"}), "version"),
    (("POST", "/model-versions/transition-stage", {
        "name": "m", "version": "1", "stage": "Staging", "archive_existing_versions": "true"}),
     "archive_existing_versions"),
    (("POST", "/registered-models/get-latest-versions", {"name": "m", "stages": "None"}),
     "stages"),
    (("GET", "/registered-models/search", {"max_results": "ten"}), "max_results"),
    (("GET", "/model-versions/search", {"max_results": "1.5"}), "max_results"),
]

BAD_VALUES: list[tuple[Call, str]] = [
    (("POST", "/model-versions/transition-stage", {"name": "m", "version": "1",
                                                   "stage": "Live"}),
     "Invalid Model Version stage: Live. Value must be one of None, Staging, Production, "
     "Archived."),
    (("POST", "/model-versions/transition-stage", {
        "name": "m", "version": "1", "stage": "None", "archive_existing_versions": True}),
     "'None' is not an Active stage"),
    (("GET", "/model-versions/get", {"name": "m", "version": "one"}),
     "Parameter 'version' must be an integer, got 'one'."),
    (("POST", "/registered-models/create", {"name": "a/b"}), "Names cannot contain '/'"),
    (("POST", "/registered-models/rename", {"name": "m", "new_name": "x:y"}),
     "Names cannot contain '/' or ':'"),
    (("POST", "/registered-models/alias", {"name": "m", "alias": "latest", "version": "1"}),
     "'latest' alias name (case insensitive) is reserved."),
    (("POST", "/registered-models/alias", {"name": "m", "alias": "v1", "version": "1"}),
     "Version alias name 'v1' is reserved."),
    (("GET", "/registered-models/search", {"max_results": 1001}), "at most 1000"),
    (("GET", "/model-versions/search", {"max_results": 200_001}), "at most 200000"),
    (("GET", "/registered-models/search", {"max_results": 0}), "positive integer"),
    (("GET", "/registered-models/search", {"page_token": "not-a-token"}),
     "Invalid page token"),
    (("GET", "/registered-models/search", {"filter": "nonsense = 1"}),
     "Invalid attribute key 'nonsense'"),
    (("POST", "/registered-models/create", {"name": "m"}),
     "Registered Model (name=m) already exists."),
]

MISSING_THINGS: list[Call] = [
    ("GET", "/registered-models/get", {"name": "nope"}),
    ("DELETE", "/registered-models/delete", {"name": "nope"}),
    ("POST", "/registered-models/rename", {"name": "nope", "new_name": "other"}),
    ("PATCH", "/registered-models/update", {"name": "nope", "description": "d"}),
    ("POST", "/registered-models/set-tag", {"name": "nope", "key": "k", "value": "v"}),
    ("POST", "/registered-models/get-latest-versions", {"name": "nope"}),
    ("GET", "/registered-models/get-latest-versions", {"name": "nope"}),
    ("POST", "/model-versions/create", {"name": "nope", "source": "s3://b/m"}),
    ("GET", "/model-versions/get", {"name": "nope", "version": "1"}),
    ("GET", "/model-versions/get", {"name": "m", "version": "7"}),
    ("PATCH", "/model-versions/update", {"name": "m", "version": "7", "description": "d"}),
    ("POST", "/model-versions/transition-stage", {"name": "m", "version": "7",
                                                  "stage": "Staging"}),
    ("DELETE", "/model-versions/delete", {"name": "m", "version": "7"}),
    ("GET", "/model-versions/get-download-uri", {"name": "m", "version": "7"}),
    ("POST", "/model-versions/set-tag", {"name": "m", "version": "7", "key": "k"}),
    ("POST", "/registered-models/alias", {"name": "m", "alias": "a", "version": "7"}),
]


def _state(api: Registry) -> Any:
    """Everything the registry holds, as the searches return it."""
    return (api.done("GET", "/registered-models/search"),
            api.done("GET", "/model-versions/search"))


def test_required_parameters(api: Registry) -> None:
    api.model("m")
    api.version("m")
    before = _state(api)
    for (method, endpoint, body), missing in REQUIRED:
        got, error = api.send(method, endpoint, body)
        assert (got, error) == (400, {"error_code": "INVALID_PARAMETER_VALUE",
                                      "message": MISSING.format(missing)}), (endpoint, body)
    assert _state(api) == before  # nothing changed


def test_wrong_types(api: Registry) -> None:
    api.model("m")
    api.version("m")
    before = _state(api)
    for (method, endpoint, body), field in WRONG_TYPES:
        got, error = api.send(method, endpoint, body)
        assert got == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE", (endpoint, body)
        assert f"for parameter '{field}'" in error["message"], (endpoint, body, error)
    assert _state(api) == before


def test_bad_values_change_nothing(api: Registry) -> None:
    api.model("m")
    api.version("m")
    before = _state(api)
    for (method, endpoint, body), message in BAD_VALUES:
        got, error = api.send(method, endpoint, body)
        assert got == 400, (endpoint, body, got, error)
        assert error["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS")
        assert message in error["message"], (endpoint, body, error)
    assert _state(api) == before


def test_missing_models_and_versions(api: Registry) -> None:
    api.model("m")
    before = _state(api)
    for method, endpoint, body in MISSING_THINGS:
        got, error = api.send(method, endpoint, body)
        assert (got, error["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST"), (endpoint, body)
        missing = "nope" if body["name"] == "nope" else "version=7"
        assert missing in error["message"] and "not found" in error["message"], error
    assert _state(api) == before


def test_wrong_method(api: Registry) -> None:
    status, error = api.send("GET", "/registered-models/delete", {"name": "m"})
    assert status == 405 and error["error_code"] == "ENDPOINT_NOT_FOUND"
    assert api.headers["allow"] == "DELETE"
    status, _ = api.send("POST", "/registered-models/update", {"name": "m"})
    assert status == 405
    assert api.headers["allow"] == "PATCH"


# -- paging ---------------------------------------------------------------------------------------

def test_paging_registered_models(api: Registry) -> None:
    for name in ("a", "b", "c"):
        api.model(name)
    first = api.done("GET", "/registered-models/search",
                     {"max_results": 2, "order_by": ["name ASC"]})
    assert [m["name"] for m in first["registered_models"]] == ["a", "b"]
    second = api.done("GET", "/registered-models/search",
                      {"max_results": "2", "order_by": "name ASC",
                       "page_token": first["next_page_token"]})
    assert [m["name"] for m in second["registered_models"]] == ["c"]
    assert "next_page_token" not in second
    everything = api.done("GET", "/registered-models/search")  # default page: 100
    assert len(everything["registered_models"]) == 3 and "next_page_token" not in everything
    descending = api.done("GET", "/registered-models/search",
                          {"order_by": "name DESC", "filter": "name LIKE '%'"})
    assert [m["name"] for m in descending["registered_models"]] == ["c", "b", "a"]


def test_paging_model_versions(api: Registry) -> None:
    api.model("m")
    for i in range(5):
        api.version("m", f"s3://bucket/{i}")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"max_results": 2, "filter": "name = 'm'",
                                  "order_by": ["version_number ASC"]}
        if token:
            params["page_token"] = token
        page = api.done("GET", "/model-versions/search", params)
        seen += [v["version"] for v in page["model_versions"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert (seen, pages) == (["1", "2", "3", "4", "5"], 3)
    everything = api.done("GET", "/model-versions/search")  # default page: 200,000
    assert len(everything["model_versions"]) == 5 and "next_page_token" not in everything


# -- model version sources ---------------------------------------------------------------------

def _run(api: Registry, experiment_id: str = "0") -> dict[str, Any]:
    return api.ok("/runs/create",  # type: ignore[no-any-return]
                  {"experiment_id": experiment_id, "start_time": 1})["run"]["info"]


LOCAL = ("Invalid model version source: '{}'. To use a local path as a model version source, "
         "the run_id request parameter has to be specified and the local path has to be "
         "contained within the artifact directory of the run specified by the run_id.")
NOT_CONTAINED = ("Invalid model version source: '{}'. The {} request parameter must identify "
                 "the resource that contains the source.")
CLIMBS = ("Invalid model version source: '{}'. If supplying a source as an http, https, local "
          "file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be "
          "provided without relative path references present. Please provide an absolute path.")


def test_sources_are_checked_as_mlflow_checks_them(api: Registry, tmp_path: Path) -> None:
    api.model("m")
    r1, r2 = _run(api), _run(api)
    inside = r1["artifact_uri"] + "/model"
    assert api.version("m", inside, run_id=r1["run_id"])["source"] == inside
    assert api.version("m", "file://" + inside, run_id=r1["run_id"])["version"] == "2"
    assert api.version("m", f"runs:/{r1['run_id']}/model", run_id=r1["run_id"])["version"] == "3"
    # Object stores are not looked into (a run id given with them is not even looked up).
    assert api.version("m", "s3://bucket/model", run_id="f" * 32)["run_id"] == "f" * 32
    before = _state(api)
    elsewhere = tmp_path / "elsewhere" / "model"
    other = r2["artifact_uri"] + "/model"
    refused: list[tuple[dict[str, Any], str]] = [
        ({"source": "/nonexistent/model"}, LOCAL.format("/nonexistent/model")),
        ({"source": str(elsewhere), "run_id": r1["run_id"]}, LOCAL.format(elsewhere)),
        ({"source": other, "run_id": r1["run_id"]}, LOCAL.format(other)),
        ({"source": inside + "/../../x", "run_id": r1["run_id"]},
         LOCAL.format(Path(inside).parent.parent / "x")),
        ({"source": inside, "run_id": "0" * 32}, NOT_CONTAINED.format(inside, "run_id")),
        ({"source": "s3://bucket/a/../b"}, CLIMBS.format("s3://bucket/a/../b")),
        ({"source": "s3://bucket/a/%2E%2E/b"}, CLIMBS.format("s3://bucket/a/%2E%2E/b")),
        ({"source": "s3://bucket/a/./b"}, CLIMBS.format("s3://bucket/a/./b")),
        ({"source": f"runs:/{r1['run_id']}/model", "run_id": r2["run_id"]},
         NOT_CONTAINED.format(f"runs:/{r1['run_id']}/model", "run_id")),
        ({"source": f"runs:/{r1['run_id']}/model"},
         NOT_CONTAINED.format(f"runs:/{r1['run_id']}/model", "run_id")),
        ({"source": "http://example.com/model"},
         "'source' cannot use the 'http' scheme: the 'http' scheme addresses a host other than "
         "the tracking server's configured artifact storage, so the server would connect to "
         "the host named in the URI. Set the MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES "
         "environment variable on the server to allow it."),
        ({"source": "ftp://files.example.com/model"}, "cannot use the 'ftp' scheme"),
        ({"source": "s3://bucket/model", "model_id": "m-1", "run_id": r1["run_id"],
          "tags": [{"key": "mlflow.prompt.is_prompt", "value": "TRUE"}]},
         "Invalid prompt source: 's3://bucket/model'. Prompt sources must use an MLflow "
         "placeholder."),
        ({"source": inside, "model_id": "m-1"}, NOT_CONTAINED.format(inside, "model_id")),
        ({"source": "models:/m-0123456789abcdef"},
         NOT_CONTAINED.format("models:/m-0123456789abcdef", "model_id")),
    ]
    for fields, message in refused:
        got, error = api.send("POST", "/model-versions/create", {"name": "m", **fields})
        assert got == 400 and error["error_code"] == "INVALID_PARAMETER_VALUE", (fields, error)
        assert message in error["message"], (fields, error["message"])
    assert _state(api) == before  # no version was made


def test_sources_through_the_artifact_proxy(api: Registry,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``mlflow-artifacts:`` (and the proxy's HTTP route) sources lie within their run's
    artifacts."""
    experiment_id = api.ok("/experiments/create", {
        "name": "proxied", "artifact_location": "mlflow-artifacts:/proxied"})["experiment_id"]
    run, other = _run(api, experiment_id), _run(api, experiment_id)
    api.model("m")
    inside = run["artifact_uri"] + "/model"
    assert inside.startswith("mlflow-artifacts:/proxied/")
    assert api.version("m", inside, run_id=run["run_id"])["source"] == inside
    before = _state(api)
    monkeypatch.setenv("MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES", "http")
    for fields in ({"source": inside}, {"source": inside, "run_id": other["run_id"]},
                   {"source": "mlflow-artifacts:/proxied/elsewhere", "run_id": run["run_id"]},
                   {"source": "http://localhost:5000/api/2.0/mlflow-artifacts/artifacts/proxied",
                    "run_id": run["run_id"]}):
        message = api.error("POST", "/model-versions/create", {"name": "m", **fields})
        assert message == NOT_CONTAINED.format(fields["source"], "run_id")
    assert _state(api) == before


def test_source_checks_follow_mlflows_variables(api: Registry,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    api.model("m")
    monkeypatch.setenv("MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES", "ftp, https")
    assert api.version("m", "https://example.com/model")["source"] == "https://example.com/model"
    assert api.version("m", "ftp://example.com/model")["version"] == "2"
    api.error("POST", "/model-versions/create", {"name": "m", "source": "http://example.com/m"})
    monkeypatch.setenv("MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX", r"^s3://team-a/")
    assert api.version("m", "s3://team-a/model")["version"] == "3"
    assert api.error("POST", "/model-versions/create", {
        "name": "m", "source": "s3://team-b/model"}) == (
        "Invalid model version source: 's3://team-b/model'.")


def test_sources_may_name_the_host_of_the_artifact_root(tmp_path: Path) -> None:
    """The host (and port) of the store's artifact root is the server's own storage."""
    store = SqlStore(f"sqlite:///{tmp_path}/db.sqlite", "https://artifacts.example.com/root")
    try:
        for source in ("https://artifacts.example.com/root/m",
                       "https://ARTIFACTS.example.com:443/other"):
            assert registry.check_source(store, source, None, None) == (source, None, None)
        for source in ("http://artifacts.example.com/m", "https://artifacts.example.com:8443/m",
                       "https://example.com/m", "https://artifacts.example.com:bad/m",
                       "sftp://artifacts.example.com/m"):
            with pytest.raises(TrackstoreError) as e:
                registry.check_source(store, source, None, None)
            assert "scheme addresses a host other than" in e.value.message, source
    finally:
        store.close()


def test_prompt_versions_have_placeholder_sources(api: Registry) -> None:
    prompt = [{"key": "mlflow.prompt.is_prompt", "value": "true"}]
    api.model("p", tags=prompt)
    version = api.version("p", "dummy-source", tags=prompt)
    assert version["source"] == "dummy-source"
    # A prompt's version is no source for a model's.
    api.model("m")
    assert "Prompt versions cannot be used as model version sources." in api.error(
        "POST", "/model-versions/create", {"name": "m", "source": "models:/p/1"})


def test_sources_naming_a_registered_version(api: Registry) -> None:
    """A ``models:/`` source is stored as the ``models:/<name>/<version>`` it names, with
    that version's run id unless the request gives the same one."""
    run = _run(api)
    api.model("a")
    api.model("b")
    api.version("a", "s3://bucket/a1", run_id=run["run_id"])
    api.version("a", "s3://bucket/a2")
    api.done("POST", "/model-versions/transition-stage",
             {"name": "a", "version": "1", "stage": "Production"})
    api.done("POST", "/registered-models/alias", {"name": "a", "alias": "champ",
                                                  "version": "1"})
    cases = [
        ({"source": "models:/a/1"}, "models:/a/1", run["run_id"]),
        ({"source": "models:/a/1", "run_id": run["run_id"]}, "models:/a/1", run["run_id"]),
        ({"source": "models:/a@champ"}, "models:/a/1", run["run_id"]),
        ({"source": "models:/a/production"}, "models:/a/1", run["run_id"]),
        ({"source": "models:/a/latest"}, "models:/a/2", ""),
        ({"source": "models:/a/2", "run_id": ""}, "models:/a/2", ""),
    ]
    for fields, source, run_id in cases:
        made = api.version("b", **fields)
        assert (made["source"], made["run_id"]) == (source, run_id), fields
        uri = api.done("GET", "/model-versions/get-download-uri",
                       {"name": "b", "version": made["version"]})["artifact_uri"]
        assert uri == f"s3://bucket/a{source[-1]}"
    before = _state(api)
    refusals = [
        ({"source": "models:/a/1", "run_id": "0" * 32}, 400,
         "Invalid model version source: 'models:/a/1'. The run_id and model_id request "
         "parameters must match the referenced model version."),
        ({"source": "models:/a/2", "run_id": run["run_id"]}, 400, "must match"),
        ({"source": "models://elsewhere/a/1"}, 400,
         "Invalid model version source: 'models://elsewhere/a/1'. Registered model sources "
         "must use the active model registry."),
        ({"source": "models:/nope/1"}, 404, "Registered Model with name=nope not found"),
        ({"source": "models:/a/99"}, 404, "Model Version (name=a, version=99) not found"),
        ({"source": "models:/a/Staging"}, 404,
         "No versions of model with name 'a' and stage 'Staging' found"),
        ({"source": "models:/a@nobody"}, 400, "Registered model alias nobody not found."),
        ({"source": "models:/a/1/extra"}, 400,
         NOT_CONTAINED.format("models:/a/1/extra", "model_id")),
    ]
    for fields, status, message in refusals:
        got, error = api.send("POST", "/model-versions/create", {"name": "b", **fields})
        assert got == status and message in error["message"], (fields, got, error)
    assert _state(api) == before


# -- a store without a registry -------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["trackstore", "asgi"])
def test_file_store_has_no_registry(tmp_path: Path, protocol: str) -> None:
    root = tmp_path / "mlruns"
    store = FileStore(str(root))

    def tree() -> list[Path]:
        return sorted(p.relative_to(root) for p in root.rglob("*"))

    before = tree()
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/registered-models/create", {"name": "m"}),
        ("GET", "/registered-models/search", {}),
        ("GET", "/registered-models/get", {"name": "m"}),
        ("PATCH", "/registered-models/update", {"name": "m", "description": "d"}),
        ("DELETE", "/registered-models/delete", {"name": "m"}),
        ("POST", "/registered-models/get-latest-versions", {"name": "m"}),
        ("POST", "/model-versions/create", {"name": "m", "source": "s3://b/m"}),
        ("POST", "/model-versions/create", {"name": "m", "source": "/local/model"}),
        ("POST", "/model-versions/create", {"name": "m", "source": "models:/other/1"}),
        ("GET", "/model-versions/search", {}),
        ("DELETE", "/model-versions/delete-tag", {"name": "m", "version": "1", "key": "k"}),
        ("POST", "/registered-models/alias", {"name": "m", "alias": "a", "version": "1"}),
    ]
    try:
        with serve_in_thread(store, protocol) as url:
            client = Registry(url)
            for method, endpoint, body in calls:
                message = client.error(method, endpoint, body, status=501,
                                       code="FEATURE_DISABLED")
                assert "model registry needs a database-backed store" in message
                assert "sqlite:///" in message
            # Request checks come first: a malformed request is still a 400.
            assert client.error("DELETE", "/registered-models/delete", {}) == MISSING.format(
                "name")
            assert tree() == before  # nothing written
            # The tracking API is unaffected.
            assert client.ok("/experiments/create", {"name": "e"})["experiment_id"]
            client.conn.close()
    finally:
        store.close()
    assert not (root / "models").exists()
