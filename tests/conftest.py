"""Test-session policy for the compiled twins.

``TRACKSTORE_IMPL`` means the same here as at build and import time:

* ``c``: every compiled twin must import; a missing one is an error, never a skip;
* ``auto``: a missing compiled twin skips its ``[c]`` tests, with the reason in the report;
* ``python``: ``[c]`` tests are deselected and the stores run on the pure twins.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest
from hypothesis import settings

import trackstore
from trackstore import _speedups

# CI runs the same examples every time (a failure is reproducible from the log); local runs
# explore new ones. Select with HYPOTHESIS_PROFILE=ci.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    impl = _speedups.impl()
    status = ", ".join(f"{topic}={how}" for topic, how in trackstore.speedups().items())
    return [f"trackstore {trackstore.__version__}: TRACKSTORE_IMPL={impl}; {status}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _speedups.impl() != "python":
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("c_ext") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def load_twin(topic: str, which: str) -> ModuleType:
    """Import one twin of *topic* by name, honouring the session's ``TRACKSTORE_IMPL``."""
    if which == "py":
        return importlib.import_module(f"trackstore._{topic}_py")
    try:
        return importlib.import_module(f"trackstore._{topic}_c")
    except ImportError as exc:
        if _speedups.impl() == "c":
            raise
        pytest.skip(f"compiled twin of {topic!r} unavailable: {exc}")


TWINS = ["py", pytest.param("c", marks=pytest.mark.c_ext)]

IMPL_IS_C = os.environ.get("TRACKSTORE_IMPL", "auto").strip().lower() == "c"
