"""``meta.yaml`` documents: the selector of the ``yamlio`` trio.

The supported language and the semantics are specified by the pure twin,
:mod:`trackstore._yamlio_py`; the compiled twin :mod:`trackstore._yamlio_c` binds LibYAML's C
API and gives identical results and identical error messages.

``load(data: bytes) -> Any``
    parse one document as PyYAML's ``SafeLoader`` would (YAML 1.1 scalar resolution);
    raises :class:`trackstore.exceptions.MalformedYamlError`;
``dump(data: Mapping) -> bytes``
    a block-style document with sorted keys, readable by PyYAML/MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._speedups import load as _load_impl

if TYPE_CHECKING:
    from ._yamlio_py import dump, load
else:
    _impl = _load_impl("yamlio")
    load = _impl.load
    dump = _impl.dump
    IMPL = _impl.__name__

__all__ = ["dump", "load"]
