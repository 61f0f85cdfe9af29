"""Fixtures that hand a test each twin of a compiled topic in turn: ``<topic>_impl`` (the pure
twin, then the compiled one) and ``<topic>_twins`` (both, ``(py, c)``, for equivalence tests),
for every topic of :data:`trackstore._speedups.TOPICS`."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from tests.conftest import TWINS, load_twin
from trackstore._speedups import TOPICS


def _fixtures(topic: str) -> tuple[Callable[..., ModuleType],
                                   Callable[[], tuple[ModuleType, ModuleType]]]:
    def impl(request: pytest.FixtureRequest) -> ModuleType:
        return load_twin(topic, request.param)

    def twins() -> tuple[ModuleType, ModuleType]:
        return load_twin(topic, "py"), load_twin(topic, "c")

    return (pytest.fixture(params=TWINS, name=f"{topic}_impl")(impl),
            pytest.fixture(name=f"{topic}_twins")(twins))


for _topic in TOPICS:
    globals()[f"_{_topic}_impl"], globals()[f"_{_topic}_twins"] = _fixtures(_topic)
