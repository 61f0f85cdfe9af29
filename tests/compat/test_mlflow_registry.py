"""The unmodified ``mlflow`` client's model-registry calls get the same answers from ``trackstore
server`` as from ``mlflow server``.

The scenario of ``_registry_script.py`` (registered models, versions, stages, latest versions,
download URIs, tags, aliases, deletion, renaming, searches and their pages, copies, errors with
their messages) runs in a process of its own against each server, both on the same kind of
database, each on a brand-new one: SQLite always, PostgreSQL and MariaDB when their servers are
configured (``tests/_databases.py``). It is the harness of ``test_mlflow_client_server.py``
(servers all started at once, each scenario started as soon as its server is ready), with this
scenario. The two normalized records must be equal step by step, except for trackstore's
*documented* differences, listed in :data:`ALLOWED` with their reason and an exact check of what
trackstore answers instead (each one used is reported as a warning). Key facts are asserted on
each record by itself, so that both servers breaking the same way fails too.

A file store (``mlruns``) has no model registry in trackstore: ``trackstore server`` on one
answers the registry's calls with 501 FEATURE_DISABLED and a message saying a database-backed
store is needed, and writes nothing (:func:`test_a_file_store_refuses_registry_calls`).

``TRACKSTORE_COMPAT_CANDIDATE=mlflow`` runs ``mlflow server`` in trackstore's place: a check of
the harness itself (the scenario is deterministic: the records are then equal, no allowance used).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests._databases import URI_VARIABLES, server_uri
from tests._server_process import ServerError, ServerProcess, ServerSpec, trackstore_server_missing
from tests.compat._client_script import MISSING_RUN
from tests.compat._oracle import require_mlflow
from tests.compat._registry_script import RECORD_VERSION
from tests.compat.test_mlflow_client_server import (
    CANDIDATE,
    CLIENT_ENV,
    Allowed,
    Outcome,
    assert_same_answers,
    compare,
    run_scenarios,
)

require_mlflow()

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("_registry_script.py")
BACKENDS = ["sqlite", "postgresql", "mysql"]


# -- the runs ----------------------------------------------------------------------------------


def _configured(kind: str) -> bool:
    return kind == "sqlite" or bool(os.environ.get(URI_VARIABLES[kind], "").strip())


def _selected(request: pytest.FixtureRequest) -> set[str]:
    """The backend kinds of this module's tests that the session will run (``-k``)."""
    return {item.callspec.params.get("outcome") for item in request.session.items
            if item.module is request.module and hasattr(item, "callspec")}


def _will_run(request: pytest.FixtureRequest, test: str) -> bool:
    return any(item.module is request.module and getattr(item, "originalname", "") == test
               for item in request.session.items)


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[ServerProcess | None, Path, str]]:
    """``trackstore server`` on an ``mlruns`` directory: (server, its directory, why it could
    not start). Started, not waited for: the scenarios' servers start meanwhile."""
    if CANDIDATE != "trackstore":
        pytest.skip("trackstore's file store has no registry; MLflow's serves one")
    root = tmp_path_factory.mktemp("registry-file")
    missing = trackstore_server_missing()
    if missing:
        yield None, root, missing
        return
    spec = ServerSpec("trackstore", str(root / "mlruns"), str(root / "artifacts"))
    server = spec.start(root)
    try:
        yield server, root, ""
    finally:
        server.stop()


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Outcome]]:
    if CANDIDATE == "trackstore" and _will_run(request, "test_a_file_store_refuses_registry_calls"):
        request.getfixturevalue("file_server")  # starts with the others
    selected = _selected(request)
    kinds = [kind for kind in BACKENDS if _configured(kind) and kind in selected]
    with run_scenarios(kinds, tmp_path_factory, SCRIPT) as results:
        yield results


@pytest.fixture(params=BACKENDS)
def outcome(request: pytest.FixtureRequest, outcomes: dict[str, Outcome]) -> Outcome:
    kind = request.param
    if kind not in outcomes:
        server_uri(kind)  # skips, or fails where the database servers are required
        pytest.skip(f"no {kind} server")
    found = outcomes[kind]
    failure = found.failure()
    if failure:
        pytest.fail(f"{kind}: the scenario could not run to its end:\n{failure}", pytrace=False)
    return found


