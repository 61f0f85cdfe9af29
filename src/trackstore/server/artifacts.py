"""The artifact proxy of ``trackstore server``: MLflow's ``mlflow-artifacts`` endpoints over a
local directory (``--artifacts-destination``), served unless ``--no-serve-artifacts``.

Endpoints, under ``/api/2.0/mlflow-artifacts`` and ``/ajax-api/2.0/mlflow-artifacts`` (behind
``--static-prefix`` and ``--auth`` like every other route), answered as ``mlflow server``
answers them:

``PUT artifacts/<path>``
    The raw body (any content type) becomes the file ``<destination>/<path>``: ``{}``.
``GET artifacts/<path>`` (and ``HEAD``)
    The file, with ``Content-Length``, MLflow's guessed ``Content-Type``, ``Content-Disposition:
    attachment`` and ``X-Content-Type-Options: nosniff``; 404 ``RESOURCE_DOES_NOT_EXIST`` for a
    missing file, 400 ``INVALID_PARAMETER_VALUE`` for a directory.
``GET artifacts?path=<dir>``
    ``{"files": [{"path": <name in dir>, "is_dir": ..., "file_size": ...}]}``; ``file_size``
    only for a file that is not empty, ``{}`` for an empty, missing or file path.
``DELETE artifacts/<path>``
    The file or the directory tree (nothing there is not an error): ``{}``.
``POST mpu/{create,complete,abort}/<path>``, ``GET presigned/<path>``
    Multipart uploads and presigned downloads exist only for cloud destinations; for a local
    one, 501 ``NOT_IMPLEMENTED`` with MLflow's message, which its client takes as "upload and
    download through the proxy" (``/server-info`` also says both are off).

Paths: every ``<path>`` (and ``?path=``) is relative to the destination and checked as the
local artifact repository checks paths (:func:`trackstore.artifacts.clean_artifact_path`:
``..``, absolute, backslash, NUL, a name over 255 bytes; links out of the destination), once
percent-decoded and again fully decoded (``%252e%252e`` is refused too, as MLflow refuses
it); a refused path is 400 and touches nothing.

Streaming: a body is written to disk as it arrives, on the application's threads, one write
at a time, never held whole in memory; when :data:`HIGH_WATER` bytes wait for the disk the
connection stops reading until the disk catches up. It goes to a staging file beside its
target, renamed into place once the body is complete, so an upload cut short (client gone,
error, timeout) leaves no file, and a reader sees the old file or the new one, never half of
one. Artifact uploads are not subject to ``--max-request-bytes`` (the cap on JSON bodies, which
are read whole): a model's weights may be many GiB, as with MLflow, and the destination's free
space is the bound (a full disk is an error, and the staging file is removed). A download is
read in chunks of :data:`CHUNK` bytes on the threads and sent with the transport's flow
control, so a slow reader holds one chunk of memory.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import posixpath
import stat
import urllib.parse
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from .. import wire
from ..artifacts import (
    LocalArtifactRepository,
    check_artifact_name,
    clean_artifact_path,
    discard,
    staging_file,
)
from ..exceptions import (
    ENDPOINT_NOT_FOUND,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)
from ..store.file.meta import file_uri_to_path
from .app import Reply
from .app import _error_reply as error_reply

if TYPE_CHECKING:
    from .app import Receive, Scope, Send, TrackingApp

log = logging.getLogger("trackstore.server")

PREFIXES = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
#: The default artifact root of new experiments when artifacts are served (as MLflow's).
PROXY_ROOT = "mlflow-artifacts:/"
#: Bytes read from a file, or written to one, at a time.
CHUNK = 1 << 20
#: Body bytes waiting for the disk at which an upload's connection stops reading...
HIGH_WATER = 8 << 20
#: ... and at which it reads again.
LOW_WATER = 2 << 20
#: MLflow's messages, which its client recognises (it then uploads and downloads through the
#: proxy); ``mlflow.exceptions._UnsupportedMultipart{Upload,Download}Exception``.
NO_MULTIPART_UPLOAD = "Multipart upload is not supported for the current artifact repository"
NO_MULTIPART_DOWNLOAD = ("Multipart download is not supported for the current artifact "
                         "repository")
#: Extensions (and names) MLflow's server sends as text/plain (``get_text_extensions``).
TEXT_EXTENSIONS = frozenset((
    "txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon",
    "toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst", "ipynb",
    "MLmodel", "MLproject"))
#: TRACKSTORE_FSYNC=1: sync an uploaded file before the rename that publishes it.
_FSYNC = os.environ.get("TRACKSTORE_FSYNC", "0").strip().lower() in ("1", "true", "yes")
_FILE_METHODS = ("DELETE", "GET", "HEAD", "PUT")


def local_destination(uri: str) -> str:
    """``--artifacts-destination`` (a path or ``file:`` URI) as an absolute path."""
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme not in ("", "file") and len(scheme) != 1:
        raise TrackstoreError(f"{uri!r}: the artifact proxy keeps artifacts in a local "
                              "directory (a path or file: URI)", INVALID_PARAMETER_VALUE)
    path = os.path.abspath(file_uri_to_path(uri))
    if os.path.exists(path) and not os.path.isdir(path):
        raise TrackstoreError(f"{path} is not a directory", INVALID_PARAMETER_VALUE)
    return path


def _not_found(method: str, path: str) -> Reply:
    return error_reply(TrackstoreError(f"No endpoint {method} {path}", ENDPOINT_NOT_FOUND), 404)


def _not_allowed(method: str, path: str, allowed: tuple[str, ...]) -> Reply:
    allow = ", ".join(allowed)
    return error_reply(TrackstoreError(f"Method {method} not allowed on {path}; allowed: "
                                       f"{allow}", ENDPOINT_NOT_FOUND), 405,
                       ((b"allow", allow.encode()),))


class ArtifactProxy:
    """Routes the ``mlflow-artifacts`` paths; *destination* None: not served (404 saying so).
    """

    def __init__(self, destination: str | None) -> None:
        self.repository = LocalArtifactRepository(destination) if destination else None

    def prepare(self, method: str, path: str) -> ArtifactCall | Reply | None:
        """The call for *path* (static prefix removed), its refusal, or None when it is no
        artifact path. Path checks happen here, before any body is read."""
        rest = next((path[len(p):] for p in PREFIXES if path.startswith(p)), None)
        if rest is None:
            return None
        if self.repository is None:
            return error_reply(TrackstoreError(
                f"No endpoint {method} {path}: artifact serving is disabled (the server runs "
                "with --no-serve-artifacts; start it with --serve-artifacts to proxy "
                "artifacts)", ENDPOINT_NOT_FOUND), 404)
        kind, slash, remote = rest.partition("/")
        allowed: tuple[str, ...]
        if kind == "artifacts" and not slash:
            op, allowed = "list", ("GET",)
        elif kind == "artifacts":
            op = {"GET": "download", "HEAD": "download", "PUT": "upload",
                  "DELETE": "delete"}.get(method, "")
            allowed = _FILE_METHODS
        elif kind == "mpu":
            stage, slash, remote = remote.partition("/")
            if stage not in ("create", "complete", "abort") or not slash:
                return _not_found(method, path)
            op, allowed = "multipart", ("POST",)
        elif kind == "presigned" and slash:
            op, allowed = "presigned", ("GET",)
        else:
            return _not_found(method, path)
        if method not in allowed:
            return _not_allowed(method, path, allowed)
        try:
            relative = "" if op == "list" else checked_path(self.repository, remote)
            if op == "upload":
                self._check_upload(remote, relative)
        except TrackstoreError as exc:
            return error_reply(exc, exc.http_status)
        return ArtifactCall(self.repository, op, method, path, relative)

    def _check_upload(self, remote: str, relative: str) -> None:
        if not relative:
            raise TrackstoreError(f"Invalid artifact path {remote!r}: an upload needs a file "
                                  "path", INVALID_PARAMETER_VALUE)
        check_artifact_name(posixpath.basename(relative))
        assert self.repository is not None
        if os.path.isdir(self.repository.local_path(relative)):
            raise TrackstoreError(f"Cannot upload to {relative!r}: it is a directory",
                                  INVALID_PARAMETER_VALUE)


def checked_path(repository: LocalArtifactRepository, remote: str) -> str:
    """*remote* (percent-decoded once) as a clean path inside *repository*'s root
    (:func:`~trackstore.artifacts.clean_artifact_path` also refuses what further decoding
    would make an escape of, as MLflow does)."""
    relative = clean_artifact_path(remote)
    repository.local_path(relative)  # (links out of the destination)
    return relative


class ArtifactCall:
    """One request to the proxy, decided by :meth:`ArtifactProxy.prepare`."""

    __slots__ = ("method", "op", "path", "relative", "repository")

    def __init__(self, repository: LocalArtifactRepository, op: str, method: str, path: str,
                 relative: str) -> None:
        self.repository = repository
        self.op = op  # list, download, upload, delete, multipart, presigned
        self.method = method
        self.path = path  # as requested (for the log)
        self.relative = relative

    def start_upload(self, loop: asyncio.AbstractEventLoop, pool: Executor,
                     on_backlog: Callable[[bool], None] | None = None) -> Upload | None:
        """For a ``PUT``, where its body goes (see :class:`Upload`); else None (the body, if
        any, is not used)."""
        if self.op != "upload":
            return None
        return Upload(self.repository, self.relative, loop, pool, on_backlog)

    async def answer(self, app: TrackingApp, query: bytes,
                     upload: Upload | None) -> Reply | Download:
        """The answer, once the request (and an upload's body) is complete."""
        try:
            if upload is not None:
                await upload.finish()
                return Reply(200, b"{}")
            if self.op == "multipart":
                raise TrackstoreError(NO_MULTIPART_UPLOAD, NOT_IMPLEMENTED)
            if self.op == "presigned":
                raise TrackstoreError(NO_MULTIPART_DOWNLOAD, NOT_IMPLEMENTED)
            return await asyncio.get_running_loop().run_in_executor(
                app.pool(), self._run, query)
        except Exception as exc:
            return app.failure(_stored_error(exc, self.relative), self.method, self.path)

    def _run(self, query: bytes) -> Reply | Download:
        """List, delete or open for download (on a thread: each may take a while)."""
        if self.op == "list":
            return self._list(query)
        if self.op == "delete":
            if not self.relative:
                raise TrackstoreError("Refusing to delete the whole artifact destination",
                                      INVALID_PARAMETER_VALUE)
            self.repository.delete_artifacts(self.relative)
            return Reply(200, b"{}")
        return self._open()

    def _list(self, query: bytes) -> Reply:
        values = urllib.parse.parse_qs(query.decode("latin-1"), keep_blank_values=True)
        relative = checked_path(self.repository, values["path"][0]) if values.get("path") \
            else ""
        files = []
        for info in self.repository.list_artifacts(relative):
            entry: dict[str, Any] = {"path": posixpath.basename(info.path),
                                     "is_dir": info.is_dir}
            if info.file_size:  # MLflow leaves out a size of 0 (and a directory's)
                entry["file_size"] = info.file_size
            files.append(entry)
        return Reply(200, wire.dumps({"files": files}) if files else b"{}")

    def _open(self) -> Download:
        local = self.repository.local_path(self.relative)
        try:
            # O_NONBLOCK: opening a FIFO someone left there must not hang a thread.
            fd = os.open(local, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except (FileNotFoundError, NotADirectoryError):
            raise TrackstoreError(f"No such artifact: '{self.relative}'",
                                  RESOURCE_DOES_NOT_EXIST) from None
        except IsADirectoryError:
            fd = -1
        info = os.fstat(fd) if fd >= 0 else None
        if info is None or not stat.S_ISREG(info.st_mode):
            if fd >= 0:
                os.close(fd)
            if info is None or stat.S_ISDIR(info.st_mode):
                raise TrackstoreError("Artifact path refers to a directory, not a file: "
                                      f"'{self.relative}'", INVALID_PARAMETER_VALUE)
            raise TrackstoreError(f"Artifact path is not a regular file: '{self.relative}'",
                                  INVALID_PARAMETER_VALUE)
        name = posixpath.basename(self.relative)
        return Download(os.fdopen(fd, "rb", buffering=0), info.st_size, _mime_type(name),
                        ((b"content-disposition", _attachment(name)),
                         (b"x-content-type-options", b"nosniff")))


def _stored_error(exc: Exception, relative: str) -> Exception:
    """A disk error as a message the client can act on (the details go to the log)."""
    if isinstance(exc, OSError):
        log.error("artifact %r: %s", relative, exc)
        return TrackstoreError(f"The server could not store or read the artifact {relative!r}: "
                               f"{exc.strerror or type(exc).__name__}", INTERNAL_ERROR)
    return exc


def _mime_type(name: str) -> bytes:
    """The ``Content-Type`` MLflow's server sends for a file named *name*."""
    extension = os.path.splitext(name)[1].lstrip(".") or name
    if extension in TEXT_EXTENSIONS:
        return b"text/plain"
    guessed = mimetypes.guess_type(name)[0]
    return (guessed or "application/octet-stream").encode("latin-1")


def _attachment(name: str) -> bytes:
    """``Content-Disposition`` for *name*: an ASCII ``filename`` (never a quote, backslash or
    control character: a name is data, not header syntax) and the exact name in
    ``filename*`` when it differs."""
    plain = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in name) \
        or "download"
    value = f'attachment; filename="{plain}"'
    if plain != name:
        value += f"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
    return value.encode("ascii")


class Download:
    """An open file being sent: :meth:`read` (on a thread) gives its next chunk."""

    __slots__ = ("content_type", "file", "headers", "remaining", "size")

    def __init__(self, file: Any, size: int, content_type: bytes,
                 headers: tuple[tuple[bytes, bytes], ...]) -> None:
        self.file = file
        self.size = self.remaining = size
        self.content_type = content_type
        self.headers = headers

    def read(self) -> bytes:
        """The next chunk; ``b""`` at the end, or early if the file shrank (then
        :attr:`remaining` is not 0, and the answer must be cut short)."""
        data: bytes = self.file.read(min(CHUNK, self.remaining)) if self.remaining else b""
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.file.close()


class Upload:
    """A ``PUT`` body on its way to ``<destination>/<path>``: see the module doc.

    :meth:`feed`, :meth:`abort` and :meth:`finish` are called on the event loop; the disk
    work runs on *pool*, one operation at a time, in order. *on_backlog* (True: stop reading,
    False: read again) lets a protocol pause its transport; the ASGI interface awaits
    :meth:`room` instead.
    """

    def __init__(self, repository: LocalArtifactRepository, relative: str,
                 loop: asyncio.AbstractEventLoop, pool: Executor,
                 on_backlog: Callable[[bool], None] | None) -> None:
        self.repository = repository
        self.relative = relative
        self._loop = loop
        self._pool = pool
        self._on_backlog = on_backlog
        self._pending: list[bytes] = []
        self._buffered = 0  # bytes received and not yet written
        self._busy = False  # a disk operation is running
        self._fd: int | None = None
        self._staging: str | None = None
        self._aborted = False
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        #: The first error of the disk work (the rest of the body is then dropped).
        self.error: Exception | None = None
        #: The loop's time of the last byte received or written (for the read timeout).
        self.last_progress = loop.time()

    # -- on the event loop ------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Take the next piece of the body."""
        self.last_progress = self._loop.time()
        if self.error is not None or self._aborted or not data:
            return
        self._pending.append(data)
        self._buffered += len(data)
        if not self._busy:
            self._write_pending()
        if self._buffered >= HIGH_WATER and self._room.is_set():
            self._room.clear()
            if self._on_backlog is not None:
                self._on_backlog(True)

    async def room(self) -> None:
        """Return once the disk has caught up enough to take more of the body."""
        await self._room.wait()

    def abort(self) -> None:
        """The body will not be complete: drop it, and remove what was written."""
        if self._aborted:
            return
        self._aborted = True
        self._pending.clear()
        self._make_room()
        if not self._busy and self._staging is not None:
            self._run(self._discard)

    async def finish(self) -> None:
        """Once the whole body has been fed: write what is left and publish the file."""
        while self._busy:
            await self._idle.wait()
        if self.error is None and not self._aborted:
            self._busy = True  # (nothing else runs after this)
            try:
                await self._loop.run_in_executor(self._pool, self._publish)
            except Exception as exc:
                self.error = exc
            finally:
                self._busy = False
        if self.error is not None:
            if self._staging is not None:
                await self._loop.run_in_executor(self._pool, self._discard)
            raise self.error
        if self._aborted:
            raise TrackstoreError("The upload was aborted", INTERNAL_ERROR)

    def _write_pending(self) -> None:
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._run(self._write, data)

    def _run(self, operation: Callable[..., int], *args: Any) -> None:
        self._busy = True
        self._idle.clear()
        future = self._loop.run_in_executor(self._pool, operation, *args)
        future.add_done_callback(self._ran)

    def _ran(self, future: asyncio.Future[int]) -> None:
        self._busy = False
        self.last_progress = self._loop.time()
        error = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if error is not None:
            self.error = self.error or (error if isinstance(error, Exception)
                                        else RuntimeError(f"upload interrupted: {error!r}"))
            self._pending.clear()
            self._buffered = 0
        else:
            self._buffered -= future.result()
        if (self._aborted or self.error is not None) and self._staging is not None:
            self._run(self._discard)
        elif self._pending and not self._aborted:
            self._write_pending()
        if self._buffered <= LOW_WATER:
            self._make_room()
        if not self._busy:
            self._idle.set()

    def _make_room(self) -> None:
        if not self._room.is_set():
            self._room.set()
            if self._on_backlog is not None:
                self._on_backlog(False)

    # -- on the pool's threads (one at a time) ----------------------------------------------

    def _write(self, data: bytes) -> int:
        if self._fd is None:
            self._create()
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        return len(data)

    def _create(self) -> None:
        target = self.repository.local_path(self.relative)
        folder = os.path.dirname(target)
        try:
            os.makedirs(folder, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise TrackstoreError(f"Cannot upload to {self.relative!r}: a parent of it is a "
                                  "file", INVALID_PARAMETER_VALUE) from None
        self._fd, self._staging = staging_file(folder)

    def _publish(self) -> int:
        if self._fd is None:
            self._create()  # an empty body: an empty file
        assert self._fd is not None and self._staging is not None
        if _FSYNC:
            os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        target = self.repository.local_path(self.relative)  # (again: links may have changed)
        try:
            os.replace(self._staging, target)
        except IsADirectoryError:
            raise TrackstoreError(f"Cannot upload to {self.relative!r}: it is a directory",
                                  INVALID_PARAMETER_VALUE) from None
        self._staging = None
        return 0

    def _discard(self) -> int:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._staging is not None:
            discard(self._staging)
            self._staging = None
        return 0


# -- the ASGI interface --------------------------------------------------------------------------


async def serve_asgi(app: TrackingApp, call: ArtifactCall, scope: Scope, receive: Receive,
                     send: Send) -> int:
    """Serve *call* through ASGI; the status (499: the client went away)."""
    loop = asyncio.get_running_loop()
    upload = call.start_upload(loop, app.pool())
    more = True
    try:
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                if upload is not None:
                    upload.abort()
                return 499
            more = message.get("more_body", False)
            if upload is not None:
                upload.feed(message.get("body", b""))
                if upload.error is not None:
                    break  # answered now; the rest of the body is not read
                await upload.room()
    except BaseException:
        if upload is not None:
            upload.abort()
        raise
    answer = await call.answer(app, scope["query_string"], upload)
    if isinstance(answer, Reply):
        await send({"type": "http.response.start", "status": answer.status, "headers": [
            (b"content-type", answer.content_type),
            (b"content-length", str(len(answer.body)).encode()), *answer.extra]})
        await send({"type": "http.response.body", "body": answer.body})
        return answer.status
    return await _send_file_asgi(app, answer, call.method, receive, send)


async def _send_file_asgi(app: TrackingApp, download: Download, method: str, receive: Receive,
                          send: Send) -> int:
    loop = asyncio.get_running_loop()
    gone = asyncio.ensure_future(receive())  # completes when the client disconnects
    try:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", download.content_type),
            (b"content-length", str(download.size).encode()), *download.headers]})
        if method != "HEAD":
            while data := await loop.run_in_executor(app.pool(), download.read):
                if gone.done():
                    return 499
                await send({"type": "http.response.body", "body": data, "more_body": True})
            if download.remaining:
                # The headers are sent: the only honest signal left is a body cut short.
                raise RuntimeError(f"artifact file shrank while it was sent ({download.size} "
                                   f"bytes announced, {download.remaining} missing)")
        await send({"type": "http.response.body", "body": b""})
        return 200
    finally:
        gone.cancel()
        download.close()
