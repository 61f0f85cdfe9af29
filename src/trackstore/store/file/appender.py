"""Appending metric points: one ``write()`` per key per call, on cached ``O_APPEND`` descriptors.

MLflow opens, appends and closes the metric file for every point. trackstore keeps a bounded
LRU of open descriptors, so logging a point costs one ``write()`` system call; the bytes reach
the kernel before the call returns, so a killed process loses nothing it acknowledged.
``O_APPEND`` makes concurrent writers (threads or processes) interleave whole writes.

The first time a file is opened, its last byte is checked. A file that does not end in a
newline carries a torn line from a crashed writer; appending after it would glue our first
point onto the fragment. So the fragment is closed with :data:`TORN_MARK`: six more
space-separated fields guarantee the line has too many fields to parse, in trackstore's
reader and in MLflow's, so a cut-short number (``0.5`` from ``0.51``) can never come back as
data. The marked line is skipped and reported on read, and ``trackstore fsck`` finds it.

A missing newline does not always mean a crash. Linux serialises ``O_APPEND`` writes against
each other, but not against ``fstat``/``pread``: a write that crosses a page boundary grows
the file page by page, so another process can see the first part of a line that is still
being written. Sealing then would put a spurious torn line after the writer's (complete)
line. A live writer finishes within microseconds, or a few hundred milliseconds when the
kernel throttles dirty pages; a crashed writer's fragment never changes. So the tail is
sealed only once the file has stopped growing for :data:`SETTLE` seconds with its last byte
still not a newline: the wait is paid once per genuinely torn file, never on a healthy one.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable

from ...exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from .cache import under_any
from .layout import key_path

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | _O_CLOEXEC
#: Appended to a torn fragment before anything else is appended to its file.
TORN_MARK = b" [torn line: a writer was interrupted]\n"
#: Seconds an unterminated tail must stay unchanged before it is taken for a crashed writer's.
SETTLE = 1.0


def tail_is_torn(fd: int, settle: float = SETTLE) -> bool:
    """Whether the file of *fd* ends in a fragment no writer will finish (see the module doc)."""
    size = os.fstat(fd).st_size
    stable_since = None
    pause = 0.0005
    while size > 0 and os.pread(fd, 1, size - 1) != b"\n":
        now = time.monotonic()
        if stable_since is None:
            stable_since = now
        elif now - stable_since >= settle:
            return True
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
        grown = os.fstat(fd).st_size
        if grown != size:  # a writer is at work: judge its end afresh
            size, stable_since, pause = grown, None, 0.0005
    return False


class MetricAppender:
    """Open append descriptors of metric files, at most *capacity* at a time (oldest evicted).

    Appends are serialised by one lock, so no thread can write to a descriptor another thread
    is closing; a ``write()`` of a few lines costs about a microsecond.
    """

    def __init__(self, capacity: int = 256, settle: float = SETTLE) -> None:
        self._capacity = capacity
        self.settle = settle
        self._fds: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def append(self, metrics_dir: str, key: str, data: bytes) -> None:
        """Append *data* (whole lines) to the file of *key* under *metrics_dir*."""
        with self._lock:
            fd = self._fds.get((metrics_dir, key))
            if fd is None:
                fd = self._open(metrics_dir, key)
            written = os.write(fd, data)
            while written < len(data):  # a short write (a full disk, a signal): finish it
                data = data[written:]
                written = os.write(fd, data)

    def check_keys(self, metrics_dir: str, keys: Iterable[str]) -> None:
        """Check the files of the *keys* not open yet (:func:`key_path`: their length, no
        link on their way) without creating anything: a batch checks before it writes."""
        for key in keys:
            if (metrics_dir, key) not in self._fds:
                key_path(metrics_dir, key)

    def _open(self, metrics_dir: str, key: str) -> int:
        path = key_path(metrics_dir, key)
        try:
            fd = os.open(path, _FLAGS, 0o666)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, _FLAGS, 0o666)
        except (IsADirectoryError, NotADirectoryError):
            raise TrackstoreError(
                f"Metric key '{key}' conflicts with another metric key of this run: one names "
                "a file where the other needs a directory (e.g. 'loss' and 'loss/train')",
                INVALID_PARAMETER_VALUE) from None
        try:
            if tail_is_torn(fd, self.settle):
                os.write(fd, TORN_MARK)
        except BaseException:
            os.close(fd)
            raise
        self._fds[(metrics_dir, key)] = fd
        if len(self._fds) > self._capacity:
            oldest = next(iter(self._fds))
            os.close(self._fds.pop(oldest))
        return fd

    def forget(self, *prefixes: str) -> None:
        """Close the descriptors of files under *prefixes* (runs or experiments moved or
        gone; folders, each ending with a separator)."""
        inside = under_any(prefixes)
        with self._lock:
            for name in [n for n in self._fds if inside(n[0] + os.sep)]:
                os.close(self._fds.pop(name))

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