# -- allowed differences -----------------------------------------------------------------------


def _aliases_of(version: str, aliases: dict[str, str]) -> list[str]:
    return sorted(alias for alias, target in aliases.items() if target == version)


def _client_versions(versions: list[Any], aliases: dict[str, str]) -> list[Any]:
    return [{**v, "aliases": _aliases_of(v["version"], aliases)} for v in versions]


def _client_model(model: Any) -> Any:
    return {**model, "latest_versions": _client_versions(model["latest_versions"],
                                                         model["aliases"])}


def _wire_versions(versions: list[Any], aliases: dict[str, str]) -> list[Any]:
    """Versions as JSON: ``aliases`` left out when empty (proto3 JSON)."""
    out = []
    for version in versions:
        bare = {k: v for k, v in version.items() if k != "aliases"}
        found = _aliases_of(version["version"], aliases)
        out.append({**bare, "aliases": found} if found else bare)
    return out


def _wire_model(model: Any) -> Any:
    if "latest_versions" not in model:
        return model
    aliases = {a["alias"]: a["version"] for a in model.get("aliases", [])}
    return {**model, "latest_versions": _wire_versions(model["latest_versions"], aliases)}


def _with_aliases(step: str, value: Any, record: dict[str, Any]) -> Any:
    """*value* with every version carrying the aliases that point at it: a registered model's
    own aliases for its ``latest_versions``, the ``model_aliases`` the step recorded for the
    versions a search found."""
    if isinstance(value, list):  # registered models found by a search
        return [_client_model(m) for m in value]
    if "latest_versions" in value:  # a registered model
        return _client_model(value)
    if "versions" in value:  # model versions found by a search, with their model's aliases
        return {**value, "versions": _client_versions(value["versions"],
                                                      value["model_aliases"])}
    body = value["body"]  # on the wire
    if "registered_model" in body:
        body = {**body, "registered_model": _wire_model(body["registered_model"])}
    elif "registered_models" in body:
        body = {**body, "registered_models": [_wire_model(m)
                                              for m in body["registered_models"]]}
    else:
        body = {**body, "model_versions": _wire_versions(body["model_versions"],
                                                         value["model_aliases"])}
    return {**value, "body": body}


TAKEN_NAME = {"error": "RESOURCE_ALREADY_EXISTS",
              "message": "RESOURCE_ALREADY_EXISTS: Registered Model (name=compat-alpha) already "
                         "exists."}
CASE_MISSING = {"error": "RESOURCE_DOES_NOT_EXIST",
                "message": "RESOURCE_DOES_NOT_EXIST: Registered Model with name=COMPAT-ALPHA "
                           "not found"}
SQL_BACKENDS = frozenset(BACKENDS)


def _invalid(message: str) -> dict[str, str]:
    return {"error": "INVALID_PARAMETER_VALUE", "message": f"INVALID_PARAMETER_VALUE: {message}"}


def _archive_refused(step: str, value: Any, record: dict[str, Any]) -> Any:
    stage = "Archived" if step.endswith("archived") else "None"
    return _invalid("Model version transition cannot archive existing model versions because "
                    f"'{stage}' is not an Active stage. Valid stages are "
                    "['Staging', 'Production']")


def _too_many(step: str, value: Any, record: dict[str, Any]) -> Any:
    limit = 1000 if step.startswith("srm.") else 200_000
    return _invalid("Invalid value for request parameter max_results. It must be at most "
                    f"{limit}, but got value {limit + 1}")


def _boolean_message(step: str, value: Any, record: dict[str, Any]) -> Any:
    body = {**value["body"], "message": "Invalid value \"maybe\" for parameter "
            "'archive_existing_versions' supplied. Hint: Value was of type 'str', expected true "
            "or false."}
    return {**value, "body": body}

