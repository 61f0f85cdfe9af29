"""Stores: the abstract API and the backends behind tracking URIs."""

from .base import AbstractStore
from .registry import get_store

__all__ = ["AbstractStore", "get_store"]
