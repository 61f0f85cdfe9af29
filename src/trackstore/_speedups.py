"""Which twin of each hot-path topic is loaded, and why.

Every compiled topic is a trio: ``_<topic>_py`` (pure Python, the reference), ``_<topic>_c``
(Cython, built from ``ext/``) and ``_<topic>`` (the selector, the only module the stores
import). The selectors call :func:`load`, which honours ``TRACKSTORE_IMPL``:

``auto`` (default)
    the compiled twin when it imports, else the pure twin (the reason is recorded);
``c``
    the compiled twin or ``ImportError``: nothing silently degrades;
``python``
    always the pure twin, even when a compiled module is present.

:func:`trackstore.speedups` returns :data:`STATUS`, e.g.
``{"metrics": "c", "pointq": "c", "sqlbatch": "c",
"yamlio": "py (No module named 'trackstore._yamlio_c')"}``.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

#: Every compiled topic; a test checks this against the ``ext/trackstore/*.pyx`` sources.
TOPICS: tuple[str, ...] = ("metrics", "pointq", "sqlbatch", "yamlio")

IMPLS = ("auto", "c", "python")

#: topic -> "c" or "py (<reason>)", filled as the selectors are imported.
STATUS: dict[str, str] = {}


def impl() -> str:
    """The requested implementation, from ``TRACKSTORE_IMPL`` (default ``auto``)."""
    value = os.environ.get("TRACKSTORE_IMPL", "auto").strip().lower() or "auto"
    if value not in IMPLS:
        raise ImportError(f"TRACKSTORE_IMPL must be one of {', '.join(IMPLS)}; got {value!r}")
    return value


def load(topic: str) -> ModuleType:
    """Import the twin of *topic* that ``TRACKSTORE_IMPL`` asks for and record the choice."""
    if topic not in TOPICS:
        raise ValueError(f"unknown speedups topic {topic!r}")
    requested = impl()
    if requested != "python":
        try:
            module = importlib.import_module(f"trackstore._{topic}_c")
        except ImportError as exc:
            if requested == "c":
                raise ImportError(
                    f"TRACKSTORE_IMPL=c but the compiled twin of {topic!r} is unavailable: {exc}. "
                    "Reinstall with a C compiler, Cython and (for yamlio) libyaml-dev present."
                ) from exc
            STATUS[topic] = f"py ({exc})"
        else:
            STATUS[topic] = "c"
            return module
    else:
        STATUS[topic] = "py (TRACKSTORE_IMPL=python)"
    return importlib.import_module(f"trackstore._{topic}_py")


def speedups() -> dict[str, str]:
    """Report, per compiled topic (in :data:`TOPICS` order), which twin is in use: ``"c"``
    or ``"py (<reason>)"``."""
    for topic in TOPICS:
        if topic not in STATUS:
            importlib.import_module(f"trackstore._{topic}")
    return {topic: STATUS[topic] for topic in TOPICS}
