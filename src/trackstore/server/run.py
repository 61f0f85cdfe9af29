"""Running ``trackstore server``: check the store once, then serve it from worker processes.

The parent process opens the backend store first, so that a database with an out-of-date
schema (or an unreachable one) stops the server with a clear message before any worker
starts, then closes it: workers are started fresh (uvicorn spawns them) and each opens its
own connections. uvicorn supervises the workers, restarts one that dies, and on SIGTERM or
SIGINT stops accepting connections and lets requests in flight finish (up to
``graceful_timeout`` seconds) before the store is closed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import sys
from types import FrameType
from typing import Any

from ..exceptions import INTERNAL_ERROR, TEMPORARILY_UNAVAILABLE, TrackstoreError
from .app import CONFIG_ENV, ServerConfig, configure_logging
from .auth import Authenticator

log = logging.getLogger("trackstore.server")


def check_store(config: ServerConfig) -> str:
    """Open and close the configured store; a description of it, or a TrackstoreError."""
    from ..store.registry import factory_for

    uri = config.backend_store_uri
    try:
        store = factory_for(uri)(uri, config.default_artifact_root)
    except Exception as exc:
        error = _store_error(uri, exc)
        if error is None:
            raise
        raise error from None
    try:
        return repr(store)
    finally:
        store.close()
        if "sqlalchemy" in sys.modules:  # no pooled connection may cross into a worker
            from ..store.sql.engine import dispose_engines

            dispose_engines()


def _store_error(uri: str, exc: Exception) -> TrackstoreError | None:
    """A database's *exc* (raised opening the store at *uri*) as a one-line TrackstoreError.

    A database that is down or refuses the login must stop the server with a message, not a
    traceback; anything else is left as it is (None): ours already is one, a bug keeps its
    traceback.
    """
    if isinstance(exc, TrackstoreError) or "sqlalchemy" not in sys.modules:
        return None
    import sqlalchemy as sa

    if not isinstance(exc, sa.exc.SQLAlchemyError):
        return None
    from ..store.sql.migrate import display_url

    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [repr(exc)]
    code = TEMPORARILY_UNAVAILABLE if isinstance(exc, sa.exc.OperationalError) else INTERNAL_ERROR
    return TrackstoreError(f"Cannot open the backend store {display_url(uri)}: {detail[0]}", code)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """SIGTERM once uvicorn has shut down (see :func:`serve`): exit 0."""
    raise SystemExit(0)


def _http_protocol() -> Any:
    """trackstore's own HTTP/1.1 protocol (:mod:`.protocol`, on httptools); without
    httptools, uvicorn's h11 protocol serving the ASGI application."""
    if importlib.util.find_spec("httptools") is None:
        return "h11"
    from .protocol import TrackingHttp

    return TrackingHttp


def serve(config: ServerConfig, host: str, port: int, workers: int,
          graceful_timeout: float = 30.0) -> None:
    """Serve *config*'s store on *host*:*port* until stopped (blocks)."""
    import uvicorn

    configure_logging(config.log_level)
    if config.auth:
        if not config.auth_file:
            raise TrackstoreError("--auth needs --auth-file (the users and tokens allowed)")
        Authenticator.from_file(config.auth_file, config.auth)  # fail now, not per worker
    description = check_store(config)
    os.environ[CONFIG_ENV] = config.to_env()
    log.info("trackstore server: %s on http://%s:%d, %d worker(s) x %d thread(s)%s%s, %s",
             description, host, port, workers, config.threads,
             f", auth: {'+'.join(config.auth)}" if config.auth else "",
             f", rate limit: {config.rate_limit:g}/s per client and worker"
             if config.rate_limit else "",
             f"artifacts served from {config.artifacts_destination}"
             if config.artifacts_destination else "artifacts not served")
    # A single-process uvicorn re-raises the SIGTERM that stopped it once it has shut down
    # gracefully: under the default disposition that kills the process (status 143), where
    # the multi-worker supervisor exits 0. A graceful stop exits 0 either way.
    signal.signal(signal.SIGTERM, _stopped)
    uv_config = uvicorn.Config(
        "trackstore.server.app:create_app", factory=True, host=host, port=port,
        workers=workers,
        http=_http_protocol(),
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        lifespan="on", access_log=False, log_level=config.log_level, server_header=False,
        timeout_graceful_shutdown=max(1, round(graceful_timeout)), timeout_keep_alive=30,
    )
    if workers == 1:
        uvicorn.Server(uv_config).run()
        return
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        """uvicorn's worker supervisor, which also closes its own listening socket on stop.

        The workers stop accepting when they begin to drain, but the parent kept its copy
        of the socket open until they had finished: the kernel went on completing new
        connections that nobody would ever answer, until the parent exited. Closed first,
        a connection attempt during the drain is refused at once (a load balancer then
        tries another server).
        """

        def terminate_all(self) -> None:
            for sock in self.sockets:
                sock.close()
            super().terminate_all()

    Supervisor(uv_config, sockets=[uv_config.bind_socket()]).run()
