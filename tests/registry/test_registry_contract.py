"""The model registry's store API: what every database-backed store must do.

One suite, run on trackstore's SQL store (SQLite, PostgreSQL, MariaDB), behind a live server
(``rest-sqlite``) and on MLflow's own ``SqlAlchemyStore`` (``mlflow``): an expectation that
MLflow does not meet is wrong, and one that a trackstore backend does not meet is a bug there.
Returned values are compared whole (every field, see ``_helpers.mv_view``/``rm_view``);
every failing call is checked to leave the whole registry as it was (``_helpers.dump``).

What trackstore promises beyond MLflow's store (its own argument checks, fields MLflow's SQL
store drops) is at the end, on trackstore's backends only (``store_registry``).
"""

from __future__ import annotations

import itertools
import json
import posixpath
from collections.abc import Callable
from typing import Any

import pytest

from trackstore.model_registry import ModelVersionTag as VTag
from trackstore.model_registry import RegisteredModelTag as RTag

from ._helpers import (
    IS_PROMPT,
    PROMPT_FILTER,
    PROMPT_SOURCE,
    Prefix,
    Window,
    all_pages,
    assert_error,
    check_error,
    dump,
    mv_expected,
    mv_view,
    names,
    rm_expected,
    rm_view,
    sort_views,
    tick,
)

NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID = "INVALID_PARAMETER_VALUE"
STAGES_MESSAGE = "Value must be one of None, Staging, Production, Archived."


def rm_missing(name: str) -> str:
    return f"Registered Model with name={name} not found"


def mv_missing(name: str, version: object) -> str:
    return f"Model Version (name={name}, version={version}) not found"


def bad_stage(stage: str) -> str:
    return f"Invalid Model Version stage: {stage}. {STAGES_MESSAGE}"


def not_active(stage: str) -> str:
    return ("Model version transition cannot archive existing model versions because "
            f"'{stage}' is not an Active stage. Valid stages are ['Staging', 'Production']")


def bad_path(path: str, value: str) -> str:
    """MLflow's message for a name that is not the same once normalised as a path."""
    return (f"Invalid value {json.dumps(value)} for parameter '{path}' supplied: Names may be "
            "treated as files in certain cases, and must not resolve to other names when "
            f"treated as such. This name would resolve to {posixpath.normpath(value)!r}")


def unchanged(registry: Any, call: Callable[[], Any], code: str, message: Any) -> None:
    """*call* fails with *code* and *message* and leaves everything as it was."""
    before = dump(registry)
    assert_error(call, code, message)
    assert dump(registry) == before


def version(registry: Any, name: str, number: object) -> dict[str, Any]:
    return mv_view(registry.get_model_version(name, str(number)))


# -- registered models ---------------------------------------------------------------------------


def test_create_registered_model_returns_the_whole_model(registry: Any) -> None:
    with Window() as w:
        rm = registry.create_registered_model(
            "vision", tags=[RTag("team", "cv"), RTag("empty", ""), RTag("team", "cv2")],
            description="a model")
    t = rm.creation_timestamp
    assert w.holds(t)
    # A key given twice keeps its last value.
    expected = rm_expected("vision", t, description="a model",
                           tags={"team": "cv2", "empty": ""})
    assert rm_view(rm) == expected
    assert rm_view(registry.get_registered_model("vision")) == expected
    bare = registry.create_registered_model("bare")
    assert rm_view(bare) == rm_expected("bare", bare.creation_timestamp)
    assert rm_view(registry.get_registered_model("bare")) == rm_view(bare)


def test_model_names_are_exact_strings(registry: Any) -> None:
    exact = ["Model", "model", "MODEL", "mödel ☃ 模型", "with space", "trail", "trail ",
             "it's", "a.b-c_d", "x" * 256]
    for name in exact:
        registry.create_registered_model(name, description=f"<{name}>")
    for name in exact:
        rm = registry.get_registered_model(name)
        assert (rm.name, rm.description) == (name, f"<{name}>")
    # Ordered by code point: upper case before lower case, as Python sorts.
    assert names(registry.search_registered_models(max_results=100)) == sorted(exact)
    assert_error(lambda: registry.get_registered_model("mODEL"), NOT_FOUND, rm_missing("mODEL"))


def test_invalid_model_names_are_refused(registry: Any) -> None:
    registry.create_registered_model("existing")
    missing = "Missing value for required parameter 'name'."
    missing_new = "Missing value for required parameter 'new_name'."
    cases = [  # name, message for create and get, message for a rename to it
        ("", missing, missing_new),
        ("   ", missing, missing_new),
        ("a/b", "Invalid model name 'a/b'. Names cannot contain '/' or ':'.", None),
        ("a:b", "Invalid model name 'a:b'. Names cannot contain '/' or ':'.", None),
        # A rename checks the new name as a name: its messages say 'name'.
        (".", bad_path("name", "."), None),
        ("..", bad_path("name", ".."), None),
        ("..x", bad_path("name", "..x"), None),
    ]
    problems = []
    before = dump(registry)
    for name, message, rename_message in cases:
        for what, call, expected in [
                ("create", lambda n=name: registry.create_registered_model(n), message),
                ("get", lambda n=name: registry.get_registered_model(n), message),
                ("rename to", lambda n=name: registry.rename_registered_model("existing", n),
                 rename_message or message)]:
            problem = check_error(call, INVALID, expected)
            if problem:
                problems.append(f"{what} {name!r}: {problem}")
    problem = check_error(lambda: registry.create_registered_model(None), INVALID, missing)
    if problem:
        problems.append(f"create None: {problem}")
    assert not problems, "\n".join(problems)
    assert dump(registry) == before


def test_duplicate_names_are_refused(registry: Any) -> None:
    registry.create_registered_model("taken", tags=[RTag("k", "v")], description="first")
    registry.create_model_version("taken", "s3://b/1")
    registry.create_registered_model("prompt", tags=[RTag(IS_PROMPT, "true")])
    unchanged(registry, lambda: registry.create_registered_model("taken"),
              EXISTS, "Registered Model (name=taken) already exists.")
    unchanged(registry, lambda: registry.create_registered_model(
        "taken", tags=[RTag("other", "x")], description="second"),
        EXISTS, "Registered Model (name=taken) already exists.")
    unchanged(registry, lambda: registry.create_registered_model("prompt"), EXISTS,
              "Tried to create a registered model with name 'prompt', but the name is already "
              "taken by a prompt. MLflow does not allow creating a model and a prompt with the "
              "same name.")
    unchanged(registry, lambda: registry.create_registered_model(
        "taken", tags=[RTag(IS_PROMPT, "true")]), EXISTS,
        "Tried to create a prompt with name 'taken', but the name is already taken by a "
        "registered model. MLflow does not allow creating a model and a prompt with the same "
        "name.")
    unchanged(registry, lambda: registry.create_registered_model(
        "prompt", tags=[RTag(IS_PROMPT, "true")]), EXISTS, "Prompt (name=prompt) already exists.")


def test_get_registered_model_shows_versions_tags_and_aliases(registry: Any) -> None:
    registry.create_registered_model("m", tags=[RTag("a", "1")], description="d")
    registry.create_model_version("m", "s3://b/1", tags=[VTag("t", "1")])
    registry.create_model_version("m", "s3://b/2")
    registry.create_model_version("m", "s3://b/3")
    registry.transition_model_version_stage("m", "1", "Production", False)
    registry.transition_model_version_stage("m", "2", "Staging", False)
    registry.set_registered_model_alias("m", "champion", "1")
    registry.set_registered_model_alias("m", "challenger", "3")
    rm = registry.get_registered_model("m")
    v1, v2, v3 = (version(registry, "m", n) for n in (1, 2, 3))
    assert (v1["aliases"], v2["aliases"], v3["aliases"]) == (["champion"], [], ["challenger"])
    assert rm_view(rm) == rm_expected(
        "m", rm.creation_timestamp, v2["last_updated_timestamp"], description="d",
        tags={"a": "1"}, aliases={"champion": "1", "challenger": "3"},
        latest_versions=[v1, v2, v3])
    assert_error(lambda: registry.get_registered_model("nope"), NOT_FOUND, rm_missing("nope"))


