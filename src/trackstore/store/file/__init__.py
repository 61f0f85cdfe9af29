"""The file store: an ``mlruns`` directory in MLflow's layout."""

from .store import FileStore

__all__ = ["FileStore"]
