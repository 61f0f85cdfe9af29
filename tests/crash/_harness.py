"""The crash matrix's machinery: the writer zygote, the servers, reading a store back, and
the checks below the API (``meta.yaml``, metric files, SQLite's integrity check)."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests._server_process import ServerProcess, clean_env, trackstore_server
from trackstore import TrackingClient, _yamlio_py
from trackstore.entities import Run, ViewType
from trackstore.store.file.appender import TORN_MARK

from ._model import Fields, Violation

WRITER = Path(__file__).with_name("_writer.py")
#: Seconds to wait for a line of the zygote (a writer's first point may wait on a slow start).
LINE_TIMEOUT = 60.0


def yaml_twins() -> list[tuple[str, Any]]:
    """(name, load) of each ``_yamlio`` twin present: the pure one always, the compiled one
    when it was built."""
    twins: list[tuple[str, Any]] = [("py", _yamlio_py.load)]
    try:
        from trackstore import _yamlio_c
    except ImportError:
        return twins
    twins.append(("c", _yamlio_c.load))
    return twins


# -- the writers ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one writer acknowledged, and how it ended."""

    acks: dict[int, str] = field(default_factory=dict)  # op index -> what it created ("-")
    done: bool = False
    error: tuple[int, str] | None = None
    status: int | None = None



class Zygote:
    """``_writer.py``: forks a writer per trial (see its module doc)."""

    def __init__(self, uri: str, cwd: Path) -> None:
        self.stderr_path = cwd / f"writers-{time.monotonic_ns()}.stderr"
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(WRITER), uri], cwd=cwd, env=clean_env(),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._expect("ready")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self._lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self._lines.put(None)

    def stderr(self) -> str:
        text = self.stderr_path.read_text(errors="replace")
        return text if len(text) < 4000 else "..." + text[-4000:]

    def line(self) -> str:
        try:
            line = self._lines.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"the writer zygote said nothing for {LINE_TIMEOUT:.0f} s; "
                                 f"stderr:\n{self.stderr()}") from None
        if line is None:
            raise AssertionError(f"the writer zygote exited ({self.process.poll()}); "
                                 f"stderr:\n{self.stderr()}")
        return line

    def _expect(self, prefix: str) -> str:
        line = self.line()
        if not line.startswith(prefix):
            raise AssertionError(f"the writer zygote said {line!r}, expected {prefix!r}...; "
                                 f"stderr:\n{self.stderr()}")
        return line[len(prefix):].strip()

    def _send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()

    @staticmethod
    def _take(line: str, outcome: Outcome) -> bool:
        """Record one writer line; whether the writer has stopped writing (done or error)."""
        if line.startswith("a "):
            _, index, result = line.split(" ", 2)
            outcome.acks[int(index)] = result
            return False
        if line == "done":
            outcome.done = True
            return True
        if line.startswith("e "):
            _, index, message = line.split(" ", 2)
            outcome.error = (int(index), message)
            return True
        raise AssertionError(f"unexpected line from the writer: {line!r}")

    def run(self, uri: str, plan: list[dict[str, Any]], target: int, delay: float,
            before_kill: Any = None) -> Outcome:
        """Fork a writer of *plan* to *uri*; once it acknowledged *target* operations (or
        stopped), wait *delay* seconds, call *before_kill* (the server's kill), SIGKILL it."""
        self._send(json.dumps({"uri": uri, "plan": plan}))
        pid = int(self._expect("pid "))
        outcome = Outcome()
        ended = stopped = False
        while len(outcome.acks) < target and not stopped:
            line = self.line()
            if line == "eof":
                ended = True
                break
            stopped = self._take(line, outcome)
        if delay:
            until = time.perf_counter() + delay
            while time.perf_counter() < until:  # sub-millisecond: sleep() would overshoot
                pass
        if before_kill is not None:
            before_kill()
        os.kill(pid, signal.SIGKILL)  # not reaped before "reap": the pid is still the writer's
        while not ended:
            line = self.line()
            if line == "eof":
                break
            self._take(line, outcome)
        self._send("reap")
        outcome.status = int(self._expect("exit "))
        return outcome

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Servers:
    """``trackstore server`` on one store: the one serving, and a spare started ahead, so
    that a killed server is replaced without waiting for a start."""

    def __init__(self, store_uri: str, root: Path) -> None:
        self.args = ["--backend-store-uri", store_uri, "--default-artifact-root",
                     str(root / "artifacts"), "--workers", "1", "--no-access-log"]
        self.root = root
        self.killed: list[ServerProcess] = []
        self.active = trackstore_server(self.args, cwd=root)
        self.active.wait_ready()
        self.spare = trackstore_server(self.args, cwd=root)

    def kill_active(self) -> None:
        """SIGKILL the serving server's process group (:meth:`replace` it afterwards)."""
        self.active.kill()
        self.killed.append(self.active)

    def replace(self) -> None:
        """The spare serves (once ready); a new spare starts."""
        self.active, self.spare = self.spare, trackstore_server(self.args, cwd=self.root)
        self.active.wait_ready()

    def check_serving(self, where: str) -> list[Violation]:
        server = self.active
        if server.process.poll() is not None or not server.poll_ready():
            return [Violation("unreadable", where, f"the server stopped serving: "
                              f"{server.describe()}")]
        return []

    def close(self) -> None:
        """Stop both, each required to exit 0 on SIGTERM."""
        try:
            self.active.stop()
        finally:
            self.spare.stop()