def test_update_registered_model(registry: Any) -> None:
    created = registry.create_registered_model("m", tags=[RTag("a", "1")], description="old")
    registry.create_model_version("m", "s3://b/1")
    registry.set_registered_model_alias("m", "champion", "1")
    before = rm_view(registry.get_registered_model("m"))
    with Window() as w:
        updated = registry.update_registered_model("m", "new ☃")
    assert w.holds(updated.last_updated_timestamp)
    expected = {**before, "description": "new ☃",
                "last_updated_timestamp": updated.last_updated_timestamp}
    assert rm_view(updated) == expected
    assert rm_view(registry.get_registered_model("m")) == expected
    assert updated.creation_timestamp == created.creation_timestamp
    cleared = registry.update_registered_model("m", None)
    assert cleared.description is None
    assert registry.get_registered_model("m").description is None
    unchanged(registry, lambda: registry.update_registered_model("nope", "x"),
              NOT_FOUND, rm_missing("nope"))


def test_rename_carries_versions_tags_and_aliases(registry: Any) -> None:
    registry.create_registered_model("old", tags=[RTag("a", "1")], description="d")
    registry.create_model_version("old", "s3://b/1", "run-1", [VTag("t", "1")], "link", "v1")
    registry.create_model_version("old", "s3://b/2")
    registry.create_model_version("old", "s3://b/3")
    registry.delete_model_version("old", "3")
    registry.transition_model_version_stage("old", "1", "Production", False)
    registry.set_registered_model_alias("old", "champion", "1")
    registry.create_registered_model("other")
    registry.create_model_version("other", "s3://o/1")
    other = dump(registry)["other"]
    before = {n: version(registry, "old", n) for n in (1, 2)}
    created = registry.get_registered_model("old").creation_timestamp
    with Window() as w:
        renamed = registry.rename_registered_model("old", "new")
    t = renamed.last_updated_timestamp
    assert w.holds(t)
    # The versions follow, with the new name, and are updated at the same time.
    after = {n: {**before[n], "name": "new", "last_updated_timestamp": t} for n in (1, 2)}
    expected = rm_expected("new", created, t, description="d", tags={"a": "1"},
                           aliases={"champion": "1"},
                           latest_versions=[after[1], after[2]])
    assert rm_view(renamed) == expected
    assert rm_view(registry.get_registered_model("new")) == expected
    assert {n: version(registry, "new", n) for n in (1, 2)} == after
    assert mv_view(registry.get_model_version_by_alias("new", "champion")) == after[1]
    assert [mv_view(mv) for mv in registry.get_latest_versions("new", ["Production"])] == [
        after[1]]
    assert sorted(mv.version for mv in registry.search_model_versions("name = 'new'")) == [
        "1", "2"]
    assert list(registry.search_model_versions("name = 'old'")) == []
    assert_error(lambda: registry.get_registered_model("old"), NOT_FOUND, rm_missing("old"))
    assert_error(lambda: registry.get_model_version("old", "1"), NOT_FOUND, mv_missing("old", 1))
    assert dump(registry)["other"] == other
    # Numbering goes on where it was (3 was used); the old name is free again, from 1.
    assert registry.create_model_version("new", "s3://b/4").version == "4"
    registry.create_registered_model("old")
    assert registry.create_model_version("old", "s3://c/1").version == "1"
    assert registry.get_model_version("old", "1").aliases == []


def test_rename_failures(registry: Any) -> None:
    registry.create_registered_model("a", tags=[RTag("k", "v")])
    registry.create_model_version("a", "s3://a/1")
    registry.set_registered_model_alias("a", "x", "1")
    registry.create_registered_model("b")
    unchanged(registry, lambda: registry.rename_registered_model("a", "b"),
              EXISTS, Prefix("Registered Model (name=b) already exists."))
    unchanged(registry, lambda: registry.rename_registered_model("nope", "c"),
              NOT_FOUND, rm_missing("nope"))
    unchanged(registry, lambda: registry.rename_registered_model("a", ""),
              INVALID, "Missing value for required parameter 'new_name'.")
    unchanged(registry, lambda: registry.rename_registered_model("a", "c/d"),
              INVALID, "Invalid model name 'c/d'. Names cannot contain '/' or ':'.")


def test_delete_registered_model_deletes_everything_of_it(registry: Any) -> None:
    registry.create_registered_model("m", tags=[RTag("a", "1")], description="d")
    registry.create_model_version("m", "s3://m/1", tags=[VTag("t", "old")])
    registry.create_model_version("m", "s3://m/2")
    registry.set_registered_model_alias("m", "champion", "2")
    registry.create_registered_model("keep", tags=[RTag("a", "1")])
    registry.create_model_version("keep", "s3://k/1", tags=[VTag("t", "1")])
    registry.set_registered_model_alias("keep", "champion", "1")
    keep = dump(registry)["keep"]
    assert registry.delete_registered_model("m") is None
    assert dump(registry) == {"keep": keep}
    assert_error(lambda: registry.get_registered_model("m"), NOT_FOUND, rm_missing("m"))
    assert_error(lambda: registry.get_model_version("m", "1"), NOT_FOUND, mv_missing("m", 1))
    assert_error(lambda: registry.get_latest_versions("m"), NOT_FOUND, rm_missing("m"))
    assert_error(lambda: registry.get_model_version_by_alias("m", "champion"),
                 NOT_FOUND, rm_missing("m"))
    assert list(registry.search_model_versions("name = 'm'")) == []
    # A model made again under the name is a new one: nothing of the old one comes back.
    new = registry.create_registered_model("m")
    assert rm_view(new) == rm_expected("m", new.creation_timestamp)
    mv = registry.create_model_version("m", "s3://n/1")
    assert mv_view(mv) == mv_expected("m", "1", mv.creation_timestamp, source="s3://n/1")
    assert version(registry, "m", 1) == mv_view(mv)
    unchanged(registry, lambda: registry.delete_registered_model("nope"),
              NOT_FOUND, rm_missing("nope"))


def test_registered_model_tags(registry: Any) -> None:
    created = registry.create_registered_model("m", tags=[RTag("a", "1")])
    tick()
    assert registry.set_registered_model_tag("m", RTag("team/sub key", "x")) is None
    registry.set_registered_model_tag("m", RTag("a", "2"))
    registry.set_registered_model_tag("m", RTag("k" * 250, "v" * 100_000))
    rm = registry.get_registered_model("m")
    assert rm.tags == {"a": "2", "team/sub key": "x", "k" * 250: "v" * 100_000}
    # Tags do not count as an update of the model (MLflow's SQL store).
    assert rm.last_updated_timestamp == created.last_updated_timestamp
    assert registry.delete_registered_model_tag("m", "a") is None
    registry.delete_registered_model_tag("m", "never set")  # not an error
    assert registry.get_registered_model("m").tags == {"team/sub key": "x",
                                                       "k" * 250: "v" * 100_000}
    unchanged(registry, lambda: registry.set_registered_model_tag("nope", RTag("a", "1")),
              NOT_FOUND, rm_missing("nope"))
    unchanged(registry, lambda: registry.delete_registered_model_tag("nope", "a"),
              NOT_FOUND, rm_missing("nope"))
    unchanged(registry, lambda: registry.set_registered_model_tag("m", RTag("", "1")),
              INVALID, bad_path("key", ""))
    unchanged(registry, lambda: registry.set_registered_model_tag("m", RTag("../up", "1")),
              INVALID, bad_path("key", "../up"))
    unchanged(registry, lambda: registry.set_registered_model_tag("m", RTag("k" * 251, "1")),
              INVALID, "'key' exceeds the maximum length of 250 characters")
    unchanged(registry, lambda: registry.set_registered_model_tag(
        "m", RTag("k", "v" * 100_001)), INVALID,
        "'value' exceeds the maximum length of 100000 characters")
    unchanged(registry, lambda: registry.delete_registered_model_tag("m", ""),
              INVALID, bad_path("key", ""))
    unchanged(registry, lambda: registry.create_registered_model("n", tags=[RTag("", "1")]),
              INVALID, bad_path("key", ""))


def test_get_latest_versions(registry: Any) -> None:
    registry.create_registered_model("m")
    stages = ["Production", "Staging", "Production", "None", "Archived", "Staging"]
    for n, stage in enumerate(stages, 1):
        registry.create_model_version("m", f"s3://m/{n}")
        if stage != "None":
            registry.transition_model_version_stage("m", str(n), stage, False)
    registry.delete_model_version("m", "6")
    registry.set_registered_model_alias("m", "champion", "3")
    views = {n: version(registry, "m", n) for n in range(1, 6)}

    def latest(stages: Any = None) -> list[dict[str, Any]]:
        found = registry.get_latest_versions("m", stages)
        return sorted((mv_view(mv) for mv in found), key=lambda v: int(v["version"]))

    # The latest of each stage, with their aliases.
    every = [views[2], views[3], views[4], views[5]]
    assert views[3]["aliases"] == ["champion"]
    assert latest() == every
    assert latest([]) == every
    assert latest(["production"]) == [views[3]]
    assert latest(["Staging", "None"]) == [views[2], views[4]]
    assert latest(["ARCHIVED", "staging"]) == [views[2], views[5]]
    assert rm_view(registry.get_registered_model("m"))["latest_versions"] == every
    registry.create_registered_model("empty")
    assert registry.get_latest_versions("empty") == []
    unchanged(registry, lambda: registry.get_latest_versions("m", ["bogus"]),
              INVALID, bad_stage("bogus"))
    unchanged(registry, lambda: registry.get_latest_versions("nope"), NOT_FOUND,
              rm_missing("nope"))


