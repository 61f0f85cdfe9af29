"""Artifacts kept by a tracking server's artifact proxy, over HTTP.

The endpoints are MLflow's (``mlflow-artifacts``, mlflow-spec §5.5), called as MLflow's
``HttpArtifactRepository`` calls them, so the repository works against ``trackstore server``
and ``mlflow server`` alike: ``PUT``, ``GET`` and ``DELETE
<server>/api/2.0/mlflow-artifacts/artifacts/<path>``, and ``GET
.../mlflow-artifacts/artifacts?path=<dir>``, whose listing names the entries of that directory.

Credentials, TLS settings, proxies, timeouts and retries are the REST client's
(:mod:`trackstore.store.rest`), from MLflow's environment variables. Files travel streamed, a
MiB at a time, never whole in memory: an upload is read from its file again for each attempt,
and a download goes to a staging file that is renamed into place once it has arrived whole,
so an interrupted transfer leaves no partial file behind. Several files go in parallel.
"""

from __future__ import annotations

import contextvars
import http.client
import mimetypes
import os
import posixpath
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from .artifacts import (
    PROXY_ENDPOINT,
    ArtifactRepository,
    FileInfo,
    check_artifact_name,
    check_dir_to_log,
    clean_artifact_path,
    discard,
    file_to_log,
    staging_file,
)
from .exceptions import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TrackstoreError,
)
from .store.rest._http import (
    HttpClient,
    HttpSettings,
    Response,
    error_code_for_status,
    redact,
)
from .store.rest.credentials import mlflow_credentials
from .wire import loads

#: Bytes read from or written to a file at a time.
CHUNK = 1 << 20
#: Files transferred at once by log_artifacts and directory downloads.
PARALLEL = 8
#: Seconds to wait for the answer of a server that stopped reading an upload.
EARLY_ANSWER_SECONDS = 5.0


class _LocalFileError(Exception):
    """A local file could not be read or written during a transfer: not the network's fault,
    so never retried."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True, slots=True)
class _Transfer:
    """What one request carries beyond JSON: a file as its body, a file for its answer."""

    upload: str | None = None  # sent as the body; opened again for each attempt
    content_type: str = "application/octet-stream"
    sink: IO[bytes] | None = None  # a 2xx answer's body goes here (emptied for each attempt)


_TRANSFER: contextvars.ContextVar[_Transfer | None] = contextvars.ContextVar(
    "trackstore_http_transfer", default=None)


class _TransferClient(HttpClient):
    """The REST client's :class:`HttpClient` (pooled connections, MLflow's retry policy,
    redirects, credentials), whose attempts can also stream a file up or down.

    :meth:`transfer` runs an ordinary :meth:`HttpClient.request`, so retries, ``Retry-After``
    and redirects are decided in one place; only the attempt differs, told by a context
    variable what to send and where the answer goes.
    """

    def transfer(self, method: str, path: str, transfer: _Transfer) -> Response:
        """*method* on *path* carrying *transfer*; repeating it is always safe (the same
        bytes to the same path, or a read)."""
        token = _TRANSFER.set(transfer)
        try:
            return self.request(method, path, retry_safe=True)
        except _LocalFileError as failed:
            raise TrackstoreError(f"Artifact transfer failed on a local file: {failed.cause}",
                                  INVALID_PARAMETER_VALUE) from None
        finally:
            _TRANSFER.reset(token)

    def _send(self, conn: http.client.HTTPConnection, method: str, target: str,
              body: bytes | None, headers: dict[str, str]) -> None:
        transfer = _TRANSFER.get()
        if transfer is None or transfer.upload is None:
            super()._send(conn, method, target, body, headers)
            return
        with _open(transfer.upload) as upload:  # again for each attempt
            size = os.fstat(upload.fileno()).st_size
            conn.request(method, target, body=_chunks(upload, size), headers={
                **headers, "Content-Type": transfer.content_type, "Content-Length": str(size)})

    def _receive(self, raw: http.client.HTTPResponse) -> bytes:
        transfer = _TRANSFER.get()
        if transfer is None or transfer.sink is None or not 200 <= raw.status < 300:
            return super()._receive(raw)
        _receive(raw, transfer.sink)
        return b""

    def _answer_after_failed_send(self, conn: http.client.HTTPConnection) -> Response | None:
        transfer = _TRANSFER.get()
        return None if transfer is None or transfer.upload is None else _early_answer(conn)


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise _LocalFileError(exc) from None


def _chunks(source: IO[bytes], size: int) -> Iterator[bytes]:
    """*size* bytes of *source*, a chunk at a time (what was measured is what is sent)."""
    left = size
    while left > 0:
        try:
            chunk = source.read(min(CHUNK, left))
        except OSError as exc:
            raise _LocalFileError(exc) from None
        if not chunk:
            raise _LocalFileError(OSError(f"{source.name} shrank while it was being sent"))
        left -= len(chunk)
        yield chunk


def _receive(raw: http.client.HTTPResponse, sink: IO[bytes]) -> None:
    """Stream *raw*'s body into *sink* (from its start: an earlier attempt may have written
    some); a body cut short raises ``IncompleteRead``."""
    try:
        sink.seek(0)
        sink.truncate()
    except OSError as exc:
        raise _LocalFileError(exc) from None
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    received = 0
    while n := raw.readinto(buffer):
        received += n
        try:
            sink.write(view[:n])
        except OSError as exc:
            raise _LocalFileError(exc) from None
    if raw.length:  # http.client counts down Content-Length, and stops quietly at EOF
        raise http.client.IncompleteRead(bytes(received), raw.length)


def _early_answer(conn: http.client.HTTPConnection) -> Response | None:
    """The answer a server sent before it stopped reading a request body (a refused upload:
    401, 413...), if it can still be read."""
    try:
        if conn.sock is None:
            return None
        conn.sock.settimeout(EARLY_ANSWER_SECONDS)  # it was sent already, if it was
        raw = conn.getresponse()
        return Response(raw.status, raw.reason, raw.headers, raw.read())
    except (OSError, http.client.HTTPException):
        return None


def _mime_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _failure(response: Response, method: str, url: str) -> TrackstoreError:
    """The error of a non-2xx *response*: the server's MLflow JSON error, else the status."""
    code = error_code_for_status(response.status)
    try:
        parsed = loads(response.body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str) and parsed["message"]:
        raw_code = parsed.get("error_code")
        if isinstance(raw_code, str) and raw_code and not raw_code.isdigit():
            code = raw_code
        return TrackstoreError(parsed["message"], code)
    text = " ".join(response.body.decode("utf-8", "replace").split())[:300] or "(empty body)"
    return TrackstoreError(f"Artifact request {method} {url} failed with HTTP "
                           f"{response.status} {response.reason}: {text}", code)


