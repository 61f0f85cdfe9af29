"""Points queued for asynchronous logging: the selector of the ``pointq`` trio (the only module
:mod:`trackstore.asynclog` imports).

The semantics are specified by the pure twin, :mod:`trackstore._pointq_py`; the compiled twin
:mod:`trackstore._pointq_c` gives identical results.

``PointQueue(valid_keys)``
    the open entries ``(handle, rows)`` of one logger's runs; ``put`` / ``put_many`` queue
    plain points to a run's open entry, or say None; ``open``, ``add`` and ``reset`` are the
    logger's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._pointq_py import PointRow
from ._speedups import load

if TYPE_CHECKING:
    from ._pointq_py import PointQueue
else:
    _impl = load("pointq")
    PointQueue = _impl.PointQueue
    IMPL = _impl.__name__

__all__ = ["PointQueue", "PointRow"]
