"""Behaviour every backend must have (the tracking API contract).

Each backend runs the suite directly and behind a live ``trackstore server`` through the
``RestStore`` client (``rest-*``): what the API promises must survive the trip over HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackstore.entities import (
    Dataset,
    DatasetInput,
    ExperimentTag,
    InputTag,
    LifecycleStage,
    LoggedModelInput,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)
from trackstore.exceptions import TrackstoreError
from trackstore.store.base import AbstractStore
from trackstore.store.rest import RestStore

from .conftest import BACKENDS, REST_BACKENDS, make_store

T0 = 1_700_000_000_000


@pytest.fixture(params=BACKENDS + REST_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AbstractStore]:
    with make_store(request.param, tmp_path) as s:
        yield s


def new_run(store: AbstractStore, experiment_id: str = "0", **kw: object):
    return store.create_run(experiment_id, kw.pop("user_id", "alice"),  # type: ignore[arg-type]
                            kw.pop("start_time", T0), kw.pop("tags", []),  # type: ignore[arg-type]
                            kw.pop("run_name", None))  # type: ignore[arg-type]


def error(exc_info: pytest.ExceptionInfo[TrackstoreError]) -> tuple[str, str]:
    return exc_info.value.error_code, exc_info.value.message


# -- experiments -------------------------------------------------------------------------------


def test_default_experiment_exists(store: AbstractStore) -> None:
    exp = store.get_experiment("0")
    assert exp.name == "Default"
    assert exp.lifecycle_stage == LifecycleStage.ACTIVE
    assert exp.creation_time is not None


def test_create_get_and_find_experiment_by_name(store: AbstractStore) -> None:
    exp_id = store.create_experiment("vision ☃ 实验", tags=[ExperimentTag("team", "cv"),
                                                            ExperimentTag("a/b", "nested")])
    exp = store.get_experiment(exp_id)
    assert (exp.experiment_id, exp.name, exp.tags) == (exp_id, "vision ☃ 实验",
                                                       {"team": "cv", "a/b": "nested"})
    assert exp.creation_time == exp.last_update_time
    assert exp.artifact_location.endswith("/" + exp_id)
    assert store.get_experiment_by_name("vision ☃ 实验") == exp
    assert store.get_experiment_by_name("missing") is None


def test_experiment_names_are_unique_across_lifecycle(store: AbstractStore) -> None:
    exp_id = store.create_experiment("dup")
    with pytest.raises(TrackstoreError) as e:
        store.create_experiment("dup")
    assert error(e) == ("RESOURCE_ALREADY_EXISTS", "Experiment 'dup' already exists.")
    store.delete_experiment(exp_id)
    with pytest.raises(TrackstoreError) as e:
        store.create_experiment("dup")
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert "already exists in deleted state" in e.value.message


@pytest.mark.parametrize("name", ["", None, "x" * 501])
def test_invalid_experiment_names_are_rejected(store: AbstractStore, name: object) -> None:
    before = store.search_experiments(ViewType.ALL)
    with pytest.raises(TrackstoreError) as e:
        store.create_experiment(name)  # type: ignore[arg-type]
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert store.search_experiments(ViewType.ALL) == before


def test_missing_experiment_is_resource_does_not_exist(store: AbstractStore) -> None:
    with pytest.raises(TrackstoreError) as e:
        store.get_experiment("123456789")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_rename_experiment(store: AbstractStore) -> None:
    exp_id = store.create_experiment("old")
    store.create_experiment("taken")
    store.rename_experiment(exp_id, "new")
    assert store.get_experiment(exp_id).name == "new"
    assert store.get_experiment_by_name("old") is None
    with pytest.raises(TrackstoreError) as e:
        store.rename_experiment(exp_id, "taken")
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert store.get_experiment(exp_id).name == "new"


def test_delete_and_restore_experiment_cascade_to_runs(store: AbstractStore) -> None:
    exp_id = store.create_experiment("e")
    keep, gone_before = new_run(store, exp_id), new_run(store, exp_id)
    store.delete_run(gone_before.info.run_id)
    store.delete_experiment(exp_id)
    exp = store.get_experiment(exp_id)
    assert exp.lifecycle_stage == LifecycleStage.DELETED
    assert store.get_run(keep.info.run_id).info.lifecycle_stage == LifecycleStage.DELETED
    active_ids = [e.experiment_id for e in store.search_experiments(ViewType.ACTIVE_ONLY)]
    deleted_ids = [e.experiment_id for e in store.search_experiments(ViewType.DELETED_ONLY)]
    assert exp_id not in active_ids and exp_id in deleted_ids
    with pytest.raises(TrackstoreError) as e:
        new_run(store, exp_id)
    assert "non-active experiment" in e.value.message
    store.restore_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == LifecycleStage.ACTIVE
    # As in MLflow, restoring an experiment revives every run in it.
    for run in (keep, gone_before):
        assert store.get_run(run.info.run_id).info.lifecycle_stage == LifecycleStage.ACTIVE


def test_default_experiment_cannot_be_deleted(store: AbstractStore) -> None:
    with pytest.raises(TrackstoreError) as e:
        store.delete_experiment("0")
    assert "Cannot delete the default experiment '0'" in e.value.message
    assert store.get_experiment("0").lifecycle_stage == LifecycleStage.ACTIVE


def test_restore_of_active_experiment_fails(store: AbstractStore) -> None:
    exp_id = store.create_experiment("e")
    with pytest.raises(TrackstoreError) as e:
        store.restore_experiment(exp_id)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_experiment_tags_set_overwrite_delete(store: AbstractStore) -> None:
    exp_id = store.create_experiment("e")
    store.set_experiment_tag(exp_id, ExperimentTag("k", "v1"))
    store.set_experiment_tag(exp_id, ExperimentTag("k", "v2"))
    store.set_experiment_tag(exp_id, ExperimentTag("long", "x" * 20000))
    assert store.get_experiment(exp_id).tags == {"k": "v2", "long": "x" * 20000}
    store.delete_experiment_tag(exp_id, "k")
    assert "k" not in store.get_experiment(exp_id).tags
    with pytest.raises(TrackstoreError) as e:
        store.delete_experiment_tag(exp_id, "k")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(TrackstoreError):
        store.set_experiment_tag(exp_id, ExperimentTag("too-long", "x" * 20001))


def test_search_experiments_filter_order_and_pages(store: AbstractStore) -> None:
    ids = [store.create_experiment(f"exp-{i}") for i in range(5)]
    store.set_experiment_tag(ids[2], ExperimentTag("kind", "special"))
    found = store.search_experiments(filter_string="name LIKE 'exp-%'", order_by=["name DESC"])
    assert [e.name for e in found] == [f"exp-{i}" for i in range(4, -1, -1)]
    assert [e.experiment_id for e in store.search_experiments(
        filter_string="tags.kind = 'special'")] == [ids[2]]
    page1 = store.search_experiments(max_results=2, filter_string="name LIKE 'exp-%'",
                                     order_by=["name ASC"])
    assert [e.name for e in page1] == ["exp-0", "exp-1"] and page1.token
    page2 = store.search_experiments(max_results=2, filter_string="name LIKE 'exp-%'",
                                     order_by=["name ASC"], page_token=page1.token)
    page3 = store.search_experiments(max_results=2, filter_string="name LIKE 'exp-%'",
                                     order_by=["name ASC"], page_token=page2.token)
    assert [e.name for e in page2] == ["exp-2", "exp-3"]
    assert [e.name for e in page3] == ["exp-4"] and page3.token is None
    with pytest.raises(TrackstoreError) as e:
        store.search_experiments(max_results=0)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


# -- runs --------------------------------------------------------------------------------------


def test_create_and_get_run(store: AbstractStore) -> None:
    run = new_run(store, tags=[RunTag("src", "train.py")], run_name="first")
    got = store.get_run(run.info.run_id)
    info = got.info
    assert len(info.run_id) == 32 and info.run_uuid == info.run_id
    assert (info.experiment_id, info.user_id, info.status, info.start_time, info.end_time,
            info.lifecycle_stage, info.run_name) == ("0", "alice", "RUNNING", T0, None,
                                                     "active", "first")
    assert info.artifact_uri is not None and info.artifact_uri.endswith(
        f"/0/{info.run_id}/artifacts")
    assert got.data.tags == {"src": "train.py", "mlflow.runName": "first"}
    assert got.data.metrics == {} and got.data.params == {}
    assert run.info == got.info


def test_run_name_is_generated_and_mirrored_in_tag(store: AbstractStore) -> None:
    run = new_run(store)
    assert run.info.run_name and run.data.tags["mlflow.runName"] == run.info.run_name
    named = new_run(store, tags=[RunTag("mlflow.runName", "from-tag")])
    assert named.info.run_name == "from-tag"
    with pytest.raises(TrackstoreError) as e:
        new_run(store, tags=[RunTag("mlflow.runName", "a")], run_name="b")
    assert "Both 'run_name' argument and 'mlflow.runName' tag are specified" in e.value.message


def test_create_run_in_missing_experiment(store: AbstractStore) -> None:
    with pytest.raises(TrackstoreError) as e:
        new_run(store, "987654321")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_get_missing_run(store: AbstractStore) -> None:
    with pytest.raises(TrackstoreError) as e:
        store.get_run("0" * 32)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(TrackstoreError) as e:
        store.get_run("../../etc")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_update_run_info(store: AbstractStore) -> None:
    run_id = new_run(store, run_name="a").info.run_id
    info = store.update_run_info(run_id, RunStatus.FINISHED, T0 + 5, None)
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", T0 + 5, "a")
    store.update_run_info(run_id, None, None, "renamed")
    got = store.get_run(run_id)
    assert (got.info.status, got.info.end_time, got.info.run_name) == ("FINISHED", T0 + 5,
                                                                       "renamed")
    assert got.data.tags["mlflow.runName"] == "renamed"
    store.update_run_info(run_id, "KILLED", None, None)
    assert store.get_run(run_id).info.status == "KILLED"


def _deleted_run_ids(store: AbstractStore) -> list[str]:
    """What gc would collect; a client of a server has no such endpoint and says so."""
    if isinstance(store, RestStore):
        with pytest.raises(TrackstoreError) as e:
            store.deleted_run_ids()
        assert e.value.error_code == "NOT_IMPLEMENTED" and "backend store" in e.value.message
        return []
    return store.deleted_run_ids()


def test_delete_and_restore_run(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    store.delete_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage == LifecycleStage.DELETED
    assert run_id in _deleted_run_ids(store) or isinstance(store, RestStore)
    with pytest.raises(TrackstoreError) as e:
        store.log_metric(run_id, Metric("m", 1.0, T0, 0))
    assert e.value.error_code == "INVALID_PARAMETER_VALUE" and "active" in e.value.message
    assert store.get_metric_history(run_id, "m") == []
    store.restore_run(run_id)
    assert store.get_run(run_id).info.lifecycle_stage == LifecycleStage.ACTIVE
    assert run_id not in _deleted_run_ids(store)
    store.log_metric(run_id, Metric("m", 1.0, T0, 0))


# -- logging ----------------------------------------------------------------------------------


def test_metrics_round_trip_exactly(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    values = [0.1, -2.5e-300, 1e308, float("inf"), float("-inf"), 123456789.0, 5e-324]
    for i, v in enumerate(values):
        store.log_metric(run_id, Metric("m", v, T0 + i, i))
    store.log_metric(run_id, Metric("nan", float("nan"), T0, 0))
    hist = store.get_metric_history(run_id, "m")
    assert [(m.value, m.timestamp, m.step) for m in hist] == [
        (v, T0 + i, i) for i, v in enumerate(values)]
    assert math.isnan(store.get_run(run_id).data.metrics["nan"])


def test_latest_metric_is_max_by_step_then_timestamp_then_value(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    store.log_batch(run_id, metrics=[
        Metric("m", 5.0, T0 + 10, 1), Metric("m", 1.0, T0, 3), Metric("m", 2.0, T0, 3),
        Metric("m", 9.0, T0 + 99, 2)])
    run = store.get_run(run_id)
    assert run.data.metrics["m"] == 2.0
    (latest,) = run.data.metric_objs
    assert (latest.timestamp, latest.step) == (T0, 3)


def test_metric_history_keeps_order_duplicates_and_pages(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    points = [Metric("loss", float(i % 7), T0 + i, i // 2) for i in range(25)]
    store.log_batch(run_id, metrics=points[:20])
    store.log_batch(run_id, metrics=[*points[20:], points[0]])
    hist = store.get_metric_history(run_id, "loss")
    got = [(m.value, m.timestamp, m.step) for m in hist]
    expected = [(m.value, m.timestamp, m.step) for m in points]
    if len(got) == len(expected) + 1:  # backends that keep exact duplicates (the file store)
        expected.append(expected[0])
    assert got == expected
    pages, token = [], None
    while True:
        page = store.get_metric_history(run_id, "loss", max_results=10, page_token=token)
        pages.append([(m.value, m.timestamp, m.step) for m in page])
        token = page.token
        if not token:
            break
    assert [p for page in pages for p in page] == got
    assert all(len(p) == 10 for p in pages[:-1])
    cols = store.get_metric_history_columns(run_id, "loss")
    assert list(zip(cols.values, cols.timestamps, cols.steps, strict=True)) == got
    assert store.get_metric_history(run_id, "never") == []
    assert len(store.get_metric_history_columns(run_id, "never")) == 0


def test_nested_metric_param_and_tag_keys(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    store.log_batch(run_id, metrics=[Metric("train/loss", 1.0, T0, 0)],
                    params=[Param("opt/lr", "0.1")], tags=[RunTag("a/b/c", "x")])
    run = store.get_run(run_id)
    assert run.data.metrics["train/loss"] == 1.0
    assert run.data.params["opt/lr"] == "0.1"
    assert run.data.tags["a/b/c"] == "x"
    assert [m.value for m in store.get_metric_history(run_id, "train/loss")] == [1.0]


def test_params_are_immutable_and_a_conflicting_batch_changes_nothing(
        store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    store.log_param(run_id, Param("lr", "0.1"))
    store.log_param(run_id, Param("lr", "0.1"))  # the same value again is fine
    with pytest.raises(TrackstoreError) as e:
        store.log_batch(run_id, metrics=[Metric("m", 1.0, T0, 0)],
                        params=[Param("new", "1"), Param("lr", "0.2")],
                        tags=[RunTag("t", "x")])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"
    assert e.value.message.startswith(
        "Changing param values is not allowed. Param with key='lr' was already logged with "
        "value='0.1'")
    run = store.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert "m" not in run.data.metrics and "t" not in run.data.tags


def test_duplicate_param_keys_in_one_batch_are_rejected(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    with pytest.raises(TrackstoreError) as e:
        store.log_batch(run_id, params=[Param("a", "1"), Param("a", "2")])
    assert "Duplicate parameter keys have been submitted: ['a']" in e.value.message
    assert store.get_run(run_id).data.params == {}


def test_tags_overwrite_and_delete(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    store.set_tag(run_id, RunTag("t", "1"))
    store.set_tag(run_id, RunTag("t", "multi\nline ünïcode"))
    assert store.get_run(run_id).data.tags["t"] == "multi\nline ünïcode"
    store.delete_tag(run_id, "t")
    assert "t" not in store.get_run(run_id).data.tags
    with pytest.raises(TrackstoreError) as e:
        store.delete_tag(run_id, "t")
    assert error(e) == ("RESOURCE_DOES_NOT_EXIST",
                        f"No tag with name: t in run with id {run_id}")


def test_run_name_tag_updates_run_name(store: AbstractStore) -> None:
    run_id = new_run(store, run_name="a").info.run_id
    store.set_tag(run_id, RunTag("mlflow.runName", "b"))
    assert store.get_run(run_id).info.run_name == "b"


@pytest.mark.parametrize(("key", "fragment"), [
    ("bad name!", "Names may only contain alphanumerics"),
    ("../escape", "must not resolve to other names"),
    ("a//b", "must not resolve to other names"),
    ("/abs", "must not resolve to other names"),
    ("a/", "must not resolve to other names"),
    ("", "must not resolve to other names"),
])
def test_invalid_keys_are_rejected_everywhere(store: AbstractStore, key: str,
                                              fragment: str) -> None:
    run_id = new_run(store).info.run_id
    for call in (lambda: store.log_metric(run_id, Metric(key, 1.0, T0, 0)),
                 lambda: store.log_param(run_id, Param(key, "1")),
                 lambda: store.set_tag(run_id, RunTag(key, "1"))):
        with pytest.raises(TrackstoreError) as e:
            call()
        assert e.value.error_code == "INVALID_PARAMETER_VALUE" and fragment in e.value.message
    run = store.get_run(run_id)
    assert run.data.metrics == {} and run.data.params == {}


@pytest.mark.parametrize(("metric", "fragment"), [
    (Metric("m", None, T0, 0), "Missing value for required parameter 'metrics[1].value'"),  # type: ignore[arg-type]
    (Metric("m", True, T0, 0), "Please specify value as a valid double"),
    (Metric("m", "1", T0, 0), "Please specify value as a valid double"),  # type: ignore[arg-type]
    (Metric("m", 1.0, -1, 0), "Timestamp must be a nonnegative long"),
    (Metric("m", 1.0, T0, "x"), "Step must be a valid long"),  # type: ignore[arg-type]
    (Metric("m", 1.0, T0, 2**63), "Step must be a valid long"),
])
def test_invalid_metric_values(store: AbstractStore, metric: Metric, fragment: str) -> None:
    run_id = new_run(store).info.run_id
    with pytest.raises(TrackstoreError) as e:
        store.log_batch(run_id, metrics=[Metric("ok", 1.0, T0, 0), metric])
    assert e.value.error_code == "INVALID_PARAMETER_VALUE" and fragment in e.value.message
    assert "metrics[1]" in e.value.message
    assert store.get_run(run_id).data.metrics == {}


def test_integer_values_and_steps_are_normalised(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    metric = Metric("m", 3, T0, 2.0)  # type: ignore[arg-type]
    store.log_metric(run_id, metric)
    (got,) = store.get_metric_history(run_id, "m")
    assert (got.value, type(got.value), got.step, type(got.step)) == (3.0, float, 2, int)
    assert metric.value == 3  # the caller's object is untouched


def test_batch_limits(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    with pytest.raises(TrackstoreError) as e:
        store.log_batch(run_id, metrics=[Metric("m", 1.0, T0, i) for i in range(1001)])
    assert "at most 1000 metrics" in e.value.message
    with pytest.raises(TrackstoreError) as e:
        store.log_batch(run_id, params=[Param(f"p{i}", "1") for i in range(101)])
    assert "at most 100 params" in e.value.message
    assert store.get_metric_history(run_id, "m") == []


def test_long_values_are_truncated_or_rejected(store: AbstractStore,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = new_run(store).info.run_id
    store.log_param(run_id, Param("p", "x" * 7000))
    store.set_tag(run_id, RunTag("t", "y" * 9000))
    run = store.get_run(run_id)
    assert run.data.params["p"] == "x" * 6000 and run.data.tags["t"] == "y" * 8000
    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")
    with pytest.raises(TrackstoreError) as e:
        store.log_param(run_id, Param("q", "x" * 6001))
    assert "exceeds the maximum length of 6000 characters" in e.value.message


def test_log_inputs(store: AbstractStore) -> None:
    run_id = new_run(store).info.run_id
    ds = Dataset("train-set", "abc123", "local", '{"uri": "/data/train"}', '{"cols": 3}', None)
    inputs = [DatasetInput(ds, [InputTag("mlflow.data.context", "training")])]
    store.log_inputs(run_id, inputs, [LoggedModelInput("m-" + "a" * 32)])
    store.log_inputs(run_id, inputs)  # idempotent
    got = store.get_run(run_id).inputs
    assert got.dataset_inputs == inputs
    assert got.model_inputs == [LoggedModelInput("m-" + "a" * 32)]
    with pytest.raises(TrackstoreError):
        store.log_inputs(run_id, [DatasetInput(Dataset("n", "x" * 37, "local", "s"))])


# -- search -----------------------------------------------------------------------------------


def _search_setup(store: AbstractStore) -> tuple[str, list[str]]:
    exp_id = store.create_experiment("search")
    ids = []
    for i in range(6):
        run_id = new_run(store, exp_id, start_time=T0 + i, run_name=f"run-{i}").info.run_id
        metrics = [Metric("acc", i / 10, T0, 0)] if i != 3 else []
        if i == 4:
            metrics = [Metric("acc", float("nan"), T0, 0)]
        store.log_batch(run_id, metrics=metrics, params=[Param("lr", str(i % 2))],
                        tags=[RunTag("group", "even" if i % 2 == 0 else "odd")])
        ids.append(run_id)
    return exp_id, ids


def test_search_runs_default_order_and_filters(store: AbstractStore) -> None:
    exp_id, ids = _search_setup(store)
    assert [r.info.run_id for r in store.search_runs([exp_id])] == ids[::-1]
    assert {r.info.run_id for r in store.search_runs([exp_id], "metrics.acc > 0.15")} == {
        ids[2], ids[5]}
    assert {r.info.run_id for r in store.search_runs([exp_id], "params.lr = '1'")} == {
        ids[1], ids[3], ids[5]}
    assert {r.info.run_id for r in store.search_runs(
        [exp_id], "tags.group = 'even' AND metrics.acc >= 0")} == {ids[0], ids[2]}
    assert [r.info.run_id for r in store.search_runs(
        [exp_id], "attributes.run_name LIKE 'run-1%'")] == [ids[1]]
    assert {r.info.run_id for r in store.search_runs(
        [exp_id], f"attributes.run_id IN ('{ids[0]}', '{ids[4]}')")} == {ids[0], ids[4]}
    with pytest.raises(TrackstoreError) as e:
        store.search_runs([exp_id], "metrics.acc >> 1")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_search_runs_order_by_metric_puts_missing_and_nan_last(store: AbstractStore) -> None:
    exp_id, ids = _search_setup(store)
    desc = [r.info.run_id for r in store.search_runs([exp_id], order_by=["metrics.acc DESC"])]
    asc = [r.info.run_id for r in store.search_runs([exp_id], order_by=["metrics.acc ASC"])]
    assert desc[:4] == [ids[5], ids[2], ids[1], ids[0]]
    assert asc[:4] == [ids[0], ids[1], ids[2], ids[5]]
    assert set(desc[4:]) == set(asc[4:]) == {ids[3], ids[4]}


def test_search_runs_pages_and_view_types(store: AbstractStore) -> None:
    exp_id, ids = _search_setup(store)
    store.delete_run(ids[0])
    seen, token = [], None
    while True:
        page = store.search_runs([exp_id], max_results=2, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert seen == ids[1:][::-1]
    assert [r.info.run_id for r in store.search_runs(
        [exp_id], run_view_type=ViewType.DELETED_ONLY)] == [ids[0]]
    assert len(store.search_runs([exp_id], run_view_type=ViewType.ALL)) == 6
    full = store.search_runs([exp_id], "params.lr = '1'", max_results=1)[0]
    assert full.data.params == {"lr": "1"} and "group" in full.data.tags
    with pytest.raises(TrackstoreError):
        store.search_runs([exp_id], max_results=50001)
