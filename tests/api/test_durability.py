"""What survives a killed training loop (``docs/durability.md``, "What survives what").

A child process (``_logging_child.py``) logs the points ``step = 0, 1, 2, ...`` (``value =
float(step)``) and writes each step to a pipe once its ``log_metric`` call has returned: in
sync mode the point is then *acknowledged* (stored), in async mode *enqueued*. The test sends
it a signal once it has written a random number of steps (plus a random few milliseconds),
then checks the store, opened afresh in this process:

* sync, SIGKILL or SIGTERM (no async logging: SIGTERM's default action): every acknowledged
  step is stored exactly once; the one call in flight may have stored its step too; nothing
  else is there;
* async, SIGTERM (``Terminated``: exit status 143), SIGINT (``KeyboardInterrupt``: Python
  then ends itself by SIGINT, status -2), or a clean exit without ``end_run``: every enqueued
  step is stored exactly once, the stored steps are exactly ``0..k-1`` with ``k`` the enqueued
  count or one more (the call in flight), nothing reached stderr but the interrupt's
  traceback, and the run was ended: KILLED after SIGTERM, and after SIGINT in a
  ``with start_run()`` block or not; FINISHED after a clean exit;
* async, SIGKILL: what was still queued may be lost (the documented limit), but what is
  stored was enqueued, once;

and in every case the store opens cleanly: ``get_run``, ``get_metric_history`` and
``search_runs`` work and agree, the store takes new writes (to the killed run, to a new run),
the file store reports no damage and its metric files end with a whole line, SQLite passes
``PRAGMA integrity_check``, and the tracking server is still serving.

A child that does not exit within :data:`EXIT_TIMEOUT` of the signal (an exit flush that
hangs) fails the test.

Backends: the file store, SQLite, PostgreSQL (a fresh database per module; skipped without a
server unless ``TRACKSTORE_REQUIRE_DATABASES=1``) and ``trackstore server`` on SQLite (one per
module). Each test repeats its scenario a few times with random kill points drawn from
``random.Random`` seeded by ``TRACKSTORE_DURABILITY_SEED`` (random when unset); every failure
message names the seed, the iteration, the variant and the kill point. Each iteration's child
is started while the previous one runs (it waits to be told to log), so that the seconds a
SQL child takes to import and connect overlap the previous iteration.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pytest

from tests._databases import fresh_database
from tests._server_process import ServerProcess, clean_env, trackstore_server
from trackstore import TrackingClient
from trackstore.entities import Run
from trackstore.store import registry
from trackstore.store.file import FileStore

CHILD = Path(__file__).with_name("_logging_child.py")
SEED = int(os.environ.get("TRACKSTORE_DURABILITY_SEED") or random.SystemRandom().randrange(2**32))

BACKENDS = ["file", "sqlite", "postgresql", "http"]
# How many steps the child acknowledges before the signal, drawn per iteration: about half a
# second of logging at most on a loaded 2-core machine (a synchronous point costs ~15 µs on
# the file store, ~0.2 ms on SQLite, ~1 ms on PostgreSQL, a few ms through the server). An
# asynchronous point costs the child ~10 µs whatever the backend.
SYNC_TARGETS = {"file": (300, 20_000), "sqlite": (100, 2_500), "postgresql": (50, 500),
                "http": (30, 200)}
ASYNC_TARGETS = {"file": (1_000, 40_000), "sqlite": (1_000, 30_000),
                 "postgresql": (1_000, 20_000), "http": (1_000, 20_000)}
# With a queue of one point, each point waits for the one before it to be stored alone.
BLOCKED_TARGETS = {"file": (100, 4_000), "sqlite": (50, 1_000), "postgresql": (20, 300),
                   "http": (20, 200)}
EXTRA_DELAY = 0.02  # at most this many seconds between reaching the target and the signal
START_TIMEOUT = 60.0  # to the target (a loaded machine, a first PostgreSQL connection)
EXIT_TIMEOUT = 30.0  # from the signal to the exit (storing up to 100,000 queued points: ~1 s)
LAST_STEP = 10**9  # what the test appends to a killed run's history


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    return random.Random(f"{SEED}:{request.node.nodeid}")


# -- backends ----------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    uri: str
    sqlite_path: Path | None = None  # SQLite file to check (the server's too)
    file_root: Path | None = None
    server: ServerProcess | None = None

    def check_intact(self, where: str) -> None:
        """What "opens cleanly" means below the API, for the backends where it can be seen."""
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as db:
                result = db.execute("PRAGMA integrity_check").fetchall()
            db.close()
            assert result == [("ok",)], f"{where}: SQLite integrity_check says {result}"
        if self.server is not None:
            assert self.server.process.poll() is None, \
                f"{where}: the server exited: {self.server.describe()}"
            assert self.server.poll_ready(), where


@pytest.fixture(scope="module")
def postgresql_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One fresh PostgreSQL database for the module (creating the schema takes seconds); each
    iteration logs to a run of its own."""
    from trackstore.store.sql.engine import dispose_engines

    with fresh_database("postgresql", tmp_path_factory.mktemp("postgresql")) as uri:
        TrackingClient(uri).get_experiment("0")  # the schema, before any child races for it
        registry.clear_cache()
        try:
            yield uri
        finally:
            registry.clear_cache()
            dispose_engines()


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """``trackstore server`` on SQLite, one for the module; stopping it must succeed."""
    root = tmp_path_factory.mktemp("server")
    args = ["--backend-store-uri", f"sqlite:///{root / 'store.db'}",
            "--default-artifact-root", str(root / "artifacts"), "--workers", "1",
            "--no-access-log"]
    with trackstore_server(args, cwd=root) as server:
        yield server


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    # The store is created here, before any child: two children starting together would
    # otherwise both create it (a file store half-created by one process makes the other warn
    # "malformed experiment skipped"), which is not what this module tests.
    name = request.param
    if name == "file":
        root = tmp_path / "mlruns"
        TrackingClient(root.as_uri()).get_experiment("0")
        registry.clear_cache()
        yield Backend(name, root.as_uri(), file_root=root)
    elif name == "sqlite":
        with fresh_database("sqlite", tmp_path) as uri:
            TrackingClient(uri).get_experiment("0")
            registry.clear_cache()
            yield Backend(name, uri, sqlite_path=Path(uri[len("sqlite:///"):]))
            registry.clear_cache()
    elif name == "postgresql":
        yield Backend(name, request.getfixturevalue("postgresql_uri"))
    else:
        server: ServerProcess = request.getfixturevalue("http_server")
        yield Backend(name, server.url, sqlite_path=server.cwd / "store.db", server=server)