# -- model versions -------------------------------------------------------------------------


def test_create_model_version_returns_the_whole_version(registry: Any) -> None:
    created = registry.create_registered_model("m")
    with Window() as w:
        mv = registry.create_model_version(
            "m", "s3://bucket/path/model", "run-1",
            [VTag("flavor", "sklearn"), VTag("empty", ""), VTag("flavor", "torch")],
            "http://host/#/run-1", "first ☃")
    t = mv.creation_timestamp
    assert w.holds(t)
    expected = mv_expected("m", "1", t, source="s3://bucket/path/model", run_id="run-1",
                           tags={"flavor": "torch", "empty": ""},
                           run_link="http://host/#/run-1", description="first ☃")
    assert mv_view(mv) == expected
    assert version(registry, "m", 1) == expected
    assert version(registry, "m", "1") == version(registry, "m", 1)
    rm = registry.get_registered_model("m")
    assert (rm.creation_timestamp, rm.last_updated_timestamp) == (created.creation_timestamp, t)
    second = registry.create_model_version("m", "gs://other-bucket/model")
    assert mv_view(second) == mv_expected("m", "2", second.creation_timestamp,
                                          source="gs://other-bucket/model")
    assert registry.get_model_version_download_uri("m", "1") == "s3://bucket/path/model"
    assert registry.get_model_version_download_uri("m", 2) == "gs://other-bucket/model"


def test_create_model_version_failures(registry: Any) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", "s3://m/1")
    unchanged(registry, lambda: registry.create_model_version("nope", "s3://b/x"),
              NOT_FOUND, rm_missing("nope"))
    unchanged(registry, lambda: registry.create_model_version("a/b", "s3://b/x"),
              INVALID, "Invalid model name 'a/b'. Names cannot contain '/' or ':'.")
    unchanged(registry, lambda: registry.create_model_version("m", "s3://b/x",
                                                              tags=[VTag("", "v")]),
              INVALID, bad_path("key", ""))
    unchanged(registry, lambda: registry.create_model_version("m", "s3://b/x",
                                                              tags=[VTag("k" * 251, "v")]),
              INVALID, "'key' exceeds the maximum length of 250 characters")
    unchanged(registry, lambda: registry.create_model_version(
        "m", "s3://b/x", tags=[VTag("k", "v" * 100_001)]), INVALID,
        "'value' exceeds the maximum length of 100000 characters")
    # None of them used up a number.
    assert registry.create_model_version("m", "s3://m/2").version == "2"


def test_version_numbers_are_never_handed_out_twice(registry: Any) -> None:
    registry.create_registered_model("m")
    assert [registry.create_model_version("m", f"s3://m/{n}").version for n in range(3)] == [
        "1", "2", "3"]
    registry.delete_model_version("m", "3")
    assert registry.create_model_version("m", "s3://m/4").version == "4"
    registry.delete_model_version("m", "4")
    registry.delete_model_version("m", 1)
    assert registry.create_model_version("m", "s3://m/5").version == "5"
    for n in (2, 5):
        registry.delete_model_version("m", n)
    assert dump(registry)["m"]["versions"] == []
    assert registry.get_latest_versions("m") == []
    assert registry.create_model_version("m", "s3://m/6").version == "6"
    assert [v["version"] for v in dump(registry)["m"]["versions"]] == ["6"]


def test_model_version_numbers_are_checked(registry: Any) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", "s3://m/1")
    r = registry
    calls: list[tuple[str, Callable[[str, Any], Any]]] = [
        ("get", r.get_model_version),
        ("update", lambda n, v: r.update_model_version(n, v, "d")),
        ("transition", lambda n, v: r.transition_model_version_stage(n, v, "Staging", True)),
        ("delete", r.delete_model_version),
        ("download uri", r.get_model_version_download_uri),
        ("set tag", lambda n, v: r.set_model_version_tag(n, v, VTag("k", "v"))),
        ("delete tag", lambda n, v: r.delete_model_version_tag(n, v, "k")),
        ("set alias", lambda n, v: r.set_registered_model_alias(n, "a", v)),
    ]
    cases = [("m", "x", INVALID, "Parameter 'version' must be an integer, got 'x'."),
             ("m", "1.0", INVALID, "Parameter 'version' must be an integer, got '1.0'."),
             ("m", "", INVALID, "Parameter 'version' must be an integer, got ''."),
             ("m", "2", NOT_FOUND, mv_missing("m", 2)), ("m", 2, NOT_FOUND, mv_missing("m", 2)),
             ("m", "0", NOT_FOUND, mv_missing("m", 0)),
             ("m", -1, NOT_FOUND, mv_missing("m", -1)),
             ("m", "007", NOT_FOUND, mv_missing("m", 7)),
             # A version of a missing model is a missing version.
             ("nope", "1", NOT_FOUND, mv_missing("nope", 1))]
    problems = []
    before = dump(registry)
    for (what, call), (name, value, code, message) in itertools.product(calls, cases):
        problem = check_error(lambda c=call, n=name, v=value: c(n, v),  # type: ignore[misc]
                              code, message)
        if problem:
            problems.append(f"{what} {name!r} version {value!r}: {problem}")
    assert not problems, "\n".join(problems)
    assert dump(registry) == before


def test_update_model_version(registry: Any) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", "s3://m/1", "run-1", [VTag("t", "1")], "link", "old")
    registry.set_registered_model_alias("m", "champion", "1")
    rm_before = rm_view(registry.get_registered_model("m"))
    before = version(registry, "m", 1)
    with Window() as w:
        updated = registry.update_model_version("m", "1", "new ☃")
    t = updated.last_updated_timestamp
    assert w.holds(t)
    expected = {**before, "description": "new ☃", "last_updated_timestamp": t}
    assert mv_view(updated) == expected
    assert version(registry, "m", 1) == expected
    # The model itself is not updated (MLflow's SQL store), but shows the new version.
    rm_after = rm_view(registry.get_registered_model("m"))
    assert rm_after == {**rm_before, "latest_versions": [expected]}
    assert registry.update_model_version("m", 1, None).description is None
    unchanged(registry, lambda: registry.update_model_version("m", "2", "x"),
              NOT_FOUND, mv_missing("m", 2))
    unchanged(registry, lambda: registry.update_model_version("nope", "1", "x"),
              NOT_FOUND, mv_missing("nope", 1))


def test_transition_model_version_stage(registry: Any) -> None:
    registry.create_registered_model("m")
    for n in range(1, 6):
        registry.create_model_version("m", f"s3://m/{n}")
    registry.set_registered_model_alias("m", "champion", "4")
    with Window() as w:
        staged = registry.transition_model_version_stage("m", "1", "staging", False)
    t1 = staged.last_updated_timestamp
    assert w.holds(t1)
    v1 = {**version(registry, "m", 1)}
    assert mv_view(staged) == v1 == mv_expected("m", "1", staged.creation_timestamp, t1,
                                                source="s3://m/1", current_stage="Staging")
    assert registry.get_registered_model("m").last_updated_timestamp == t1
    # Without archive_existing_versions, two versions may be in Production.
    registry.transition_model_version_stage("m", "2", "Production", False)
    registry.transition_model_version_stage("m", 3, "PRODUCTION", False)
    assert [v["current_stage"] for v in dump(registry)["m"]["versions"]] == [
        "Staging", "Production", "Production", "None", "None"]
    untouched = {n: version(registry, "m", n) for n in (1, 5)}
    with Window() as w:
        promoted = registry.transition_model_version_stage("m", "4", "Production", True)
    t4 = promoted.last_updated_timestamp
    assert w.holds(t4)
    assert mv_view(promoted) == {**mv_expected("m", "4", promoted.creation_timestamp, t4,
                                               source="s3://m/4", current_stage="Production"),
                                 "aliases": ["champion"]}
    # The others in Production are archived at the same time; the rest are left alone.
    for n in (2, 3):
        assert version(registry, "m", n) == mv_expected(
            "m", str(n), version(registry, "m", n)["creation_timestamp"], t4,
            source=f"s3://m/{n}", current_stage="Archived")
    assert {n: version(registry, "m", n) for n in (1, 5)} == untouched
    assert registry.get_registered_model("m").last_updated_timestamp == t4
    # The version itself is not archived when it is already in the stage.
    again = registry.transition_model_version_stage("m", "4", "Production", True)
    assert again.current_stage == "Production"
    assert registry.transition_model_version_stage("m", "4", "None", False).current_stage == "None"
    assert registry.transition_model_version_stage("m", "4", "archived",
                                                   False).current_stage == "Archived"


