"""A real ``trackstore server`` application on 127.0.0.1, in a thread of the test process.

uvicorn serves :class:`trackstore.server.TrackingApp` on a socket bound to a free port
before the thread starts, so the URL is usable as soon as the context manager yields;
through trackstore's own HTTP protocol (``protocol="trackstore"``, what ``trackstore
server`` runs) or through uvicorn's httptools protocol and the ASGI interface
(``protocol="asgi"``, what any other ASGI server would use).
Process-level behaviour (workers, signals, the command line) is tested with the real
``trackstore server`` command in ``tests/server/test_process.py``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from trackstore.server.app import ServerConfig, TrackingApp
from trackstore.server.protocol import TrackingHttp
from trackstore.store.base import AbstractStore


@contextmanager
def serve_in_thread(store: AbstractStore, protocol: str = "trackstore",
                    uvicorn_options: dict[str, Any] | None = None,
                    **config: Any) -> Iterator[str]:
    """Serve *store*; yields the base URL (``http://127.0.0.1:<port>``)."""
    config.setdefault("access_log", False)
    app = TrackingApp(ServerConfig(backend_store_uri="(in-process)", **config), store=store)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if protocol not in ("trackstore", "asgi"):
        raise ValueError(f"unknown protocol {protocol!r}")
    http: Any = TrackingHttp if protocol == "trackstore" else "httptools"
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning",
                                           access_log=False, http=http,
                                           **(uvicorn_options or {})))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "the in-process server did not stop"