#: trackstore's documented differences from ``mlflow server`` in this scenario (see
#: ``test_mlflow_client_server.Allowed``): each is in docs/registry.md ("Where trackstore
#: differs from MLflow on purpose").
ALLOWED: list[Allowed] = [
    Allowed("search results carry aliases", (
        "alias.model", "alias.after", "mvdel.model", "rename.get_new", "srm.full", "smv.full",
        "raw.rm.get", "raw.rm.search", "raw.mv.search"), SQL_BACKENDS,
            "docs/registry.md: versions in a registered model's latest_versions and those "
            "found by search_model_versions carry their aliases; MLflow's SQL store leaves "
            "them empty there (it fills them in get_model_version and get_latest_versions)",
            _with_aliases),
    Allowed("renaming onto a taken name", ("rename.to_existing",), SQL_BACKENDS,
            "docs/registry.md: RESOURCE_ALREADY_EXISTS, \"Registered Model (name=X) already "
            "exists.\" without the database driver's error, which MLflow's SQL store appends "
            "(on MariaDB its store fails with the driver's OperationalError instead, which "
            "mlflow server answers as a 503)",
            lambda step, value, record: TAKEN_NAME),
    Allowed("names are case-sensitive", ("rm.get.case",), frozenset({"mysql"}),
            "docs/sql-store.md: every text column has a binary collation, so names are "
            "case-sensitive on every dialect; MLflow's MySQL tables keep the server's "
            "case-insensitive collation, and its get_registered_model (no BINARY there, unlike "
            "its searches) finds compat-alpha when asked for COMPAT-ALPHA",
            lambda step, value, record: CASE_MISSING),
    Allowed("a refused archive is a 400", ("st.archive_to_archived", "st.archive_to_none"),
            SQL_BACKENDS,
            "docs/registry.md: archive_existing_versions with a stage other than Staging or "
            "Production is INVALID_PARAMETER_VALUE (400) with MLflow's own message; MLflow's "
            "store raises it without an error code, so its server answers 500, which its "
            "client retries before failing", _archive_refused),
    Allowed("duplicate order_by fields are a 400",
            ("srm.error.duplicate_order", "smv.error.duplicate_order"), SQL_BACKENDS,
            "docs/registry.md: MLflow's message as INVALID_PARAMETER_VALUE; MLflow's store "
            "raises it without an error code (a retried 500)",
            lambda step, value, record: _invalid(
                "`order_by` contains duplicate fields: ['name', 'name DESC']")),
    Allowed("max_results over the limit names the limit",
            ("srm.error.too_many", "smv.error.too_many"), SQL_BACKENDS,
            "docs/registry.md: the same error code with the limit in the message; MLflow's "
            "server says the number 'was of type str'", _too_many),
    Allowed("max_results=0 is refused", ("srm.error.zero_results",), SQL_BACKENDS,
            "docs/registry.md: MLflow's server answers an empty page with a next-page token "
            "that pages nowhere",
            lambda step, value, record: _invalid(
                "Invalid value for max_results. It must be a positive integer, but got 0")),
    Allowed("a non-boolean flag names the expected type", ("raw.transition.bad_flag",),
            SQL_BACKENDS,
            "trackstore's wrong-type message for every request field (server/handlers.py): "
            "the same 400 INVALID_PARAMETER_VALUE, ending 'expected true or false' rather "
            "than MLflow's 'See the API docs'", _boolean_message),
]


# -- comparing ---------------------------------------------------------------------------------


def test_the_mlflow_client_gets_the_same_registry_answers(outcome: Outcome) -> None:
    oracle, candidate = outcome.oracle.result, outcome.candidate.result
    assert oracle is not None and candidate is not None
    assert oracle["version"] == candidate["version"] == RECORD_VERSION
    assert_same_answers(outcome, ALLOWED, "registry scenario", "_registry_script.py")