def test_transition_failures_change_nothing(registry: Any) -> None:
    registry.create_registered_model("m")
    for n in range(1, 4):
        registry.create_model_version("m", f"s3://m/{n}")
    registry.transition_model_version_stage("m", "1", "Production", False)
    registry.transition_model_version_stage("m", "2", "Staging", False)
    cases = [
        (lambda: registry.transition_model_version_stage("m", "3", "bogus", False),
         INVALID, bad_stage("bogus")),
        (lambda: registry.transition_model_version_stage("m", "3", "", False),
         INVALID, bad_stage("")),
        (lambda: registry.transition_model_version_stage("m", "3", "Archived", True),
         INVALID, not_active("Archived")),
        (lambda: registry.transition_model_version_stage("m", "3", "none", True),
         INVALID, not_active("none")),
        # A missing version archives nothing, even with archive_existing_versions.
        (lambda: registry.transition_model_version_stage("m", "9", "Production", True),
         NOT_FOUND, mv_missing("m", 9)),
        (lambda: registry.transition_model_version_stage("m", "9", "Staging", True),
         NOT_FOUND, mv_missing("m", 9)),
        (lambda: registry.transition_model_version_stage("nope", "1", "Production", True),
         NOT_FOUND, mv_missing("nope", 1)),
    ]
    for call, code, message in cases:
        unchanged(registry, call, code, message)


def test_delete_model_version(registry: Any) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", "s3://m/1", tags=[VTag("t", "1")])
    registry.create_model_version("m", "s3://m/2", tags=[VTag("t", "2")])
    registry.transition_model_version_stage("m", "2", "Production", False)
    registry.set_registered_model_alias("m", "champion", "2")
    registry.set_registered_model_alias("m", "also", "2")
    registry.set_registered_model_alias("m", "old", "1")
    v1 = version(registry, "m", 1)
    rm = rm_view(registry.get_registered_model("m"))
    with Window() as w:
        assert registry.delete_model_version("m", "2") is None
    after = rm_view(registry.get_registered_model("m"))
    assert w.holds(after["last_updated_timestamp"])
    # Its aliases go with it; the other version's stay.
    assert after == {**rm, "last_updated_timestamp": after["last_updated_timestamp"],
                     "aliases": {"old": "1"}, "latest_versions": [v1]}
    assert dump(registry)["m"]["versions"] == [v1]
    assert_error(lambda: registry.get_model_version("m", "2"), NOT_FOUND, mv_missing("m", 2))
    assert registry.get_latest_versions("m", ["Production"]) == []
    assert [mv.version for mv in registry.search_model_versions("name = 'm'")] == ["1"]
    assert_error(lambda: registry.get_model_version_by_alias("m", "champion"),
                 INVALID, "Registered model alias champion not found.")
    assert mv_view(registry.get_model_version_by_alias("m", "latest")) == v1
    for call in [lambda: registry.delete_model_version("m", "2"),
                 lambda: registry.get_model_version_download_uri("m", "2"),
                 lambda: registry.set_model_version_tag("m", "2", VTag("t", "x")),
                 lambda: registry.delete_model_version_tag("m", "2", "t"),
                 lambda: registry.update_model_version("m", "2", "x"),
                 lambda: registry.transition_model_version_stage("m", "2", "Staging", False),
                 lambda: registry.set_registered_model_alias("m", "back", "2")]:
        unchanged(registry, call, NOT_FOUND, mv_missing("m", 2))
    # A deleted version's tags do not come back with a later version.
    mv = registry.create_model_version("m", "s3://m/3")
    assert (mv.version, mv.tags, mv.aliases) == ("3", {}, [])


def test_model_version_tags(registry: Any) -> None:
    registry.create_registered_model("m")
    mv = registry.create_model_version("m", "s3://m/1", tags=[VTag("a", "1")])
    rm = rm_view(registry.get_registered_model("m"))
    tick()
    assert registry.set_model_version_tag("m", "1", VTag("team/sub key", "x")) is None
    registry.set_model_version_tag("m", 1, VTag("a", "2"))
    registry.set_model_version_tag("m", "1", VTag("k" * 250, "v" * 100_000))
    tags = {"a": "2", "team/sub key": "x", "k" * 250: "v" * 100_000}
    # Tags are not updates of the version, nor of the model (MLflow's SQL store).
    expected = mv_expected("m", "1", mv.creation_timestamp, source="s3://m/1", tags=tags)
    assert version(registry, "m", 1) == expected
    assert rm_view(registry.get_registered_model("m")) == {**rm,
                                                           "latest_versions": [expected]}
    assert registry.delete_model_version_tag("m", "1", "a") is None
    registry.delete_model_version_tag("m", "1", "never set")
    del tags["a"]
    assert registry.get_model_version("m", "1").tags == tags
    for call, code, message in [
        (lambda: registry.set_model_version_tag("m", "2", VTag("a", "1")),
         NOT_FOUND, mv_missing("m", 2)),
        (lambda: registry.set_model_version_tag("nope", "1", VTag("a", "1")),
         NOT_FOUND, mv_missing("nope", 1)),
        (lambda: registry.delete_model_version_tag("m", "2", "a"),
         NOT_FOUND, mv_missing("m", 2)),
        (lambda: registry.set_model_version_tag("m", "1", VTag("", "1")),
         INVALID, bad_path("key", "")),
        (lambda: registry.set_model_version_tag("m", "1", VTag("k" * 251, "1")),
         INVALID, "'key' exceeds the maximum length of 250 characters"),
        (lambda: registry.set_model_version_tag("m", "1", VTag("k", "v" * 100_001)),
         INVALID, "'value' exceeds the maximum length of 100000 characters"),
        (lambda: registry.delete_model_version_tag("m", "1", ""),
         INVALID, bad_path("key", "")),
    ]:
        unchanged(registry, call, code, message)


# -- aliases -----------------------------------------------------------------------------------


def test_aliases(registry: Any) -> None:
    registry.create_registered_model("m")
    for n in range(1, 4):
        registry.create_model_version("m", f"s3://m/{n}")
    rm = rm_view(registry.get_registered_model("m"))
    tick()
    assert registry.set_registered_model_alias("m", "champion", "1") is None
    registry.set_registered_model_alias("m", "Champion", 2)  # aliases are case-sensitive
    registry.set_registered_model_alias("m", "v1x", "2")
    registry.set_registered_model_alias("m", "a" * 255, "3")
    registry.set_registered_model_alias("m", "with-dash_and_0", "3")
    aliases = {"champion": "1", "Champion": "2", "v1x": "2", "a" * 255: "3",
               "with-dash_and_0": "3"}
    views = {n: version(registry, "m", n) for n in (1, 2, 3)}
    assert [views[n]["aliases"] for n in (1, 2, 3)] == [
        ["champion"], sorted(["Champion", "v1x"]), sorted(["a" * 255, "with-dash_and_0"])]
    # Aliases are not updates of the model or its versions (MLflow's SQL store).
    assert rm_view(registry.get_registered_model("m")) == {**rm, "aliases": aliases,
                                                           "latest_versions": [views[3]]}
    for alias, n in aliases.items():
        assert mv_view(registry.get_model_version_by_alias("m", alias)) == views[int(n)]
    # Setting an alias again moves it.
    registry.set_registered_model_alias("m", "champion", "3")
    assert registry.get_registered_model("m").aliases["champion"] == "3"
    assert version(registry, "m", 1)["aliases"] == []
    assert sorted(version(registry, "m", 3)["aliases"]) == sorted(
        ["champion", "a" * 255, "with-dash_and_0"])
    assert registry.get_model_version_by_alias("m", "champion").version == "3"
    assert registry.delete_registered_model_alias("m", "champion") is None
    registry.delete_registered_model_alias("m", "never_set")  # not an error
    registry.delete_registered_model_alias("m", "latest")  # nor is this one
    assert "champion" not in registry.get_registered_model("m").aliases
    assert_error(lambda: registry.get_model_version_by_alias("m", "champion"),
                 INVALID, "Registered model alias champion not found.")


