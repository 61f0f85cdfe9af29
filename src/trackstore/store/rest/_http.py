"""HTTP for :class:`~trackstore.store.rest.RestStore`: pooled keep-alive connections, retries.

Built on :mod:`http.client` rather than ``requests``: trackstore adds no dependency for what the
standard library does, and the hot path (one small JSON POST per logging call) wants a thin
layer. ``http.client`` already does the two things latency depends on: it sets ``TCP_NODELAY``
when it connects, and it sends headers and a ``bytes`` body in one write, so a request never
waits on Nagle's algorithm and delayed ACKs (the ~40 ms stall of mlflow-spec §6).

The settings mean what MLflow's environment variables mean (mlflow-spec §5.8):
``MLFLOW_HTTP_REQUEST_TIMEOUT`` (seconds, default 120), ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` (7),
``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`` (2), ``MLFLOW_HTTP_REQUEST_BACKOFF_JITTER`` (1.0),
``MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER`` (true), ``MLFLOW_ALLOW_HTTP_REDIRECTS`` (true) and
``MLFLOW_HTTP_POOL_MAXSIZE`` (10 idle connections kept per host). Proxies come from
``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY``, as ``requests`` takes them.
"""

from __future__ import annotations

import email.utils
import http.client
import math
import os
import random
import select
import socket
import ssl
import threading
import urllib.parse
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from typing import Any, NamedTuple

from ..._version import __version__
from ...exceptions import (
    ABORTED,
    BAD_REQUEST,
    DEADLINE_EXCEEDED,
    ENDPOINT_NOT_FOUND,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    PERMISSION_DENIED,
    REQUEST_LIMIT_EXCEEDED,
    TEMPORARILY_UNAVAILABLE,
    UNAUTHENTICATED,
    TrackstoreError,
)
from ...wire import dumps, loads

USER_AGENT = f"trackstore/{__version__}"

#: The statuses MLflow's client retries (urllib3 ``status_forcelist``).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses that prove the server did not act on the request, so even a create may be repeated.
_NOT_PROCESSED = frozenset({408, 429})
#: urllib3's ``DEFAULT_BACKOFF_MAX``, which bounds MLflow's backoff; Retry-After is capped at it
#: too, so a server asking for an hour does not hang a training loop for an hour.
BACKOFF_MAX = 120.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_EXCERPT = 300


# -- settings --------------------------------------------------------------------------------------

