"""trackstore's HTTP/1.1 protocol: the tracking API served without the ASGI layer.

uvicorn still runs the server (sockets, worker processes, signals, lifespan, graceful
shutdown); this module replaces only its per-connection protocol, passed as
``uvicorn.Config(http=TrackingHttp)``. A request is parsed by httptools (llhttp, in C) and
handed straight to :class:`~trackstore.server.app.TrackingApp`'s decisions; the answer
leaves in one ``write()``. uvicorn's own protocol builds an ASGI scope, a task, an event
and two ``send`` messages per request: measured on this project's 2-core VM, a
``log-metric`` request cost the server 184 µs of CPU through it without any store work,
against about 50 µs for a bare httptools protocol on the same loop, in a request whose
whole cost on PostgreSQL is about 0.6 ms of the machine's CPU.

Behaviour:

* HTTP/1.1 keep-alive (and HTTP/1.0 with ``Connection: keep-alive``), ``Connection:
  close``, pipelining (requests queued behind one that is still being answered), chunked
  and ``Content-Length`` request bodies, ``Expect: 100-continue``, ``HEAD`` (no body);
  idle connections closed after ``timeout_keep_alive`` seconds.
* Limits: the request line and headers at most :data:`MAX_HEAD_BYTES` (431), the body at
  most ``--max-request-bytes`` (413, whether declared or sent chunked), the whole request
  within :data:`REQUEST_READ_SECONDS` of its first byte (408: a stalled or deliberately
  slow client does not hold a connection forever); a request over a limit is answered and
  its connection closed. A request that does not parse gets 400 and
  the connection is closed. An artifact upload (:mod:`.artifacts`) streams to disk instead,
  without the body cap, reading paused while the disk lags behind; it may last as long as
  its bytes keep coming (408 after :data:`REQUEST_READ_SECONDS` without one).
* Artifact downloads are sent a chunk at a time with the same flow control as history pages.
* Bounded handlers run inline on the event loop, scans on the application's threads;
  history pages are sent as a chunked body, each page read on a thread, with the
  transport's flow control (a slow reader pauses the reads of the next pages).
* Graceful shutdown: an idle connection is closed at once, a busy one after its answer.
* The access log records the client named in ``X-Forwarded-For`` when the peer is a
  trusted proxy (uvicorn's ``--forwarded-allow-ips``, by default 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import sys
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, NamedTuple, NoReturn

import httptools

from .app import TEXT, Reply, TrackingApp, too_large
from .artifacts import ArtifactCall, Download, Upload
from .handlers import Handler

log = logging.getLogger("trackstore.server")

#: The most bytes a request line and its headers may take.
MAX_HEAD_BYTES = 64 * 1024
#: Seconds a client has to send a whole request once it has begun one (then 408, closed).
REQUEST_READ_SECONDS = 120.0

_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Request(NamedTuple):
    method: str
    path: str
    query: bytes
    body: bytes
    keep_alive: bool
    outcome: Handler | Reply | ArtifactCall
    started: float
    client: str  # for the access log
    upload: Upload | None  # where an artifact upload's body went


class _Reject(Exception):
    """A request refused while it is read (see :meth:`TrackingHttp._reject`)."""


def _text_reply(status: int, message: str) -> Reply:
    return Reply(status, message.encode(), TEXT)


class _Date:
    """The ``Date`` header's value, made once a second."""

    second = -1
    value = b""

    @classmethod
    def now(cls) -> bytes:
        second = int(time.time())
        if second != cls.second:
            cls.second = second
            cls.value = formatdate(second, usegmt=True).encode()
        return cls.value


