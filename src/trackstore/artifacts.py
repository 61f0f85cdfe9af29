"""Artifact repositories: where a run's files (models, plots, checkpoints) live.

The backend store only records a run's ``artifact_uri``; the files are in an artifact
repository named by that URI. :func:`artifact_repository` picks one by scheme:

``file:`` URIs and plain paths
    :class:`LocalArtifactRepository`: a directory tree, as MLflow's local repository lays it
    out (``<artifact_uri>/<artifact_path>/<file name>``).
``mlflow-artifacts:`` URIs
    Artifacts kept by a tracking server's artifact proxy (``trackstore server`` or ``mlflow
    server``, both with ``--serve-artifacts``, their default). As MLflow resolves them, against
    the tracking URI when it is ``http(s)://``: ``mlflow-artifacts:/<path>`` is
    ``<tracking URI>/api/2.0/mlflow-artifacts/artifacts/<path>``, and
    ``mlflow-artifacts://<host:port>/<path>`` the same path on that host. Given the server's
    ``artifacts_destination`` instead (the directory it proxies to, as ``trackstore gc
    --artifacts-destination`` has it), the URI is the local directory
    ``<artifacts_destination>/<path>``.
``http(s)://<server>/api/2.0/mlflow-artifacts/artifacts/<path>`` URLs
    :class:`~trackstore.http_artifacts.HttpArtifactRepository`: the proxy's REST endpoints,
    with the tracking client's credentials, TLS settings and retries.

Every artifact path is relative to the repository's root and can never name anything outside
it: an absolute path, a ``..`` that climbs above the root, a backslash or NUL, or a symbolic
link inside the tree that points outside, is refused with ``INVALID_PARAMETER_VALUE`` and
nothing is read, written or deleted. Files are written to a staging file beside their target
(``.artifact.uploading.*``, MLflow's name, hidden from listings) and renamed into place, so
a reader never sees half a file.
"""

from __future__ import annotations

import abc
import os
import posixpath
import secrets
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass
from types import TracebackType

from .exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from .store.file.meta import file_uri_to_path

#: Staging files of writes in progress (MLflow's local repository uses the same prefix, so
#: each hides the other's from listings); an artifact name may not begin with it.
STAGING_PREFIX = ".artifact.uploading."
#: The path of the artifact proxy's endpoints under a server's ``/api/2.0``.
PROXY_ENDPOINT = "/mlflow-artifacts/artifacts"
PROXY_SCHEME = "mlflow-artifacts"


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing: its path relative to the repository root (POSIX ``/``)."""

    path: str
    is_dir: bool
    file_size: int | None


def _bad_path(path: str, why: str) -> TrackstoreError:
    return TrackstoreError(f"Invalid artifact path {path!r}: {why}", INVALID_PARAMETER_VALUE)


#: The most bytes of one name in an artifact path (``NAME_MAX`` of the usual file systems).
NAME_MAX_BYTES = 255
#: How many times a path is percent-decoded to see what it could become (``%25`` nests).
_DECODE_ROUNDS = 10


def clean_artifact_path(path: str | None) -> str:
    """*path* as a normalised relative POSIX path (``""`` for the root), or an error if it
    could name anything outside the repository.

    Refused: a NUL or a backslash, an absolute path (``/x``, ``C:x``), a ``..`` that climbs
    above the root, a name longer than :data:`NAME_MAX_BYTES`; and a path that would be any
    of these once percent-decoded, however many times (``%2e%2e%2f``, ``%252e%252e%252f``),
    as MLflow refuses them: such a path is never meant literally, and a server or proxy on
    the way may decode it. The path itself is kept as it is (``%20`` stays three characters).
    """
    if path is None or path in ("", ".", "/"):
        return ""
    if not isinstance(path, str):
        raise _bad_path(repr(path), "not a string")
    normal = _checked(path, path)
    decoded = path
    for _ in range(_DECODE_ROUNDS):
        if "%" not in decoded:
            break
        again = urllib.parse.unquote(decoded)
        if again == decoded:
            break
        decoded = again
        _checked(decoded, path)
    else:
        if "%" in decoded and urllib.parse.unquote(decoded) != decoded:
            raise _bad_path(path, "it is percent-encoded too many times")
    for name in normal.split("/"):
        if len(name) > NAME_MAX_BYTES // 4 and len(
                name.encode("utf-8", "surrogateescape")) > NAME_MAX_BYTES:
            raise _bad_path(path, f"a name in it is longer than {NAME_MAX_BYTES} bytes")
    return "" if normal == "." else normal


def _checked(candidate: str, path: str) -> str:
    """*candidate* (*path*, or what it decodes to) normalised, or the error refusing *path*."""
    if "\x00" in candidate or "\\" in candidate:
        raise _bad_path(path, "it contains a NUL or a backslash")
    if candidate.startswith("/") or (len(candidate) > 1 and candidate[1] == ":"):
        raise _bad_path(path, "it is absolute")
    normal = posixpath.normpath(candidate)
    if normal == ".." or normal.startswith("../"):
        raise _bad_path(path, "it leaves the artifact root")
    return normal


def check_artifact_name(name: str) -> None:
    """Refuse a file name reserved for staging files."""
    if name.startswith(STAGING_PREFIX):
        raise TrackstoreError(f"Invalid artifact file name: {name!r}. Artifact names starting "
                              f"with {STAGING_PREFIX!r} are reserved.", INVALID_PARAMETER_VALUE)


def file_to_log(local_file: str) -> str:
    """The artifact name of *local_file* (its base name), or an error if it is no file or
    its name could not be an artifact's."""
    if not os.path.isfile(local_file):
        raise TrackstoreError(f"No such file to log as an artifact: {local_file!r}",
                              INVALID_PARAMETER_VALUE)
    name = os.path.basename(local_file)
    check_artifact_name(name)
    return name


