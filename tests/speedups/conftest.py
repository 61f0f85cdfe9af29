"""Fixtures that hand a test each twin of a compiled topic in turn."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.conftest import TWINS, load_twin


@pytest.fixture(params=TWINS)
def metrics_impl(request: pytest.FixtureRequest) -> ModuleType:
    return load_twin("metrics", request.param)


@pytest.fixture(params=TWINS)
def yamlio_impl(request: pytest.FixtureRequest) -> ModuleType:
    return load_twin("yamlio", request.param)


@pytest.fixture(params=TWINS)
def sqlbatch_impl(request: pytest.FixtureRequest) -> ModuleType:
    return load_twin("sqlbatch", request.param)


@pytest.fixture
def metrics_twins() -> tuple[ModuleType, ModuleType]:
    """(py, c) for equivalence tests."""
    return load_twin("metrics", "py"), load_twin("metrics", "c")


@pytest.fixture
def yamlio_twins() -> tuple[ModuleType, ModuleType]:
    return load_twin("yamlio", "py"), load_twin("yamlio", "c")


@pytest.fixture
def sqlbatch_twins() -> tuple[ModuleType, ModuleType]:
    return load_twin("sqlbatch", "py"), load_twin("sqlbatch", "c")


@pytest.fixture(params=TWINS)
def pointq_impl(request: pytest.FixtureRequest) -> ModuleType:
    return load_twin("pointq", request.param)


@pytest.fixture
def pointq_twins() -> tuple[ModuleType, ModuleType]:
    return load_twin("pointq", "py"), load_twin("pointq", "c")