class _Proxies:
    """The trusted proxies of ``--forwarded-allow-ips`` (addresses, networks or ``*``)."""

    def __init__(self, spec: str | tuple[str, ...] | None) -> None:
        items = spec.split(",") if isinstance(spec, str) else list(spec or ())
        items = [item.strip() for item in items if item.strip()]
        self.everyone = "*" in items
        self.hosts: set[str] = set()
        self.networks: list[Any] = []
        for item in items:
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.hosts.add(item)  # a name (or a unix socket path) as given

    def trusted(self, host: str) -> bool:
        if self.everyone or host in self.hosts:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, peer: str, forwarded: bytes | None) -> str:
        """The client for the access log: the nearest untrusted hop of ``X-Forwarded-For``
        when *peer* is a trusted proxy, else the peer."""
        if forwarded is None or not self.trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusted(hop):
                return hop
        return hops[0] if hops else peer


@functools.lru_cache(maxsize=8)
def _proxies(spec: str | tuple[str, ...] | None) -> _Proxies:
    """The parsed ``--forwarded-allow-ips`` (once, not per connection)."""
    return _Proxies(spec)


def _tracking_app(app: Any) -> TrackingApp:
    """The TrackingApp inside uvicorn's loaded app (wrapped in its middlewares)."""
    seen = 0
    while not isinstance(app, TrackingApp):
        app = getattr(app, "app", None)
        seen += 1
        if app is None or seen > 10:
            raise TypeError("TrackingHttp serves trackstore.server.app.TrackingApp only")
    return app