# -- the child ---------------------------------------------------------------------------------


@dataclass
class Spec:
    """One iteration: how the child logs, and (signal tests) how many steps it writes first."""

    mode: str  # sync, async, async-env
    keys: int = 1
    with_block: bool = False  # log in a `with start_run()` block (else: no end_run)
    count: int | None = None  # exit cleanly after this many steps (else: until killed)
    env: dict[str, str] = field(default_factory=dict)
    targets: tuple[int, int] = (0, 0)  # the signal comes after randint(*targets) steps


@dataclass
class Outcome:
    """What the child wrote and how it ended."""

    run_id: str
    steps: int  # the steps it wrote: 0..steps-1, acknowledged (sync) or enqueued (async)
    done: bool  # it finished its loop (so no signal landed in it)
    returncode: int
    stderr: str
    about: str  # seed, iteration, kill point: for every assertion message

    def __str__(self) -> str:
        tail = self.stderr if len(self.stderr) < 4000 else "..." + self.stderr[-4000:]
        return (f"{self.about}; the child wrote {self.steps} step(s), done={self.done}, exited "
                f"with {self.returncode}; stderr:\n{tail}")


class Child:
    """``_logging_child.py --wait``: started, it opens the store and waits for :meth:`go`;
    its stdout is read by a thread as it comes."""

    def __init__(self, backend: Backend, spec: Spec, cwd: Path, about: str) -> None:
        self.about = f"seed {SEED}, {backend.name}, {about}: {spec}"
        command = [sys.executable, str(CHILD), backend.uri, spec.mode, "--keys", str(spec.keys),
                   "--wait"]
        if spec.with_block:
            command.append("--with-block")
        if spec.count is not None:
            command += ["--count", str(spec.count)]
        env = dict(spec.env)
        if spec.mode == "async-env":
            env["MLFLOW_ENABLE_ASYNC_LOGGING"] = "true"
        self.stderr_path = cwd / f"child-{time.monotonic_ns()}.stderr"
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=clean_env(env), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=stderr)
        self.target = 0  # the steps written before the signal (signal_after)
        self._chunks: list[bytes] = []
        self._lines = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 1 << 16):
            self._chunks.append(chunk)
            self._lines += chunk.count(b"\n")

    def go(self) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"go\n")
            self.process.stdin.close()
        except BrokenPipeError:  # it exited already: outcome() tells why
            pass

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def signal_after(self, rng: random.Random, targets: tuple[int, int], sig: int) -> None:
        """Send *sig* once the child has written a random number of steps."""
        target = self.target = rng.randint(*targets)
        delay = rng.uniform(0, EXTRA_DELAY)
        self.about += f"; {signal.Signals(sig).name} after {target} steps + {delay * 1000:.1f} ms"
        deadline = time.monotonic() + START_TIMEOUT
        while self._lines - 1 < target:
            if self.process.poll() is not None:
                pytest.fail(f"the child exited before step {target}: {self.outcome()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the child wrote {self._lines - 1} steps in {START_TIMEOUT:.0f} s,"
                            f" not {target}: {self.outcome()}")
            time.sleep(0.001)
        time.sleep(delay)
        self.process.send_signal(sig)

    def outcome(self) -> Outcome:
        """Wait for the exit (a child still running after EXIT_TIMEOUT is killed: fails)."""
        try:
            self.process.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.close()
            pytest.fail(f"{self.about}: the child was still running {EXIT_TIMEOUT:.0f} s "
                        f"later (killed); stderr:\n{self.stderr()[-4000:]}")
        self._reader.join()
        data = b"".join(self._chunks)
        stderr = self.stderr()
        where = f"{self.about}; exit status {self.process.returncode}; stderr:\n{stderr[-4000:]}"
        assert data.endswith(b"\n"), f"{where}\nstdout (not whole lines): {data[-200:]!r}"
        lines = data.decode().split("\n")[:-1]
        assert lines[0].startswith("run "), f"{where}\nstdout: {data[:200]!r}"
        done = lines[-1] == "done"
        steps = lines[1:-1] if done else lines[1:]
        assert steps == [str(i) for i in range(len(steps))], f"{where}\n(stdout not 0, 1, ...)"
        assert len(steps) >= self.target, f"{where}\n{len(steps)} steps, not {self.target}"
        return Outcome(lines[0][len("run "):], len(steps), done, self.process.returncode,
                       stderr, self.about)


