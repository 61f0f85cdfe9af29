"""Import ``mlflow`` for a compatibility test module.

The ``test`` extra installs it. When it is missing, the module is skipped with the reason,
unless ``TRACKSTORE_REQUIRE_MLFLOW=1`` (CI sets it): then its absence is an error, because in
CI these tests must run.
"""

from __future__ import annotations

import os
from types import ModuleType

import pytest


def require_mlflow() -> ModuleType:
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        import mlflow
    except ImportError as exc:
        if os.environ.get("TRACKSTORE_REQUIRE_MLFLOW") == "1":
            raise
        pytest.skip(f"mlflow is not installed: {exc}", allow_module_level=True)
    return mlflow