def test_latest_alias_is_the_highest_version(registry: Any) -> None:
    registry.create_registered_model("m")
    assert_error(lambda: registry.get_model_version_by_alias("m", "latest"),
                 NOT_FOUND, "Latest version not found for model m.")
    for n in range(1, 5):
        registry.create_model_version("m", f"s3://m/{n}")
    registry.transition_model_version_stage("m", "2", "Production", False)
    registry.set_registered_model_alias("m", "champion", "3")
    registry.delete_model_version("m", "4")
    # Whatever the stages, the highest version that is not deleted; with its aliases.
    v3 = version(registry, "m", 3)
    assert v3["aliases"] == ["champion"]
    for spelling in ("latest", "LATEST", "Latest"):
        assert mv_view(registry.get_model_version_by_alias("m", spelling)) == v3
    registry.transition_model_version_stage("m", "3", "Archived", False)
    assert registry.get_model_version_by_alias("m", "latest").version == "3"


def test_alias_failures_change_nothing(registry: Any) -> None:
    registry.create_registered_model("m")
    registry.create_model_version("m", "s3://m/1")
    registry.set_registered_model_alias("m", "champion", "1")
    bad_chars = "Names may only contain alphanumerics, underscores (_), and dashes (-)."
    cases = [
        (lambda: registry.set_registered_model_alias("m", "latest", "1"),
         INVALID, "'latest' alias name (case insensitive) is reserved."),
        (lambda: registry.set_registered_model_alias("m", "LaTeSt", "1"),
         INVALID, "'latest' alias name (case insensitive) is reserved."),
        (lambda: registry.set_registered_model_alias("m", "v1", "1"),
         INVALID, "Version alias name 'v1' is reserved."),
        (lambda: registry.set_registered_model_alias("m", "V12", "1"),
         INVALID, "Version alias name 'V12' is reserved."),
        (lambda: registry.set_registered_model_alias("m", "a b", "1"),
         INVALID, f"Invalid alias name: 'a b'. {bad_chars}"),
        (lambda: registry.set_registered_model_alias("m", "a.b", "1"),
         INVALID, f"Invalid alias name: 'a.b'. {bad_chars}"),
        (lambda: registry.set_registered_model_alias("m", "", "1"),
         INVALID, "Registered model alias name cannot be empty."),
        (lambda: registry.set_registered_model_alias("m", "a" * 256, "1"),
         INVALID, "'Registered model alias name' exceeds the maximum length of 255 characters"),
        (lambda: registry.set_registered_model_alias("m", "champion", "2"),
         NOT_FOUND, mv_missing("m", 2)),
        (lambda: registry.set_registered_model_alias("nope", "champion", "1"),
         NOT_FOUND, mv_missing("nope", 1)),
        (lambda: registry.delete_registered_model_alias("nope", "champion"),
         NOT_FOUND, rm_missing("nope")),
        (lambda: registry.delete_registered_model_alias("m", "a b"),
         INVALID, f"Invalid alias name: 'a b'. {bad_chars}"),
        (lambda: registry.delete_registered_model_alias("m", ""),
         INVALID, "Registered model alias name cannot be empty."),
        (lambda: registry.get_model_version_by_alias("m", "missing"),
         INVALID, "Registered model alias missing not found."),
        (lambda: registry.get_model_version_by_alias("nope", "champion"),
         NOT_FOUND, rm_missing("nope")),
        (lambda: registry.get_model_version_by_alias("nope", "latest"),
         NOT_FOUND, rm_missing("nope")),
        (lambda: registry.get_model_version_by_alias("m", "a b"),
         INVALID, f"Invalid alias name: 'a b'. {bad_chars}"),
    ]
    for call, code, message in cases:
        unchanged(registry, call, code, message)


# -- searching registered models ------------------------------------------------------------


@pytest.fixture
def models(registry: Any) -> Any:
    """Registered models to search: names that differ by case, ``_`` and ``%``; tags."""
    for name, tags in [("alpha", {"team": "vision", "env": "prod"}),
                       ("Alpha2", {"team": "Vision"}),
                       ("beta", {"team": "nlp", "env": "dev"}),
                       ("b_ta", {}),
                       ("gamma%x", {"env": "prod"}),
                       ("notprompt", {IS_PROMPT: "false"}),
                       ("prompt1", {IS_PROMPT: "true", "team": "vision"})]:
        registry.create_registered_model(name, tags=[RTag(k, v) for k, v in tags.items()])
    registry.create_model_version("beta", "s3://b/1")  # a later update than the others
    return registry


NON_PROMPTS = ["Alpha2", "alpha", "b_ta", "beta", "gamma%x", "notprompt"]

MODEL_FILTERS = [
    (None, NON_PROMPTS),
    ("", NON_PROMPTS),
    ("name = 'alpha'", ["alpha"]),
    ("name = 'ALPHA'", []),
    ("attribute.name = 'alpha'", ["alpha"]),
    ("name != 'alpha'", ["Alpha2", "b_ta", "beta", "gamma%x", "notprompt"]),
    ("name LIKE 'alpha%'", ["alpha"]),
    ("name ILIKE 'ALPHA%'", ["Alpha2", "alpha"]),
    ("name LIKE 'b_ta'", ["b_ta", "beta"]),
    ("name LIKE '%\\%%'", []),  # no escapes: the pattern needs a backslash
    ("name LIKE '%a%x'", ["gamma%x"]),
    ("name IN ('alpha', 'beta', 'missing')", ["alpha", "beta"]),
    ("name NOT IN ('alpha', 'beta')", ["Alpha2", "b_ta", "gamma%x", "notprompt"]),
    ("name = 'prompt1'", []),
    ("tags.team = 'vision'", ["alpha"]),
    ("tag.team = 'nlp'", ["beta"]),
    ('tags."team" = "vision"', ["alpha"]),
    ("tags.`team` != 'vision'", ["Alpha2", "beta"]),
    ("tags.team LIKE 'vis%'", ["alpha"]),
    ("tags.team ILIKE 'VIS%'", ["Alpha2", "alpha"]),
    ("tags.team LIKE '%i%' AND tags.team != 'Vision'", ["alpha"]),
    ("tags.team = 'vision' AND tags.env = 'prod'", ["alpha"]),
    ("tags.env = 'prod' and name LIKE 'g%'", ["gamma%x"]),
    ("tags.missing = 'x'", []),
    (PROMPT_FILTER, ["prompt1"]),
    (f"tags.`{IS_PROMPT}` != 'false'", ["prompt1"]),
    (f"tags.`{IS_PROMPT}` = 'false'", NON_PROMPTS),
    (f"tags.`{IS_PROMPT}` != 'true'", NON_PROMPTS),
    (f"{PROMPT_FILTER} AND tags.team = 'vision'", ["prompt1"]),
    (f"{PROMPT_FILTER} AND name = 'alpha'", []),
]


def test_search_registered_models_filters(models: Any) -> None:
    problems = []
    for filter_string, expected in MODEL_FILTERS:
        try:
            found = names(models.search_registered_models(filter_string, max_results=1000))
        except Exception as exc:
            problems.append(f"{filter_string!r}: raised {exc!r}")
            continue
        if found != expected:
            problems.append(f"{filter_string!r}: {found} != {expected}")
    assert not problems, "\n".join(problems)


def test_searched_models_are_whole(models: Any) -> None:
    found = all_pages(models.search_registered_models, 2, filter_string="name LIKE '%a%'")
    assert [rm_view(rm) for rm in found] == [
        rm_view(models.get_registered_model(name)) for name in names(found)]
    assert names(found) == ["Alpha2", "alpha", "b_ta", "beta", "gamma%x"]
    assert rm_view(found[3])["latest_versions"][0]["source"] == "s3://b/1"


#: order_by, the keys it means (field, ascending), whether to page with every page size.
MODEL_ORDERS: list[tuple[list[str] | None, list[tuple[str, bool]], bool]] = [
    (None, [("name", True)], True),
    (["name"], [("name", True)], False),
    (["name DESC"], [("name", False)], False),
    (["timestamp DESC"], [("last_updated_timestamp", False), ("name", True)], True),
    (["last_updated_timestamp"], [("last_updated_timestamp", True), ("name", True)], False),
    (["last_updated_timestamp ASC", "name DESC"],
     [("last_updated_timestamp", True), ("name", False)], False),
    (["timestamp desc"], [("last_updated_timestamp", False), ("name", True)], False),
]


