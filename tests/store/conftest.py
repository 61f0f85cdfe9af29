"""The ``store`` fixture: every backend the contract suite runs against.

One suite, parametrized over backends (file today; the SQL and REST stores join it as they
land). Backend-specific behaviour lives in ``test_<backend>_store.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trackstore.store.base import AbstractStore
from trackstore.store.file import FileStore

BACKENDS = ["file"]


def make_store(kind: str, tmp_path: Path) -> AbstractStore:
    if kind == "file":
        return FileStore(str(tmp_path / "mlruns"))
    raise AssertionError(kind)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AbstractStore]:
    s = make_store(request.param, tmp_path)
    yield s
    s.close()