# -- reading the store back ------------------------------------------------------------------


def run_fields(run: Run) -> Fields:
    """A run's fields as the model names them (see ``_model``); metrics as latest points."""
    info, data = run.info, run.data
    out: Fields = {("exp",): info.experiment_id, ("status",): info.status,
                   ("end",): info.end_time, ("name",): info.run_name,
                   ("stage",): info.lifecycle_stage}
    out.update({("param", k): v for k, v in data.params.items()})
    out.update({("tag", k): v for k, v in data.tags.items()
                if k.startswith("t.") or k == "mlflow.runName"})
    out.update({("latest", m.key): (m.timestamp, m.step, m.value) for m in data.metric_objs})
    return out


def full_fields(client: TrackingClient, run_id: str, keys: Iterable[str]) -> Fields:
    """A run's fields with whole metric histories (of *keys* and of every metric it shows)."""
    run = client.get_run(run_id)
    out = run_fields(run)
    out[("inputs",)] = frozenset((d.dataset.name, d.dataset.digest)
                                 for d in run.inputs.dataset_inputs)
    for key in sorted({*keys, *(name[1] for name in out if name[0] == "latest")}):
        out.pop(("latest", key), None)
        history = client.get_metric_history(run_id, key)
        if history:
            out[("metric", key)] = tuple(sorted((m.timestamp, m.step, m.value)
                                                for m in history))
    return out


def read_all(client: TrackingClient) -> tuple[dict[str, str], dict[str, Fields]]:
    """Every experiment (id -> name) and every run (id -> fields), deleted ones included."""
    experiments = {e.experiment_id: e.name
                   for e in client.search_experiments(ViewType.ALL, max_results=None)}
    runs: dict[str, Fields] = {}
    token = None
    while True:
        page = client.search_runs(sorted(experiments), run_view_type=ViewType.ALL,
                                  max_results=1000, page_token=token)
        for run in page:
            runs[run.info.run_id] = run_fields(run)
        token = page.token
        if not token:
            return experiments, runs


# -- below the API ---------------------------------------------------------------------------


class FileTreeChecks:
    """Every ``meta.yaml`` of a file store parses with both YAML twins; metric files hold
    whole lines (a torn last line is what the store ignores, a sealed one what it skips)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.twins = yaml_twins()
        self._seen: dict[str, tuple[int, int, int]] = {}  # path -> (inode, size, mtime_ns)
        self.meta_files = 0
        self.torn_tails = 0

    def meta_yaml(self, where: str) -> list[Violation]:
        found = []
        for folder, _dirs, files in os.walk(self.root):
            if "meta.yaml" not in files:
                continue
            path = os.path.join(folder, "meta.yaml")
            try:
                st = os.stat(path)
                signature = (st.st_ino, st.st_size, st.st_mtime_ns)
                if self._seen.get(path) == signature:
                    continue
                data = Path(path).read_bytes()
            except FileNotFoundError:
                continue  # removed meanwhile (nothing removes files here, but be exact)
            self.meta_files += 1
            problem = "is empty" if not data.strip() else None
            parsed = []
            for name, load in self.twins:
                if problem:
                    break
                try:
                    value = load(data)
                except Exception as exc:
                    problem = f"does not parse with the {name} twin: {exc}"
                    break
                if not isinstance(value, dict):
                    problem = f"holds {type(value).__name__}, not a mapping ({name} twin)"
                parsed.append(value)
            if not problem and any(p != parsed[0] for p in parsed):
                problem = f"the twins disagree: {parsed}"
            if problem:
                found.append(Violation("corrupt_meta_yaml", where, f"{path} {problem}: "
                                       f"{data[:200]!r}"))
            else:
                self._seen[path] = signature
        return found

    def metric_files(self, run_dirs: Iterable[Path], where: str) -> list[Violation]:
        found = []
        sealed = TORN_MARK.rstrip(b"\n")
        for run_dir in run_dirs:
            for folder, _dirs, files in os.walk(run_dir / "metrics"):
                for name in files:
                    path = os.path.join(folder, name)
                    *lines, tail = Path(path).read_bytes().split(b"\n")
                    self.torn_tails += bool(tail)
                    for line in lines:
                        if not line.endswith(sealed) and not _metric_line(line):
                            found.append(Violation("corrupt_metric_file", where,
                                                   f"{path}: bad line {line[:120]!r}"))
        return found


def _metric_line(line: bytes) -> bool:
    fields = line.split(b" ")
    if len(fields) not in (3, 5):
        return False
    try:
        int(fields[0])
        float(fields[1])
        int(fields[2])
    except ValueError:
        return False
    return True


def sqlite_integrity(path: Path, where: str) -> list[Violation]:
    with sqlite3.connect(path) as db:
        result = db.execute("PRAGMA integrity_check").fetchall()
    db.close()
    if result != [("ok",)]:
        return [Violation("unreadable", where, f"SQLite integrity_check: {result}")]
    return []
