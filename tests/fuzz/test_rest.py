"""Fuzzing every REST endpoint's request parsing on a real ``trackstore server`` over SQLite.

The endpoints come from the server's own route table (:func:`trackstore.server.handlers.routes`,
what :class:`~trackstore.server.app.TrackingApp` routes by), so a new endpoint is fuzzed without
a change here, and its count is asserted so that the change is noticed. The fields of each
endpoint are read from its handler's source (every ``args.get("x")``, ``required(args, "x")``,
... in the handler and the helpers it passes ``args`` to), so a new field is fuzzed too.

Each request is drawn by hypothesis: the endpoint's fields (and an extra one) with values of
the wrong type, missing, empty, huge and negative numbers, NaN and infinities, deep nesting,
strings with NUL, lone surrogates and right-to-left marks, and the ids of the store's real
experiments, runs, models and versions (also given to the wrong field); sent as JSON, as raw
bytes (invalid UTF-8, truncated or deeply nested JSON, a JSON array, an empty body), with the
right, a wrong or no ``Content-Type``; GETs as query strings (repeated and percent-encoded
invalid UTF-8 values included).

Properties of every answer: the status is below 500 (503 is allowed: documented for a busy
database); the body is JSON, and for an error has ``error_code`` and ``message``; no body holds
a stack trace or a source path. And a rejected request changes nothing: a dump of every table
of the SQLite file is taken after each answer, and must be unchanged after any non-200 one.
"""

from __future__ import annotations

import functools
import http.client
import inspect
import json
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._figures import record, scaled
from tests._server_process import ServerProcess, trackstore_server
from trackstore.server.handlers import routes

#: Paths and (path, method) pairs in the route table: a new endpoint changes these, and then
#: this test must be looked at (its fields are found automatically, its values may need more).
ROUTE_PATHS = 93
ROUTE_METHODS = 101
LEAKS = re.compile(r'Traceback|File "|\.py\b|/work/|site-packages|/src/trackstore')

ROUTE_TABLE = routes()
ENDPOINTS = sorted((path, method) for path, methods in ROUTE_TABLE.items() for method in methods)


