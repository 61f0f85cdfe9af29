"""A training loop to kill: logs metric points and acknowledges each one on stdout.

Run by path, in a process of its own (``tests/api/test_durability.py`` starts it)::

    python tests/api/_logging_child.py URI MODE [--experiment-id ID | --run-id ID]
        [--count N] [--keys 1|2] [--with-block] [--wait]

*MODE* is ``sync`` (``synchronous=True``), ``async`` (``synchronous=False``) or ``async-env``
(no ``synchronous=`` argument: asynchronous because the parent set
``MLFLOW_ENABLE_ASYNC_LOGGING=true``). The child starts a run (or resumes ``--run-id``) through
the fluent API, logs the param ``mode`` and the tag ``child`` (in *MODE*), then logs the
points ``step = 0, 1, 2, ...`` with ``value = float(step)`` for the key ``m0`` (and then
``m1`` at each step with ``--keys 2``). With ``--wait`` it first opens the store (imports
and connections: most of its start-up) and waits for a line on stdin before it starts the run,
so that a test can start it while another child is still running.

The protocol, on file descriptor 1, each line written by one ``os.write`` (unbuffered: a
line written is in the pipe even if the process is SIGKILLed a moment later, and a line is
either written whole or not at all):

* ``run <run id>`` once the run is started and its param and tag are logged;
* ``<step>`` after every ``log_metric`` call of that step has returned: in sync mode the
  point is stored (*acknowledged*), in async mode it is queued (*enqueued*);
* ``done`` after the last of ``--count`` steps (without ``--count`` the loop runs until the
  process is killed); then the process exits normally, without ``end_run`` unless
  ``--with-block`` put the loop in a ``with trackstore.start_run()`` block.

SIGINT raises ``KeyboardInterrupt`` (Python's default), even when the child inherited SIGINT
ignored. It imports only the standard library and ``trackstore``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
from collections.abc import Iterable

import trackstore

MODES = ("sync", "async", "async-env")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("uri")
    parser.add_argument("mode", choices=MODES)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--experiment-id", default="0")
    target.add_argument("--run-id", default=None)
    parser.add_argument("--count", type=int, default=None,
                        help="log this many steps, then exit cleanly (default: until killed)")
    parser.add_argument("--keys", type=int, choices=(1, 2), default=1)
    parser.add_argument("--with-block", action="store_true",
                        help="log inside `with trackstore.start_run()` (else no end_run)")
    parser.add_argument("--wait", action="store_true",
                        help="open the store, then wait for a line on stdin before logging")
    return parser.parse_args(argv)


def log_loop(mode: str, steps: Iterable[int], keys: int) -> None:
    """The hot loop: as little as possible between two points, so that a kill lands at a
    random point among thousands."""
    write = os.write
    log_metric = trackstore.log_metric
    if mode == "async-env":
        # synchronous=None: asynchronous because of MLFLOW_ENABLE_ASYNC_LOGGING.
        if keys == 1:
            for step in steps:
                log_metric("m0", float(step), step=step)
                write(1, b"%d\n" % step)
        else:
            for step in steps:
                log_metric("m0", float(step), step=step)
                log_metric("m1", float(step), step=step)
                write(1, b"%d\n" % step)
        return
    synchronous = mode == "sync"
    if keys == 1:
        for step in steps:
            log_metric("m0", float(step), step=step, synchronous=synchronous)
            write(1, b"%d\n" % step)
    else:
        for step in steps:
            log_metric("m0", float(step), step=step, synchronous=synchronous)
            log_metric("m1", float(step), step=step, synchronous=synchronous)
            write(1, b"%d\n" % step)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # Started in the background by a non-interactive shell, which ignores SIGINT for its
        # jobs: be what a script run from a terminal is, where Ctrl-C raises KeyboardInterrupt.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    trackstore.set_tracking_uri(args.uri)
    synchronous = None if args.mode == "async-env" else args.mode == "sync"
    steps: Iterable[int] = range(args.count) if args.count is not None else itertools.count()
    if args.wait:
        trackstore.TrackingClient().search_experiments(max_results=1)  # opens the store
        if not sys.stdin.readline():
            return 1  # the parent went away
    experiment_id = None if args.run_id else args.experiment_id
    run = trackstore.start_run(run_id=args.run_id, experiment_id=experiment_id)
    trackstore.log_param("mode", args.mode, synchronous=synchronous)
    trackstore.set_tag("child", "logging", synchronous=synchronous)
    os.write(1, b"run %s\n" % run.info.run_id.encode())
    if args.with_block:
        with run:
            log_loop(args.mode, steps, args.keys)
    else:
        log_loop(args.mode, steps, args.keys)  # the run is ended at interpreter exit
    os.write(1, b"done\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
