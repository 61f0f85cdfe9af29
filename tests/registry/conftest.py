"""The ``registry`` fixture: every backend the registry contract runs against.

* ``sqlite``, ``postgresql``, ``mysql`` (MariaDB): trackstore's SQL store on a brand-new
  database (``tests/_databases.py``; the servers come from ``.ci/databases``);
* ``rest-sqlite``: the same behind a live ``trackstore server``, through ``RestStore``;
* ``mlflow``: MLflow's own ``SqlAlchemyStore`` on SQLite behind the same API
  (``_reference.py``), so that every expectation of the contract is proven against MLflow.

``store_registry`` is the same without the MLflow reference: for what trackstore promises
beyond MLflow's store (its own argument checks, the fields MLflow's SQL store drops).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests._databases import SQL_KINDS
from tests.store.conftest import make_store

TRACKSTORE_BACKENDS = [*SQL_KINDS, "rest-sqlite"]
REFERENCE = "mlflow"
BACKENDS = [*TRACKSTORE_BACKENDS, REFERENCE]


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database of MLflow's schema, made once per process (its migrations take
    seconds); each test gets a copy."""
    from tests.compat._oracle import require_mlflow

    require_mlflow()
    from ._reference import MlflowReference

    path = tmp_path_factory.mktemp("mlflow-template") / "registry.db"
    MlflowReference(f"sqlite:///{path}").close()
    return path


@contextmanager
def make_registry(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A registry of *kind* (one of :data:`BACKENDS`) on an empty database."""
    if kind == REFERENCE:
        from ._reference import MlflowReference

        path = tmp_path / "mlflow-registry.db"
        shutil.copyfile(request.getfixturevalue("mlflow_template"), path)
        reference = MlflowReference(f"sqlite:///{path}")
        try:
            yield reference
        finally:
            reference.close()
        return
    with make_store(kind, tmp_path) as store:
        yield store


@pytest.fixture(params=BACKENDS)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with make_registry(request.param, tmp_path, request) as r:
        yield r


@pytest.fixture(params=TRACKSTORE_BACKENDS)
def store_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with make_registry(request.param, tmp_path, request) as r:
        yield r