def test_search_registered_models_orders_and_pages(models: Any) -> None:
    models.rename_registered_model("b_ta", "b_ta2")
    views = [rm_view(models.get_registered_model(n))
             for n in ["Alpha2", "alpha", "b_ta2", "beta", "gamma%x", "notprompt"]]
    problems = []
    for order_by, keys, every_size in MODEL_ORDERS:
        expected = [v["name"] for v in sort_views(views, keys)]
        problems += _paging_problems(models.search_registered_models, order_by, expected,
                                     lambda rm: rm.name, every_size=every_size)
    assert not problems, "\n".join(problems)


def _paging_problems(search: Callable[..., Any], order_by: list[str] | None,
                     expected: list[Any], key: Callable[[Any], Any],
                     filter_string: str | None = None, every_size: bool = True) -> list[str]:
    """Page through *search* with every page size up to one more than the results, and with
    every pair of small sizes (a size for the first page, another for the rest); or, unless
    *every_size*, with pages of 2 and with one page of all."""
    problems = []
    total = len(expected)
    sizes = [(k, k) for k in range(1, total + 2)] + [
        (a, b) for a, b in itertools.product(range(1, 4), repeat=2) if a != b]
    if not every_size:
        sizes = [(2, 2), (1000, 1000)]
    for first, rest in sizes:
        pages: list[list[Any]] = []
        tokens: list[str | None] = []
        token = None
        size = first
        while True:
            page = search(filter_string, max_results=size, order_by=order_by, page_token=token)
            pages.append([key(item) for item in page])
            token = page.token
            tokens.append(token)
            size = rest
            if not token or len(pages) > total + 2:
                break
        flat = [item for page in pages for item in page]
        where = f"order_by={order_by} sizes={first},{rest}"
        if flat != expected:
            problems.append(f"{where}: {flat} != {expected}")
            continue
        # Full pages, then the rest; a token after each page but the last, and no empty page.
        want = [expected[:first]] + [expected[i:i + rest] for i in range(first, total, rest)]
        if total == 0:
            want = [[]]
        if pages != want:
            problems.append(f"{where}: pages {pages} != {want}")
        if any(not t for t in tokens[:-1]) or tokens[-1]:
            problems.append(f"{where}: tokens {tokens}")
    return problems


def test_search_registered_models_pages_with_a_filter(models: Any) -> None:
    expected = ["Alpha2", "alpha", "b_ta", "beta", "gamma%x"]
    assert not _paging_problems(models.search_registered_models, None, expected,
                                lambda rm: rm.name, "name LIKE '%a%'")
    assert not _paging_problems(models.search_registered_models, None, [], lambda rm: rm.name,
                                "name = 'missing'")


MODEL_SEARCH_ERRORS: list[tuple[dict[str, Any], Any]] = [
    ({"filter_string": "name = 'a' OR name = 'b'"},
     "Invalid clause(s) in filter string: OR"),
    ({"filter_string": "foo = 'a'"},
     "Invalid attribute key 'foo' specified. Valid keys are '{'name'}'"),
    ({"filter_string": "creation_timestamp > 1"},
     "Invalid attribute key 'creation_timestamp' specified. Valid keys are '{'name'}'"),
    ({"filter_string": "params.k = 'x'"},
     "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')"),
    ({"filter_string": "name > 'a'"}, "Invalid comparator for attribute: >"),
    ({"filter_string": "tags.k > 'a'"}, "Invalid comparator for tag: >"),
    ({"filter_string": "tags.k IN ('a')"},
     "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('a')"),
    ({"filter_string": "tags.k = 1"},
     "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"),
    ({"filter_string": "name = 1"},
     "Expected a quoted string value or a list of quoted string values for attributes. "
     "Got value 1"),
    ({"filter_string": "name = 'a'; name = 'b'"},
     "Search filter contained multiple expression \"name = 'a'; name = 'b'\". "
     "Provide AND-ed expression list."),
    ({"max_results": 1001},
     "Invalid value for request parameter max_results. It must be at most 1000, but got "
     "value 1001"),
    ({"order_by": ["creation_timestamp"]},
     Prefix("Invalid order by key 'creation_timestamp' specified. Valid keys are '{")),
    ({"order_by": ["bogus DESC"]}, Prefix("Invalid order by key 'bogus' specified. ")),
    ({"order_by": ["name sideways"]}, "Invalid ordering key in order_by clause 'name sideways'."),
    ({"order_by": ["name", "name DESC"]},
     "`order_by` contains duplicate fields: ['name', 'name DESC']"),
    ({"order_by": ["timestamp", "last_updated_timestamp"]},
     "`order_by` contains duplicate fields: ['timestamp', 'last_updated_timestamp']"),
    ({"page_token": "not a token!"}, Prefix("Invalid page token")),
]


def test_search_registered_models_errors(models: Any) -> None:
    before = dump(models)
    problems = []
    for kwargs, message in MODEL_SEARCH_ERRORS:
        problem = check_error(lambda k=kwargs: models.search_registered_models(**k),
                              INVALID, message)
        if problem:
            problems.append(f"{kwargs}: {problem}")
    assert not problems, "\n".join(problems)
    assert dump(models) == before


# -- searching model versions -------------------------------------------------------------------


@pytest.fixture
def versions(registry: Any) -> Any:
    """Versions to search: several models, runs, sources and tags; a deleted version; a
    prompt; and a model renamed, whose versions share one last update time (ties)."""
    registry.create_registered_model("alpha")
    for source, run_id, tags in [("s3://bucket/alpha/1", "run-a", {"flavor": "sklearn",
                                                                      "owner": "ann"}),
                                 ("s3://bucket/alpha/2", "run-b", {"flavor": "PyTorch"}),
                                 ("gs://other/alpha/3", "run-a", {}),
                                 ("s3://bucket/alpha/4", "run-c", {"flavor": "sklearn"})]:
        registry.create_model_version("alpha", source, run_id,
                                      [VTag(k, v) for k, v in tags.items()])
    registry.delete_model_version("alpha", "4")
    registry.create_registered_model("beta")
    registry.create_model_version("beta", "s3://bucket/beta/1", None, [VTag("flavor",
                                                                             "sklearn")])
    registry.create_model_version("beta", "s3://bucket/beta/2", "run-b",
                                  [VTag("flavor", "pytorch"), VTag("owner", "bob")])
    registry.create_registered_model("Beta")
    registry.create_model_version("Beta", "s3://bucket/Beta/1", "run-c", [VTag("owner", "Bob")])
    registry.create_registered_model("p", tags=[RTag(IS_PROMPT, "true")])
    registry.create_model_version("p", PROMPT_SOURCE, "run-a",
                                  [VTag(IS_PROMPT, "true"), VTag("flavor", "sklearn")])
    registry.create_registered_model("gamma0")
    for n in range(1, 4):
        registry.create_model_version("gamma0", f"s3://bucket/gamma/{n}", "run-g")
    registry.transition_model_version_stage("alpha", "2", "Staging", False)
    registry.set_registered_model_alias("alpha", "champion", "2")
    tick()
    registry.rename_registered_model("gamma0", "gamma")
    return registry


ALPHA = [("alpha", "1"), ("alpha", "2"), ("alpha", "3")]
BETA = [("beta", "1"), ("beta", "2")]
GAMMA = [("gamma", "1"), ("gamma", "2"), ("gamma", "3")]
ALL_VERSIONS = sorted([*ALPHA, *BETA, ("Beta", "1"), *GAMMA])

