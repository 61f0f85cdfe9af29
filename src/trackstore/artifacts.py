"""Artifact repositories: where a run's files (models, plots, checkpoints) live.

The backend store only records a run's ``artifact_uri``; the files are in an artifact
repository named by that URI. :func:`artifact_repository` picks one by scheme:

``file:`` URIs and plain paths
    :class:`LocalArtifactRepository`: a directory tree, as MLflow's local repository lays it
    out (``<artifact_uri>/<artifact_path>/<file name>``).

Every artifact path is relative to the repository's root and can never name anything outside
it: an absolute path, a ``..`` that climbs above the root, a backslash or NUL, or a symbolic
link inside the tree that points outside, is refused with ``INVALID_PARAMETER_VALUE`` and
nothing is read, written or deleted.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass

from .exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackstoreError
from .store.file.meta import file_uri_to_path


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of a listing: its path relative to the repository root (POSIX ``/``)."""

    path: str
    is_dir: bool
    file_size: int | None


def _bad_path(path: str, why: str) -> TrackstoreError:
    return TrackstoreError(f"Invalid artifact path {path!r}: {why}", INVALID_PARAMETER_VALUE)


def clean_artifact_path(path: str | None) -> str:
    """*path* as a normalised relative POSIX path (``""`` for the root), or an error if it
    could name anything outside the repository."""
    if path is None or path in ("", ".", "/"):
        return ""
    if not isinstance(path, str):
        raise _bad_path(repr(path), "not a string")
    if "\x00" in path or "\\" in path:
        raise _bad_path(path, "it contains a NUL or a backslash")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise _bad_path(path, "it is absolute")
    normal = posixpath.normpath(path)
    if normal == ".":
        return ""
    if normal == ".." or normal.startswith("../"):
        raise _bad_path(path, "it leaves the artifact root")
    return normal


class LocalArtifactRepository:
    """A run's artifacts in a local directory (``file:`` URI or plain path)."""

    def __init__(self, artifact_uri: str) -> None:
        self.artifact_uri = artifact_uri
        self.root = os.path.abspath(file_uri_to_path(artifact_uri))

    def _local(self, artifact_path: str | None) -> str:
        """The local path of *artifact_path*, checked to stay inside the root, symbolic links
        resolved (a link inside the tree that points out of it is refused)."""
        relative = clean_artifact_path(artifact_path)
        local = os.path.join(self.root, *relative.split("/")) if relative else self.root
        root = os.path.realpath(self.root)
        real = os.path.realpath(local)
        if real != root and not real.startswith(root + os.sep):
            raise _bad_path(str(artifact_path), "it leads outside the artifact root")
        return local

    # -- writing --------------------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Copy one file into the repository (under *artifact_path*), keeping its name."""
        if not os.path.isfile(local_file):
            raise TrackstoreError(f"No such file to log as an artifact: {local_file!r}",
                                  INVALID_PARAMETER_VALUE)
        folder = self._local(artifact_path)
        os.makedirs(folder, exist_ok=True)
        self._local(posixpath.join(clean_artifact_path(artifact_path),
                                   os.path.basename(local_file)))
        _copy_file(local_file, os.path.join(folder, os.path.basename(local_file)))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy a directory's content into the repository (under *artifact_path*)."""
        if not os.path.isdir(local_dir):
            raise TrackstoreError(f"No such directory to log as artifacts: {local_dir!r}",
                                  INVALID_PARAMETER_VALUE)
        base = clean_artifact_path(artifact_path)
        source = os.path.realpath(local_dir)
        destination = os.path.realpath(self._local(base))
        if destination == source or destination.startswith(source + os.sep):
            raise TrackstoreError(f"Cannot log {local_dir!r} as artifacts: the run's artifact "
                                  "directory is inside it (the copy would copy itself)",
                                  INVALID_PARAMETER_VALUE)
        for folder, _dirs, files in os.walk(local_dir):
            relative = os.path.relpath(folder, local_dir)
            sub = base if relative == "." else posixpath.join(
                base, relative.replace(os.sep, "/")) if base else relative.replace(os.sep, "/")
            target = self._local(sub)
            os.makedirs(target, exist_ok=True)
            for name in files:
                self._local(posixpath.join(sub, name) if sub else name)
                _copy_file(os.path.join(folder, name), os.path.join(target, name))

    # -- reading --------------------------------------------------------------------------------

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The entries directly under *path* (``[]`` for a missing path or a file)."""
        relative = clean_artifact_path(path)
        folder = self._local(relative)
        if not os.path.isdir(folder):
            return []
        infos = []
        with os.scandir(folder) as entries:
            for entry in entries:
                child = posixpath.join(relative, entry.name) if relative else entry.name
                if entry.is_dir():
                    infos.append(FileInfo(child, True, None))
                else:
                    infos.append(FileInfo(child, False, entry.stat().st_size))
        return sorted(infos, key=lambda f: f.path)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """Copy *artifact_path* (a file or a directory) to *dst_path* (a new temporary
        directory by default); returns the local path of the copy."""
        relative = clean_artifact_path(artifact_path)
        source = self._local(relative)
        if not os.path.exists(source):
            raise TrackstoreError(f"No artifact {artifact_path!r} under {self.artifact_uri}",
                                  RESOURCE_DOES_NOT_EXIST)
        dst = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="artifacts-")
        if dst_path and not os.path.isdir(dst):
            raise TrackstoreError(f"Destination {dst_path!r} is not a directory",
                                  INVALID_PARAMETER_VALUE)
        target = os.path.join(dst, *relative.split("/")) if relative else dst
        if os.path.isdir(source):
            shutil.copytree(source, target, dirs_exist_ok=True, symlinks=False,
                            ignore=self._outside_links)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            _copy_file(source, target)
        return target

    def _outside_links(self, folder: str, names: list[str]) -> list[str]:
        """For copytree: skip what a symbolic link would bring in from outside the root."""
        root = os.path.realpath(self.root)
        skipped = []
        for name in names:
            real = os.path.realpath(os.path.join(folder, name))
            if real != root and not real.startswith(root + os.sep):
                skipped.append(name)
        return skipped

    # -- deleting -------------------------------------------------------------------------------

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Remove *artifact_path* (everything, by default); a missing one is not an error."""
        target = self._local(artifact_path)
        if os.path.islink(target) or os.path.isfile(target):
            os.unlink(target)
        elif os.path.isdir(target):
            shutil.rmtree(target)


def _copy_file(source: str, target: str) -> None:
    """Copy *source* to *target* atomically (a temporary file renamed into place): a reader
    never sees half a file."""
    folder, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        shutil.copymode(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def artifact_repository(artifact_uri: str) -> LocalArtifactRepository:
    """The repository for *artifact_uri* (see the module doc)."""
    scheme = urllib.parse.urlparse(artifact_uri).scheme
    if scheme in ("", "file") or len(scheme) == 1:
        return LocalArtifactRepository(artifact_uri)
    raise TrackstoreError(
        f"No artifact repository for {artifact_uri!r}: supported are file: URIs and local "
        "paths", INVALID_PARAMETER_VALUE)
