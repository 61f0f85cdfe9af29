"""Where each run lives, so ``get_run`` does not scan every experiment directory.

MLflow finds a run by listing every experiment directory. trackstore keeps a side file at
the tree's root, ``.trackstore-run-index``: one ``<run_id> <experiment_id>\\n`` line per run,
appended (one ``write()`` on an ``O_APPEND`` descriptor, so concurrent writers interleave
whole lines) when a run is created or first found. It is only a hint: every answer is checked
against the tree, and a run the index does not know (written by MLflow, or by a process whose
line was lost) is found by probing each experiment directory once, then remembered. Deleting
the file loses nothing.
"""

from __future__ import annotations

import os
import threading

from .layout import RUN_INDEX

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class RunIndex:
    def __init__(self, root: str) -> None:
        self._path = os.path.join(root, RUN_INDEX)
        self._lock = threading.Lock()
        self._map: dict[str, str] = {}
        self._loaded_size = 0
        self._fd: int | None = None  # kept open for appends: one write() per new run

    def get(self, run_id: str) -> str | None:
        found = self._map.get(run_id)
        if found is None:
            self._refresh()
            found = self._map.get(run_id)
        return found

    def remember(self, run_id: str, experiment_id: str, persist: bool = True) -> None:
        if self._map.get(run_id) == experiment_id:
            return
        self._map[run_id] = experiment_id
        if persist:
            line = f"{run_id} {experiment_id}\n".encode()
            with self._lock:
                try:
                    if self._fd is None:
                        self._fd = os.open(self._path,
                                           os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_CLOEXEC,
                                           0o666)
                    os.write(self._fd, line)
                except OSError:
                    pass  # a read-only tree: the in-memory map still serves this process

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def forget(self, run_id: str) -> None:
        self._map.pop(run_id, None)

    def purge(self, run_ids: set[str]) -> None:
        """Forget *run_ids* and rewrite the file without their lines (runs removed for good:
        the index must not keep naming them). The new file replaces the old one atomically;
        a line another process appends to the old one meanwhile is lost, which the index
        tolerates (the run is found by probing, and remembered again)."""
        from .layout import write_atomic

        for run_id in run_ids:
            self._map.pop(run_id, None)
        with self._lock:
            try:
                with open(self._path, "rb") as f:
                    data = f.read()
            except OSError:
                return
            end = data.rfind(b"\n") + 1
            kept = [line for line in data[:end].split(b"\n")[:-1]
                    if line.split(b" ", 1)[0].decode("ascii", "replace") not in run_ids]
            if len(kept) == data[:end].count(b"\n"):
                return
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            try:
                write_atomic(self._path, b"".join(line + b"\n" for line in kept), fsync=False)
            except OSError:
                return  # a read-only tree: only this process forgets them
            self._loaded_size = 0

    def _refresh(self) -> None:
        """Read what other processes appended since we last looked."""
        with self._lock:
            try:
                fd = os.open(self._path, os.O_RDONLY | _O_CLOEXEC)
            except OSError:
                return
            try:
                size = os.fstat(fd).st_size
                if size <= self._loaded_size:
                    if size < self._loaded_size:  # replaced or truncated: start over
                        self._loaded_size = 0
                    else:
                        return
                chunks = []
                offset = self._loaded_size
                while offset < size:
                    chunk = os.pread(fd, min(size - offset, 1 << 22), offset)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    offset += len(chunk)
            finally:
                os.close(fd)
            data = b"".join(chunks)
            end = data.rfind(b"\n") + 1  # a torn last line is read again next time
            for line in data[:end].split(b"\n"):
                parts = line.split(b" ")
                if len(parts) == 2 and parts[0] and parts[1]:
                    try:
                        self._map[parts[0].decode("ascii")] = parts[1].decode("ascii")
                    except UnicodeDecodeError:
                        continue
            self._loaded_size += end
