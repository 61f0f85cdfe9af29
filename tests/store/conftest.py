"""The ``store`` fixture: every backend the contract suite runs against.

One suite, parametrized over backends: the file store, and the SQL store on SQLite and on
every database server the environment provides (``tests/_databases.py``; PostgreSQL and
MariaDB are started by ``.ci/run``). The contract suite also runs each of them behind a live
``trackstore server``, through the ``RestStore`` client (``rest-<backend>``).
Backend-specific behaviour lives in ``test_<backend>_store.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests._databases import SQL_KINDS
from trackstore.store.base import AbstractStore
from trackstore.store.file import FileStore

BACKENDS = ["file", *SQL_KINDS]
REST_BACKENDS = [f"rest-{kind}" for kind in BACKENDS]


@contextmanager
def make_store(kind: str, tmp_path: Path) -> Iterator[AbstractStore]:
    if kind.startswith("rest-"):
        from tests._live_server import serve_in_thread
        from trackstore.store.rest import RestStore

        with make_store(kind[len("rest-"):], tmp_path) as backing, \
                serve_in_thread(backing) as url:
            client = RestStore(url)
            try:
                yield client
            finally:
                client.close()
        return
    if kind == "file":
        store: AbstractStore = FileStore(str(tmp_path / "mlruns"))
        yield store
        store.close()
        return
    from tests._databases import fresh_database
    from trackstore.store.sql import SqlStore
    from trackstore.store.sql.engine import dispose_engines

    with fresh_database(kind, tmp_path) as uri:
        store = SqlStore(uri, str(tmp_path / "artifacts"))
        try:
            yield store
        finally:
            store.close()
            dispose_engines()


@pytest.fixture(params=SQL_KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Each SQL database kind: SQLite, and the servers the environment provides."""
    return str(request.param)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AbstractStore]:
    with make_store(request.param, tmp_path) as s:
        yield s
