"""The SQL store: SQLite, PostgreSQL, MySQL/MariaDB and SQL Server through SQLAlchemy Core."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import SqlStore

__all__ = ["SqlStore"]


def __getattr__(name: str) -> Any:
    if name == "SqlStore":  # imported on use: SQLAlchemy is not needed by the file store
        from .store import SqlStore

        return SqlStore
    raise AttributeError(name)
