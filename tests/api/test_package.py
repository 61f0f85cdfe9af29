"""The ``trackstore`` package: its names, and what importing it costs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import trackstore


def test_every_exported_name_is_its_modules_object() -> None:
    for name in trackstore.__all__:
        value = getattr(trackstore, name)
        if name == "__version__":
            assert value == importlib.import_module("trackstore._version").__version__
            continue
        module, attribute = trackstore._EXPORTS[name]
        assert value is getattr(importlib.import_module(module, "trackstore"), attribute), name
    assert set(trackstore._EXPORTS) | {"__version__"} == set(trackstore.__all__)
    assert trackstore.flush_async_logging is trackstore.flush
    assert set(trackstore.__all__) <= set(dir(trackstore))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"^module 'trackstore' has no attribute "
                                             r"'log_metrik'$"):
        trackstore.log_metrik  # type: ignore[attr-defined]  # noqa: B018


def loaded_after(code: str) -> set[str]:
    probe = f"import sys; {code}; import json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out))


def test_importing_the_package_or_its_pytest_plugin_loads_no_store() -> None:
    # pytest loads the benchmark recorder (a pytest11 entry point) in every session of an
    # environment where trackstore is installed: it must not drag the stores in.
    for code in ("import trackstore", "import trackstore.benchmarking.pytest_plugin"):
        loaded = loaded_after(code)
        assert "trackstore" in loaded
        heavy = {m for m in loaded if m.split(".")[0] in {"sqlalchemy", "alembic", "click"}
                 or m.startswith(("trackstore.store", "trackstore.client", "trackstore.fluent"))}
        assert not heavy, (code, sorted(heavy))
    assert "trackstore.client" in loaded_after("import trackstore; trackstore.TrackingClient")
