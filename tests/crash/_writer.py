"""The crash matrix's writer: a zygote that forks one writer process per trial.

Run by path (``tests/crash/test_crash_matrix.py`` starts one per backend)::

    python tests/crash/_writer.py URI

Started once, it imports trackstore, reads the store at *URI* and warms up on a scratch store
of the same kind (see :func:`warm_up`: the second a Python process takes to start and to make
its first calls), says ``ready``, then reads one JSON command per line on stdin:

``{"uri": URI, "plan": [op, ...]}``
    fork a writer that opens the store at *URI* afresh and applies the plan's operations in
    order. On stdout, the zygote writes ``pid <pid>``, then relays what the writer writes
    (each line by one ``os.write`` of the writer, unbuffered: a line written is in the pipe
    even if the writer is SIGKILLed a moment later):

    * ``a <i> <result>`` once operation *i* has **returned** (acknowledged; *result* is the
      id a ``create_run`` / ``create_experiment`` returned, ``-`` otherwise);
    * ``e <i> <error>`` when operation *i* raised (a bug: no planned operation may fail);
    * ``done`` after the last operation.

    The writer never exits by itself: it waits to be killed. Once its pipe is closed (it is
    dead), the zygote writes ``eof`` and waits for the line ``reap``, then reaps it and writes
    ``exit <status>`` (``-9`` after SIGKILL). Until ``reap`` the writer's pid cannot be
    reused, so the parent may always signal it.

An operation is a JSON object with ``op`` and its arguments; a string ``"$<i>"`` in ``run``
or ``exp`` names what operation *i* of the same plan created. The operations:
``create_experiment`` (name), ``rename_experiment`` (exp, name), ``create_run`` (exp, name,
start, tags), ``log_metric`` (run, key, value, ts, step), ``log_batch`` (run, metrics as
``[key, value, ts, step]``, params and tags as ``[key, value]``), ``set_tag`` and
``log_param`` (run, key, value), ``set_terminated`` (run, status, end), ``update_status``
(run, status), ``rename_run`` (run, name), ``delete_run`` / ``restore_run`` (run),
``log_inputs`` (run, datasets as ``[name, digest]``). Every call is synchronous.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from trackstore import TrackingClient
from trackstore.entities import Dataset, DatasetInput, Metric, Param, RunTag

#: What :func:`warm_up` does on a scratch store: every kind of write once.
WARM_UP = [
    {"op": "create_experiment", "name": "warm"},
    {"op": "create_run", "exp": "$0", "name": "r", "start": 1, "tags": {"t.a": "x"}},
    {"op": "log_metric", "run": "$1", "key": "m", "value": 1.5, "ts": 1, "step": 1},
    {"op": "log_batch", "run": "$1", "metrics": [["m", 2.5, 2, 2]], "params": [["p", "v"]],
     "tags": [["t.b", "y"]]},
    {"op": "set_terminated", "run": "$1", "status": "FINISHED", "end": 3},
    {"op": "rename_run", "run": "$1", "name": "s"},
    {"op": "delete_run", "run": "$1"},
    {"op": "restore_run", "run": "$1"},
    {"op": "log_inputs", "run": "$1", "datasets": [["d", "00"]]},
]


def warm_up(uri: str) -> None:
    """Read the store at *uri*, and write to a scratch store of its kind (a file store, or
    SQLite for a database; nothing for a server), so that what the first calls import and
    set up is done once here, not in every writer. Every store and connection is closed
    before any fork."""
    import tempfile

    from trackstore.store import registry

    TrackingClient(uri).search_runs(["0"], max_results=1)
    with tempfile.TemporaryDirectory(prefix="crash-warm-up-") as tmp:
        if not uri.startswith("http"):
            scratch = (f"file://{tmp}/mlruns" if uri.startswith("file:")
                       else f"sqlite:///{tmp}/warm.db")
            client, results = TrackingClient(scratch), {}
            for i, op in enumerate(WARM_UP):
                created = apply(client, op, results)
                if created is not None:
                    results[i] = created
        registry.clear_cache()
    if "sqlalchemy" in sys.modules:
        from trackstore.store.sql.engine import dispose_engines

        dispose_engines()


def _ref(value: str, results: dict[int, str]) -> str:
    return results[int(value[1:])] if value.startswith("$") else value


def apply(client: TrackingClient, op: dict[str, Any], results: dict[int, str]) -> str | None:
    """Carry out one planned operation; the id it created, if any."""
    kind = op["op"]
    run = _ref(op["run"], results) if "run" in op else ""
    if kind == "create_experiment":
        return client.create_experiment(op["name"])
    if kind == "rename_experiment":
        client.rename_experiment(_ref(op["exp"], results), op["name"])
    elif kind == "create_run":
        created = client.create_run(_ref(op["exp"], results), start_time=op["start"],
                                    tags=op["tags"], run_name=op["name"])
        return created.info.run_id
    elif kind == "log_metric":
        client.log_metric(run, op["key"], op["value"], timestamp=op["ts"], step=op["step"])
    elif kind == "log_batch":
        client.log_batch(run, metrics=[Metric(k, v, ts, step) for k, v, ts, step in op["metrics"]],
                         params=[Param(k, v) for k, v in op["params"]],
                         tags=[RunTag(k, v) for k, v in op["tags"]])
    elif kind == "set_tag":
        client.set_tag(run, op["key"], op["value"])
    elif kind == "log_param":
        client.log_param(run, op["key"], op["value"])
    elif kind == "set_terminated":
        client.set_terminated(run, op["status"], end_time=op["end"])
    elif kind == "update_status":
        client.update_run(run, status=op["status"])
    elif kind == "rename_run":
        client.update_run(run, name=op["name"])
    elif kind == "delete_run":
        client.delete_run(run)
    elif kind == "restore_run":
        client.restore_run(run)
    elif kind == "log_inputs":
        client.log_inputs(run, [DatasetInput(Dataset(name, digest, "local", f"/data/{name}"))
                                for name, digest in op["datasets"]])
    else:
        raise ValueError(f"unknown operation {kind!r}")
    return None


def write_plan(uri: str, plan: list[dict[str, Any]]) -> None:
    """The writer: apply *plan*, acknowledging each operation once it returned; then wait."""
    write = os.write
    results: dict[int, str] = {}
    try:
        client = TrackingClient(uri)
        for i, op in enumerate(plan):
            try:
                created = apply(client, op, results)
            except Exception as exc:  # reported, then the writer waits to be killed
                message = f"{type(exc).__name__}: {exc}".replace("\n", " | ")[:2000]
                write(1, f"e {i} {message}\n".encode())
                break
            if created is not None:
                results[i] = created
            write(1, f"a {i} {created or '-'}\n".encode())
        else:
            write(1, b"done\n")
    finally:
        while True:  # the parent kills the writer, whatever happened
            time.sleep(3600)


def main(argv: list[str]) -> int:
    warm_up(argv[0])
    stdin = sys.stdin.buffer
    os.write(1, b"ready\n")
    while line := stdin.readline():
        command = json.loads(line)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: its stdout is the pipe, its stdin nothing
            os.close(read_end)
            os.dup2(write_end, 1)
            os.close(write_end)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            try:
                write_plan(command["uri"], command["plan"])
            finally:
                os._exit(70)
        os.close(write_end)
        os.write(1, b"pid %d\n" % pid)
        while chunk := os.read(read_end, 1 << 16):
            os.write(1, chunk)
        os.close(read_end)
        os.write(1, b"eof\n")
        if stdin.readline().strip() != b"reap":
            os.kill(pid, 9)  # the parent went away: leave nothing behind
        _, status = os.waitpid(pid, 0)
        os.write(1, b"exit %d\n" % os.waitstatus_to_exitcode(status))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
