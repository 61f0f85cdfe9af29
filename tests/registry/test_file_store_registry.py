"""A file store (an ``mlruns`` directory) has no model registry: every registry call says so.

Each call raises ``FEATURE_DISABLED`` with a message that says what to use instead (a
database URI, a server on one, ``trackstore import``), whatever its arguments, and writes
nothing anywhere: directly, through a ``trackstore server`` in front of the file store
(HTTP 501, the same error), and through ``TrackingClient``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._live_server import serve_in_thread
from trackstore.client import TrackingClient
from trackstore.exceptions import TrackstoreError
from trackstore.model_registry import ModelVersionTag as VTag
from trackstore.model_registry import RegisteredModelTag as RTag
from trackstore.model_registry import registry_unsupported
from trackstore.store.file import FileStore
from trackstore.store.model_registry import RegistryCalls
from trackstore.store.rest import RestStore

#: Every registry call of the store API, with valid arguments and with invalid ones (the
#: answer is the same: the arguments are not what is wrong).
STORE_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("create_registered_model", ("m",), {"tags": [RTag("a", "1")], "description": "d"}),
    ("create_registered_model", ("a/b",), {"tags": [RTag("", "1")]}),
    ("update_registered_model", ("m", "d"), {}),
    ("rename_registered_model", ("m", "n"), {}),
    ("rename_registered_model", ("m", ""), {}),
    ("delete_registered_model", ("m",), {}),
    ("search_registered_models", (), {}),
    ("search_registered_models", ("name = 'm'", 10, ["name DESC"], None), {}),
    ("search_registered_models", ("bogus filter",), {"max_results": 0}),
    ("get_registered_model", ("m",), {}),
    ("get_registered_model", ("",), {}),
    ("get_latest_versions", ("m",), {}),
    ("get_latest_versions", ("m", ["Production", "bogus"]), {}),
    ("set_registered_model_tag", ("m", RTag("a", "1")), {}),
    ("delete_registered_model_tag", ("m", "a"), {}),
    ("create_model_version", ("m", "s3://b/1"),
     {"run_id": "run-1", "tags": [VTag("a", "1")], "run_link": "l", "description": "d"}),
    ("create_model_version", ("m", ""), {}),
    ("update_model_version", ("m", "1", "d"), {}),
    ("transition_model_version_stage", ("m", "1", "Production", True), {}),
    ("transition_model_version_stage", ("m", "x", "Nowhere", True), {}),
    ("delete_model_version", ("m", "1"), {}),
    ("get_model_version", ("m", "1"), {}),
    ("get_model_version", ("m", "one"), {}),
    ("get_model_version_download_uri", ("m", 1), {}),
    ("search_model_versions", (), {}),
    ("search_model_versions", ("name = 'm'", 5, ["version_number"], None), {}),
    ("set_model_version_tag", ("m", "1", VTag("a", "1")), {}),
    ("delete_model_version_tag", ("m", "1", "a"), {}),
    ("set_registered_model_alias", ("m", "champion", "1"), {}),
    ("set_registered_model_alias", ("m", "latest", "1"), {}),
    ("delete_registered_model_alias", ("m", "champion"), {}),
    ("get_model_version_by_alias", ("m", "champion"), {}),
    ("get_model_version_by_alias", ("m", "latest"), {}),
]


#: The calls of STORE_CALLS whose arguments are invalid (a client may refuse those itself).
INVALID_ARGUMENTS = {
    ("create_registered_model", ("a/b",)), ("rename_registered_model", ("m", "")),
    ("search_registered_models", ("bogus filter",)), ("get_registered_model", ("",)),
    ("get_latest_versions", ("m", ("Production", "bogus"))),
    ("create_model_version", ("m", "")),
    ("transition_model_version_stage", ("m", "x", "Nowhere", True)),
    ("get_model_version", ("m", "one")), ("set_registered_model_alias", ("m", "latest", "1")),
}


def _key(name: str, args: tuple[Any, ...]) -> tuple[str, str]:
    return name, repr(tuple(tuple(a) if isinstance(a, list) else a for a in args))


def test_the_calls_are_every_registry_call() -> None:
    public = {name for name in vars(RegistryCalls)
              if not name.startswith("_") and name != "registry_backend"}
    assert {name for name, _, _ in STORE_CALLS} == public
    assert len(public) == 21  # as MLflow's ModelRegistryService has RPCs
    invalid = {_key(name, args) for name, args in INVALID_ARGUMENTS}
    assert invalid <= {_key(name, args) for name, args, _ in STORE_CALLS}


def snapshot(*roots: Path) -> dict[str, bytes | None]:
    """Every directory and file under *roots*, with the files' bytes."""
    seen: dict[str, bytes | None] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for d in dirnames:
                seen[os.path.join(dirpath, d)] = None
            for f in filenames:
                path = os.path.join(dirpath, f)
                seen[path] = Path(path).read_bytes()
    return seen


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory: nothing may appear in it either (no ``mlflow.db``)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def check_message(message: str, store: FileStore) -> None:
    assert message == registry_unsupported().message
    # What it says, in words a user can act on; and no path of the server's machine.
    assert message.startswith("The model registry needs a database-backed store")
    for hint in ("file store (an mlruns directory)", "sqlite:///mlflow.db",
                 "trackstore server --backend-store-uri sqlite:///mlflow.db",
                 "trackstore import <mlruns> sqlite:///mlflow.db"):
        assert hint in message
    assert store.root_directory not in message


