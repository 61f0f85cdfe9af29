"""Typing stub for the compiled twin; the signatures and semantics are those of ``_yamlio_py``."""

from collections.abc import Mapping
from typing import Any

__all__ = ["dump", "load"]

def load(data: bytes) -> Any: ...
def dump(data: Mapping[str, Any]) -> bytes: ...