def _handler_source(handler: Callable[..., Any], seen: set[str]) -> str:
    """The source of *handler* and of every function of its module it hands ``args`` to."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    if handler.__name__ in seen:
        return ""
    seen.add(handler.__name__)
    source = inspect.getsource(handler)
    module = inspect.getmodule(handler)
    for name in re.findall(r"\b(\w+)\((?:store, )?args\b", source):
        helper = getattr(module, name, None)
        if callable(helper) and name != handler.__name__:
            source += _handler_source(helper, seen)
    return source


def fields_of(handler: Callable[..., Any]) -> list[str]:
    """Every request field *handler* reads, from its source."""
    source = _handler_source(handler, set())
    names = re.findall(r'args(?:\.get|\.many)?[,(]\s*"(\w+)"', source)
    names += re.findall(r'\(args, "(\w+)"', source)
    if "_run_id(args)" in source:
        names += ["run_id", "run_uuid"]
    return sorted(set(names))


FIELDS = {(path, method): fields_of(ROUTE_TABLE[path][method]) for path, method in ENDPOINTS}


def test_every_endpoint_of_the_route_table_is_fuzzed() -> None:
    assert len(ROUTE_TABLE) == ROUTE_PATHS, sorted(ROUTE_TABLE)
    assert len(ENDPOINTS) == ROUTE_METHODS
    without = sorted(key for key, names in FIELDS.items()
                     if not names and not key[0].endswith("/server-info"))
    assert without == [], f"no request fields found for {without}"
    assert FIELDS[("/api/2.0/mlflow/runs/log-batch", "POST")] == [
        "metrics", "params", "run_id", "tags"]
    assert FIELDS[("/api/2.0/trackstore/import/batch", "POST")] == [
        "description", "ops", "source"]


# -- the server and its store ---------------------------------------------------------------------

class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

    def send(self, method: str, target: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, bytes, float]:
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.conn.request(method, target, body, headers)
                response = self.conn.getresponse()
                raw = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.conn.close()
                return response.status, raw, time.perf_counter() - started
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, path: str, body: dict[str, Any], method: str = "POST") -> Any:
        status, raw, _ = self.send(method, path, json.dumps(body).encode(),
                                   {"Content-Type": "application/json"})
        assert status == 200, (path, status, raw[:500])
        return json.loads(raw)


class Served:
    """A ``trackstore server`` on a SQLite file with some of everything in it."""

    def __init__(self, root: Path) -> None:
        self.db = root / "fuzz.db"
        self.server = trackstore_server(
            ["--backend-store-uri", f"sqlite:///{self.db}", "--default-artifact-root",
             str(root / "artifacts"), "--workers", "1"], cwd=root)
        self.server.__enter__()
        self.client = Client(self.server)
        api = "/api/2.0/mlflow"
        c = self.client
        self.experiment_ids = ["0", c.json(f"{api}/experiments/create",
                                           {"name": "fuzzed", "tags": [{"key": "k",
                                                                        "value": "v"}]})
                               ["experiment_id"]]
        self.run_ids = []
        for i in range(2):
            run = c.json(f"{api}/runs/create", {"experiment_id": self.experiment_ids[1],
                                                "run_name": f"r{i}", "start_time": 1})["run"]
            run_id = run["info"]["run_id"]
            self.run_ids.append(run_id)
            c.json(f"{api}/runs/log-batch", {
                "run_id": run_id, "metrics": [{"key": "m", "value": 1.5, "timestamp": 2,
                                               "step": 3}],
                "params": [{"key": "p", "value": "x"}], "tags": [{"key": "t", "value": "y"}]})
        c.json(f"{api}/registered-models/create", {"name": "model", "tags": [
            {"key": "k", "value": "v"}]})
        version = c.json(f"{api}/model-versions/create", {
            "name": "model", "source": f"runs:/{self.run_ids[0]}/model",
            "run_id": self.run_ids[0]})["model_version"]["version"]
        c.json(f"{api}/registered-models/alias", {"name": "model", "alias": "champion",
                                                  "version": version})
        self.ids = [*self.experiment_ids, *self.run_ids, "model", "champion", str(version),
                    "m", "p", "t", "k", "fuzzed", "r0", "Production", "None", "FINISHED"]

    def snapshot(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """Every row of every table, sorted (a cheap, complete picture of what is stored)."""
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            tables = [row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return [(table, sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr))
                    for table in tables]
        finally:
            db.close()

    def close(self) -> None:
        self.client.conn.close()
        self.server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served(tmp_path_factory.mktemp("rest-fuzz"))
    yield served
    served.close()


# -- what a request is made of ---------------------------------------------------------------------

LEAF_VALUES = st.one_of(
    st.none(), st.booleans(), st.just(""), st.text(max_size=20),
    st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.sampled_from([0, -1, 1, 2 ** 63 - 1, 2 ** 63, -(2 ** 63) - 1, 10 ** 30, 1e308, -0.0,
                     0.5, "NaN", "Infinity", "-Infinity", "nan", "1e999", "9" * 25, "-1",
                     "0x10", " 1", "1.5", "true", "\u0000", "\ud800", "\u202e", "../../x",
                     "/etc/passwd", "%", "'", "a" * 300, "a" * 9000]),
)


def values(ids: list[str]) -> st.SearchStrategy[Any]:
    leaves = st.one_of(LEAF_VALUES, st.sampled_from(ids))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["key", "value", "timestamp", "step", "name", "digest",
                                         "op", "run_id", "dataset", "tags", "x"]), inner,
                        max_size=4)), max_leaves=8)


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


RAW_BODIES = [b"", b" ", b"null", b"[]", b"[1,2]", b'"text"', b'"{}"', b"1", b"{", b'{"a":',
              b"\xff\xfe", b'{"name": "\xff"}', b'{"a": NaN, "b": Infinity}', b"{}garbage",
              _deep(100_000), b"[" * 100_000, b'{"max_results": 1' + b"0" * 5000 + b"}",
              b'{"name": "x", "name": 5}', b"\xef\xbb\xbf{}"]
CONTENT_TYPES = [{"Content-Type": "application/json"}, {"Content-Type": "application/json"},
                 {"Content-Type": "application/json; charset=utf-8"}, {},
                 {"Content-Type": "text/plain"},
                 {"Content-Type": "application/x-www-form-urlencoded"}]


@st.composite
def requests(draw: st.DrawFn, served: Served, path: str, method: str
             ) -> tuple[str, bytes | None, dict[str, str]]:
    """``(target, body, headers)`` of one request to *path* with *method*."""
    fields = FIELDS[(path, method)] + ["extra_field"]
    chosen = draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
    data = {name: draw(values(served.ids), label=name) for name in chosen}
    if method == "GET":
        pairs: list[tuple[str, str]] = []
        for name, value in data.items():
            for item in (value if isinstance(value, list) else [value]):
                pairs.append((name, item if isinstance(item, str) else json.dumps(item)))
        query = urllib.parse.urlencode(pairs)
        if draw(st.booleans()):
            query += draw(st.sampled_from(["&run_id=%ff%fe", "&name=%00", "&&=&", "&name",
                                           "&max_results=-1", "&%zz=1"]))
        return f"{path}?{query}", None, {}
    if draw(st.integers(0, 4)) == 0:
        body = draw(st.sampled_from(RAW_BODIES))
    else:
        body = json.dumps(data, allow_nan=True).encode("utf-8", "surrogatepass")
    return path, body, draw(st.sampled_from(CONTENT_TYPES))


def check_answer(status: int, raw: bytes, what: str) -> dict[str, Any] | None:
    assert status < 500 or status == 503, f"{what}: {status} {raw[:500]!r}"
    text = raw.decode("utf-8", "replace")
    assert not LEAKS.search(text), f"{what}: a stack trace or source path: {text[:1000]}"
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise AssertionError(f"{what}: not JSON: {raw[:500]!r}") from None
    if status >= 400:
        assert isinstance(body, dict) and isinstance(body.get("error_code"), str) and \
            isinstance(body.get("message"), str), f"{what}: {raw[:500]!r}"
    return body if isinstance(body, dict) else None


# -- the fuzzing -------------------------------------------------------------------------------

#: Requests per endpoint at scale 1.
PER_ENDPOINT = 12


def fuzz_endpoint(path: str, method: str, served: Served,
                  one: Callable[[str, str, tuple[str, bytes | None, dict[str, str]]], None]
                  ) -> None:
    @settings(max_examples=scaled(PER_ENDPOINT, minimum=3), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(request=requests(served, path, method))
    def fuzz(request: tuple[str, bytes | None, dict[str, str]]) -> None:
        one(path, method, request)

    fuzz()


def test_every_endpoint_answers_bad_requests_cleanly_and_changes_nothing(served: Served) -> None:
    tried = rejected = 0
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    state = {"snapshot": served.snapshot()}

    def one(path: str, method: str, request: tuple[str, bytes | None, dict[str, str]]) -> None:
        nonlocal tried, rejected
        target, body, headers = request
        status, raw, seconds = served.client.send(method, target, body, headers)
        tried += 1
        statuses[status] = statuses.get(status, 0) + 1
        what = f"{method} {target[:300]} {body[:300] if body else b''!r} {headers}"
        check_answer(status, raw, what)
        assert seconds < 30, f"{what}: {seconds:.1f} s"
        after = served.snapshot()
        if status == 200:
            state["snapshot"] = after
            return
        rejected += 1
        assert after == state["snapshot"], f"{what} was rejected ({status}) but changed the store"

    for path, method in ENDPOINTS:
        fuzz_endpoint(path, method, served, one)
    assert rejected < tried
    record("fuzz", "rest_endpoints", inputs=tried, rejected=rejected, endpoints=len(ENDPOINTS),
           tool="hypothesis", seconds=round(time.perf_counter() - started, 1))


@pytest.mark.parametrize("body", [_deep(100_000), b"[" * 100_000, _deep(2_000)],
                         ids=["object-100000", "array-100000", "object-2000"])
def test_deeply_nested_json_is_a_malformed_request(served: Served, body: bytes) -> None:
    """The regression: Python's JSON reader raised RecursionError, which became a 500."""
    before = served.snapshot()
    status, raw, _ = served.client.send("POST", "/api/2.0/mlflow/runs/log-batch", body,
                                        {"Content-Type": "application/json"})
    answer = check_answer(status, raw, "deep JSON")
    assert status == 400 and answer is not None
    assert answer["error_code"] == "MALFORMED_REQUEST"
    assert served.snapshot() == before


def test_unknown_paths_and_methods_are_json_errors(served: Served) -> None:
    for method, target in [("GET", "/api/2.0/mlflow/nope"), ("PUT", "/api/2.0/mlflow/runs/get"),
                           ("GET", "/api/2.0/mlflow/runs/create"), ("POST", "/%ff%fe"),
                           ("GET", "/api/2.0/mlflow/runs/get/../../../etc/passwd"),
                           ("DELETE", "/ajax-api/2.0/mlflow/experiments/get")]:
        status, raw, _ = served.client.send(method, target, b"{}",
                                            {"Content-Type": "application/json"})
        check_answer(status, raw, f"{method} {target}")
        assert status in (404, 405), (method, target, status)
