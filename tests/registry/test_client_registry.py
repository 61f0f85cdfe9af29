"""``TrackingClient``'s model registry methods: ``MlflowClient``'s, with its signatures.

The same script of calls runs on ``TrackingClient`` and on ``mlflow.MlflowClient``, each on a
SQLite database of its own, and every outcome (the value returned, without timestamps, or the
error raised) must be the same: what the client adds to the store (tags given as a dict of any
values, ``version``-or-``stage`` tag calls, prompts kept out of model calls, copies, the
``await_creation_for`` argument) is then MLflow's.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.compat._oracle import require_mlflow
from trackstore.client import TrackingClient
from trackstore.exceptions import TrackstoreError
from trackstore.model_registry import ModelVersionTag as VTag
from trackstore.model_registry import RegisteredModelTag as RTag

from ._helpers import IS_PROMPT, PROMPT_SOURCE, mv_view, rm_view
from ._reference import model_version, registered_model

mlflow = require_mlflow()

REGISTRY_METHODS = [
    "create_registered_model", "rename_registered_model", "update_registered_model",
    "delete_registered_model", "search_registered_models", "get_registered_model",
    "get_latest_versions", "set_registered_model_tag", "delete_registered_model_tag",
    "create_model_version", "copy_model_version", "update_model_version",
    "transition_model_version_stage", "delete_model_version", "get_model_version",
    "get_model_version_download_uri", "search_model_versions", "get_model_version_stages",
    "set_model_version_tag", "delete_model_version_tag", "set_registered_model_alias",
    "delete_registered_model_alias", "get_model_version_by_alias",
]

#: Errors MlflowClient raises without a code (INTERNAL_ERROR) for a bad argument or a missing
#: version, and the code TrackingClient gives them instead (the message is MLflow's).
CLIENT_DEVIATIONS = {
    "The name must not be an empty string.": "INVALID_PARAMETER_VALUE",
    "The stage must not be an empty string.": "INVALID_PARAMETER_VALUE",
    "Could not find any model version for ": "RESOURCE_DOES_NOT_EXIST",
    "Model version transition cannot archive existing model versions": "INVALID_PARAMETER_VALUE",
}


def test_signatures_are_mlflow_clients() -> None:
    problems = []
    for name in REGISTRY_METHODS:
        ours = getattr(TrackingClient, name, None)
        if ours is None:
            problems.append(f"TrackingClient has no {name}")
            continue
        theirs = getattr(mlflow.MlflowClient, name)
        shape = [(p.name, p.kind, p.default)
                 for p in inspect.signature(ours).parameters.values()]
        wanted = [(p.name, p.kind, p.default)
                  for p in inspect.signature(theirs).parameters.values()]
        if shape != wanted:
            problems.append(f"{name}: {shape} != {wanted}")
    assert not problems, "\n".join(problems)


# -- one script, two clients ----------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A result as comparable values: entities as their views without timestamps (the two
    clients' clocks differ), lists item by item, a page with whether it has a next one."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if type(value).__module__.startswith("mlflow"):
        if hasattr(value, "latest_versions"):
            value = registered_model(value)
        elif hasattr(value, "current_stage"):
            value = model_version(value)
    if hasattr(value, "latest_versions"):
        return _untimed(rm_view(value))
    if hasattr(value, "current_stage"):
        return _untimed(mv_view(value))
    if isinstance(value, list):
        items = [_plain(item) for item in value]
        if hasattr(value, "token"):
            return {"items": items, "more": bool(value.token)}
        return items
    raise AssertionError(f"unexpected result {value!r}")


def _untimed(view: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in view.items() if not k.endswith("_timestamp")}
    if "latest_versions" in view:
        view["latest_versions"] = [_untimed(v) for v in view["latest_versions"]]
    return view


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("returned", _plain(call()))
    except TrackstoreError as exc:
        return ("raised", exc.error_code, exc.message)
    except mlflow.exceptions.MlflowException as exc:
        code = exc.error_code
        for start, our_code in CLIENT_DEVIATIONS.items():
            if code == "INTERNAL_ERROR" and exc.message.startswith(start):
                code = our_code
        return ("raised", code, exc.message)
    except Exception as exc:
        return ("crashed", type(exc).__name__, str(exc))


def _versions(page: Any) -> list[tuple[str, str, str]]:
    """Search results as (name, version, stage): the store suite checks them whole."""
    return [(mv.name, str(mv.version), mv.current_stage) for mv in page]


def script(c: Any, make_prompt: Callable[[], None]) -> list[tuple[str, tuple[Any, ...]]]:
    """The calls, in order, and what each did."""
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("create model", lambda: c.create_registered_model(
            "m", tags={"n": 1, "s": "x", "f": 0.5}, description="d")),
        ("create a prompt as a model", lambda: c.create_registered_model(
            "p2", tags={IS_PROMPT: "true"})),
        ("create duplicate", lambda: c.create_registered_model("m")),
        ("create version", lambda: c.create_model_version(
            "m", "s3://b/1", run_id="run-1", tags={"k": 2}, run_link="l", description="v1",
            await_creation_for=0)),
        ("create version, default wait", lambda: c.create_model_version("m", "s3://b/2")),
        ("set model tag", lambda: c.set_registered_model_tag("m", "t", 3)),
        ("get model", lambda: c.get_registered_model("m")),
        ("set version tag", lambda: c.set_model_version_tag("m", "1", "a", 4)),
        ("promote", lambda: c.transition_model_version_stage("m", "2", "Production")),
        ("set tag by stage", lambda: c.set_model_version_tag(
            "m", key="b", value=5, stage="Production")),
        ("get version 2", lambda: c.get_model_version("m", "2")),
        ("delete tag by stage", lambda: c.delete_model_version_tag(
            "m", key="b", stage="production")),
        ("get version 2 again", lambda: c.get_model_version("m", "2")),
        ("tag, version and stage", lambda: c.set_model_version_tag(
            "m", "1", "a", "1", stage="Production")),
        ("tag, neither", lambda: c.set_model_version_tag("m", key="a", value="1")),
        ("tag, empty stage", lambda: c.set_model_version_tag(
            "m", key="a", value="1", stage="Staging")),
        ("delete tag, version and stage", lambda: c.delete_model_version_tag(
            "m", "1", "a", stage="Production")),
        ("delete tag, neither", lambda: c.delete_model_version_tag("m", key="a")),
        ("delete tag, empty stage", lambda: c.delete_model_version_tag(
            "m", key="a", stage="Archived")),
        ("latest", lambda: sorted(c.get_latest_versions("m"), key=lambda v: int(v.version))),
        ("latest in production", lambda: c.get_latest_versions("m", ["Production"])),
        ("archive to archived", lambda: c.transition_model_version_stage(
            "m", "1", "Archived", archive_existing_versions=True)),
        ("empty stage", lambda: c.transition_model_version_stage("m", "1", " ")),
        ("update model", lambda: c.update_registered_model("m", "new")),
        ("update version", lambda: c.update_model_version("m", "1", "new v1")),
        ("set alias", lambda: c.set_registered_model_alias("m", "champion", "1")),
        ("by alias", lambda: c.get_model_version_by_alias("m", "champion")),
        ("by latest", lambda: c.get_model_version_by_alias("m", "latest")),
        ("download uri", lambda: c.get_model_version_download_uri("m", "1")),
        ("search models", lambda: [rm.name for rm in c.search_registered_models()]),
        ("search models, a page", lambda: c.search_registered_models(
            "name LIKE '%'", max_results=1)),
        ("search versions", lambda: _versions(c.search_model_versions("name = 'm'"))),
        ("search versions, a page", lambda: (
            _versions(page := c.search_model_versions(max_results=1, order_by=["name"])),
            bool(page.token))),
        ("copy", lambda: c.copy_model_version("models:/m/1", "copy")),
        ("copy by alias", lambda: c.copy_model_version("models:/m@champion", "copy")),
        ("copy's download uri", lambda: c.get_model_version_download_uri("copy", "1")),
        ("copy's model", lambda: c.get_registered_model("copy")),
        ("rename to empty", lambda: c.rename_registered_model("m", " ")),
        # MlflowClient 3.17.2 returns None here (its docs say the model; TrackingClient
        # returns the model): what it did is what the next calls see.
        ("rename", lambda: c.rename_registered_model("m", "n") and None),
        ("delete alias", lambda: c.delete_registered_model_alias("n", "champion")),
        ("delete version", lambda: c.delete_model_version("n", "1")),
        ("delete model tag", lambda: c.delete_registered_model_tag("n", "t")),
        ("get renamed", lambda: c.get_registered_model("n")),
        ("make a prompt", make_prompt),
        ("get prompt", lambda: c.get_registered_model("p")),
        ("get prompt version", lambda: c.get_model_version("p", "1")),
        # MlflowClient keeps its model calls off prompts: each of these, alone, is refused.
        ("update prompt", lambda: c.update_registered_model("p", "x")),
        ("latest of prompt", lambda: c.get_latest_versions("p")),
        ("tag prompt", lambda: c.set_registered_model_tag("p", "a", "1")),
        ("untag prompt", lambda: c.delete_registered_model_tag("p", "a")),
        ("update prompt version", lambda: c.update_model_version("p", "1", "d")),
        ("move prompt version", lambda: c.transition_model_version_stage("p", "1", "Staging")),
        ("prompt download uri", lambda: c.get_model_version_download_uri("p", "1")),
        ("tag prompt version", lambda: c.set_model_version_tag("p", "1", "a", "1")),
        ("untag prompt version", lambda: c.delete_model_version_tag("p", "1", "a")),
        ("alias prompt", lambda: c.set_registered_model_alias("p", "a", "1")),
        ("unalias prompt", lambda: c.delete_registered_model_alias("p", "a")),
        ("prompt as it was", lambda: c._get_registry_client().store.get_registered_model("p")
         if hasattr(c, "_get_registry_client") else c.store.get_registered_model("p")),
        ("delete prompt version", lambda: c.delete_model_version("p", "1")),
        ("rename prompt", lambda: c.rename_registered_model("p", "q")),
        ("delete prompt", lambda: c.delete_registered_model("p")),
        ("delete model", lambda: c.delete_registered_model("n")),
        ("get deleted", lambda: c.get_registered_model("n")),
    ]
    return [(label, _outcome(call)) for label, call in steps]


def _our_prompt(client: TrackingClient) -> None:
    client.store.create_registered_model("p", tags=[RTag(IS_PROMPT, "true")])
    client.store.create_model_version("p", PROMPT_SOURCE, tags=[VTag(IS_PROMPT, "true")])


def _their_prompt(client: Any) -> None:
    from mlflow.entities.model_registry import ModelVersionTag, RegisteredModelTag

    store = client._get_registry_client().store
    store.create_registered_model("p", tags=[RegisteredModelTag(IS_PROMPT, "true")])
    store.create_model_version("p", PROMPT_SOURCE, tags=[ModelVersionTag(IS_PROMPT, "true")])


@pytest.fixture
def ours(tmp_path: Path) -> TrackingClient:
    return TrackingClient(f"sqlite:///{tmp_path / 'ours.db'}")


def test_the_same_calls_do_what_mlflow_client_does(ours: TrackingClient, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'theirs.db'}"
    theirs = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    expected = script(theirs, lambda: _their_prompt(theirs))
    got = script(ours, lambda: _our_prompt(ours))
    assert [label for label, _ in got] == [label for label, _ in expected]
    problems = [f"{label}:\n    mlflow:     {want}\n    trackstore: {have}"
                for (label, want), (_, have) in zip(expected, got, strict=True) if want != have]
    assert not problems, f"{len(problems)} calls differ:\n" + "\n".join(problems)


# -- what the script shows, said outright ----------------------------------------------------------


def test_client_values(ours: TrackingClient) -> None:
    c = ours
    rm = c.create_registered_model("m", tags={"n": 1, "b": True}, description="d")
    assert (rm.name, rm.tags, rm.description) == ("m", {"n": "1", "b": "True"}, "d")
    start = time.monotonic()
    mv = c.create_model_version("m", "s3://b/1", tags={"k": 2.5})  # waits for nothing
    assert time.monotonic() - start < 5
    assert (mv.version, mv.tags, mv.current_stage, mv.status) == ("1", {"k": "2.5"}, "None",
                                                                  "READY")
    c.set_registered_model_tag("m", "t", 3)
    c.set_model_version_tag("m", "1", "u", 4)
    assert c.get_registered_model("m").tags == {"n": "1", "b": "True", "t": "3"}
    assert c.get_model_version("m", "1").tags == {"k": "2.5", "u": "4"}
    c.transition_model_version_stage("m", "1", "Staging")
    c.set_model_version_tag("m", key="s", value=5, stage="staging")
    assert c.get_model_version("m", "1").tags == {"k": "2.5", "u": "4", "s": "5"}
    c.delete_model_version_tag("m", key="s", stage="Staging")
    assert c.get_model_version("m", "1").tags == {"k": "2.5", "u": "4"}
    with pytest.raises(TrackstoreError) as e:
        c.set_model_version_tag("m", key="s", value=5, stage="Production")
    assert (e.value.error_code, e.value.message) == (
        "RESOURCE_DOES_NOT_EXIST", "Could not find any model version for Production stage")
    copied = c.copy_model_version("models:/m/Staging", "copy")
    assert (copied.name, copied.version, copied.source, copied.tags) == (
        "copy", "1", "models:/m/1", {"k": "2.5", "u": "4"})
    assert c.get_model_version_download_uri("copy", "1") == "s3://b/1"
    assert c.get_model_version_stages("m", "1") == ["None", "Staging", "Production",
                                                    "Archived"]
    assert [r.name for r in c.search_registered_models()] == ["copy", "m"]
    assert [(v.name, v.version) for v in c.search_model_versions("name = 'm'")] == [("m", "1")]


def test_through_a_server_the_client_does_the_same(ours: TrackingClient,
                                                   tmp_path: Path) -> None:
    from tests._live_server import serve_in_thread
    from trackstore.store.sql import SqlStore

    backing = SqlStore(f"sqlite:///{tmp_path / 'served.db'}", str(tmp_path / "artifacts"))
    try:
        with serve_in_thread(backing) as url:
            remote = TrackingClient(url)
            got = script(remote, lambda: _our_prompt(remote))
    finally:
        backing.close()
    expected = script(ours, lambda: _our_prompt(ours))
    problems = [f"{label}:\n    direct: {want}\n    server: {have}"
                for (label, want), (_, have) in zip(expected, got, strict=True) if want != have]
    assert not problems, f"{len(problems)} calls differ:\n" + "\n".join(problems)