def env_flag(name: str, default: bool) -> bool:
    """A boolean environment variable as MLflow reads one: true/false or 1/0, any case."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise TrackstoreError(f"Environment variable {name}={raw!r} must be true or false (or 1 or 0)",
                          INVALID_PARAMETER_VALUE)


def _env_number(name: str, default: float, *, integer: bool = False,
                positive: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = -1
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "integer" if integer else "number"
        bound = "positive" if positive else "non-negative"
        raise TrackstoreError(f"Environment variable {name}={raw!r} must be a {bound} {kind}",
                              INVALID_PARAMETER_VALUE)
    return value


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Timeouts, retries and pooling; :meth:`from_env` reads MLflow's variables once."""

    timeout: float = 120.0
    max_retries: int = 7
    backoff_factor: float = 2.0
    backoff_jitter: float = 1.0
    respect_retry_after: bool = True
    allow_redirects: bool = True
    pool_maxsize: int = 10

    @classmethod
    def from_env(cls) -> HttpSettings:
        return cls(
            timeout=_env_number("MLFLOW_HTTP_REQUEST_TIMEOUT", 120.0, positive=True),
            max_retries=int(_env_number("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 7, integer=True)),
            backoff_factor=_env_number("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", 2.0),
            backoff_jitter=_env_number("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", 1.0),
            respect_retry_after=env_flag("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", True),
            allow_redirects=env_flag("MLFLOW_ALLOW_HTTP_REDIRECTS", True),
            pool_maxsize=int(_env_number("MLFLOW_HTTP_POOL_MAXSIZE", 10, integer=True,
                                         positive=True)),
        )

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number *retry* (1-based), as urllib3 computes it for
        MLflow: nothing before the first, then ``factor * 2**(retry-1)`` plus up to ``jitter``
        random seconds (so clients that failed together do not come back together)."""
        if retry <= 1:
            return 0.0
        delay = self.backoff_factor * 2.0 ** (retry - 1) + random.random() * self.backoff_jitter
        return min(BACKOFF_MAX, delay)


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (delay in seconds, or an HTTP date) in seconds; None if absent
    or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


# -- addresses -------------------------------------------------------------------------------------

class Origin(NamedTuple):
    """Where connections go: scheme, host and port (a pool per origin)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def split_url(url: str) -> tuple[Origin, str, tuple[str, str] | None]:
    """``http[s]://[user:password@]host[:port][/prefix]`` → origin, path prefix, userinfo."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise TrackstoreError(f"Invalid tracking server URL {redact(url)!r}: expected "
                              "http[s]://host[:port][/path]", INVALID_PARAMETER_VALUE)
    origin = Origin(scheme, parts.hostname, port or (443 if scheme == "https" else 80))
    userinfo = None
    if parts.username is not None:
        userinfo = (urllib.parse.unquote(parts.username),
                    urllib.parse.unquote(parts.password or ""))
    return origin, parts.path.rstrip("/"), userinfo


def _redirect_target(url: str) -> tuple[Origin, str]:
    """The origin and request target (path and query) of a redirect's absolute URL."""
    origin, _, _ = split_url(url)
    parts = urllib.parse.urlsplit(url)
    return origin, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def redact(url: str) -> str:
    """*url* without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + b64encode(f"{username}:{password}".encode()).decode("ascii")


@dataclass(frozen=True, slots=True)
class _Proxy:
    host: str
    port: int
    headers: dict[str, str]


def _proxy_for(origin: Origin) -> _Proxy | None:
    """The proxy ``requests`` would use for *origin* (environment, ``NO_PROXY`` honoured)."""
    proxies = urllib.request.getproxies()
    url = proxies.get(origin.scheme) or proxies.get("all")
    if not url or urllib.request.proxy_bypass(f"{origin.host}:{origin.port}"):
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise TrackstoreError(f"Unsupported proxy {redact(url)!r} for {origin}: only http:// "
                              "proxies are supported", INVALID_PARAMETER_VALUE)
    headers = {}
    if parts.username is not None:
        headers["Proxy-Authorization"] = basic_authorization(
            urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
    return _Proxy(parts.hostname, parts.port or 80, headers)


# -- connection pool -------------------------------------------------------------------------------

def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle kept-alive socket is readable: the server closed it (EOF) or sent
    something unasked; either way it cannot carry a request. Checked before every reuse, so a
    request that must not be repeated is not sent on a connection already closed."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


class ConnectionPool:
    """Idle keep-alive connections to one origin.

    A connection is taken out while one thread uses it and put back after its response has been
    read in full, so two threads never share one. Any number may be open at once; at most
    *maxsize* idle ones are kept. After ``fork`` the child starts with no idle connections:
    sockets inherited from the parent would interleave two processes' requests.
    """

    def __init__(self, connect: Callable[[], http.client.HTTPConnection], maxsize: int) -> None:
        self.new = connect
        self._maxsize = maxsize
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def get(self) -> http.client.HTTPConnection:
        """The most recently used idle connection still open, else a new unconnected one."""
        while True:
            with self._lock:
                if self._pid != os.getpid():
                    self._idle.clear()
                    self._pid = os.getpid()
                if not self._idle:
                    return self.new()
                conn = self._idle.pop()
            if conn.sock is not None and not _closed_by_peer(conn.sock):
                return conn
            conn.close()

    def put(self, conn: http.client.HTTPConnection) -> None:
        """Return a connection whose response was read in full (closed ones are dropped)."""
        if conn.sock is not None:
            with self._lock:
                if len(self._idle) < self._maxsize and self._pid == os.getpid():
                    self._idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


# -- requests --------------------------------------------------------------------------------------

class Response(NamedTuple):
    status: int
    reason: str
    headers: Message
    body: bytes


@dataclass(frozen=True, slots=True)
class _Route:
    pool: ConnectionPool
    absolute_form: bool  # through a plain-HTTP proxy the request line carries the whole URL
    proxy_headers: dict[str, str]


class _AttemptFailed(Exception):
    """One attempt failed without a response; *stage* says how far the request got."""

    def __init__(self, cause: BaseException, stage: str) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.stage = stage  # "connect", "send", "receive"

    def retryable(self, retry_safe: bool) -> bool:
        if isinstance(self.cause, ssl.SSLCertVerificationError):
            return False  # a certificate does not become trusted by asking again
        if isinstance(self.cause, socket.gaierror):
            return self.cause.errno == socket.EAI_AGAIN  # a typo'd host name stays unknown
        # Until the request is fully written the server cannot have acted on it.
        return retry_safe or self.stage in ("connect", "send")


_DROPPED = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
            http.client.RemoteDisconnected)


class HttpClient:
    """Requests to one tracking server (``http[s]://host[:port][/prefix]``), with MLflow's
    retry policy.

    *authorization* is called for every request, as MLflow fetches fresh credentials for every
    request, so rotated tokens are picked up. *ssl_context* makes the TLS settings, once, when
    the first ``https`` connection needs them (at construction for an ``https`` server, so a
    bad CA bundle or proxy setting is reported at once). *sleep* is what waits between retries.
    A request is ``retry_safe`` when repeating it cannot change the outcome (reads, searches,
    logging, updates): it is retried on the statuses in :data:`RETRY_STATUSES`, on connection
    errors and on timeouts. Other requests (creates) are repeated only when the server cannot
    have acted on them: a refused connection, a failure while sending, 408, 429, or 503 with
    ``Retry-After``.
    """

    def __init__(self, base_url: str, *, authorization: Callable[[], str | None],
                 ssl_context: Callable[[], ssl.SSLContext], settings: HttpSettings,
                 sleep: Callable[[float], None]) -> None:
        self.origin, self.base_path, _ = split_url(base_url)
        self._authorization = authorization
        self._make_ssl_context = ssl_context
        self._ssl_context: ssl.SSLContext | None = None
        self.settings = settings
        self._sleep = sleep
        self._routes: dict[Origin, _Route] = {}
        self._lock = threading.Lock()
        self._route(self.origin)

    @property
    def url(self) -> str:
        """The server's base URL, without credentials."""
        return f"{self.origin}{self.base_path}"

    def close(self) -> None:
        with self._lock:
            routes = list(self._routes.values())
        for route in routes:
            route.pool.close()

    def _route(self, origin: Origin) -> _Route:
        with self._lock:
            route = self._routes.get(origin)
            if route is None:
                route = self._routes[origin] = self._new_route(origin)
            return route

    def _new_route(self, origin: Origin) -> _Route:
        timeout, maxsize = self.settings.timeout, self.settings.pool_maxsize
        proxy = _proxy_for(origin)
        if origin.scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = self._make_ssl_context()
            context = self._ssl_context

            def connect_tls() -> http.client.HTTPConnection:
                if proxy is None:
                    return http.client.HTTPSConnection(origin.host, origin.port, timeout=timeout,
                                                       context=context)
                conn = http.client.HTTPSConnection(proxy.host, proxy.port, timeout=timeout,
                                                   context=context)
                conn.set_tunnel(origin.host, origin.port, headers=proxy.headers)
                return conn

            return _Route(ConnectionPool(connect_tls, maxsize), False, {})
        host, port = (origin.host, origin.port) if proxy is None else (proxy.host, proxy.port)
        return _Route(
            ConnectionPool(lambda: http.client.HTTPConnection(host, port, timeout=timeout),
                           maxsize),
            proxy is not None, proxy.headers if proxy else {})

    def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                body: bytes | None = None, retry_safe: bool) -> Response:
        """Send ``method base_path+path`` and return the final response, whatever its status.

        Raises :class:`TrackstoreError` (``TEMPORARILY_UNAVAILABLE``, or
        ``DEADLINE_EXCEEDED`` on a timeout) when no response could be had.
        """
        target = self.base_path + path
        if query:
            target += "?" + urllib.parse.urlencode(query, doseq=True)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        authorization = self._authorization()
        if authorization:
            headers["Authorization"] = authorization
        origin, retries, redirects = self.origin, 0, 0
        while True:
            try:
                response = self._attempt(origin, method, target, body, headers, retry_safe)
            except _AttemptFailed as failed:
                if retries >= self.settings.max_retries or not failed.retryable(retry_safe):
                    raise self._unreachable(failed, method, origin, target, retries) from None
                retries += 1
                self._sleep(self.settings.backoff(retries))
                continue
            if response.status in RETRY_STATUSES and retries < self.settings.max_retries:
                wait = retry_after_seconds(response.headers.get("Retry-After")) \
                    if self.settings.respect_retry_after else None
                if retry_safe or response.status in _NOT_PROCESSED or (
                        response.status == 503 and wait is not None):
                    retries += 1
                    self._sleep(self.settings.backoff(retries) if wait is None
                                else min(wait, BACKOFF_MAX))
                    continue
            location = response.headers.get("Location")
            if (response.status in _REDIRECTS and location and self.settings.allow_redirects
                    and redirects < _MAX_REDIRECTS
                    and (method == "GET" or response.status in (307, 308))):
                # 301/302/303 would turn a POST into a bodiless GET (as browsers do), which
                # no tracking endpoint accepts: only 307/308 redirect a POST.
                redirects += 1
                new_origin, target = _redirect_target(
                    urllib.parse.urljoin(f"{origin}{target}", location))
                if new_origin.host != origin.host:
                    headers.pop("Authorization", None)  # credentials stay with their host
                origin = new_origin
                continue
            return response

    def _attempt(self, origin: Origin, method: str, target: str, body: bytes | None,
                 headers: dict[str, str], retry_safe: bool) -> Response:
        route = self._route(origin)
        if route.absolute_form:
            target = f"{origin}{target}"
            headers = {**headers, **route.proxy_headers}
        conn = route.pool.get()
        while True:
            reused, stage = conn.sock is not None, "connect"
            try:
                if not reused:
                    conn.connect()
                stage = "send"
                self._send(conn, method, target, body, headers)
                stage = "receive"
                raw = conn.getresponse()
                data = self._receive(raw)
            except (OSError, http.client.HTTPException) as exc:
                answer = self._answer_after_failed_send(conn) if stage == "send" else None
                conn.close()
                if answer is not None:
                    return answer
                if reused and (stage == "send" or (
                        retry_safe and stage == "receive" and isinstance(exc, _DROPPED))):
                    # The server closed this kept-alive connection while it sat idle: the
                    # request never reached it. Reopen and resend, not counted as a retry.
                    conn = route.pool.new()
                    continue
                raise _AttemptFailed(exc, stage) from exc
            except BaseException:
                conn.close()  # in an unknown state: never back to the pool
                raise
            route.pool.put(conn)
            return Response(raw.status, raw.reason, raw.headers, data)

    # What an attempt sends and reads; a subclass streams files through these (the artifact
    # repository), the connection handling and retry policy above staying the same.

    def _send(self, conn: http.client.HTTPConnection, method: str, target: str,
              body: bytes | None, headers: dict[str, str]) -> None:
        conn.request(method, target, body=body, headers=headers)

    def _receive(self, raw: http.client.HTTPResponse) -> bytes:
        return raw.read()

    def _answer_after_failed_send(self, conn: http.client.HTTPConnection) -> Response | None:
        """An answer the server sent before it stopped reading the request (None: none)."""
        return None

    def _unreachable(self, failed: _AttemptFailed, method: str, origin: Origin, target: str,
                     retries: int) -> TrackstoreError:
        url = f"{origin}{target.partition('?')[0]}"
        after = f" (after {retries} retries)" if retries else ""
        cause = failed.cause
        if isinstance(cause, TimeoutError):
            return TrackstoreError(
                f"API request {method} {url} timed out after {self.settings.timeout:g} s{after}. "
                "To wait longer, set MLFLOW_HTTP_REQUEST_TIMEOUT to a larger value.",
                DEADLINE_EXCEEDED)
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TrackstoreError(
                f"API request {method} {url} failed: the server's TLS certificate could not be "
                f"verified ({cause.verify_message or cause}). Set MLFLOW_TRACKING_SERVER_CERT_PATH "
                "to the CA bundle that signed it (or MLFLOW_TRACKING_INSECURE_TLS=true to skip "
                "verification).", TEMPORARILY_UNAVAILABLE)
        detail = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        if failed.stage == "receive":
            return TrackstoreError(
                f"API request {method} {url} failed{after}: the connection broke before the "
                f"server answered ({detail}); it may or may not have been carried out.",
                TEMPORARILY_UNAVAILABLE)
        return TrackstoreError(f"API request {method} {url} failed{after}: could not reach the "
                               f"tracking server ({detail}).", TEMPORARILY_UNAVAILABLE)

    def call(self, method: str, path: str, payload: Mapping[str, Any], *,
             retry_safe: bool) -> dict[str, Any]:
        """A REST call as MLflow's client makes it: a GET sends *payload* as query parameters
        (lists repeated), other methods as a JSON body. Returns the response object.

        A non-2xx response raises :class:`TrackstoreError` with the server's ``error_code``
        and ``message``, or, when the body is not MLflow's JSON error (a proxy's HTML page),
        a code derived from the status and an excerpt of the body.
        """
        if method == "GET":
            response = self.request(method, path, query=payload, retry_safe=retry_safe)
        else:
            response = self.request(method, path, body=dumps(payload), retry_safe=retry_safe)
        url = f"{self.url}{path}"
        parsed = _json_object(response.body)
        if 200 <= response.status < 300:
            if not response.body.strip():
                return {}
            if parsed is None:
                raise TrackstoreError(
                    f"API request {method} {url} succeeded but its response is not a JSON "
                    f"object: {_excerpt(response.body)}", INTERNAL_ERROR)
            return parsed
        code = error_code_for_status(response.status)
        if parsed is not None and (parsed.get("error_code") or parsed.get("message")):
            raw_code, message = parsed.get("error_code"), parsed.get("message")
            if isinstance(raw_code, str) and raw_code and not raw_code.isdigit():
                code = raw_code
            text = message if isinstance(message, str) and message else _excerpt(response.body)
            raise TrackstoreError(text, code)
        reason = f" {response.reason}" if response.reason else ""
        raise TrackstoreError(
            f"API request {method} {url} failed with HTTP {response.status}{reason}: "
            f"{_excerpt(response.body) or '(empty body)'}", code)


_STATUS_TO_CODE = {
    400: BAD_REQUEST, 401: UNAUTHENTICATED, 403: PERMISSION_DENIED, 404: ENDPOINT_NOT_FOUND,
    409: ABORTED, 429: REQUEST_LIMIT_EXCEEDED, 501: NOT_IMPLEMENTED,
    502: TEMPORARILY_UNAVAILABLE, 503: TEMPORARILY_UNAVAILABLE, 504: DEADLINE_EXCEEDED,
}


def error_code_for_status(status: int) -> str:
    """The error code of a response without MLflow's JSON error body, as MLflow's client
    derives it (404 is a missing endpoint, not a missing resource: only a JSON error says
    RESOURCE_DOES_NOT_EXIST)."""
    return _STATUS_TO_CODE.get(status, INTERNAL_ERROR)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = loads(body)
    except ValueError:  # also UnicodeDecodeError
        return None
    return value if isinstance(value, dict) else None


def _excerpt(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."