class Children:
    """One child per spec, in turn. Each child is started while the previous one runs: its
    start-up (imports, opening the store: a second or more for SQL) overlaps the previous
    iteration, and only its logging waits for :meth:`Child.go`."""

    def __init__(self, backend: Backend, cwd: Path, specs: list[Spec]) -> None:
        self.backend, self.cwd, self.specs = backend, cwd, specs
        self._started: list[Child] = []

    def _start(self, i: int) -> Child:
        child = Child(self.backend, self.specs[i], self.cwd, f"iteration {i}")
        self._started.append(child)
        return child

    def __iter__(self) -> Iterator[tuple[Spec, Child]]:
        following = self._start(0)
        for i, spec in enumerate(self.specs):
            child = following
            if i + 1 < len(self.specs):
                following = self._start(i + 1)
            child.go()
            yield spec, child

    def __enter__(self) -> Children:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for child in self._started:
            child.close()


# -- the store, afterwards ---------------------------------------------------------------------


@dataclass
class Stored:
    run: Run
    steps: dict[str, Counter[int]] = field(default_factory=dict)  # key -> step -> points

    def range_end(self, key: str, out: Outcome) -> int:
        """k where the key's steps are exactly 0..k-1, each once (asserted)."""
        counts = self.steps[key]
        twice = {s: n for s, n in counts.items() if n > 1}
        assert not twice, f"{out}\n{key}: steps stored more than once (step: times): " \
                          f"{dict(list(twice.items())[:20])}"
        k = len(counts)
        missing = sorted(set(range(k)) - set(counts))
        assert not missing, f"{out}\n{key}: {k} steps stored but not 0..{k - 1}: missing " \
                            f"{missing[:20]}, beyond: {sorted(s for s in counts if s >= k)[:20]}"
        return k