def test_allowances_admit_exactly_the_documented_difference() -> None:
    """An allowance never waves through more than its difference (no servers needed)."""
    def version(number: str, aliases: list[str]) -> dict[str, Any]:
        return {"name": "m", "version": number, "current_stage": "None", "aliases": aliases}

    model = {"name": "m", "aliases": {"a": "2", "b": "2", "c": "1"},
             "latest_versions": [version("1", []), version("2", [])]}
    wire = {"status": 200, "json": True, "body": {"registered_model": {
        "name": "m", "aliases": [{"alias": "a", "version": "2"}],
        "latest_versions": [{"name": "m", "version": "1"}, {"name": "m", "version": "2"}]}}}
    oracle = {"alias.model": model, "raw.rm.get": wire,
              "smv.full": {"versions": [version("2", [])], "model_aliases": {"x": "2"}},
              "rename.to_existing": {"error": "RESOURCE_ALREADY_EXISTS", "message":
                                     "RESOURCE_ALREADY_EXISTS: Registered Model "
                                     "(name=compat-alpha) already exists. Error: <database "
                                     "error>"}}
    exact = {"alias.model": {**model, "latest_versions": [version("1", ["c"]),
                                                          version("2", ["a", "b"])]},
             "raw.rm.get": {**wire, "body": {"registered_model": {
                 **wire["body"]["registered_model"], "latest_versions": [
                     {"name": "m", "version": "1"},
                     {"name": "m", "version": "2", "aliases": ["a"]}]}}},
             "smv.full": {"versions": [version("2", ["x"])], "model_aliases": {"x": "2"}},
             "rename.to_existing": TAKEN_NAME}
    unexplained, allowed = compare("sqlite", oracle, exact, allowances=ALLOWED)
    assert unexplained == []
    assert allowed == ["alias.model: search results carry aliases",
                       "raw.rm.get: search results carry aliases",
                       "smv.full: search results carry aliases",
                       "rename.to_existing: renaming onto a taken name"]
    assert len(compare("sqlite", oracle, exact, allowances=[])[0]) == 4
    wrong = [
        {"alias.model": {**model, "latest_versions": [version("1", ["c"]),
                                                      version("2", ["a"])]}},  # one missing
        {"alias.model": {**exact["alias.model"], "description": "x"}},  # something else too
        {"smv.full": {"versions": [version("2", ["x", "y"])], "model_aliases": {"x": "2"}}},
        {"raw.rm.get": {**wire, "body": {"registered_model": {
            **wire["body"]["registered_model"], "latest_versions": [
                {"name": "m", "version": "1", "aliases": []},  # empty, yet on the wire
                {"name": "m", "version": "2", "aliases": ["a"]}]}}}},
        {"rename.to_existing": {"error": "INVALID_PARAMETER_VALUE",
                                "message": TAKEN_NAME["message"]}},
    ]
    for change in wrong:
        unexplained, _ = compare("sqlite", oracle, {**exact, **change}, allowances=ALLOWED)
        assert [line.split(":")[0] for line in unexplained] == list(change)
    # MariaDB only: MLflow's lookup there ignores letter case
    found = {"rm.get.case": {"name": "compat-alpha"}}
    assert compare("mysql", found, {"rm.get.case": CASE_MISSING}, allowances=ALLOWED)[1] == [
        "rm.get.case: names are case-sensitive"]
    assert compare("sqlite", found, {"rm.get.case": CASE_MISSING}, allowances=ALLOWED)[0]
    # an allowance holds on its own steps only
    moved = {"alias.version": model}
    assert compare("sqlite", moved, {"alias.version": exact["alias.model"]},
                   allowances=ALLOWED)[0]


# -- key facts, on each record by itself -------------------------------------------------------


def _error(value: Any) -> str | None:
    return value.get("error") if isinstance(value, dict) else None


def _versions(value: Any) -> list[tuple[str, str]]:
    """(version, stage) of each model version of a list of them."""
    assert isinstance(value, list), value
    return [(v["version"], v["current_stage"]) for v in value]


ALPHA_TAGS = {"count": "3", "empty": "", "note": "ünï ☃", "prio": "2", "team": "vision"}
ALL_MODELS = ["compat-alpha", "compat-beta", "compat-empty", "compat-gamma-2", "other-delta",
              "ünï ☃ model"]
ALL_VERSIONS = ["other-delta/1", "compat-beta/2", "compat-gamma-2/2", "compat-gamma-2/1",
                "compat-alpha/5", "compat-alpha/2", "compat-alpha/3", "compat-alpha/1",
                "ünï ☃ model/1"]


