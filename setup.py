"""Declares trackstore's compiled extensions; all metadata lives in pyproject.toml.

``TRACKSTORE_IMPL`` means the same here as at import and test time:

* ``auto`` (default): build every extension that can be built. A missing C compiler or
  libyaml is a printed warning, not a failed install; the affected topic falls back to its
  pure-Python twin.
* ``c``: every extension must build, or the install fails loudly (CI, wheel builds).
* ``python``: build nothing.

``TRACKSTORE_CYTHON_TRACE=1`` adds line tracing for coverage of the ``.pyx`` sources.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

IMPL = os.environ.get("TRACKSTORE_IMPL", "auto").strip().lower() or "auto"
if IMPL not in {"auto", "c", "python"}:
    sys.exit(f"TRACKSTORE_IMPL must be one of auto, c, python; got {IMPL!r}")

# Each topic is its own extension module, so a machine without libyaml loses only _yamlio_c.
EXTENSIONS = {
    "trackstore._metrics_c": {"sources": ["ext/trackstore/_metrics_c.pyx"]},
    "trackstore._pointq_c": {"sources": ["ext/trackstore/_pointq_c.pyx"]},
    "trackstore._sqlbatch_c": {"sources": ["ext/trackstore/_sqlbatch_c.pyx"]},
    "trackstore._yamlio_c": {"sources": ["ext/trackstore/_yamlio_c.pyx"], "libraries": ["yaml"]},
}


def _extensions() -> tuple[list[object], dict[str, object]]:
    if IMPL == "python" or sys.implementation.name != "cpython":
        print("* Pure Python build (TRACKSTORE_IMPL=python) *")
        return [], {}
    try:
        # Cython's own Extension and build_ext keep ``optional``; cythonize() drops it.
        from Cython.Build import build_ext
        from Cython.Distutils.extension import Extension
    except ImportError:
        if IMPL == "c":
            raise
        print("* Pure Python build (Cython is not available) *")
        return [], {}

    trace = os.environ.get("TRACKSTORE_CYTHON_TRACE") == "1"
    directives: dict[str, object] = {
        "language_level": 3,
        "embedsignature": True,
        "linetrace": trace,
    }
    macros = [("CYTHON_TRACE_NOGIL", "1")] if trace else []
    extensions = [
        Extension(
            name,
            include_dirs=["ext"],
            define_macros=macros,
            optional=IMPL != "c",
            cython_directives=directives,
            cython_c_in_temp=True,
            **spec,
        )
        for name, spec in EXTENSIONS.items()
    ]
    print("* Accelerated build (TRACKSTORE_IMPL=%s) *" % IMPL)
    return extensions, {"build_ext": build_ext}


ext_modules, cmdclass = _extensions()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