def read_run(client: TrackingClient, out: Outcome, keys: int
             ) -> tuple[Run, dict[str, Counter[int]]]:
    """The run, and the stored points per step of each key (values checked)."""
    run = client.get_run(out.run_id)
    steps = {}
    for key in ("m0", "m1")[:keys]:
        history = client.get_metric_history(out.run_id, key)
        wrong = [(m.step, m.value) for m in history if m.value != float(m.step)]
        assert not wrong, f"{out}\n{key}: points whose value is not their step: {wrong[:20]}"
        steps[key] = Counter(m.step for m in history)
    return run, steps


def open_and_check(backend: Backend, out: Outcome, keys: int) -> Stored:
    """Open the store afresh and read the killed run through the API; check the store is
    consistent and still takes writes."""
    registry.clear_cache()  # nothing cached in this process from before the kill
    backend.check_intact(str(out))
    client = TrackingClient(backend.uri)
    run, steps = read_run(client, out, keys)
    if backend.server is not None or (backend.sqlite_path is None and backend.file_root is None):
        # A tracking server, or a database server, may still be storing what the killed child
        # sent last (its statement runs to its commit without the client): the run and its
        # histories are separate reads, so read until two agree.
        for _ in range(40):
            time.sleep(0.05)
            again = read_run(client, out, keys)
            if again[0].data.metrics == run.data.metrics and again[1] == steps:
                break
            run, steps = again
    stored = Stored(run, steps)
    for key, counts in steps.items():
        latest = run.data.metrics.get(key)
        expected = float(max(counts)) if counts else None
        assert latest == expected, f"{out}\n{key}: the run's latest value is {latest}, " \
                                   f"its history's greatest step {expected}"
    found = client.search_runs([run.info.experiment_id],
                               filter_string=f"attributes.run_id = '{out.run_id}'")
    assert [r.info.run_id for r in found] == [out.run_id], f"{out}\nsearch_runs: {found}"
    assert found[0].data.metrics == run.data.metrics, f"{out}\nsearch_runs: {found[0]}"
    # The store still takes writes: to the killed run, after its last point, and a new run.
    client.log_metric(out.run_id, "m0", float(LAST_STEP), step=LAST_STEP)
    after = Counter(client.get_metric_history_columns(out.run_id, "m0").steps)
    assert after == stored.steps["m0"] + Counter({LAST_STEP: 1}), \
        f"{out}\nm0 after one more point: {len(after)} steps, was {len(stored.steps['m0'])}"
    new_run = client.create_run(run.info.experiment_id).info.run_id
    client.log_metric(new_run, "m0", 1.0, step=1)
    assert [(m.step, m.value) for m in client.get_metric_history(new_run, "m0")] == [(1, 1.0)]
    if backend.file_root is not None:
        store = registry.get_store(backend.uri)
        assert isinstance(store, FileStore)
        assert store.problems() == [], f"{out}\nthe file store skipped damage"
        for path in (backend.file_root / run.info.experiment_id / out.run_id / "metrics").iterdir():
            data = path.read_bytes()
            assert data.endswith(b"\n"), f"{out}\n{path}: last line not whole: {data[-80:]!r}"
    backend.check_intact(str(out))
    return stored