@pytest.mark.parametrize("role", ["oracle", "candidate"])
def test_key_facts(outcome: Outcome, role: str) -> None:
    """What the scenario must see from any server: the comparison cannot hide it."""
    side = outcome.oracle if role == "oracle" else outcome.candidate
    assert side.result is not None
    r = side.result["record"]
    invalid, missing = "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"

    # registered models
    alpha = r["rm.create.alpha"]
    assert (alpha["name"], alpha["description"], alpha["tags"]) == (
        "compat-alpha", "the first ☃", {"prio": "1", "team": "vision"})
    assert alpha["creation_timestamp"] == alpha["last_updated_timestamp"] == "@rm.create.alpha"
    assert (alpha["aliases"], alpha["latest_versions"]) == ({}, [])
    assert r["rm.get.unicode"]["name"] == "ünï ☃ model"
    if side.spec.kind == "trackstore" or outcome.kind != "mysql":  # see ALLOWED
        assert r["rm.get.case"] == CASE_MISSING
    assert _error(r["rm.create.duplicate"]) == "RESOURCE_ALREADY_EXISTS"
    assert [_error(r[f"rm.create.{s}"]) for s in ("empty_name", "slash", "bad_tag_key")] == [
        invalid] * 3
    assert _error(r["rm.create.bad_tag_created"]) == missing  # nothing half-created
    assert r["rm.get.missing"] == {
        "error": missing,
        "message": f"{missing}: Registered Model with name=no-such-model not found"}
    beta = r["rm.update.get"]
    assert (beta["description"], beta["creation_timestamp"], beta["last_updated_timestamp"]) == (
        "second, updated ☃", "@rm.create.beta", "@rm.update.description")
    assert r["rm.update.cleared"] == ""
    tagged = r["rm.tag.after_delete"]
    assert tagged["tags"] == ALPHA_TAGS
    assert tagged["last_updated_timestamp"] == "@rm.update.restore"  # tags leave it alone

    # model versions
    v1 = r["mv.create.alpha.1"]
    assert {k: v1[k] for k in ("name", "version", "source", "run_id", "run_link", "description",
                                "tags", "status", "current_stage")} == {
        "name": "compat-alpha", "version": "1", "source": "runs:/run:r1/model",
        "run_id": "run:r1", "run_link": "https://example.com/runs/1", "description": "v1 ☃",
        "tags": {"k": "v", "stage": "cand"}, "status": "READY", "current_stage": "None"}
    assert [r[f"mv.create.alpha.{n}"]["version"] for n in range(1, 5)] == ["1", "2", "3", "4"]
    assert r["mv.create.alpha.3"]["source"] == "<root>/exp:reg/run:r1/artifacts/model"
    after = r["mv.create.after"]
    assert after["last_updated_timestamp"] == "@mv.create.alpha.4"
    assert _versions(after["latest_versions"]) == [("4", "None")]
    refused = ("empty_source", "local_without_run", "local_outside_run", "local_other_run",
               "local_missing_run", "relative", "encoded_relative", "runs_mismatch",
               "runs_without_run_id", "host_addressed", "bad_tag_key")
    assert {s: _error(r[f"mv.refused.{s}"]) for s in refused} == dict.fromkeys(refused, invalid)
    assert r["mv.refused.none_made"] == []
    assert _error(r["mv.create.missing_model"]) == missing
    assert _error(r["mv.create.bad_name"]) == invalid
    assert r["mv.get.int_version"]["version"] == "2"
    assert [_error(r[f"mv.get.{s}"]) for s in (
        "missing_version", "version_zero", "bad_version", "missing_model")] == [
        missing, missing, invalid, missing]
    assert r["mv.update.description"]["last_updated_timestamp"] == "@mv.update.description"
    assert r["mv.update.emptied"]["description"] == ""

    # stages
    assert r["st.staging_archiving"]["current_stage"] == "Staging"  # "staging", canonical
    archived = r["st.archived_by_staging"]
    assert (archived["current_stage"], archived["last_updated_timestamp"]) == (
        "Archived", "@st.staging_archiving")
    assert _versions(r["st.beta.both"]) == [("1", "Production"), ("2", "Production")]
    assert r["st.archived_by_production"]["current_stage"] == "Archived"
    assert r["st.untouched_by_production"]["current_stage"] == "Staging"
    assert _versions(r["st.unchanged"]) == [("1", "Archived"), ("2", "Staging"),
                                            ("3", "Archived"), ("4", "Production")]
    assert r["st.model_after"]["last_updated_timestamp"] == "@st.same_stage_archiving"
    assert _error(r["st.invalid"]) == invalid
    assert r["st.invalid"]["message"] == (
        f"{invalid}: Invalid Model Version stage: Sideways. Value must be one of None, "
        "Staging, Production, Archived.")
    assert _error(r["st.missing_version"]) == missing

    # latest versions, download URIs
    assert _versions(r["latest.all"]) == [("2", "Staging"), ("3", "Archived"),
                                          ("4", "Production")]
    assert r["latest.empty_list"] == r["latest.all"]
    assert _versions(r["latest.production"]) == [("4", "Production")]
    assert _versions(r["latest.staging_and_none"]) == [("2", "Staging")]
    assert _versions(r["latest.lowercase"]) == [("1", "Production"), ("2", "None")]
    assert r["latest.no_versions"] == []
    assert _error(r["latest.invalid_stage"]) == invalid
    assert _error(r["latest.missing_model"]) == missing
    assert [r[f"uri.{s}"] for s in ("runs", "s3", "local", "gs")] == [
        "runs:/run:r1/model", "s3://compat-bucket/alpha/2",
        "<root>/exp:reg/run:r1/artifacts/model", "gs://compat-bucket/alpha/4"]
    assert _error(r["uri.missing_version"]) == missing

    # version tags
    tagged_version = r["mvtag.after_delete"]
    assert tagged_version["tags"] == {"count": "7", "k": "w2", "note": "ünï ☃"}
    assert tagged_version["last_updated_timestamp"] == "@st.same_stage_archiving"
    assert [_error(r[f"mvtag.{s}"]) for s in ("missing_version", "bad_version", "bad_key")] == [
        missing, invalid, invalid]

    # aliases
    assert r["alias.model"]["aliases"] == {"challenger": "2", "champion": "4", "doomed": "4",
                                           "prod-2024_x": "2"}
    assert r["alias.version"]["aliases"] == ["challenger", "prod-2024_x"]
    champion = r["alias.by_alias.champion"]
    assert (champion["version"], champion["aliases"]) == ("4", ["champion", "doomed"])
    assert r["alias.moved.model"]["champion"] == "2"
    assert r["alias.moved.old_version"]["aliases"] == ["doomed"]
    reserved = ("latest", "latest_upper", "v1", "V12")
    assert [_error(r[f"alias.reserved.{s}"]) for s in reserved] == [invalid] * 4
    assert r["alias.not_reserved.v1x"] is None
    assert r["alias.by_alias.latest"]["version"] == "4"
    assert r["alias.by_alias.latest_mixed_case"]["version"] == "2"
    assert _error(r["alias.by_alias.latest_no_versions"]) == missing
    assert _error(r["alias.by_alias.unknown"]) == invalid
    assert _error(r["alias.missing_version"]) == missing
    assert _error(r["alias.delete.gone"]) == invalid and r["alias.delete.again"] is None

    # deleting versions: gone everywhere, their numbers never handed out again
    assert _error(r["mvdel.get"]) == missing
    assert _error(r["mvdel.alias_gone"]) == invalid
    deleted = r["mvdel.model"]
    assert deleted["aliases"] == {"challenger": "2", "champion": "2", "prod-2024_x": "2"}
    assert deleted["last_updated_timestamp"] == "@mvdel.delete"
    assert _versions(deleted["latest_versions"]) == [("2", "Staging"), ("3", "Archived")]
    assert [_error(r[f"mvdel.{s}"]) for s in ("again", "tag", "transition", "set_alias")] == [
        missing] * 4
    assert r["mvdel.next_number"]["version"] == "5"
    assert r["mvdel.latest_alias"]["version"] == "5"

    # renaming
    renamed = r["rename.get_new"]
    assert (renamed["name"], renamed["tags"], renamed["aliases"]) == (
        "compat-gamma-2", {"owner": "me"}, {"stable": "1"})
    assert _error(r["rename.get_old"]) == missing
    assert r["rename.version"]["name"] == "compat-gamma-2"
    assert r["rename.alias"]["version"] == "1"
    assert (r["rename.versions"], r["rename.old_versions"]) == (
        ["compat-gamma-2/2", "compat-gamma-2/1"], [])
    # MLflow's store on MariaDB: the database refuses the cascade to the versions' keys with an
    # OperationalError, which mlflow server answers as a 503
    taken = ("INTERNAL_ERROR" if side.spec.kind == "mlflow" and outcome.kind == "mysql"
             else "RESOURCE_ALREADY_EXISTS")
    assert _error(r["rename.to_existing"]) == taken
    assert r["rename.to_existing.unchanged"] == ["compat-gamma-2", "compat-alpha"]
    assert _error(r["rename.missing"]) == missing

    # deleting models: their versions go with them, a new model of the name starts again
    assert _error(r["rmdel.get"]) == missing and r["rmdel.versions"] == []
    assert _error(r["rmdel.again"]) == missing
    assert r["rmdel.recreated_version"]["version"] == "1"

    # searching registered models
    assert r["srm.default"] == {"names": ALL_MODELS, "has_next": False}
    assert [m["name"] for m in r["srm.full"]] == ["compat-alpha", "compat-gamma-2"]
    assert r["srm.full"][0]["tags"] == ALPHA_TAGS
    names = {step[len("srm.filter."):]: value["names"] for step, value in r.items()
             if step.startswith("srm.filter.") and "names" in value}
    assert names["name_like"] == ALL_MODELS[:4]
    assert names["name_ilike"] == ALL_MODELS[:4]
    assert names["name_in"] == ["compat-alpha", "other-delta"]
    assert names["tag_eq"] == names["tag_ilike"] == ["compat-alpha", "ünï ☃ model"]
    assert names["tag_neq"] == ["compat-beta"]
    assert names["tag_and"] == names["name_and_tag"] == ["compat-alpha"]
    assert names["tag_renamed_model"] == ["compat-gamma-2"]
    assert names["none"] == []
    assert r["srm.order.name_desc"]["names"] == ALL_MODELS[::-1]
    assert r["srm.order.last_updated_desc"]["names"][:2] == ["other-delta", "compat-beta"]
    assert r["srm.paged"] == [ALL_MODELS[i:i + 2] for i in range(0, 6, 2)]
    assert r["srm.paged.one"] == {"names": ["compat-alpha"], "has_next": True}
    for name in ("bad_comparator", "bad_attribute", "or", "bad_order_key", "too_many",
                 "bad_token"):
        assert _error(r[f"srm.error.{name}"]) == invalid, name

    # searching model versions
    assert r["smv.default"] == {"versions": ALL_VERSIONS, "has_next": False}
    found = {step[len("smv.filter."):]: value["versions"] for step, value in r.items()
             if step.startswith("smv.filter.") and "versions" in value}
    assert found["run_id_eq"] == ["compat-alpha/3", "compat-alpha/1"]
    assert found["run_id_in"] == ["compat-beta/2", "compat-gamma-2/2", "compat-gamma-2/1",
                                  "compat-alpha/3", "compat-alpha/1"]
    assert found["version_ge_and_name"] == ["compat-alpha/5", "compat-alpha/2", "compat-alpha/3"]
    assert found["source_eq"] == ["compat-alpha/2"]
    assert found["tag_eq"] == ["compat-alpha/1"]
    assert found["run_id_redacted"] == found["source_redacted"] == found["none"] == []
    assert r["smv.order.version_asc"]["versions"][:4] == [
        "compat-alpha/1", "compat-gamma-2/1", "other-delta/1", "ünï ☃ model/1"]
    assert r["smv.paged"] == [ALL_VERSIONS[i:i + 3] for i in range(0, 9, 3)]
    assert [len(page) for page in r["smv.paged.filtered"]] == [2, 2, 2, 1]
    for name in ("bad_comparator", "bad_attribute", "version_string", "source_in", "tag_in",
                 "or", "bad_order_key", "too_many", "zero_results", "bad_token"):
        assert _error(r[f"smv.error.{name}"]) == invalid, name

    # on the wire
    assert r["raw.rm.get.missing"]["status"] == 404
    assert r["raw.mv.get.bad_version"]["status"] == 400
    assert r["raw.rm.create.duplicate"]["status"] == 400
    assert r["raw.latest.get"]["status"] == 200
    assert sorted(v["version"] for v in r["raw.latest.get"]["body"]["model_versions"]) == [
        "2", "3"]
    assert r["raw.alias.get"]["body"]["model_version"]["version"] == "2"

    # copies, many versions, the end
    copied = r["copy.models_uri"]
    assert (copied["version"], copied["source"], copied["run_id"]) == (
        "3", "models:/compat-alpha/2", "run:r2")
    assert r["copy.download_uri"] == "s3://compat-bucket/alpha/2"
    assert r["copy.refused.none_made"] == []
    assert r["copy.client"]["tags"] == {"count": "7", "k": "w2", "note": "ünï ☃"}
    assert r["many.paged"] == [[f"compat-many/{n}" for n in ns] for ns in (
        (7, 6, 5), (4, 3, 2), (1,))]
    assert [stage for _, stage, _ in r["many.stages"]] == ["Archived"] * 6 + ["Production"]
    assert (r["end.models"], r["end.versions"]) == ([], [])
    assert r["end.recreated.first_version"] == "1"
    assert r["end.recreated.model"]["aliases"] == {}