def check_dir_to_log(local_dir: str) -> None:
    if not os.path.isdir(local_dir):
        raise TrackstoreError(f"No such directory to log as artifacts: {local_dir!r}",
                              INVALID_PARAMETER_VALUE)


def staging_file(folder: str) -> tuple[int, str]:
    """A new, empty staging file in *folder*: its descriptor (open for writing) and path.

    Created with mode 0666 less the umask, as ``open()`` creates files (``mkstemp`` would make
    it 0600, and an uploaded artifact unreadable to the server's other users).
    """
    while True:
        path = os.path.join(folder, STAGING_PREFIX + secrets.token_hex(8))
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(
                os, "O_BINARY", 0), 0o666), path
        except FileExistsError:
            continue


class ArtifactRepository(abc.ABC):
    """What every artifact repository does (MLflow's method names and arguments).

    A repository may hold connections: :meth:`close` (or ``with``) releases them.
    """

    artifact_uri: str

    @abc.abstractmethod
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Copy one file into the repository (under *artifact_path*), keeping its name."""

    @abc.abstractmethod
    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy a directory's content into the repository (under *artifact_path*)."""

    @abc.abstractmethod
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The entries directly under *path* (``[]`` for a missing path or a file)."""

    @abc.abstractmethod
    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """Copy *artifact_path* (a file or a directory) to *dst_path* (a new temporary
        directory by default); returns the local path of the copy."""

    @abc.abstractmethod
    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Remove *artifact_path* (everything, by default); a missing one is not an error."""

    def close(self) -> None:  # noqa: B027 - most repositories hold nothing to release
        """Release what the repository holds (connections); it must not be used after."""

    def __enter__(self) -> ArtifactRepository:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def download_target(artifact_path: str, dst_path: str | None) -> tuple[str, str]:
    """The cleaned *artifact_path* and the local path its copy goes to under *dst_path* (a
    new temporary directory when None; an existing directory otherwise)."""
    relative = clean_artifact_path(artifact_path)
    if dst_path and not os.path.isdir(dst_path):
        raise TrackstoreError(f"Destination {dst_path!r} is not a directory",
                              INVALID_PARAMETER_VALUE)
    dst = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="artifacts-")
    return relative, os.path.join(dst, *relative.split("/")) if relative else dst