class TrackingHttp(asyncio.Protocol):
    """One HTTP/1.1 connection to the tracking API (see the module doc)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        if not config.loaded:
            config.load()
        self.app = _tracking_app(config.loaded_app)
        self.loop = _loop or asyncio.get_event_loop()
        self.state = server_state
        self.keep_alive_seconds = config.timeout_keep_alive
        allowed = config.forwarded_allow_ips
        self.proxies = (_proxies(tuple(allowed) if isinstance(allowed, list) else allowed)
                        if config.proxy_headers else None)
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.peer = "-"
        self.client = "-"  # the request's client: the peer, or whom a trusted proxy names
        self.queue: deque[_Request] = deque()  # complete requests behind a busy one
        self.busy = False  # a request is being answered off the loop (threads, pages)
        self.closing = False  # close once the current answer is written
        self.read_paused = False
        self.rejected: Reply | None = None  # the answer to a request refused while read
        self.timer: asyncio.TimerHandle | None = None  # the idle keep-alive timeout
        self.reading = False  # a request has begun and is not complete yet
        self.read_started = 0.0
        self.read_timer: asyncio.TimerHandle | None = None
        self.writable: asyncio.Event | None = None  # set while writes may go on
        # The request being read.
        self.method = ""
        self.path = ""
        self.query = b""
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.head_bytes = 0
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.limit = 0
        self.keep_body = False
        self.outcome: Handler | Reply | ArtifactCall | None = None
        self.upload: Upload | None = None  # an artifact upload's body goes there, not to memory
        self.upload_pauses = 0  # uploads whose bodies wait for the disk: reading stopped
        self.started = 0.0

    # -- the connection ----------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:  # (uvloop's is no asyncio.Transport)
        self.transport = transport
        self.state.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) and peer else "-"

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self.closing = True
        self._cancel_timer()
        if self.read_timer is not None:
            self.read_timer.cancel()
            self.read_timer = None
        if self.writable is not None:
            self.writable.set()  # a page waiting to be written finds the connection gone
        for upload in (self.upload, *(request.upload for request in self.queue)):
            if upload is not None:  # never to be answered: nothing of it may stay
                upload.abort()
        self.upload = None
        self.queue.clear()

    def eof_received(self) -> bool | None:
        return None  # close the transport (after what is being written)

    def pause_writing(self) -> None:
        if self.writable is None:
            self.writable = asyncio.Event()
        self.writable.clear()

    def resume_writing(self) -> None:
        if self.writable is not None:
            self.writable.set()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close now if idle, else after the current answer."""
        self.closing = True
        if not self.busy and self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._cancel_timer()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(_text_reply(400, "Unsupported upgrade request."))
        except (_Reject, httptools.HttpParserError):
            # (a _Reject raised in a callback arrives wrapped in HttpParserCallbackError)
            rejected, self.rejected = self.rejected, None
            self._refuse(rejected or _text_reply(400, "Invalid HTTP request received."))
        except Exception:  # a defect: never a stack trace to the client, never a hang
            log.exception("request handling failed")
            self._refuse(_text_reply(500, "Internal server error."))
        else:
            if self.reading and self.read_timer is None:  # a request arrives in parts
                self.read_timer = self.loop.call_at(self.read_started + REQUEST_READ_SECONDS,
                                                    self._read_timeout)

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.reading = True
        self.read_started = self.loop.time()
        self.url = b""
        self.headers = {}
        self.head_bytes = 0
        self.body = []
        self.body_bytes = 0
        self.outcome = None
        self.upload = None
        self.started = time.perf_counter()

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_bytes += len(url)
        if self.head_bytes > MAX_HEAD_BYTES:
            self._reject(_text_reply(431, "Request line and headers too large."))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > MAX_HEAD_BYTES:
            self._reject(_text_reply(431, "Request line and headers too large."))
        name = name.lower()
        known = self.headers.get(name)
        self.headers[name] = value if known is None else known + b", " + value

    def on_headers_complete(self) -> None:
        method = self.parser.get_method().decode("ascii")
        url = httptools.parse_url(self.url)
        path = url.path.decode("latin-1")
        if "%" in path:
            path = urllib.parse.unquote(path)
        self.method, self.path, self.query = method, path, url.query or b""
        client = self.peer  # (behind a trusted proxy, the client it names: rate limits, log)
        if self.proxies is not None:
            client = self.proxies.client(self.peer, self.headers.get(b"x-forwarded-for"))
        self.client = client
        outcome = self.outcome = self.app.prepare(method, path, self.headers, client)
        self.keep_body = self.app.reads_body(method) and callable(outcome)
        if isinstance(outcome, ArtifactCall):
            self.upload = outcome.start_upload(self.loop, self.app.pool(), self._upload_backlog)
        if self.upload is not None:
            self.limit = sys.maxsize  # streamed to disk: no --max-request-bytes (see .artifacts)
        else:
            try:
                self.limit = self.app.body_limit(self.headers.get(b"content-length"))
            except Exception as exc:  # declared over the limit: refused before it is sent
                self._reject(outcome if isinstance(outcome, Reply)
                             else self.app.failure(exc, method, path))
        announced = (self.headers.get(b"content-length", b"0") != b"0"
                     or b"transfer-encoding" in self.headers)
        if announced and self.headers.get(b"expect", b"").lower() == b"100-continue":
            if isinstance(outcome, Reply):  # refused before the body is sent
                self._reject(outcome)
            assert self.transport is not None
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.limit:
            outcome = self.outcome
            if isinstance(outcome, Reply):
                self._reject(outcome)
            self._reject(self.app.failure(too_large(self.body_bytes, self.limit),
                                          self.method, self.path))
        if self.keep_body:
            self.body.append(body)
        elif self.upload is not None:
            self.upload.feed(body)
            if self.upload.error is not None:  # answered now, not after the whole body
                self._reject(self.app.failure(self.upload.error, self.method, self.path))

    def on_message_complete(self) -> None:
        self.reading = False
        if self.read_timer is not None:
            self.read_timer.cancel()
            self.read_timer = None
        if self.closing and self.transport is not None and self.transport.is_closing():
            return
        assert self.outcome is not None
        request = _Request(self.method, self.path, self.query,
                           b"".join(self.body) if self.body else b"",
                           self.parser.should_keep_alive(), self.outcome, self.started,
                           self.client,
                           self.upload)
        self.body = []
        self.upload = None
        if self.busy or self.queue:
            self.queue.append(request)
            if not self.read_paused:  # the client waits for the answers in order
                self.read_paused = True
                assert self.transport is not None
                self.transport.pause_reading()
            return
        self._serve(request)

    def _upload_backlog(self, backlog: bool) -> None:
        """An upload's body waits for the disk (True: stop reading) or no longer (False)."""
        assert self.transport is not None
        self.upload_pauses += 1 if backlog else -1
        if backlog and self.upload_pauses == 1:
            self.transport.pause_reading()
        elif not backlog and not self.upload_pauses and not self.read_paused:
            self.transport.resume_reading()  # (queued requests keep reading paused themselves)

    def _reject(self, reply: Reply) -> NoReturn:
        """Refuse the request being read: *reply* is sent and the connection closed."""
        self.rejected = reply
        raise _Reject(reply.status)

    # -- answering ---------------------------------------------------------------------------

    def _serve(self, request: _Request) -> None:
        outcome = request.outcome
        if isinstance(outcome, Reply):
            self._answer(request, outcome)
            return
        if isinstance(outcome, ArtifactCall):
            self._start(self._serve_artifact(request, outcome))
            return
        app = self.app
        if app.threaded(outcome):
            self._start(self._serve_on_thread(request, outcome))
            return
        result: bytes | Iterator[bytes] | Exception
        try:
            result = app.call(outcome, request.method, request.query, request.body)
        except Exception as exc:
            result = exc
        self._deliver(request, result)

    def _start(self, work: Any) -> None:
        self.busy = True
        task = self.loop.create_task(work)
        self.state.tasks.add(task)
        task.add_done_callback(self.state.tasks.discard)

    async def _serve_on_thread(self, request: _Request, handler: Handler) -> None:
        app = self.app
        result: bytes | Iterator[bytes] | Exception
        try:
            result = await self.loop.run_in_executor(
                app.pool(), app.call, handler, request.method, request.query, request.body)
        except Exception as exc:
            result = exc
        self._deliver(request, result)

    def _deliver(self, request: _Request, result: bytes | Iterator[bytes] | Exception) -> None:
        """Answer with a handler's result: its JSON, its error, or its pages."""
        if isinstance(result, Exception):
            self._answer(request, self.app.failure(result, request.method, request.path))
        elif isinstance(result, bytes):
            self._answer(request, Reply(200, result))
        else:
            self._start(self._stream(request, result))

    async def _serve_artifact(self, request: _Request, call: ArtifactCall) -> None:
        answer = await call.answer(self.app, request.query, request.upload)
        if isinstance(answer, Reply):
            self._answer(request, answer)
            return
        status = 499
        try:
            status = await self._send_file(request, answer)
        finally:
            answer.close()
            if status != 200 or self.transport.is_closing():
                self.closing = True
            self._done(request, status)

    async def _send_file(self, request: _Request, download: Download) -> int:
        """Write a file's answer (its length known), a chunk at a time, each read on a thread,
        with the transport's flow control; the status for the access log."""
        transport = self.transport
        if transport.is_closing():
            return 499
        transport.write(self._head(request, 200, download.content_type, download.headers,
                                   download.size))
        if request.method == "HEAD":
            return 200
        while data := await self.loop.run_in_executor(self.app.pool(), download.read):
            transport.write(data)
            if self.writable is not None and not self.writable.is_set():
                await self.writable.wait()
            if transport.is_closing():
                return 499
        if download.remaining:
            # The length is sent: the only honest signal left is to cut the body short.
            log.error("%s %s: the file shrank while it was sent (%d of %d bytes missing)",
                      request.method, request.path, download.remaining, download.size)
            transport.close()
            return 500
        return 200

    def _head(self, request: _Request | None, status: int, content_type: bytes,
              extra: tuple[tuple[bytes, bytes], ...], length: int | None) -> bytearray:
        """An answer's status line and headers; *request* None: the last on the connection."""
        keep = request is not None and request.keep_alive and not self.closing
        if not keep:
            self.closing = True
        head = bytearray(b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ndate: %s\r\n" % (
            status, _REASONS.get(status, b""), content_type, _Date.now()))
        if length is None:
            head += b"transfer-encoding: chunked\r\n"
        else:
            head += b"content-length: %d\r\n" % length
        for name, value in extra:
            head += name + b": " + value + b"\r\n"
        if not keep:
            head += b"connection: close\r\n"
        head += b"\r\n"
        return head

    def _answer(self, request: _Request, reply: Reply) -> None:
        """Write a whole answer, then go on with the connection."""
        transport = self.transport
        assert transport is not None
        if not transport.is_closing():
            message = self._head(request, reply.status, reply.content_type, reply.extra,
                                 len(reply.body))
            if request.method != "HEAD":
                message += reply.body
            transport.write(message)
        self._done(request, reply.status)

    async def _stream(self, request: _Request, pages: Iterator[bytes]) -> None:
        """Send a body made page by page (each page read on a thread) as a chunked body."""
        self.busy = True
        status = 499  # (also what a cancelled task is logged as)
        try:
            try:
                page = await self.loop.run_in_executor(self.app.pool(), next, pages, None)
            except Exception as exc:  # nothing sent yet: a whole error answer
                status = 0  # (_answer finishes the request)
                self._answer(request, self.app.failure(exc, request.method, request.path))
                return
            status = await self._send_pages(request, page, pages)
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
            if status:
                if status != 200 or self.transport.is_closing():
                    self.closing = True
                self._done(request, status)

    async def _send_pages(self, request: _Request, page: bytes | None,
                          pages: Iterator[bytes]) -> int:
        """Write the chunked body from its first *page* on; the status for the access log
        (499: the client went away)."""
        transport = self.transport
        if transport.is_closing():
            return 499
        transport.write(self._head(request, 200, b"application/json", (), None))
        while page is not None:
            if page and request.method != "HEAD":
                transport.write(b"%x\r\n%s\r\n" % (len(page), page))
            if self.writable is not None and not self.writable.is_set():
                await self.writable.wait()
            if transport.is_closing():
                return 499
            try:
                page = await self.loop.run_in_executor(self.app.pool(), next, pages, None)
            except Exception:
                # The status line is sent: the only honest signal left is to cut the body
                # short, which the client sees as a broken response.
                log.exception("%s %s failed while streaming", request.method, request.path)
                transport.close()
                return 500
        if request.method != "HEAD":
            transport.write(b"0\r\n\r\n")
        return 200

    def _done(self, request: _Request, status: int) -> None:
        """After an answer: log it, then close, or serve what is queued, or wait."""
        access = self.app.access_log
        if access is not None:
            access.add(request.client, request.method, request.path, status,
                       (time.perf_counter() - request.started) * 1000)
        self.state.total_requests += 1
        self.busy = False
        transport = self.transport
        assert transport is not None
        if self.closing or transport.is_closing():
            self.queue.clear()
            transport.close()
            return
        while self.queue and not self.busy and not self.closing:
            self._serve(self.queue.popleft())
        if self.busy or self.closing:
            return
        if self.read_paused:
            self.read_paused = False
            if not self.upload_pauses:
                transport.resume_reading()
        self._cancel_timer()
        self.timer = self.loop.call_later(self.keep_alive_seconds, self._idle_timeout)

    def _refuse(self, reply: Reply) -> None:
        """Answer a request that cannot be read on, and close the connection."""
        self.closing = True
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.busy:  # an answer is still being made: just close after it
            return
        transport.write(self._head(None, reply.status, reply.content_type, reply.extra,
                                   len(reply.body)) + reply.body)
        transport.close()

    def _read_timeout(self) -> None:
        """A request begun :data:`REQUEST_READ_SECONDS` ago is still not complete (a stalled
        or deliberately slow client): 408, and the connection is closed."""
        self.read_timer = None
        if not self.reading:
            return
        upload = self.upload
        if upload is not None and self.loop.time() - upload.last_progress < REQUEST_READ_SECONDS:
            # An artifact upload may take as long as it needs while its bytes keep coming.
            self.read_timer = self.loop.call_at(upload.last_progress + REQUEST_READ_SECONDS,
                                                self._read_timeout)
            return
        self._refuse(_text_reply(408, "Request not received in time."))

    def _idle_timeout(self) -> None:
        self.timer = None
        if not self.busy and self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
