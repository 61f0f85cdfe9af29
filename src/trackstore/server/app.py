"""The application of ``trackstore server``: MLflow's REST API over any tracking store.

No web framework: one dict lookup routes a request, the body is read with a size cap, and
the handler (a plain synchronous function, see :mod:`.handlers`) runs. A bounded piece of
work (a write, one run) runs on the event loop, as in a sync worker; reads whose cost grows
with the data (searches, histories) run on a small thread pool, so that they never stall
the worker's other connections (see ``handlers.SCANS`` for the measurement). Errors become
MLflow's JSON error bodies with MLflow's HTTP statuses; nothing else (no stack trace) ever
reaches a client. The artifact proxy's paths (:mod:`.artifacts`) are the exception to the
first rules: routed by prefix, their bodies stream to disk and their files back, uncapped.

The application is an ASGI 3 application (lifespan and HTTP), and its decisions
(:meth:`TrackingApp.prepare`, :meth:`TrackingApp.call`, :meth:`TrackingApp.failure`) are
also called directly by trackstore's HTTP protocol (:mod:`.protocol`), which ``trackstore
server`` runs under uvicorn; see :mod:`.run` for the process model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .. import wire
from .._version import __version__
from ..exceptions import (
    BAD_REQUEST,
    ENDPOINT_NOT_FOUND,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    MALFORMED_REQUEST,
    REQUEST_LIMIT_EXCEEDED,
    TEMPORARILY_UNAVAILABLE,
    UNAUTHENTICATED,
    TrackstoreError,
    database_unavailable,
)
from ..store.base import AbstractStore
from .auth import Authenticator, RateLimiter
from .handlers import SCANS, Args, Handler, Result, routes
from .imports import IMPORT_ROUTES

if TYPE_CHECKING:
    from .artifacts import ArtifactCall

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("trackstore.server")

CONFIG_ENV = "_TRACKSTORE_SERVER_CONFIG"
DEFAULT_MAX_REQUEST_BYTES = 16 << 20
JSON = b"application/json"
_BODY_METHODS = frozenset({"POST", "PUT"})
_PARSE_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class ServerConfig:
    """What a worker process needs; travels to workers as JSON in an environment variable."""

    backend_store_uri: str
    default_artifact_root: str | None = None
    #: The directory the artifact proxy serves (absolute); None: artifacts are not served.
    artifacts_destination: str | None = None
    static_prefix: str = ""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    threads: int = 8
    auth: tuple[str, ...] = ()
    auth_file: str | None = None
    #: Requests per second each client may make (``--rate-limit``); None: no limit.
    rate_limit: float | None = None
    #: Requests a client may make at once (``--rate-limit-burst``); None: the rate's 1 s.
    rate_limit_burst: int | None = None
    access_log: bool = True
    log_level: str = "info"

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServerConfig:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            raise RuntimeError(f"{CONFIG_ENV} is not set: start workers with `trackstore server`")
        data = json.loads(raw)
        data["auth"] = tuple(data.get("auth") or ())
        return cls(**data)


class AccessLog:
    """One line per request on stderr, in the server log's format, written in batches.

    Through :mod:`logging` a line cost about 100 µs of the worker's CPU (a record, a
    formatted timestamp, a flush per line), a sixth of a ``log-metric`` request. Here a line
    is one f-string with a timestamp made once a second; the lines of the last 100 ms go out
    in one write, scheduled on the event loop, and at shutdown.
    """

    FLUSH_SECONDS = 0.1

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._pending = False
        self._second = -1
        self._stamp = ""
        self._prefix = f" [{os.getpid()}] trackstore.server.access INFO "

    def add(self, client: str, method: str, path: str, status: int, millis: float) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        self._lines.append(f"{self._stamp},{int((now - second) * 1000):03d}{self._prefix}"
                           f"{client} {method} {path} {status} {millis:.1f}ms\n")
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._pending = False
        if self._lines:
            text = "".join(self._lines)
            self._lines.clear()
            sys.stderr.write(text)
            sys.stderr.flush()


class Reply(NamedTuple):
    """A whole answer: status, body, its content type and any other headers."""

    status: int
    body: bytes
    content_type: bytes = JSON
    extra: tuple[tuple[bytes, bytes], ...] = ()


def _error_reply(error: TrackstoreError, status: int,
                 extra: tuple[tuple[bytes, bytes], ...] = ()) -> Reply:
    return Reply(status, error.serialize_as_json().encode(), JSON, extra)


TEXT = b"text/plain; charset=utf-8"
_HEALTH = Reply(200, b"OK", TEXT)
_VERSION = Reply(200, __version__.encode(), TEXT)


class _ClientGone(Exception):
    """The client disconnected before its request was read."""


def classify(exc: BaseException) -> TrackstoreError:
    """The error a client sees for *exc*: ours as they are, the database's as MLflow maps them.

    A database that is down or locked is ``TEMPORARILY_UNAVAILABLE`` (503: the client retries);
    anything unexpected is an ``INTERNAL_ERROR`` without details (those go to the log).
    """
    if isinstance(exc, TrackstoreError):
        return exc
    if database_unavailable(exc):
        return TrackstoreError(f"The database is temporarily unavailable: {type(exc).__name__}",
                               TEMPORARILY_UNAVAILABLE)
    return TrackstoreError("Internal server error; the server's log has the details.",
                           INTERNAL_ERROR)


class TrackingApp:
    """An ASGI 3 application serving one tracking store."""

    def __init__(self, config: ServerConfig, store: AbstractStore | None = None) -> None:
        self.config = config
        self._store = store
        self._owns_store = store is None
        self._routes = routes(artifact_serving=config.artifacts_destination is not None)
        from .artifacts import ArtifactProxy  # (it imports this module)

        self._artifacts = ArtifactProxy(config.artifacts_destination)
        self._prefix = config.static_prefix.rstrip("/")
        self._executor: ThreadPoolExecutor | None = None
        self._threaded = frozenset((*SCANS, *IMPORT_ROUTES.values()))
        self._access = (AccessLog() if config.access_log
                        and logging.getLogger("trackstore").isEnabledFor(logging.INFO)
                        else None)
        self._auth = (Authenticator.from_file(config.auth_file, config.auth)
                      if config.auth and config.auth_file
                      else None)
        if config.auth and self._auth is None:
            raise TrackstoreError("Authentication needs an auth file (--auth-file)",
                                  INVALID_PARAMETER_VALUE)
        self._limiter = (RateLimiter(config.rate_limit, config.rate_limit_burst)
                         if config.rate_limit else None)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def store(self) -> AbstractStore:
        if self._store is None:
            from ..store.registry import factory_for

            uri = self.config.backend_store_uri
            self._store = factory_for(uri)(uri, self.config.default_artifact_root)
        return self._store

    def pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.config.threads,
                                                thread_name_prefix="trackstore-handler")
        return self._executor

    def startup(self) -> None:
        self.store  # noqa: B018 - open the store (and check its schema) before serving
        self.pool()

    def shutdown(self) -> None:
        if self._access is not None:
            self._access.flush()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._owns_store and self._store is not None:
            self._store.close()
            self._store = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.startup()
                except Exception as exc:  # a store that cannot open: refuse to serve
                    log.error("cannot start: %s", classify(exc).message if isinstance(
                        exc, TrackstoreError) else exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- requests ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        status = 500
        try:
            status = await self._route(scope, method, path, receive, send)
        except _ClientGone:
            status = 499
        finally:
            if self._access is not None:
                client = scope.get("client")
                self._access.add(client[0] if client else "-", method, path, status,
                                 (time.perf_counter() - started) * 1000)

    # -- the decisions, shared by the ASGI interface and trackstore's HTTP protocol ----------

    def prepare(self, method: str, path: str, headers: dict[bytes, bytes],
                client: str = "-") -> Handler | Reply | ArtifactCall:
        """What the request line and headers decide: the handler to run, or the answer
        (``/health``, ``/version``, 401, 404, 405, 429, a refused ``Content-Type``), or an
        artifact proxy call (:mod:`.artifacts`: its body and answer stream).

        *client* is the caller's address, whose rate limit applies when it sends no valid
        credentials (an authenticated caller's is its principal's). Only ``/health`` is
        answered without credentials and outside the rate limit (load balancers probe it);
        a path outside ``--static-prefix`` is 404, as nothing is served there.
        """
        if self._prefix:
            if not path.startswith(self._prefix + "/"):
                return _error_reply(TrackstoreError(f"No endpoint {method} {path}",
                                                    ENDPOINT_NOT_FOUND), 404)
            path = path[len(self._prefix):]
        if path == "/health":
            return _HEALTH
        principal = (self._auth.principal(headers.get(b"authorization"))
                     if self._auth is not None else None)
        if self._limiter is not None:
            # Before the credentials are judged: a client guessing passwords is limited too.
            wait = self._limiter.take("user:" + principal if principal is not None
                                      else "address:" + client)
            if wait:
                return rate_limited(wait)
        if self._auth is not None and principal is None:
            return _error_reply(
                TrackstoreError("Authentication required: send valid credentials "
                                "(Basic or Bearer)", UNAUTHENTICATED), 401,
                ((b"www-authenticate", self._auth.challenge().encode()),))
        if path == "/version":
            return _VERSION
        methods = self._routes.get(path)
        if methods is None:
            artifacts = self._artifacts.prepare(method, path)
            if artifacts is not None:
                return artifacts
            return _error_reply(TrackstoreError(f"No endpoint {method} {path}",
                                                ENDPOINT_NOT_FOUND), 404)
        handler = methods.get(method)
        if handler is None:
            allow = ", ".join(sorted(methods))
            return _error_reply(TrackstoreError(
                f"Method {method} not allowed on {path}; allowed: {allow}", ENDPOINT_NOT_FOUND),
                405, ((b"allow", allow.encode()),))
        if method in _BODY_METHODS:
            content_type = headers.get(b"content-type")
            if content_type is None:
                return _error_reply(TrackstoreError(
                    "Bad Request. Content-Type header is missing.", INVALID_PARAMETER_VALUE), 400)
            if content_type.split(b";", 1)[0].strip().lower() != b"application/json":
                return _error_reply(TrackstoreError(
                    "Bad Request. Content-Type must be one of ['application/json'].",
                    INVALID_PARAMETER_VALUE), 400)
        return handler

    def threaded(self, handler: Handler) -> bool:
        """Whether *handler* runs on the application's threads (see ``handlers.SCANS``)."""
        return handler in self._threaded

    def failure(self, exc: Exception, method: str, path: str) -> Reply:
        """The answer for a request that raised *exc* (unexpected ones are logged)."""
        error = classify(exc)
        if error is not exc:
            log.exception("%s %s failed", method, path, exc_info=exc)
        status = 413 if error.error_code == REQUEST_LIMIT_EXCEEDED else error.http_status
        return _error_reply(error, status)

    def body_limit(self, declared: bytes | None) -> int:
        """The most body bytes a request may send; raises if its declared
        ``Content-Length`` is already over the limit."""
        limit = self.config.max_request_bytes
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large(int(declared), limit)
        return limit

    @staticmethod
    def reads_body(method: str) -> bool:
        """Whether *method*'s body carries the parameters (other bodies are ignored)."""
        return method in _PARSE_BODY_METHODS

    @property
    def access_log(self) -> AccessLog | None:
        return self._access

    # -- the ASGI interface --------------------------------------------------------------------

    async def _route(self, scope: Scope, method: str, path: str, receive: Receive,
                     send: Send) -> int:
        headers = dict(scope["headers"])
        client = scope.get("client")
        outcome = self.prepare(method, path, headers, client[0] if client else "-")
        if isinstance(outcome, Reply):
            return await self._send_reply(send, outcome)
        if not callable(outcome):  # an artifact proxy call
            from .artifacts import serve_asgi

            return await serve_asgi(self, outcome, scope, receive, send)
        handler = outcome
        try:
            body = await self._read_body(method, headers, receive)
            if self.threaded(handler):
                result = await asyncio.get_running_loop().run_in_executor(
                    self.pool(), self.call, handler, method, scope["query_string"], body)
            else:
                result = self.call(handler, method, scope["query_string"], body)
        except _ClientGone:
            raise
        except Exception as exc:
            return await self._send_reply(send, self.failure(exc, method, path))
        if isinstance(result, bytes):
            return await self._send_reply(send, Reply(200, result))
        return await self._stream(send, result, method, path)

    def call(self, handler: Handler, method: str, query: bytes, body: bytes) -> bytes | Iterator[
            bytes]:
        """Parse the parameters and run the handler: the JSON answer, or its pages."""
        if method == "GET":
            args = Args({}, urllib.parse.parse_qs(query.decode("latin-1"),
                                                  keep_blank_values=True))
        else:
            args = Args(_parse_json(body))
        result: Result = handler(self.store, args)
        if isinstance(result, dict):
            return wire.dumps(result) if result else b"{}"  # (every write's answer)
        return result

    async def _read_body(self, method: str, headers: dict[bytes, bytes],
                         receive: Receive) -> bytes:
        if not self.reads_body(method):
            return b""
        limit = self.body_limit(headers.get(b"content-length"))
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(size, limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _send_reply(self, send: Send, reply: Reply) -> int:
        headers = [(b"content-type", reply.content_type),
                   (b"content-length", str(len(reply.body)).encode()), *reply.extra]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        return reply.status

    async def _stream(self, send: Send, chunks: Iterator[bytes], method: str,
                      path: str) -> int:
        """Send a body produced page by page; each page is read on a worker thread."""
        loop = asyncio.get_running_loop()
        pool = self.pool()
        first = await loop.run_in_executor(pool, next, chunks, None)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", JSON)]})
        chunk = first
        while chunk is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            try:
                chunk = await loop.run_in_executor(pool, next, chunks, None)
            except Exception:
                # The status line is sent: the only honest signal left is to cut the body
                # short, which the client sees as a broken response, never as valid JSON.
                log.exception("%s %s failed while streaming", method, path)
                raise
        await send({"type": "http.response.body", "body": b""})
        return 200


def rate_limited(wait: float) -> Reply:
    """The 429 of a client over its rate limit, which may try again in *wait* seconds."""
    seconds = max(1, math.ceil(wait))
    return _error_reply(TrackstoreError(
        f"Too many requests: over the server's rate limit (--rate-limit); retry in {seconds} "
        "s", REQUEST_LIMIT_EXCEEDED), 429, ((b"retry-after", str(seconds).encode()),))


def too_large(size: int, limit: int) -> TrackstoreError:
    return TrackstoreError(f"Request body of {size} bytes exceeds the server's limit of {limit} "
                           "bytes (--max-request-bytes)", REQUEST_LIMIT_EXCEEDED)


def _parse_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = wire.loads(body)
        if isinstance(data, str):  # legacy clients double-encode the body
            data = wire.loads(data)
    except ValueError as exc:
        raise TrackstoreError(f"Malformed JSON request body: {exc}", MALFORMED_REQUEST) from None
    if not isinstance(data, dict):
        raise TrackstoreError("The request body must be a JSON object", BAD_REQUEST)
    return data


def configure_logging(level: str) -> None:
    """Send the server's log (requests included) to stderr, once per process."""
    logger = logging.getLogger("trackstore")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(
            "%(asctime)s [%(process)d] %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger("alembic").setLevel(logging.WARNING)


def create_app() -> TrackingApp:
    """The worker's application, configured by ``trackstore server`` through the environment."""
    config = ServerConfig.from_env()
    configure_logging(config.log_level)
    return TrackingApp(config)
