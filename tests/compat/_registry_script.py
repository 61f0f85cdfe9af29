"""One scenario of the unmodified ``mlflow`` client's model-registry calls, as a record.

Run as a script, in a process of its own, like ``_client_script.py``::

    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python _registry_script.py OUT.json ARTIFACT_ROOT

It drives the server's model registry through ``mlflow.MlflowClient`` (registry URI = tracking
URI = the server) and a few raw HTTP requests: registered models (create, get, update, rename,
tags, delete), model versions (create from several kinds of source, get, update, stages with and
without archiving, tags, download URIs, delete), aliases, ``get_latest_versions``,
``search_registered_models`` and ``search_model_versions`` (filters, orders, every page), copies
(``models:/<name>/<version>``, ``/<stage>`` and ``@<alias>`` sources, ``copy_model_version``),
and the errors of each. MLflow 3's logged models are not used (no ``mlflow.register_model``, no
``model_id``, no ``models:/<model_id>`` source). What must be refused is tried on models of its
own, deleted right after, so that a server accepting it changes those steps only.

It writes ``{"version", "record", "messages", "timings"}`` to OUT.json, as ``_client_script.py``
does, normalized so that two servers doing the same thing give equal records:

* A server timestamp (``creation_timestamp``, ``last_updated_timestamp``) becomes ``"@<step>"``:
  the name of the step during which the server took it. Steps never share a millisecond of the
  clock (the scenario waits 2 ms between two), so this records exactly which call created or last
  updated each thing: relative order, without the clock.
* Run and experiment ids become ``run:<label>``/``exp:<label>``, the server's artifact root
  ``<root>``, its URL ``<server>`` and its port ``<port>``, wherever they appear (messages too).
* An error is recorded as ``{"error": ERROR_CODE, "message": MESSAGE}``, the message as the
  client shows it (``"CODE: text"`` from the server) with those replacements, a Python set in
  it sorted (its order is the server process's string hashing), and what a database driver
  appended to it (``Error: (sqlite3.IntegrityError) ...``) cut to ``Error: <database error>``.
  A 500 is recorded as the client reports it at once (``MLFLOW_HTTP_REQUEST_MAX_RETRIES=0``):
  INTERNAL_ERROR, "too many 500 error responses".
* Tags are dicts, aliases sorted, ``latest_versions`` by version (their order is the database's
  row order in MLflow). Searches record the order they answered.
* A raw request is recorded as its status and JSON body, timestamps and ids as above, an error
  body as its ``error_code`` and ``message`` (MLflow >= 3.16 also sends ``error_class`` and
  ``sqlstate``, which its client derives from the error code when they are absent).

The scenario only uses the standard library, ``mlflow`` and ``requests`` (an ``mlflow``
dependency), and the helpers of ``_client_script.py``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

if __package__:
    from ._client_script import MISSING_RUN, RUN_ID, Scenario, T, now_ms, play_and_record
else:  # run as a script: its directory is on sys.path
    from _client_script import MISSING_RUN, RUN_ID, Scenario, T, now_ms, play_and_record

RECORD_VERSION = 1
STEP_GAP = 0.002  # seconds between two steps: their windows never share a millisecond
#: ``create_model_version`` waits for a PENDING_REGISTRATION version to become READY; a server
#: that answered another status would make each creation wait (MLflow's default is 300 s).
AWAIT_CREATION = 3

ALPHA, BETA, GAMMA, GAMMA2 = "compat-alpha", "compat-beta", "compat-gamma", "compat-gamma-2"
DELTA, EMPTY, UNICODE = "other-delta", "compat-empty", "ünï ☃ model"
COPY, MANY = "compat-copy", "compat-many"
#: Models that only take what must be refused, deleted right after: a server that accepts
#: something it should refuse changes the steps that refuse, not every later one.
REFUSED, REFUSED_COPY = "compat-refused", "compat-refused-copy"
MISSING_MODEL = "no-such-model"
BUCKET = "s3://compat-bucket"
#: What MLflow's SQL store appends to a message from the database driver's exception.
_DB_ERROR = re.compile(r"(Error: )(?=[\s\S]*(?:IntegrityError|\[SQL: |sqlalche\.me))[\s\S]*")
_PORT = re.compile(r"port=\d+")
#: A Python set in a message (``Valid keys are '{'name', 'timestamp'}'``): its order is the
#: process's string hashing.
_SET = re.compile(r"\{'[^'{}]*'(?:, '[^'{}]*')+\}")


class RegistryScenario(Scenario):
    def __init__(self, artifact_root: str) -> None:
        super().__init__(artifact_root)
        self.server = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
        self.windows: list[tuple[int, int, str]] = []  # (first ms, last ms, step) of each step
        self.current: tuple[int, str] | None = None  # the step running: (first ms, name)
        self.unordered = False

    # -- normalization ----------------------------------------------------------------------

    def stamp(self, value: Any) -> Any:
        """A server timestamp as the step during which it was taken (see the module doc)."""
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return f"str:{self.stamp(int(value))}"  # a number sent as a JSON string
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            return value
        if self.current is not None and self.current[0] <= value <= now_ms():
            return "@" + self.current[1]
        for first, last, name in reversed(self.windows):
            if first <= value <= last:
                return "@" + name
        return "<outside every step>" if abs(value - now_ms()) < 86_400_000 else value

    def scrub(self, text: str) -> str:
        """Ids, paths and the server's address in a message or value, as labels."""
        root = self.artifact_root

        def located(match: re.Match[str]) -> str:
            rest = match.group(2)
            if rest:
                parts = rest.split("/")
                parts[1] = self.exp_labels.get(parts[1], parts[1])
                rest = "/".join(parts)
            return "<root>" + rest

        text = re.sub(rf"(file://)?{re.escape(root)}(/[^/\s'\"]+)?", located, text)
        text = text.replace(self.server, "<server>")
        text = _PORT.sub("port=<port>", text)
        text = _SET.sub(lambda m: "{" + ", ".join(sorted(m.group(0)[1:-1].split(", "))) + "}",
                        text)
        return RUN_ID.sub(lambda m: self.run_labels.get(m.group(0), m.group(0)), text)

    def text(self, value: str) -> str:
        return self.scrub(value)

    def norm(self, value: Any) -> Any:
        from mlflow.entities.model_registry import ModelVersion, RegisteredModel

        if isinstance(value, RegisteredModel):
            return {
                "name": value.name,
                "creation_timestamp": self.stamp(value.creation_timestamp),
                "last_updated_timestamp": self.stamp(value.last_updated_timestamp),
                "description": self.norm(value.description),
                "tags": {k: self.norm(v) for k, v in sorted(value._tags.items())},
                "aliases": {k: self.norm(v) for k, v in sorted(value.aliases.items())},
                "latest_versions": sorted((self.norm(v) for v in value.latest_versions),
                                          key=lambda v: int(v["version"])),
                "deployment_job_id": self.norm(value.deployment_job_id),
                "deployment_job_state": self.norm(value.deployment_job_state)}
        if isinstance(value, ModelVersion):
            return {
                "name": value.name, "version": self.norm(value.version),
                "creation_timestamp": self.stamp(value.creation_timestamp),
                "last_updated_timestamp": self.stamp(value.last_updated_timestamp),
                "description": self.norm(value.description),
                "user_id": self.norm(value.user_id),
                "current_stage": value.current_stage, "source": self.norm(value.source),
                "run_id": self.norm(value.run_id), "run_link": self.norm(value.run_link),
                "status": value.status, "status_message": self.norm(value.status_message),
                "tags": {k: self.norm(v) for k, v in sorted(value._tags.items())},
                "aliases": sorted(self.norm(a) for a in value.aliases),
                "model_id": self.norm(value.model_id),
                "deployment_job_state": self.norm(value.deployment_job_state)}
        return super().norm(value)

    def body(self, value: Any, key: str = "") -> Any:
        """A JSON body as the server sent it, normalized (timestamps, ids, paths; tags, aliases
        and latest versions sorted, as their order is the database's)."""
        if isinstance(value, dict):
            return {k: self.body(v, k) for k, v in sorted(value.items())}
        if isinstance(value, list):
            items = [self.body(v) for v in value]
            if key in ("tags", "aliases", "latest_versions") or (
                    key == "model_versions" and self.unordered):
                items.sort(key=lambda v: (v.get("name"), int(v.get("version", 0)))
                           if isinstance(v, dict) and "version" in v
                           else json.dumps(v, sort_keys=True, ensure_ascii=False))
            return items
        if key.endswith("_timestamp"):
            return self.stamp(value)
        if isinstance(value, str):
            return self.scrub(value)
        return value

    def versions(self, found: Iterable[Any]) -> list[str]:
        """Model versions as ``name/version``, in the order given (a search's answer)."""
        return [f"{v.name}/{v.version}" for v in found]

    def models(self, found: Iterable[Any]) -> list[str]:
        return [m.name for m in found]

    # -- steps ------------------------------------------------------------------------------

    def step(self, name: str, action: Callable[[], Any], *, raw: bool = False) -> Any:
        """Run *action* in a window of the clock of its own; record its normalized answer, or
        its error as ``{"error", "message"}``."""
        from mlflow.exceptions import MlflowException

        assert name not in self.record, name
        time.sleep(STEP_GAP)
        first = now_ms()
        self.current = (first, name)
        started = time.perf_counter()
        try:
            value = action()
        except MlflowException as exc:
            message = _DB_ERROR.sub(r"\1<database error>", self.scrub(str(exc.message)))
            self.record[name] = {"error": exc.error_code, "message": message}
            self.messages[name] = message[:600]
            return None
        except Exception as exc:
            self.record[name] = {"exception": type(exc).__name__}
            self.messages[name] = self.scrub(f"{type(exc).__name__}: {exc}")[:600]
            return None
        finally:
            self.timings[name] = round(time.perf_counter() - started, 4)
            self.windows.append((first, now_ms(), name))
            self.current = None
        self.record[name] = value if raw else self.norm(value)
        return value

    def http(self, method: str, path: str, *, unordered: bool = False, **kwargs: Any) -> Any:
        """A raw request to the REST API: its status, whether the body is JSON, and the body
        (normalized; its ``model_versions`` sorted when *unordered*: latest versions)."""
        import requests

        self.unordered = unordered
        response = requests.request(method, f"{self.server}/api/2.0/mlflow{path}", timeout=60,
                                    **kwargs)
        try:
            body = response.json()
        except ValueError:
            return {"status": response.status_code, "json": False}
        if isinstance(body, dict) and "error_code" in body:
            # MLflow >= 3.16 adds error_class and sqlstate, which the client derives from the
            # error code when they are absent: not compared (nor by test_mlflow_client_server)
            body = {"error_code": body["error_code"], "message": _DB_ERROR.sub(
                r"\1<database error>", str(body.get("message")))}
        return {"status": response.status_code, "json": True, "body": self.body(body)}

    # -- the scenario -----------------------------------------------------------------------

    def play(self) -> None:
        self.setup()
        self.registered_models()
        self.model_versions()
        self.stages()
        self.latest_versions()
        self.download_uris()
        self.version_tags()
        self.aliases()
        self.deleting_versions()
        self.renaming()
        self.deleting_models()
        self.searching_models()
        self.searching_versions()
        self.raw_http()
        self.copies()
        self.many_versions()
        self.the_end()

    def setup(self) -> None:
        client, step = self.client, self.step

        def experiment() -> Any:
            return self.exp_id(self.exp("reg", client.create_experiment("registry-compat")))

        step("setup.experiment", experiment)

        def run(label: str, start: int) -> Any:
            created = client.create_run(self.ids["reg"], start_time=start,
                                        run_name=f"reg-{label}")
            self.run(label, created.info.run_id)
            self.ids[f"{label}.artifacts"] = created.info.artifact_uri
            return {"run": self.norm(created.info.run_id),
                    "artifact_uri": self.norm(created.info.artifact_uri)}

        for n, label in enumerate(("r1", "r2", "r3")):
            step(f"setup.run.{label}", lambda label=label, n=n: run(label, T + 1000 * n))

    def registered_models(self) -> None:
        client, step = self.client, self.step
        create = client.create_registered_model
        step("rm.create.alpha", lambda: create(ALPHA, tags={"team": "vision", "prio": 1},
                                               description="the first ☃"))
        step("rm.create.beta", lambda: create(BETA, tags={"team": "nlp"}, description="second"))
        step("rm.create.gamma", lambda: create(GAMMA))
        step("rm.create.delta", lambda: create(DELTA, tags={"team": "vision", "env": "prod"}))
        step("rm.create.empty", lambda: create(EMPTY, description=""))
        step("rm.create.unicode", lambda: create(UNICODE, tags={"team": "vision", "lang": "ünï"},
                                                 description="ünïcödé ☃"))
        step("rm.create.duplicate", lambda: create(ALPHA))
        step("rm.create.duplicate_with_tags", lambda: create(BETA, tags={"x": "y"}))
        step("rm.create.empty_name", lambda: create(""))
        step("rm.create.blank_name", lambda: create("   "))
        step("rm.create.slash", lambda: create("a/b"))
        step("rm.create.colon", lambda: create("a:b"))
        step("rm.create.bad_tag_key", lambda: create("compat-bad-tag", tags={"bad!key": "x"}))

        def bad_tag_created() -> Any:
            made = client.get_registered_model("compat-bad-tag")
            client.delete_registered_model("compat-bad-tag")  # not to be found by searches
            return made

        step("rm.create.bad_tag_created", bad_tag_created)

        step("rm.get.alpha", lambda: client.get_registered_model(ALPHA))
        step("rm.get.unicode", lambda: client.get_registered_model(UNICODE))
        step("rm.get.empty", lambda: client.get_registered_model(EMPTY))
        step("rm.get.missing", lambda: client.get_registered_model(MISSING_MODEL))
        step("rm.get.case", lambda: client.get_registered_model(ALPHA.upper()))

        step("rm.update.description", lambda: client.update_registered_model(
            BETA, description="second, updated ☃"))
        step("rm.update.get", lambda: client.get_registered_model(BETA))
        step("rm.update.clear", lambda: client.update_registered_model(ALPHA))
        step("rm.update.cleared", lambda: client.get_registered_model(ALPHA).description)
        step("rm.update.restore", lambda: client.update_registered_model(
            ALPHA, description="the first ☃"))
        step("rm.update.missing", lambda: client.update_registered_model(
            MISSING_MODEL, description="x"))

        tag = client.set_registered_model_tag
        step("rm.tag.set", lambda: tag(ALPHA, "stage", "dev"))
        step("rm.tag.overwrite", lambda: tag(ALPHA, "prio", "2"))
        step("rm.tag.unicode", lambda: tag(ALPHA, "note", "ünï ☃"))
        step("rm.tag.empty_value", lambda: tag(ALPHA, "empty", ""))
        step("rm.tag.number", lambda: tag(ALPHA, "count", 3))
        step("rm.tag.after_set", lambda: client.get_registered_model(ALPHA))
        step("rm.tag.delete", lambda: client.delete_registered_model_tag(ALPHA, "stage"))
        step("rm.tag.delete_missing_key",
             lambda: client.delete_registered_model_tag(ALPHA, "never-set"))
        step("rm.tag.after_delete", lambda: client.get_registered_model(ALPHA))
        step("rm.tag.gamma", lambda: tag(GAMMA, "owner", "me"))
        step("rm.tag.missing_model", lambda: tag(MISSING_MODEL, "k", "v"))
        step("rm.tag.delete.missing_model",
             lambda: client.delete_registered_model_tag(MISSING_MODEL, "k"))
        step("rm.tag.bad_key", lambda: tag(ALPHA, "bad!key", "x"))
        step("rm.tag.dotdot_key", lambda: tag(ALPHA, "a/../b", "x"))

    def create_version(self, name: str, source: str, **kwargs: Any) -> Any:
        return self.client.create_model_version(name, source,
                                                await_creation_for=AWAIT_CREATION, **kwargs)

    def model_versions(self) -> None:
        client, step, ids = self.client, self.step, self.ids
        new = self.create_version
        r1, r2, r3 = (lambda label=label: ids[label] for label in ("r1", "r2", "r3"))
        step("mv.create.alpha.1", lambda: new(
            ALPHA, f"runs:/{r1()}/model", run_id=r1(), tags={"k": "v", "stage": "cand"},
            run_link="https://example.com/runs/1", description="v1 ☃"))
        step("mv.create.alpha.2", lambda: new(ALPHA, f"{BUCKET}/alpha/2", run_id=r2(),
                                              tags={"k": "w"}))
        step("mv.create.alpha.3", lambda: new(ALPHA, f"{ids['r1.artifacts']}/model",
                                              run_id=r1(), description="local"))
        step("mv.create.alpha.4", lambda: new(ALPHA, "gs://compat-bucket/alpha/4"))
        step("mv.create.beta.1", lambda: new(BETA, f"{BUCKET}/beta/1", run_id=r2(),
                                             tags={"k": "v"}))
        step("mv.create.beta.2", lambda: new(BETA, f"{BUCKET}/beta/2", run_id=r3()))
        step("mv.create.gamma.1", lambda: new(GAMMA, f"{BUCKET}/gamma/1", run_id=r3(),
                                              description="g1"))
        step("mv.create.gamma.2", lambda: new(GAMMA, f"runs:/{r3()}/gamma", run_id=r3()))
        step("mv.create.delta.1", lambda: new(DELTA, f"{BUCKET}/delta/1", run_id=MISSING_RUN))
        step("mv.create.unicode.1", lambda: new(UNICODE, f"{BUCKET}/ünï ☃/1",
                                                tags={"note": "ünï ☃"}))
        step("mv.create.after", lambda: client.get_registered_model(ALPHA))

        step("mv.create.missing_model", lambda: new(MISSING_MODEL, f"{BUCKET}/x"))
        step("mv.create.bad_name", lambda: new("a/b", f"{BUCKET}/x"))
        self.refused_sources()

        get = client.get_model_version
        step("mv.get.alpha.1", lambda: get(ALPHA, "1"))
        step("mv.get.alpha.3", lambda: get(ALPHA, "3"))
        step("mv.get.int_version", lambda: get(ALPHA, 2))
        step("mv.get.unicode", lambda: get(UNICODE, "1"))
        step("mv.get.missing_version", lambda: get(ALPHA, "99"))
        step("mv.get.version_zero", lambda: get(ALPHA, "0"))
        step("mv.get.bad_version", lambda: get(ALPHA, "abc"))
        step("mv.get.float_version", lambda: get(ALPHA, "1.0"))
        step("mv.get.missing_model", lambda: get(MISSING_MODEL, "1"))

        update = client.update_model_version
        step("mv.update.description", lambda: update(ALPHA, "2", description="second ☃"))
        step("mv.update.clear", lambda: update(ALPHA, "1", description=None))
        step("mv.update.cleared", lambda: get(ALPHA, "1"))
        step("mv.update.empty", lambda: update(BETA, "2", description=""))
        step("mv.update.emptied", lambda: get(BETA, "2"))
        step("mv.update.missing", lambda: update(ALPHA, "99", description="x"))
        step("mv.update.missing_model", lambda: update(MISSING_MODEL, "1", description="x"))
        step("mv.update.model_after", lambda: client.get_registered_model(ALPHA))

    def refused_sources(self) -> None:
        """Sources mlflow server refuses (``_validate_source_run``), on a model of their own."""
        client, step, ids = self.client, self.step, self.ids
        r1, r2 = (lambda label=label: ids[label] for label in ("r1", "r2"))

        def new(source: str, **kwargs: Any) -> Any:
            return self.create_version(REFUSED, source, **kwargs)

        step("mv.refused.model", lambda: client.create_registered_model(REFUSED).name)
        step("mv.refused.empty_source", lambda: new(""))
        step("mv.refused.local_without_run", lambda: new("/nonexistent/model"))
        step("mv.refused.local_outside_run", lambda: new(
            f"{self.artifact_root}/elsewhere/model", run_id=r1()))
        step("mv.refused.local_other_run", lambda: new(
            f"{ids['r1.artifacts']}/model", run_id=r2()))
        step("mv.refused.local_missing_run", lambda: new(
            f"{ids['r1.artifacts']}/model", run_id=MISSING_RUN))
        step("mv.refused.relative", lambda: new(f"{BUCKET}/a/../b"))
        step("mv.refused.encoded_relative", lambda: new(f"{BUCKET}/a/%2E%2E/b"))
        step("mv.refused.runs_mismatch", lambda: new(f"runs:/{r1()}/model", run_id=r2()))
        step("mv.refused.runs_without_run_id", lambda: new(f"runs:/{r1()}/model"))
        step("mv.refused.host_addressed", lambda: new("http://example.com/model"))
        step("mv.refused.bad_tag_key", lambda: new(f"{BUCKET}/x", tags={"bad!key": "x"}))
        step("mv.refused.none_made", lambda: self.versions(client.search_model_versions(
            f"name = '{REFUSED}'", order_by=["version_number ASC"])))
        step("mv.refused.delete", lambda: client.delete_registered_model(REFUSED))

    def stages(self) -> None:
        client, step = self.client, self.step
        move = client.transition_model_version_stage
        get = client.get_model_version
        step("st.staging", lambda: move(ALPHA, "1", "Staging"))
        step("st.staging_archiving", lambda: move(ALPHA, "2", "staging",
                                                  archive_existing_versions=True))
        step("st.archived_by_staging", lambda: get(ALPHA, "1"))
        step("st.production", lambda: move(ALPHA, "3", "Production"))
        step("st.beta.production.1", lambda: move(BETA, "1", "Production"))
        step("st.beta.production.2", lambda: move(BETA, "2", "PRODUCTION"))
        step("st.beta.both", lambda: [get(BETA, v) for v in ("1", "2")])
        step("st.production_archiving", lambda: move(ALPHA, "4", "Production",
                                                     archive_existing_versions=True))
        step("st.archived_by_production", lambda: get(ALPHA, "3"))
        step("st.untouched_by_production", lambda: get(ALPHA, "2"))
        step("st.beta.none", lambda: move(BETA, "2", "None"))
        step("st.gamma.archived", lambda: move(GAMMA, "1", "Archived"))
        step("st.same_stage_archiving", lambda: move(ALPHA, "2", "Staging",
                                                     archive_existing_versions=True))
        step("st.model_after", lambda: client.get_registered_model(ALPHA))
        step("st.invalid", lambda: move(ALPHA, "1", "Sideways"))
        step("st.archive_to_archived", lambda: move(ALPHA, "1", "Archived",
                                                    archive_existing_versions=True))
        step("st.archive_to_none", lambda: move(ALPHA, "1", "None",
                                                archive_existing_versions=True))
        step("st.empty", lambda: move(ALPHA, "1", ""))
        step("st.missing_version", lambda: move(ALPHA, "99", "Staging"))
        step("st.missing_model", lambda: move(MISSING_MODEL, "1", "Staging"))
        step("st.bad_version", lambda: move(ALPHA, "abc", "Staging"))
        step("st.unchanged", lambda: [get(ALPHA, v) for v in ("1", "2", "3", "4")])

    def latest_versions(self) -> None:
        client, step = self.client, self.step

        def latest(name: str, stages: list[str] | None = None) -> Any:
            found = client.get_latest_versions(name, stages)
            return sorted((self.norm(v) for v in found), key=lambda v: int(v["version"]))

        step("latest.all", lambda: latest(ALPHA))
        step("latest.empty_list", lambda: latest(ALPHA, []))
        step("latest.production", lambda: latest(ALPHA, ["Production"]))
        step("latest.staging_and_none", lambda: latest(ALPHA, ["Staging", "None"]))
        step("latest.lowercase", lambda: latest(BETA, ["production", "none"]))
        step("latest.archived", lambda: latest(ALPHA, ["Archived"]))
        step("latest.gamma", lambda: latest(GAMMA))
        step("latest.no_versions", lambda: latest(EMPTY))
        step("latest.invalid_stage", lambda: latest(ALPHA, ["Sideways"]))
        step("latest.missing_model", lambda: latest(MISSING_MODEL))

    def download_uris(self) -> None:
        uri, step = self.client.get_model_version_download_uri, self.step
        step("uri.runs", lambda: uri(ALPHA, "1"))
        step("uri.s3", lambda: uri(ALPHA, "2"))
        step("uri.local", lambda: uri(ALPHA, "3"))
        step("uri.gs", lambda: uri(ALPHA, "4"))
        step("uri.unicode", lambda: uri(UNICODE, "1"))
        step("uri.missing_version", lambda: uri(ALPHA, "99"))
        step("uri.missing_model", lambda: uri(MISSING_MODEL, "1"))

    def version_tags(self) -> None:
        client, step = self.client, self.step
        tag, untag = client.set_model_version_tag, client.delete_model_version_tag
        step("mvtag.set", lambda: tag(ALPHA, "2", "env", "staging"))
        step("mvtag.overwrite", lambda: tag(ALPHA, "2", "k", "w2"))
        step("mvtag.unicode", lambda: tag(ALPHA, "2", "note", "ünï ☃"))
        step("mvtag.number", lambda: tag(ALPHA, "2", "count", 7))
        step("mvtag.int_version", lambda: tag(ALPHA, 3, "local", "yes"))
        step("mvtag.after_set", lambda: client.get_model_version(ALPHA, "2"))
        step("mvtag.delete", lambda: untag(ALPHA, "2", "env"))
        step("mvtag.delete_missing_key", lambda: untag(ALPHA, "2", "never-set"))
        step("mvtag.after_delete", lambda: client.get_model_version(ALPHA, "2"))
        step("mvtag.gamma", lambda: tag(GAMMA, "1", "checked", "true"))
        step("mvtag.missing_version", lambda: tag(ALPHA, "99", "k", "v"))
        step("mvtag.delete.missing_version", lambda: untag(ALPHA, "99", "k"))
        step("mvtag.missing_model", lambda: tag(MISSING_MODEL, "1", "k", "v"))
        step("mvtag.bad_version", lambda: tag(ALPHA, "abc", "k", "v"))
        step("mvtag.bad_key", lambda: tag(ALPHA, "2", "bad!key", "v"))
        step("mvtag.model_after", lambda: client.get_registered_model(ALPHA))

    def aliases(self) -> None:
        client, step = self.client, self.step
        alias, by_alias = client.set_registered_model_alias, client.get_model_version_by_alias
        step("alias.set.champion", lambda: alias(ALPHA, "champion", "4"))
        step("alias.set.challenger", lambda: alias(ALPHA, "challenger", "2"))
        step("alias.set.second", lambda: alias(ALPHA, "prod-2024_x", 2))
        step("alias.set.doomed", lambda: alias(ALPHA, "doomed", "4"))
        step("alias.set.beta", lambda: alias(BETA, "champion", "1"))
        step("alias.set.gamma", lambda: alias(GAMMA, "stable", "1"))
        step("alias.set.unicode_model", lambda: alias(UNICODE, "first", "1"))
        step("alias.by_alias.champion", lambda: by_alias(ALPHA, "champion"))
        step("alias.by_alias.challenger", lambda: by_alias(ALPHA, "challenger"))
        step("alias.by_alias.beta", lambda: by_alias(BETA, "champion"))
        step("alias.model", lambda: client.get_registered_model(ALPHA))
        step("alias.version", lambda: client.get_model_version(ALPHA, "2"))
        step("alias.move", lambda: alias(ALPHA, "champion", "2"))
        step("alias.moved.model", lambda: client.get_registered_model(ALPHA).aliases)
        step("alias.moved.old_version", lambda: client.get_model_version(ALPHA, "4"))
        step("alias.moved.new_version", lambda: by_alias(ALPHA, "champion"))
        step("alias.same_again", lambda: alias(ALPHA, "champion", "2"))
        step("alias.reserved.latest", lambda: alias(ALPHA, "latest", "1"))
        step("alias.reserved.latest_upper", lambda: alias(ALPHA, "LATEST", "1"))
        step("alias.reserved.v1", lambda: alias(ALPHA, "v1", "1"))
        step("alias.reserved.V12", lambda: alias(ALPHA, "V12", "1"))
        step("alias.not_reserved.v1x", lambda: alias(ALPHA, "v1x", "1"))
        step("alias.missing_version", lambda: alias(ALPHA, "ghost", "99"))
        step("alias.missing_model", lambda: alias(MISSING_MODEL, "ghost", "1"))
        step("alias.by_alias.latest", lambda: by_alias(ALPHA, "latest"))
        step("alias.by_alias.latest_mixed_case", lambda: by_alias(BETA, "Latest"))
        step("alias.by_alias.latest_no_versions", lambda: by_alias(EMPTY, "latest"))
        step("alias.by_alias.unknown", lambda: by_alias(ALPHA, "nope"))
        step("alias.by_alias.missing_model", lambda: by_alias(MISSING_MODEL, "champion"))
        step("alias.delete", lambda: client.delete_registered_model_alias(ALPHA, "v1x"))
        step("alias.delete.gone", lambda: by_alias(ALPHA, "v1x"))
        step("alias.delete.again", lambda: client.delete_registered_model_alias(ALPHA, "v1x"))
        step("alias.delete.missing_model",
             lambda: client.delete_registered_model_alias(MISSING_MODEL, "champion"))
        step("alias.after", lambda: client.get_registered_model(ALPHA))

    def deleting_versions(self) -> None:
        client, step = self.client, self.step
        get = client.get_model_version
        step("mvdel.delete", lambda: client.delete_model_version(ALPHA, "4"))
        step("mvdel.get", lambda: get(ALPHA, "4"))
        step("mvdel.alias_gone", lambda: client.get_model_version_by_alias(ALPHA, "doomed"))
        step("mvdel.model", lambda: client.get_registered_model(ALPHA))
        step("mvdel.latest", lambda: sorted(
            (self.norm(v) for v in client.get_latest_versions(ALPHA)),
            key=lambda v: int(v["version"])))
        step("mvdel.again", lambda: client.delete_model_version(ALPHA, "4"))
        step("mvdel.tag", lambda: client.set_model_version_tag(ALPHA, "4", "k", "v"))
        step("mvdel.transition", lambda: client.transition_model_version_stage(
            ALPHA, "4", "Staging"))
        step("mvdel.update", lambda: client.update_model_version(ALPHA, "4", "x"))
        step("mvdel.uri", lambda: client.get_model_version_download_uri(ALPHA, "4"))
        step("mvdel.set_alias", lambda: client.set_registered_model_alias(ALPHA, "x", "4"))
        step("mvdel.bad_version", lambda: client.delete_model_version(ALPHA, "abc"))
        step("mvdel.missing_model", lambda: client.delete_model_version(MISSING_MODEL, "1"))
        step("mvdel.next_number", lambda: self.create_version(ALPHA, f"{BUCKET}/alpha/5"))
        step("mvdel.latest_alias", lambda: client.get_model_version_by_alias(ALPHA, "latest"))
        step("mvdel.beta.1", lambda: client.delete_model_version(BETA, "1"))
        step("mvdel.beta.model", lambda: client.get_registered_model(BETA))

    def renaming(self) -> None:
        client, step = self.client, self.step
        rename = client.rename_registered_model
        step("rename", lambda: rename(GAMMA, GAMMA2))
        step("rename.get_new", lambda: client.get_registered_model(GAMMA2))
        step("rename.get_old", lambda: client.get_registered_model(GAMMA))
        step("rename.version", lambda: client.get_model_version(GAMMA2, "1"))
        step("rename.old_version", lambda: client.get_model_version(GAMMA, "1"))
        step("rename.alias", lambda: client.get_model_version_by_alias(GAMMA2, "stable"))
        step("rename.versions", lambda: self.versions(client.search_model_versions(
            f"name = '{GAMMA2}'")))
        step("rename.old_versions", lambda: self.versions(client.search_model_versions(
            f"name = '{GAMMA}'")))
        step("rename.latest", lambda: sorted(
            (self.norm(v) for v in client.get_latest_versions(GAMMA2)),
            key=lambda v: int(v["version"])))
        step("rename.to_existing", lambda: rename(GAMMA2, ALPHA))
        step("rename.to_existing.unchanged", lambda: [
            client.get_registered_model(n).name for n in (GAMMA2, ALPHA)])
        step("rename.missing", lambda: rename(MISSING_MODEL, "compat-x"))
        step("rename.bad_name", lambda: rename(BETA, "bad/name"))
        step("rename.empty", lambda: rename(BETA, ""))
        step("rename.same", lambda: rename(BETA, BETA))
        step("rename.same.get", lambda: client.get_registered_model(BETA))

    def deleting_models(self) -> None:
        client, step = self.client, self.step
        step("rmdel.delete", lambda: client.delete_registered_model(DELTA))
        step("rmdel.get", lambda: client.get_registered_model(DELTA))
        step("rmdel.version", lambda: client.get_model_version(DELTA, "1"))
        step("rmdel.versions", lambda: self.versions(client.search_model_versions(
            f"name = '{DELTA}'")))
        step("rmdel.again", lambda: client.delete_registered_model(DELTA))
        step("rmdel.recreate", lambda: client.create_registered_model(DELTA))
        step("rmdel.recreated_version", lambda: self.create_version(
            DELTA, f"{BUCKET}/delta/again", run_id=self.ids["r2"]))
        step("rmdel.recreated", lambda: client.get_registered_model(DELTA))

    def searching_models(self) -> None:
        client, step = self.client, self.step

        def search(filter_string: str | None = None, **kwargs: Any) -> Any:
            page = client.search_registered_models(filter_string, **kwargs)
            return {"names": self.models(page), "has_next": bool(page.token)}

        step("srm.default", search)
        step("srm.full", lambda: list(client.search_registered_models(
            f"name IN ('{ALPHA}', '{GAMMA2}')")))
        for name, flt in (
                ("name_eq", f"name = '{BETA}'"),
                ("name_eq_attribute", f"attributes.name = '{BETA}'"),
                ("name_eq_double_quotes", f'name = "{BETA}"'),
                ("name_neq", f"name != '{BETA}'"),
                ("name_like", "name LIKE 'compat-%'"),
                ("name_like_suffix", "name LIKE '%a'"),
                ("name_like_underscore", "name LIKE 'compat-_eta'"),
                ("name_like_case", "name LIKE 'COMPAT-%'"),
                ("name_ilike", "name ILIKE 'COMPAT-%'"),
                ("name_eq_case", f"name = '{ALPHA.upper()}'"),
                ("name_in", f"name IN ('{ALPHA}', '{DELTA}', 'nope')"),
                ("name_not_in", f"name NOT IN ('{ALPHA}', '{DELTA}')"),
                ("name_unicode", f"name = '{UNICODE}'"),
                ("name_unicode_like", "name LIKE '%☃%'"),
                ("tag_eq", "tags.team = 'vision'"),
                ("tag_neq", "tags.team != 'vision'"),
                ("tag_like", "tags.team LIKE 'v%'"),
                ("tag_ilike", "tags.team ILIKE 'V%'"),
                ("tag_backticks", "tags.`team` = 'nlp'"),
                ("tag_double_quoted_key", 'tags."team" = \'nlp\''),
                ("tag_unicode_value", "tags.lang = 'ünï'"),
                ("tag_and", "tags.team = 'vision' AND tags.prio = '2'"),
                ("tag_same_key_twice", "tags.team LIKE '%i%' AND tags.team != 'vision'"),
                ("name_and_tag", "name LIKE 'compat-%' AND tags.team = 'vision'"),
                ("tag_missing_key", "tags.nope = 'x'"),
                ("tag_renamed_model", "tags.owner = 'me'"),
                ("none", "name = 'nope'"),
                ("empty_string", "")):
            step(f"srm.filter.{name}", lambda flt=flt: search(flt))
        for name, order in (("name_desc", ["name DESC"]),
                            ("name_asc", ["name ASC"]),
                            ("last_updated_desc", ["last_updated_timestamp DESC"]),
                            ("last_updated_asc", ["last_updated_timestamp"]),
                            ("timestamp_desc", ["timestamp DESC"]),
                            ("two_keys", ["last_updated_timestamp ASC", "name DESC"])):
            step(f"srm.order.{name}", lambda order=order: search(order_by=order))
        step("srm.paged", lambda: [self.models(p) for p in self.paged(
            lambda token: client.search_registered_models(max_results=2, page_token=token))])
        step("srm.paged.filtered", lambda: [self.models(p) for p in self.paged(
            lambda token: client.search_registered_models(
                "name LIKE 'compat-%'", max_results=3, order_by=["name DESC"],
                page_token=token))])
        step("srm.paged.by_time", lambda: [self.models(p) for p in self.paged(
            lambda token: client.search_registered_models(
                max_results=4, order_by=["last_updated_timestamp DESC"], page_token=token))])
        step("srm.paged.exact", lambda: search(max_results=6))
        step("srm.paged.one", lambda: search(max_results=1))
        for name, kwargs in (("bad_comparator", {"filter_string": "name >> 'x'"}),
                             ("bad_attribute", {"filter_string": "run_id = 'x'"}),
                             ("timestamp_filter", {"filter_string": "creation_timestamp > 0"}),
                             ("or", {"filter_string": "name = 'a' OR name = 'b'"}),
                             ("unbalanced", {"filter_string": "name = 'a"}),
                             ("number_value", {"filter_string": "name = 1"}),
                             ("tag_in", {"filter_string": "tags.team IN ('vision')"}),
                             ("bad_entity", {"filter_string": "params.x = 'y'"}),
                             ("bad_order_key", {"order_by": ["foo"]}),
                             ("creation_order", {"order_by": ["creation_timestamp DESC"]}),
                             ("bad_order_direction", {"order_by": ["name SIDEWAYS"]}),
                             ("duplicate_order", {"order_by": ["name", "name DESC"]}),
                             ("too_many", {"max_results": 1001}),
                             ("zero_results", {"max_results": 0}),
                             ("bad_token", {"page_token": "not-a-token"})):
            step(f"srm.error.{name}", lambda kwargs=kwargs: search(**kwargs))

    def searching_versions(self) -> None:
        client, step, ids = self.client, self.step, self.ids

        def search(filter_string: str | None = None, **kwargs: Any) -> Any:
            page = client.search_model_versions(filter_string, **kwargs)
            return {"versions": self.versions(page), "has_next": bool(page.token)}

        step("smv.default", search)
        # with the model's aliases: MLflow's versions found by a search have none
        step("smv.full", lambda: {
            "versions": list(client.search_model_versions(f"name = '{ALPHA}'")),
            "model_aliases": client.get_registered_model(ALPHA).aliases})
        for name, flt in (
                ("name_eq", f"name = '{ALPHA}'"),
                ("name_neq", f"name != '{ALPHA}'"),
                ("name_like", "name LIKE 'compat-%'"),
                ("name_ilike", "name ILIKE '%ALPHA'"),
                ("name_eq_case", f"name = '{ALPHA.upper()}'"),
                ("name_in", f"name IN ('{BETA}', '{DELTA}')"),
                ("name_not_in", f"name NOT IN ('{BETA}', '{DELTA}')"),
                ("run_id_eq", f"run_id = '{ids['r1']}'"),
                ("run_id_in", f"run_id IN ('{ids['r1']}', '{ids['r3']}')"),
                ("run_id_not_in", f"run_id NOT IN ('{ids['r1']}', '{ids['r3']}')"),
                ("run_id_neq", f"run_id != '{ids['r1']}'"),
                ("run_id_missing_run", f"run_id = '{MISSING_RUN}'"),
                ("run_id_redacted", "run_id = 'REDACTED-RUN-ID'"),
                ("version_gt", "version_number > 1"),
                ("version_ge_and_name", f"name = '{ALPHA}' AND version_number >= 2"),
                ("version_le", "version_number <= 1"),
                ("version_eq", "version_number = 2"),
                ("version_neq", "version_number != 1"),
                ("version_lt_and_gt", "version_number > 1 AND version_number < 3"),
                ("source_eq", f"source_path = '{BUCKET}/alpha/2'"),
                ("source_neq", f"source_path != '{BUCKET}/alpha/2'"),
                ("source_like", "source_path LIKE 's3://%'"),
                ("source_ilike", "source_path ILIKE 'S3://COMPAT-BUCKET/BETA%'"),
                ("source_runs", "source_path LIKE 'runs:/%'"),
                ("source_redacted", "source_path = 'REDACTED-SOURCE-PATH'"),
                ("tag_eq", "tags.k = 'v'"),
                ("tag_neq", "tags.k != 'v'"),
                ("tag_like", "tags.k LIKE 'w%'"),
                ("tag_ilike", "tags.K ILIKE 'V'"),
                ("tag_backticks", "tags.`note` = 'ünï ☃'"),
                ("tag_and", "tags.k = 'w2' AND tags.note = 'ünï ☃'"),
                ("tag_and_name", f"tags.k = 'v' AND name = '{BETA}'"),
                ("tag_missing_key", "tags.nope = 'x'"),
                ("none", "name = 'nope'"),
                ("empty_string", "")):
            step(f"smv.filter.{name}", lambda flt=flt: search(flt))
        for name, order in (("version_asc", ["version_number ASC"]),
                            ("version_desc", ["version_number DESC"]),
                            ("name_desc_version_asc", ["name DESC", "version_number ASC"]),
                            ("name", ["name"]),
                            ("creation_asc", ["creation_timestamp ASC"]),
                            ("creation_desc", ["creation_timestamp DESC"]),
                            ("last_updated_asc", ["last_updated_timestamp ASC"])):
            step(f"smv.order.{name}", lambda order=order: search(order_by=order))
        step("smv.paged", lambda: [self.versions(p) for p in self.paged(
            lambda token: client.search_model_versions(max_results=3, page_token=token))])
        step("smv.paged.filtered", lambda: [self.versions(p) for p in self.paged(
            lambda token: client.search_model_versions(
                "name LIKE 'compat-%'", max_results=2,
                order_by=["version_number ASC", "name ASC"], page_token=token))])
        step("smv.paged.exact", lambda: search(f"name = '{ALPHA}'", max_results=4))
        for name, kwargs in (("bad_comparator", {"filter_string": "name >> 'x'"}),
                             ("bad_attribute", {"filter_string": "current_stage = 'None'"}),
                             ("version_string", {"filter_string": "version_number > 'abc'"}),
                             ("version_float", {"filter_string": "version_number > 1.5"}),
                             ("version_like", {"filter_string": "version_number LIKE '1'"}),
                             ("source_in", {"filter_string": "source_path IN ('x')"}),
                             ("tag_in", {"filter_string": "tags.k IN ('v')"}),
                             ("or", {"filter_string": "name = 'a' OR name = 'b'"}),
                             ("unbalanced", {"filter_string": "name = 'a"}),
                             ("bad_order_key", {"order_by": ["current_stage"]}),
                             ("bad_order_direction", {"order_by": ["name SIDEWAYS"]}),
                             ("duplicate_order", {"order_by": ["name", "name DESC"]}),
                             ("too_many", {"max_results": 200_001}),
                             ("zero_results", {"max_results": 0}),
                             ("bad_token", {"page_token": "not-a-token"})):
            step(f"smv.error.{name}", lambda kwargs=kwargs: search(**kwargs))

    def raw_http(self) -> None:
        """Requests as bytes on the wire: the HTTP status and the JSON body, normalized."""
        http, step = self.http, self.step
        step("raw.rm.get", lambda: http("GET", "/registered-models/get",
                                        params={"name": ALPHA}), raw=True)
        step("raw.rm.get.missing", lambda: http("GET", "/registered-models/get",
                                                params={"name": MISSING_MODEL}), raw=True)
        step("raw.rm.get.no_name", lambda: http("GET", "/registered-models/get"), raw=True)
        step("raw.rm.create.no_name", lambda: http("POST", "/registered-models/create",
                                                   json={}), raw=True)
        step("raw.rm.create.duplicate", lambda: http("POST", "/registered-models/create",
                                                     json={"name": ALPHA}), raw=True)
        step("raw.rm.search", lambda: http("GET", "/registered-models/search", params={
            "filter": "name LIKE 'compat-%'", "max_results": 2,
            "order_by": ["name DESC"]}), raw=True)
        step("raw.rm.search.no_max_results", lambda: http(
            "GET", "/registered-models/search", params={"filter": f"name = '{BETA}'"}),
             raw=True)
        step("raw.rm.search.bad_filter", lambda: http("GET", "/registered-models/search",
                                                      params={"filter": "name >> 'x'"}),
             raw=True)
        step("raw.mv.get", lambda: http("GET", "/model-versions/get",
                                        params={"name": ALPHA, "version": "2"}), raw=True)
        step("raw.mv.get.bad_version", lambda: http(
            "GET", "/model-versions/get", params={"name": ALPHA, "version": "abc"}), raw=True)
        step("raw.mv.get.missing", lambda: http(
            "GET", "/model-versions/get", params={"name": ALPHA, "version": "99"}), raw=True)
        step("raw.mv.create.no_source", lambda: http("POST", "/model-versions/create",
                                                     json={"name": ALPHA}), raw=True)
        step("raw.mv.search", lambda: {**http("GET", "/model-versions/search", params={
            "filter": f"name = '{ALPHA}'", "max_results": 2,
            "order_by": ["version_number ASC"]}),
            "model_aliases": self.client.get_registered_model(ALPHA).aliases}, raw=True)
        step("raw.mv.search.no_max_results", lambda: http(
            "GET", "/model-versions/search", params={"filter": f"name = '{BETA}'"}), raw=True)
        step("raw.mv.download_uri", lambda: http(
            "GET", "/model-versions/get-download-uri",
            params={"name": ALPHA, "version": "3"}), raw=True)
        step("raw.latest.get", lambda: http(
            "GET", "/registered-models/get-latest-versions",
            params={"name": ALPHA, "stages": ["Staging", "Archived"]}, unordered=True),
             raw=True)
        step("raw.latest.post", lambda: http(
            "POST", "/registered-models/get-latest-versions",
            json={"name": BETA}, unordered=True), raw=True)
        step("raw.alias.get", lambda: http("GET", "/registered-models/alias",
                                           params={"name": ALPHA, "alias": "champion"}),
             raw=True)
        step("raw.alias.bad_name", lambda: http(
            "POST", "/registered-models/alias",
            json={"name": ALPHA, "alias": "bad alias!", "version": "1"}), raw=True)
        step("raw.alias.bad_version", lambda: http(
            "POST", "/registered-models/alias",
            json={"name": ALPHA, "alias": "x", "version": "abc"}), raw=True)
        step("raw.transition.no_archive_flag", lambda: http(
            "POST", "/model-versions/transition-stage",
            json={"name": GAMMA2, "version": "2", "stage": "Staging"}), raw=True)
        step("raw.transition.bad_flag", lambda: http(
            "POST", "/model-versions/transition-stage",
            json={"name": GAMMA2, "version": "2", "stage": "Staging",
                  "archive_existing_versions": "maybe"}), raw=True)

    def copies(self) -> None:
        """Versions whose source is another version (``models:/<name>/<version>``)."""
        client, step = self.client, self.step
        new = self.create_version
        step("copy.models_uri", lambda: new(BETA, f"models:/{ALPHA}/2", run_id=self.ids["r2"]))
        step("copy.download_uri", lambda: client.get_model_version_download_uri(BETA, "3"))
        step("copy.models_uri_no_run_id", lambda: new(BETA, f"models:/{ALPHA}/1"))
        step("copy.by_alias", lambda: new(BETA, f"models:/{ALPHA}@champion"))
        step("copy.by_stage", lambda: new(BETA, f"models:/{ALPHA}/Staging"))
        step("copy.refused.model", lambda: client.create_registered_model(REFUSED_COPY).name)
        for name, source, run in (("run_mismatch", f"models:/{ALPHA}/2", "r3"),
                                  ("missing_version", f"models:/{ALPHA}/99", None),
                                  ("missing_model", f"models:/{MISSING_MODEL}/1", None),
                                  ("missing_alias", f"models:/{ALPHA}@nope", None),
                                  ("with_host", f"models://host/{ALPHA}/1", None)):
            step(f"copy.refused.{name}", lambda source=source, run=run: new(
                REFUSED_COPY, source, **({"run_id": self.ids[run]} if run else {})))
        step("copy.refused.none_made", lambda: self.versions(client.search_model_versions(
            f"name = '{REFUSED_COPY}'")))
        step("copy.refused.delete", lambda: client.delete_registered_model(REFUSED_COPY))
        step("copy.client", lambda: client.copy_model_version(f"models:/{ALPHA}/2", COPY))
        step("copy.client.again", lambda: client.copy_model_version(f"models:/{BETA}/2", COPY))
        step("copy.client.model", lambda: client.get_registered_model(COPY))
        step("copy.versions", lambda: list(client.search_model_versions(
            f"name = '{COPY}'", order_by=["version_number ASC"])))

    def many_versions(self) -> None:
        client, step = self.client, self.step
        step("many.create", lambda: [client.create_registered_model(MANY).name] + [
            self.create_version(MANY, f"{BUCKET}/many/{n}", tags={"n": str(n)}).version
            for n in range(1, 8)])
        step("many.paged", lambda: [self.versions(p) for p in self.paged(
            lambda token: client.search_model_versions(
                f"name = '{MANY}'", max_results=3, page_token=token))])
        step("many.paged.tag", lambda: [self.versions(p) for p in self.paged(
            lambda token: client.search_model_versions(
                f"name = '{MANY}' AND tags.n != '4'", max_results=2,
                order_by=["version_number ASC"], page_token=token))])
        step("many.archive_all", lambda: [
            client.transition_model_version_stage(MANY, str(n), "Production",
                                                  archive_existing_versions=True).version
            for n in range(1, 8)])
        step("many.stages", lambda: [(v.version, v.current_stage, self.stamp(
            v.last_updated_timestamp)) for v in client.search_model_versions(
                f"name = '{MANY}'", order_by=["version_number ASC"])])
        step("many.latest", lambda: [v.version for v in client.get_latest_versions(
            MANY, ["Production", "Archived"])])

    def the_end(self) -> None:
        """Every model deleted: nothing of them is left to find."""
        client, step = self.client, self.step
        step("end.delete_all", lambda: [
            client.delete_registered_model(name) for name in sorted(
                m.name for m in client.search_registered_models(max_results=1000))])
        step("end.models", lambda: self.models(client.search_registered_models()))
        step("end.versions", lambda: self.versions(client.search_model_versions()))
        step("end.by_alias", lambda: client.get_model_version_by_alias(ALPHA, "champion"))
        step("end.recreated", lambda: client.create_registered_model(ALPHA))
        step("end.recreated.no_alias",
             lambda: client.get_model_version_by_alias(ALPHA, "champion"))
        step("end.recreated.first_version", lambda: self.create_version(
            ALPHA, f"{BUCKET}/alpha/again").version)
        step("end.recreated.model", lambda: client.get_registered_model(ALPHA))


def main(argv: list[str]) -> int:
    out_path, artifact_root = argv[1], argv[2]
    return play_and_record(RegistryScenario(artifact_root), out_path, RECORD_VERSION)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