class LocalArtifactRepository(ArtifactRepository):
    """A run's artifacts in a local directory (``file:`` URI or plain path)."""

    def __init__(self, artifact_uri: str) -> None:
        self.artifact_uri = artifact_uri
        self.root = os.path.abspath(file_uri_to_path(artifact_uri))

    def local_path(self, artifact_path: str | None) -> str:
        """The local path of *artifact_path*, checked to stay inside the root, symbolic links
        resolved (a link inside the tree that points out of it is refused)."""
        relative = clean_artifact_path(artifact_path)
        local = os.path.join(self.root, *relative.split("/")) if relative else self.root
        if not self._inside(local):
            raise _bad_path(str(artifact_path), "it leads outside the artifact root")
        return local


    def _inside(self, local: str) -> bool:
        root = os.path.realpath(self.root)
        real = os.path.realpath(local)
        return real == root or real.startswith(root + os.sep)

    # -- writing --------------------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        name = file_to_log(local_file)
        folder = self.local_path(artifact_path)
        os.makedirs(folder, exist_ok=True)
        self.local_path(posixpath.join(clean_artifact_path(artifact_path), name))
        _copy_file(local_file, os.path.join(folder, name))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        check_dir_to_log(local_dir)
        base = clean_artifact_path(artifact_path)
        source = os.path.realpath(local_dir)
        destination = os.path.realpath(self.local_path(base))
        if destination == source or destination.startswith(source + os.sep):
            raise TrackstoreError(f"Cannot log {local_dir!r} as artifacts: the run's artifact "
                                  "directory is inside it (the copy would copy itself)",
                                  INVALID_PARAMETER_VALUE)
        for folder, _dirs, files in os.walk(local_dir):
            relative = os.path.relpath(folder, local_dir)
            sub = base if relative == "." else posixpath.join(
                base, relative.replace(os.sep, "/")) if base else relative.replace(os.sep, "/")
            target = self.local_path(sub)
            os.makedirs(target, exist_ok=True)
            for name in files:
                check_artifact_name(name)
                self.local_path(posixpath.join(sub, name) if sub else name)
                _copy_file(os.path.join(folder, name), os.path.join(target, name))

    # -- reading --------------------------------------------------------------------------------

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The entries directly under *path* (``[]`` for a missing path or a file); staging
        files of writes in progress and links that lead out of the root are not listed."""
        relative = clean_artifact_path(path)
        folder = self.local_path(relative)
        if not os.path.isdir(folder):
            return []
        infos = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(STAGING_PREFIX) or (
                        entry.is_symlink() and not self._inside(entry.path)):
                    continue
                child = posixpath.join(relative, entry.name) if relative else entry.name
                try:
                    if entry.is_dir():
                        infos.append(FileInfo(child, True, None))
                    else:
                        infos.append(FileInfo(child, False, entry.stat().st_size))
                except FileNotFoundError:  # deleted while listed (or a dangling link)
                    continue
        return sorted(infos, key=lambda f: f.path)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        relative = clean_artifact_path(artifact_path)
        source = self.local_path(relative)
        if not os.path.exists(source):
            raise TrackstoreError(f"No artifact {artifact_path!r} under {self.artifact_uri}",
                                  RESOURCE_DOES_NOT_EXIST)
        relative, target = download_target(relative, dst_path)
        if os.path.isdir(source):
            shutil.copytree(source, target, dirs_exist_ok=True, symlinks=False,
                            ignore=self._not_copied)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            _copy_file(source, target)
        return target

    def _not_copied(self, folder: str, names: list[str]) -> list[str]:
        """For copytree: skip staging files, and what a symbolic link would bring in from
        outside the root."""
        return [name for name in names if name.startswith(STAGING_PREFIX)
                or not self._inside(os.path.join(folder, name))]

    # -- deleting -------------------------------------------------------------------------------

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        target = self.local_path(artifact_path)
        if os.path.islink(target) or os.path.isfile(target):
            os.unlink(target)
        elif os.path.isdir(target):
            shutil.rmtree(target)


def _copy_file(source: str, target: str) -> None:
    """Copy *source* to *target* atomically (a staging file renamed into place): a reader
    never sees half a file."""
    fd, tmp = staging_file(os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        shutil.copymode(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        discard(tmp)
        raise


def discard(path: str) -> None:
    """Remove a staging file, if it is still there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# -- choosing a repository ----------------------------------------------------------------------