def check_params(stored: Stored, out: Outcome, mode: str) -> None:
    run = stored.run
    assert run.data.params == {"mode": mode}, f"{out}\nparams: {run.data.params}"
    assert run.data.tags.get("child") == "logging", f"{out}\ntags: {run.data.tags}"


def check_sync(stored: Stored, out: Outcome, keys: int) -> None:
    """Acknowledged steps 0..n-1 are all there, once; the call in flight (step n) may have
    stored its points, in order; nothing else."""
    n = out.steps
    ends = [stored.range_end(key, out) for key in ("m0", "m1")[:keys]]
    assert ends[0] in (n, n + 1), \
        f"{out}\nm0 holds steps 0..{ends[0] - 1}: acknowledged were 0..{n - 1}"
    if keys == 2:  # at each step m0 is logged (and acknowledged) before m1
        assert ends[1] in (n, ends[0]), \
            f"{out}\nm1 holds steps 0..{ends[1] - 1}, m0 0..{ends[0] - 1}: acknowledged 0..{n - 1}"
    status = stored.run.info.status
    assert status == "RUNNING" and stored.run.info.end_time is None, \
        f"{out}\nnobody ended the run, yet it is {status} (end time {stored.run.info.end_time})"
    check_params(stored, out, "sync")


def check_async_all(stored: Stored, out: Outcome, keys: int, status: str, mode: str) -> None:
    """Every enqueued step is stored once: steps 0..k-1 with k the enqueued count, or one
    more (the call in flight had queued its point); the run ended with *status*."""
    n = out.steps
    ends = [stored.range_end(key, out) for key in ("m0", "m1")[:keys]]
    assert ends[0] in (n, n + 1), \
        f"{out}\nm0 holds steps 0..{ends[0] - 1}: enqueued were 0..{n - 1}"
    if keys == 2:
        assert ends[1] in (n, ends[0]), \
            f"{out}\nm1 holds steps 0..{ends[1] - 1}, m0 0..{ends[0] - 1}: enqueued 0..{n - 1}"
    info = stored.run.info
    assert info.status == status and info.end_time is not None, \
        f"{out}\nthe run is {info.status} (end time {info.end_time}), expected {status}"
    check_params(stored, out, mode)


def clean_stderr(out: Outcome) -> None:
    assert out.stderr == "", f"{out}\n(nothing should reach stderr)"


# -- the tests ---------------------------------------------------------------------------------


def sync_specs(backend: Backend, count: int) -> list[Spec]:
    """*count* iterations, the second one (if any) with two keys per step."""
    targets = SYNC_TARGETS[backend.name]
    return [Spec("sync", keys=2 if i == 1 else 1, targets=targets) for i in range(count)]


def async_specs(backend: Backend, count: int) -> list[Spec]:
    """Up to three iterations: in a `with start_run()` block; two keys with a queue of one
    point, which keeps the caller waiting for room nearly all the time and makes every point
    open a new queue entry for its run (the signal lands there); asynchronous by
    MLFLOW_ENABLE_ASYNC_LOGGING, with no end_run."""
    return [
        Spec("async", with_block=True, targets=ASYNC_TARGETS[backend.name]),
        Spec("async", keys=2, env={"TRACKSTORE_ASYNC_LOGGING_MAX_QUEUE": "1"},
             targets=BLOCKED_TARGETS[backend.name]),
        Spec("async-env", targets=ASYNC_TARGETS[backend.name]),
    ][:count]


@pytest.mark.parametrize(("sig", "count"), [(signal.SIGKILL, 3), (signal.SIGTERM, 2)],
                         ids=["sigkill", "sigterm"])
def test_sync_kill_keeps_every_acknowledged_point(backend: Backend, tmp_path: Path,
                                                  rng: random.Random, sig: signal.Signals,
                                                  count: int) -> None:
    # With SIGTERM too: asynchronous logging never started, so trackstore took no handler and
    # SIGTERM's default action ends the process at once.
    with Children(backend, tmp_path, sync_specs(backend, count)) as children:
        for spec, child in children:
            child.signal_after(rng, spec.targets, sig)
            out = child.outcome()
            assert out.returncode == -sig and not out.done, str(out)
            clean_stderr(out)
            check_sync(open_and_check(backend, out, spec.keys), out, spec.keys)


