"""What was parsed from a file, reused while ``stat`` says the file is unchanged.

Searching re-reads every run's ``meta.yaml`` and the metric files a query names; a search
repeated on the same tree (a dashboard, a server) pays one ``stat`` per file instead of an
open, a read and a parse. Metric files are append-only, so a file that only grew is not
re-read from the start: the latest point of the new tail is merged with the cached one.

A file is taken as unchanged when its inode, size and modification time are; every writer
of this layout replaces ``meta.yaml`` by rename (a new inode) and appends to metric files
(a new size), so a change is never missed for long, and an entry is only a hint.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from ... import _metrics
from ..._metrics_py import LatestPoint

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def signature(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def under_any(prefixes: tuple[str, ...]) -> Callable[[str], bool]:
    """A test of whether a path is under one of *prefixes* (folders, each ending with a
    separator). For many prefixes (a gc batch of runs), a path's enclosing folders are looked
    up in a set, a few steps per path, where testing each prefix would cost a pass over the
    cache per removed run."""
    if len(prefixes) < 8:
        return lambda path: path.startswith(prefixes)
    folders = frozenset(prefixes)
    shortest = min(len(f) for f in folders)

    def inside(path: str) -> bool:
        head = path
        if head in folders:
            return True
        while len(head) > shortest:
            cut = head.rfind(os.sep, 0, len(head) - 1)
            if cut < 0:
                return False
            head = head[:cut + 1]
            if head in folders:
                return True
        return False
    return inside


class ParsedFiles:
    """A bounded map path -> (signature, parsed value); the oldest entries go first."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._capacity = capacity
        self._entries: dict[str, tuple[tuple[int, int, int], Any]] = {}
        self._lock = threading.Lock()
        #: Entries parsed from files (not seeded) since this map was made.
        self.parsed = 0

    def get(self, path: str, sig: tuple[int, int, int]) -> Any:
        entry = self._entries.get(path)
        if entry is not None and entry[0] == sig:
            return entry[1]
        return None

    def peek(self, path: str) -> tuple[tuple[int, int, int], Any] | None:
        """The entry of *path* whatever its signature (for incremental re-reads)."""
        return self._entries.get(path)

    def put(self, path: str, sig: tuple[int, int, int], value: Any) -> None:
        with self._lock:
            self.parsed += 1
            self._entries[path] = (sig, value)
            if len(self._entries) > self._capacity:
                for old in list(self._entries)[: self._capacity // 10]:
                    del self._entries[old]

    def seed(self, path: str, sig: tuple[int, int, int], value: Any) -> None:
        """Add an entry known from elsewhere (a summary file) unless one is already here."""
        if path not in self._entries and len(self._entries) < self._capacity:
            self._entries.setdefault(path, (sig, value))

    def under(self, prefix: str) -> list[tuple[str, tuple[int, int, int], Any]]:
        """(path, signature, value) of every entry whose path starts with *prefix*."""
        return [(p, e[0], e[1]) for p, e in list(self._entries.items()) if p.startswith(prefix)]

    def forget(self, *prefixes: str) -> None:
        """Drop every entry under any of *prefixes* (folders, each ending with a separator)."""
        inside = under_any(prefixes)
        with self._lock:
            for path in [p for p in self._entries if inside(p)]:
                del self._entries[path]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _greater(a: LatestPoint, b: LatestPoint) -> bool:
    """MLflow's ``(step, timestamp, value) > ...`` (a NaN value is never greater)."""
    if a.step != b.step:
        return a.step > b.step
    if a.timestamp != b.timestamp:
        return a.timestamp > b.timestamp
    return a.value > b.value


class LatestPoints:
    """The latest point of metric files, kept up to date by reading only what was appended."""

    def __init__(self) -> None:
        # path -> (inode, size read, mtime, latest point or None)
        self.files = ParsedFiles()

    def latest(self, path: str) -> tuple[LatestPoint | None, bytes | None]:
        """(latest point, the whole file if it had to be read in full and is damaged).

        Raises OSError when the file cannot be opened.
        """
        cached = self.files.peek(path)
        if cached is not None:
            st = os.stat(path)
            (ino, size, mtime), point = cached
            if ino == st.st_ino and size == st.st_size and mtime == st.st_mtime_ns:
                return point, None
        fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
        try:
            st = os.fstat(fd)
            if cached is not None:
                (ino, size, mtime), point = cached
                if ino == st.st_ino and 0 < size < st.st_size:
                    tail = _read_at(fd, size, st.st_size - size)
                    if tail.endswith(b"\n"):
                        new = _metrics.latest(tail)
                        if new is None or not new.skipped:
                            if new is not None and (point is None or _greater(new, point)):
                                point = new
                            self.files.put(path, (st.st_ino, st.st_size, st.st_mtime_ns),
                                            point)
                            return point, None
            data = _read_at(fd, 0, st.st_size)
        finally:
            os.close(fd)
        point = _metrics.latest(data)
        damaged = (point is None and bool(data)) or (point is not None and point.skipped > 0)
        if not damaged and data.endswith(b"\n"):
            self.files.put(path, (st.st_ino, len(data), st.st_mtime_ns), point)
        return point, data if damaged else None

    def forget(self, *prefixes: str) -> None:
        self.files.forget(*prefixes)


def _read_at(fd: int, offset: int, size: int) -> bytes:
    data = os.pread(fd, size, offset) if size else b""
    if len(data) < size:  # a short read: finish it
        chunks = [data]
        got = len(data)
        while got < size:
            more = os.pread(fd, size - got, offset + got)
            if not more:
                break
            chunks.append(more)
            got += len(more)
        data = b"".join(chunks)
    return data