def resolve_proxied_uri(artifact_uri: str, tracking_uri: str | None = None) -> str:
    """The URL of an ``mlflow-artifacts:`` URI on the tracking server at *tracking_uri* (the
    one in force by default), as MLflow resolves it; any other URI is returned as it is.

    ``mlflow-artifacts:/0/<run>/artifacts`` with ``http://host:5000/prefix`` is
    ``http://host:5000/prefix/api/2.0/mlflow-artifacts/artifacts/0/<run>/artifacts``; a host
    in the URI (``mlflow-artifacts://other:5000/...``) replaces the tracking URI's.
    """
    parts = urllib.parse.urlsplit(artifact_uri)
    if parts.scheme != PROXY_SCHEME:
        return artifact_uri
    if tracking_uri is None:
        from .tracking_uri import get_tracking_uri

        tracking_uri = get_tracking_uri()
    tracking = urllib.parse.urlsplit(tracking_uri)
    if tracking.scheme not in ("http", "https"):
        where = urllib.parse.urlunsplit(tracking._replace(
            netloc=tracking.netloc.rpartition("@")[2], query="", fragment=""))
        raise TrackstoreError(
            f"The artifact URI {artifact_uri!r} is kept by a tracking server's artifact proxy, "
            f"but the tracking URI is {where!r}, not the server's http(s):// URL: set it with "
            "trackstore.set_tracking_uri() or MLFLOW_TRACKING_URI (e.g. "
            "http://localhost:5000).", INVALID_PARAMETER_VALUE)
    if parts.netloc:
        host = parts.netloc.rpartition("@")[2]
        if host.isdigit():
            raise TrackstoreError(f"The artifact URI {artifact_uri!r} names a port ({host}) but "
                                  "no host", INVALID_PARAMETER_VALUE)
    path = clean_artifact_path(parts.path.lstrip("/"))
    url_path = tracking.path.rstrip("/") + "/api/2.0" + PROXY_ENDPOINT
    if path:
        url_path += "/" + urllib.parse.quote(path)
    return urllib.parse.urlunsplit((tracking.scheme, parts.netloc or tracking.netloc, url_path,
                                    "", ""))


def artifact_repository(artifact_uri: str,
                        artifacts_destination: str | None = None) -> ArtifactRepository:
    """The repository for *artifact_uri* (see the module doc); *artifacts_destination*, a
    tracking server's ``--artifacts-destination`` (a path or ``file:`` URI), makes an
    ``mlflow-artifacts:`` URI the local directory it names there."""
    parts = urllib.parse.urlsplit(artifact_uri)
    scheme = parts.scheme
    if scheme in ("", "file") or len(scheme) == 1:
        return LocalArtifactRepository(artifact_uri)
    if scheme == PROXY_SCHEME and artifacts_destination is not None:
        destination = LocalArtifactRepository(artifacts_destination)
        return LocalArtifactRepository(destination.local_path(parts.path.lstrip("/")))
    if scheme == PROXY_SCHEME:
        artifact_uri, scheme = resolve_proxied_uri(artifact_uri), "http"
    if scheme in ("http", "https"):
        from .http_artifacts import HttpArtifactRepository

        return HttpArtifactRepository(artifact_uri)
    raise TrackstoreError(
        f"No artifact repository for {artifact_uri!r}: supported are file: URIs and local "
        "paths, mlflow-artifacts: URIs (a tracking server's artifact proxy) and its http(s) "
        f"URLs (.../api/2.0{PROXY_ENDPOINT}/...)", INVALID_PARAMETER_VALUE)