@pytest.fixture
def file_store(tmp_path: Path, workdir: Path) -> Iterator[FileStore]:
    store = FileStore(str(tmp_path / "mlruns"))
    store.create_experiment("e")  # a store with something in it
    yield store
    store.close()


def test_every_call_on_a_file_store_is_feature_disabled(file_store: FileStore, tmp_path: Path,
                                                        workdir: Path) -> None:
    before = snapshot(tmp_path)
    problems = []
    for name, args, kwargs in STORE_CALLS:
        with pytest.raises(TrackstoreError) as e:
            getattr(file_store, name)(*args, **kwargs)
        if e.value.error_code != "FEATURE_DISABLED":
            problems.append(f"{name}{args}: {e.value.error_code}: {e.value.message}")
            continue
        check_message(e.value.message, file_store)
    assert not problems, "\n".join(problems)
    assert snapshot(tmp_path) == before
    assert file_store.get_experiment_by_name("e") is not None  # the store still works


def test_through_a_server_the_answer_is_the_same(file_store: FileStore, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    with serve_in_thread(file_store) as url:
        client = RestStore(url)
        try:
            problems = []
            invalid = {_key(name, args) for name, args in INVALID_ARGUMENTS}
            for name, args, kwargs in STORE_CALLS:
                try:
                    getattr(client, name)(*args, **kwargs)
                    problems.append(f"{name}{args}: no error")
                except TrackstoreError as exc:
                    if exc.error_code == "FEATURE_DISABLED":
                        check_message(exc.message, file_store)
                    elif (exc.error_code != "INVALID_PARAMETER_VALUE"
                          or _key(name, args) not in invalid):
                        # Only an invalid argument may be refused before the server is asked.
                        problems.append(f"{name}{args}: {exc.error_code}: {exc.message}")
            assert not problems, "\n".join(problems)
            # On the wire: HTTP 501 with MLflow's error body.
            request = urllib.request.Request(
                f"{url}/api/2.0/mlflow/registered-models/get?name=m")
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(request, timeout=30)
            assert e.value.code == 501
            body = json.loads(e.value.read())
            assert body["error_code"] == "FEATURE_DISABLED"
            check_message(body["message"], file_store)
            request = urllib.request.Request(
                f"{url}/api/2.0/mlflow/registered-models/create", method="POST",
                data=json.dumps({"name": "m"}).encode(),
                headers={"Content-Type": "application/json"})
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(request, timeout=30)
            assert (e.value.code, json.loads(e.value.read())["error_code"]) == (
                501, "FEATURE_DISABLED")
        finally:
            client.close()
    assert snapshot(tmp_path) == before


#: TrackingClient's registry calls (MlflowClient's arguments).
CLIENT_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("create_registered_model", ("m",), {"tags": {"a": 1}, "description": "d"}),
    ("update_registered_model", ("m", "d"), {}),
    ("rename_registered_model", ("m", "n"), {}),
    ("delete_registered_model", ("m",), {}),
    ("search_registered_models", (), {}),
    ("get_registered_model", ("m",), {}),
    ("get_latest_versions", ("m",), {}),
    ("set_registered_model_tag", ("m", "a", 1), {}),
    ("delete_registered_model_tag", ("m", "a"), {}),
    ("create_model_version", ("m", "s3://b/1"), {"tags": {"a": 1}}),
    ("update_model_version", ("m", "1", "d"), {}),
    ("transition_model_version_stage", ("m", "1", "Production"), {}),
    ("delete_model_version", ("m", "1"), {}),
    ("get_model_version", ("m", "1"), {}),
    ("get_model_version_download_uri", ("m", "1"), {}),
    ("search_model_versions", (), {}),
    ("set_model_version_tag", ("m", "1", "a", "1"), {}),
    ("set_model_version_tag", ("m",), {"key": "a", "value": "1", "stage": "Production"}),
    ("delete_model_version_tag", ("m", "1", "a"), {}),
    ("set_registered_model_alias", ("m", "champion", "1"), {}),
    ("delete_registered_model_alias", ("m", "champion"), {}),
    ("get_model_version_by_alias", ("m", "champion"), {}),
]


def test_tracking_client_on_a_file_store(tmp_path: Path, workdir: Path) -> None:
    client = TrackingClient(str(tmp_path / "mlruns"))
    client.create_experiment("e")
    before = snapshot(tmp_path)
    problems = []
    for name, args, kwargs in CLIENT_CALLS:
        method = getattr(client, name, None)
        if method is None:
            problems.append(f"TrackingClient has no {name}")
            continue
        try:
            method(*args, **kwargs)
            problems.append(f"{name}{args}: no error")
        except TrackstoreError as exc:
            if exc.error_code != "FEATURE_DISABLED":
                problems.append(f"{name}{args}: {exc.error_code}: {exc.message}")
            else:
                assert isinstance(client.store, FileStore)
                check_message(exc.message, client.store)
    assert not problems, "\n".join(problems)
    assert snapshot(tmp_path) == before