def split_proxy_url(url: str) -> tuple[str, str]:
    """``http(s)://host[:port][/prefix]/api/2.0/mlflow-artifacts/artifacts[/<root>]`` → the
    server's URL up to ``/api/2.0`` and the root path under the proxy."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(parts.path)
    before, anchor, after = path.partition(PROXY_ENDPOINT)
    if (parts.scheme not in ("http", "https") or not anchor or (after and after[0] != "/")
            or parts.query or parts.fragment):
        raise TrackstoreError(
            f"Not an artifact proxy URL: {redact(url)!r} (expected http[s]://host[:port]"
            f"[/prefix]/api/2.0{PROXY_ENDPOINT}/<path>)", INVALID_PARAMETER_VALUE)
    root = clean_artifact_path(after.lstrip("/"))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, urllib.parse.quote(before),
                                    "", "")), root


class HttpArtifactRepository(ArtifactRepository):
    """The artifacts under ``<server>/api/2.0/mlflow-artifacts/artifacts/<root>``."""

    def __init__(self, artifact_uri: str, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.artifact_uri = artifact_uri
        server, self.remote_root = split_proxy_url(artifact_uri)
        credentials = mlflow_credentials(server)
        self._http = _TransferClient(credentials.url, authorization=credentials.authorization,
                                     ssl_context=credentials.ssl_context,
                                     settings=HttpSettings.from_env(), sleep=sleep)

    def __repr__(self) -> str:
        return f"HttpArtifactRepository({redact(self.artifact_uri)!r})"

    def close(self) -> None:
        self._http.close()

    def _remote(self, artifact_path: str | None) -> str:
        """*artifact_path* as a path under the proxy's root (checked, normalised)."""
        relative = clean_artifact_path(artifact_path)
        return posixpath.join(self.remote_root, relative) if self.remote_root and relative \
            else self.remote_root or relative

    @staticmethod
    def _endpoint(remote: str) -> str:
        return f"{PROXY_ENDPOINT}/{urllib.parse.quote(remote)}"

    def _transfer(self, method: str, remote: str, transfer: _Transfer) -> TrackstoreError | None:
        """Send *transfer*; None on success, else the server's error."""
        endpoint = self._endpoint(remote)
        response = self._http.transfer(method, endpoint, transfer)
        if 200 <= response.status < 300:
            return None
        return _failure(response, method, f"{self._http.url}{endpoint}")

    # -- writing --------------------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        name = file_to_log(local_file)
        self._put(local_file, posixpath.join(self._remote(artifact_path), name))

    def _put(self, local_file: str, remote: str) -> None:
        error = self._transfer("PUT", remote, _Transfer(upload=local_file,
                                                        content_type=_mime_type(remote)))
        if error is not None:
            raise error

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        check_dir_to_log(local_dir)
        base = self._remote(artifact_path)
        uploads = []
        for folder, _dirs, files in os.walk(local_dir):
            relative = os.path.relpath(folder, local_dir).replace(os.sep, "/")
            for name in files:
                check_artifact_name(name)
                remote = posixpath.normpath(posixpath.join(base, relative, name))
                uploads.append((os.path.join(folder, name), remote))
        _in_parallel(lambda item: self._put(*item), uploads)

    # -- reading --------------------------------------------------------------------------------

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        relative = clean_artifact_path(path)
        data = self._http.call("GET", PROXY_ENDPOINT, {"path": self._remote(relative)},
                               retry_safe=True)
        infos = [_file_info(entry, relative) for entry in data.get("files") or ()]
        if (len(infos) == 1 and not infos[0].is_dir and relative
                and infos[0].path == posixpath.join(relative, posixpath.basename(relative))):
            return []  # a server that lists a file as itself: a file has no entries
        return sorted(infos, key=lambda f: f.path)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        relative = clean_artifact_path(artifact_path)
        if dst_path and not os.path.isdir(dst_path):
            raise TrackstoreError(f"Destination {dst_path!r} is not a directory",
                                  INVALID_PARAMETER_VALUE)
        dst = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="artifacts-")
        target = os.path.join(dst, *relative.split("/")) if relative else dst
        try:
            # A file (one request), else perhaps a directory: the proxy refuses to send one.
            refusal = self._download_file(relative, dst) if relative else None
            if relative and refusal is None:
                return target
            files = self._tree(relative, dst)
            if not files and not os.path.isdir(target):
                assert refusal is not None  # (the root is a directory)
                raise refusal  # not a file, nor a directory with anything in it
            os.makedirs(target, exist_ok=True)
            _in_parallel(lambda path: self._fetch(path, dst), files)
        except BaseException:
            if not dst_path:
                shutil.rmtree(dst, ignore_errors=True)
            raise
        return target

    def _fetch(self, path: str, dst: str) -> None:
        refusal = self._download_file(path, dst)
        if refusal is not None:
            raise refusal

    def _download_file(self, relative: str, dst: str) -> TrackstoreError | None:
        """Download the file *relative* to its place under *dst* (by a staging file in
        *dst*, so that a failed download creates nothing); None once it is there, else the
        server's refusal (400: it may be a directory)."""
        fd, staging = staging_file(dst)
        try:
            with os.fdopen(fd, "w+b") as sink:
                error = self._transfer("GET", self._remote(relative), _Transfer(sink=sink))
            if error is not None:
                if error.error_code == RESOURCE_DOES_NOT_EXIST:
                    raise TrackstoreError(f"No artifact {relative!r} under {self.artifact_uri}",
                                          RESOURCE_DOES_NOT_EXIST)
                if error.http_status != 400:
                    raise error
                discard(staging)
                return error
            target = os.path.join(dst, *relative.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(staging, target)
        except BaseException:
            discard(staging)
            raise
        return None

    def _tree(self, relative: str, dst: str) -> list[str]:
        """The files under the directory *relative* (paths from the repository root); its
        sub-directories are made under *dst* on the way (empty ones included)."""
        files, pending = [], [relative]
        while pending:
            for info in self.list_artifacts(pending.pop() or None):
                if info.is_dir:
                    os.makedirs(os.path.join(dst, *info.path.split("/")), exist_ok=True)
                    pending.append(info.path)
                else:
                    files.append(info.path)
        return files

    # -- deleting -------------------------------------------------------------------------------

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        self._http.call("DELETE", self._endpoint(self._remote(artifact_path)), {},
                        retry_safe=True)


def _file_info(entry: Any, directory: str) -> FileInfo:
    """One entry of a proxy's listing of *directory* (its ``path`` is relative to it)."""
    name = entry.get("path") if isinstance(entry, dict) else None
    try:
        relative = clean_artifact_path(name) if isinstance(name, str) else ""
    except TrackstoreError:
        relative = ""
    if not relative:
        raise TrackstoreError(f"The artifact server listed an invalid path: {name!r}",
                              INTERNAL_ERROR)
    size = entry.get("file_size")
    return FileInfo(posixpath.join(directory, relative) if directory else relative,
                    bool(entry.get("is_dir")), int(size) if size is not None else None)


def _in_parallel(work: Callable[[Any], None], items: Iterable[Any]) -> None:
    """Run *work* on each item, :data:`PARALLEL` at a time; the first error is raised once
    the others have finished."""
    items = list(items)
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(min(PARALLEL, len(items)),
                            thread_name_prefix="trackstore-artifacts") as pool:
        for _ in pool.map(work, items):
            pass