#: beta/1 has no run. trackstore compares it as run_id '' (docs/registry.md: what MLflow's
#: server stores for it, so "!=" and NOT IN find it there too); MLflow's SQL store used
#: directly keeps NULL, which no comparison matches.
NO_RUN = ("beta", "1")
VERSION_FILTERS: list[tuple[str | None, list[tuple[str, str]]]] = [
    (None, ALL_VERSIONS),
    ("name = 'alpha'", ALPHA),
    ("name != 'alpha'", [*BETA, ("Beta", "1"), *GAMMA]),
    ("name IN ('alpha', 'Beta', 'missing')", [*ALPHA, ("Beta", "1")]),
    ("name NOT IN ('alpha', 'gamma')", [*BETA, ("Beta", "1")]),
    ("name LIKE 'b%'", BETA),
    ("name ILIKE 'B%'", [*BETA, ("Beta", "1")]),
    ("name LIKE '_eta'", [*BETA, ("Beta", "1")]),
    ("name = 'gamma0'", []),
    ("name = 'p'", []),
    ("run_id = 'run-a'", [("alpha", "1"), ("alpha", "3")]),
    ("run_id != 'run-a'", [("alpha", "2"), ("beta", "2"), ("Beta", "1"), *GAMMA, NO_RUN]),
    ("run_id IN ('run-b', 'run-c')", [("alpha", "2"), ("beta", "2"), ("Beta", "1")]),
    ("run_id NOT IN ('run-a', 'run-g')", [("alpha", "2"), ("beta", "2"), ("Beta", "1"),
                                           NO_RUN]),
    ("run_id LIKE 'run-%'", [*ALPHA, ("beta", "2"), ("Beta", "1"), *GAMMA]),
    ("source_path = 's3://bucket/alpha/1'", [("alpha", "1")]),
    ("source_path LIKE 's3://bucket/%a/%'", [("alpha", "1"), ("alpha", "2"), *BETA,
                                              ("Beta", "1"), *GAMMA]),
    ("source_path ILIKE 'S3://BUCKET/B%'", [*BETA, ("Beta", "1")]),
    ("source_path != 'gs://other/alpha/3'", [("alpha", "1"), ("alpha", "2"), *BETA,
                                             ("Beta", "1"), *GAMMA]),
    ("version_number = 2", [("alpha", "2"), ("beta", "2"), ("gamma", "2")]),
    ("version_number = '3'", [("alpha", "3"), ("gamma", "3")]),
    ("version_number != 1", [("alpha", "2"), ("alpha", "3"), ("beta", "2"), ("gamma", "2"),
                             ("gamma", "3")]),
    ("version_number > 2", [("alpha", "3"), ("gamma", "3")]),
    ("version_number >= 2 AND version_number < 3", [("alpha", "2"), ("beta", "2"),
                                                    ("gamma", "2")]),
    ("version_number <= 1", [("alpha", "1"), ("beta", "1"), ("Beta", "1"), ("gamma", "1")]),
    ("version_number = 4", []),
    ("tags.flavor = 'sklearn'", [("alpha", "1"), ("beta", "1")]),
    ("tag.flavor != 'sklearn'", [("alpha", "2"), ("beta", "2")]),
    ("tags.flavor LIKE 'py%'", [("beta", "2")]),
    ("tags.flavor ILIKE 'py%'", [("alpha", "2"), ("beta", "2")]),
    ('tags."owner" = "ann"', [("alpha", "1")]),
    ("tags.owner = 'bob' AND tags.flavor = 'pytorch'", [("beta", "2")]),
    ("tags.owner ILIKE 'b%' AND name = 'Beta'", [("Beta", "1")]),
    ("name = 'alpha' AND run_id = 'run-a' AND version_number > 1", [("alpha", "3")]),
    ("attribute.name = 'beta'", BETA),
    (PROMPT_FILTER, [("p", "1")]),
    (f"name = 'p' AND {PROMPT_FILTER}", [("p", "1")]),
    (f"tags.`{IS_PROMPT}` = 'false'", ALL_VERSIONS),
    (f"tags.`{IS_PROMPT}` != 'true'", ALL_VERSIONS),
]


def test_search_model_versions_filters(versions: Any) -> None:
    problems = []
    reference = type(versions).__name__ == "MlflowReference"
    for filter_string, listed in VERSION_FILTERS:
        expected = listed
        if reference and filter_string and (
                "run_id !=" in filter_string or "run_id NOT IN" in filter_string):
            expected = [v for v in listed if v != NO_RUN]
        try:
            found = sorted((mv.name, mv.version) for mv in versions.search_model_versions(
                filter_string, max_results=1000))
        except Exception as exc:
            problems.append(f"{filter_string!r}: raised {exc!r}")
            continue
        if found != sorted(expected):
            problems.append(f"{filter_string!r}: {found} != {sorted(expected)}")
    assert not problems, "\n".join(problems)


def _version_views(registry: Any) -> list[dict[str, Any]]:
    return [version(registry, name, number) for name, number in ALL_VERSIONS]


def test_searched_versions_are_whole(versions: Any) -> None:
    views = {(v["name"], v["version"]): v for v in _version_views(versions)}
    found = all_pages(versions.search_model_versions, 3)
    assert [mv_view(mv) for mv in found] == [views[(mv.name, mv.version)] for mv in found]
    assert views[("alpha", "2")]["aliases"] == ["champion"]
    # Renaming updated each version, all at one time.
    assert len({views[g]["last_updated_timestamp"] for g in GAMMA}) == 1


#: As MODEL_ORDERS. The renamed model's versions tie on last_updated_timestamp; versions of
#: different models tie on version_number.
VERSION_ORDERS: list[tuple[list[str] | None, list[tuple[str, bool]], bool]] = [
    (None, [("last_updated_timestamp", False), ("name", True), ("version", False)], True),
    (["name"], [("name", True), ("version", False)], False),
    (["name DESC", "version_number ASC"], [("name", False), ("version", True)], False),
    (["version_number DESC"], [("version", False), ("name", True)], True),
    (["creation_timestamp ASC"], [("creation_timestamp", True), ("name", True),
                                  ("version", False)], False),
    (["last_updated_timestamp"], [("last_updated_timestamp", True), ("name", True),
                                  ("version", False)], False),
    (["last_updated_timestamp DESC", "name DESC"],
     [("last_updated_timestamp", False), ("name", False), ("version", False)], True),
    (["version_number", "name desc"], [("version", True), ("name", False)], False),
]


def test_search_model_versions_orders_and_pages(versions: Any) -> None:
    views = _version_views(versions)
    problems = []
    for order_by, keys, every_size in VERSION_ORDERS:
        expected = [(v["name"], v["version"]) for v in sort_views(views, keys)]
        problems += _paging_problems(versions.search_model_versions, order_by, expected,
                                     lambda mv: (mv.name, mv.version), every_size=every_size)
    assert not problems, "\n".join(problems)


def test_search_model_versions_pages_with_a_filter(versions: Any) -> None:
    views = _version_views(versions)
    keys = [("last_updated_timestamp", False), ("name", True), ("version", False)]
    expected = [(v["name"], v["version"]) for v in sort_views(views, keys)
                if v["run_id"] in ("run-a", "run-g")]
    assert len(expected) == 5
    assert not _paging_problems(versions.search_model_versions, None, expected,
                                lambda mv: (mv.name, mv.version),
                                "run_id IN ('run-a', 'run-g')")


VERSION_SEARCH_ERRORS: list[tuple[dict[str, Any], Any]] = [
    ({"filter_string": "name = 'a' OR name = 'b'"},
     "Invalid clause(s) in filter string: OR"),
    ({"filter_string": "current_stage = 'None'"},
     Prefix("Invalid attribute key 'current_stage' specified. Valid keys are '{")),
    ({"filter_string": "creation_timestamp > 1"},
     Prefix("Invalid attribute key 'creation_timestamp' specified. Valid keys are '{")),
    ({"filter_string": "metrics.m > 1"},
     "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')"),
    ({"filter_string": "version_number > 'a'"},
     "Invalid value for numeric attribute 'version_number': 'a'"),
    ({"filter_string": "version_number = 1.5"},
     "Invalid value for numeric attribute 'version_number': 1.5"),
    ({"filter_string": "run_id > 'a'"}, "Invalid comparator for attribute: >"),
    ({"filter_string": "tags.k > 'a'"}, "Invalid comparator for tag: >"),
    ({"filter_string": "tags.k = 1"},
     "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"),
    ({"filter_string": "source_path IN ('a')"},
     "Only ['name', 'run_id'] attributes support comparison with a list of quoted string "
     "values."),
    ({"filter_string": "name = 1"}, Prefix("Only the '{")),
    ({"max_results": 0},
     "Invalid value for max_results. It must be a positive integer, but got 0"),
    ({"max_results": 200_001},
     "Invalid value for request parameter max_results. It must be at most 200000, but got "
     "value 200001"),
    ({"order_by": ["bogus"]}, Prefix("Invalid attribute key 'bogus' specified. Valid keys are")),
    ({"order_by": ["name sideways"]}, "Invalid ordering key in order_by clause 'name sideways'."),
    ({"order_by": ["name", "name"]}, "`order_by` contains duplicate fields: ['name', 'name']"),
    ({"order_by": ["version_number", "version_number DESC"]},
     "`order_by` contains duplicate fields: ['version_number', 'version_number DESC']"),
    ({"page_token": "not a token!"}, Prefix("Invalid page token")),
]


def test_search_model_versions_errors(versions: Any) -> None:
    before = dump(versions)
    problems = []
    for kwargs, message in VERSION_SEARCH_ERRORS:
        problem = check_error(lambda k=kwargs: versions.search_model_versions(**k),
                              INVALID, message)
        if problem:
            problems.append(f"{kwargs}: {problem}")
    assert not problems, "\n".join(problems)
    assert dump(versions) == before


# -- prompts ------------------------------------------------------------------------------------


