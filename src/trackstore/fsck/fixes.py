"""Applying a repair: the quarantine archive first, then each change, atomically.

Before anything changes, every byte a repair will remove or replace goes into one tar
archive at the tree's root, ``.fsck-quarantine-<UTC time>-<pid>-<hex>.tar``: the original of
each file under ``files/<path in the tree>``, byte for byte, and ``manifest.json`` saying
what was done to which path and why. The archive is itself written atomically (temporary
file, ``fsync``, ``rename``, ``fsync`` of the root). It is a plain file at the root, which
MLflow and trackstore never list; a directory there would be taken for an experiment (MLflow's
experiment listing fails on a directory such as ``.fsck``).

Then each change: a rewritten file is written to a temporary file beside it (same mode),
synced and renamed over the original; a removal is an ``unlink``; each is followed by an
``fsync`` of the directory. A file whose content is no longer what the check read (a writer
got there in between) is left alone, and the next check reports it again.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import tarfile
import time
from collections.abc import Callable, Sequence
from typing import BinaryIO

from .._version import __version__
from .scan import QUARANTINE_PREFIX, Fix, _only_dirs

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_beside(path: str) -> str:
    """A temporary name in *path*'s directory, in the pattern trackstore's stores and fsck
    recognise as a leftover (``.<name>.<pid>.<hex>.tmp``)."""
    head, tail = os.path.split(path)
    return os.path.join(head, f".{tail}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _write_synced(path: str, write: Callable[[BinaryIO], object],
                  mode: int | None = None) -> None:
    """Replace *path* with what *write* writes, through a synced temporary file and a rename;
    the file gets *mode* (default: a new file's, after the umask)."""
    tmp = _temp_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(os.path.dirname(path))


def write_quarantine(root: str, fixes: Sequence[Fix]) -> str:
    """Archive what *fixes* will remove or replace; the archive's name (at the root)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"{QUARANTINE_PREFIX}{stamp}-{os.getpid()}-{secrets.token_hex(3)}.tar"
    entries = []
    members: list[tuple[str, bytes]] = []
    for fix in fixes:
        rel = os.path.relpath(fix.path, root).replace(os.sep, "/")
        entry: dict[str, object] = {
            "action": fix.action, "path": rel,
            "findings": [f.as_dict() for f in fix.findings]}
        if fix.original is not None:
            member = f"files/{rel}"
            members.append((member, fix.original))
            entry["quarantined"] = member
            entry["bytes_before"] = len(fix.original)
        if fix.data is not None:
            entry["bytes_after"] = len(fix.data)
        if fix.target is not None:
            entry["target"] = os.path.relpath(fix.target, root).replace(os.sep, "/")
        if fix.dirs:
            entry["dirs"] = [os.path.relpath(d, root).replace(os.sep, "/") for d in fix.dirs]
        entries.append(entry)
    manifest = json.dumps({"tool": f"trackstore fsck {__version__}", "root": root,
                           "created": stamp, "changes": entries}, indent=2,
                          ensure_ascii=False).encode("utf-8")
    now = time.time()

    def fill(fh: BinaryIO) -> None:
        with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for member, data in [("manifest.json", manifest), *members]:
                info = tarfile.TarInfo(member)
                info.size = len(data)
                info.mtime = int(now)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))

    # 0o600: the quarantine may hold values (params, tags) the tree's own modes protected.
    _write_synced(os.path.join(root, name), fill, mode=0o600)
    return name


def _current(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def apply(fix: Fix) -> bool:
    """Make the change *fix* plans; False if the tree changed since the check (nothing done)."""
    if fix.action in ("write", "remove") and _current(fix.path) != fix.original:
        return False
    if fix.action == "write":
        data = fix.data
        assert data is not None
        mode = None if fix.original is None else os.stat(fix.path).st_mode & 0o7777
        _write_synced(fix.path, lambda fh: fh.write(data), mode=mode)
    elif fix.action == "remove":
        os.unlink(fix.path)
        _fsync_dir(os.path.dirname(fix.path))
    elif fix.action == "mkdirs":
        for folder in fix.dirs:
            os.makedirs(folder, exist_ok=True)
        _fsync_dir(fix.path)
    elif fix.action == "rmdirs":
        if not os.path.isdir(fix.path) or not _only_dirs(fix.path):
            return False
        for folder, _, _ in os.walk(fix.path, topdown=False):
            os.rmdir(folder)
        _fsync_dir(os.path.dirname(fix.path))
    elif fix.action == "move":
        assert fix.target is not None
        if os.path.lexists(fix.target) or not os.path.isdir(fix.path):
            return False
        os.rename(fix.path, fix.target)
        _fsync_dir(os.path.dirname(fix.target))
        _fsync_dir(os.path.dirname(fix.path))
    else:
        raise ValueError(f"unknown fix action {fix.action!r}")
    return True