# -- a file store ------------------------------------------------------------------------------


def _tree(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under *roots*: (size, modification time)."""
    found = {}
    for root in roots:
        for path in [root, *root.rglob("*")] if root.exists() else []:
            info = path.stat()
            found[str(path)] = (info.st_size if path.is_file() else -1, info.st_mtime_ns)
    return found


def test_a_file_store_refuses_registry_calls(
        file_server: tuple[ServerProcess | None, Path, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``trackstore server`` on an ``mlruns`` directory: every registry call of the mlflow client
    fails at once with FEATURE_DISABLED (HTTP 501, not retried), saying a database-backed store
    is needed, and nothing is written; tracking calls are served as ever."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    server, root, missing = file_server
    if server is None:
        pytest.fail(missing, pytrace=False)
    try:
        server.wait_ready()
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    for name, value in CLIENT_ENV.items():
        monkeypatch.setenv(name, value)
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    experiment = client.create_experiment("before-the-registry")
    run = client.create_run(experiment)
    stores = (root / "mlruns", root / "artifacts")
    before = _tree(*stores)
    calls = {
        "create_registered_model": lambda: client.create_registered_model("m", tags={"a": "b"}),
        "get_registered_model": lambda: client.get_registered_model("m"),
        "search_registered_models": client.search_registered_models,
        "create_model_version": lambda: client.create_model_version(
            "m", f"runs:/{run.info.run_id}/model", run.info.run_id, await_creation_for=0),
        "get_latest_versions": lambda: client.get_latest_versions("m", ["Production"]),
        "search_model_versions": lambda: client.search_model_versions(f"run_id = '{MISSING_RUN}'"),
        "set_registered_model_alias": lambda: client.set_registered_model_alias("m", "a", "1"),
        "delete_registered_model": lambda: client.delete_registered_model("m"),
    }
    for name, call in calls.items():
        with pytest.raises(MlflowException) as raised:
            call()
        message = str(raised.value.message)
        assert raised.value.error_code == "FEATURE_DISABLED", (name, message)
        assert "registry" in message and "database-backed store" in message, (name, message)
        assert "file store" in message, (name, message)
    for method, path, kwargs in (
            ("POST", "/registered-models/create", {"json": {"name": "m"}}),
            ("GET", "/registered-models/search", {"params": {"max_results": 10}}),
            ("GET", "/registered-models/get-latest-versions", {"params": {"name": "m"}}),
            ("GET", "/model-versions/search", {}),
            ("POST", "/model-versions/create", {"json": {"name": "m", "source": "s3://b/m"}})):
        response = requests.request(method, f"{server.url}/api/2.0/mlflow{path}", timeout=60,
                                    **kwargs)
        assert response.status_code == 501, (path, response.status_code, response.text)
        body = response.json()
        assert body["error_code"] == "FEATURE_DISABLED", (path, body)
        assert "database-backed store" in body["message"], (path, body)
    assert _tree(*stores) == before, "a refused registry call wrote to the store"
    assert client.get_run(run.info.run_id).info.experiment_id == experiment