def test_prompts_are_left_out_of_searches_unless_asked_for(registry: Any) -> None:
    registry.create_registered_model("model")
    registry.create_model_version("model", "s3://m/1")
    prompt = registry.create_registered_model("prompt", tags=[RTag(IS_PROMPT, "true")])
    registry.create_model_version("prompt", PROMPT_SOURCE, tags=[VTag(IS_PROMPT, "true")])
    # A prompt is an ordinary registered model to every other call.
    assert registry.get_registered_model("prompt").tags == {IS_PROMPT: "true"}
    assert rm_view(prompt)["tags"] == {IS_PROMPT: "true"}
    assert registry.get_model_version("prompt", "1").tags == {IS_PROMPT: "true"}
    assert names(registry.search_registered_models()) == ["model"]
    assert names(registry.search_registered_models("name = 'prompt'")) == []
    assert names(registry.search_registered_models(PROMPT_FILTER)) == ["prompt"]
    assert [(mv.name, mv.version) for mv in registry.search_model_versions()] == [
        ("model", "1")]
    assert list(registry.search_model_versions("name = 'prompt'")) == []
    assert [(mv.name, mv.version) for mv in registry.search_model_versions(PROMPT_FILTER)] == [
        ("prompt", "1")]


def test_a_prompt_version_hides_every_version_of_its_model(registry: Any) -> None:
    registry.create_registered_model("mixed")
    registry.create_model_version("mixed", PROMPT_SOURCE, tags=[VTag(IS_PROMPT, "true")])
    registry.create_model_version("mixed", "s3://m/2")
    registry.create_registered_model("tagged", tags=[RTag(IS_PROMPT, "true")])
    registry.create_model_version("tagged", "s3://t/1")
    # What is left out is decided per model name, from the versions' tags (MLflow's SQL store).
    assert sorted((mv.name, mv.version) for mv in registry.search_model_versions()) == [
        ("tagged", "1")]
    assert [(mv.name, mv.version) for mv in registry.search_model_versions(PROMPT_FILTER)] == [
        ("mixed", "1")]


# -- every failing call leaves everything as it was ----------------------------------------


def test_every_failing_call_changes_nothing(registry: Any) -> None:
    """A registry with some of everything, and one failing call of each kind after another:
    after each, the registry is as it was."""
    registry.create_registered_model("m", tags=[RTag("a", "1")], description="d")
    for n in range(1, 4):
        registry.create_model_version("m", f"s3://m/{n}", f"run-{n}", [VTag("t", str(n))])
    registry.transition_model_version_stage("m", "1", "Production", False)
    registry.transition_model_version_stage("m", "2", "Staging", False)
    registry.set_registered_model_alias("m", "champion", "1")
    registry.create_registered_model("n")
    registry.create_model_version("n", "s3://n/1")
    r = registry
    calls: list[tuple[str, Callable[[], Any], str, Any]] = [
        ("create duplicate", lambda: r.create_registered_model("n", [RTag("b", "2")], "x"),
         EXISTS, "Registered Model (name=n) already exists."),
        ("create bad tag", lambda: r.create_registered_model("o", [RTag("", "1")]),
         INVALID, bad_path("key", "")),
        ("update missing", lambda: r.update_registered_model("o", "x"), NOT_FOUND,
         rm_missing("o")),
        ("rename onto", lambda: r.rename_registered_model("m", "n"), EXISTS,
         Prefix("Registered Model (name=n) already exists.")),
        ("rename missing", lambda: r.rename_registered_model("o", "p"), NOT_FOUND,
         rm_missing("o")),
        ("delete missing", lambda: r.delete_registered_model("o"), NOT_FOUND, rm_missing("o")),
        ("latest bad stage", lambda: r.get_latest_versions("m", ["x"]), INVALID,
         bad_stage("x")),
        ("set tag missing", lambda: r.set_registered_model_tag("o", RTag("a", "2")),
         NOT_FOUND, rm_missing("o")),
        ("set tag long", lambda: r.set_registered_model_tag("m", RTag("a", "v" * 100_001)),
         INVALID, "'value' exceeds the maximum length of 100000 characters"),
        ("delete tag missing", lambda: r.delete_registered_model_tag("o", "a"), NOT_FOUND,
         rm_missing("o")),
        ("create version missing", lambda: r.create_model_version("o", "s3://b/x"), NOT_FOUND,
         rm_missing("o")),
        ("create version bad tag",
         lambda: r.create_model_version("m", "s3://b/x", None, [VTag("t", "1"), VTag("", "2")]),
         INVALID, bad_path("key", "")),
        ("update version missing", lambda: r.update_model_version("m", "4", "x"), NOT_FOUND,
         mv_missing("m", 4)),
        ("transition bad stage",
         lambda: r.transition_model_version_stage("m", "3", "Live", True), INVALID,
         bad_stage("Live")),
        ("transition missing",
         lambda: r.transition_model_version_stage("m", "4", "Production", True), NOT_FOUND,
         mv_missing("m", 4)),
        ("transition archive non-active",
         lambda: r.transition_model_version_stage("m", "3", "Archived", True), INVALID,
         not_active("Archived")),
        ("delete version missing", lambda: r.delete_model_version("m", "4"), NOT_FOUND,
         mv_missing("m", 4)),
        ("delete version bad", lambda: r.delete_model_version("m", "four"), INVALID,
         "Parameter 'version' must be an integer, got 'four'."),
        ("set version tag missing",
         lambda: r.set_model_version_tag("m", "4", VTag("t", "x")), NOT_FOUND,
         mv_missing("m", 4)),
        ("set version tag long",
         lambda: r.set_model_version_tag("m", "1", VTag("t" * 251, "x")), INVALID,
         "'key' exceeds the maximum length of 250 characters"),
        ("delete version tag missing", lambda: r.delete_model_version_tag("m", "4", "t"),
         NOT_FOUND, mv_missing("m", 4)),
        ("set alias reserved", lambda: r.set_registered_model_alias("m", "latest", "2"),
         INVALID, "'latest' alias name (case insensitive) is reserved."),
        ("set alias missing version",
         lambda: r.set_registered_model_alias("m", "champion", "4"), NOT_FOUND,
         mv_missing("m", 4)),
        ("delete alias missing model", lambda: r.delete_registered_model_alias("o", "champion"),
         NOT_FOUND, rm_missing("o")),
    ]
    problems = []
    before = dump(registry)
    for what, call, code, message in calls:
        problem = check_error(call, code, message)
        if problem:
            problems.append(f"{what}: {problem}")
        after = dump(registry)
        if after != before:
            problems.append(f"{what}: changed the registry")
            before = after
    assert not problems, "\n".join(problems)


# -- beyond MLflow's store: trackstore's own promises -----------------------------------------


def test_model_id_and_deployment_job_id_are_kept(store_registry: Any) -> None:
    """MLflow's SQL store drops both (it has no column for them); its REST API carries them."""
    r = store_registry
    rm = r.create_registered_model("m", deployment_job_id="job-1")
    assert (rm.deployment_job_id, rm.deployment_job_state) == ("job-1", None)
    assert r.get_registered_model("m").deployment_job_id == "job-1"
    assert r.update_registered_model("m", "d", "job-2").deployment_job_id == "job-2"
    assert r.get_registered_model("m").deployment_job_id == "job-2"
    mv = r.create_model_version("m", "s3://b/m-abc", "run-1", model_id="m-abc")
    assert mv.model_id == "m-abc"
    assert r.get_model_version("m", "1").model_id == "m-abc"
    assert [v.model_id for v in r.search_model_versions("name = 'm'")] == ["m-abc"]


def test_trackstore_checks_what_mlflows_store_lets_through(store_registry: Any) -> None:
    """Checks MLflow's server makes (or its columns would), made by every trackstore store."""
    r = store_registry
    r.create_registered_model("m")
    r.create_model_version("m", "s3://m/1")
    long_name = "x" * 257
    for call, message in [
        (lambda: r.create_registered_model(long_name),
         f"Model name '{long_name[:40]}...' is 257 characters long; the maximum is 256."),
        (lambda: r.create_registered_model("n", description="d" * 5001),
         "'description' exceeds the maximum length of 5000 characters"),
        (lambda: r.update_registered_model("m", "d" * 5001),
         "'description' exceeds the maximum length of 5000 characters"),
        (lambda: r.create_model_version("m", ""),
         "Missing value for required parameter 'source'."),
        (lambda: r.search_registered_models(max_results=0),
         "Invalid value for max_results. It must be a positive integer, but got 0"),
    ]:
        unchanged(r, call, INVALID, message)
    assert r.create_registered_model("n", description="d" * 5000).description == "d" * 5000
    assert r.create_registered_model("x" * 256).name == "x" * 256
