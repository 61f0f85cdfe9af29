"""Tracking URI → store: built-in schemes, then plugins from the ``trackstore.stores`` group.

A plugin is an entry point named after its scheme whose value is a callable
``factory(store_uri: str, artifact_uri: str | None) -> AbstractStore``::

    [project.entry-points."trackstore.stores"]
    s3tracking = "my_package.store:make_store"

Stores are cached per (URI, artifact URI), so every client of one URI in a process shares
one store and its caches (open descriptors, run locations).
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from importlib import metadata

from ..exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from .base import AbstractStore

StoreFactory = Callable[[str, "str | None"], AbstractStore]
ENTRY_POINT_GROUP = "trackstore.stores"

_lock = threading.Lock()
_stores: dict[tuple[str, str | None], AbstractStore] = {}


def _file_store(store_uri: str, artifact_uri: str | None) -> AbstractStore:
    from .file import FileStore

    return FileStore(store_uri, artifact_uri)


def _sql_store(store_uri: str, artifact_uri: str | None) -> AbstractStore:
    from .sql import SqlStore

    return SqlStore(store_uri, artifact_uri)


def _rest_store(store_uri: str, artifact_uri: str | None) -> AbstractStore:
    from .rest import RestStore

    return RestStore(store_uri, artifact_uri)


_BUILTIN: dict[str, StoreFactory] = {
    "": _file_store, "file": _file_store,
    **dict.fromkeys(("sqlite", "postgresql", "mysql", "mariadb", "mssql"), _sql_store),
    **dict.fromkeys(("http", "https", "databricks"), _rest_store),
}

#: Schemes that name a model registry, never a tracking store (MLflow refuses them too).
_REGISTRY_ONLY = ("databricks-uc", "uc")
#: URIs that are a bare scheme name, not a relative path (mlflow-spec §8).
_BARE_SCHEMES = ("databricks", *_REGISTRY_ONLY)


def uri_scheme(uri: str) -> str:
    """The scheme that picks the store (``""`` for a plain path; ``+driver`` dropped)."""
    if uri in _BARE_SCHEMES:
        return uri
    scheme = urllib.parse.urlparse(uri).scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter
        return ""
    return scheme.split("+", 1)[0]


def _plugins() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def factory_for(uri: str) -> StoreFactory:
    scheme = uri_scheme(uri)
    if scheme in _REGISTRY_ONLY:
        raise TrackstoreError(
            f"The tracking URI {uri!r} names a Unity Catalog model registry, which cannot store "
            "experiments and runs. Track to Databricks with 'databricks' or "
            "'databricks://<profile>' (a registry URI is set separately).",
            INVALID_PARAMETER_VALUE)
    if scheme in _BUILTIN:
        return _BUILTIN[scheme]
    plugins = _plugins()
    if scheme in plugins:
        factory: StoreFactory = plugins[scheme].load()
        return factory
    supported = sorted({*(k for k in _BUILTIN if k), "(a plain path)", *plugins})
    raise TrackstoreError(
        f"Unsupported tracking URI {uri!r}: no store handles the scheme {scheme!r}. Supported "
        f"schemes: {', '.join(supported)}. Other schemes come from plugins registered in the "
        f"'{ENTRY_POINT_GROUP}' entry-point group.", INVALID_PARAMETER_VALUE)


def get_store(uri: str, artifact_uri: str | None = None) -> AbstractStore:
    """The (shared) store for a resolved tracking URI."""
    key = (uri, artifact_uri)
    store = _stores.get(key)
    if store is None:
        with _lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = factory_for(uri)(uri, artifact_uri)
    return store


def clear_cache() -> None:
    """Close and forget every cached store (tests, and programs that re-point everything)."""
    with _lock:
        stores = list(_stores.values())
        _stores.clear()
    errors = []
    for store in stores:
        try:
            store.close()
        except TrackstoreError as exc:  # what was logged asynchronously and failed
            errors.append(exc)
    if errors:
        raise errors[0]
