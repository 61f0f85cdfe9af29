"""One scenario of the unmodified ``mlflow`` client against a tracking server, as a record.

Run as a script, in a process of its own (so that the fluent API's global state is fresh)::

    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python _client_script.py OUT.json ARTIFACT_ROOT

It drives the server through ``mlflow`` (fluent API and ``MlflowClient``) and a few raw HTTP
requests, and writes ``{"version", "record", "messages", "timings"}`` to OUT.json:

* ``record`` maps each step's name (in the order the steps ran) to what the client returned,
  normalized so that two servers doing the same thing give equal records: run and experiment
  ids become ``run:<label>``/``exp:<label>`` (the label the scenario gave the thing when it
  created it; experiment ``0`` stays ``0``), timestamps the server took from its clock
  (while the scenario ran, give or take two minutes) become ``<now>`` (the scenario's own
  timestamps start at :data:`T`, years away), the server's artifact root becomes
  ``<root>``, and floats become their ``repr`` (so ``nan``, ``inf`` and ``-0.0`` compare
  exactly). Everything else is kept as returned. An error is recorded as its
  ``{"error": ERROR_CODE}`` (``{"exception": "Type"}`` for what is not an ``MlflowException``),
  and the steps after it still run.
* ``messages`` maps the name of each step that failed to its error message, for the reader:
  messages are not compared (MLflow's own stores word them differently).
* ``timings``: the seconds each step took (not compared either).

Steps that depend on the server's order of equal things are avoided: creations are a few
milliseconds apart, a generated run name is replaced once it is checked, and ids (random in a
file store) are never sorted on. Running it twice against ``mlflow server`` gives equal records.

The scenario only uses the standard library, ``mlflow``, ``requests`` (an ``mlflow``
dependency) and, when installed, ``numpy`` and ``pandas``; importing it imports nothing else.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

RECORD_VERSION = 1
T = 1_700_000_000_000  # explicit timestamps: far from the clock, so never taken for "<now>"
NOW_SLACK_MS = 120_000
MISSING_RUN = "0" * 32
RUN_ID = re.compile(r"[0-9a-f]{32}")
GENERATED_NAME = re.compile(r"[a-z]+-[a-z]+-\d+")


def now_ms() -> int:
    return int(time.time() * 1000)


def tick() -> None:
    """Let the server's millisecond clock move on, so that creation times never tie."""
    time.sleep(0.004)