def test_async_sigterm_stores_every_enqueued_point(backend: Backend, tmp_path: Path,
                                                   rng: random.Random) -> None:
    with Children(backend, tmp_path, async_specs(backend, 3)) as children:
        for spec, child in children:
            child.signal_after(rng, spec.targets, signal.SIGTERM)
            out = child.outcome()
            assert out.returncode == 128 + signal.SIGTERM and not out.done, str(out)
            clean_stderr(out)
            # KILLED both ways: by the with block's exit, or by the runs ended at exit.
            stored = open_and_check(backend, out, spec.keys)
            check_async_all(stored, out, spec.keys, "KILLED", spec.mode)


def test_async_sigint_stores_every_enqueued_point(backend: Backend, tmp_path: Path,
                                                  rng: random.Random) -> None:
    # KeyboardInterrupt, then the exit flush; then Python ends itself with SIGINT (so that a
    # shell sees the interrupt), the exit handlers having run.
    with Children(backend, tmp_path, async_specs(backend, 2)) as children:
        for spec, child in children:
            child.signal_after(rng, spec.targets, signal.SIGINT)
            out = child.outcome()
            assert out.returncode == -signal.SIGINT and not out.done, str(out)
            assert out.stderr.rstrip().endswith("KeyboardInterrupt"), str(out)
            assert "trackstore:" not in out.stderr and "Exception in thread" not in out.stderr, \
                str(out)
            stored = open_and_check(backend, out, spec.keys)
            # A with block ends its run KILLED on KeyboardInterrupt; without one, the exit
            # handler sees the unhandled KeyboardInterrupt and says the same.
            check_async_all(stored, out, spec.keys, "KILLED", spec.mode)


def test_async_clean_exit_stores_every_point(backend: Backend, tmp_path: Path,
                                             rng: random.Random) -> None:
    # No end_run: the interpreter's exit stores the queue, then ends the run.
    count = rng.randint(1_000, 30_000)
    with Children(backend, tmp_path, [Spec("async", keys=2, count=count)]) as children:
        for _, child in children:
            out = child.outcome()
            assert out.returncode == 0 and out.done and out.steps == count, str(out)
            clean_stderr(out)
            stored = open_and_check(backend, out, 2)
            assert [stored.range_end(key, out) for key in ("m0", "m1")] == [count, count], \
                str(out)
            check_async_all(stored, out, 2, "FINISHED", "async")


def test_async_sigkill_stores_enqueued_points_at_most_once(backend: Backend, tmp_path: Path,
                                                           rng: random.Random) -> None:
    # What was still queued is lost (the documented limit); what is stored was enqueued.
    targets = ASYNC_TARGETS[backend.name]
    specs = [Spec("async", targets=targets), Spec("async", keys=2, targets=targets)]
    with Children(backend, tmp_path, specs) as children:
        for spec, child in children:
            child.signal_after(rng, spec.targets, signal.SIGKILL)
            out = child.outcome()
            assert out.returncode == -signal.SIGKILL and not out.done, str(out)
            clean_stderr(out)
            stored = open_and_check(backend, out, spec.keys)
            for key in ("m0", "m1")[:spec.keys]:
                counts = stored.steps[key]
                twice = {s: n for s, n in counts.items() if n > 1}
                assert not twice, f"{out}\n{key}: stored more than once: {list(twice.items())[:20]}"
                never = sorted(s for s in counts if not 0 <= s <= out.steps)  # n: in flight
                assert not never, f"{out}\n{key}: steps stored but never enqueued: {never[:20]}"
            run = stored.run
            assert run.info.status == "RUNNING", f"{out}\nnobody ended the run: {run.info}"
            assert run.data.params in ({}, {"mode": "async"}), f"{out}\n{run.data.params}"