class Scenario:
    def __init__(self, artifact_root: str) -> None:
        import mlflow

        self.mlflow = mlflow
        self.client = mlflow.MlflowClient()
        self.artifact_root = artifact_root.rstrip("/")
        self.record: dict[str, Any] = {}
        self.messages: dict[str, str] = {}
        self.timings: dict[str, float] = {}  # seconds per step
        self.run_labels: dict[str, str] = {}
        self.exp_labels: dict[str, str] = {}
        self.ids: dict[str, str] = {}  # label -> id (runs and experiments)
        self.t0 = now_ms()

    # -- ids and normalization ------------------------------------------------------------

    def run(self, label: str, run_id: str) -> str:
        self.run_labels[run_id] = f"run:{label}"
        self.ids[label] = run_id
        return run_id

    def exp(self, label: str, experiment_id: str) -> str:
        if experiment_id != "0":
            self.exp_labels[experiment_id] = f"exp:{label}"
        self.ids[label] = experiment_id
        return experiment_id

    def exp_id(self, experiment_id: str | None) -> str | None:
        if experiment_id is None:
            return None
        return self.exp_labels.get(experiment_id, experiment_id)

    def time(self, value: Any) -> Any:
        if (isinstance(value, int) and not isinstance(value, bool)
                and self.t0 - NOW_SLACK_MS <= value <= now_ms() + NOW_SLACK_MS):
            return "<now>"
        return value

    def text(self, value: str) -> str:
        for prefix in (f"file://{self.artifact_root}", self.artifact_root):
            if value.startswith(prefix):
                parts = value[len(prefix):].split("/")
                if len(parts) > 1:
                    parts[1] = self.exp_labels.get(parts[1], parts[1])
                value = "<root>" + "/".join(parts)
                break
        if RUN_ID.search(value):
            value = RUN_ID.sub(lambda m: self.run_labels.get(m.group(0), m.group(0)), value)
        return value

    def norm(self, value: Any) -> Any:
        """*value* (entities, lists, dicts, scalars) as JSON, normalized (see the module doc)."""
        from mlflow.entities import Dataset, DatasetInput, Experiment, Metric, Run, RunInfo
        from mlflow.store.entities.paged_list import PagedList

        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, int):
            return self.time(value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Run):
            return {"info": self.norm(value.info), "data": {
                "metrics": {k: self.norm(v) for k, v in sorted(value.data.metrics.items())},
                "params": {k: self.norm(v) for k, v in sorted(value.data.params.items())},
                "tags": {k: self.norm(v) for k, v in sorted(value.data.tags.items())}},
                "inputs": sorted((self.norm(d) for d in value.inputs.dataset_inputs),
                                 key=lambda d: json.dumps(d, sort_keys=True))
                if value.inputs else []}
        if isinstance(value, RunInfo):
            return {"run_id": self.norm(value.run_id),
                    "experiment_id": self.exp_id(value.experiment_id),
                    "run_name": self.norm(value.run_name), "user_id": self.norm(value.user_id),
                    "status": value.status, "start_time": self.time(value.start_time),
                    "end_time": self.time(value.end_time),
                    "lifecycle_stage": value.lifecycle_stage,
                    "artifact_uri": self.norm(value.artifact_uri)}
        if isinstance(value, Experiment):
            return {"experiment_id": self.exp_id(value.experiment_id), "name": value.name,
                    "artifact_location": self.norm(value.artifact_location),
                    "lifecycle_stage": value.lifecycle_stage,
                    "tags": {k: self.norm(v) for k, v in sorted(value.tags.items())},
                    "creation_time": self.time(value.creation_time),
                    "last_update_time": self.time(value.last_update_time),
                    "workspace": getattr(value, "workspace", None)}
        if isinstance(value, Metric):
            out = [value.key, self.norm(value.value), self.time(value.timestamp), value.step]
            extra = {k: getattr(value, k, None) for k in ("dataset_name", "dataset_digest",
                                                           "model_id")}
            extra = {k: v for k, v in extra.items() if v is not None}
            return [*out, extra] if extra else out
        if isinstance(value, DatasetInput):
            return {"dataset": self.norm(value.dataset),
                    "tags": sorted([t.key, self.norm(t.value)] for t in value.tags)}
        if isinstance(value, Dataset):
            return {k: self.norm(getattr(value, k)) for k in (
                "name", "digest", "source_type", "source", "schema", "profile")}
        if isinstance(value, PagedList):
            return {"items": [self.norm(v) for v in value], "has_next": bool(value.token)}
        if isinstance(value, dict):
            return {str(k): self.norm(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.norm(v) for v in value]
        return f"<{type(value).__name__}>"

    def run_refs(self, runs: Iterable[Any]) -> list[Any]:
        """Runs as their labels, in order (a search's answer)."""
        return [self.norm(r.info.run_id) for r in runs]

    def exp_refs(self, experiments: Iterable[Any]) -> list[Any]:
        return [self.exp_id(e.experiment_id) for e in experiments]

    # -- steps ----------------------------------------------------------------------------

    def step(self, name: str, action: Callable[[], Any], *, raw: bool = False) -> Any:
        """Run *action*; record what it returned (normalized unless *raw*), or its error."""
        from mlflow.exceptions import MlflowException

        assert name not in self.record, name
        started = time.perf_counter()
        try:
            value = action()
        except MlflowException as exc:
            self.record[name] = {"error": exc.error_code}
            self.messages[name] = self.text(str(exc.message))[:600]
            return None
        except Exception as exc:
            self.record[name] = {"exception": type(exc).__name__}
            self.messages[name] = self.text(f"{type(exc).__name__}: {exc}")[:600]
            return None
        finally:
            self.timings[name] = round(time.perf_counter() - started, 4)
        self.record[name] = value if raw else self.norm(value)
        return value

    def paged(self, fetch: Callable[[str | None], Any], limit: int = 50) -> list[Any]:
        """Every page of a paged search: ``fetch(page_token)`` until it has no token."""
        pages, token = [], None
        for _ in range(limit):
            page = fetch(token)
            pages.append(list(page))
            token = page.token
            if not token:
                return pages
        raise AssertionError(f"still a next page after {limit} pages")

    # -- the scenario ---------------------------------------------------------------------

    def play(self) -> None:
        self.experiments()
        self.fluent_runs()
        self.client_runs()
        self.logging()
        self.batches()
        self.histories()
        self.datasets()
        self.searches()
        self.lifecycle()
        self.letter_case()
        self.raw_http()

    def experiments(self) -> None:
        mlflow, client, step = self.mlflow, self.client, self.step
        step("exp.default.by_name", lambda: client.get_experiment_by_name("Default"))
        step("exp.default.by_id", lambda: client.get_experiment("0"))
        step("exp.missing.by_name", lambda: client.get_experiment_by_name("no-such-experiment"))
        step("exp.missing.by_id", lambda: client.get_experiment("123456789"))

        def set_new() -> Any:
            exp = mlflow.set_experiment("compat-a")
            self.exp("a", exp.experiment_id)
            tick()
            return exp

        step("exp.set_experiment.new", set_new)
        step("exp.set_experiment.again",
             lambda: self.exp_id(mlflow.set_experiment("compat-a").experiment_id))

        def create(label: str, name: str, **kwargs: Any) -> Any:
            experiment_id = self.exp(label, client.create_experiment(name, **kwargs))
            tick()
            return client.get_experiment(experiment_id)

        step("exp.create.b", lambda: create("b", "compat-b", tags={"team": "vision", "prio": "1"}))
        step("exp.create.c", lambda: create("c", "compat-c", tags={"team": "nlp"}))
        step("exp.create.d", lambda: create("d", "other-d"))
        step("exp.create.located", lambda: create(
            "located", "compat-located", artifact_location=f"{self.artifact_root}/elsewhere"))
        step("exp.create.unicode", lambda: create("unicode", "ünï ☃ exp"))
        step("exp.create.duplicate", lambda: client.create_experiment("compat-b"))
        step("exp.create.empty_name", lambda: client.create_experiment(""))
        step("exp.set_experiment.by_id",
             lambda: mlflow.set_experiment(experiment_id=self.ids["b"]).name)
        mlflow.set_experiment("compat-a")

        c = lambda: self.ids["c"]  # noqa: E731
        step("exp.tag.set", lambda: client.set_experiment_tag(c(), "stage", "dev"))
        step("exp.tag.overwrite", lambda: client.set_experiment_tag(c(), "team", "audio"))
        step("exp.tag.after_set", lambda: client.get_experiment(c()).tags)
        step("exp.tag.delete", lambda: client.delete_experiment_tag(c(), "stage"))
        step("exp.tag.after_delete", lambda: client.get_experiment(c()).tags)
        step("exp.tag.delete_missing", lambda: client.delete_experiment_tag(c(), "nope"))

        d = lambda: self.ids["d"]  # noqa: E731
        step("exp.rename", lambda: client.rename_experiment(d(), "other-d2"))
        step("exp.rename.get", lambda: client.get_experiment(d()))
        step("exp.rename.old_name", lambda: client.get_experiment_by_name("other-d"))
        step("exp.rename.new_name", lambda: client.get_experiment_by_name("other-d2"))
        step("exp.rename.to_existing", lambda: client.rename_experiment(d(), "compat-a"))
        step("exp.rename.missing", lambda: client.rename_experiment("123456789", "x"))

        step("exp.create.e", lambda: create("e", "compat-e"))
        e = lambda: self.ids["e"]  # noqa: E731
        step("exp.delete", lambda: client.delete_experiment(e()))
        step("exp.delete.get", lambda: client.get_experiment(e()))
        step("exp.delete.by_name", lambda: client.get_experiment_by_name("compat-e"))
        step("exp.delete.set_experiment", lambda: mlflow.set_experiment("compat-e"))
        mlflow.set_experiment("compat-a")
        step("exp.delete.create_same_name", lambda: client.create_experiment("compat-e"))
        step("exp.delete.again", lambda: client.delete_experiment(e()))
        step("exp.delete.search_deleted", lambda: self.exp_refs(
            client.search_experiments(view_type=2)))
        step("exp.restore", lambda: client.restore_experiment(e()))
        step("exp.restore.get", lambda: client.get_experiment(e()))
        step("exp.restore.active", lambda: client.restore_experiment(e()))
        step("exp.delete.final", lambda: client.delete_experiment(e()))
        step("exp.delete.missing", lambda: client.delete_experiment("123456789"))
        step("exp.restore.missing", lambda: client.restore_experiment("123456789"))

    def fluent_runs(self) -> None:
        mlflow, client, step = self.mlflow, self.client, self.step
        mlflow.set_experiment("compat-a")

        def parent_and_child() -> Any:
            with mlflow.start_run(run_name="fluent-parent") as parent:
                self.run("parent", parent.info.run_id)
                tick()
                mlflow.log_param("lr", 0.01)
                mlflow.log_params({"epochs": 10, "optimizer": "adam", "unicode": "ünï☃"})
                mlflow.log_metric("loss", 0.9)
                for s in range(5):
                    mlflow.log_metrics({"loss": 1 / (s + 1), "acc": s / 10}, step=s,
                                       timestamp=T + s)
                mlflow.set_tag("team", "vision")
                mlflow.set_tags({"model": "mlp", "note": "ünïcode"})
                with mlflow.start_run(run_name="fluent-child", nested=True) as child:
                    self.run("child", child.info.run_id)
                    tick()
                    mlflow.log_metric("loss", 0.3, step=1)
                    mlflow.log_param("lr", 0.02)
                    inner = mlflow.active_run()
                active = mlflow.active_run()
                return {"inner": self.norm(inner.info.run_id if inner else None),
                        "after_child": self.norm(active.info.run_id if active else None),
                        "started": self.norm(parent)}

        step("run.fluent.start", parent_and_child)
        step("run.fluent.parent", lambda: client.get_run(self.ids["parent"]))
        step("run.fluent.child", lambda: client.get_run(self.ids["child"]))
        step("run.fluent.active_after", mlflow.active_run)

        def ended(label: str, status: str) -> Any:
            run = mlflow.start_run(run_name=f"fluent-{label}")
            self.run(label, run.info.run_id)
            tick()
            mlflow.end_run(status=status)
            return client.get_run(run.info.run_id)

        step("run.fluent.failed", lambda: ended("failed", "FAILED"))
        step("run.fluent.killed", lambda: ended("killed", "KILLED"))

        def raising() -> Any:
            try:
                with mlflow.start_run(run_name="fluent-raised") as run:
                    self.run("raised", run.info.run_id)
                    tick()
                    raise ValueError("inside the run")
            except ValueError:
                pass
            return client.get_run(self.ids["raised"])

        step("run.fluent.raised", raising)

        def resume() -> Any:
            with mlflow.start_run(run_id=self.ids["parent"]) as run:
                status = client.get_run(run.info.run_id).info.status
                mlflow.log_metric("resumed", 1.0, step=0, timestamp=T)
            return {"while_resumed": status, "after": self.norm(client.get_run(run.info.run_id))}

        step("run.fluent.resume", resume)

        def generated() -> Any:
            run = mlflow.start_run()
            self.run("generated", run.info.run_id)
            tick()
            mlflow.end_run()
            got = client.get_run(run.info.run_id)
            name = got.info.run_name
            # a random name would make every ordering by name differ: the run gets a fixed one
            client.update_run(run.info.run_id, name="fluent-generated")
            return {"name_looks_generated": bool(GENERATED_NAME.fullmatch(name or "")),
                    "name_is_tag": got.data.tags.get("mlflow.runName") == name,
                    "name_was_returned": run.info.run_name == name}

        step("run.fluent.generated_name", generated)
        step("run.fluent.last_active", lambda: mlflow.last_active_run().info.run_id)

        def described() -> Any:
            with mlflow.start_run(run_name="described", tags={"a": "1", "b": "two"},
                                  description="hello ☃") as run:
                self.run("described", run.info.run_id)
                tick()
            return client.get_run(run.info.run_id).data.tags

        step("run.fluent.tags_and_description", described)

        def in_default() -> Any:
            with mlflow.start_run(experiment_id="0", run_name="in-default") as run:
                self.run("in-default", run.info.run_id)
                tick()
            return client.get_run(run.info.run_id).info

        step("run.fluent.default_experiment", in_default)

    def client_runs(self) -> None:
        client, step = self.client, self.step

        def create(label: str, exp: str, start: int, **kwargs: Any) -> Any:
            run = client.create_run(self.ids[exp], start_time=start, run_name=f"client-{label}",
                                    **kwargs)
            self.run(label, run.info.run_id)
            return run

        step("run.client.create.c1", lambda: create("c1", "b", T + 1000,
                                                    tags={"team": "vision", "k": "v"}))
        step("run.client.create.c2", lambda: create("c2", "b", T + 2000, tags={"team": "nlp"}))
        step("run.client.create.c3", lambda: create("c3", "b", T + 3000))
        step("run.client.create.c4", lambda: create("c4", "c", T + 4000, tags={"team": "x"}))
        step("run.client.create.c5", lambda: create("c5", "b", T + 5000))
        step("run.client.create.no_start_time", lambda: self.run(
            "c6", client.create_run(self.ids["b"], run_name="client-c6").info.run_id))
        step("run.client.create.missing_experiment",
             lambda: client.create_run("123456789", run_name="nowhere"))
        step("run.client.create.deleted_experiment",
             lambda: client.create_run(self.ids["e"], run_name="nowhere"))

        ids = self.ids
        step("run.client.update.status", lambda: client.update_run(ids["c2"], status="FAILED"))
        step("run.client.update.name", lambda: client.update_run(ids["c2"], name="client-c2b"))
        step("run.client.update.get", lambda: client.get_run(ids["c2"]))
        step("run.client.update.bad_status",
             lambda: client.update_run(ids["c2"], status="SIDEWAYS"))
        step("run.client.terminated.finished",
             lambda: client.set_terminated(ids["c1"], end_time=T + 5000))
        step("run.client.terminated.killed",
             lambda: client.set_terminated(ids["c3"], "KILLED", end_time=T + 6000))
        step("run.client.terminated.now", lambda: client.set_terminated(ids["c5"]))
        step("run.client.terminated.get", lambda: [
            client.get_run(ids[k]).info for k in ("c1", "c3", "c5")])
        step("run.client.terminated.missing",
             lambda: client.set_terminated(MISSING_RUN, end_time=T))
        step("run.client.get.missing", lambda: client.get_run(MISSING_RUN))
        step("run.client.get.malformed", lambda: client.get_run("not-a-run-id"))

    def logging(self) -> None:
        client, step, ids = self.client, self.step, self.ids
        c1 = lambda: ids["c1"]  # noqa: E731

        def metrics() -> Any:
            points = [("m", 1.5, T + 10, 0), ("m", 2.5, T + 11, 1), ("m", 0.25, T + 12, 2),
                      ("nan_m", math.nan, T + 13, 0), ("inf_m", math.inf, T + 14, 0),
                      ("ninf_m", -math.inf, T + 15, 0), ("neg_step", 1.0, T + 16, -5),
                      ("big_step", 2.0, T + 17, 2**40), ("zero", -0.0, T + 18, 0),
                      ("tiny", 5e-324, T + 19, 0), ("huge", 1.7976931348623157e308, T + 20, 0),
                      ("int_value", 7, T + 21, 0), ("a b/c-d.e_f", 3.0, T + 22, 0)]
            for key, value, ts, s in points:
                client.log_metric(c1(), key, value, timestamp=ts, step=s)

        step("log.metric.points", metrics)
        step("log.metric.default_step_and_time", lambda: client.log_metric(c1(), "auto", 4.0))
        step("log.metric.mixed", lambda: [
            client.log_metric(c1(), "mix", 1.0, timestamp=T + 30, step=3),
            client.log_metric(c1(), "mix", math.nan, timestamp=T + 31, step=7),
            client.log_metric(c1(), "mix", 2.0, timestamp=T + 32, step=5)])
        step("log.metric.duplicate", lambda: [
            client.log_metric(c1(), "dup", 1.0, timestamp=T, step=0) for _ in range(2)])
        step("log.metric.out_of_order", lambda: [
            client.log_metric(c1(), "ooo", v, timestamp=T + ts, step=s)
            for v, ts, s in ((1.0, 100, 0), (2.0, 50, 1), (3.0, 75, 2))])
        step("log.metric.tie", lambda: [
            client.log_metric(c1(), "tie", v, timestamp=T, step=0)
            for v in (1.0, math.nan, 2.0)])
        step("log.metric.bad_key", lambda: client.log_metric(c1(), "bad!key", 1.0))
        step("log.metric.missing_run", lambda: client.log_metric(MISSING_RUN, "m", 1.0))
        step("log.metric.get", lambda: client.get_run(c1()).data.metrics)

        step("log.param.values", lambda: [
            client.log_param(c1(), k, v) for k, v in (
                ("int", 1), ("float", 0.1), ("bool", True), ("none", None), ("str", "ünï ☃"),
                ("empty", ""), ("long", "x" * 6000), ("a b/c-d.e_f", "spaced"))])
        step("log.param.same_again", lambda: client.log_param(c1(), "int", 1))
        step("log.param.changed", lambda: client.log_param(c1(), "int", 2))
        step("log.param.too_long", lambda: client.log_param(c1(), "longer", "x" * 6001))
        step("log.param.bad_key", lambda: client.log_param(c1(), "bad!key", "v"))
        step("log.param.get", lambda: client.get_run(c1()).data.params)

        step("log.tag.set", lambda: [
            client.set_tag(c1(), k, v) for k, v in (
                ("t1", "v1"), ("t2", "v2"), ("t1", "v1b"), ("long", "y" * 8000),
                ("num", 5), ("empty", ""))])
        step("log.tag.delete", lambda: client.delete_tag(c1(), "t2"))
        step("log.tag.delete_missing", lambda: client.delete_tag(c1(), "never-set"))
        step("log.tag.bad_key", lambda: client.set_tag(c1(), "bad!key", "v"))
        step("log.tag.run_name", lambda: client.set_tag(c1(), "mlflow.runName", "client-c1b"))
        step("log.tag.get", lambda: client.get_run(c1()))

    def batches(self) -> None:
        from mlflow.entities import Metric, Param, RunTag

        client, step, ids = self.client, self.step, self.ids
        c2 = lambda: ids["c2"]  # noqa: E731
        metrics = ([Metric("batch/loss", 1 / (s + 1), T + s, s) for s in range(1200)]
                   + [Metric("batch/acc", s / 300, T + s, s) for s in range(300)])
        params = [Param(f"p{i:03d}", f"v{i}") for i in range(150)]
        tags = [RunTag(f"t{i:03d}", f"w{i}") for i in range(120)]
        step("batch.large", lambda: client.log_batch(c2(), metrics=metrics, params=params,
                                                     tags=tags))

        def large_get() -> Any:
            run = client.get_run(c2())
            got_tags = {k: v for k, v in run.data.tags.items() if re.fullmatch(r"t\d{3}", k)}
            return {"metrics": run.data.metrics,
                    "params_complete": run.data.params == {p.key: p.value for p in params},
                    "param_count": len(run.data.params),
                    "tags_complete": got_tags == {t.key: t.value for t in tags},
                    "history_loss_count": len(client.get_metric_history(c2(), "batch/loss")),
                    "history_acc_count": len(client.get_metric_history(c2(), "batch/acc"))}

        step("batch.large.get", large_get)
        step("batch.empty", lambda: client.log_batch(c2()))
        step("batch.conflicting_param", lambda: client.log_batch(
            c2(), metrics=[Metric("after_conflict", 1.0, T, 0)],
            params=[Param("p149", "v149"), Param("p150", "new"), Param("p000", "changed")],
            tags=[RunTag("after_conflict", "x")]))
        step("batch.conflicting_param.effects", lambda: {
            "metric": client.get_metric_history(c2(), "after_conflict"),
            "params": {k: v for k, v in client.get_run(c2()).data.params.items()
                       if k in ("p000", "p150")},
            "tag": client.get_run(c2()).data.tags.get("after_conflict")})
        step("batch.duplicate_param_keys", lambda: client.log_batch(
            c2(), params=[Param("dupkey", "1"), Param("dupkey", "2")]))
        step("batch.duplicate_param_same_value", lambda: client.log_batch(
            c2(), params=[Param("dupsame", "1"), Param("dupsame", "1")]))
        step("batch.non_finite", lambda: client.log_batch(c2(), metrics=[
            Metric("batch/special", v, T + i, i)
            for i, v in enumerate((math.nan, math.inf, -math.inf, 0.5))]))
        step("batch.non_finite.history",
             lambda: client.get_metric_history(c2(), "batch/special"))
        step("batch.bad_metric_key", lambda: client.log_batch(
            c2(), metrics=[Metric("bad!key", 1.0, T, 0)]))
        step("batch.missing_run", lambda: client.log_batch(
            MISSING_RUN, metrics=[Metric("m", 1.0, T, 0)]))

    def histories(self) -> None:
        client, step, ids = self.client, self.step, self.ids
        for key in ("m", "nan_m", "inf_m", "ninf_m", "neg_step", "big_step", "zero", "tiny",
                    "huge", "int_value", "a b/c-d.e_f", "auto", "mix", "dup", "ooo", "tie"):
            step(f"history.c1.{key}", lambda key=key: client.get_metric_history(ids["c1"], key))
        step("history.parent.loss", lambda: client.get_metric_history(ids["parent"], "loss"))
        step("history.batch.loss", lambda: client.get_metric_history(ids["c2"], "batch/loss"))
        step("history.never_logged", lambda: client.get_metric_history(ids["c1"], "never"))
        step("history.missing_run", lambda: client.get_metric_history(MISSING_RUN, "m"))

        # The REST store's own paging (the client asks for pages of 25,000 points).
        store = client._tracking_client.store

        def pages(size: int) -> Any:
            got = self.paged(lambda token: store.get_metric_history(
                ids["c2"], "batch/loss", max_results=size, page_token=token))
            full = list(client.get_metric_history(ids["c2"], "batch/loss"))
            flat = [m for page in got for m in page]
            return {"sizes": [len(p) for p in got],
                    "same_as_unpaged": self.norm(flat) == self.norm(full)}

        step("history.paged.500", lambda: pages(500))
        step("history.paged.1200", lambda: pages(1200))
        step("history.paged.zero", lambda: store.get_metric_history(
            ids["c2"], "batch/loss", max_results=0))
        step("history.paged.bad_token", lambda: store.get_metric_history(
            ids["c2"], "batch/loss", max_results=10, page_token="not-a-token"))

    def datasets(self) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag

        mlflow, client, step = self.mlflow, self.client, self.step
        mlflow.set_experiment("compat-a")
        try:
            import numpy as np
            import pandas as pd
        except ImportError:
            np = pd = None
        self.record["datasets.pandas_available"] = pd is not None

        def log_data() -> Any:
            with mlflow.start_run(run_name="with-data") as run:
                self.run("data", run.info.run_id)
                tick()
                if pd is not None:
                    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
                    frame = mlflow.data.from_pandas(df, name="train-df", targets="y")
                    mlflow.log_input(frame, context="training", tags={"split": "train"})
                    mlflow.log_input(frame, context="training", tags={"split": "train"})
                    array = mlflow.data.from_numpy(np.arange(6.0).reshape(3, 2), name="np-ds")
                    mlflow.log_input(array, context="eval")
                    mlflow.log_metric("data_acc", 0.75, step=0, timestamp=T, dataset=frame)
                mlflow.log_param("with", "data")
            meta = Dataset("meta-ds", "d1", "local", '{"uri": "/data/meta"}', schema=None,
                           profile=None)
            client.log_inputs(run.info.run_id, [DatasetInput(meta, [
                InputTag("mlflow.data.context", "test"), InputTag("origin", "ünï")])])
            client.log_inputs(run.info.run_id, [DatasetInput(
                Dataset("meta-ds", "d2", "local", "{}"), [])])
            return {"train": frame.digest, "np": array.digest} if pd is not None else {}

        step("datasets.log", log_data)
        step("datasets.get", lambda: client.get_run(self.ids["data"]))
        step("datasets.metric_history",
             lambda: client.get_metric_history(self.ids["data"], "data_acc"))
        step("datasets.missing_run", lambda: client.log_inputs(MISSING_RUN, [DatasetInput(
            Dataset("x", "d", "local", "{}"), [])]))

    def searches(self) -> None:
        mlflow, client, step, ids = self.mlflow, self.client, self.step, self.ids
        runs_in = lambda *labels: [ids[x] for x in labels]  # noqa: E731

        # experiments
        def exps(**kwargs: Any) -> Any:
            page = client.search_experiments(**kwargs)
            return {"ids": self.exp_refs(page), "has_next": bool(page.token)}

        step("search.exp.default", exps)
        step("search.exp.view_all", lambda: exps(view_type=3))
        step("search.exp.view_deleted", lambda: exps(view_type=2))
        for name, flt in (("name_like", "name LIKE 'compat-%'"),
                          ("name_ilike", "name ILIKE 'COMPAT-%'"),
                          ("name_eq", "attribute.name = 'compat-a'"),
                          ("name_neq", "name != 'compat-a'"),
                          ("tag_eq", "tags.team = 'vision'"),
                          ("tag_like", "tags.team LIKE '%o%'"),
                          ("tag_neq", "tags.team != 'vision'"),
                          ("tag_backticks", "tags.`team` = 'audio'"),
                          ("and", "name LIKE 'compat-%' AND tags.prio = '1'"),
                          ("creation_time", f"creation_time > {T}"),
                          ("last_update_time", f"last_update_time > {T}"),
                          ("unicode", "name = 'ünï ☃ exp'"),
                          ("none", "name = 'nothing-like-this'")):
            step(f"search.exp.filter.{name}", lambda flt=flt: exps(filter_string=flt))
        for name, order in (("name_desc", ["name DESC"]), ("name_asc", ["name"]),
                            ("creation_time", ["creation_time ASC"]),
                            ("last_update_time", ["last_update_time DESC"]),
                            ("two_keys", ["last_update_time DESC", "name ASC"])):
            step(f"search.exp.order.{name}", lambda order=order: exps(order_by=order))

        def by_id() -> Any:
            # ids are random in a file store: their order, not the labels', is compared
            page = client.search_experiments(order_by=["experiment_id ASC"])
            numbers = [int(e.experiment_id) for e in page]
            return {"ascending": numbers == sorted(numbers),
                    "ids": sorted(self.exp_refs(page), key=str)}

        step("search.exp.order.id", by_id)
        step("search.exp.paged", lambda: [self.exp_refs(p) for p in self.paged(
            lambda token: client.search_experiments(max_results=2, order_by=["name"],
                                                    page_token=token))])
        step("search.exp.paged.filtered", lambda: [self.exp_refs(p) for p in self.paged(
            lambda token: client.search_experiments(
                max_results=1, filter_string="name LIKE 'compat-%'", view_type=3,
                page_token=token))])
        step("search.exp.fluent", lambda: self.exp_refs(mlflow.search_experiments(
            filter_string="name LIKE 'compat-%'", order_by=["name DESC"])))
        step("search.exp.fluent.all", lambda: self.exp_refs(mlflow.search_experiments(
            view_type=3)))
        for name, kwargs in (("bad_comparator", {"filter_string": "name >> 'x'"}),
                             ("bad_entity", {"filter_string": "foo.bar = 'x'"}),
                             ("bad_attribute", {"filter_string": "attribute.color = 'x'"}),
                             ("unquoted", {"filter_string": "name = compat"}),
                             ("bad_order", {"order_by": ["name SIDEWAYS"]}),
                             ("bad_order_key", {"order_by": ["color"]}),
                             ("too_many", {"max_results": 50001}),
                             ("bad_token", {"page_token": "not-a-token"})):
            step(f"search.exp.error.{name}", lambda kwargs=kwargs: exps(**kwargs))

        # runs
        def runs(experiments: list[str], filter_string: str = "", **kwargs: Any) -> Any:
            page = client.search_runs([ids[e] for e in experiments], filter_string, **kwargs)
            return {"runs": self.run_refs(page), "has_next": bool(page.token)}

        ab = ["a", "b"]
        step("search.runs.default", lambda: runs(ab))
        step("search.runs.all_experiments", lambda: runs(["a", "b", "c", "unicode"]))
        step("search.runs.full", lambda: list(client.search_runs(
            [ids["b"]], "attributes.run_name LIKE 'client-c%'", order_by=["run_name"])))
        for name, flt in (
                ("metric_lt", "metrics.loss < 0.5"),
                ("metric_ge", "metrics.m >= 0.25"),
                ("metric_eq", "metrics.m = 0.25"),
                ("metric_neq", "metrics.m != 0.25"),
                ("metric_inf", "metrics.inf_m > 1e300"),
                ("metric_ninf", "metrics.ninf_m < -1e300"),
                ("metric_nan", "metrics.nan_m > 0"),
                ("metric_slash", "metrics.`batch/loss` < 0.01"),
                ("metric_quoted", 'metrics."a b/c-d.e_f" = 3'),
                ("param_eq", "params.lr = '0.01'"),
                ("param_neq", "params.lr != '0.01'"),
                ("param_like", "params.optimizer LIKE 'ad%'"),
                ("param_ilike", "params.optimizer ILIKE 'AD%'"),
                ("param_is_null", "params.lr IS NULL"),
                ("param_is_not_null", "params.lr IS NOT NULL"),
                ("tag_eq", "tags.team = 'vision'"),
                ("tag_neq", "tags.team != 'vision'"),
                ("tag_like", "tags.team LIKE '%i%'"),
                ("tag_run_name", "tags.`mlflow.runName` = 'fluent-child'"),
                ("tag_parent", "tags.`mlflow.parentRunId` LIKE '%'"),
                ("status", "attributes.status = 'FINISHED'"),
                ("status_neq", "attributes.status != 'FINISHED'"),
                ("run_name_like", "attributes.run_name LIKE 'client-%'"),
                ("run_name_ilike", "run_name ILIKE 'FLUENT-%'"),
                ("run_name_in", "attributes.run_name IN ('client-c1b', 'client-c3')"),
                ("run_name_not_in", "attributes.run_name NOT IN ('client-c1b', 'client-c3')"),
                ("start_time", f"attributes.start_time >= {T + 2000}"),
                ("start_time_lt", f"attributes.start_time < {T + 3000}"),
                ("end_time", f"attributes.end_time <= {T + 5000}"),
                ("created", f"attributes.created > {T + 3000}"),
                ("user", "attributes.user_id != 'nobody'"),
                ("dataset_name", "datasets.name = 'train-df'"),
                ("dataset_context", "datasets.context = 'training'"),
                ("dataset_in", "datasets.name IN ('meta-ds', 'np-ds')"),
                ("and", "metrics.m > 1 AND params.int = '1' AND tags.t1 = 'v1b'"),
                ("missing_key", "params.never = 'x'"),
                ("empty_string", "params.empty = ''")):
            step(f"search.runs.filter.{name}", lambda flt=flt: runs(ab, flt))
        step("search.runs.filter.run_id_in", lambda: runs(
            ab, "attributes.run_id IN ({})".format(
                ", ".join(f"'{r}'" for r in runs_in("c1", "c3")))))
        step("search.runs.filter.run_id_eq", lambda: runs(
            ab, f"attributes.run_id = '{ids['parent']}'"))
        step("search.runs.filter.batch_param", lambda: runs(ab, "params.p149 = 'v149'"))
        for name, order in (("metric_asc", ["metrics.loss ASC"]),
                            ("metric_desc", ["metrics.loss DESC"]),
                            ("metric_special", ["metrics.m DESC"]),
                            ("param", ["params.lr DESC"]),
                            ("tag", ["tags.team"]),
                            ("start_time", ["attributes.start_time ASC"]),
                            ("end_time", ["attributes.end_time DESC"]),
                            ("run_name", ["attributes.run_name DESC"]),
                            ("status", ["attributes.status", "attributes.run_name"]),
                            ("slash_key", ["metrics.`batch/loss`"]),
                            ("two_keys", ["tags.team DESC", "start_time ASC"])):
            step(f"search.runs.order.{name}", lambda order=order: runs(ab, order_by=order))
        step("search.runs.paged", lambda: [self.run_refs(p) for p in self.paged(
            lambda token: client.search_runs([ids["a"], ids["b"]], max_results=3,
                                             page_token=token))])
        step("search.runs.paged.filtered", lambda: [self.run_refs(p) for p in self.paged(
            lambda token: client.search_runs(
                [ids["a"], ids["b"]], "attributes.status = 'FINISHED'", max_results=2,
                order_by=["attributes.run_name"], page_token=token))])
        step("search.runs.fluent.list", lambda: self.run_refs(mlflow.search_runs(
            [ids["a"]], output_format="list")))
        step("search.runs.fluent.names", lambda: self.run_refs(mlflow.search_runs(
            experiment_names=["compat-b"], output_format="list", order_by=["run_name"])))
        step("search.runs.fluent.all_experiments", lambda: self.run_refs(mlflow.search_runs(
            search_all_experiments=True, output_format="list",
            filter_string="attributes.run_name LIKE 'client-%'")))
        step("search.runs.fluent.pandas", lambda: self.frame(mlflow.search_runs(
            [ids["a"]], filter_string="attributes.run_name LIKE 'fluent-%'",
            order_by=["attributes.run_name"])))
        for name, kwargs in (("bad_comparator", {"filter_string": "metrics.m >> 1"}),
                             ("bad_entity", {"filter_string": "foo.m = 1"}),
                             ("metric_string", {"filter_string": "metrics.m = 'abc'"}),
                             ("param_number", {"filter_string": "params.lr = 0.01"}),
                             ("unbalanced", {"filter_string": "params.lr = '0.01"}),
                             ("or", {"filter_string": "params.lr = '1' OR params.lr = '2'"}),
                             ("bad_order", {"order_by": ["metrics.m SIDEWAYS"]}),
                             ("bad_order_entity", {"order_by": ["foo.m"]}),
                             ("too_many", {"max_results": 50001}),
                             ("bad_token", {"page_token": "not-a-token"})):
            step(f"search.runs.error.{name}", lambda kwargs=kwargs: runs(ab, **kwargs))
        step("search.runs.error.missing_experiment",
             lambda: self.run_refs(client.search_runs(["123456789"])))

    def frame(self, df: Any) -> Any:
        """A pandas frame from ``mlflow.search_runs`` as sorted columns and normalized rows."""
        columns = sorted(df.columns)
        rows = []
        for row in df.to_dict("records"):
            out = {}
            for column in columns:
                value = row[column]
                if hasattr(value, "value") and type(value).__name__ == "Timestamp":
                    value = int(value.value // 1_000_000)
                elif value is not None and type(value).__name__ in ("NaTType",):
                    value = None
                elif hasattr(value, "item"):  # numpy scalar
                    value = value.item()
                if column == "experiment_id":
                    value = self.exp_id(value)
                out[column] = self.norm(value)
            rows.append(out)
        return {"columns": columns, "rows": rows}

    def lifecycle(self) -> None:
        from mlflow.entities import Metric

        mlflow, client, step, ids = self.mlflow, self.client, self.step, self.ids
        c3 = lambda: ids["c3"]  # noqa: E731
        step("life.run.delete", lambda: client.delete_run(c3()))
        step("life.run.deleted.get", lambda: client.get_run(c3()).info)
        step("life.run.deleted.log_metric", lambda: client.log_metric(c3(), "m", 1.0))
        step("life.run.deleted.log_param", lambda: client.log_param(c3(), "p", "1"))
        step("life.run.deleted.set_tag", lambda: client.set_tag(c3(), "t", "1"))
        step("life.run.deleted.delete_tag", lambda: client.delete_tag(c3(), "mlflow.runName"))
        step("life.run.deleted.log_batch",
             lambda: client.log_batch(c3(), metrics=[Metric("m", 1.0, T, 0)]))
        step("life.run.deleted.update", lambda: client.update_run(c3(), status="FINISHED"))
        step("life.run.deleted.history", lambda: client.get_metric_history(c3(), "m"))
        step("life.run.deleted.search", lambda: {
            view: self.run_refs(client.search_runs([ids["b"]], run_view_type=v))
            for view, v in (("active", 1), ("deleted", 2), ("all", 3))})
        step("life.run.delete_again", lambda: client.delete_run(c3()))
        step("life.run.restore", lambda: client.restore_run(c3()))
        step("life.run.restored.get", lambda: client.get_run(c3()).info)
        step("life.run.restore_again", lambda: client.restore_run(c3()))
        step("life.run.delete.missing", lambda: client.delete_run(MISSING_RUN))
        step("life.run.restore.missing", lambda: client.restore_run(MISSING_RUN))
        step("life.run.fluent_delete", lambda: mlflow.delete_run(ids["killed"]))
        step("life.run.fluent_delete.get", lambda: client.get_run(ids["killed"]).info)

        c = lambda: ids["c"]  # noqa: E731
        step("life.exp.with_runs.delete", lambda: client.delete_experiment(c()))
        step("life.exp.with_runs.run", lambda: client.get_run(ids["c4"]).info)
        step("life.exp.with_runs.search", lambda: {
            view: self.run_refs(client.search_runs([c()], run_view_type=v))
            for view, v in (("active", 1), ("deleted", 2), ("all", 3))})
        step("life.exp.with_runs.log", lambda: client.log_metric(ids["c4"], "m", 1.0))
        step("life.exp.with_runs.restore", lambda: client.restore_experiment(c()))
        step("life.exp.with_runs.run_restored", lambda: client.get_run(ids["c4"]).info)
        step("life.exp.default.delete", lambda: client.delete_experiment("0"))
        step("life.exp.default.get", lambda: client.get_experiment("0").lifecycle_stage)
        step("life.exp.default.restore", lambda: client.restore_experiment("0"))
        step("life.exp.final", lambda: sorted(
            (self.exp_id(e.experiment_id), e.name, e.lifecycle_stage)
            for e in client.search_experiments(view_type=3)))

    def letter_case(self) -> None:
        """Names and keys that differ only in letter case are different names and keys."""
        client, step, ids = self.client, self.step, self.ids
        parent = lambda: ids["parent"]  # noqa: E731

        def create() -> Any:
            return self.exp_id(self.exp("COMPAT-A", client.create_experiment("COMPAT-A")))

        step("case.exp.create", create)
        step("case.exp.by_name", lambda: [
            [self.exp_id(e.experiment_id), e.name] if e else None
            for e in (client.get_experiment_by_name(n) for n in ("COMPAT-A", "compat-a"))])
        step("case.param", lambda: client.log_param(parent(), "LR", "0.5"))
        step("case.tag", lambda: client.set_tag(parent(), "TEAM", "upper"))
        step("case.metric", lambda: client.log_metric(parent(), "LOSS", 9.0, T, 0))

        def seen() -> Any:
            data = client.get_run(parent()).data
            pick = lambda d, *keys: {k: d.get(k) for k in keys}  # noqa: E731
            return {"params": pick(data.params, "lr", "LR"),
                    "tags": pick(data.tags, "team", "TEAM"),
                    "metrics": pick(data.metrics, "loss", "LOSS")}

        step("case.run", seen)
        step("case.search.param", lambda: self.run_refs(client.search_runs(
            [ids["a"]], "params.LR = '0.5'")))
        step("case.search.name", lambda: self.exp_refs(client.search_experiments(
            filter_string="name = 'COMPAT-A'")))

    def raw_http(self) -> None:
        """A few requests as bytes on the wire: the HTTP status and the body's error code."""
        import requests

        base = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow"
        ids = self.ids

        def call(method: str, path: str, **kwargs: Any) -> Any:
            response = requests.request(method, base + path, timeout=60, **kwargs)
            try:
                body = response.json()
            except ValueError:
                return {"status": response.status_code, "json": False}
            out: dict[str, Any] = {"status": response.status_code, "json": True}
            if isinstance(body, dict) and "error_code" in body:
                out["error_code"] = body["error_code"]
                self.messages[f"raw:{method} {path}"] = self.text(str(body.get("message")))
            return out

        step = self.step
        step("raw.get_run.missing",
             lambda: call("GET", "/runs/get", params={"run_id": MISSING_RUN}), raw=True)
        step("raw.get_experiment_by_name.missing", lambda: call(
            "GET", "/experiments/get-by-name", params={"experiment_name": "nope"}), raw=True)
        step("raw.search_runs.bad_filter", lambda: call(
            "POST", "/runs/search", json={"experiment_ids": [ids["a"]],
                                          "filter": "metrics.m >> 1"}), raw=True)
        step("raw.log_metric.deleted_run", lambda: [
            call("POST", "/runs/delete", json={"run_id": ids["c5"]}),
            call("POST", "/runs/log-metric", json={
                "run_id": ids["c5"], "key": "m", "value": 1.0, "timestamp": T, "step": 0})],
            raw=True)
        step("raw.log_batch.too_many_metrics", lambda: call(
            "POST", "/runs/log-batch", json={"run_id": ids["c1"], "metrics": [
                {"key": "over", "value": 1.0, "timestamp": T, "step": s} for s in range(1001)]}),
             raw=True)
        step("raw.get_history.zero_max_results", lambda: call(
            "GET", "/metrics/get-history",
            params={"run_id": ids["c1"], "metric_key": "m", "max_results": 0}), raw=True)
        step("raw.search_experiments.no_max_results",
             lambda: call("POST", "/experiments/search", json={}), raw=True)
        step("raw.create_run.no_content_type", lambda: call(
            "POST", "/runs/create", data=json.dumps({"experiment_id": ids["a"]})), raw=True)
        step("raw.create_experiment.missing_name",
             lambda: call("POST", "/experiments/create", json={}), raw=True)
        step("raw.unknown_path", lambda: call("GET", "/no/such/endpoint"), raw=True)
        step("raw.wrong_method", lambda: call("GET", "/runs/create"), raw=True)


def play_and_record(scenario: Scenario, out_path: str, version: int) -> int:
    """Play *scenario*, then write its record (also what it got to, when it fails)."""
    try:
        scenario.play()
    finally:
        with open(out_path, "w", encoding="utf-8") as out:
            json.dump({"version": version, "record": scenario.record,
                       "messages": scenario.messages, "timings": scenario.timings}, out,
                      ensure_ascii=False, indent=1, allow_nan=False)
    return 0


def main(argv: list[str]) -> int:
    out_path, artifact_root = argv[1], argv[2]
    return play_and_record(Scenario(artifact_root), out_path, RECORD_VERSION)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
